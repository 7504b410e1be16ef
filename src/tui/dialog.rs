//! Owns the dialog states (confirm, percent, filter, command line, details, help). The confirm
//! dialog, used by every mutating command, has its own folder (`tui::confirm`). It must not do
//! I/O, draw, or send anything.

use super::confirm::Confirm;
use crate::domain::Action;
use tui_input::Input;

#[derive(Debug)]
pub enum Dialog {
    Help,
    Details { title: String, lines: Vec<String> },
    Filter(Input),
    Command(Input),
    Percent { input: Input, action_base: Action, current: u8 },
    Confirm(Box<Confirm>),
}
