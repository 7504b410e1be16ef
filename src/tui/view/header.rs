//! Owns the one-line header: backend, environment (+protected/frozen), identity and role,
//! connection state with data age, the incident banner while a guardrail is breached, revision. Must not mutate the model or hard-code colours.

use super::super::model::{Conn, Model};
use super::super::theme::Theme;
use super::human_secs;
use crate::tui::text::{fit, num};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The incident banner while a guardrail in the environment on screen is breached:
/// `✗ checkout-v2/eu-west p95 455 vs ≤372 (+1) — ! to jump`.
pub fn banner(m: &Model) -> Option<String> {
    banner_as(m, true)
}

/// The banner, with the reading's values or without them (`✗ checkout-v2/eu-west p95 — ! to
/// jump`, when the header has no room for them).
fn banner_as(m: &Model, values: bool) -> Option<String> {
    let here = m.breaches_here();
    let worst = here.first()?;
    let r = worst.reading;
    let metric = match r.metric.split('_').next() {
        Some(p)
            if p.len() > 1 && p.starts_with('p') && p[1..].chars().all(|c| c.is_ascii_digit()) =>
        {
            p.to_string()
        }
        _ => fit(&r.metric, 20),
    };
    let cmp = if r.rule.trim_start().starts_with(">=") {
        "≥"
    } else {
        "≤"
    };
    let more = if here.len() > 1 {
        format!(" (+{})", here.len() - 1)
    } else {
        String::new()
    };
    let reading = if values {
        format!(" {} vs {cmp}{}", num(r.value), num(r.threshold))
    } else {
        String::new()
    };
    Some(format!(
        "✗ {}/{} {metric}{reading}{more} — ! to jump",
        fit(&r.flag, 40),
        fit(&r.cohort, 30),
    ))
}

pub fn render(f: &mut Frame, area: Rect, m: &Model, t: &Theme) {
    // Most important first: at 80 columns the tail is cut, never the connection state.
    let mut s = vec![Span::styled("flagtop ", t.title)];
    match &m.data.conn {
        Conn::Live => s.push(Span::styled("● live", t.healthy)),
        Conn::Connecting => s.push(Span::styled("◌ connecting", t.warning)),
        Conn::Unreachable { .. } => s.push(Span::styled("✕ unreachable", t.danger)),
        Conn::Reconnecting { .. } => {
            let age = human_secs(m.stale_secs().unwrap_or(0));
            s.push(Span::styled(
                format!("◌ reconnecting (stale {age})"),
                t.danger,
            ));
        }
    }
    let banner = banner(m);
    // Under 100 columns with an incident, the environment goes without its label.
    s.push(Span::styled(
        if banner.is_some() && area.width < 100 {
            "  "
        } else {
            "  env "
        },
        t.muted,
    ));
    s.push(Span::styled(fit(&m.env, 30), t.title));
    if m.is_frozen() {
        s.push(Span::styled(" ❄ FROZEN", t.warning));
    }
    // A hook that cannot reach its receiver: people who must act are not being told.
    if !m.data.webhooks_failing.is_empty() {
        s.push(Span::styled("  ⚠ webhook failing", t.danger));
    }
    // The incident comes before everything that can wait: at 80 columns it is still whole —
    // without the values when they do not fit, cut with `…` only when even that does not.
    if let Some(text) = banner {
        let used: usize = s.iter().map(|x| x.width()).sum::<usize>() + 2;
        let room = usize::from(area.width).saturating_sub(used);
        let text = if text.chars().count() <= room {
            text
        } else {
            fit(&banner_as(m, false).unwrap_or(text), room)
        };
        s.push(Span::raw("  "));
        s.push(Span::styled(text, t.breached));
    }
    if m.is_protected() {
        s.push(Span::styled(" (protected)", t.muted));
    }
    s.push(Span::styled(
        format!(
            "  {} ({})",
            fit(&m.data.identity.name, 30),
            m.data.identity.role.as_str()
        ),
        t.base,
    ));
    // Flags held by an external store (Unleash): whether flagtop is in step with it, and how
    // long applications take to see a change there.
    if m.data.flag_store != "embedded" && !m.data.flag_store.is_empty() {
        let store = fit(&m.data.flag_store, 20);
        match &m.data.store.error {
            Some(e) => s.push(Span::styled(
                format!("  {store} sync failing: {}", fit(e, 60)),
                t.danger,
            )),
            None => {
                // The control plane re-announces a healthy sync every 30 s: older than a minute
                // means it has not heard from the store.
                let age = m
                    .data
                    .store
                    .synced_at
                    .map(|at| (m.now - at).num_seconds().max(0));
                let bound = m
                    .data
                    .propagation_secs
                    .map(|p| format!(", apps see changes ≤{p}s"))
                    .unwrap_or_default();
                match age {
                    Some(a) if a > 60 => s.push(Span::styled(
                        format!("  {store} synced {} ago{bound}", human_secs(a)),
                        t.warning,
                    )),
                    Some(_) => s.push(Span::styled(format!("  {store} in sync{bound}"), t.muted)),
                    None => s.push(Span::styled(
                        format!("  {store} not synced yet{bound}"),
                        t.warning,
                    )),
                }
            }
        }
    }
    s.push(Span::styled(
        format!("  {}  rev {}", m.data.source_label(40), m.data.revision),
        t.muted,
    ));
    f.render_widget(Paragraph::new(Line::from(s)), area);
}
