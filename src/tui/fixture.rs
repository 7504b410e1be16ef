//! Test fixture: the deterministic demo state of `demo` (breached eu-west guardrail, the
//! ops-assistant proposal, one audit entry) plus key helpers. Tests only.

use super::effect::Event;
use super::model::Model;
use super::update::update;
use crate::wire::Snapshot;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use super::demo::{FLAG_REV, STATE_REV, reading, select_flag, t0};

pub fn snapshot() -> Snapshot {
    super::demo::snapshot("demo").unwrap()
}

pub fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(c: KeyCode) -> Event {
    Event::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub fn type_str(m: &mut Model, s: &str) {
    for c in s.chars() {
        update(m, key(c));
    }
}

/// A live model on the demo snapshot.
pub fn model() -> Model {
    super::demo::model("demo").unwrap()
}

/// Live model with checkout-v2 selected and the eu-west cohort under the Ladder cursor.
pub fn on_eu_west() -> Model {
    super::demo::on_eu_west("demo").unwrap()
}
