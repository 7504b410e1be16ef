//! Owns the Flags pane: one row per flag passing the filter, built only for the visible window
//! (10,000 flags cost the same as 20). Must not mutate the model or hard-code colours.

use super::super::model::{Model, Pane};
use super::super::theme::Theme;
use super::{live, pane_block, put, window};
use crate::domain::{Flag, GuardrailStatus};
use crate::tui::text::fit;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Returns the rows of the list (below its header row), which move as a whole when it scrolls.
/// The columns: flag, environments, exposure, stage, guard, pending-request marker.
const WIDTHS: [Constraint; 6] = [
    Constraint::Min(14),
    Constraint::Length(9),
    Constraint::Length(9),
    Constraint::Length(9),
    Constraint::Length(12),
    Constraint::Length(2),
];
const HEAD: [&str; 6] = ["flag", "envs", "exposure", "stage", "guard", ""];

/// Returns the rows of the list (below its header row), which move as a whole when it scrolls.
/// Rows are written straight into the buffer, only for the visible window: one pass over the
/// cells they cover (a Table widget costs several passes and allocations per cell).
pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) -> Rect {
    let extra = format!("{}/{} · {}", m.flags.visible.len(), m.data.state.flags.len(), m.flags.sort.label());
    let block = pane_block(Pane::Flags, extra, m, t);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let band = Rect { y: area.y.saturating_add(2), height: area.height.saturating_sub(3), ..area };
    if inner.height == 0 || inner.width == 0 {
        return band;
    }
    let cols = Layout::horizontal(WIDTHS).flex(Flex::Start).spacing(1).split(Rect { height: 1, ..inner });
    let buf = f.buffer_mut();
    buf.set_style(Rect { height: 1, ..inner }, t.muted);
    for (c, h) in cols.iter().zip(HEAD) {
        put(buf, c.x, inner.y, h, c.width, Style::default());
    }
    let room = usize::from(inner.height - 1);
    let (start, end) = window(m.flags.sel.row(), m.flags.visible.len(), room);
    let flags = m.flags.visible[start..end].iter().enumerate().filter_map(|(i, key)| m.data.state.flags.get(key).map(|fl| (start + i, fl)));
    for (y, (idx, fl)) in (inner.y + 1..inner.bottom()).zip(flags) {
        row(buf, Rect { y, height: 1, ..inner }, &cols, fl, idx == m.flags.sel.row(), m, t);
    }
    band
}

/// One flag's row on `line`, cell by cell into `cols`.
fn row(buf: &mut Buffer, line: Rect, cols: &[Rect], fl: &Flag, selected: bool, m: &Model, t: &Theme) {
    let y = line.y;
    if selected {
        buf.set_style(line, t.selection);
    }
    let cell = |buf: &mut Buffer, col: usize, text: &str, style: Style| {
        if let Some(c) = cols.get(col) {
            put(buf, c.x, y, text, c.width, style);
        }
    };
    let base = live(t.base, m, t);
    cell(buf, 0, &fit(&fl.key, 60), base);
    if let Some(c) = cols.get(1) {
        let mut envs = Vec::with_capacity(m.data.state.environments.len());
        for e in &m.data.state.environments {
            let on = fl.env(&e.key).is_some_and(|x| x.enabled);
            let first: String = fit(&e.key, 3).chars().take(1).collect();
            let style = if e.key == m.env { if on { t.flag_on } else { t.danger } } else { t.muted };
            envs.push(Span::styled(format!("{first}{} ", if on { "●" } else { "○" }), live(style, m, t)));
        }
        buf.set_line(c.x, y, &Line::from(envs), c.width);
    }
    let fe = fl.env(&m.env);
    let exposure = match fe {
        None => "-".to_string(),
        Some(e) if e.killed() => "KILLED".to_string(),
        Some(e) if !e.enabled => "off".to_string(),
        Some(e) => {
            let ps = e.cohorts.iter().map(|c| c.effective_percent());
            match (ps.clone().min(), ps.max()) {
                (Some(a), Some(b)) if a == b => format!("{a}%"),
                (Some(a), Some(b)) => format!("{a}-{b}%"),
                _ => "-".into(),
            }
        }
    };
    cell(buf, 2, &exposure, base);
    let stage = fe
        .and_then(|e| e.ladder.as_ref())
        .and_then(|l| l.current_stage())
        .map(|s| fit(&s.name, 9))
        .unwrap_or_else(|| "-".into());
    cell(buf, 3, &stage, base);
    let (word, style) = match m.worst_status(&fl.key) {
        Some(GuardrailStatus::Breached) => ("✗ BREACH", t.breached),
        Some(s) => (s.as_str(), t.status(s)),
        None => ("-", t.muted),
    };
    cell(buf, 4, word, live(style, m, t));
    if m.pending_for(&fl.key) {
        cell(buf, 5, "⚑", live(t.warning, m, t));
    }
}
