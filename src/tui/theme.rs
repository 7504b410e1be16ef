//! Owns the TUI's meaning-named styles (`Theme`), the glyph set (Unicode or ASCII) and the
//! meaning names theme files use. It must not know about panes or layout, and views must take
//! every colour from here, never hard-code one. Theme files are read by `crate::config::theme`.

use ratatui::style::{Color, Modifier, Style};

/// Styles by meaning, loaded from `themes/*.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    /// The terminal background the theme is made for (screenshots use it as the canvas).
    pub light: bool,
    /// Draw with ASCII only (no box-drawing, block, braille or symbol glyphs).
    pub ascii: bool,
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
    pub border: Style,
}

/// Every meaning a theme file may set, in the order they are documented.
pub const MEANINGS: [&str; 19] = [
    "base",
    "title",
    "title_focused",
    "muted",
    "selection",
    "healthy",
    "warning",
    "breached",
    "insufficient",
    "stale",
    "danger",
    "flag_on",
    "flag_off",
    "gauge",
    "sparkline",
    "key_hint",
    "status_ok",
    "status_err",
    "border",
];

impl Theme {
    /// A theme with no styles at all (the root every theme file builds on).
    pub fn plain(name: &str) -> Theme {
        let s = Style::default();
        Theme {
            name: name.into(),
            light: false,
            ascii: false,
            base: s,
            title: s,
            title_focused: s,
            muted: s,
            selection: s.add_modifier(Modifier::REVERSED),
            healthy: s,
            warning: s,
            breached: s,
            insufficient: s,
            stale: s,
            danger: s,
            flag_on: s,
            flag_off: s,
            gauge: s,
            sparkline: s,
            key_hint: s,
            status_ok: s,
            status_err: s,
            border: s,
        }
    }

    /// The style slot for a meaning name.
    pub fn slot(&mut self, meaning: &str) -> Option<&mut Style> {
        Some(match meaning {
            "base" => &mut self.base,
            "title" => &mut self.title,
            "title_focused" => &mut self.title_focused,
            "muted" => &mut self.muted,
            "selection" => &mut self.selection,
            "healthy" => &mut self.healthy,
            "warning" => &mut self.warning,
            "breached" => &mut self.breached,
            "insufficient" => &mut self.insufficient,
            "stale" => &mut self.stale,
            "danger" => &mut self.danger,
            "flag_on" => &mut self.flag_on,
            "flag_off" => &mut self.flag_off,
            "gauge" => &mut self.gauge,
            "sparkline" => &mut self.sparkline,
            "key_hint" => &mut self.key_hint,
            "status_ok" => &mut self.status_ok,
            "status_err" => &mut self.status_err,
            "border" => &mut self.border,
            _ => return None,
        })
    }

    /// Every style of the theme (for checks such as "ansi16 uses only the 16 colours").
    pub fn styles(&self) -> Vec<Style> {
        let mut t = self.clone();
        MEANINGS
            .iter()
            .filter_map(|m| t.slot(m).map(|s| *s))
            .collect()
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

/// Colour names theme files accept (ratatui's 16 plus `reset`).
pub const COLOR_NAMES: [(&str, Color); 17] = [
    ("reset", Color::Reset),
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    ("gray", Color::Gray),
    ("dark_gray", Color::DarkGray),
    ("light_red", Color::LightRed),
    ("light_green", Color::LightGreen),
    ("light_yellow", Color::LightYellow),
    ("light_blue", Color::LightBlue),
    ("light_magenta", Color::LightMagenta),
    ("light_cyan", Color::LightCyan),
    ("white", Color::White),
];

pub const MODIFIER_NAMES: [(&str, Modifier); 6] = [
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("reversed", Modifier::REVERSED),
    ("crossed_out", Modifier::CROSSED_OUT),
];
