//! Owns the dialog states (confirm, percent, filter, command line, details (`tui::details`), help, the cohort chooser of `r`). The confirm
//! dialog, used by every mutating command, has its own folder (`tui::confirm`). It must not do
//! I/O, draw, or send anything.

use super::confirm::Confirm;
use crate::domain::guardrail::SeriesKey;
use crate::domain::{Action, AuditId, CohortName, EnvKey, FlagKey};
use tui_input::Input;

#[derive(Debug)]
pub enum Dialog {
    Help,
    /// Enter: the selected item in full, scrollable (`tui::details`).
    Details(Details),
    Filter(Input),
    Command(Input),
    Percent {
        input: Input,
        action_base: Action,
        current: u8,
    },
    Confirm(Box<Confirm>),
    /// `r` without one clear target: the cohorts to choose from.
    Choose(Choose),
}

/// The cohort chooser of `r`: several breached cohorts, or none (then every cohort).
#[derive(Debug, Clone, PartialEq)]
pub struct Choose {
    pub title: String,
    pub flag: FlagKey,
    pub env: EnvKey,
    pub options: Vec<CohortName>,
    /// The highlighted option.
    pub row: usize,
}

/// What the details overlay shows (its content is built by `tui::details`).
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Flag(FlagKey),
    Audit(AuditId),
    /// One guardrail series (the Guardrails pane's selected row).
    Reading(SeriesKey),
    /// The Cleanup view: flags ready for cleanup or stale (Enter selects the top row's flag).
    Cleanup,
    /// The selected flag's release record of the last hour (`:timeline`).
    Timeline(FlagKey),
    /// Fixed lines (a guardrail reading, an approval request).
    Text {
        title: String,
        lines: Vec<String>,
    },
}

/// The overlay's state: its item and the first row on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    pub target: Target,
    pub scroll: usize,
}
