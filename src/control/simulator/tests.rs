//! Tests of the simulator: the demo's degradation timeline, exposure honoured, calm stays calm.

use super::*;
use crate::control::scenario;
use chrono::Duration;

use crate::testkit::t0;

fn state(name: &str) -> State {
    match scenario::build(name, t0()) {
        Ok(s) => s.state,
        Err(e) => panic!("{e}"),
    }
}

fn find<'a>(
    samples: &'a [MetricSample],
    flag: &str,
    metric: &str,
    cohort: &str,
    arm: Arm,
) -> Option<&'a MetricSample> {
    samples.iter().find(|s| {
        s.flag.as_str() == flag
            && s.env.as_str() == "production"
            && s.metric == metric
            && s.cohort == cohort
            && s.arm == arm
    })
}

fn value(samples: &[MetricSample], flag: &str, metric: &str, cohort: &str, arm: Arm) -> f64 {
    match find(samples, flag, metric, cohort, arm) {
        Some(s) => s.value,
        None => panic!("no {arm:?} sample for {flag}/{cohort}/{metric}"),
    }
}

/// Tick at each second up to `secs` after start, returning the last tick's samples.
fn run_to(sim: &mut Simulator, st: &State, secs: i64) -> Vec<MetricSample> {
    let mut last = Vec::new();
    for s in 1..=secs {
        last = sim.tick(st, t0() + Duration::seconds(s));
    }
    last
}

fn p95_ratio(samples: &[MetricSample], flag: &str, cohort: &str) -> f64 {
    value(samples, flag, "p95_latency_ms", cohort, Arm::Candidate)
        / value(samples, flag, "p95_latency_ms", cohort, Arm::Baseline)
}

#[test]
fn eu_west_is_healthy_at_first() {
    let st = state("demo");
    let mut sim = Simulator::new("demo", t0());
    let out = run_to(&mut sim, &st, 1);
    let ratio = p95_ratio(&out, "checkout-v2", "eu-west");
    assert!((0.9..1.1).contains(&ratio), "{ratio}");
    let base = value(
        &out,
        "checkout-v2",
        "p95_latency_ms",
        "eu-west",
        Arm::Baseline,
    );
    assert!((160.0..200.0).contains(&base), "{base}");
    assert!(
        out.iter()
            .all(|s| s.at == Some(t0() + Duration::seconds(1)) && s.count > 0)
    );
}

#[test]
fn eu_west_degrades_by_thirty_seconds() {
    let st = state("demo");
    let mut sim = Simulator::new("demo", t0());
    let out = run_to(&mut sim, &st, 30);
    let ratio = p95_ratio(&out, "checkout-v2", "eu-west");
    assert!(ratio > 1.5, "{ratio}");
    let err = value(&out, "checkout-v2", "error_rate", "eu-west", Arm::Candidate);
    assert!(err > 0.02, "{err}");
    // Mid-way the ramp is already past the relative threshold.
    let mut sim = Simulator::new("demo", t0());
    let mid = run_to(&mut sim, &st, 20);
    assert!(p95_ratio(&mid, "checkout-v2", "eu-west") > 1.3);
    // us-east stays healthy.
    let us = p95_ratio(&out, "checkout-v2", "us-east");
    assert!(us < 1.1, "{us}");
}

#[test]
fn rolled_back_eu_west_has_no_candidate_traffic() {
    let mut st = state("demo");
    if let Some(c) = st
        .flags
        .get_mut("checkout-v2")
        .and_then(|f| {
            std::sync::Arc::make_mut(f)
                .environments
                .get_mut("production")
        })
        .and_then(|e| e.cohort_mut("eu-west"))
    {
        c.rolled_back = true;
    }
    let mut sim = Simulator::new("demo", t0());
    let out = run_to(&mut sim, &st, 30);
    assert!(
        find(
            &out,
            "checkout-v2",
            "p95_latency_ms",
            "eu-west",
            Arm::Candidate
        )
        .is_none()
    );
    assert!(find(&out, "checkout-v2", "error_rate", "eu-west", Arm::Candidate).is_none());
    let base = find(
        &out,
        "checkout-v2",
        "p95_latency_ms",
        "eu-west",
        Arm::Baseline,
    );
    assert_eq!(base.map(|s| s.count), Some(USERS_PER_TICK as u64));
    // A killed flag likewise serves everyone the baseline.
    let mut killed = state("demo");
    if let Some(e) = killed.flags.get_mut("checkout-v2").and_then(|f| {
        std::sync::Arc::make_mut(f)
            .environments
            .get_mut("production")
    }) {
        e.enabled = false;
    }
    let out = run_to(&mut Simulator::new("demo", t0()), &killed, 3);
    assert!(
        out.iter()
            .filter(|s| s.flag.as_str() == "checkout-v2")
            .all(|s| s.arm == Arm::Baseline)
    );
}

#[test]
fn candidate_share_follows_exposure() {
    let st = state("demo");
    let mut sim = Simulator::new("demo", t0());
    let (mut cand, mut total) = (0u64, 0u64);
    for s in 1..=5 {
        let out = sim.tick(&st, t0() + Duration::seconds(s));
        for arm in [Arm::Candidate, Arm::Baseline] {
            let n = find(&out, "checkout-v2", "error_rate", "eu-west", arm)
                .map(|s| s.count)
                .unwrap_or(0);
            total += n;
            if arm == Arm::Candidate {
                cand += n;
            }
        }
        let tick_share = find(&out, "checkout-v2", "error_rate", "eu-west", Arm::Candidate)
            .map(|s| s.count as f64 / USERS_PER_TICK as f64 * 100.0)
            .unwrap_or(0.0);
        assert!(
            (19.0..=31.0).contains(&tick_share),
            "tick {s}: {tick_share}"
        );
    }
    assert_eq!(total, 5 * USERS_PER_TICK as u64);
    let share = cand as f64 / total as f64 * 100.0;
    assert!((19.0..=31.0).contains(&share), "{share}");
}

#[test]
fn support_reranker_runs_warm_but_within_its_limit() {
    let st = state("demo");
    let mut sim = Simulator::new("demo", t0());
    let out = run_to(&mut sim, &st, 10);
    let ratio = p95_ratio(&out, "support-answer-profile", "everyone");
    assert!((1.08..1.22).contains(&ratio), "{ratio}");
}

#[test]
fn calm_never_breaches() {
    let st = state("calm");
    let mut sim = Simulator::new("calm", t0());
    let out = run_to(&mut sim, &st, 60);
    for cohort in ["eu-west", "us-east"] {
        let ratio = p95_ratio(&out, "checkout-v2", cohort);
        assert!(ratio < 1.1, "{cohort}: {ratio}");
        let err = value(&out, "checkout-v2", "error_rate", cohort, Arm::Candidate);
        assert!(err < 0.02, "{cohort}: {err}");
    }
    assert!(p95_ratio(&out, "support-answer-profile", "everyone") < 1.1);
}

#[test]
fn deterministic_for_the_same_ticks() {
    let st = state("demo");
    let a = run_to(&mut Simulator::new("demo", t0()), &st, 12);
    let b = run_to(&mut Simulator::new("demo", t0()), &st, 12);
    assert_eq!(a, b);
}

#[test]
fn large_tick_covers_every_spec() {
    let st = state("large");
    let specs: usize = st
        .flags
        .values()
        .flat_map(|f| f.environments.values())
        .map(|e| e.guardrails.len())
        .sum();
    let mut sim = Simulator::new("large", t0());
    let out = sim.tick(&st, t0() + Duration::seconds(1));
    assert!(out.len() <= specs * 2);
    assert!(
        out.len() >= specs * 2 - 10,
        "{} samples for {specs} specs",
        out.len()
    );
    assert!(out.iter().all(|s| s.count as usize <= USERS_PER_TICK_LARGE));
}

#[test]
fn a_flag_the_operator_defined_gets_no_invented_traffic() {
    // `flagtop apply -f` of a flag shaped like checkout-v2: the demo's simulator must not make
    // up healthy samples for it (its guardrails stay "insufficient" until real traffic comes).
    let mut st = state("demo");
    let Some(src) = st
        .flags
        .values()
        .find(|f| f.key.as_str() == "checkout-v2")
        .cloned()
    else {
        panic!("checkout-v2 in the demo")
    };
    let mut mine = (*src).clone();
    mine.key = crate::domain::FlagKey::from("new-search");
    st.flags.insert(mine.key.clone(), std::sync::Arc::new(mine));
    let mut sim = Simulator::new("demo", t0());
    let out = run_to(&mut sim, &st, 3);
    assert!(out.iter().any(|s| s.flag.as_str() == "checkout-v2"));
    assert!(
        out.iter().all(|s| s.flag.as_str() != "new-search"),
        "invented traffic for a user-defined flag"
    );
    assert!(
        simulated_flags("demo", t0())
            .iter()
            .any(|k| k.as_str() == "checkout-v2")
    );
    assert!(simulated_flags("no-such-scenario", t0()).is_empty());
}
