//! Owns the Flags pane: one row per flag passing the filter, built only for the visible window
//! (10,000 flags cost the same as 20). Must not mutate the model or hard-code colours.

use super::super::model::{Model, Pane};
use super::super::theme::Theme;
use super::{live, pane_block, window};
use crate::domain::{Flag, GuardrailStatus};
use crate::sanitize::clean;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

/// Returns the rows of the list (below its header row), which move as a whole when it scrolls.
pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) -> Rect {
    let extra = format!("{}/{} · {}", m.visible.len(), m.state.flags.len(), m.sort.label());
    let block = pane_block(Pane::Flags, extra, m, t);
    let inner_h = usize::from(area.height.saturating_sub(3)); // borders + header row
    let (start, end) = window(m.flag_sel, m.visible.len(), inner_h);
    let rows: Vec<Row> = m.visible[start..end]
        .iter()
        .enumerate()
        .filter_map(|(i, key)| m.state.flags.get(key).map(|fl| (start + i, fl)))
        .map(|(idx, fl)| row(fl, idx == m.flag_sel, m, t))
        .collect();
    let header = Row::new(["flag", "envs", "exposure", "stage", "guard", ""]).style(t.muted);
    let widths = [
        Constraint::Min(14),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(12),
        Constraint::Length(2),
    ];
    f.render_widget(Table::new(rows, widths).header(header).block(block).column_spacing(1), area);
    Rect { y: area.y.saturating_add(2), height: area.height.saturating_sub(3), ..area }
}

fn row<'a>(fl: &'a Flag, selected: bool, m: &Model, t: &Theme) -> Row<'a> {
    let mut envs = Vec::new();
    for e in &m.state.environments {
        let on = fl.env(&e.key).is_some_and(|x| x.enabled);
        let first: String = clean(&e.key, 3).chars().take(1).collect();
        let style = if e.key == m.env { if on { t.flag_on } else { t.danger } } else { t.muted };
        envs.push(Span::styled(format!("{first}{} ", if on { "●" } else { "○" }), live(style, m, t)));
    }
    let fe = fl.env(&m.env);
    let exposure = match fe {
        None => "-".to_string(),
        Some(e) if !e.enabled => "KILLED".to_string(),
        Some(e) => {
            let ps: Vec<u8> = e.cohorts.iter().map(|c| c.effective_percent()).collect();
            match (ps.iter().min(), ps.iter().max()) {
                (Some(a), Some(b)) if a == b => format!("{a}%"),
                (Some(a), Some(b)) => format!("{a}-{b}%"),
                _ => "-".into(),
            }
        }
    };
    let stage = fe
        .and_then(|e| e.ladder.as_ref())
        .and_then(|l| l.current_stage())
        .map(|s| clean(&s.name, 9))
        .unwrap_or_else(|| "-".into());
    let worst = m.worst_status(&fl.key);
    let (word, style) = match worst {
        Some(GuardrailStatus::Breached) => ("✗ BREACH", t.breached),
        Some(s) => (s.as_str(), t.status(s)),
        None => ("-", t.muted),
    };
    let pending = if m.pending_for(&fl.key) { "⚑" } else { "" };
    let base = live(t.base, m, t);
    let r = Row::new(vec![
        Cell::from(Span::styled(clean(&fl.key, 60), base)),
        Cell::from(Line::from(envs)),
        Cell::from(Span::styled(exposure, base)),
        Cell::from(Span::styled(stage, base)),
        Cell::from(Span::styled(word, live(style, m, t))),
        Cell::from(Span::styled(pending, live(t.warning, m, t))),
    ]);
    if selected { r.style(t.selection) } else { r }
}
