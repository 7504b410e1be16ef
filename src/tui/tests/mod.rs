//! Unit tests of the TUI, one file per topic, and their shared fixture. Tests only; no terminal,
//! no network.

pub(super) mod fixture;

mod approvals;
mod command_keys;
mod confirm;
mod details;
mod exposure;
mod incident;
mod incident_dialogs;
mod incident_view;
mod keymap;
mod layout;
mod lifecycle;
mod reach;
mod screen;
mod update;
pub(super) mod view;
mod webhooks;
