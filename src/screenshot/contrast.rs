//! Owns the contrast check of the shipped themes: every meaning's foreground against its
//! background, on the canvas and inside a selected row, resolved with the reference palette the
//! screenshots use (reversed swapped, dim blended as the SVG draws it), as a WCAG contrast
//! ratio. Themes made of the user's own palette (`ansi16`, `mono`) are not judged here. Pure; it
//! must not draw or read files.

use super::{canvas, hex};
use crate::tui::theme::{MEANINGS, Theme};
use ratatui::style::{Modifier, Style};

/// The least contrast text must have (WCAG 2 AA, normal text).
pub const MIN_TEXT: f64 = 4.5;
/// The least contrast a non-text element (a pane border) must have (WCAG 2 AA, 1.4.11).
pub const MIN_NON_TEXT: f64 = 3.0;
/// The opacity the SVG gives dim text.
const DIM_OPACITY: f64 = 0.6;
/// Shipped themes drawn in the terminal's own 16-colour palette (or none): their contrast is
/// the user's palette's, not ours.
pub const USER_PALETTE: [&str; 2] = ["ansi16", "mono"];

/// One foreground/background pair a theme produces, with its contrast ratio.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// The meaning, `selected <meaning>` inside a selected row.
    pub what: String,
    pub fg: (u8, u8, u8),
    pub bg: (u8, u8, u8),
    pub ratio: f64,
    /// The minimum this pair must reach.
    pub min: f64,
}

/// Every pair `t` draws: each meaning on the canvas, and each meaning patched over the
/// selection (how a selected row's cells are drawn: the row takes `selection`, its text the
/// meaning's style on top).
pub fn pairs(t: &Theme) -> Vec<Pair> {
    let mut t2 = t.clone();
    let mut out = Vec::new();
    for m in MEANINGS {
        let Some(style) = t2.slot(m).map(|s| *s) else {
            continue;
        };
        let min = if m == "border" {
            MIN_NON_TEXT
        } else {
            MIN_TEXT
        };
        if m != "selection" {
            out.push(pair(m.to_string(), style, t.light, min));
        }
        if m != "border" {
            out.push(pair(
                format!("selected {m}"),
                t.selection.patch(style),
                t.light,
                min,
            ));
        }
    }
    out
}

/// The pairs of `t` below their minimum.
pub fn failures(t: &Theme) -> Vec<Pair> {
    pairs(t).into_iter().filter(|p| p.ratio < p.min).collect()
}

fn pair(what: String, s: Style, light: bool, min: f64) -> Pair {
    let (canvas_bg, canvas_fg) = canvas(light);
    let mut fg = rgb(&hex(s.fg.unwrap_or_default(), light, canvas_fg));
    let mut bg = rgb(&hex(s.bg.unwrap_or_default(), light, canvas_bg));
    if s.add_modifier.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
    }
    if s.add_modifier.contains(Modifier::DIM) {
        fg = blend(fg, bg, DIM_OPACITY);
    }
    Pair {
        what,
        fg,
        bg,
        ratio: ratio(fg, bg),
        min,
    }
}

/// `#rrggbb` as its three channels (black when malformed).
fn rgb(h: &str) -> (u8, u8, u8) {
    let h = h.trim_start_matches('#');
    let c = |i: usize| {
        h.get(i..i + 2)
            .and_then(|x| u8::from_str_radix(x, 16).ok())
            .unwrap_or(0)
    };
    (c(0), c(2), c(4))
}

/// `fg` drawn at `opacity` over `bg`.
fn blend(fg: (u8, u8, u8), bg: (u8, u8, u8), opacity: f64) -> (u8, u8, u8) {
    let mix =
        |a: u8, b: u8| (f64::from(a) * opacity + f64::from(b) * (1.0 - opacity)).round() as u8;
    (mix(fg.0, bg.0), mix(fg.1, bg.1), mix(fg.2, bg.2))
}

/// WCAG 2 relative luminance of an sRGB colour.
pub fn luminance(c: (u8, u8, u8)) -> f64 {
    let lin = |v: u8| {
        let s = f64::from(v) / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
}

/// WCAG 2 contrast ratio of two colours (1 to 21).
pub fn ratio(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::problem::Problems;
    use crate::config::theme::resolve;
    use ratatui::style::Color;

    #[test]
    fn ratio_matches_wcag_reference_values() {
        assert!((ratio((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 1e-9);
        assert!((ratio((1, 2, 3), (1, 2, 3)) - 1.0).abs() < 1e-9);
        // #777777 on white is the well-known 4.48:1, just under AA.
        let r = ratio((0x77, 0x77, 0x77), (255, 255, 255));
        assert!((r - 4.48).abs() < 0.01, "{r}");
    }

    #[test]
    fn the_check_catches_blue_on_blue() {
        let mut t = Theme::plain("probe");
        t.selection = Style::default().bg(Color::Blue);
        t.insufficient = Style::default().fg(Color::Blue);
        let bad = failures(&t);
        assert!(
            bad.iter().any(|p| p.what == "selected insufficient"),
            "{bad:?}"
        );
    }

    #[test]
    fn every_shipped_theme_keeps_its_text_readable() {
        let mut report = Vec::new();
        for (name, _) in crate::config::THEMES {
            if USER_PALETTE.contains(name) {
                continue;
            }
            let mut p = Problems::default();
            let t = resolve(None, name, "test", &mut p);
            assert!(!p.has_errors(), "{name}");
            for f in failures(&t) {
                report.push(format!(
                    "{name}: {} {:?} on {:?} is {:.2}:1 (needs {})",
                    f.what, f.fg, f.bg, f.ratio, f.min
                ));
            }
        }
        assert!(report.is_empty(), "{}", report.join("\n"));
    }

    #[test]
    fn dark_selected_insufficient_does_not_hang_on_the_users_blue() {
        // Named blue is #0000ee in xterm's palette: reversed on a dark canvas that was the
        // blue-on-blue of issue 17. The dark theme pins it to a fixed 256-colour shade.
        let mut p = Problems::default();
        let t = resolve(None, "dark", "test", &mut p);
        let named = |c: Option<Color>| matches!(c, Some(c) if crate::tui::theme::COLOR_NAMES.iter().any(|(n, x)| *x == c && *n != "reset"));
        assert!(!named(t.insufficient.fg), "{:?}", t.insufficient);
        let sel = pairs(&t)
            .into_iter()
            .find(|p| p.what == "selected insufficient")
            .expect("pair");
        assert!(sel.ratio >= MIN_TEXT, "{sel:?}");
    }
}
