//! Breach response on the demo and by policy: pause, the narrowed rollback (requested in a
//! protected environment, applied in another), the recovery and the evidence one window later.

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
            .filter(|e| e.metric != "exposure")
            .all(|e| e.status.as_deref() == Some("recovered")),
        "{:?}",
        ev.evidence
    );
    // And the simulator's users of eu-west (evaluated like an application's) no longer got
    // the candidate: the traffic moved, and what it was before is on record.
    let served = ev
        .evidence
        .iter()
        .find(|e| e.metric == "exposure")
        .unwrap_or_else(|| panic!("no exposure evidence: {:?}", ev.evidence));
    assert_eq!(served.status.as_deref(), Some("traffic moved"));
    assert_eq!(served.candidate, Some(0.0));
    assert!(served.baseline.is_some_and(|was| was > 0.0), "{served:?}");
    assert!(
        ev.reason.contains("eu-west: candidate served 0/min since"),
        "{}",
        ev.reason
    );
    assert!(ev.reason.contains("recovered"), "{}", ev.reason);
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
fn a_breach_note_never_reads_value_equal_to_limit() {
    let r = crate::wire::GuardrailReading {
        flag: "checkout-v2".into(),
        env: "production".into(),
        metric: "p95_latency_ms".into(),
        cohort: "eu-west".into(),
        value: Some(218.4),
        baseline: Some(181.7),
        threshold: Some(218.04),
        rule: "<= +20% vs baseline".into(),
        samples: 1200,
        baseline_samples: 9000,
        min_samples: 100,
        window_secs: 60,
        status: GuardrailStatus::Breached,
        history: vec![],
        cohort_value: None,
        source_error: None,
    };
    let note = super::super::engine::breach_note(&r);
    assert!(
        note.starts_with("p95_latency_ms of eu-west breached: 218.4 vs limit 218 ("),
        "{note}"
    );
}
