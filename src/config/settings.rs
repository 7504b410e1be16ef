//! Owns `config.toml`: backend URL(s), token variable, default environment, theme, keymap, ASCII
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
    "lifecycle",
];
const REFRESH_KEYS: &[&str] = &["max_fps", "batch", "stale_tick_ms"];
const LIFECYCLE_KEYS: &[&str] = &["ready_after_days", "stale_after_days"];

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
    /// One control plane, or replicas of one in the order to try them.
    pub backend: Option<Vec<String>>,
    pub token_env: Option<String>,
    pub env: Option<String>,
    pub theme: Option<Named>,
    pub keymap: Option<Named>,
    pub ascii: Option<bool>,
    /// Ring the terminal bell on a new breach or a new request the user may approve (off by
    /// default).
    pub bell: Option<bool>,
    pub limits: Limits,
    /// `[lifecycle]`: the days that make a flag ready for cleanup or stale, for a control plane
    /// started with this config (None: the section is absent; a key it omits keeps its default).
    pub lifecycle: Option<crate::domain::LifecycleRules>,
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
    s.backend = backends(src, &top, p);
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
    if let Some(t) = doc::table(src, &top, "lifecycle", p) {
        doc::check_keys(src, t, LIFECYCLE_KEYS, "[lifecycle]", p);
        let d = crate::domain::LifecycleRules::default();
        let max = i64::from(crate::domain::lifecycle::MAX_RULE_DAYS);
        let days = |p: &mut Problems, k: &str, or: u32| {
            doc::integer(src, t, k, 0, max, p).map_or(or, |n| n as u32)
        };
        s.lifecycle = Some(crate::domain::LifecycleRules {
            ready_after_days: days(p, "ready_after_days", d.ready_after_days),
            stale_after_days: days(p, "stale_after_days", d.stale_after_days),
        });
    }
    s
}

/// `backend = "https://a"`, `backend = "https://a,https://b"` or `backend = ["https://a",
/// "https://b"]`: every entry an http(s) URL, at most `client::failover::MAX_BACKENDS`.
fn backends(src: &Source, top: &toml::de::DeTable<'_>, p: &mut Problems) -> Option<Vec<String>> {
    let v = doc::get(top, "backend")?;
    let mut found: Vec<(String, usize)> = Vec::new();
    if let Some(a) = v.get_ref().as_array() {
        for item in a.iter() {
            match item.get_ref().as_str() {
                Some(u) => found.push((u.trim().to_string(), item.span().start)),
                None => p.error(
                    src,
                    item.span().start,
                    format!(
                        "`backend` entries must be strings, found {}",
                        item.get_ref().type_str()
                    ),
                    None,
                ),
            }
        }
    } else {
        let (b, at) = doc::string(src, top, "backend", p)?;
        found.extend(b.split(',').map(|u| (u.trim().to_string(), at)));
    }
    let max = crate::client::failover::MAX_BACKENDS;
    if found.len() > max {
        p.error(
            src,
            v.span().start,
            format!("`backend` lists {} URLs; at most {max}", found.len()),
            None,
        );
        return None;
    }
    let mut ok = true;
    for (u, at) in &found {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            ok = false;
            p.error(
                src,
                *at,
                format!(
                    "`backend` must be an http:// or https:// URL, found `{}`",
                    u.escape_debug()
                ),
                None,
            );
        }
    }
    (ok && !found.is_empty()).then(|| found.into_iter().map(|(u, _)| u).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(text: &str) -> (Option<Vec<String>>, bool) {
        let mut p = Problems::default();
        let s = parse(&Source::new("config.toml", text), &mut p);
        (s.backend, p.has_errors())
    }

    #[test]
    fn lifecycle_rules_are_read_bounded_and_each_key_may_be_left_out() {
        let read = |text: &str| {
            let mut p = Problems::default();
            let s = parse(&Source::new("config.toml", text), &mut p);
            (s.lifecycle, p.has_errors())
        };
        let rules = |r, s| crate::domain::LifecycleRules {
            ready_after_days: r,
            stale_after_days: s,
        };
        assert_eq!(read("bell = true\n"), (None, false));
        assert_eq!(
            read("[lifecycle]\nready_after_days = 7\n"),
            (Some(rules(7, 30)), false)
        );
        assert_eq!(
            read("[lifecycle]\nready_after_days = 7\nstale_after_days = 3650\n"),
            (Some(rules(7, 3650)), false)
        );
        assert!(read("[lifecycle]\nstale_after_days = 3651\n").1);
        assert!(read("[lifecycle]\nready_after_days = -1\n").1);
        assert!(read("[lifecycle]\nready_days = 3\n").1, "an unknown key");
    }

    #[test]
    fn backend_is_one_url_a_comma_separated_list_or_an_array() {
        let two = Some(vec!["https://a:1".to_string(), "https://b:2".to_string()]);
        assert_eq!(
            backend("backend = \"https://a:1\"\n"),
            (Some(vec!["https://a:1".to_string()]), false)
        );
        assert_eq!(
            backend("backend = \"https://a:1, https://b:2\"\n"),
            (two.clone(), false)
        );
        assert_eq!(
            backend("backend = [\"https://a:1\", \"https://b:2\"]\n"),
            (two, false)
        );
        assert_eq!(
            backend("backend = [\"https://a:1\", \"b:2\"]\n"),
            (None, true)
        );
        assert_eq!(backend("backend = []\n"), (None, false));
        let many: Vec<String> = (0..=crate::client::failover::MAX_BACKENDS)
            .map(|i| format!("\"http://h{i}\""))
            .collect();
        assert_eq!(
            backend(&format!("backend = [{}]\n", many.join(","))),
            (None, true),
            "bounded"
        );
    }
}
