//! Owns what the terminal can show, from the environment only: colour depth (TERM, COLORTERM),
//! NO_COLOR, and whether the locale is UTF-8 (LC_ALL, LC_CTYPE, LANG). It must not query the
//! terminal or read files.

pub use crate::tui::color_filter::ColorMode;

/// `NO_COLOR` set to any non-empty value (no-color.org).
pub fn no_color(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// A terminal limited to 16 colours: `TERM` empty or `dumb`, or a classic name (`xterm`,
/// `screen`, `tmux`, `linux`, `vt100`, …) without `256color`/`truecolor`/`direct`, and no
/// `COLORTERM` announcing more.
pub fn sixteen_colors(env: &dyn Fn(&str) -> Option<String>) -> bool {
    if env("COLORTERM").is_some_and(|v| v == "truecolor" || v == "24bit") {
        return false;
    }
    let term = env("TERM").unwrap_or_default().to_ascii_lowercase();
    if term.is_empty() || term == "dumb" {
        return true;
    }
    let rich = [
        "256color",
        "truecolor",
        "direct",
        "kitty",
        "alacritty",
        "wezterm",
        "foot",
        "ghostty",
        "iterm",
        "contour",
    ];
    !rich.iter().any(|r| term.contains(r))
}

/// Whether the locale is UTF-8. The first non-empty of LC_ALL, LC_CTYPE, LANG decides; with
/// none set the locale is unknown and Unicode is kept (minimal environments rarely mean a
/// non-UTF-8 terminal; `--ascii` is there when they do).
pub fn utf8_locale(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let v = ["LC_ALL", "LC_CTYPE", "LANG"]
        .into_iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()));
    match v {
        None => true,
        Some(v) => {
            let l = v.to_ascii_lowercase();
            l.contains("utf-8") || l.contains("utf8")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn detects_colour_depth_no_color_and_locale() {
        assert!(sixteen_colors(&with(&[("TERM", "xterm")])));
        assert!(sixteen_colors(&with(&[("TERM", "screen")])));
        assert!(sixteen_colors(&with(&[("TERM", "dumb")])));
        assert!(!sixteen_colors(&with(&[("TERM", "xterm-256color")])));
        assert!(!sixteen_colors(&with(&[
            ("TERM", "screen"),
            ("COLORTERM", "truecolor")
        ])));
        assert!(no_color(&with(&[("NO_COLOR", "1")])));
        assert!(!no_color(&with(&[("NO_COLOR", "")])));
        assert!(utf8_locale(&with(&[("LANG", "en_US.UTF-8")])));
        assert!(!utf8_locale(&with(&[
            ("LC_ALL", "C"),
            ("LANG", "en_US.UTF-8")
        ])));
        assert!(!utf8_locale(&with(&[("LANG", "de_DE.ISO-8859-1")])));
        assert!(utf8_locale(&with(&[])));
    }
}
