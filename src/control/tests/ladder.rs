//! Ladders: evidence-gated advances after a healthy dwell, none on insufficient data or while
//! frozen, and an engine request where the environment is protected.

use super::*;

#[test]
fn healthy_dwell_advances_insufficient_does_not_and_freeze_blocks() {
    let (_d, cp, clock) = plane("calm");
    let mut engine = Engine::default();
    let admin = person("root", Role::Admin);
    // Make staging's checkout-v2 ladder short and guarded, at stage 0.
    let mut flag = cp.state().flags["checkout-v2"].as_ref().clone();
    let spec = flag.environments[&crate::domain::EnvKey::from("production")].guardrails[0].clone();
    if let Some(fe) = flag.environments.get_mut("staging")
        && let Some(l) = fe.ladder.as_mut()
    {
        l.current = 2;
        for s in &mut l.stages {
            s.min_dwell_secs = 10;
        }
        l.entered_at = t0();
        fe.guardrails = vec![GuardrailSpec {
            cohort: "eu-west".into(),
            min_samples: 100,
            ..spec
        }];
    }
    cp.define_flag(&admin, flag)
        .unwrap_or_else(|e| panic!("{e}"));
    // Insufficient data for the whole dwell: no advance.
    for _ in 0..15 {
        clock.advance(1);
        push(
            &cp,
            "checkout-v2",
            "staging",
            "error_rate",
            "eu-west",
            0.005,
            0.005,
            2,
        );
        let r = engine.tick(&cp, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.advanced.is_empty());
    }
    assert_eq!(ladder(&cp, "checkout-v2", "staging").current, 2);
    // Healthy with enough data for the whole dwell: advances once the dwell is complete.
    let mut advanced_at = None;
    for s in 1..=15 {
        clock.advance(1);
        push(
            &cp,
            "checkout-v2",
            "staging",
            "error_rate",
            "eu-west",
            0.005,
            0.005,
            500,
        );
        if !engine
            .tick(&cp, None)
            .unwrap_or_else(|e| panic!("{e}"))
            .advanced
            .is_empty()
        {
            advanced_at = Some(s);
            break;
        }
    }
    assert!(
        advanced_at.is_some_and(|s| s >= 10),
        "advanced after {advanced_at:?} s of healthy dwell"
    );
    assert_eq!(ladder(&cp, "checkout-v2", "staging").current, 3);
    // Frozen: healthy data well past the dwell, still no advance.
    cp.submit(
        &admin,
        &req(Action::Freeze {
            env: "staging".into(),
        }),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..30 {
        clock.advance(1);
        push(
            &cp,
            "checkout-v2",
            "staging",
            "error_rate",
            "eu-west",
            0.005,
            0.005,
            500,
        );
        assert!(
            engine
                .tick(&cp, None)
                .unwrap_or_else(|e| panic!("{e}"))
                .advanced
                .is_empty()
        );
    }
    assert_eq!(ladder(&cp, "checkout-v2", "staging").current, 3);
    assert_eq!(
        ladder(&cp, "checkout-v2", "staging").effective_state(true),
        LadderState::Frozen
    );
    // Unfreeze: the evidence covered the dwell, so the next tick advances.
    cp.submit(
        &admin,
        &req(Action::Unfreeze {
            env: "staging".into(),
        }),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    clock.advance(1);
    push(
        &cp,
        "checkout-v2",
        "staging",
        "error_rate",
        "eu-west",
        0.005,
        0.005,
        500,
    );
    assert_eq!(
        engine
            .tick(&cp, None)
            .unwrap_or_else(|e| panic!("{e}"))
            .advanced
            .len(),
        1
    );
    assert_eq!(ladder(&cp, "checkout-v2", "staging").current, 4);
}

#[test]
fn protected_advance_becomes_an_engine_request() {
    let (_d, cp, clock) = plane("calm");
    let mut engine = Engine::default();
    let mut flag = cp.state().flags["checkout-v2"].as_ref().clone();
    if let Some(fe) = flag.environments.get_mut("production")
        && let Some(l) = fe.ladder.as_mut()
    {
        for s in &mut l.stages {
            s.min_dwell_secs = 5;
        }
        fe.guardrails.clear();
    }
    cp.define_flag(&person("root", Role::Admin), flag)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut requested = Vec::new();
    for _ in 0..400 {
        clock.advance(1);
        requested.extend(
            engine
                .tick(&cp, None)
                .unwrap_or_else(|e| panic!("{e}"))
                .requested,
        );
        if !requested.is_empty() {
            break;
        }
    }
    assert_eq!(
        requested,
        vec!["advance checkout-v2 in production".to_string()]
    );
    assert_eq!(
        ladder(&cp, "checkout-v2", "production").current,
        3,
        "not applied before approval"
    );
}
