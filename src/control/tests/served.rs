//! Guardrails with `samples_from = "exposure"`: their sample counts are the cohort's evaluations
//! served by this control plane (OFREP or the simulator), candidate against fallthrough, fed by
//! the engine every tick.

use super::*;
use crate::control::clock::Clock;
use crate::control::exposure::Served;

#[test]
fn a_guardrail_counting_samples_from_exposure_counts_what_was_served() {
    let (_dir, cp, clock) = plane("demo");
    cp.with_inner(|inner| {
        let flag = inner.state.flags.get_mut("checkout-v2").unwrap();
        let fe = Arc::make_mut(flag)
            .environments
            .get_mut("production")
            .unwrap();
        fe.guardrails.retain(|g| g.cohort.as_str() == "eu-west");
        fe.guardrails.truncate(1);
        fe.guardrails[0].samples_from = SampleSource::Exposure;
        fe.guardrails[0].min_samples = 100;
    });
    let metric = cp.state().flags["checkout-v2"].environments[&EnvKey::from("production")]
        .guardrails[0]
        .metric
        .clone();
    let served = |exposed: bool, n: u64| {
        cp.exposure.record_counted(
            clock.now(),
            [(
                Served {
                    flag: "checkout-v2",
                    env: "production",
                    cohort: Some("eu-west"),
                    variation: if exposed { "on" } else { "off" },
                    exposed,
                },
                n,
            )],
        )
    };
    let mut engine = Engine::default();
    let reading = |cp: &ControlPlane| {
        cp.readings()
            .into_iter()
            .find(|r| r.flag.as_str() == "checkout-v2" && r.metric == metric)
            .unwrap_or_else(|| panic!("no reading"))
    };
    // Values come from pushed samples (three of them); the counts from exposure.
    push(
        &cp,
        "checkout-v2",
        "production",
        &metric,
        "eu-west",
        0.01,
        0.01,
        3,
    );
    engine.tick(&cp, None).unwrap_or_else(|e| panic!("{e}"));
    served(true, 40);
    served(false, 10);
    clock.advance(1);
    engine.tick(&cp, None).unwrap_or_else(|e| panic!("{e}"));
    let r = reading(&cp);
    assert_eq!((r.samples, r.baseline_samples), (40, 10));
    assert_eq!(r.status, GuardrailStatus::Insufficient, "{r:?}");
    // More served: enough samples; counted once each (the engine feeds only what is new).
    served(true, 160);
    served(false, 200);
    clock.advance(1);
    engine.tick(&cp, None).unwrap_or_else(|e| panic!("{e}"));
    let r = reading(&cp);
    assert_eq!((r.samples, r.baseline_samples), (200, 210));
    assert_ne!(r.status, GuardrailStatus::Insufficient, "{r:?}");
}

/// A guardrail window of five minutes: the evidence after a narrowed rollback still says what
/// the cohort was served before it (the counts keep an hour of windows), and that it moved.
#[test]
fn evidence_after_a_long_window_still_knows_what_was_served_before() {
    let (_dir, cp, clock) = plane("demo");
    cp.with_inner(|inner| {
        let flag = inner.state.flags.get_mut("checkout-v2").unwrap();
        let fe = Arc::make_mut(flag)
            .environments
            .get_mut("production")
            .unwrap();
        for g in &mut fe.guardrails {
            g.window_secs = 300;
        }
    });
    let served = |exposed: bool, n: u64| {
        cp.exposure.record_counted(
            clock.now(),
            [(
                Served {
                    flag: "checkout-v2",
                    env: "production",
                    cohort: Some("eu-west"),
                    variation: if exposed { "on" } else { "off" },
                    exposed,
                },
                n,
            )],
        )
    };
    served(true, 1240);
    served(false, 3720);
    clock.advance(61);
    let rollback = Action::Rollback {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "eu-west".into(),
    };
    let o = cp
        .submit(&person("alice", Role::Operator), &req(rollback), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.outcome, OutcomeKind::Applied);
    let mut engine = Engine::default();
    for _ in 0..31 {
        clock.advance(10);
        served(false, 60);
        engine.tick(&cp, None).unwrap_or_else(|e| panic!("{e}"));
    }
    let audit = cp.audit(Some("checkout-v2"), None, 20).unwrap_or_default();
    let ev = audit
        .iter()
        .find(|e| e.kind == AuditKind::Evidence && e.follows == o.audit_id)
        .unwrap_or_else(|| panic!("no evidence: {audit:?}"));
    let e = ev
        .evidence
        .iter()
        .find(|e| e.metric == "exposure")
        .unwrap_or_else(|| panic!("no exposure evidence: {ev:?}"));
    assert_eq!(
        (e.status.as_deref(), e.candidate, e.baseline),
        (Some("traffic moved"), Some(0.0), Some(1240.0)),
        "{e:?}"
    );
    assert!(ev.reason.contains("was 1,240/min"), "{}", ev.reason);
}
