//! Tests of the seed scenarios: shapes the demo story relies on, sizes of `large`, valid keys.

use super::*;
use crate::domain::Tier;
use crate::domain::ids::valid_key;
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn demo() -> Scenario {
    match build("demo", now()) {
        Ok(s) => s,
        Err(e) => panic!("demo: {e}"),
    }
}

fn assert_keys_valid(state: &State) {
    for e in &state.environments {
        assert!(valid_key(&e.key), "env {}", e.key);
    }
    for (k, f) in &state.flags {
        assert!(valid_key(k), "flag {k}");
        assert_eq!(k, &f.key);
        assert_eq!(f.revision, Revision(0));
        for (ek, fe) in &f.environments {
            assert!(state.environment(ek).is_some(), "{k} in unknown env {ek}");
            for c in &fe.cohorts {
                assert!(valid_key(&c.name), "cohort {k}/{}", c.name);
                assert!(
                    f.variations.contains(&c.variation),
                    "{k}/{} variation",
                    c.name
                );
            }
            assert!(f.variations.contains(&fe.fallthrough), "{k} fallthrough");
            for g in &fe.guardrails {
                assert!(valid_key(&g.metric));
                assert!(
                    fe.cohort(&g.cohort).is_some(),
                    "{k}: guardrail on unknown cohort {}",
                    g.cohort
                );
            }
            if let Some(l) = &fe.ladder {
                assert!(l.current < l.stages.len());
                for s in &l.stages {
                    for c in s.targets.keys() {
                        assert!(
                            fe.cohort(c).is_some(),
                            "{k}: stage {} targets unknown cohort {c}",
                            s.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn unknown_name_lists_the_known_ones() {
    let err = build("nope", now()).err().unwrap_or_default();
    for n in NAMES {
        assert!(err.contains(n), "{err}");
    }
    for n in NAMES {
        assert!(build(n, now()).is_ok(), "{n}");
    }
}

#[test]
fn demo_has_the_five_flags_and_fresh_revisions() {
    let s = demo();
    let keys: Vec<&str> = s.state.flags.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "assistant-pr-creation",
            "checkout-v2",
            "legacy-billing-killswitch",
            "search-ranking-v3",
            "support-answer-profile"
        ]
    );
    assert_eq!(s.state.revision, Revision(0));
    assert!(s.state.env_revisions.is_empty() && s.state.frozen.is_empty());
    assert_eq!(
        s.state.environment("production").map(|e| e.protected),
        Some(true)
    );
    assert_eq!(
        s.state.environment("staging").map(|e| e.protected),
        Some(false)
    );
    for f in s.state.flags.values() {
        assert!(
            f.env("staging").is_some() && f.env("production").is_some(),
            "{}",
            f.key
        );
    }
    assert_keys_valid(&s.state);
}

#[test]
fn checkout_v2_production_matches_the_story() {
    let s = demo();
    let prod = s
        .state
        .flags
        .get("checkout-v2")
        .and_then(|f| f.env("production"));
    let Some(prod) = prod else {
        panic!("no checkout-v2 in production")
    };
    let cohorts: Vec<(&str, u8, bool)> = prod
        .cohorts
        .iter()
        .map(|c| (c.name.as_str(), c.percent, c.rolled_back))
        .collect();
    assert_eq!(
        cohorts,
        [
            ("internal", 100, false),
            ("beta-accounts", 100, false),
            ("eu-west", 25, false),
            ("us-east", 25, false)
        ]
    );
    assert!(prod.enabled);
    let Some(l) = &prod.ladder else {
        panic!("no ladder")
    };
    assert_eq!(l.stages.len(), 6);
    assert_eq!(l.current_stage().map(|s| s.name.as_str()), Some("25%"));
    assert_eq!(l.state, LadderState::Progressing);
    assert_eq!(l.policy, AdvancePolicy::RequestApproval);
    assert_eq!(l.entered_at, now() - Duration::minutes(2));
    assert!(l.stages.iter().all(|s| s.min_dwell_secs == 600));
    let specs: Vec<(&str, &str)> = prod
        .guardrails
        .iter()
        .map(|g| (g.metric.as_str(), g.cohort.as_str()))
        .collect();
    assert_eq!(
        specs,
        [
            ("error_rate", "eu-west"),
            ("p95_latency_ms", "eu-west"),
            ("error_rate", "us-east"),
            ("p95_latency_ms", "us-east")
        ]
    );
    assert!(
        prod.guardrails
            .iter()
            .all(|g| g.min_samples == 200 && g.window_secs == 30)
    );
}

#[test]
fn other_demo_flags_match_the_story() {
    let s = demo();
    let prod = |k: &str| {
        s.state
            .flags
            .get(k)
            .and_then(|f| f.env("production"))
            .cloned()
    };
    let percents = |k: &str| -> Vec<(String, u8)> {
        prod(k)
            .map(|e| {
                e.cohorts
                    .iter()
                    .map(|c| (c.name.to_string(), c.percent))
                    .collect()
            })
            .unwrap_or_default()
    };
    let owned = |v: &[(&str, u8)]| -> Vec<(String, u8)> {
        v.iter().map(|(n, p)| (n.to_string(), *p)).collect()
    };
    assert_eq!(
        percents("support-answer-profile"),
        owned(&[("internal", 100), ("everyone", 10)])
    );
    assert_eq!(
        percents("assistant-pr-creation"),
        owned(&[
            ("platform-team", 100),
            ("payments-team", 0),
            ("web-team", 50)
        ])
    );
    assert_eq!(percents("search-ranking-v3"), owned(&[("everyone", 100)]));
    assert_eq!(
        percents("legacy-billing-killswitch"),
        owned(&[("everyone", 100)])
    );
    let support = s.state.flags.get("support-answer-profile");
    assert_eq!(support.map(|f| f.kind), Some(FlagKind::Multivariate));
    assert_eq!(
        prod("support-answer-profile").map(|e| e.guardrails.len()),
        Some(2)
    );
    let search = prod("search-ranking-v3").and_then(|e| e.ladder);
    assert!(search.is_some_and(|l| l.is_last()));
    let legacy = s.state.flags.get("legacy-billing-killswitch");
    assert_eq!(legacy.map(|f| f.lifecycle), Some(Lifecycle::Permanent));
}

#[test]
fn ops_assistant_proposal_is_an_applicable_reduction() {
    let s = demo();
    assert_eq!(s.proposals.len(), 1);
    let p = &s.proposals[0];
    assert_eq!(p.actor.name, "ops-assistant");
    assert_eq!(p.actor.role, Role::Agent);
    assert_eq!(p.action.tier(&s.state), Tier::Reduce);
    assert_eq!(
        p.evidence_gap.as_deref(),
        Some("citation_failure_rate not joined to flag variation yet")
    );
    assert!(!p.evidence.is_empty());
    let mut st = s.state.clone();
    let reverse = p.action.apply(&mut st, now());
    assert!(
        matches!(reverse, Ok(Action::SetPercent { percent: 10, .. })),
        "{reverse:?}"
    );
}

#[test]
fn calm_is_the_demo_without_proposals() {
    let Ok(calm) = build("calm", now()) else {
        panic!("calm")
    };
    assert!(calm.proposals.is_empty());
    assert_eq!(calm.state, demo().state);
}

#[test]
fn large_has_ten_thousand_valid_flags_and_about_300_guardrails() {
    let Ok(s) = build("large", now()) else {
        panic!("large")
    };
    assert_eq!(s.state.flags.len(), 10_000);
    let specs: usize = s
        .state
        .flags
        .values()
        .flat_map(|f| f.environments.values())
        .map(|e| e.guardrails.len())
        .sum();
    assert!((280..=320).contains(&specs), "{specs}");
    let laddered = s
        .state
        .flags
        .values()
        .filter(|f| f.env("production").is_some_and(|e| e.ladder.is_some()))
        .count();
    assert!((4000..=6000).contains(&laddered), "{laddered}");
    for f in s.state.flags.values() {
        let n = f.env("production").map(|e| e.cohorts.len()).unwrap_or(0);
        assert!((1..=4).contains(&n), "{}: {n}", f.key);
    }
    assert_keys_valid(&s.state);
    // Deterministic.
    let Ok(again) = build("large", now()) else {
        panic!("large")
    };
    assert_eq!(s.state, again.state);
}
