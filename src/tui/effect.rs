//! Owns the `Event`s that enter the update loop, the `Effect`s it asks for, and `Step`, what one
//! update hands back to the loop. Plain data: it must not execute anything (the app loop does,
//! via tokio::spawn).

use crate::client::stream::StreamEvent;
use crate::client::{Clean, ClientError};
use crate::domain::ApprovalId;
use crate::wire::{ActionRequest, Outcome, Snapshot};
use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

#[derive(Debug)]
pub enum Event {
    /// A key, with a fresh idempotency key from the loop: a confirm dialog that opens or sends a
    /// new decision on this key uses it, so `update` itself never draws a random number.
    Key {
        key: KeyEvent,
        new_idem_key: String,
    },
    Snapshot(Result<Box<Clean<Snapshot>>, ClientError>),
    Stream(StreamEvent),
    /// The answer to a Submit or Decide, matched by its idempotency key.
    Outcome {
        idem_key: String,
        result: Result<Box<Clean<Outcome>>, ClientError>,
    },
    /// The wall clock moved (the app sends one before each batch, every second while stale, and
    /// when a time shown on screen is due to change).
    Tick(DateTime<Utc>),
    /// Guardrail readings that waited for the loop (see `tui::readings`), and when the newest of
    /// them arrived.
    Readings(Clean<crate::wire::GuardrailUpdate>, DateTime<Utc>),
    Resize {
        width: u16,
        height: u16,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Submit {
        req: ActionRequest,
        idem_key: String,
    },
    Decide {
        id: ApprovalId,
        approve: bool,
        reason: String,
        idem_key: String,
    },
    FetchSnapshot,
    /// Ring the terminal bell (a guardrail newly breached, or a request this user may approve
    /// arrived, and the `bell` option is on).
    Bell,
    /// The one way to end the TUI.
    Quit,
}

/// What one `update` hands back: the effects to run, and whether the screen shows something
/// new (the loop owns redraws and their pacing).
#[derive(Debug, Default, PartialEq)]
pub struct Step {
    pub effects: Vec<Effect>,
    pub redraw: bool,
}

impl Step {
    /// Nothing to run; redraw when `redraw`.
    pub fn redraw(redraw: bool) -> Step {
        Step {
            effects: Vec::new(),
            redraw,
        }
    }

    /// `effects` to run, and a redraw.
    pub fn run(effects: Vec<Effect>) -> Step {
        Step {
            effects,
            redraw: true,
        }
    }
}
