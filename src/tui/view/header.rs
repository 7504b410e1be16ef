//! Owns the one-line header: backend, environment (+protected/frozen), identity and role,
//! connection state with data age, revision. Must not mutate the model or hard-code colours.

use super::super::model::{Conn, Model};
use super::super::theme::Theme;
use super::human_secs;
use crate::tui::text::fit;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) {
    // Most important first: at 80 columns the tail is cut, never the connection state.
    let mut s = vec![Span::styled("flagtop ", t.title)];
    match &m.data.conn {
        Conn::Live => s.push(Span::styled("● live", t.healthy)),
        Conn::Connecting => s.push(Span::styled("◌ connecting", t.warning)),
        Conn::Reconnecting { .. } => {
            let age = human_secs(m.stale_secs().unwrap_or(0));
            s.push(Span::styled(format!("◌ reconnecting (stale {age})"), t.danger));
        }
    }
    s.push(Span::styled("  env ", t.muted));
    s.push(Span::styled(fit(&m.env, 30), t.title));
    if m.is_protected() {
        s.push(Span::styled(" (protected)", t.muted));
    }
    if m.is_frozen() {
        s.push(Span::styled(" ❄ FROZEN", t.warning));
    }
    s.push(Span::styled(format!("  {} ({})", fit(&m.data.identity.name, 30), m.data.identity.role.as_str()), t.base));
    // Flags held by an external store (Unleash): whether flagtop is in step with it, and how
    // long applications take to see a change there.
    if m.data.flag_store != "embedded" && !m.data.flag_store.is_empty() {
        let store = fit(&m.data.flag_store, 20);
        match &m.data.store.error {
            Some(e) => s.push(Span::styled(format!("  {store} sync failing: {}", fit(e, 60)), t.danger)),
            None => {
                // The control plane re-announces a healthy sync every 30 s: older than a minute
                // means it has not heard from the store.
                let age = m.data.store.synced_at.map(|at| (m.now - at).num_seconds().max(0));
                let bound = m.data.propagation_secs.map(|p| format!(", apps see changes ≤{p}s")).unwrap_or_default();
                match age {
                    Some(a) if a > 60 => s.push(Span::styled(format!("  {store} synced {} ago{bound}", human_secs(a)), t.warning)),
                    Some(_) => s.push(Span::styled(format!("  {store} in sync{bound}"), t.muted)),
                    None => s.push(Span::styled(format!("  {store} not synced yet{bound}"), t.warning)),
                }
            }
        }
    }
    s.push(Span::styled(format!("  {}  rev {}", fit(&m.data.backend_label, 40), m.data.revision), t.muted));
    f.render_widget(Paragraph::new(Line::from(s)), area);
}
