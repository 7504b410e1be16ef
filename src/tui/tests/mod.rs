//! Unit tests of the TUI, one file per topic, and their shared fixture. Tests only; no terminal,
//! no network.

pub(super) mod fixture;

mod confirm;
mod keymap;
mod screen;
mod update;
mod view;
