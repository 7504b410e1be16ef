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
    let wide = area.width >= 90;
    let room = usize::from(area.height.saturating_sub(3));
    let (start, end) = window(m.guardrails.sel.row(), readings.len(), room);
    let more = super::approvals::more(start, end, readings.len());
    let extra = if extra.is_empty() {
        more.trim_start_matches(" · ").to_string()
    } else {
        format!("{extra}{more}")
    };
    let block = pane_block(Pane::Guardrails, extra, m, t);
    let inner_w = area.width.saturating_sub(2);
    // Each visible row's texts first, so the columns can be sized to what they hold.
    let texts: Vec<[String; 5]> = readings[start..end]
        .iter()
        .map(|r| {
            let word = match r.status {
                GuardrailStatus::Breached => "✗ BREACHED".to_string(),
                _ if r.source_error.is_some() => "⚠ source".to_string(),
                GuardrailStatus::Insufficient if r.samples == 0 && r.cohort_value.is_some() => {
                    "no traffic".to_string()
                }
                s => s.as_str().to_string(),
            };
            // With no candidate traffic (e.g. after a narrowed rollback) show what the cohort
            // as a whole experiences now: that is where the recovery shows.
            let value = match (r.value, r.cohort_value) {
                (None, Some(c)) => format!("cohort {} vs {}", num(Some(c)), num(r.baseline)),
                _ => format!("{} vs {}", num(r.value), num(r.baseline)),
            };
            [
                r.metric.to_string(),
                r.cohort.to_string(),
                value,
                format!("≤{}", num(r.threshold)),
                word,
            ]
        })
        .collect();
    let cols = columns(&texts, inner_w, wide);
    let rows: Vec<Row> = readings[start..end]
        .iter()
        .zip(&texts)
        .enumerate()
        .map(|(i, (r, x))| {
            let style = match r.status {
                GuardrailStatus::Breached => t.breached,
                _ if r.source_error.is_some() => t.insufficient,
                GuardrailStatus::Insufficient if r.samples == 0 && r.cohort_value.is_some() => {
                    t.insufficient
                }
                s => t.status(s),
            };
            let style = live(style, m, t);
            // The value, limit and status are never cut (their columns are sized to them);
            // metric and cohort end in `…` when the pane is too narrow for them.
            let mut cells = vec![
                Cell::from(fit(&x[0], usize::from(cols.metric))),
                Cell::from(fit(&x[1], usize::from(cols.cohort))),
                Cell::from(x[2].clone()),
                Cell::from(x[3].clone()),
            ];
            if cols.samples > 0 {
                cells.push(Cell::from(format!("n={}", r.samples)));
            }
            cells.push(Cell::from(Span::styled(x[4].clone(), style)));
            match &r.source_error {
                Some(e) => cells.push(Cell::from(Span::styled(
                    fit(e, usize::from(cols.trend.max(1))),
                    live(t.insufficient, m, t),
                ))),
                None => cells.push(Cell::from(Span::styled(
                    sparkline(&r.history, usize::from(cols.trend.min(16))),
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
        Constraint::Length(cols.metric),
        Constraint::Length(cols.cohort),
        Constraint::Length(cols.value),
        Constraint::Length(cols.limit),
    ];
    let mut head = vec!["metric", "cohort", "value vs base", "limit"];
    if cols.samples > 0 {
        widths.push(Constraint::Length(cols.samples));
        head.push("samples");
    }
    widths.push(Constraint::Length(cols.status));
    head.push("status");
    widths.push(Constraint::Fill(1));
    head.push("trend");
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(t.muted))
        .block(block)
        .column_spacing(1);
    if readings.is_empty() {
        // The whole line, not the first column's width of it.
        let msg = fit("no guardrails for this flag here", usize::from(inner_w));
        f.render_widget(
            ratatui::widgets::Paragraph::new(Span::styled(msg, t.muted)).block(pane_block(
                Pane::Guardrails,
                String::new(),
                m,
                t,
            )),
            area,
        );
    } else {
        f.render_widget(table, area);
    }
}

/// Column widths of the Guardrails table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Columns {
    metric: u16,
    cohort: u16,
    value: u16,
    limit: u16,
    /// 0: the samples column gave way.
    samples: u16,
    status: u16,
    /// What is left for the trend (or a source error).
    trend: u16,
}

/// The narrowest metric and cohort columns get before the table runs out of room.
const METRIC_MIN: u16 = 8;
const COHORT_MIN: u16 = 7;

/// Widths by priority: value, limit and status are sized to what they hold and never cut;
/// metric (up to 22) and cohort (up to 16) get what they need while there is room; the trend
/// takes what is left; when room runs short the trend goes first, then the samples column,
/// then metric and cohort shrink (to be cut with `…`).
fn columns(texts: &[[String; 5]], inner: u16, wide: bool) -> Columns {
    let need = |i: usize, head: &str, cap: u16| {
        let w = texts
            .iter()
            .map(|x| x[i].chars().count())
            .chain([head.chars().count()])
            .max()
            .unwrap_or(0);
        u16::try_from(w).unwrap_or(u16::MAX).min(cap)
    };
    let mut c = Columns {
        metric: need(0, "metric", 22),
        cohort: need(1, "cohort", 16),
        value: need(2, "value vs base", 40),
        limit: need(3, "limit", 16),
        samples: if wide { 8 } else { 0 },
        status: need(4, "status", 12),
        trend: 0,
    };
    let used = |c: &Columns| {
        let gaps = 5 + u16::from(c.samples > 0);
        c.metric + c.cohort + c.value + c.limit + c.samples + c.status + gaps
    };
    if used(&c) > inner {
        c.samples = 0;
    }
    while used(&c) > inner && c.metric > METRIC_MIN {
        c.metric -= 1;
    }
    while used(&c) > inner && c.cohort > COHORT_MIN {
        c.cohort -= 1;
    }
    c.trend = inner.saturating_sub(used(&c));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(m: &str, c: &str, v: &str) -> [String; 5] {
        [
            m.into(),
            c.into(),
            v.into(),
            "≤0.0200".into(),
            "✗ BREACHED".into(),
        ]
    }

    #[test]
    fn values_limits_and_statuses_are_never_cut_and_names_give_way_first() {
        let rows = [row("p95_latency_ms", "eu-west", "0.0310 vs 0.0110")];
        let c = columns(&rows, 67, false);
        assert_eq!((c.value, c.limit, c.status), (16, 7, 10));
        assert_eq!((c.metric, c.cohort), (14, 7));
        assert!(c.trend >= 6, "{c:?}");
        // Narrow: the trend goes, then the metric shrinks; the value stays whole.
        let c = columns(&rows, 50, true);
        assert_eq!(c.samples, 0);
        assert_eq!(c.value, 16);
        assert!(c.metric < 14 && c.metric >= METRIC_MIN, "{c:?}");
        // Wide: samples shown and the trend gets the rest.
        let c = columns(&rows, 120, true);
        assert_eq!(c.samples, 8);
        assert!(c.trend > 40, "{c:?}");
    }
}
