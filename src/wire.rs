//! The HTTP API's request and response bodies, shared by the control plane (server side) and
//! the client. Serde types only; no I/O. Documented in `docs/api.md`.

use crate::domain::{
    Action, Actor, ApprovalId, ApprovalRequest, AuditEvent, AuditId, CohortName, EnvKey,
    Environment, Evidence, Flag, FlagKey, GuardrailStatus, Revision,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

pub mod exposure;
pub mod timeline;
pub mod webhook;

/// `GET /v1/snapshot`: the full state at one revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub revision: Revision,
    pub server_time: DateTime<Utc>,
    pub identity: Actor,
    /// What backs the flags: `embedded` or `unleash`.
    #[serde(default)]
    pub flag_store: String,
    /// For an external flag store: when flagtop last confirmed it is in sync with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_store_synced_at: Option<DateTime<Utc>>,
    /// For an external flag store: its last sync error, if the latest attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_store_error: Option<String>,
    /// How long applications may take to see a change (Unleash SDKs poll every 15 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_secs: Option<u32>,
    pub environments: Vec<Environment>,
    pub frozen: BTreeSet<EnvKey>,
    pub flags: Vec<Arc<Flag>>,
    pub guardrails: Vec<GuardrailReading>,
    /// Pending requests and the most recently decided ones.
    pub approvals: Vec<ApprovalRequest>,
    /// The newest audit events, newest first.
    pub audit: Vec<AuditEvent>,
    /// Problems the operator should know about (e.g. a stored token disabled for its reserved name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Writes to the external flag store whose outcome flagtop is still finding out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unsettled: usize,
    /// What applications were served through OFREP, per flag, environment, cohort and
    /// variation (empty until an application evaluates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposure: Vec<ExposureCount>,
    /// The control plane's simulator makes up the traffic and the guardrail readings (`serve`
    /// without `--no-simulate`, the embedded demo): no real application is behind them.
    #[serde(default)]
    pub simulated: bool,
    /// The control plane's lifecycle rules (`[lifecycle]` in its `config.toml`; the defaults,
    /// 14 and 30 days, when it says nothing): every view judges stages by them.
    #[serde(default)]
    pub lifecycle_rules: crate::domain::LifecycleRules,
    /// Each webhook's health (queued, dropped, failing, the last attempt; see docs/webhooks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<webhook::HookHealth>,
}

/// Evaluations served for one flag, environment, cohort (None: no cohort matched) and variation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureCount {
    pub flag: FlagKey,
    pub env: EnvKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<CohortName>,
    pub variation: String,
    /// Served the cohort's variation (the candidate), not the fallthrough.
    pub exposed: bool,
    /// Since the control plane started.
    pub total: u64,
    /// In the last complete one-minute window, and so far in the current one.
    pub last_window: u64,
    pub this_window: u64,
    /// In the complete window before `last_window` (so that, one window after a change, what
    /// was served before it is still known).
    #[serde(default)]
    pub earlier_window: u64,
    /// When this series was last served (None: never since the control plane started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<DateTime<Utc>>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The current judgement of one guardrail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardrailReading {
    pub flag: FlagKey,
    pub env: EnvKey,
    pub metric: String,
    pub cohort: CohortName,
    /// Candidate value over the window (None: no data).
    pub value: Option<f64>,
    pub baseline: Option<f64>,
    /// The numeric limit the candidate is held to.
    pub threshold: Option<f64>,
    /// Human form of the rule, e.g. `<= +20% vs baseline`.
    pub rule: String,
    pub samples: u64,
    pub baseline_samples: u64,
    pub min_samples: u64,
    pub window_secs: u64,
    pub status: GuardrailStatus,
    /// Recent candidate values, oldest first (bounded).
    pub history: Vec<f64>,
    /// What the cohort's users experience now, candidate and baseline together (None: no data).
    /// After a narrowed rollback this is where the recovery shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort_value: Option<f64>,
    /// Set when the metric source failed or is down; the status is then `insufficient`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_error: Option<String>,
}

impl GuardrailReading {
    pub fn evidence(&self) -> Evidence {
        Evidence {
            metric: self.metric.clone(),
            cohort: self.cohort.to_string(),
            candidate: self.value,
            baseline: self.baseline,
            threshold: self.threshold,
            samples: self.samples,
            window_secs: self.window_secs,
            status: Some(self.status.as_str().to_string()),
            cohort_value: self.cohort_value,
        }
    }
}

/// One committed change, as sent on `GET /v1/stream` (`event: change`, `id: <revision>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub revision: Revision,
    pub at: DateTime<Utc>,
    /// Flags as they are after this change (whole flags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Arc<Flag>>,
    /// The full set of frozen environments, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen: Option<BTreeSet<EnvKey>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalRequest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit: Vec<AuditEvent>,
}

impl Change {
    /// A change that only records something in the audit (a definition, a settled outcome):
    /// no flag, freeze or approval in it.
    pub fn audit_only(revision: Revision, at: DateTime<Utc>, audit: AuditEvent) -> Change {
        Change {
            revision,
            at,
            flags: Vec::new(),
            frozen: None,
            approvals: Vec::new(),
            audit: vec![audit],
        }
    }
}

/// `event: guardrails` on the stream: readings whose value or status changed (no id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardrailUpdate {
    pub at: DateTime<Utc>,
    pub readings: Vec<GuardrailReading>,
    /// Exposure series that changed since the last update (every few seconds at most), as of `at`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposure: Vec<ExposureCount>,
}

/// `event: store` on the stream: the external flag store's sync state, when it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreStatus {
    pub synced_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// `event: hello` opens every stream; `event: reset` tells the client to fetch a new snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamHello {
    pub revision: Revision,
    /// The data dir's identity; event ids are `REVISION@EPOCH`, so a resume from another data
    /// dir is recognised and answered with a reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

/// `POST /v1/actions`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub action: Action,
    pub reason: String,
    /// The revision of the flag (or environment) the caller decided on; a newer one is a conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<Revision>,
    /// Where the request comes from: `tui`, `cli`, `api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// `POST /v1/proposals`: a recommendation (agents, automation, people). Always becomes a
/// pending request; never applied by this call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalRequest {
    pub action: Action,
    /// Optional; when given it must equal the reverse the control plane computes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<Action>,
    pub reason: String,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_gap: Option<String>,
}

/// `POST /v1/approvals/{id}/approve|reject`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The change is in force.
    Applied,
    /// The change became an approval request.
    Requested,
    /// An approval request was rejected (for decisions).
    Rejected,
}

/// The answer to an action, proposal or decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub outcome: OutcomeKind,
    pub revision: Revision,
    pub action: Action,
    pub reverse: Action,
    /// A ready-to-paste command line that undoes this change.
    pub reverse_command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_id: Option<AuditId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<ApprovalId>,
    /// Set when an idempotent retry returned the first outcome.
    #[serde(default)]
    pub replayed: bool,
}

/// Every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// For conflicts: the current revision of the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<Revision>,
}

/// `POST /v1/metrics`: samples pushed by applications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricBatch {
    pub samples: Vec<MetricSample>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    Candidate,
    Baseline,
}

/// One observation: `value` is the metric's mean over `count` observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSample {
    pub flag: FlagKey,
    pub env: EnvKey,
    pub metric: String,
    pub cohort: String,
    pub arm: Arm,
    pub value: f64,
    #[serde(default = "one")]
    pub count: u64,
    /// When it was observed; default now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

fn one() -> u64 {
    1
}

/// `POST /v1/metrics` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricAck {
    pub accepted: usize,
}

/// `GET /v1/audit` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Set when the search stopped at its scan limit before finding `limit` events: older
    /// events (ids below this) were not searched; ask again with `before=` this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searched_back_to: Option<u64>,
}

/// `GET /v1/approvals` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalList {
    pub approvals: Vec<ApprovalRequest>,
}

/// `PUT /v1/flags/{key}` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefineOutcome {
    /// `created`, `updated` or `unchanged`.
    pub result: String,
    pub revision: Revision,
}

/// `POST /v1/tokens` (admin)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub name: String,
    pub role: crate::domain::Role,
    /// For an `sdk` token (required there, refused for other roles): where it may evaluate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<crate::domain::EnvKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenCreated {
    pub name: String,
    pub role: crate::domain::Role,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<crate::domain::EnvKey>,
    /// Shown once; stored hashed.
    pub token: String,
}

/// `GET /v1/hello?nonce=N`: the proof that a server holds the per-start key of its endpoint
/// file — HMAC-SHA256 of the client's nonce under that key, hex. A client checks it before it
/// sends its token, so a local user squatting a dead server's port never receives one.
pub fn endpoint_proof(key: &str, nonce: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    ring::hmac::sign(&k, nonce.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `proof` answers `nonce` under `key` (constant time).
pub fn verify_endpoint_proof(key: &str, nonce: &str, proof: &str) -> bool {
    let want = endpoint_proof(key, nonce);
    want.len() == proof.len()
        && want
            .bytes()
            .zip(proof.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
