//! Owns drawing the Enter details overlay: its rows (from `tui::details::content`) scrolled to
//! the dialog's row, `↑ N more` / `↓ N more` on the frame when rows are hidden, and each
//! guardrail chart as a braille line chart of the candidate against the baseline and limit.
//! Must not mutate the model or hard-code colours.

use super::super::details::{Chart as ChartRow, Details, Row, Target, content};
use super::super::model::Model;
use super::super::theme::Theme;
use super::put;
use crate::tui::layout::centered;
use crate::tui::text::{fit, num};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Clear, Dataset, GraphType};

/// The widest the overlay gets.
const MAX_W: u16 = 130;

/// The first row to draw so that rows `start..` fill `room` lines as far as they go.
fn first_row(rows: &[Row], scroll: usize, room: u16) -> usize {
    // The latest start from which the remaining rows still fill the room.
    let mut used = 0u16;
    let mut latest = rows.len();
    for (i, r) in rows.iter().enumerate().rev() {
        used = used.saturating_add(r.height());
        if used > room {
            break;
        }
        latest = i;
    }
    scroll.min(latest)
}

pub fn render(f: &mut Frame, area: Rect, m: &Model, d: &Details, t: &Theme) {
    let (title, rows) = content(m, d);
    let r = centered(
        area,
        area.width.saturating_sub(2).min(MAX_W),
        area.height.saturating_sub(2),
    );
    f.render_widget(Clear, r);
    let room = r.height.saturating_sub(2);
    let start = first_row(&rows, d.scroll, room);
    // Which rows fit from `start`.
    let mut end = start;
    let mut used = 0u16;
    while let Some(row) = rows.get(end) {
        if used.saturating_add(row.height()) > room {
            break;
        }
        used += row.height();
        end += 1;
    }
    let below = rows.len() - end;
    let mut top = vec![Span::styled(format!(" {} ", fit(&title, 70)), t.title)];
    if start > 0 {
        top.push(Span::styled(format!("↑ {start} more "), t.key_hint));
    }
    let mut bottom = Vec::new();
    if below > 0 {
        bottom.push(Span::styled(format!(" ↓ {below} more "), t.key_hint));
    }
    bottom.push(Span::styled(" j/k scroll · Esc closes ", t.muted));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Line::from(top))
        .title_bottom(Line::from(bottom));
    let inner = block.inner(r);
    f.render_widget(block, r);
    let mut y = inner.y;
    // The Cleanup view's cursor is its scroll row (Enter selects that flag).
    let cursor = (d.target == Target::Cleanup).then_some(d.scroll);
    for (i, row) in rows[start..end].iter().enumerate() {
        let h = row.height();
        let line = Rect {
            y,
            height: h,
            ..inner
        };
        let (text, style) = match row {
            Row::Head(s) => (s, t.title),
            Row::Text(s) => (s, t.base),
            Row::Muted(s) => (s, t.muted),
            Row::Status(s, st) => (s, t.status(*st)),
            Row::Chart(c) => {
                chart(f, line, c, t);
                y += h;
                continue;
            }
        };
        let style = if cursor == Some(start + i) {
            f.buffer_mut().set_style(line, t.selection);
            style.patch(t.selection)
        } else {
            style
        };
        let w = usize::from(inner.width);
        put(
            f.buffer_mut(),
            inner.x,
            y,
            &fit(text, w),
            inner.width,
            style,
        );
        y += h;
    }
}

/// A braille line chart: the candidate's recent readings, the baseline and the limit as they
/// stand now, over the guardrail's window.
fn chart(f: &mut Frame, area: Rect, c: &ChartRow, t: &Theme) {
    let area = Rect {
        x: area.x.saturating_add(4),
        width: area.width.saturating_sub(6).min(90),
        ..area
    };
    // The legend on its own line (ratatui's hides itself in a chart this small).
    let key = Line::from(vec![
        Span::styled("━ candidate  ", t.sparkline),
        Span::styled("━ baseline now  ", t.muted),
        Span::styled("━ limit", t.danger),
    ]);
    f.buffer_mut()
        .set_line(area.x + 2, area.y, &key, area.width.saturating_sub(2));
    let area = Rect {
        y: area.y.saturating_add(1),
        height: area.height.saturating_sub(1),
        ..area
    };
    let n = c.candidate.len().max(2) as f64 - 1.0;
    let cand: Vec<(f64, f64)> = c
        .candidate
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| (i as f64, *v))
        .collect();
    let flat = |v: Option<f64>| -> Vec<(f64, f64)> {
        v.filter(|v| v.is_finite())
            .map(|v| vec![(0.0, v), (n, v)])
            .unwrap_or_default()
    };
    let (base, limit) = (flat(c.baseline), flat(c.threshold));
    let all = cand.iter().chain(&base).chain(&limit).map(|p| p.1);
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return;
    }
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.01).max(1e-9);
    // Rates and latencies are never negative: the axis does not invent a negative range.
    let lo = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    let hi = hi + pad;
    let set = |name: &'static str, pts, style| {
        Dataset::default()
            .name(name)
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(style)
            .data(pts)
    };
    let chart = Chart::new(vec![
        set("limit", &limit, t.danger),
        set("baseline now", &base, t.muted),
        set("candidate", &cand, t.sparkline),
    ])
    .x_axis(Axis::default().bounds([0.0, n]).style(t.muted).labels(vec![
        Line::from(format!("last {} readings", c.candidate.len())),
        Line::from(format!("now ({}s window)", c.window_secs)),
    ]))
    .y_axis(
        Axis::default()
            .bounds([lo, hi])
            .style(t.muted)
            .labels(vec![Line::from(num(Some(lo))), Line::from(num(Some(hi)))]),
    );
    f.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_row_never_leaves_the_room_half_empty() {
        let rows: Vec<Row> = (0..10).map(|i| Row::Text(format!("{i}"))).collect();
        assert_eq!(first_row(&rows, 0, 4), 0);
        assert_eq!(first_row(&rows, 3, 4), 3);
        assert_eq!(first_row(&rows, 9, 4), 6);
        assert_eq!(first_row(&rows, 0, 40), 0);
    }
}
