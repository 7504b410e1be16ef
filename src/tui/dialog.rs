//! Owns the dialog states (confirm, percent, filter, command line, details (`tui::details`), help, the cohort chooser of `r`). The confirm
//! dialog, used by every mutating command, has its own folder (`tui::confirm`). It must not do
//! I/O, draw, or send anything.

use super::confirm::Confirm;
use crate::domain::{Action, CohortName, EnvKey, FlagKey};
use tui_input::Input;

#[derive(Debug)]
pub enum Dialog {
    Help,
    /// Enter: the selected item in full, scrollable (`tui::details`).
    Details(super::details::Details),
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
