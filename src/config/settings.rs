//! Owns `config.toml`: backend URL, token variable, default environment, theme, keymap, ASCII
//! mode, the incident bell and refresh limits, read strictly with positions. It must not apply precedence (that is
//! `crate::config`) or touch the terminal.

use super::doc;
use super::problem::{Problems, Source};

const KEYS: &[&str] = &[
    "backend",
    "token_env",
    "env",
    "theme",
    "keymap",
    "ascii",
    "bell",
    "refresh",
];
const REFRESH_KEYS: &[&str] = &["max_fps", "batch", "stale_tick_ms"];

pub use crate::tui::Limits;

/// A name and where it was written (byte offset in `config.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub at: usize,
}

/// What `config.toml` says; `None` where it says nothing.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub source: Option<Source>,
    pub backend: Option<String>,
    pub token_env: Option<String>,
    pub env: Option<String>,
    pub theme: Option<Named>,
    pub keymap: Option<Named>,
    pub ascii: Option<bool>,
    /// Ring the terminal bell when a guardrail newly breaches (off by default).
    pub bell: Option<bool>,
    pub limits: Limits,
}

/// Reads `config.toml` text, reporting every problem.
pub fn parse(src: &Source, p: &mut Problems) -> Settings {
    let mut s = Settings {
        source: Some(src.clone()),
        ..Settings::default()
    };
    let Some(top) = doc::parse(src, p) else {
        return s;
    };
    doc::check_keys(src, &top, KEYS, "config.toml", p);
    let text =
        |p: &mut Problems, k: &str| doc::string(src, &top, k, p).map(|(v, at)| (v.to_string(), at));
    s.backend = text(p, "backend").map(|v| v.0);
    if let Some((b, at)) = text(p, "backend")
        && !(b.starts_with("http://") || b.starts_with("https://"))
    {
        p.error(
            src,
            at,
            format!(
                "`backend` must be an http:// or https:// URL, found `{}`",
                b.escape_debug()
            ),
            None,
        );
    }
    s.token_env = text(p, "token_env").map(|v| v.0);
    if let Some((v, at)) = text(p, "token_env")
        && (v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        p.error(
            src,
            at,
            "`token_env` must name an environment variable (letters, digits, _)",
            Some("the token itself never goes in a file or on the command line".into()),
        );
    }
    s.env = text(p, "env").map(|v| v.0);
    s.theme = text(p, "theme").map(|(name, at)| Named { name, at });
    s.keymap = text(p, "keymap").map(|(name, at)| Named { name, at });
    s.ascii = doc::boolean(src, &top, "ascii", p);
    s.bell = doc::boolean(src, &top, "bell", p);
    if let Some(r) = doc::table(src, &top, "refresh", p) {
        doc::check_keys(src, r, REFRESH_KEYS, "[refresh]", p);
        let d = Limits::default();
        s.limits = Limits {
            max_fps: doc::integer(src, r, "max_fps", 1, 240, p).map_or(d.max_fps, |n| n as u32),
            batch: doc::integer(src, r, "batch", 1, 100_000, p).map_or(d.batch, |n| n as usize),
            stale_tick_ms: doc::integer(src, r, "stale_tick_ms", 100, 60_000, p)
                .map_or(d.stale_tick_ms, |n| n as u64),
        };
    }
    s
}
