//! Owns the content of two overlays: the Cleanup view (`:cleanup` or its key: the flags ready
//! for cleanup or stale, stale first, with owner, age and reason; Enter selects the highlighted one's
//! flag in Flags) and `:timeline` (the selected flag's release record of the last hour, as
//! `flagtop timeline` prints it, built from what the TUI holds). Reads only; every string cut.

use super::Row;
use crate::domain::{Flag, FlagKey, LifecycleStage};
use crate::tui::model::Model;
use crate::tui::text::{fit, life_label};
use crate::wire::timeline::{Window, build, to_markdown};

/// At most this many flags in the Cleanup view (the rest is counted).
pub const MAX_CLEANUP: usize = 500;

/// The flags the Cleanup view lists, in its order: stale first, then ready, each by key.
pub fn flags(m: &Model) -> Vec<&Flag> {
    let mut out: Vec<(u8, &Flag)> = m
        .data
        .state
        .flags
        .values()
        .filter_map(|f| match m.stage_of(f) {
            LifecycleStage::Stale => Some((0, &**f)),
            LifecycleStage::ReadyForCleanup => Some((1, &**f)),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| (a.0, &a.1.key).cmp(&(b.0, &b.1.key)));
    out.into_iter().map(|(_, f)| f).collect()
}

/// The key of the flag on row `row` of the Cleanup view.
pub fn flag_at(m: &Model, row: usize) -> Option<FlagKey> {
    flags(m).get(row).map(|f| f.key.clone())
}

pub fn cleanup(m: &Model) -> (String, Vec<Row>) {
    let all = flags(m);
    let title = format!(
        "cleanup: {} flags ready or stale · Enter selects the highlighted one",
        all.len()
    );
    if all.is_empty() {
        let rules = &m.flags.rules;
        return (
            title,
            vec![Row::Muted(format!(
                "nothing to clean up: no flag released for {}+ days, none stale",
                rules.ready_after_days
            ))],
        );
    }
    let mut rows: Vec<Row> = all
        .iter()
        .take(MAX_CLEANUP)
        .map(|f| {
            let a = m.assess(f);
            let age = a
                .age_days
                .map_or_else(|| "age ?".to_string(), |d| format!("{d}d"));
            let owner = if f.owner.is_empty() {
                "no owner".to_string()
            } else {
                fit(&f.owner, 24)
            };
            let line = format!(
                "{:<8} {}  · {owner} · {age} · {}",
                life_label(a.stage),
                fit(&f.key, 40),
                fit(&a.reason, 120)
            );
            Row::Text(line)
        })
        .collect();
    if all.len() > MAX_CLEANUP {
        rows.push(Row::Muted(format!(
            "… {} more flags not listed",
            all.len() - MAX_CLEANUP
        )));
    }
    (title, rows)
}

/// The record of the last hour for `flag`, from the audit entries and requests the TUI holds.
pub fn timeline(m: &Model, flag: &FlagKey) -> (String, Vec<Row>) {
    let window = Window {
        since: m.now - chrono::Duration::hours(1),
        until: m.now,
        flag: Some(flag.clone()),
        env: None,
    };
    let t = build(&m.data.audit, &m.data.approvals, window);
    let mut rows: Vec<Row> = to_markdown(&t)
        .lines()
        .map(|l| match l {
            l if l.starts_with('#') => Row::Head(fit(l.trim_start_matches('#').trim(), 400)),
            l => Row::Text(fit(l, 400)),
        })
        .collect();
    rows.push(Row::Muted(format!(
        "from the newest {} audit entries on screen; `flagtop timeline --flag {}` reads the whole trail",
        m.data.audit.len(),
        fit(flag, 60)
    )));
    (format!("timeline {} · last hour", fit(flag, 60)), rows)
}
