//! Owns the Ladder's exposure text: what a cohort's users were actually served
//! (`1,240/min on`, `no evaluations`) and, after a narrowed rollback, whether its traffic moved
//! (`eu-west: candidate served 0/min since 18:26:20, was 1,240/min`). Reads the model only; it
//! must not draw or mutate.

use crate::domain::{Action, AuditKind};
use crate::tui::model::Model;
use crate::wire::exposure::{flag_level, fmt_count};

/// The Ladder title's note when no cohort has counts: flag-level counts (Unleash's client
/// metrics have no cohorts) or ` · no evaluations`; empty when the cohorts have their cells.
pub fn title_note(m: &Model, flag: &str) -> String {
    if m.data.served(flag, &m.env, None).evaluated {
        return String::new();
    }
    match flag_level(m.data.exposure.values(), flag, &m.env) {
        Some((yes, all)) => format!(
            " · served {}/min of {}/min, no per-cohort counts",
            fmt_count(yes),
            fmt_count(all)
        ),
        None => " · no evaluations".into(),
    }
}

/// The cell after a cohort's gauge: candidate evaluations per minute and the variation served.
pub fn cell(m: &Model, flag: &str, cohort: &str) -> String {
    let s = m.data.served(flag, &m.env, Some(cohort));
    if !s.evaluated {
        return "no evaluations".into();
    }
    format!(
        "{}/min {}",
        fmt_count(s.candidate_per_min),
        s.variation.as_deref().unwrap_or("candidate")
    )
}

/// For a rolled-back cohort: whether candidate traffic stopped since the newest rollback of it
/// in the audit (None when that rollback is older than the audit the dashboard keeps).
pub fn moved(m: &Model, flag: &str, cohort: &str) -> Option<String> {
    let rollback = m.data.audit.iter().find(|e| {
        e.kind == AuditKind::Applied
            && matches!(&e.action, Some(Action::Rollback { flag: f, env, cohort: c })
                if f.as_str() == flag && *env == m.env && c.as_str() == cohort)
    })?;
    // What was served before, once the counts no longer hold it: the evidence recorded it.
    let recorded = m
        .data
        .audit
        .iter()
        .filter(|e| e.kind == AuditKind::Evidence && e.follows == Some(rollback.id))
        .flat_map(|e| &e.evidence)
        .find(|e| e.metric == "exposure" && e.cohort == cohort)
        .and_then(|e| e.baseline)
        .map(|b| b.max(0.0) as u64);
    let moved = m
        .data
        .served(flag, &m.env, Some(cohort))
        .since(rollback.at, m.data.exposure_at)
        .or_was(recorded);
    Some(moved.describe(cohort, rollback.at))
}
