//! Owns the `Event`s that enter the update loop and the `Effect`s it asks for. Plain data:
//! it must not execute anything (the app loop does, via tokio::spawn).

use crate::client::ClientError;
use crate::client::stream::StreamEvent;
use crate::domain::ApprovalId;
use crate::wire::{ActionRequest, Outcome, Snapshot};
use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    Snapshot(Result<Box<Snapshot>, ClientError>),
    Stream(StreamEvent),
    /// The answer to a Submit or Decide, matched by its idempotency key.
    Outcome { idem: String, result: Result<Box<Outcome>, ClientError> },
    /// The wall clock moved (the app sends one before each batch, every second while stale, and
    /// when a time shown on screen is due to change).
    Tick(DateTime<Utc>),
    /// Guardrail readings that waited for the loop (see `tui::readings`), and when the newest of
    /// them arrived.
    Readings(crate::wire::GuardrailUpdate, DateTime<Utc>),
    Resize { width: u16, height: u16 },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Submit { req: ActionRequest, idem_key: String },
    Decide { id: ApprovalId, approve: bool, reason: String, idem: String },
    FetchSnapshot,
    Quit,
}
