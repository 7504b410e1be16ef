//! Owns `flagtop screenshot`: the live demo at a fixed clock (`screenshot::live`: the real
//! control plane, simulator and engine, ticked by a hand-moved clock) drawn by the real views into
//! ratatui's TestBackend, then written as SVG (monospace text, per-cell colours, XML-escaped).
//! Also the README gallery. `screenshot::fixture` is the hand-made state unit tests use; the
//! gallery does not. It must not touch a terminal or the network.

pub mod contrast;
pub mod fixture;
pub mod live;

use crate::config::problem::Problems;
use crate::config::theme;
use crate::tui::model::{Model, Pane};
use crate::tui::theme::Theme;
use crate::tui::view;
use color_eyre::eyre::{Result, eyre};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use std::fmt::Write as _;

/// One README screenshot.
#[derive(Debug, Clone, Copy)]
pub struct Shot {
    pub file: &'static str,
    pub theme: &'static str,
    pub state: &'static str,
    pub width: u16,
    pub height: u16,
    pub ascii: bool,
}

/// The README gallery (`./scripts/screenshots` writes it; `tests/screenshots.rs` checks it).
pub const GALLERY: &[Shot] = &[
    Shot {
        file: "dashboard-dark.svg",
        theme: "dark",
        state: "dashboard",
        width: 160,
        height: 48,
        ascii: false,
    },
    Shot {
        file: "dashboard-light.svg",
        theme: "light",
        state: "dashboard",
        width: 160,
        height: 48,
        ascii: false,
    },
    Shot {
        file: "incident.svg",
        theme: "dark",
        state: "incident",
        width: 160,
        height: 48,
        ascii: false,
    },
    Shot {
        file: "confirm-rollback.svg",
        theme: "dark",
        state: "confirm",
        width: 100,
        height: 30,
        ascii: false,
    },
    Shot {
        file: "details.svg",
        theme: "dark",
        state: "details",
        width: 160,
        height: 48,
        ascii: false,
    },
    Shot {
        file: "small-ansi16.svg",
        theme: "ansi16",
        state: "dashboard",
        width: 80,
        height: 24,
        ascii: false,
    },
    Shot {
        file: "mono.svg",
        theme: "mono",
        state: "incident",
        width: 100,
        height: 30,
        ascii: false,
    },
    Shot {
        file: "ascii-80x24.svg",
        theme: "ansi16",
        state: "incident",
        width: 80,
        height: 24,
        ascii: true,
    },
];

pub const STATES: [&str; 6] = [
    "dashboard",
    "incident",
    "confirm",
    "details",
    "help",
    "zoom",
];

/// The model for a named state of `scenario`, from the live demo's code path: the dashboard a
/// few seconds in; the incident, zoom and confirm at the breach, reached with the incident
/// commander's own keys (`!` jumps to the worst breach, `r` proposes its rollback).
pub fn state(scenario: &str, name: &str) -> Result<Model> {
    let e = |s: String| eyre!(crate::exit::UsageError(s));
    let mut m = match name {
        "dashboard" | "help" => {
            let mut m = live::model_at(scenario, live::DASHBOARD_SECS).map_err(e)?;
            fixture::select_flag(&mut m, "checkout-v2");
            m.focus = Pane::Flags;
            m
        }
        "incident" | "zoom" => {
            let mut m = live::model_at(scenario, live::INCIDENT_SECS).map_err(e)?;
            live::press(&mut m, "!");
            m
        }
        "confirm" => {
            let mut m = live::model_at(scenario, live::INCIDENT_SECS).map_err(e)?;
            live::press(&mut m, "!r");
            m
        }
        "details" => {
            let mut m = live::model_at(scenario, live::INCIDENT_SECS).map_err(e)?;
            live::press(&mut m, "!");
            m.focus = Pane::Flags;
            live::enter(&mut m);
            m
        }
        other => {
            return Err(e(format!(
                "unknown state `{}`; known: {}",
                other.escape_debug(),
                STATES.join(", ")
            )));
        }
    };
    match name {
        "help" => m.dialog = Some(crate::tui::dialog::Dialog::Help),
        "zoom" => m.zoom = true,
        _ => {}
    }
    Ok(m)
}

/// Draws `m` with `t` at `w`×`h` and returns the SVG.
pub fn render(m: &Model, t: &Theme, w: u16, h: u16) -> Result<String> {
    let mut term = Terminal::new(TestBackend::new(w, h)).map_err(|e| eyre!("{e}"))?;
    term.draw(|f| view::draw(f, m, t))
        .map_err(|e| eyre!("{e}"))?;
    Ok(svg(term.backend().buffer(), t.light))
}

/// One gallery shot, from shipped themes only.
pub fn render_shot(s: &Shot) -> Result<String> {
    let mut p = Problems::default();
    let mut t = theme::resolve(None, s.theme, "--theme", &mut p);
    if p.has_errors() {
        return Err(eyre!("{}", crate::config::render_problems(&p)));
    }
    t.ascii = s.ascii;
    render(&state("demo", s.state)?, &t, s.width, s.height)
}

const CW: u32 = 9;
const CH: u32 = 18;

/// A palette for the 16 named colours on a dark or light canvas.
fn named(c: Color, light: bool) -> Option<&'static str> {
    Some(match (c, light) {
        (Color::Black, _) => "#1c1c1c",
        (Color::Red, false) => "#e05561",
        (Color::Red, true) => "#c91b00",
        (Color::Green, false) => "#8cc265",
        (Color::Green, true) => "#00a600",
        (Color::Yellow, false) => "#d8b45a",
        (Color::Yellow, true) => "#a68a00",
        (Color::Blue, false) => "#4aa5f0",
        (Color::Blue, true) => "#0225c7",
        (Color::Magenta, false) => "#c162de",
        (Color::Magenta, true) => "#b200b2",
        (Color::Cyan, false) => "#42b3c2",
        (Color::Cyan, true) => "#00a6b2",
        (Color::Gray, _) => "#bfbfbf",
        (Color::DarkGray, false) => "#7d8590",
        (Color::DarkGray, true) => "#8a8a8a",
        (Color::LightRed, _) => "#ff6e67",
        (Color::LightGreen, _) => "#5ffa68",
        (Color::LightYellow, _) => "#fffc67",
        (Color::LightBlue, _) => "#6871ff",
        (Color::LightMagenta, _) => "#ff77ff",
        (Color::LightCyan, _) => "#60fdff",
        (Color::White, _) => "#ffffff",
        _ => return None,
    })
}

fn hex(c: Color, light: bool, default: &str) -> String {
    match c {
        Color::Reset => default.to_string(),
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(i) => {
            let (r, g, b) = crate::tui::color_filter::index_rgb(u32::from(i));
            format!("#{r:02x}{g:02x}{b:02x}")
        }
        other => named(other, light).unwrap_or(default).to_string(),
    }
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32)) => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

/// The canvas (background, default foreground) of a dark or light screenshot.
pub(crate) fn canvas(light: bool) -> (&'static str, &'static str) {
    if light {
        ("#fbfbf8", "#202124")
    } else {
        ("#16181d", "#d4d4d4")
    }
}

/// The buffer as SVG: background rectangles, then text runs of one style each.
pub fn svg(b: &Buffer, light: bool) -> String {
    let (canvas_bg, canvas_fg) = canvas(light);
    let (w, h) = (u32::from(b.area.width), u32::from(b.area.height));
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="'DejaVu Sans Mono','Menlo','Consolas',monospace" font-size="15">"#,
        w * CW + 16,
        h * CH + 16,
        w * CW + 16,
        h * CH + 16
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" rx="6" fill="{canvas_bg}"/>"#
    );
    let _ = writeln!(s, r#"<g transform="translate(8,8)" xml:space="preserve">"#);
    for y in 0..h {
        let cells: Vec<(String, String, String, Modifier)> = (0..w)
            .map(|x| {
                let c = &b[(x as u16, y as u16)];
                let mut fg = hex(c.fg, light, canvas_fg);
                let mut bg = hex(c.bg, light, canvas_bg);
                if c.modifier.contains(Modifier::REVERSED) {
                    std::mem::swap(&mut fg, &mut bg);
                }
                (c.symbol().to_string(), fg, bg, c.modifier)
            })
            .collect();
        let mut x = 0usize;
        while x < cells.len() {
            let bg = &cells[x].2;
            let start = x;
            while x < cells.len() && cells[x].2 == *bg {
                x += 1;
            }
            if bg != canvas_bg {
                let _ = writeln!(
                    s,
                    r#"<rect x="{}" y="{}" width="{}" height="{CH}" fill="{bg}"/>"#,
                    start as u32 * CW,
                    y * CH,
                    (x - start) as u32 * CW
                );
            }
        }
        let mut x = 0usize;
        while x < cells.len() {
            let (fg, m) = (&cells[x].1, cells[x].3);
            let start = x;
            let mut text = String::new();
            while x < cells.len() && cells[x].1 == *fg && cells[x].3 == m {
                text.push_str(&cells[x].0);
                x += 1;
            }
            if text.trim().is_empty() {
                continue;
            }
            let mut attrs = String::new();
            if m.contains(Modifier::BOLD) {
                attrs.push_str(r#" font-weight="bold""#);
            }
            if m.contains(Modifier::ITALIC) {
                attrs.push_str(r#" font-style="italic""#);
            }
            if m.contains(Modifier::DIM) {
                attrs.push_str(r#" opacity="0.6""#);
            }
            match (
                m.contains(Modifier::UNDERLINED),
                m.contains(Modifier::CROSSED_OUT),
            ) {
                (true, _) => attrs.push_str(r#" text-decoration="underline""#),
                (false, true) => attrs.push_str(r#" text-decoration="line-through""#),
                _ => {}
            }
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" fill="{fg}" textLength="{}" lengthAdjust="spacingAndGlyphs"{attrs}>{}</text>"#,
                start as u32 * CW,
                y * CH + 14,
                (x - start) as u32 * CW,
                escape(&text)
            );
        }
    }
    s.push_str("</g>\n</svg>\n");
    s
}
