//! Audit events: who changed what, when, why, and how to undo it. Pure data.

use super::action::Action;
use super::approval::Actor;
use super::ids::{ApprovalId, AuditId, FlagKey, Revision};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// An action was applied to flag state.
    Applied,
    /// An action became an approval request.
    Requested,
    Approved,
    Rejected,
    Expired,
    /// A flag definition was created or replaced.
    Defined,
    /// The guardrails of a cohort one window after a change to it (`follows` names the change).
    Evidence,
    /// An event from the external flag store's own log (e.g. a change made in Unleash's UI).
    External,
    /// A token was minted (its name and role; never the secret).
    TokenAdded,
    /// The external flag store got a change but did not answer; flagtop is reading back what
    /// it did. A later `applied`/`approved` (or `not_applied`) event settles it.
    OutcomeUnknown,
    /// A change flagtop sent was confirmed NOT to have been applied by the external store.
    NotApplied,
}

/// A "did it work?" check one guardrail window after a change that reduced a guarded cohort.
/// Persisted with the change that schedules it, so a restart does not lose it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceDue {
    /// The audit event of the change.
    pub follows: AuditId,
    pub action: Action,
    /// Cohorts whose guardrails to report (all guarded cohorts for flag-wide actions).
    pub cohorts: Vec<String>,
    pub due: DateTime<Utc>,
    /// When the change was applied (for "served 0/min since …"); absent in checks stored by
    /// older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: AuditId,
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    pub actor: Actor,
    /// Where it came from: `tui`, `cli`, `api`, `agent`, `engine`, `file`.
    pub source: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<FlagKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<Action>,
    /// A short summary of the affected state before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalId>,
    /// Guardrail readings of the affected cohort when the action was taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<super::approval::Evidence>,
    pub revision: Revision,
    /// For `evidence` events: the audit event whose effect they report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<AuditId>,
    /// The idempotency key of the request that caused it, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}
