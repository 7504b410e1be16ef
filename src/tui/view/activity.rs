//! Owns the Activity pane: the audit trail, newest first, each entry with its reverse; a new
//! entry moves the lines below it down as a whole (the terminal scrolls them, see
//! `tui::screen`). Must not mutate the model or hard-code colours.

use super::super::model::{Model, Pane};
use super::super::theme::Theme;
use super::{live, pane_block, put, window};
use crate::tui::text::fit;
use ratatui::Frame;
use ratatui::layout::Rect;

/// Returns the rows that move together when an entry arrives (the pane without its top and
/// bottom border), for the terminal to scroll.
pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) -> Rect {
    let room = usize::from(area.height.saturating_sub(2));
    let (start, end) = window(m.activity.sel.row(), m.data.audit.len(), room);
    let more = super::approvals::more(start, end, m.data.audit.len());
    let block = pane_block(
        Pane::Activity,
        more.trim_start_matches(" · ").to_string(),
        m,
        t,
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    let w = usize::from(inner.width);
    let buf = f.buffer_mut();
    // Line by line straight into the buffer (a Paragraph costs extra passes over the pane).
    for (y, (i, e)) in
        (inner.y..inner.bottom()).zip(m.data.audit.iter().enumerate().take(end).skip(start))
    {
        let sel = i == m.activity.sel.row() && m.focus == Pane::Activity;
        let what = e
            .action
            .as_ref()
            .map(|a| a.describe())
            .unwrap_or_else(|| format!("{:?}", e.kind).to_lowercase());
        let rev = e
            .reverse
            .as_ref()
            .map(|r| format!(" ↩ {}", r.verb()))
            .unwrap_or_default();
        let text = format!(
            "#{} {} {} {}: {}{rev} — {}",
            e.id,
            e.at.format("%H:%M:%S"),
            fit(&e.actor.name, 20),
            format!("{:?}", e.kind).to_lowercase(),
            fit(&what, 60),
            fit(&e.reason, 60)
        );
        let style = if sel { t.selection } else { live(t.base, m, t) };
        put(buf, inner.x, y, &fit(&text, w), inner.width, style);
    }
    if m.data.audit.is_empty() && inner.height > 0 {
        put(
            buf,
            inner.x,
            inner.y,
            "no activity yet",
            inner.width,
            t.muted,
        );
    }
    Rect {
        y: area.y.saturating_add(1),
        height: area.height.saturating_sub(2),
        ..area
    }
}
