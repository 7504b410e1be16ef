//! The engine on the demo: a breach pauses and proposes the narrowed rollback, policy applies
//! it where unprotected, healthy dwell advances, freeze blocks, protected advances ask.

use super::*;

#[test]
fn demo_breach_pauses_and_proposes_the_narrowed_rollback_within_half_a_minute() {
    let (_d, cp, clock) = plane("demo");
    let mut engine = Engine::default();
    let mut sim = Simulator::new("demo", t0());
    let mut when = None;
    for s in 1..=40 {
        clock.advance(1);
        let report = engine
            .tick(&cp, Some(&mut sim))
            .unwrap_or_else(|e| panic!("{e}"));
        if !report.paused.is_empty() {
            when = Some(s);
            assert_eq!(report.paused, vec!["checkout-v2/production".to_string()]);
            break;
        }
    }
    let secs = when.unwrap_or_else(|| panic!("the ladder never paused"));
    assert!(secs <= 32, "paused after {secs}s");
    let l = ladder(&cp, "checkout-v2", "production");
    assert_eq!(l.state, LadderState::Paused);
    assert!(l.pause_note.as_deref().unwrap_or("").contains("eu-west"));
    // The proposal: exactly eu-west, with its reverse and evidence; production → a request.
    let proposals: Vec<_> = cp
        .approvals()
        .into_iter()
        .filter(|a| a.state == ApprovalState::Pending && a.requested_by.name == ENGINE_ACTOR)
        .collect();
    assert_eq!(proposals.len(), 1, "{proposals:?}");
    let p = &proposals[0];
    assert_eq!(
        p.action,
        Action::Rollback {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: "eu-west".into()
        }
    );
    assert_eq!(
        p.reverse,
        Action::Restore {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: "eu-west".into()
        }
    );
    assert!(
        p.evidence
            .iter()
            .any(|e| e.status.as_deref() == Some("breached") && e.samples > 0)
    );
    // Never a global kill, and us-east untouched.
    let fe = cp.state().flags["checkout-v2"].environments
        [&crate::domain::EnvKey::from("production")]
        .clone();
    assert!(fe.enabled);
    assert!(!fe.cohort("us-east").is_some_and(|c| c.rolled_back));
    // Another tick does not stack a second proposal.
    clock.advance(1);
    engine
        .tick(&cp, Some(&mut sim))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cp.approvals()
            .iter()
            .filter(|a| a.state == ApprovalState::Pending && a.requested_by.name == ENGINE_ACTOR)
            .count(),
        1
    );
    // Approving it rolls back eu-west; its candidate traffic stops.
    let o = cp
        .approve(&person("ic", Role::Approver), &p.id, "take eu-west back")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.outcome, OutcomeKind::Applied);
    assert_eq!(
        cp.approvals()
            .iter()
            .find(|a| a.id == p.id)
            .map(|a| a.state),
        Some(ApprovalState::Applied)
    );
    for _ in 0..40 {
        clock.advance(1);
        engine
            .tick(&cp, Some(&mut sim))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let eu: Vec<_> = cp
        .readings()
        .into_iter()
        .filter(|r| {
            r.flag.as_str() == "checkout-v2"
                && r.cohort.as_str() == "eu-west"
                && r.env.as_str() == "production"
        })
        .collect();
    assert!(
        eu.iter()
            .all(|r| r.status != GuardrailStatus::Breached && r.samples == 0),
        "{eu:?}"
    );
    // The cohort as a whole is back within its limits: the recovery is visible.
    assert!(
        eu.iter()
            .all(|r| matches!((r.cohort_value, r.threshold), (Some(v), Some(l)) if v <= l)),
        "{eu:?}"
    );
    // And the audit links the rollback to the evidence one window later.
    let audit = cp.audit(Some("checkout-v2"), None, 50).unwrap_or_default();
    let applied = audit
        .iter()
        .find(|e| e.kind == AuditKind::Approved)
        .map(|e| e.id)
        .unwrap_or_else(|| panic!("no approval"));
    let ev = audit
        .iter()
        .find(|e| e.kind == AuditKind::Evidence)
        .unwrap_or_else(|| panic!("no evidence event: {audit:?}"));
    assert_eq!(ev.follows, Some(applied));
    assert!(
        ev.evidence
            .iter()
            .all(|e| e.status.as_deref() == Some("recovered")),
        "{:?}",
        ev.evidence
    );
    assert!(ev.reason.contains("recovered"), "{}", ev.reason);
}

#[test]
fn applying_a_change_directly_closes_the_matching_request() {
    let (_d, cp, _clock) = plane("demo");
    let op = person("ic", Role::Operator);
    let action = Action::SetPercent {
        flag: "support-answer-profile".into(),
        env: "production".into(),
        cohort: "everyone".into(),
        percent: 0,
    };
    let pending = |cp: &ControlPlane| {
        cp.approvals()
            .into_iter()
            .filter(|a| a.state == ApprovalState::Pending && a.action == action)
            .count()
    };
    assert_eq!(pending(&cp), 1);
    cp.submit(&op, &req(action.clone()), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pending(&cp), 0);
    let closed = cp
        .approvals()
        .into_iter()
        .find(|a| a.action == action)
        .unwrap_or_else(|| panic!("gone"));
    assert!(
        closed
            .decision_reason
            .unwrap_or_default()
            .starts_with("superseded")
    );
}

#[test]
fn breach_in_unprotected_env_applies_the_rollback_by_policy() {
    let (_d, cp, clock) = plane("calm");
    let mut engine = Engine::default();
    for _ in 0..3 {
        clock.advance(1);
        push(
            &cp,
            "checkout-v2",
            "staging",
            "error_rate",
            "eu-west",
            0.09,
            0.005,
            500,
        );
    }
    // The calm scenario guards production only; give staging a guardrail via a definition.
    let mut flag = cp.state().flags["checkout-v2"].as_ref().clone();
    let spec = flag.environments[&crate::domain::EnvKey::from("production")].guardrails[0].clone();
    if let Some(fe) = flag.environments.get_mut("staging") {
        fe.guardrails = vec![GuardrailSpec {
            cohort: "eu-west".into(),
            ..spec
        }];
    }
    cp.define_flag(&person("root", Role::Admin), flag)
        .unwrap_or_else(|e| panic!("{e}"));
    let report = engine.tick(&cp, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.rolled_back,
        vec!["rollback checkout-v2/eu-west in staging".to_string()]
    );
    assert!(
        cp.state().flags["checkout-v2"].environments[&crate::domain::EnvKey::from("staging")]
            .cohort("eu-west")
            .is_some_and(|c| c.rolled_back)
    );
}

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
