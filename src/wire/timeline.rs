//! The incident record (`flagtop timeline`, see `cli::timeline`; the TUI's `:timeline`): the
//! release decisions of a window in order — the signal (breach, values, samples), proposals
//! (who, evidence, gap), approvals and rejections (who, when, reason), changes (before → after,
//! reverse) and the evidence after each change — built from the audit trail and the approval
//! queue, as Markdown (a postmortem appendix) or JSON. Pure: it must not connect, print or read
//! a clock. In `wire` so the TUI (rank 3) and `status`/`cli` share it.

use crate::domain::{Action, ApprovalRequest, AuditEvent, AuditKind, EnvKey, Evidence, FlagKey};
use crate::sanitize::clean;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

mod markdown;
pub use markdown::to_markdown;

/// At most this many entries in one record (the CLI reads at most `MAX_EVENTS` audit events).
pub const MAX_ENTRIES: usize = 2000;
/// The most audit events one `flagtop timeline` reads.
pub const MAX_EVENTS: usize = 5000;
/// Longest text kept of any field (reasons, names, gaps), in characters.
const MAX_TEXT: usize = 300;

/// What the record covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub flag: Option<FlagKey>,
    pub env: Option<EnvKey>,
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A guardrail breach reported with a decision (its values and samples).
    Signal,
    /// An action became a request (a proposal) for another person.
    Proposal,
    /// A request approved: its action applied.
    Approval,
    Rejection,
    Expiry,
    /// An action applied directly.
    Change,
    /// The guardrails of the affected cohort one window after a change.
    Evidence,
    /// A request closed without a decision of its own (superseded by a direct change).
    Closed,
    /// A change sent to the external flag store whose outcome was unknown, or not applied.
    Unsettled,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Signal => "signal",
            EntryKind::Proposal => "proposal",
            EntryKind::Approval => "approval",
            EntryKind::Rejection => "rejection",
            EntryKind::Expiry => "expiry",
            EntryKind::Change => "change",
            EntryKind::Evidence => "evidence",
            EntryKind::Closed => "closed",
            EntryKind::Unsettled => "unsettled",
        }
    }
}

/// One line of the record. Every string is inert (`sanitize::clean`) and bounded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub kind: EntryKind,
    /// The audit event it comes from (none for a request closed without one).
    pub audit_id: Option<u64>,
    pub flag: Option<String>,
    pub env: Option<String>,
    pub who: String,
    /// As people read it: `person`, `agent`, `automation`, `flag store` or `system`.
    pub who_kind: &'static str,
    /// What happened in one line (`rollback checkout-v2/eu-west in production`, or the breach).
    pub what: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_gap: Option<String>,
    /// For evidence: the audit id of the change it follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows: Option<u64>,
}

/// The record: the window and its entries in order (oldest first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub window: Window,
    pub entries: Vec<Entry>,
    /// Entries left out past `MAX_ENTRIES`.
    pub left_out: usize,
}

fn text(s: &str) -> String {
    clean(s, MAX_TEXT)
}

fn compact(v: &Option<Value>) -> Option<String> {
    v.as_ref()
        .filter(|v| !v.is_null())
        .map(|v| text(&v.to_string()))
}

use crate::domain::guardrail::fmt_value as num;

/// `p95_latency_ms eu-west breached: 812 (limit 732, baseline 610; 1200 samples over 300 s)`;
/// the whole cohort's value too when known (after a rollback the candidate serves nobody).
/// Exposure evidence (after a narrowed rollback) is evaluations per minute, see
/// [`describe_exposure`].
pub fn describe_evidence(e: &Evidence) -> String {
    if e.metric == EXPOSURE_EVIDENCE {
        return describe_exposure(e);
    }
    let cohort = e
        .cohort_value
        .map_or_else(String::new, |v| format!("; whole cohort {}", num(Some(v))));
    text(&format!(
        "{} {} {}: {} (limit {}, baseline {}; {} samples over {} s{cohort})",
        e.metric,
        e.cohort,
        e.status.as_deref().unwrap_or("?"),
        num(e.candidate),
        num(e.threshold),
        num(e.baseline),
        e.samples,
        e.window_secs
    ))
}

/// The metric name of the evidence that says whether a narrowed rollback moved the traffic.
const EXPOSURE_EVIDENCE: &str = "exposure";

/// `exposure eu-west traffic moved: candidate 0/min, was 1,443/min (the cohort 11,700/min, over
/// 60 s windows)`: its `candidate`, `baseline` and `samples` are evaluations per minute, not a
/// guardrail's value, limit and sample count ("0.0000 (limit 0.0000 …" said nothing).
fn describe_exposure(e: &Evidence) -> String {
    let per_min = |v: Option<f64>| {
        v.filter(|x| x.is_finite()).map_or_else(
            || "n/a".to_string(),
            |x| {
                format!(
                    "{}/min",
                    crate::wire::exposure::fmt_count(x.max(0.0).round() as u64)
                )
            },
        )
    };
    text(&format!(
        "{} {} {}: candidate {}, was {} (the cohort {}/min, over {} s windows)",
        e.metric,
        e.cohort,
        e.status.as_deref().unwrap_or("?"),
        per_min(e.candidate),
        per_min(e.baseline),
        crate::wire::exposure::fmt_count(e.samples),
        e.window_secs
    ))
}

fn in_window(e: &AuditEvent, w: &Window) -> bool {
    e.at >= w.since
        && e.at <= w.until
        && w.flag.as_ref().is_none_or(|f| e.flag.as_ref() == Some(f))
        && w.env
            .as_ref()
            .is_none_or(|env| e.action.as_ref().is_some_and(|a| a.env() == env))
}

/// Build the record of `window` from audit events (any order) and the approval queue.
pub fn build(events: &[AuditEvent], approvals: &[ApprovalRequest], window: Window) -> Timeline {
    let mut events: Vec<&AuditEvent> = events.iter().filter(|e| in_window(e, &window)).collect();
    events.sort_by_key(|e| (e.at, e.id));
    events.dedup_by_key(|e| e.id);
    let mut entries = Vec::new();
    let mut signalled = BTreeSet::new();
    for e in events {
        let Some(kind) = entry_kind(e.kind) else {
            continue;
        };
        let action = e.action.as_ref();
        let base = Entry {
            at: e.at,
            kind,
            audit_id: Some(e.id.0),
            flag: e.flag.as_ref().map(|f| text(f)),
            env: action.map(|a| text(a.env())),
            who: text(&e.actor.name),
            who_kind: e.actor.kind(),
            what: action.map_or_else(|| text(&e.reason), |a| text(&a.describe())),
            reason: text(&e.reason),
            approval: e.approval.as_ref().map(|a| text(a.as_str())),
            before: None,
            after: None,
            reverse: None,
            evidence: Vec::new(),
            evidence_gap: None,
            follows: e.follows.map(|f| f.0),
        };
        // The signal first: each breach once, as reported with the first decision about it.
        if kind != EntryKind::Evidence {
            for ev in e
                .evidence
                .iter()
                .filter(|x| x.status.as_deref() == Some("breached"))
            {
                let key = (
                    e.flag.clone(),
                    base.env.clone(),
                    ev.metric.clone(),
                    ev.cohort.clone(),
                );
                if signalled.insert(key) {
                    entries.push(Entry {
                        kind: EntryKind::Signal,
                        who: String::new(),
                        who_kind: "system",
                        what: describe_evidence(ev),
                        reason: String::new(),
                        approval: None,
                        follows: None,
                        ..base.clone()
                    });
                }
            }
        }
        let mut entry = base;
        entry.evidence = e.evidence.iter().map(describe_evidence).collect();
        match kind {
            // What evidence says is its reason ("evidence after #4: … recovered …").
            EntryKind::Evidence => {
                entry.what = std::mem::take(&mut entry.reason);
            }
            EntryKind::Change | EntryKind::Approval | EntryKind::Unsettled => {
                entry.before = compact(&e.before);
                entry.after = compact(&e.after);
                entry.reverse = e.reverse.as_ref().map(|r| text(&r.describe()));
            }
            EntryKind::Proposal => {
                let req = e
                    .approval
                    .as_ref()
                    .and_then(|id| approvals.iter().find(|a| &a.id == id));
                entry.evidence_gap = req.and_then(|a| a.evidence_gap.as_deref()).map(text);
                entry.reverse = req
                    .map(|a| &a.reverse)
                    .or(e.reverse.as_ref())
                    .map(|r: &Action| text(&r.describe()));
            }
            _ => {}
        }
        entries.push(entry);
    }
    entries.extend(closed_requests(approvals, &window, &entries));
    entries.sort_by_key(|e| e.at); // stable: same-time entries keep the audit's order
    let left_out = entries.len().saturating_sub(MAX_ENTRIES);
    entries.truncate(MAX_ENTRIES);
    Timeline {
        window,
        entries,
        left_out,
    }
}

/// Requests decided in the window that no audit event of theirs reports (superseded ones).
fn closed_requests(approvals: &[ApprovalRequest], w: &Window, seen: &[Entry]) -> Vec<Entry> {
    let reported = |id: &str| {
        seen.iter().any(|e| {
            e.approval.as_deref() == Some(id)
                && matches!(
                    e.kind,
                    EntryKind::Approval | EntryKind::Rejection | EntryKind::Expiry
                )
        })
    };
    approvals
        .iter()
        .filter_map(|a| {
            let at = a.decided_at?;
            let in_scope = at >= w.since
                && at <= w.until
                && w.flag.as_ref().is_none_or(|f| a.action.flag() == Some(f))
                && w.env.as_ref().is_none_or(|e| a.action.env() == e);
            let id = text(a.id.as_str());
            (in_scope && !reported(&id)).then(|| Entry {
                at,
                kind: EntryKind::Closed,
                audit_id: None,
                flag: a.action.flag().map(|f| text(f)),
                env: Some(text(a.action.env())),
                who: a
                    .decided_by
                    .as_ref()
                    .map_or_else(String::new, |d| text(&d.name)),
                who_kind: a.decided_by.as_ref().map_or("system", |d| d.kind()),
                what: text(&format!("request closed: {}", a.action.describe())),
                reason: a.decision_reason.as_deref().map_or_else(String::new, text),
                approval: Some(id),
                before: None,
                after: None,
                reverse: None,
                evidence: Vec::new(),
                evidence_gap: None,
                follows: None,
            })
        })
        .collect()
}

fn entry_kind(k: AuditKind) -> Option<EntryKind> {
    Some(match k {
        AuditKind::Applied => EntryKind::Change,
        AuditKind::Requested => EntryKind::Proposal,
        AuditKind::Approved => EntryKind::Approval,
        AuditKind::Rejected => EntryKind::Rejection,
        AuditKind::Expired => EntryKind::Expiry,
        AuditKind::Evidence => EntryKind::Evidence,
        AuditKind::OutcomeUnknown | AuditKind::NotApplied => EntryKind::Unsettled,
        AuditKind::Defined | AuditKind::External | AuditKind::TokenAdded => return None,
    })
}

/// The record as JSON (exact; the CLI makes it safe for a terminal when it prints).
pub fn to_json(t: &Timeline) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

#[cfg(test)]
#[path = "timeline/tests.rs"]
mod tests;
