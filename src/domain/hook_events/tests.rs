//! Which hook events an audit event is.

use super::*;
use crate::domain::{Actor, AuditId, Evidence, Revision, Role};

fn audit(kind: AuditKind, actor: ActorKind, action: Option<Action>) -> AuditEvent {
    AuditEvent {
        id: AuditId(7),
        at: crate::testkit::t0(),
        kind,
        actor: Actor {
            name: "x".into(),
            role: Role::Admin,
            kind: actor,
        },
        source: "api".into(),
        reason: "r".into(),
        flag: Some("checkout".into()),
        action,
        reverse: None,
        before: None,
        after: None,
        approval: None,
        evidence: vec![],
        revision: Revision(3),
        follows: None,
        request_id: None,
    }
}

fn breached() -> Evidence {
    Evidence {
        metric: "error_rate".into(),
        cohort: "beta".into(),
        candidate: None,
        baseline: None,
        threshold: None,
        samples: 10,
        window_secs: 60,
        status: Some("breached".into()),
        cohort_value: None,
    }
}

fn pause() -> Action {
    Action::Pause {
        flag: "checkout".into(),
        env: "production".into(),
        note: None,
    }
}

#[test]
fn the_engine_pausing_on_a_breach_is_a_breach_and_a_pause_and_a_person_pausing_is_only_a_pause() {
    let mut e = audit(AuditKind::Applied, ActorKind::Engine, Some(pause()));
    e.evidence = vec![breached()];
    assert_eq!(
        events_of(&e),
        vec![HookEvent::Breach, HookEvent::LadderPaused]
    );
    let mut p = audit(AuditKind::Applied, ActorKind::Person, Some(pause()));
    p.evidence = vec![breached()];
    assert_eq!(events_of(&p), vec![HookEvent::LadderPaused]);
    let healthy = audit(AuditKind::Applied, ActorKind::Engine, Some(pause()));
    assert_eq!(events_of(&healthy), vec![HookEvent::LadderPaused]);
}

#[test]
fn requests_evidence_and_ladder_steps_have_their_events() {
    let r = audit(AuditKind::Requested, ActorKind::Engine, Some(pause()));
    assert_eq!(events_of(&r), vec![HookEvent::RequestCreated]);
    let mut ev = audit(AuditKind::Evidence, ActorKind::Engine, None);
    assert_eq!(events_of(&ev), vec![HookEvent::EvidenceRecovered]);
    ev.evidence = vec![breached()];
    assert_eq!(events_of(&ev), vec![HookEvent::EvidenceNotRecovered]);
    let advance = Action::Advance {
        flag: "checkout".into(),
        env: "production".into(),
        exposure: None,
    };
    let mut a = audit(AuditKind::Applied, ActorKind::Engine, Some(advance));
    a.after = Some(serde_json::json!({"state": "progressing"}));
    assert_eq!(events_of(&a), vec![HookEvent::LadderAdvanced]);
    a.after = Some(serde_json::json!({"state": "completed"}));
    assert_eq!(events_of(&a), vec![HookEvent::LadderCompleted]);
    let kill = Action::Kill {
        flag: "checkout".into(),
        env: "production".into(),
    };
    let approved = audit(AuditKind::Approved, ActorKind::Person, Some(kill));
    assert_eq!(
        events_of(&approved),
        vec![HookEvent::RequestApproved, HookEvent::Kill]
    );
    let defined = audit(AuditKind::Defined, ActorKind::Person, None);
    assert!(events_of(&defined).is_empty());
}
