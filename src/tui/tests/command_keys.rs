//! Each command key opens its confirm flow on what is selected: +/- and the percent prompt, the
//! ladder keys, freeze, kill (typed key), undo, approve and reject.

use super::super::dialog::Dialog;
use super::super::effect::{Effect, Event};
use super::super::model::Pane;
use super::super::update::update;
use super::fixture::*;
use crate::client::Clean;
use crate::client::stream::StreamEvent;
use crate::domain::{Action, Revision};
use crossterm::event::KeyCode;

#[test]
fn plus_minus_step_the_selected_cohort() {
    let mut m = on_eu_west();
    update(&mut m, key('+'));
    let c = confirm_of(&m);
    assert!(
        c.preview.needs_approval,
        "expanding in production becomes a request"
    );
    assert!(c.reason.value().is_empty());
    // Enter with an empty reason sends nothing.
    assert!(update(&mut m, code(KeyCode::Enter)).effects.is_empty());
    type_str(&mut m, "go on");
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let (req, _) = submit(&fx);
    assert_eq!(
        req.action,
        Action::SetPercent {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: "eu-west".into(),
            percent: 50
        }
    );
    assert_eq!(req.reason, "go on");
    let mut m = on_eu_west();
    update(&mut m, key('-'));
    assert!(matches!(
        confirm_of(&m).intent.action(),
        Action::SetPercent { percent: 10, .. }
    ));
    update(&mut m, code(KeyCode::Esc));
    assert!(m.dialog.is_none());
}

#[test]
fn percent_prompt_then_confirm() {
    let mut m = on_eu_west();
    update(&mut m, key('%'));
    assert!(matches!(m.dialog, Some(Dialog::Percent { .. })));
    clear_reason(&mut m);
    type_str(&mut m, "40");
    update(&mut m, code(KeyCode::Enter));
    type_str(&mut m, "exact");
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    assert!(matches!(
        &submit(&fx).0.action,
        Action::SetPercent { percent: 40, .. }
    ));
}

#[test]
fn ladder_keys_advance_retreat_pause() {
    for (k, want) in [(']', "advance"), ('[', "retreat"), (' ', "pause")] {
        let mut m = on_eu_west();
        update(&mut m, key(k));
        type_str(&mut m, "why");
        let fx = update(&mut m, code(KeyCode::Enter)).effects;
        let (req, _) = submit(&fx);
        assert_eq!(req.action.verb(), want);
        assert_eq!(req.expected_revision, Some(Revision(FLAG_REV)));
    }
}

#[test]
fn freeze_uses_the_state_revision() {
    let mut m = model();
    update(&mut m, key('F'));
    type_str(&mut m, "incident");
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let (req, _) = submit(&fx);
    assert_eq!(
        req.action,
        Action::Freeze {
            env: "production".into()
        }
    );
    assert_eq!(req.expected_revision, Some(Revision(STATE_REV)));
}

#[test]
fn kill_requires_typing_the_flag_key() {
    let mut m = on_eu_west();
    update(&mut m, key('K'));
    assert!(confirm_of(&m).typing_focus);
    update(&mut m, code(KeyCode::Tab));
    type_str(&mut m, "sev1");
    assert!(
        update(&mut m, code(KeyCode::Enter)).effects.is_empty(),
        "sent without typed confirmation"
    );
    assert!(
        m.status
            .as_ref()
            .unwrap()
            .text
            .contains("type `checkout-v2`")
    );
    update(&mut m, code(KeyCode::Tab));
    type_str(&mut m, "checkout-v");
    assert!(update(&mut m, code(KeyCode::Enter)).effects.is_empty());
    type_str(&mut m, "2");
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    assert_eq!(
        submit(&fx).0.action,
        Action::Kill {
            flag: "checkout-v2".into(),
            env: "production".into()
        }
    );
}

#[test]
fn undo_applies_the_selected_activity_reverse() {
    let mut m = model();
    m.focus = Pane::Activity;
    update(&mut m, key('u'));
    assert_eq!(confirm_of(&m).reason.value(), "undo #7");
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    assert!(matches!(
        &submit(&fx).0.action,
        Action::SetPercent { percent: 10, .. }
    ));
}

#[test]
fn approve_and_reject_the_selected_request() {
    let mut m = model();
    m.focus = Pane::Approvals;
    update(&mut m, key('a'));
    type_str(&mut m, "looks right");
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    match fx.as_slice() {
        [
            Effect::Decide {
                id,
                approve: true,
                reason,
                ..
            },
        ] => {
            assert_eq!(id.as_str(), "apr-1");
            assert_eq!(reason, "looks right");
        }
        other => panic!("{other:?}"),
    }
    let mut m = model();
    update(&mut m, key('x'));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    assert!(matches!(
        fx.as_slice(),
        [Effect::Decide { approve: false, .. }]
    ));
}

#[test]
fn nobody_approves_their_own_request() {
    let mut snap = snapshot();
    snap.identity.name = "ops-assistant".into();
    let mut m = super::super::model::Model::new(
        Clean::new(snap),
        "x",
        None,
        crate::config::keymap::builtin_default(),
        t0(),
    );
    update(
        &mut m,
        Event::Stream(StreamEvent::Connected {
            revision: STATE_REV,
        }),
    );
    update(&mut m, key('a'));
    assert!(m.dialog.is_none());
    assert!(m.status.as_ref().unwrap().text.contains("own request"));
}
