//! Owns the confirm dialog: the exact change (before → after), blast radius, reverse, approval
//! note, typed confirmation for the kill switch, the reason input and the outcome in place.
//! Must not mutate the model or hard-code colours.

use super::state::{Confirm, Phase};
use crate::domain::Tier;
use crate::tui::layout::centered;
use crate::tui::model::Model;
use crate::tui::text::{fit, typed};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// Returns where the cursor goes (the field being typed in).
pub fn render(f: &mut Frame, area: Rect, m: &Model, c: &Confirm, t: &Theme) -> Option<Position> {
    let p = &c.preview;
    let w = area.width.saturating_sub(4).min(90);
    let inner_w = usize::from(w.saturating_sub(2));
    let mut lines: Vec<Line> = Vec::new();
    let tier_style = match p.tier {
        Tier::Hold | Tier::Reduce => t.healthy,
        Tier::Expand | Tier::Retire => t.warning,
        Tier::Global => t.danger,
    };
    lines.push(Line::from(vec![
        Span::styled(fit(&p.title, inner_w.saturating_sub(12)), t.title),
        Span::styled(format!("  [{:?}]", p.tier).to_lowercase(), tier_style),
    ]));
    for ch in &p.change {
        lines.push(Line::from(vec![
            Span::styled("change:  ", t.muted),
            Span::raw(fit(ch, 300)),
        ]));
    }
    lines.push(Line::from(vec![
        Span::styled("blast:   ", t.muted),
        Span::raw(fit(&p.blast, 300)),
    ]));
    if let Some(served) = super::preview::served(c.intent.action(), &m.data) {
        lines.push(Line::from(vec![
            Span::styled("served:  ", t.muted),
            Span::raw(fit(&served, 300)),
        ]));
    }
    let rev = p
        .reverse
        .as_ref()
        .map(|r| fit(&r.describe(), inner_w))
        .unwrap_or_else(|| "-".into());
    lines.push(Line::from(vec![
        Span::styled("reverse: ", t.muted),
        Span::raw(rev),
    ]));
    if let Some(r) = c.expected_revision {
        lines.push(Line::from(Span::styled(
            format!("decided on revision {r}"),
            t.muted,
        )));
    }
    if p.needs_approval {
        lines.push(Line::from(Span::styled(
            "expands exposure in a protected environment: becomes a request",
            t.warning,
        )));
    }
    if let Some(e) = &p.error {
        lines.push(Line::from(Span::styled(
            format!("cannot apply now: {}", fit(e, inner_w)),
            t.danger,
        )));
    }
    let mut cursor = None;
    if let Some((want, got)) = &c.typed {
        lines.push(Line::from(Span::styled(
            format!("type `{}` to confirm (Tab switches field):", fit(want, 60)),
            t.danger,
        )));
        let style = if c.typing_focus {
            t.title_focused
        } else {
            t.base
        };
        lines.push(Line::from(vec![
            Span::styled("> ", t.key_hint),
            Span::styled(fit(&typed(got.value()), inner_w), style),
        ]));
        if c.typing_focus {
            cursor = Some((lines.len() - 1, got.visual_cursor()));
        }
    }
    let label = if c.reason_selected {
        "reason (prefilled — typing replaces it, ← → edit it):"
    } else {
        "reason:"
    };
    lines.push(Line::from(Span::styled(label, t.muted)));
    let scroll = c.reason.visual_scroll(inner_w.saturating_sub(3));
    let shown: String = typed(c.reason.value()).chars().skip(scroll).collect();
    let reason_style = if c.reason_selected {
        t.selection
    } else {
        ratatui::style::Style::default()
    };
    lines.push(Line::from(vec![
        Span::styled("> ", t.key_hint),
        Span::styled(fit(&shown, inner_w.saturating_sub(2)), reason_style),
    ]));
    if !c.typing_focus {
        cursor = Some((
            lines.len() - 1,
            c.reason.visual_cursor().saturating_sub(scroll),
        ));
    }
    let (msg, style) = match &c.phase {
        Phase::Editing => ("Enter: send · Esc: cancel".to_string(), t.muted),
        Phase::Sending => ("sending…".to_string(), t.warning),
        Phase::Conflict(msg) => (
            format!("{} — Enter re-decides on the new state", fit(msg, 300)),
            t.danger,
        ),
        Phase::Failed { msg, .. } => (fit(msg, 300), t.status_err),
    };
    lines.push(Line::from(Span::styled(msg, style)));
    // Long lines wrap: size the dialog for the wrapped height.
    let rows: usize = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner_w.max(1)))
        .sum();
    let h = (rows as u16 + 3).min(area.height);
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    let border = if p.tier == Tier::Global {
        t.danger
    } else {
        t.title_focused
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(" confirm ", t.title));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        r,
    );
    let _ = m;
    cursor.map(|(row, col)| {
        let x = (r.x + 3 + col as u16).min(r.right().saturating_sub(2));
        let y = (r.y + 1 + row as u16).min(r.bottom().saturating_sub(2));
        Position { x, y }
    })
}
