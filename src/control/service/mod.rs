//! The door: the one path every change takes, whoever makes it (a key, the CLI, an agent, the
//! engine, an approval, a definition, the flag-store follower, evidence, seeding, tokens).
//! Authorise (`policy::may`) → validate → check the expected revision → decide (`policy::decide`)
//! → stage → (an external flag store call, outside the lock: `external`) → ONE commit
//! (`commit`: revision, audit, one store transaction, publish; everything undone on failure).
//! Holds the live state behind one mutex, never across an await or an external call.
//! Submitted actions are committed in groups (`group`): one fsync for all actions queued
//! while the previous group was written.

pub mod bounds;
mod caller;
mod commit;
mod decide;
mod define;
mod external;
mod group;
mod interest;
mod mutate;
mod read;
mod samples;
mod tokens;
mod upkeep;
pub mod webhooks;

pub use crate::control::error::{ErrorKind, ServiceError};
pub use caller::Caller;

use super::flags::{ExternalEvent, FlagStore, FlagStoreError};
use super::policy::{self, Decision, Op};
use super::store::{Backend, Commit, IdemRecord, TokenRecord};
use super::{auth, clock::Clock, metrics::Metrics};
use crate::domain::{
    Action, Actor, ApprovalId, ApprovalRequest, ApprovalState, AuditEvent, AuditId, AuditKind,
    DomainError, Environment, Evidence, EvidenceDue, Flag, FlagKey, Revision, Role, State,
};
use crate::wire::{
    ActionRequest, Change, DefineOutcome, GuardrailReading, GuardrailUpdate, Outcome, OutcomeKind,
    ProposalRequest, Snapshot,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Changes kept in memory for stream resumption with `Last-Event-ID`: at most this many, and
/// at most `RESUME_WINDOW_BYTES` of their JSON (a stream resumed from further back gets `reset`).
pub const RESUME_WINDOW: usize = 4096;
pub const RESUME_WINDOW_BYTES: usize = 8 << 20;
/// Audit events included in a snapshot.
pub const SNAPSHOT_AUDIT: usize = 200;
/// Audit rows one search reads at most (a flag's events older than that need `before=`).
pub const AUDIT_SCAN_LIMIT: usize = 100_000;
/// Decided approvals kept in a snapshot besides the pending ones.
pub const SNAPSHOT_DECIDED: usize = 50;
pub const MAX_REASON: usize = 2000;
/// Open requests at most; beyond this a new request is refused (429) until some are decided.
pub const MAX_PENDING: usize = 1000;
/// Decided requests kept in memory (all stay in the store).
pub const KEEP_DECIDED: usize = 500;
/// Idempotency records are kept this long; a retry after that is a new request.
pub const IDEMPOTENCY_TTL_HOURS: i64 = 24;
/// Environments one `sdk` token may name.
pub const MAX_TOKEN_ENVS: usize = 20;

/// What the stream carries.
#[derive(Debug, Clone)]
pub enum StreamMsg {
    Change(Arc<Published>),
    Guardrails(Arc<GuardrailUpdate>),
    Store(Arc<crate::wire::StoreStatus>),
    /// The webhooks' health, when a hook starts or stops failing.
    Webhooks(Arc<Vec<crate::wire::webhook::HookHealth>>),
}

/// A published change as streams send it: its revision and its JSON (made once for all of them,
/// boxed to hold no more than its length), kept in the resume window too.
#[derive(Debug)]
pub struct Published {
    pub revision: Revision,
    json: String,
}

impl Published {
    pub fn new(change: &Change) -> Published {
        Published {
            revision: change.revision,
            json: serde_json::to_string(change)
                .unwrap_or_default()
                .into_boxed_str()
                .into(),
        }
    }

    pub fn json(&self) -> &str {
        &self.json
    }
}

pub(super) struct Inner {
    pub state: State,
    pub approvals: BTreeMap<ApprovalId, ApprovalRequest>,
    pub store: Arc<dyn Backend>,
    /// Changes staged but not yet durable (empty whenever the lock is free).
    pending: commit::Pending,
    next_audit: u64,
    recent: VecDeque<Arc<Published>>,
    /// The JSON bytes `recent` holds.
    recent_bytes: usize,
    recent_audit: VecDeque<AuditEvent>,
    pub metrics: Metrics,
    pub readings: Vec<GuardrailReading>,
    /// Evidence checks due: one guardrail window after a change that reduced a guarded cohort.
    /// Persisted by the commit that schedules them (and removed by the one that records them).
    evidence_due: Vec<EvidenceDue>,
    idem_pruned_at: Option<DateTime<Utc>>,
    /// Flags with a write to the external flag store in flight (or unsettled): no other write
    /// to the store for them until it is settled, and the follower does not merge them.
    in_flight: std::collections::HashSet<FlagKey>,
    /// External writes whose outcome is not known yet (sent, no answer, read-back failed).
    unsettled: Vec<external::Unsettled>,
}

pub struct ControlPlane {
    pub(super) inner: Mutex<Inner>,
    /// Submissions waiting for their group commit.
    group: group::Queue,
    /// The store, for reads that need not wait for the lock (token look-ups on every request).
    store: Arc<dyn Backend>,
    pub clock: Arc<dyn Clock>,
    tx: broadcast::Sender<StreamMsg>,
    /// Ephemeral tokens (the embedded owner's), by hash; never written to disk.
    local_tokens: Mutex<HashMap<String, Actor>>,
    /// The external flag store (Unleash), when flags do not live in flagtop's own store.
    external: Option<Arc<dyn FlagStore>>,
    /// Last confirmed sync with the external store, and the last sync error.
    sync_status: Mutex<(Option<DateTime<Utc>>, Option<String>)>,
    /// How long approval requests stay open.
    pub approval_ttl: Duration,
    /// Which environments' readings the open streams want.
    interests: interest::Interests,
    /// Why some stored tokens are disabled (reserved names), for `status`.
    disabled_tokens: Vec<String>,
    /// What applications were served (OFREP evaluations), counted per flag, environment,
    /// cohort and variation; readings, not changes (they never pass the door).
    pub exposure: super::exposure::Exposure,
    /// Whether this plane's simulator makes up the traffic (`serve` without `--no-simulate`,
    /// the embedded demo): snapshots say so, and the TUI's header with them.
    simulated: std::sync::atomic::AtomicBool,
    /// The lifecycle rules (`[lifecycle]` in the control plane's `config.toml`): snapshots carry
    /// them, so that `status`, `lifecycle`, the TUI and the API judge stages alike.
    lifecycle_rules: Mutex<crate::domain::LifecycleRules>,
    /// The webhooks' health as last read from the store (`webhooks::spawn_health`).
    hook_health: Mutex<Vec<crate::wire::webhook::HookHealth>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A summary of what an action touches, for the audit's before/after.
fn summarize(state: &State, action: &Action) -> serde_json::Value {
    let env = action.env();
    let Some(flag) = action.flag() else {
        return serde_json::json!({ "frozen": state.is_frozen(env) });
    };
    let Some(fe) = state.flags.get(flag).and_then(|f| f.env(env)) else {
        return serde_json::Value::Null;
    };
    match action {
        Action::SetPercent { cohort, .. }
        | Action::Rollback { cohort, .. }
        | Action::Restore { cohort, .. } => match fe.cohort(cohort) {
            Some(c) => {
                serde_json::json!({"cohort": c.name, "percent": c.percent, "rolled_back": c.rolled_back})
            }
            None => serde_json::Value::Null,
        },
        Action::Kill { .. } | Action::Revive { .. } => serde_json::json!({ "enabled": fe.enabled }),
        Action::Archive { .. } | Action::Unarchive { .. } => {
            let archived = state.flags.get(flag).is_some_and(|f| f.archived);
            serde_json::json!({ "archived": archived, "serves": fe.released_value() })
        }
        _ => match &fe.ladder {
            Some(l) => serde_json::json!({
                "stage": l.current_stage().map(|s| s.name.clone()),
                "state": l.effective_state(state.is_frozen(env)).as_str(),
                "exposure": fe.cohorts.iter().map(|c| (c.name.to_string(), c.effective_percent())).collect::<BTreeMap<_,_>>(),
            }),
            None => serde_json::Value::Null,
        },
    }
}

fn body_hash(actor: &Actor, req: &ActionRequest) -> String {
    let body = serde_json::json!({ "actor": actor.name, "req": req });
    auth::hash(&body.to_string())
}

/// Refuse a caller that may not make this kind of request, before any other check.
fn authorise(caller: &Caller, op: Op) -> Result<(), ServiceError> {
    policy::may(caller.actor.kind, caller.actor.role, op).map_err(ServiceError::forbidden)
}

fn check_reason(reason: &str) -> Result<(), ServiceError> {
    if !crate::sanitize::has_visible(reason) {
        return Err(ServiceError::new(
            ErrorKind::Invalid,
            "reason_required",
            "every change needs a reason with at least one visible character: say why in a few words",
        ));
    }
    if reason.len() > MAX_REASON {
        return Err(ServiceError::new(
            ErrorKind::Invalid,
            "reason_too_long",
            format!("the reason is longer than {MAX_REASON} bytes"),
        ));
    }
    Ok(())
}

impl ControlPlane {
    /// Open the store in `dir`; seed it from `seed` when it is new.
    pub fn open(
        store: impl Backend + 'static,
        clock: Arc<dyn Clock>,
        seed: Option<super::scenario::Scenario>,
    ) -> Result<Arc<ControlPlane>, ServiceError> {
        Self::open_with(store, clock, seed, None)
    }

    /// As `open`, with flags held by an external flag store (Unleash).
    pub fn open_with(
        store: impl Backend + 'static,
        clock: Arc<dyn Clock>,
        seed: Option<super::scenario::Scenario>,
        external: Option<Arc<dyn FlagStore>>,
    ) -> Result<Arc<ControlPlane>, ServiceError> {
        let loaded = store.load()?;
        let recent_audit = store
            .audit(None, None, SNAPSHOT_AUDIT, SNAPSHOT_AUDIT)?
            .into();
        let (tx, _) = broadcast::channel(1024);
        let store: Arc<dyn Backend> = Arc::new(store);
        let cp = Arc::new(ControlPlane {
            group: Default::default(),
            store: store.clone(),
            inner: Mutex::new(Inner {
                state: loaded.state,
                approvals: loaded
                    .approvals
                    .into_iter()
                    .map(|a| (a.id.clone(), a))
                    .collect(),
                store,
                pending: Default::default(),
                next_audit: loaded.last_audit,
                recent: VecDeque::new(),
                recent_bytes: 0,
                recent_audit,
                metrics: Metrics::default(),
                readings: Vec::new(),
                evidence_due: loaded.evidence_due,
                in_flight: Default::default(),
                unsettled: Vec::new(),
                idem_pruned_at: None,
            }),
            clock,
            tx,
            local_tokens: Mutex::new(HashMap::new()),
            external: external.clone(),
            sync_status: Mutex::new((None, None)),
            approval_ttl: Duration::hours(4),
            interests: Default::default(),
            disabled_tokens: Vec::new(),
            exposure: Default::default(),
            simulated: Default::default(),
            lifecycle_rules: Mutex::default(),
            hook_health: Default::default(),
        });
        let cp = cp.disable_reserved_tokens();
        if !loaded.initialised
            && let Some(seed) = seed
        {
            cp.seed(seed)?;
        }
        Ok(cp)
    }

    /// Say that the traffic this plane judges is simulated (its runtime runs the simulator).
    pub fn set_simulated(&self, on: bool) {
        self.simulated
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Set the lifecycle rules this plane's snapshots carry (from its `config.toml`).
    pub fn set_lifecycle_rules(&self, rules: crate::domain::LifecycleRules) {
        *lock(&self.lifecycle_rules) = rules;
    }

    pub fn lifecycle_rules(&self) -> crate::domain::LifecycleRules {
        *lock(&self.lifecycle_rules)
    }

    /// Seed a new store from a scenario: the system defines its state, its agents propose.
    fn seed(&self, seed: super::scenario::Scenario) -> Result<(), ServiceError> {
        let system = Caller::system();
        authorise(&system, Op::Define)?;
        {
            let mut inner = lock(&self.inner);
            let state = seed.state;
            inner.begin_staging();
            inner.state.environments = state.environments;
            inner.state.frozen = state.frozen;
            inner.state.env_revisions = state.env_revisions;
            inner.state.revision = Revision(1);
            let mut flags = Vec::new();
            for (_, mut f) in state.flags {
                Arc::make_mut(&mut f).revision = Revision(1);
                inner.stage_flag(Arc::clone(&f));
                flags.push(f);
            }
            let now = self.clock.now();
            inner.stage_change(
                Change {
                    revision: Revision(1),
                    at: now,
                    flags,
                    frozen: None,
                    approvals: vec![],
                    audit: vec![],
                },
                None,
            );
            inner.commit(&self.tx)?;
        }
        for p in seed.proposals {
            let caller = Caller::token(p.actor, "agent", "scenario");
            let req = ProposalRequest {
                action: p.action,
                reverse: None,
                reason: p.reason,
                evidence: p.evidence,
                evidence_gap: p.evidence_gap,
            };
            self.propose(&caller, req)?;
        }
        Ok(())
    }

    /// A recommendation: always a pending request, whoever posts it.
    pub fn propose(&self, caller: &Caller, req: ProposalRequest) -> Result<Outcome, ServiceError> {
        authorise(caller, Op::Propose)?;
        check_reason(&req.reason)?;
        bounds::check_action(&req.action)?;
        bounds::check_evidence(&req.evidence, req.evidence_gap.as_deref())?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let mut scratch = inner.scratch(&req.action);
        let reverse = req.action.apply(&mut scratch, now)?;
        if let Some(r) = &req.reverse
            && r != &reverse
        {
            return Err(ServiceError::new(
                ErrorKind::Invalid,
                "reverse_mismatch",
                format!(
                    "the reverse you sent does not undo the action; the control plane computes {}",
                    serde_json::to_string(&reverse).unwrap_or_default()
                ),
            ));
        }
        let staged = inner.stage_request(
            caller,
            &req.action,
            &req.reason,
            req.evidence,
            req.evidence_gap,
            now,
            self.approval_ttl,
            None,
        );
        inner.commit_one(&self.tx, staged)
    }

    /// Whether a request for exactly `action` is open.
    pub fn has_pending(&self, action: &Action) -> bool {
        lock(&self.inner)
            .approvals
            .values()
            .any(|a| a.state == ApprovalState::Pending && &a.action == action)
    }

    /// Tests: hold the service lock (to line submissions up into one group) or reach the store.
    #[cfg(test)]
    pub(in crate::control) fn with_inner<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut lock(&self.inner))
    }
}
