//! Owns the one-line header: backend, environment (+protected/frozen), identity and role,
//! connection state with data age, revision. Must not mutate the model or hard-code colours.

use super::super::model::{Conn, Model};
use super::super::theme::Theme;
use super::human_secs;
use crate::sanitize::clean;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) {
    // Most important first: at 80 columns the tail is cut, never the connection state.
    let mut s = vec![Span::styled("flagtop ", t.title)];
    match &m.conn {
        Conn::Live => s.push(Span::styled("● live", t.healthy)),
        Conn::Connecting => s.push(Span::styled("◌ connecting", t.warning)),
        Conn::Reconnecting { .. } => {
            let age = human_secs(m.stale_secs().unwrap_or(0));
            s.push(Span::styled(format!("◌ reconnecting (stale {age})"), t.danger));
        }
    }
    s.push(Span::styled("  env ", t.muted));
    s.push(Span::styled(clean(&m.env, 30), t.title));
    if m.is_protected() {
        s.push(Span::styled(" (protected)", t.muted));
    }
    if m.is_frozen() {
        s.push(Span::styled(" ❄ FROZEN", t.warning));
    }
    s.push(Span::styled(format!("  {} ({})", clean(&m.identity.name, 30), m.identity.role.as_str()), t.base));
    s.push(Span::styled(format!("  {}  rev {}", clean(&m.backend_label, 40), m.revision), t.muted));
    f.render_widget(Paragraph::new(Line::from(s)), area);
}
