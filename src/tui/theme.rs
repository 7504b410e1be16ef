//! Owns the TUI's meaning-named styles (`Theme`) and the built-in dark default; it must not
//! know about panes or layout, and views must take every colour from here, never hard-code one.

use ratatui::style::{Color, Modifier, Style};

/// Styles by meaning. A later issue loads these from theme files.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub base: Style,
    pub title: Style,
    pub title_focused: Style,
    pub muted: Style,
    pub selection: Style,
    pub healthy: Style,
    pub warning: Style,
    pub breached: Style,
    pub insufficient: Style,
    pub stale: Style,
    pub danger: Style,
    pub flag_on: Style,
    pub flag_off: Style,
    pub gauge: Style,
    pub sparkline: Style,
    pub key_hint: Style,
    pub status_ok: Style,
    pub status_err: Style,
}

impl Theme {
    pub fn dark() -> Theme {
        Theme {
            base: Style::default(),
            title: Style::default().add_modifier(Modifier::BOLD),
            title_focused: Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            muted: Style::default().fg(Color::DarkGray),
            selection: Style::default().add_modifier(Modifier::REVERSED),
            healthy: Style::default().fg(Color::Green),
            warning: Style::default().fg(Color::Yellow),
            breached: Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            insufficient: Style::default().fg(Color::Blue),
            stale: Style::default().fg(Color::DarkGray).add_modifier(Modifier::DIM),
            danger: Style::default().fg(Color::LightRed).add_modifier(Modifier::BOLD),
            flag_on: Style::default().fg(Color::Green),
            flag_off: Style::default().fg(Color::DarkGray),
            gauge: Style::default().fg(Color::Cyan),
            sparkline: Style::default().fg(Color::Magenta),
            key_hint: Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            status_ok: Style::default().fg(Color::Green),
            status_err: Style::default().fg(Color::LightRed),
        }
    }

    /// The style for a guardrail status.
    pub fn status(&self, s: crate::domain::GuardrailStatus) -> Style {
        use crate::domain::GuardrailStatus as G;
        match s {
            G::Healthy => self.healthy,
            G::Warning => self.warning,
            G::Breached => self.breached,
            G::Insufficient => self.insufficient,
        }
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}
