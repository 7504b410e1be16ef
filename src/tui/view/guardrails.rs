//! Owns the Guardrails pane of the selected flag: metric, cohort, value vs baseline, threshold,
//! samples, status word + colour, sparkline; breached rows get a text marker too. Must not
//! mutate the model or hard-code colours.

use super::super::model::{Model, Pane};
use super::super::text::num;
use super::super::theme::Theme;
use super::{live, pane_block, window};
use crate::domain::GuardrailStatus;
use crate::tui::text::fit;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A text sparkline of the last `width` values.
pub fn sparkline(values: &[f64], width: usize) -> String {
    let tail = &values[values.len().saturating_sub(width)..];
    let finite: Vec<f64> = tail.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    tail.iter()
        .map(|v| {
            if !v.is_finite() {
                ' '
            } else if (hi - lo).abs() < f64::EPSILON {
                TICKS[3]
            } else {
                let i = ((v - lo) / (hi - lo) * 7.0).round() as usize;
                TICKS[i.min(7)]
            }
        })
        .collect()
}

pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) {
    let readings = m.flag_guardrails();
    // A failing metric source is named in the title, where there is room for its message.
    let extra = readings
        .iter()
        .find_map(|r| {
            r.source_error.as_ref().map(|e| {
                format!(
                    "⚠ {} {}: {}",
                    fit(&r.metric, 30),
                    fit(&r.cohort, 20),
                    fit(e, 120)
                )
            })
        })
        .unwrap_or_default();
    let block = pane_block(Pane::Guardrails, extra, m, t);
    let wide = area.width >= 90;
    let room = usize::from(area.height.saturating_sub(3));
    let (start, end) = window(m.guardrails.sel.row(), readings.len(), room);
    let rows: Vec<Row> = readings[start..end]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (word, style) = match r.status {
                GuardrailStatus::Breached => ("✗ BREACHED".to_string(), t.breached),
                _ if r.source_error.is_some() => ("⚠ source".to_string(), t.insufficient),
                GuardrailStatus::Insufficient if r.samples == 0 && r.cohort_value.is_some() => {
                    ("no traffic".to_string(), t.insufficient)
                }
                s => (s.as_str().to_string(), t.status(s)),
            };
            // With no candidate traffic (e.g. after a narrowed rollback) show what the cohort
            // as a whole experiences now: that is where the recovery shows.
            let value = match (r.value, r.cohort_value) {
                (None, Some(c)) => format!("cohort {} vs {}", num(Some(c)), num(r.baseline)),
                _ => format!("{} vs {}", num(r.value), num(r.baseline)),
            };
            let style = live(style, m, t);
            let mut cells = vec![
                Cell::from(fit(&r.metric, 22)),
                Cell::from(fit(&r.cohort, 14)),
                Cell::from(value),
                Cell::from(format!("≤{}", num(r.threshold))),
            ];
            if wide {
                cells.push(Cell::from(format!("n={}", r.samples)));
            }
            cells.push(Cell::from(Span::styled(word, style)));
            match &r.source_error {
                Some(e) => cells.push(Cell::from(Span::styled(
                    fit(e, 80),
                    live(t.insufficient, m, t),
                ))),
                None => cells.push(Cell::from(Span::styled(
                    sparkline(&r.history, if wide { 16 } else { 8 }),
                    live(t.sparkline, m, t),
                ))),
            }
            let row = Row::new(cells).style(style);
            if m.focus == Pane::Guardrails && start + i == m.guardrails.sel.row() {
                row.style(t.selection)
            } else {
                row
            }
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(if wide { 22 } else { 14 }),
        Constraint::Length(14),
        Constraint::Length(if wide { 20 } else { 18 }),
        Constraint::Length(8),
    ];
    let mut head = vec!["metric", "cohort", "value vs base", "limit"];
    if wide {
        widths.push(Constraint::Length(8));
        head.push("samples");
    }
    widths.push(Constraint::Length(11));
    head.push("status");
    widths.push(Constraint::Fill(1));
    head.push("trend");
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(t.muted))
        .block(block)
        .column_spacing(1);
    if readings.is_empty() {
        f.render_widget(
            table.header(Row::new(["no guardrails for this flag here"]).style(t.muted)),
            area,
        );
    } else {
        f.render_widget(table, area);
    }
}
