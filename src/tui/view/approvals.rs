//! Owns the Approvals pane: requests with action, reverse, reason, evidence summary, requester
//! (person / agent / automation), age and expiry; pending first (oldest first), decided below;
//! outdated and superseded requests named so; a scroll marker when rows are hidden. Must not mutate the model or
//! hard-code colours.

use super::super::model::{Model, Pane};
use super::super::theme::Theme;
use super::{human_secs, live, pane_block, window};
use crate::domain::ApprovalState;
use crate::tui::text::fit;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The scroll marker of a list showing rows `start..end` of `len`: ` · ↑2 ↓3 more`.
pub(crate) fn more(start: usize, end: usize, len: usize) -> String {
    let (up, down) = (start, len.saturating_sub(end));
    match (up, down) {
        (0, 0) => String::new(),
        (0, d) => format!(" · ↓{d} more"),
        (u, 0) => format!(" · ↑{u} more"),
        (u, d) => format!(" · ↑{u} ↓{d} more"),
    }
}

pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) {
    let pending = m
        .data
        .approvals
        .iter()
        .filter(|a| a.state == ApprovalState::Pending)
        .count();
    let w = usize::from(area.width.saturating_sub(4));
    // Two lines per request.
    let room = usize::from(area.height.saturating_sub(2)) / 2;
    let (start, end) = window(m.approvals.sel.row(), m.data.approvals.len(), room);
    let block = pane_block(
        Pane::Approvals,
        format!(
            "{pending} pending{}",
            more(start, end, m.data.approvals.len())
        ),
        m,
        t,
    );
    let mut lines = Vec::new();
    for (i, a) in m.data.approvals.iter().enumerate().take(end).skip(start) {
        let sel = i == m.approvals.sel.row() && m.focus == Pane::Approvals;
        let label = m.approval_label(a);
        let state_style = match (a.state, label) {
            (ApprovalState::Pending, "outdated") => t.danger,
            (ApprovalState::Pending, _) => t.warning,
            (ApprovalState::Applied, _) => t.healthy,
            _ => t.muted,
        };
        let age = human_secs((m.now - a.created_at).num_seconds());
        let expires = if a.state == ApprovalState::Pending {
            format!(
                " expires in {}",
                human_secs((a.expires_at - m.now).num_seconds())
            )
        } else {
            String::new()
        };
        let head = format!(
            "{} by {} ({}) {age} ago{expires}: {}",
            fit(&a.id, 20),
            fit(&a.requested_by.name, 24),
            a.requested_by.kind(),
            fit(&a.action.describe(), 80),
        );
        let head = match m.outdated(a) {
            Some((seen, now)) => format!("(revision {seen} → {now}) {head}"),
            None => head,
        };
        let mut first = vec![Span::styled(
            format!("{label:<10} "),
            live(state_style, m, t),
        )];
        // The state label takes 11 columns: the rest is cut with `…`, never by the pane.
        first.push(Span::styled(
            fit(&head, w.saturating_sub(11)),
            if sel { t.selection } else { live(t.base, m, t) },
        ));
        lines.push(Line::from(first));
        let ev = match (a.evidence.first(), &a.evidence_gap) {
            (Some(e), _) => format!(
                " · evidence {} {}",
                fit(&e.metric, 24),
                e.status.as_deref().map(|s| fit(s, 12)).unwrap_or_default()
            ),
            (None, Some(g)) => format!(" · gap: {}", fit(g, 60)),
            _ => String::new(),
        };
        let second = format!(
            "  ↩ {} · {}{ev}",
            fit(&a.reverse.describe(), 50),
            fit(&a.reason, 80)
        );
        lines.push(Line::from(Span::styled(
            fit(&second, w),
            live(t.muted, m, t),
        )));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled("no requests", t.muted)));
    }
    f.render_widget(Paragraph::new(lines).block(block), area);
}
