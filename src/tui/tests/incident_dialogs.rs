//! Unit tests of the incident's confirm dialogs through `update`: the prefilled reason is
//! selected and typing replaces it, `F` opens with a reason, a target that changed underneath is
//! said before sending, and a rollback on a killed flag claims no exposure. Tests only.

use super::super::effect::Event;
use super::super::model::Pane;
use super::super::update::update;
use super::fixture::*;
use super::incident::rollback;
use crate::client::Clean;
use crate::client::stream::StreamEvent;
use crate::domain::{Action, Revision};
use crate::wire::Change;
use crossterm::event::KeyCode;

#[test]
fn a_prefilled_reason_is_selected_and_typing_replaces_it() {
    let mut m = on_eu_west();
    update(&mut m, key('r'));
    assert!(confirm_of(&m).reason_selected);
    type_str(&mut m, "still breaching");
    assert_eq!(
        confirm_of(&m).reason.value(),
        "still breaching",
        "replaced, not appended to"
    );
    assert!(!confirm_of(&m).reason_selected);
    // Backspace on the selected prefill clears it; a cursor key keeps it for editing.
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('r'));
    update(&mut m, code(KeyCode::Backspace));
    assert_eq!(confirm_of(&m).reason.value(), "");
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('r'));
    let prefilled = confirm_of(&m).reason.value().to_string();
    update(&mut m, code(KeyCode::End));
    type_str(&mut m, " (pager)");
    assert_eq!(
        confirm_of(&m).reason.value(),
        format!("{prefilled} (pager)")
    );
    // The reject prefill too.
    update(&mut m, code(KeyCode::Esc));
    m.focus = Pane::Approvals;
    update(&mut m, key('x'));
    type_str(&mut m, "not now");
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    match fx.as_slice() {
        [
            super::super::effect::Effect::Decide {
                approve: false,
                reason,
                ..
            },
        ] => assert_eq!(reason, "not now"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn freeze_opens_with_a_reason_so_f_enter_is_enough() {
    let mut m = model();
    update(&mut m, key('F'));
    let reason = confirm_of(&m).reason.value().to_string();
    assert_eq!(
        reason,
        "freeze production during incident: checkout-v2/eu-west p95_latency_ms breach"
    );
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let (req, _) = submit(&fx);
    assert_eq!(
        req.action,
        Action::Freeze {
            env: "production".into()
        }
    );
    assert_eq!(req.reason, reason);
    // Without a breach, and for unfreeze, a plain reason.
    let mut m = model();
    update(&mut m, key('e'));
    update(&mut m, key('F'));
    assert_eq!(
        confirm_of(&m).reason.value(),
        "freeze automatic advances in staging"
    );
}

#[test]
fn a_dialog_whose_target_changed_underneath_says_so_before_sending() {
    let mut m = on_eu_west();
    update(&mut m, key('r'));
    assert_eq!(confirm_of(&m).expected_revision, Some(Revision(FLAG_REV)));
    // Someone else moves us-east meanwhile: same flag, new revision.
    let mut f = m.selected_flag().unwrap().clone();
    f.environments
        .get_mut("production")
        .unwrap()
        .cohort_mut("us-east")
        .unwrap()
        .percent = 10;
    f.revision = Revision(50);
    let change = Change {
        revision: Revision(50),
        at: t0(),
        flags: vec![f.into()],
        frozen: None,
        approvals: vec![],
        audit: vec![],
    };
    let fx = update(
        &mut m,
        Event::Stream(StreamEvent::Change(Box::new(Clean::new(change)))),
    )
    .effects;
    assert!(fx.is_empty(), "nothing is sent by a change");
    match &confirm_of(&m).phase {
        super::super::confirm::Phase::Conflict(msg) => {
            assert!(msg.contains("revision 40 → 50"), "{msg}")
        }
        other => panic!("expected the dialog to say it changed, got {other:?}"),
    }
    // Enter now re-decides on what is on screen, with the new revision.
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let (req, _) = submit(&fx);
    assert_eq!(req.action, rollback("eu-west"));
    assert_eq!(req.expected_revision, Some(Revision(50)));
}

#[test]
fn the_rollback_dialog_on_a_killed_flag_does_not_claim_exposure() {
    let mut m = on_eu_west();
    let mut f = m.selected_flag().unwrap().clone();
    f.environments.get_mut("production").unwrap().enabled = false;
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
    // Killed: no cohort is exposed, so no breach is a target; the operator chose eu-west.
    update(&mut m, key('r'));
    let c = confirm_of(&m);
    assert!(
        c.preview
            .blast
            .contains("the flag is killed here: nobody exposed now"),
        "{}",
        c.preview.blast
    );
    assert!(
        !c.preview.blast.contains("25% of it exposed"),
        "{}",
        c.preview.blast
    );
}
