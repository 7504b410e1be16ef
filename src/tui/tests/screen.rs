//! Tests of `tui::screen` against a VT100 emulator (vt100): scrolled bands end up exactly as a
//! full redraw would leave the screen, only the new lines are written, the diff is ratatui's.

use super::super::screen::{Drawn, Screen, diff};
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::{Frame, Terminal};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Tape(Arc<Mutex<Vec<u8>>>);

impl Write for Tape {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Tape {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn term(w: u16, h: u16) -> (Terminal<CrosstermBackend<Tape>>, Tape) {
    let tape = Tape::default();
    let opts = ratatui::TerminalOptions {
        viewport: ratatui::Viewport::Fixed(Rect::new(0, 0, w, h)),
    };
    (
        Terminal::with_options(CrosstermBackend::new(tape.clone()), opts).unwrap(),
        tape,
    )
}

/// A header line, then a log of `entries` newest first in rows 1..h.
fn log(entries: &[String], band: bool) -> impl FnOnce(&mut Frame) -> Drawn + '_ {
    move |f: &mut Frame| {
        let a = f.area();
        f.render_widget(Paragraph::new("header"), Rect { height: 1, ..a });
        let body = Rect {
            y: 1,
            height: a.height - 1,
            ..a
        };
        let lines: Vec<Line> = entries
            .iter()
            .rev()
            .map(|e| Line::from(e.as_str()))
            .collect();
        f.render_widget(Paragraph::new(lines), body);
        Drawn {
            cursor: None,
            scroll: band.then_some(body).into_iter().collect(),
        }
    }
}

fn screen_of(bytes: &[u8], w: u16, h: u16) -> String {
    let mut p = vt100::Parser::new(
        std::num::NonZero::new(h).unwrap(),
        std::num::NonZero::new(w).unwrap(),
        0,
    );
    p.process(bytes);
    p.screen().contents()
}

#[test]
fn a_new_log_line_scrolls_the_band_and_writes_only_that_line() {
    let (w, h) = (40, 8);
    let mut entries: Vec<String> = (1..=7)
        .map(|i| format!("#{i} operator set checkout to {i}0%"))
        .collect();
    let (mut t, tape) = term(w, h);
    let mut s = Screen::new();
    s.draw(&mut t, log(&entries, true)).unwrap();
    let mut all = tape.take();
    entries.push("#8 operator set checkout to 80%".into());
    s.draw(&mut t, log(&entries, true)).unwrap();
    let step = tape.take();
    all.extend_from_slice(&step);
    // The whole result is right on a VT100 emulator …
    let (mut want_t, want_tape) = term(w, h);
    Screen::new()
        .draw(&mut want_t, log(&entries, false))
        .unwrap();
    assert_eq!(screen_of(&all, w, h), screen_of(&want_tape.take(), w, h));
    // … and the step scrolled instead of rewriting six moved lines.
    let text = String::from_utf8_lossy(&step);
    assert!(
        text.contains("\x1b[2;8r") && text.contains("\x1bM"),
        "{text:?}"
    );
    assert!(
        !text.contains("#7 operator") && text.contains("#8 operator"),
        "{text:?}"
    );
    assert!(step.len() < 100, "{} bytes: {text:?}", step.len());
}

#[test]
fn without_a_band_or_short_of_full_width_nothing_scrolls() {
    let mut entries: Vec<String> = (1..=7).map(|i| format!("#{i} entry")).collect();
    let (mut t, tape) = term(30, 8);
    let mut s = Screen::new();
    s.draw(&mut t, log(&entries, false)).unwrap();
    tape.take();
    entries.push("#8 entry".into());
    s.draw(&mut t, log(&entries, false)).unwrap();
    assert!(!String::from_utf8_lossy(&tape.take()).contains("\x1bM"));
}

#[test]
fn at_80x24_moving_down_the_flag_list_scrolls_it_and_the_screen_stays_right() {
    let Ok(mut m) = crate::screenshot::fixture::model("large") else {
        panic!("large scenario")
    };
    let theme = crate::config::theme::builtin("dark");
    let (w, h) = (80, 24);
    let (mut t, tape) = term(w, h);
    let mut s = Screen::new();
    let mut all = Vec::new();
    let mut steps = Vec::new();
    for _ in 0..20 {
        s.draw(&mut t, |f| crate::tui::view::frame(f, &m, &theme))
            .unwrap();
        let b = tape.take();
        steps.push(b.len());
        all.extend_from_slice(&b);
        let _ = crate::tui::update(&mut m, crate::tui::tests::fixture::key('j'));
    }
    let (mut fresh, fresh_tape) = term(w, h);
    Screen::new()
        .draw(&mut fresh, |f| crate::tui::view::frame(f, &m, &theme))
        .unwrap();
    s.draw(&mut t, |f| crate::tui::view::frame(f, &m, &theme))
        .unwrap();
    all.extend_from_slice(&tape.take());
    assert_eq!(screen_of(&all, w, h), screen_of(&fresh_tape.take(), w, h));
    // The list's rows (4 to 8 of 24) scrolled up by a line feed at the bottom of the region.
    assert!(
        String::from_utf8_lossy(&all).contains("\x1b[4;8r\x1b[8;1H\n"),
        "the list scrolled up"
    );
    // Once the cursor is at the bottom of the window, a step costs far less than the rows.
    let late = steps[steps.len() - 1];
    assert!(late < 800, "{steps:?}");
}

#[test]
fn the_diff_is_ratatuis() {
    use ratatui::buffer::CellDiffOption;
    use ratatui::style::{Color, Modifier, Style};
    let area = Rect::new(0, 0, 12, 4);
    let texts = [
        "plain ascii",
        "wide あい漢字",
        "emoji 👍🏽❤\u{fe0f}x",
        "box ─│┌█░",
        "ﾊﾟﾋﾞ marks",
        "",
        "   ",
    ];
    let styles = [
        Style::default(),
        Style::default().fg(Color::Red),
        Style::default()
            .bg(Color::Blue)
            .add_modifier(Modifier::REVERSED),
    ];
    let make = |seed: usize| {
        let mut b = Buffer::empty(area);
        for y in 0..area.height {
            let k = seed.wrapping_mul(31).wrapping_add(usize::from(y) * 7);
            b.set_stringn(
                usize::from(y % 3) as u16,
                y,
                texts[k % texts.len()],
                12,
                styles[k % styles.len()],
            );
        }
        if seed.is_multiple_of(5) {
            b[(3, 1)].set_diff_option(CellDiffOption::Skip);
        }
        if seed.is_multiple_of(7) {
            b[(5, 2)].set_diff_option(CellDiffOption::AlwaysUpdate);
        }
        b
    };
    for a in 0..40 {
        for b in 0..40 {
            let (p, n) = (make(a), make(b));
            let mine: Vec<(u16, u16, String)> = diff(&p, &n)
                .into_iter()
                .map(|(x, y, c)| (x, y, format!("{c:?}")))
                .collect();
            let theirs: Vec<(u16, u16, String)> = p
                .diff(&n)
                .into_iter()
                .map(|(x, y, c)| (x, y, format!("{c:?}")))
                .collect();
            assert_eq!(mine, theirs, "seeds {a} {b}");
        }
    }
}

#[test]
fn an_unchanged_frame_writes_nothing() {
    let entries: Vec<String> = (1..=3).map(|i| format!("#{i} entry")).collect();
    let (mut t, tape) = term(30, 8);
    let mut s = Screen::new();
    s.draw(&mut t, log(&entries, true)).unwrap();
    assert!(!tape.take().is_empty());
    s.draw(&mut t, log(&entries, true)).unwrap();
    assert_eq!(tape.take(), Vec::<u8>::new());
}
