//! Owns opening the details overlay (Enter on the focused pane's selected item) and its keys:
//! j/k and the arrows scroll a row, PageUp/PageDown a screen, g/G to either end; Esc, Enter or q
//! close it; other keys do nothing (nothing is sent from here). It must not draw or do I/O.

use crate::domain::CohortName;
use crate::domain::guardrail::SeriesKey;
use crate::tui::details::{Details, Target, content};
use crate::tui::dialog::Dialog;
use crate::tui::keys::Cmd;
use crate::tui::model::{Model, Pane};
use crate::tui::text::{fit, num};
use crossterm::event::{KeyCode, KeyEvent};

/// Rows a PageUp/PageDown moves.
const PAGE: usize = 10;

fn text(title: String, lines: Vec<String>) -> Target {
    Target::Text { title, lines }
}

/// Enter outside dialogs: details of the selected item (nothing when there is none).
pub fn open(m: &mut Model) {
    let target = match m.focus {
        Pane::Flags | Pane::Ladder => match m.selected_flag_key() {
            Some(k) => Target::Flag(k.clone()),
            None => return,
        },
        Pane::Guardrails => match m.selected_reading() {
            Some(r) => Target::Reading(SeriesKey {
                flag: r.flag.clone(),
                env: r.env.clone(),
                metric: r.metric.clone(),
                cohort: CohortName::from(r.cohort.as_str()),
            }),
            None => return,
        },
        Pane::Approvals => match m.selected_approval() {
            Some(a) => {
                let mut lines = vec![
                    format!("action:  {}", fit(&a.action.describe(), 100)),
                    format!("reverse: {}", fit(&a.reverse.describe(), 100)),
                    format!("reason:  {}", fit(&a.reason, 200)),
                    format!(
                        "by: {} ({})   state: {}",
                        fit(&a.requested_by.name, 40),
                        a.requested_by.kind(),
                        a.state.as_str()
                    ),
                    format!(
                        "created {}   expires {}",
                        a.created_at.format("%H:%M:%S"),
                        a.expires_at.format("%H:%M:%S")
                    ),
                ];
                for e in a.evidence.iter().take(20) {
                    lines.push(format!(
                        "evidence: {} {} value {} vs {} (n={})",
                        fit(&e.metric, 30),
                        fit(&e.cohort, 30),
                        num(e.candidate),
                        num(e.baseline),
                        e.samples
                    ));
                }
                if let Some(g) = &a.evidence_gap {
                    lines.push(format!("evidence gap: {}", fit(g, 200)));
                }
                text(format!("request {}", fit(&a.id, 40)), lines)
            }
            None => return,
        },
        Pane::Activity => match m.selected_audit() {
            Some(e) => Target::Audit(e.id),
            None => return,
        },
    };
    m.dialog = Some(Dialog::Details(Details { target, scroll: 0 }));
}

/// A key while the overlay is open; `len` is how many rows it has now.
pub fn on_key(m: &mut Model, k: &KeyEvent, dcmd: Option<Cmd>) {
    let len = match &m.dialog {
        Some(Dialog::Details(d)) => content(m, d).1.len(),
        _ => return,
    };
    let Some(Dialog::Details(d)) = m.dialog.as_mut() else {
        return;
    };
    let last = len.saturating_sub(1);
    let cleanup = d.target == Target::Cleanup;
    match (dcmd, k.code) {
        (Some(Cmd::Confirm), _) if cleanup => {
            let row = d.scroll;
            m.dialog = None;
            select_from_cleanup(m, row);
        }
        (Some(Cmd::Cancel | Cmd::Confirm), _) | (_, KeyCode::Char('q')) => m.dialog = None,
        (_, KeyCode::Up | KeyCode::Char('k')) => d.scroll = d.scroll.saturating_sub(1),
        (_, KeyCode::Down | KeyCode::Char('j')) => d.scroll = (d.scroll + 1).min(last),
        (_, KeyCode::PageUp) => d.scroll = d.scroll.saturating_sub(PAGE),
        (_, KeyCode::PageDown) => d.scroll = (d.scroll + PAGE).min(last),
        (_, KeyCode::Home | KeyCode::Char('g')) => d.scroll = 0,
        (_, KeyCode::End | KeyCode::Char('G')) => d.scroll = last,
        _ => {}
    }
}

/// Enter in the Cleanup view: the flag on its top row becomes the selection in Flags (archived
/// flags and any filter that would hide it give way).
fn select_from_cleanup(m: &mut Model, row: usize) {
    let Some(key) = crate::tui::details::cleanup::flag_at(m, row) else {
        return;
    };
    m.focus = Pane::Flags;
    if !m.select_flag(&key) {
        m.flags.filter.clear();
        m.flags.stage = None;
        m.refilter();
        m.select_flag(&key);
    }
}
