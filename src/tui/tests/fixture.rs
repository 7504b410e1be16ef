//! Test fixture: the deterministic demo state of `screenshot::fixture` (breached eu-west
//! guardrail, the ops-assistant proposal, one audit entry) plus key and dialog helpers. Tests only.

use super::super::effect::Event;
use super::super::model::Model;
use super::super::update::update;
use crate::wire::Snapshot;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use crate::screenshot::fixture::{FLAG_REV, STATE_REV, reading, select_flag, t0};

pub fn snapshot() -> Snapshot {
    crate::screenshot::fixture::snapshot("demo").unwrap()
}

/// A key event as the loop sends it, with a fresh idempotency key (`key-1`, `key-2`, …: distinct
/// and deterministic within a test thread).
pub fn press(k: KeyEvent) -> Event {
    thread_local!(static N: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    let n = N.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    Event::Key {
        key: k,
        new_idem_key: format!("key-{n}"),
    }
}

pub fn key(c: char) -> Event {
    press(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(c: KeyCode) -> Event {
    press(KeyEvent::new(c, KeyModifiers::NONE))
}

pub fn type_str(m: &mut Model, s: &str) {
    for c in s.chars() {
        update(m, key(c));
    }
}

/// Selects the row `i` of the flags list (as `j`/`k` would).
pub fn flag_row(m: &mut Model, i: usize) {
    m.flags.sel.select_row(i, &m.flags.visible);
    m.ladder.sel.reset();
    m.guardrails.sel.reset();
    m.follow();
}

/// A live model on the demo snapshot.
pub fn model() -> Model {
    crate::screenshot::fixture::model("demo").unwrap()
}

/// Live model with checkout-v2 selected and the eu-west cohort under the Ladder cursor.
pub fn on_eu_west() -> Model {
    crate::screenshot::fixture::on_eu_west("demo").unwrap()
}

/// The open confirm dialog (the test fails when there is none).
pub fn confirm_of(m: &Model) -> &super::super::confirm::Confirm {
    match &m.dialog {
        Some(super::super::dialog::Dialog::Confirm(c)) => c,
        other => panic!("expected a confirm dialog, got {other:?}"),
    }
}

/// The one Submit among `fx` (the test fails otherwise).
pub fn submit(fx: &[super::super::effect::Effect]) -> (&crate::wire::ActionRequest, &str) {
    match fx {
        [super::super::effect::Effect::Submit { req, idem_key }] => (req, idem_key.as_str()),
        other => panic!("expected one Submit, got {other:?}"),
    }
}

/// Empties the confirm dialog's reason.
pub fn clear_reason(m: &mut Model) {
    for _ in 0..80 {
        update(m, code(KeyCode::Backspace));
    }
}
