//! The operator TUI: an Elm-style loop (Event → update(&mut Model) → Step { effects, redraw }) with views
//! that only borrow. Owns everything under `src/tui`; must not speak HTTP except through
//! `crate::client`, and must not print to stdout/stderr while it owns the terminal.

pub mod color_filter;
mod commands;
pub mod confirm;
pub mod details;
pub mod dialog;
pub mod effect;
mod event_loop;
pub mod keymap;
pub mod keys;
pub mod layout;
pub mod model;
pub mod pane;
pub mod readings;
pub mod screen;
mod test_hooks;
#[cfg(test)]
mod tests;
pub mod text;
pub mod theme;
mod tty_watch;
pub mod update;
pub mod view;

pub use effect::{Effect, Event, Step};
pub use event_loop::run;
pub use model::Model;
pub use theme::Theme;
pub use update::update;

/// The header's source label when the control plane's simulator makes up the traffic:
/// `demo · simulated traffic` (the screen must not pass invented numbers off as an address).
pub fn simulated_label(scenario: &str) -> String {
    format!("{} · {SIMULATED}", text::fit(scenario, 20))
}

/// What the header says of a control plane whose simulator makes up the traffic.
pub const SIMULATED: &str = "simulated traffic";

/// Options the CLI passes to [`run`].
#[derive(Debug, Clone)]
pub struct TuiOptions {
    /// Shown in the header: the backend URL, or [`simulated_label`] on the embedded demo.
    pub backend_label: String,
    /// Environment to open on (default: the first protected one).
    pub initial_env: Option<String>,
    /// Styles by meaning, plus ASCII mode.
    pub theme: Theme,
    pub keymap: keymap::Keymap,
    /// How much colour reaches the terminal (NO_COLOR strips it all).
    pub color: color_filter::ColorMode,
    pub limits: Limits,
    /// Ring the terminal bell when a guardrail on screen newly breaches or a request this user
    /// may approve arrives.
    pub bell: bool,
    /// Shown in the status line at start (e.g. a keymap warning).
    pub notice: Option<String>,
    /// The first state, when the caller has it already (the embedded control plane); else it
    /// is fetched with `GET /v1/snapshot`.
    pub first_snapshot: Option<Box<crate::client::Clean<crate::wire::Snapshot>>>,
}

/// Redraw and coalescing limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At most this many redraws per second (bursts coalesce into one frame).
    pub max_fps: u32,
    /// At most this many events handled before one redraw.
    pub batch: usize,
    /// While stale, how often the age labels tick (ms).
    pub stale_tick_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_fps: 30,
            batch: 256,
            stale_tick_ms: 1000,
        }
    }
}
