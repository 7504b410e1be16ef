//! Owns the Activity pane: the audit trail, newest first, each entry with its reverse; a new
//! entry moves the lines below it down as a whole (the terminal scrolls them, see
//! `tui::screen`). Must not mutate the model or hard-code colours.

use super::super::model::{Model, Pane};
use super::super::theme::Theme;
use super::{live, pane_block, window};
use crate::sanitize::clean;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Returns the rows that move together when an entry arrives (the pane without its top and
/// bottom border), for the terminal to scroll.
pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) -> Rect {
    let block = pane_block(Pane::Activity, String::new(), m, t);
    let w = usize::from(area.width.saturating_sub(2));
    let room = usize::from(area.height.saturating_sub(2));
    let (start, end) = window(m.audit_sel, m.audit.len(), room);
    let mut lines = Vec::new();
    for (i, e) in m.audit.iter().enumerate().take(end).skip(start) {
        let sel = i == m.audit_sel && m.focus == Pane::Activity;
        let what = e.action.as_ref().map(|a| a.describe()).unwrap_or_else(|| format!("{:?}", e.kind).to_lowercase());
        let rev = e.reverse.as_ref().map(|r| format!(" ↩ {}", r.verb())).unwrap_or_default();
        let text = format!(
            "#{} {} {} {}: {}{rev} — {}",
            e.id,
            e.at.format("%H:%M:%S"),
            clean(&e.actor.name, 20),
            format!("{:?}", e.kind).to_lowercase(),
            clean(&what, 60),
            clean(&e.reason, 60)
        );
        let style = if sel { t.selection } else { live(t.base, m, t) };
        lines.push(Line::from(Span::styled(clean(&text, w), style)));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled("no activity yet", t.muted)));
    }
    f.render_widget(Paragraph::new(lines).block(block), area);
    Rect { y: area.y.saturating_add(1), height: area.height.saturating_sub(2), ..area }
}
