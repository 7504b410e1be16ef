//! Unit tests of `update` outside the confirm flow: navigation, the command line, filter,
//! environments, stream changes and readings, sorting, determinism and redraws. Tests only; no
//! terminal, no network.

use super::super::confirm::Phase;
use super::super::dialog::Dialog;
use super::super::effect::{Effect, Event};
use super::super::model::Pane;
use super::super::update::update;
use super::fixture::*;
use crate::client::stream::StreamEvent;
use crate::client::{Clean, ClientError};
use crate::domain::{Action, Revision};
use crate::wire::Change;
use crossterm::event::KeyCode;

#[test]
fn navigation_command_line_filter_env_and_quit() {
    let mut m = model();
    update(&mut m, key(':'));
    type_str(&mut m, "flag checkout-v2");
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(m.selected_flag_key().unwrap().as_str(), "checkout-v2");
    update(&mut m, key('e'));
    assert_eq!(m.env.as_str(), "staging");
    update(&mut m, key(':'));
    type_str(&mut m, "env production");
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(m.env.as_str(), "production");
    update(&mut m, key('/'));
    type_str(&mut m, "support");
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(m.flags.visible.len(), 1);
    update(&mut m, code(KeyCode::Tab));
    assert_eq!(m.focus, Pane::Ladder);
    update(&mut m, code(KeyCode::BackTab));
    assert_eq!(m.focus, Pane::Flags);
    update(&mut m, key('?'));
    assert!(matches!(m.dialog, Some(Dialog::Help)));
    update(&mut m, key('q'));
    assert!(m.dialog.is_none(), "any key closes help");
    update(&mut m, key(':'));
    type_str(&mut m, "freeze");
    update(&mut m, code(KeyCode::Enter));
    assert!(matches!(
        confirm_of(&m).intent.action(),
        Action::Freeze { .. }
    ));
    update(&mut m, code(KeyCode::Esc));
    assert_eq!(update(&mut m, key('q')).effects, vec![Effect::Quit]);
}

#[test]
fn moves_and_details() {
    let mut m = model();
    update(&mut m, key('G'));
    assert_eq!(m.flags.sel.row(), m.flags.visible.len() - 1);
    update(&mut m, key('g'));
    assert_eq!(m.flags.sel.row(), 0);
    update(&mut m, key('j'));
    assert_eq!(m.flags.sel.row(), 1);
    update(&mut m, code(KeyCode::PageDown));
    assert_eq!(m.flags.sel.row(), m.flags.visible.len() - 1);
    update(&mut m, code(KeyCode::Up));
    update(&mut m, code(KeyCode::Enter));
    assert!(matches!(m.dialog, Some(Dialog::Details { .. })));
    m.dialog = None;
    m.focus = Pane::Approvals;
    update(&mut m, code(KeyCode::Enter));
    match &m.dialog {
        Some(Dialog::Details(d)) => {
            let rows = crate::tui::details::content(&m, d).1;
            assert!(
                rows.iter()
                    .any(|r| format!("{r:?}").contains("evidence gap")),
                "{rows:?}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stream_changes_and_guardrails_patch_the_model() {
    let mut m = model();
    let mut g = reading(
        "eu-west",
        "p95_latency_ms",
        crate::domain::GuardrailStatus::Healthy,
        300.0,
    );
    g.history.push(300.0);
    update(
        &mut m,
        Event::Stream(StreamEvent::Guardrails(Clean::new(
            crate::wire::GuardrailUpdate {
                exposure: Vec::new(),
                at: t0(),
                readings: vec![g],
            },
        ))),
    );
    assert_eq!(
        m.worst_status(&"checkout-v2".into()),
        Some(crate::domain::GuardrailStatus::Healthy)
    );
    let frozen = Change {
        revision: Revision(44),
        at: t0(),
        flags: vec![],
        frozen: Some(["production".into()].into_iter().collect()),
        approvals: vec![],
        audit: vec![],
    };
    update(
        &mut m,
        Event::Stream(StreamEvent::Change(Box::new(Clean::new(frozen)))),
    );
    assert!(m.is_frozen());
    assert_eq!(m.data.revision, Revision(44));
    // Unfreeze is offered now.
    update(&mut m, key('F'));
    assert_eq!(
        confirm_of(&m).intent.action(),
        &Action::Unfreeze {
            env: "production".into()
        }
    );
}

#[test]
fn s_cycles_sort_and_worst_first_puts_the_breached_flag_on_top() {
    let mut m = model();
    let first = |m: &super::super::model::Model| {
        m.flags
            .visible
            .first()
            .map(|k| k.to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        m.flags.sort,
        super::super::model::SortBy::Attention,
        "attention first by default"
    );
    assert_eq!(
        first(&m),
        "checkout-v2",
        "the fixture's breached flag comes first"
    );
    update(&mut m, key('s'));
    assert_eq!(m.flags.sort, super::super::model::SortBy::Key);
    assert_eq!(first(&m), "assistant-pr-creation", "by key");
    update(&mut m, key('s'));
    assert_eq!(m.flags.sort, super::super::model::SortBy::Recent);
    update(&mut m, key('s'));
    assert_eq!(m.flags.sort, super::super::model::SortBy::Attention);
    assert_eq!(first(&m), "checkout-v2");
}

#[test]
fn worst_status_follows_environment_switches_and_guardrail_updates() {
    use crate::domain::GuardrailStatus;
    let mut m = model();
    let flag = crate::domain::FlagKey::from("checkout-v2");
    assert_eq!(m.worst_status(&flag), Some(GuardrailStatus::Breached));
    update(&mut m, key('e'));
    assert_ne!(m.env.as_str(), "production");
    assert_eq!(
        m.worst_status(&flag),
        None,
        "no guardrails for it in the other environment"
    );
    update(&mut m, key('e'));
    assert_eq!(m.env.as_str(), "production");
    assert_eq!(m.worst_status(&flag), Some(GuardrailStatus::Breached));
    // Every reading of the flag turns healthy: the index follows the update.
    let healed: Vec<_> = m
        .data
        .guardrails
        .iter()
        .filter(|r| r.flag == flag)
        .cloned()
        .map(|mut r| {
            r.status = GuardrailStatus::Healthy;
            r
        })
        .collect();
    update(
        &mut m,
        Event::Stream(StreamEvent::Guardrails(Clean::new(
            crate::wire::GuardrailUpdate {
                exposure: Vec::new(),
                at: t0(),
                readings: healed,
            },
        ))),
    );
    assert_eq!(m.worst_status(&flag), Some(GuardrailStatus::Healthy));
}

#[test]
fn update_is_deterministic_and_says_when_to_redraw() {
    use crossterm::event::{KeyEvent, KeyModifiers};
    let with_id = |c: KeyCode, id: &str| Event::Key {
        key: KeyEvent::new(c, KeyModifiers::NONE),
        new_idem_key: id.to_string(),
    };
    // The same events give the same effects: the idempotency key is the one the event brought.
    let run = || {
        let mut m = on_eu_west();
        update(&mut m, with_id(KeyCode::Char('r'), "id-1"));
        update(&mut m, with_id(KeyCode::Enter, "id-2")).effects
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert_eq!(submit(&a).1, "id-1", "the key the dialog opened with");
    let mut m = on_eu_west();
    assert!(update(&mut m, key('j')).redraw, "a key redraws");
    let now = m.now;
    assert!(
        !update(&mut m, Event::Tick(now)).redraw,
        "a tick that changes nothing on screen does not"
    );
    update(&mut m, key('r'));
    let step = update(
        &mut m,
        Event::Outcome {
            idem_key: "not-ours".into(),
            result: Err(ClientError::Api {
                status: 422,
                code: "invalid".into(),
                message: "no".into(),
                current_revision: None,
            }),
        },
    );
    assert_eq!(
        step,
        super::super::effect::Step::default(),
        "an answer for another dialog changes nothing"
    );
    assert_eq!(confirm_of(&m).phase, Phase::Editing);
    update(&mut m, code(KeyCode::Esc));
    assert_eq!(
        update(&mut m, key('q')).effects,
        vec![Effect::Quit],
        "quit is one effect, signalled once"
    );
}

#[test]
fn the_header_names_the_replica_the_stream_moved_to() {
    let mut m = model();
    let step = update(
        &mut m,
        Event::Stream(StreamEvent::Replica(
            "https://b.internal:7878\u{1b}[2J".into(),
        )),
    );
    assert!(step.redraw);
    let top = super::view::text(&super::view::render(&m, 200, 24));
    let header = top.lines().next().unwrap_or_default();
    assert!(header.contains("https://b.internal:7878"), "{header}");
    assert!(
        !header.contains('\u{1b}'),
        "the URL reaches the screen inert"
    );
}

#[test]
fn the_status_line_clears_when_a_newer_command_or_message_comes() {
    use super::view::{render, text};
    let mut m = model();
    m.set_status("refused: an old message", true);
    assert!(text(&render(&m, 120, 30)).contains("refused: an old message"));
    update(&mut m, key('j'));
    assert!(m.status.is_none(), "{:?}", m.status);
    assert!(!text(&render(&m, 120, 30)).contains("refused: an old message"));
    m.set_status("old", false);
    m.set_status("newer", true);
    assert_eq!(m.status.as_ref().map(|s| s.text.as_str()), Some("newer"));
    update(&mut m, code(KeyCode::Esc));
    assert!(m.status.is_none());
}
