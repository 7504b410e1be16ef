//! Owns the screen layout and shared view helpers; each pane and dialog lives in its own file.
//! Views only borrow the model: they must not mutate it, do I/O, or hard-code colours (the
//! `Theme` has them). Backend text is inert already (it came in `client::Clean`); every width is
//! cut with `text::fit`, operator input made inert with `text::typed`.

mod activity;
mod approvals;
pub mod ascii;
mod choose;
mod details;
mod flags;
#[cfg(test)]
pub use flags::widths as flags_widths;
mod footer;
mod guardrails;
mod header;
mod help;
mod ladder;
mod prompt;
mod served;

use super::dialog::Dialog;
use super::model::{Model, Pane};
use super::screen::Drawn;
use super::theme::Theme;
use chrono::{DateTime, Duration, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

pub use header::banner as header_banner;

/// Width from which the wide layout (flags left, details right, approvals+activity below) is used.
pub const WIDE: u16 = 120;

/// Draws the whole screen (tests, screenshots: the cursor goes into the frame).
pub fn draw(f: &mut Frame, m: &Model, t: &Theme) {
    if let Some(p) = frame(f, m, t).cursor {
        f.set_cursor_position(p);
    }
}

/// Draws the whole screen; says where the cursor goes and which rows scroll as a whole.
pub fn frame(f: &mut Frame, m: &Model, t: &Theme) -> Drawn {
    let area = f.area();
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(2),
        ])
        .split(area);
    header::render(f, rows[0], m, t);
    let mut scroll = if m.zoom {
        // `z`: the focused pane alone, with all the room there is.
        vec![render_pane(f, rows[1], m.focus, m, t)]
    } else if area.width >= WIDE && area.height >= 30 {
        wide(f, rows[1], m, t)
    } else {
        narrow(f, rows[1], m, t)
    };
    let mut cursor = footer::render(f, rows[2], m, t);
    match &m.dialog {
        None => {}
        Some(Dialog::Help) => help::render(f, area, m, t),
        Some(Dialog::Details(d)) => details::render(f, area, m, d, t),
        Some(Dialog::Confirm(c)) => cursor = super::confirm::view::render(f, area, m, c, t),
        Some(Dialog::Percent {
            input,
            action_base,
            current,
        }) => prompt::percent(f, area, action_base, *current, input, t),
        Some(Dialog::Choose(ch)) => choose::render(f, area, m, ch, t),
        Some(Dialog::Filter(_) | Dialog::Command(_)) => {} // drawn by the footer
    }
    if t.ascii {
        ascii::asciify(f.buffer_mut());
    }
    // A dialog drawn over a list would scroll with it.
    if !matches!(
        m.dialog,
        None | Some(Dialog::Filter(_) | Dialog::Command(_))
    ) {
        scroll.clear();
    }
    Drawn {
        cursor,
        scroll: scroll.into_iter().flatten().collect(),
    }
}

/// Draws one pane; returns the rows of a list that moves as a whole (Flags, Activity).
fn render_pane(f: &mut Frame, area: Rect, pane: Pane, m: &Model, t: &Theme) -> Option<Rect> {
    match pane {
        Pane::Flags => return Some(flags::render(f, area, m, t)),
        Pane::Ladder => ladder::render(f, area, m, t),
        Pane::Guardrails => guardrails::render(f, area, m, t),
        Pane::Approvals => approvals::render(f, area, m, t),
        Pane::Activity => return Some(activity::render(f, area, m, t)),
    }
    None
}

/// 80×24: flags on top, the focused pane (or the ladder while Flags is focused) below.
fn narrow(f: &mut Frame, area: Rect, m: &Model, t: &Theme) -> Vec<Option<Rect>> {
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(40), Constraint::Percentage(60)])
        .split(area);
    let list = flags::render(f, parts[0], m, t);
    let below = if m.focus == Pane::Flags {
        Pane::Ladder
    } else {
        m.focus
    };
    vec![Some(list), render_pane(f, parts[1], below, m, t)]
}

/// 160×48: flags left; ladder, guardrails and approvals right; the activity log along the
/// bottom, full width, so the terminal can scroll it when an entry arrives.
fn wide(f: &mut Frame, area: Rect, m: &Model, t: &Theme) -> Vec<Option<Rect>> {
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(75), Constraint::Percentage(25)])
        .split(area);
    // Flags take 42% of the width, more when their names need it, as long as the panes on the
    // right keep 69 columns (their own columns' needs).
    let want = flags::wanted_width(m, rows[0].height);
    let low = area.width * 42 / 100;
    let flags_w = want.clamp(low, area.width.saturating_sub(69).max(low));
    let top = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(flags_w), Constraint::Min(0)])
        .split(rows[0]);
    let right = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Percentage(40),
            Constraint::Percentage(36),
            Constraint::Percentage(24),
        ])
        .split(top[1]);
    flags::render(f, top[0], m, t);
    ladder::render(f, right[0], m, t);
    guardrails::render(f, right[1], m, t);
    approvals::render(f, right[2], m, t);
    vec![Some(activity::render(f, rows[1], m, t))]
}

/// A pane's frame: title, focus marker, and the data age when it is old or stale.
pub(crate) fn pane_block<'a>(pane: Pane, extra: String, m: &Model, t: &Theme) -> Block<'a> {
    let focused = m.focus == pane;
    let mut spans = vec![Span::styled(
        format!(" {} ", pane.title()),
        if focused { t.title_focused } else { t.title },
    )];
    if focused && m.zoom {
        spans.push(Span::styled("[zoom: z] ", t.muted));
    }
    if !extra.is_empty() {
        spans.push(Span::styled(format!("{extra} "), t.muted));
    }
    // While live, the stream keeps every pane current; the age matters once it is down.
    let age = m.data_age_secs();
    if m.stale_secs().is_some() {
        spans.push(Span::styled(format!("· data {age}s old "), t.stale));
    }
    let border = if focused { t.title_focused } else { t.border };
    Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Line::from(spans))
}

/// Writes `s` at (x, y), at most `max` columns, patching `style` over the cells; returns the
/// column after it. Plain ASCII (most of what lists show) goes cell by cell without grapheme
/// segmentation; anything else through `Buffer::set_stringn`.
pub(crate) fn put(buf: &mut Buffer, x: u16, y: u16, s: &str, max: u16, style: Style) -> u16 {
    if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return buf.set_stringn(x, y, s, usize::from(max), style).0;
    }
    let end = x.saturating_add(max).min(buf.area.right());
    let mut cx = x;
    for &b in s.as_bytes() {
        if cx >= end {
            break;
        }
        if let Some(c) = buf.cell_mut((cx, y)) {
            c.set_char(char::from(b)).set_style(style);
        }
        cx += 1;
    }
    cx
}

/// `style`, greyed when the data is stale.
pub(crate) fn live(style: Style, m: &Model, t: &Theme) -> Style {
    if m.stale_secs().is_some() {
        t.stale
    } else {
        style
    }
}

/// A text bar of `width` cells for `percent`.
pub(crate) fn bar(percent: u8, width: usize) -> String {
    let filled = (usize::from(percent.min(100)) * width + 50) / 100;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

pub(crate) use super::text::human_secs;

/// When a time shown on screen next changes its text: the time at the selected ladder's stage
/// and the countdown to its next step, the age and expiry of approval requests, the external
/// store's sync age. The loop redraws then, instead of ticking every second. Conservative: it may
/// name an instant at which nothing visible changes, never one after a change.
pub fn next_clock_change(m: &Model) -> Option<DateTime<Utc>> {
    let now = m.now;
    let mut due: Vec<DateTime<Utc>> = Vec::new();
    if let Some(l) = m.flag_env().and_then(|e| e.ladder.as_ref()) {
        due.extend(age_changes(l.entered_at, now));
        let dwell = l.current_stage().map_or(0, |s| s.min_dwell_secs) as i64;
        due.extend(countdown_from_changes(l.entered_at, dwell, now));
    }
    for a in &m.data.approvals {
        due.extend(age_changes(a.created_at, now));
        if a.state == crate::domain::ApprovalState::Pending {
            due.extend(countdown_to_changes(a.expires_at, now));
        }
    }
    if m.data.flag_store != "embedded"
        && !m.data.flag_store.is_empty()
        && m.data.store.error.is_none()
        && let Some(at) = m.data.store.synced_at
    {
        // "in sync" until the age passes a minute, then `human_secs` steps.
        let a = (now - at).num_seconds();
        due.extend(if a <= 60 {
            Some(at + Duration::seconds(61))
        } else {
            age_changes(at, now)
        });
    }
    due.into_iter().min()
}

/// How many seconds one step of `human_secs(s)` is.
fn human_step(s: i64) -> i64 {
    match s {
        ..60 => 1,
        60..3600 => 60,
        3600..86400 => 3600,
        _ => 86400,
    }
}

/// `human_secs((now - t0).num_seconds())` changes next at this instant.
fn age_changes(t0: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let x = (now - t0).num_seconds().max(0);
    let g = human_step(x);
    Some(t0 + Duration::seconds(x - x % g + g))
}

/// `human_secs(total - (now - t0).num_seconds())`, shown while positive, changes next at this instant.
fn countdown_from_changes(
    t0: DateTime<Utc>,
    total: i64,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let e = (now - t0).num_seconds().max(0);
    let x = total - e;
    (x > 0).then(|| t0 + Duration::seconds(e + x % human_step(x) + 1))
}

/// `human_secs((t1 - now).num_seconds())`, shown while positive, changes next at this instant.
fn countdown_to_changes(t1: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let x = (t1 - now).num_seconds();
    (x > 0).then(|| t1 - Duration::seconds(x - x % human_step(x)) + Duration::milliseconds(1))
}

/// Windowed slice bounds: the first visible row for `sel` in a list of `len` rows that
/// shows `height` rows.
pub(crate) fn window(sel: usize, len: usize, height: usize) -> (usize, usize) {
    if height == 0 {
        return (0, 0);
    }
    let start = if sel >= height { sel + 1 - height } else { 0 };
    (start, (start + height).min(len))
}
