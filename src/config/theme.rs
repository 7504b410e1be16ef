//! Owns reading theme files (`themes/*.toml`): meanings as `{ fg, bg, modifiers }`, colours by
//! name, `#rrggbb` or 0–255, `extends` inheritance with cycle and unknown-parent checks. It
//! must not draw or pick a theme for a terminal (that is `crate::config`).

use super::doc;
use super::problem::{Problem, Problems, Severity, Source, choices_hint};
use super::{Kind, find};
use crate::tui::theme::{COLOR_NAMES, MEANINGS, MODIFIER_NAMES, Theme};
use ratatui::style::{Color, Style};
use std::path::Path;
use toml::de::DeTable;

const STYLE_KEYS: &[&str] = &["fg", "bg", "modifiers"];

/// A shipped theme by name (tests keep every shipped theme free of problems).
pub fn builtin(name: &str) -> Theme {
    let mut p = Problems::default();
    let t = resolve(None, name, "theme", &mut p);
    if p.has_errors() {
        Theme::plain(name)
    } else {
        t
    }
}

/// The theme `name` (user `themes/NAME.toml` first, then shipped), parents applied first.
/// `origin` names where `name` came from (e.g. `--theme`) for an unknown-name problem.
pub fn resolve(dir: Option<&Path>, name: &str, origin: &str, p: &mut Problems) -> Theme {
    let mut t = Theme::plain(name);
    apply_named(dir, name, &mut t, &mut Vec::new(), Err(origin), p);
    t.name = name.to_string();
    t
}

fn apply_named(
    dir: Option<&Path>,
    name: &str,
    t: &mut Theme,
    chain: &mut Vec<String>,
    from: Result<(&Source, usize), &str>,
    p: &mut Problems,
) {
    let report = |p: &mut Problems, msg: String, hint: Option<String>| match from {
        Ok((src, at)) => p.error(src, at, msg, hint),
        Err(label) => p.push(Problem {
            file: label.into(),
            line: 1,
            col: 1,
            severity: Severity::Error,
            msg,
            hint,
        }),
    };
    if chain.iter().any(|c| c == name) {
        return report(
            p,
            format!("theme extends cycle: {} → {name}", chain.join(" → ")),
            Some("remove one `extends`".into()),
        );
    }
    let Some(src) = find(dir, Kind::Themes, name, p) else {
        let names = super::names(dir, Kind::Themes);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        return report(
            p,
            format!("unknown theme `{}`", name.escape_debug()),
            Some(choices_hint(name, &refs)),
        );
    };
    chain.push(name.to_string());
    apply_source(dir, &src, t, chain, p);
    chain.pop();
}

fn apply_source(
    dir: Option<&Path>,
    src: &Source,
    t: &mut Theme,
    chain: &mut Vec<String>,
    p: &mut Problems,
) {
    let Some(top) = doc::parse(src, p) else {
        return;
    };
    let mut allowed: Vec<&str> = vec!["extends", "description", "background"];
    allowed.extend(MEANINGS);
    doc::check_keys(src, &top, &allowed, "a theme file", p);
    if let Some((parent, at)) = doc::string(src, &top, "extends", p) {
        apply_named(dir, parent, t, chain, Ok((src, at)), p);
    }
    let _ = doc::string(src, &top, "description", p);
    if let Some((bg, at)) = doc::string(src, &top, "background", p) {
        match bg {
            "dark" => t.light = false,
            "light" => t.light = true,
            other => p.error(
                src,
                at,
                format!("unknown background `{}`", other.escape_debug()),
                Some("valid: dark, light".into()),
            ),
        }
    }
    for m in MEANINGS {
        let Some(st) = doc::table(src, &top, m, p) else {
            continue;
        };
        if let (Some(style), Some(slot)) = (style(src, st, p), t.slot(m)) {
            *slot = style;
        }
    }
}

fn style(src: &Source, st: &DeTable<'_>, p: &mut Problems) -> Option<Style> {
    doc::check_keys(src, st, STYLE_KEYS, "a style (fg, bg, modifiers)", p);
    let mut s = Style::default();
    let mut ok = true;
    for (key, is_fg) in [("fg", true), ("bg", false)] {
        let Some(v) = doc::get(st, key) else { continue };
        match color(v.get_ref()) {
            Ok(c) => s = if is_fg { s.fg(c) } else { s.bg(c) },
            Err((msg, hint)) => {
                p.error(src, v.span().start, msg, hint);
                ok = false;
            }
        }
    }
    if let Some(list) = doc::array(src, st, "modifiers", p) {
        let names: Vec<&str> = MODIFIER_NAMES.iter().map(|m| m.0).collect();
        for v in list {
            match v
                .get_ref()
                .as_str()
                .and_then(|n| MODIFIER_NAMES.iter().find(|m| m.0 == n))
            {
                Some((_, m)) => s = s.add_modifier(*m),
                None => {
                    let got = v.get_ref().as_str().unwrap_or("");
                    p.error(
                        src,
                        v.span().start,
                        format!("unknown modifier `{}`", got.escape_debug()),
                        Some(choices_hint(got, &names)),
                    );
                    ok = false;
                }
            }
        }
    }
    ok.then_some(s)
}

fn color(v: &toml::de::DeValue<'_>) -> Result<Color, (String, Option<String>)> {
    let names: Vec<&str> = COLOR_NAMES.iter().map(|c| c.0).collect();
    if let Some(i) = v.as_integer() {
        return match u8::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Ok(Color::Indexed(n)),
            Err(_) => Err((format!("colour index {} is not 0–255", i.as_str()), None)),
        };
    }
    let Some(s) = v.as_str() else {
        return Err((
            format!(
                "a colour must be a name, \"#rrggbb\" or 0–255, found {}",
                v.type_str()
            ),
            None,
        ));
    };
    if let Some(hex) = s.strip_prefix('#') {
        let ok = hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit());
        return match (ok, u32::from_str_radix(hex, 16)) {
            (true, Ok(n)) => Ok(Color::Rgb((n >> 16) as u8, (n >> 8) as u8, n as u8)),
            _ => Err((
                format!("bad hex colour `{}`", s.escape_debug()),
                Some("write six hex digits: \"#1e90ff\"".into()),
            )),
        };
    }
    COLOR_NAMES
        .iter()
        .find(|c| c.0 == s)
        .map(|c| c.1)
        .ok_or_else(|| {
            (
                format!("unknown colour `{}`", s.escape_debug()),
                Some(format!(
                    "{}; or \"#rrggbb\", or 0–255",
                    choices_hint(s, &names)
                )),
            )
        })
}
