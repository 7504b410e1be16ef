//! Unit tests of the confirm flow through `update`: every mutating key → the right dialog → the
//! right Effect, retries, conflicts, outcomes, refusal while stale, approvals. Tests only; no
//! terminal, no network.

use super::super::confirm::{Intent, Phase};
use super::super::effect::{Effect, Event};
use super::super::model::Conn;
use super::super::update::update;
use super::fixture::*;
use crate::client::stream::StreamEvent;
use crate::client::{Clean, ClientError};
use crate::domain::{Action, AuditId, Revision};
use crate::wire::{Change, Outcome, OutcomeKind};
use crossterm::event::KeyCode;

fn rollback(cohort: &str) -> Action {
    Action::Rollback {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: cohort.into(),
    }
}

#[test]
fn r_enter_rolls_back_the_selected_cohort_in_two_keys() {
    let mut m = on_eu_west();
    assert!(update(&mut m, key('r')).effects.is_empty());
    let c = confirm_of(&m);
    assert_eq!(c.intent, Intent::Act(rollback("eu-west")));
    assert!(
        c.reason.value().contains("eu-west") && c.reason.value().contains("breach"),
        "{}",
        c.reason.value()
    );
    assert!(
        c.preview.change[0].contains("25% exposed → rolled back"),
        "{:?}",
        c.preview.change
    );
    assert_eq!(
        c.preview.reverse,
        Some(Action::Restore {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: "eu-west".into()
        })
    );
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let (req, key) = submit(&fx);
    assert_eq!(req.action, rollback("eu-west"));
    assert_eq!(req.expected_revision, Some(Revision(FLAG_REV)));
    assert_eq!(req.source.as_deref(), Some("tui"));
    assert!(!key.is_empty());
    assert_eq!(confirm_of(&m).phase, Phase::Sending);
    // A second Enter while sending sends nothing.
    assert!(update(&mut m, code(KeyCode::Enter)).effects.is_empty());
}

#[test]
fn r_on_a_rolled_back_cohort_offers_restore() {
    let mut m = on_eu_west();
    let mut f = m.selected_flag().unwrap().clone();
    f.environments
        .get_mut("production")
        .unwrap()
        .cohort_mut("eu-west")
        .unwrap()
        .rolled_back = true;
    f.revision = Revision(50);
    let change = Change {
        revision: Revision(50),
        at: t0(),
        flags: vec![f.into()],
        frozen: None,
        approvals: vec![],
        audit: vec![],
    };
    update(
        &mut m,
        Event::Stream(StreamEvent::Change(Box::new(Clean::new(change)))),
    );
    update(&mut m, key('r'));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let (req, _) = submit(&fx);
    assert_eq!(
        req.action,
        Action::Restore {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: "eu-west".into()
        }
    );
    assert_eq!(req.expected_revision, Some(Revision(50)));
}

#[test]
fn timeout_retry_reuses_the_key_and_conflict_uses_a_new_key_and_revision() {
    let mut m = on_eu_west();
    update(&mut m, key('r'));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let first = submit(&fx).1.to_string();
    let out = Event::Outcome {
        idem_key: first.clone(),
        result: Err(ClientError::Timeout { url: "x".into() }),
    };
    update(&mut m, out);
    assert!(matches!(
        confirm_of(&m).phase,
        Phase::Failed {
            retry_same_key: true,
            ..
        }
    ));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let (req, again) = submit(&fx);
    assert_eq!(again, first, "a retry must reuse the idempotency key");
    assert_eq!(req.expected_revision, Some(Revision(FLAG_REV)));
    // Conflict: the dialog stays open, a snapshot is fetched, the new state is shown.
    let conflict = ClientError::Api {
        status: 409,
        code: "conflict".into(),
        message: "changed since you looked".into(),
        current_revision: Some(Revision(60)),
    };
    let fx = update(
        &mut m,
        Event::Outcome {
            idem_key: first.clone(),
            result: Err(conflict),
        },
    )
    .effects;
    assert_eq!(fx, vec![Effect::FetchSnapshot]);
    assert!(matches!(confirm_of(&m).phase, Phase::Conflict(_)));
    let mut snap = snapshot();
    for f in &mut snap.flags {
        std::sync::Arc::make_mut(f).revision = Revision(60);
    }
    snap.revision = Revision(60);
    update(&mut m, Event::Snapshot(Ok(Box::new(Clean::new(snap)))));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let (req, third) = submit(&fx);
    assert_ne!(
        third, first,
        "a re-decision after a conflict uses a new key"
    );
    assert_eq!(req.expected_revision, Some(Revision(60)));
}

#[test]
fn applied_outcome_closes_the_dialog_and_shows_the_audit_id() {
    let mut m = on_eu_west();
    update(&mut m, key('r'));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let idem_key = submit(&fx).1.to_string();
    let o = Outcome {
        outcome: OutcomeKind::Applied,
        revision: Revision(43),
        action: rollback("eu-west"),
        reverse: Action::Restore {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: "eu-west".into(),
        },
        reverse_command: String::new(),
        audit_id: Some(AuditId(8)),
        approval_id: None,
        replayed: false,
    };
    update(
        &mut m,
        Event::Outcome {
            idem_key,
            result: Ok(Box::new(Clean::new(o))),
        },
    );
    assert!(m.dialog.is_none());
    assert!(m.status.as_ref().unwrap().text.contains("audit #8"));
    assert_eq!(m.own_last, Some(AuditId(8)));
}

#[test]
fn denied_keeps_the_dialog_with_the_answer() {
    let mut m = on_eu_west();
    update(&mut m, key('r'));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let idem_key = submit(&fx).1.to_string();
    let denied = ClientError::Api {
        status: 403,
        code: "forbidden".into(),
        message: "no".into(),
        current_revision: None,
    };
    update(
        &mut m,
        Event::Outcome {
            idem_key: idem_key.clone(),
            result: Err(denied),
        },
    );
    assert!(
        matches!(&confirm_of(&m).phase, Phase::Failed { msg, retry_same_key: false } if msg.starts_with("denied"))
    );
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    assert_ne!(submit(&fx).1, idem_key);
}

#[test]
fn mutations_are_refused_while_stale_and_reconnect_fetches_a_snapshot() {
    let mut m = on_eu_west();
    let down = StreamEvent::Disconnected {
        reason: "gone".into(),
        retry_in: std::time::Duration::from_secs(1),
    };
    update(&mut m, Event::Stream(down));
    assert!(matches!(m.data.conn, Conn::Reconnecting { .. }));
    for c in ['r', '+', '-', '%', ']', '[', ' ', 'u', 'F', 'K', 'a', 'x'] {
        assert!(update(&mut m, key(c)).effects.is_empty());
        assert!(m.dialog.is_none(), "{c} opened a dialog while stale");
        assert!(m.status.as_ref().unwrap().text.contains("refused"), "{c}");
    }
    let fx = update(
        &mut m,
        Event::Stream(StreamEvent::Connected {
            revision: STATE_REV,
        }),
    )
    .effects;
    assert_eq!(fx, vec![Effect::FetchSnapshot]);
    assert!(m.is_live());
}

#[test]
fn an_open_dialog_does_not_send_while_stale() {
    let mut m = on_eu_west();
    update(&mut m, key('r'));
    let down = StreamEvent::Disconnected {
        reason: "gone".into(),
        retry_in: std::time::Duration::from_secs(1),
    };
    update(&mut m, Event::Stream(down));
    assert!(update(&mut m, code(KeyCode::Enter)).effects.is_empty());
    assert!(m.status.as_ref().unwrap().text.contains("refused"));
}

#[test]
fn an_unconfirmed_commit_says_it_may_have_been_applied_and_a_retry_reuses_the_key() {
    for (status, name, says) in [
        (502, "outcome_unknown", "not confirmed"),
        (503, "store_unavailable", "not applied"),
    ] {
        let mut m = on_eu_west();
        update(&mut m, key('r'));
        let fx = update(&mut m, code(KeyCode::Enter)).effects;
        let first = submit(&fx).1.to_string();
        let e = ClientError::Api {
            status,
            code: name.into(),
            message: "the database did not answer".into(),
            current_revision: None,
        };
        update(
            &mut m,
            Event::Outcome {
                idem_key: first.clone(),
                result: Err(e),
            },
        );
        let phase = &confirm_of(&m).phase;
        assert!(
            matches!(phase, Phase::Failed { msg, retry_same_key: true } if msg.starts_with(says)),
            "{status}: {phase:?}"
        );
        if status == 502 {
            assert!(format!("{phase:?}").contains("may have been applied"));
        }
        let fx = update(&mut m, code(KeyCode::Enter)).effects;
        assert_eq!(submit(&fx).1, first, "{status}: a retry must reuse the key");
    }
}
