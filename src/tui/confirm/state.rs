//! Owns the confirm dialog's state: what it will send (an action, or a decision on a request),
//! the preview of the exact change, the reason and typed confirmation being edited, and where
//! the exchange with the control plane stands. Plain data; it must not do I/O or draw.

use super::preview::Preview;
use crate::domain::{Action, ApprovalId, Revision};
use tui_input::Input;

/// What a confirm dialog will send.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Act(Action),
    Decide {
        id: ApprovalId,
        approve: bool,
        action: Action,
    },
}

impl Intent {
    pub fn action(&self) -> &Action {
        match self {
            Intent::Act(a) | Intent::Decide { action: a, .. } => a,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Editing,
    /// Sent with the dialog's key; waiting for the outcome.
    Sending,
    /// The server said the target changed; the preview shows the new state. Re-confirming
    /// uses a new key and the new revision.
    Conflict(String),
    /// Failed. `retry_same_key`: the request may have arrived (timeout, lost link), so a retry
    /// reuses the key and the server answers with the first outcome instead of applying twice.
    Failed {
        msg: String,
        retry_same_key: bool,
    },
}

#[derive(Debug)]
pub struct Confirm {
    pub intent: Intent,
    pub preview: Preview,
    /// The revision of the target the operator decided on.
    pub expected_revision: Option<Revision>,
    /// Generated when the dialog opened; reused by retries.
    pub idem_key: String,
    pub reason: Input,
    /// The reason is still the prefilled one, shown selected: the first key typed replaces it
    /// (Backspace clears it, a cursor key keeps it for editing).
    pub reason_selected: bool,
    /// Typed confirmation: the text to type (the flag key for `K`) and what was typed.
    pub typed: Option<(String, Input)>,
    /// Whether keys go to the typed-confirmation field rather than the reason.
    pub typing_focus: bool,
    pub phase: Phase,
}

impl Confirm {
    pub fn typed_ok(&self) -> bool {
        self.typed
            .as_ref()
            .is_none_or(|(want, got)| got.value() == want)
    }
}
