//! The operator TUI: an Elm-style loop (Event → update(&mut Model) → Step { effects, redraw }) with views
//! that only borrow. Owns everything under `src/tui`; must not speak HTTP except through
//! `crate::client`, and must not print to stdout/stderr while it owns the terminal.

mod commands;
pub mod confirm;
mod app;
pub mod dialog;
pub mod effect;
pub mod keymap;
pub mod terminal;
pub mod keys;
pub mod model;
pub mod readings;
pub mod screen;
pub mod text;
pub mod theme;
pub mod update;
pub mod view;
mod test_hooks;

pub mod demo;
#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests_keymap;
#[cfg(test)]
mod tests_screen;
#[cfg(test)]
mod tests_update;
#[cfg(test)]
mod tests_view;

pub use app::run;
pub use effect::{Effect, Event, Step};
pub use model::Model;
pub use theme::Theme;
pub use update::update;

/// Options the CLI passes to [`run`].
#[derive(Debug, Clone, Default)]
pub struct TuiOptions {
    /// Shown in the header, e.g. `embedded (demo)` or the backend URL.
    pub backend_label: String,
    /// Environment to open on (default: the first protected one).
    pub initial_env: Option<String>,
    /// Styles by meaning, plus ASCII mode.
    pub theme: Theme,
    pub keymap: keymap::Keymap,
    /// How much colour reaches the terminal (NO_COLOR strips it all).
    pub color: crate::config::ColorMode,
    pub limits: crate::config::settings::Limits,
    /// Shown in the status line at start (e.g. a keymap warning).
    pub notice: Option<String>,
    /// The first state, when the caller has it already (the embedded control plane); else it
    /// is fetched with `GET /v1/snapshot`.
    pub first_snapshot: Option<Box<crate::wire::Snapshot>>,
}
