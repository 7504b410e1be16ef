//! The one path every mutation takes (TUI, CLI, agents, the engine): authorise → check the
//! expected revision → policy → apply → audit → durable commit → publish. Holds the live state
//! behind one mutex; never held across an await.

use super::auth;
use super::clock::Clock;
use super::metrics::Metrics;
use super::policy::{self, Decision};
use super::flags::{ExternalEvent, FlagStore, FlagStoreError};
use super::store::{Commit, IdemRecord, StoreError, TokenRecord, Store};
use crate::domain::{
    Action, Actor, ApprovalId, ApprovalRequest, ApprovalState, AuditEvent, AuditId, AuditKind, DomainError,
    Environment, Evidence, Flag, Revision, Role, State, ENGINE_ACTOR,
};
use crate::wire::{
    ActionRequest, Change, DefineOutcome, GuardrailReading, GuardrailUpdate, Outcome, OutcomeKind, ProposalRequest,
    Snapshot,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Changes kept in memory for stream resumption with `Last-Event-ID`.
pub const RESUME_WINDOW: usize = 4096;
/// Audit events included in a snapshot.
pub const SNAPSHOT_AUDIT: usize = 200;
/// Decided approvals kept in a snapshot besides the pending ones.
pub const SNAPSHOT_DECIDED: usize = 50;
pub const MAX_REASON: usize = 2000;
/// Open requests at most; beyond this a new request is refused (429) until some are decided.
pub const MAX_PENDING: usize = 1000;
/// Decided requests kept in memory (all stay in the store).
pub const KEEP_DECIDED: usize = 500;
/// Idempotency records are kept this long; a retry after that is a new request.
pub const IDEMPOTENCY_TTL_HOURS: i64 = 24;

/// A precise refusal: HTTP status, machine-readable code and a sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub current_revision: Option<Revision>,
}

impl ServiceError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ServiceError { status, code, message: message.into(), current_revision: None }
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl From<DomainError> for ServiceError {
    fn from(e: DomainError) -> Self {
        let status = match e {
            DomainError::UnknownFlag(_) | DomainError::UnknownEnv(_) | DomainError::UnknownCohort { .. } => 404,
            _ => 422,
        };
        ServiceError::new(status, e.code(), e.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        ServiceError::new(500, "store_failed", format!("the change was not saved: {e}"))
    }
}

/// What the stream carries.
#[derive(Debug, Clone)]
pub enum StreamMsg {
    Change(Arc<Change>),
    Guardrails(Arc<GuardrailUpdate>),
    Store(Arc<crate::wire::StoreStatus>),
}

pub(super) struct Inner {
    pub state: State,
    pub approvals: BTreeMap<ApprovalId, ApprovalRequest>,
    pub store: Store,
    next_audit: u64,
    recent: VecDeque<Arc<Change>>,
    recent_audit: VecDeque<AuditEvent>,
    pub metrics: Metrics,
    pub readings: Vec<GuardrailReading>,
    /// Since when every guardrail of (flag, env) has been healthy with enough data.
    pub healthy_since: HashMap<(String, String), DateTime<Utc>>,
    /// Evidence checks due: one guardrail window after a change that reduced a guarded cohort.
    pub evidence_due: Vec<EvidenceCheck>,
    external: Option<Arc<dyn FlagStore>>,
    idem_pruned_at: Option<DateTime<Utc>>,
    /// Breaches (flag, env, cohort) already answered; cleared when the breach ends.
    pub breach_handled: std::collections::HashSet<(String, String, String)>,
}

pub struct ControlPlane {
    pub(super) inner: Mutex<Inner>,
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
    /// The simulator's traffic as Prometheus text (`--expose-metrics`), once attached.
    pub(super) exposition: std::sync::OnceLock<Arc<super::exposition::Exposition>>,
}

/// A pending "did it work?" check after a change.
#[derive(Debug, Clone)]
pub struct EvidenceCheck {
    pub follows: AuditId,
    pub action: Action,
    /// Cohorts whose guardrails to report (all guarded cohorts for flag-wide actions).
    pub cohorts: Vec<String>,
    pub due: DateTime<Utc>,
}

/// Where a mutation comes from, for the audit trail.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub source: String,
}

impl Caller {
    pub fn engine() -> Caller {
        Caller { actor: Actor { name: ENGINE_ACTOR.into(), role: Role::Admin }, source: "engine".into() }
    }
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
        Action::SetPercent { cohort, .. } | Action::Rollback { cohort, .. } | Action::Restore { cohort, .. } => {
            match fe.cohort(cohort) {
                Some(c) => serde_json::json!({"cohort": c.name, "percent": c.percent, "rolled_back": c.rolled_back}),
                None => serde_json::Value::Null,
            }
        }
        Action::Kill { .. } | Action::Revive { .. } => serde_json::json!({ "enabled": fe.enabled }),
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

fn check_reason(reason: &str) -> Result<(), ServiceError> {
    if reason.trim().is_empty() {
        return Err(ServiceError::new(422, "reason_required", "every change needs a reason: say why in a few words"));
    }
    if reason.len() > MAX_REASON {
        return Err(ServiceError::new(422, "reason_too_long", format!("the reason is longer than {MAX_REASON} bytes")));
    }
    Ok(())
}

impl Inner {
    /// A scratch state holding only what `action` touches (cheap even with 10,000 flags).
    fn scratch(&self, action: &Action) -> State {
        State {
            revision: self.state.revision,
            environments: self.state.environments.clone(),
            frozen: self.state.frozen.clone(),
            env_revisions: self.state.env_revisions.clone(),
            flags: action
                .flag()
                .and_then(|k| self.state.flags.get_key_value(k))
                .map(|(k, f)| (k.clone(), f.clone()))
                .into_iter()
                .collect(),
        }
    }

    fn evidence_for(&self, action: &Action) -> Vec<Evidence> {
        let Some(flag) = action.flag() else { return Vec::new() };
        self.readings
            .iter()
            .filter(|r| &r.flag == flag && &r.env == action.env())
            .filter(|r| action.cohort().is_none_or(|c| c.as_str() == r.cohort))
            .map(GuardrailReading::evidence)
            .collect()
    }

    fn new_audit(&mut self, caller: &Caller, kind: AuditKind, reason: &str, now: DateTime<Utc>, revision: Revision) -> AuditEvent {
        self.next_audit += 1;
        AuditEvent {
            id: AuditId(self.next_audit),
            at: now,
            kind,
            actor: caller.actor.clone(),
            source: caller.source.clone(),
            reason: reason.to_string(),
            flag: None,
            action: None,
            reverse: None,
            before: None,
            after: None,
            approval: None,
            evidence: Vec::new(),
            revision,
            follows: None,
            request_id: None,
        }
    }

    fn publish(&mut self, tx: &broadcast::Sender<StreamMsg>, change: Change) {
        for e in &change.audit {
            self.recent_audit.push_front(e.clone());
        }
        self.recent_audit.truncate(SNAPSHOT_AUDIT);
        let change = Arc::new(change);
        self.recent.push_back(change.clone());
        while self.recent.len() > RESUME_WINDOW {
            self.recent.pop_front();
        }
        let _ = tx.send(StreamMsg::Change(change));
    }

    /// Apply `action` now: scratch apply, durable commit, then swap into live state.
    fn apply(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        caller: &Caller,
        action: &Action,
        reason: &str,
        now: DateTime<Utc>,
        approval: Option<ApprovalRequest>,
        idem: Option<(&str, &dyn Fn(&Outcome) -> IdemRecord)>,
    ) -> Result<Outcome, ServiceError> {
        let mut scratch = self.scratch(action);
        let before = summarize(&scratch, action);
        let reverse = action.apply(&mut scratch, now)?;
        let revision = Revision(self.state.revision.0 + 1);
        scratch.revision = revision;
        match action.flag() {
            Some(k) => {
                if let Some(f) = scratch.flags.get_mut(k) {
                    f.revision = revision;
                }
            }
            None => {
                scratch.env_revisions.insert(action.env().clone(), revision);
            }
        }
        let after = summarize(&scratch, action);
        // Flags held elsewhere: write there first (compare-and-set on what the operator saw);
        // a refusal there means nothing is recorded here.
        if let (Some(ext), Some(k)) = (&self.external, action.flag())
            && super::flags::touches_store(action)
            && let (Some(old), Some(new)) = (self.state.flags.get(k), scratch.flags.get(k))
        {
            ext.apply(action, old, new).map_err(|e| match e {
                FlagStoreError::Conflict { .. } => ServiceError {
                    status: 409,
                    code: "conflict",
                    message: format!("{e}; flagtop will pick up the new state within seconds — review it and decide again"),
                    current_revision: None,
                },
                FlagStoreError::Refused { .. } => ServiceError::new(422, "flag_store_refused", e.to_string()),
                FlagStoreError::Unavailable { .. } => ServiceError::new(503, "flag_store_unavailable", format!("{e}; nothing was changed")),
            })?;
        }
        let kind = if approval.is_some() { AuditKind::Approved } else { AuditKind::Applied };
        let mut audit = self.new_audit(caller, kind, reason, now, revision);
        audit.flag = action.flag().cloned();
        audit.action = Some(action.clone());
        audit.reverse = Some(reverse.clone());
        audit.before = Some(before);
        audit.after = Some(after);
        audit.evidence = self.evidence_for(action);
        audit.request_id = idem.map(|(k, _)| k.to_string());
        let approval = approval.map(|mut a| {
            a.state = ApprovalState::Applied;
            a.decided_by = Some(caller.actor.clone());
            a.decided_at = Some(now);
            a.decision_reason = Some(reason.to_string());
            audit.approval = Some(a.id.clone());
            a
        });
        let outcome = Outcome {
            outcome: OutcomeKind::Applied,
            revision,
            action: action.clone(),
            reverse: reverse.clone(),
            reverse_command: reverse.command_line(&format!("undo #{}", audit.id)),
            audit_id: Some(audit.id),
            approval_id: approval.as_ref().map(|a| a.id.clone()),
            replayed: false,
        };
        let idem_rec = idem.map(|(k, f)| (k, f(&outcome)));
        let flag = action.flag().and_then(|k| scratch.flags.get(k));
        let commit = Commit {
            meta: Some(&scratch),
            flags: flag.into_iter().collect(),
            approvals: approval.iter().collect(),
            audit: vec![&audit],
            idempotency: idem_rec.as_ref().map(|(k, r)| (*k, r)),
        };
        if let Err(e) = self.store.commit(commit) {
            self.next_audit -= 1;
            return Err(e.into());
        }
        // Durable: now make it live.
        self.state.revision = revision;
        self.state.frozen = std::mem::take(&mut scratch.frozen);
        self.state.env_revisions = std::mem::take(&mut scratch.env_revisions);
        let mut flags = Vec::new();
        if let Some(k) = action.flag()
            && let Some(f) = scratch.flags.remove(k)
        {
            self.state.flags.insert(k.clone(), f.clone());
            flags.push(f);
        }
        if let Some(a) = &approval {
            self.approvals.insert(a.id.clone(), a.clone());
        }
        let frozen = action.flag().is_none().then(|| self.state.frozen.clone());
        let audit_id = audit.id;
        self.schedule_evidence(action, audit_id, now);
        let mut approvals: Vec<ApprovalRequest> = approval.into_iter().collect();
        approvals.extend(self.close_superseded(caller, action, audit_id, now));
        self.publish(tx, Change { revision, at: now, flags, frozen, approvals, audit: vec![audit] });
        Ok(outcome)
    }

    /// File an approval request for `action` (the reverse is computed now).
    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        caller: &Caller,
        action: &Action,
        reason: &str,
        evidence: Vec<Evidence>,
        evidence_gap: Option<String>,
        now: DateTime<Utc>,
        ttl: Duration,
        idem: Option<(&str, &dyn Fn(&Outcome) -> IdemRecord)>,
    ) -> Result<Outcome, ServiceError> {
        let mut scratch = self.scratch(action);
        let target_rev = action.target_revision(&scratch);
        let reverse = action.apply(&mut scratch, now)?;
        let revision = Revision(self.state.revision.0 + 1);
        // Merge duplicates of an open request instead of stacking them.
        if let Some(existing) = self.approvals.values().find(|a| a.state == ApprovalState::Pending && &a.action == action) {
            let mut a = existing.clone();
            a.merged += 1;
            if !evidence.is_empty() {
                a.evidence = evidence;
            }
            if evidence_gap.is_some() {
                a.evidence_gap = evidence_gap;
            }
            let mut state = self.scratch(action);
            state.revision = revision;
            let outcome = Outcome {
                outcome: OutcomeKind::Requested,
                revision,
                action: action.clone(),
                reverse: a.reverse.clone(),
                reverse_command: a.reverse.command_line("undo"),
                audit_id: None,
                approval_id: Some(a.id.clone()),
                replayed: false,
            };
            let idem_rec = idem.map(|(k, f)| (k, f(&outcome)));
            self.store.commit(Commit {
                meta: Some(&state),
                approvals: vec![&a],
                idempotency: idem_rec.as_ref().map(|(k, r)| (*k, r)),
                ..Default::default()
            })?;
            self.state.revision = revision;
            self.approvals.insert(a.id.clone(), a.clone());
            self.publish(tx, Change { revision, at: now, flags: vec![], frozen: None, approvals: vec![a], audit: vec![] });
            return Ok(outcome);
        }
        if self.approvals.values().filter(|a| a.state == ApprovalState::Pending).count() >= MAX_PENDING {
            return Err(ServiceError::new(
                429,
                "too_many_requests",
                format!("{MAX_PENDING} requests are already waiting for a decision; decide some first"),
            ));
        }
        self.prune_decided();
        let id = ApprovalId(format!("apr-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]));
        let evidence = if evidence.is_empty() { self.evidence_for(action) } else { evidence };
        let req = ApprovalRequest {
            id: id.clone(),
            action: action.clone(),
            reverse: reverse.clone(),
            reason: reason.to_string(),
            evidence,
            evidence_gap,
            requested_by: caller.actor.clone(),
            state: ApprovalState::Pending,
            created_at: now,
            expires_at: now + ttl,
            revision: target_rev,
            decided_by: None,
            decided_at: None,
            decision_reason: None,
            merged: 0,
        };
        let mut audit = self.new_audit(caller, AuditKind::Requested, reason, now, revision);
        audit.flag = action.flag().cloned();
        audit.action = Some(action.clone());
        audit.reverse = Some(reverse.clone());
        audit.approval = Some(id.clone());
        audit.evidence = req.evidence.clone();
        audit.request_id = idem.map(|(k, _)| k.to_string());
        let outcome = Outcome {
            outcome: OutcomeKind::Requested,
            revision,
            action: action.clone(),
            reverse: reverse.clone(),
            reverse_command: reverse.command_line("undo"),
            audit_id: Some(audit.id),
            approval_id: Some(id.clone()),
            replayed: false,
        };
        let idem_rec = idem.map(|(k, f)| (k, f(&outcome)));
        let mut meta = self.scratch(action);
        meta.revision = revision;
        if let Err(e) = self.store.commit(Commit {
            meta: Some(&meta),
            flags: vec![],
            approvals: vec![&req],
            audit: vec![&audit],
            idempotency: idem_rec.as_ref().map(|(k, r)| (*k, r)),
        }) {
            self.next_audit -= 1;
            return Err(e.into());
        }
        self.state.revision = revision;
        self.approvals.insert(id, req.clone());
        self.publish(tx, Change { revision, at: now, flags: vec![], frozen: None, approvals: vec![req], audit: vec![audit] });
        Ok(outcome)
    }
}

impl ControlPlane {
    /// Open the store in `dir`; seed it from `seed` when it is new.
    pub fn open(
        store: Store,
        clock: Arc<dyn Clock>,
        seed: Option<super::scenario::Scenario>,
    ) -> Result<Arc<ControlPlane>, ServiceError> {
        Self::open_with(store, clock, seed, None)
    }

    /// As `open`, with flags held by an external flag store (Unleash).
    pub fn open_with(
        store: Store,
        clock: Arc<dyn Clock>,
        seed: Option<super::scenario::Scenario>,
        external: Option<Arc<dyn FlagStore>>,
    ) -> Result<Arc<ControlPlane>, ServiceError> {
        let loaded = store.load()?;
        let recent_audit = store.audit(None, None, SNAPSHOT_AUDIT, SNAPSHOT_AUDIT)?.into();
        let (tx, _) = broadcast::channel(1024);
        let cp = Arc::new(ControlPlane {
            inner: Mutex::new(Inner {
                state: loaded.state,
                approvals: loaded.approvals.into_iter().map(|a| (a.id.clone(), a)).collect(),
                store,
                next_audit: loaded.last_audit,
                recent: VecDeque::new(),
                recent_audit,
                metrics: Metrics::default(),
                readings: Vec::new(),
                healthy_since: HashMap::new(),
                breach_handled: Default::default(),
                evidence_due: Vec::new(),
                external: external.clone(),
                idem_pruned_at: None,
            }),
            clock,
            tx,
            local_tokens: Mutex::new(HashMap::new()),
            external: external.clone(),
            sync_status: Mutex::new((None, None)),
            approval_ttl: Duration::hours(4),
            exposition: std::sync::OnceLock::new(),
        });
        if !loaded.initialised
            && let Some(seed) = seed
        {
            cp.seed(seed)?;
        }
        Ok(cp)
    }

    fn seed(&self, seed: super::scenario::Scenario) -> Result<(), ServiceError> {
        {
            let mut inner = lock(&self.inner);
            let mut state = seed.state;
            state.revision = Revision(1);
            for f in state.flags.values_mut() {
                f.revision = Revision(1);
            }
            inner.store.commit(Commit { meta: Some(&state), flags: state.flags.values().collect(), ..Default::default() })?;
            inner.state = state;
        }
        for p in seed.proposals {
            let caller = Caller { actor: p.actor, source: "agent".into() };
            self.propose(&caller, ProposalRequest { action: p.action, reverse: None, reason: p.reason, evidence: p.evidence, evidence_gap: p.evidence_gap })?;
        }
        Ok(())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StreamMsg> {
        self.tx.subscribe()
    }

    /// Changes after `revision` for a resuming stream, or None when they are no longer kept.
    pub fn changes_since(&self, revision: Revision) -> Option<Vec<Arc<Change>>> {
        let inner = lock(&self.inner);
        if revision >= inner.state.revision {
            return Some(Vec::new());
        }
        let oldest = inner.recent.front().map(|c| c.revision.0)?;
        if revision.0 + 1 < oldest {
            return None;
        }
        Some(inner.recent.iter().filter(|c| c.revision > revision).cloned().collect())
    }

    pub fn revision(&self) -> Revision {
        lock(&self.inner).state.revision
    }

    pub fn snapshot(&self, identity: &Actor) -> Snapshot {
        let inner = lock(&self.inner);
        let mut decided: Vec<&ApprovalRequest> = inner.approvals.values().filter(|a| a.state != ApprovalState::Pending).collect();
        decided.sort_by_key(|a| std::cmp::Reverse(a.decided_at.unwrap_or(a.created_at)));
        let approvals = inner
            .approvals
            .values()
            .filter(|a| a.state == ApprovalState::Pending)
            .chain(decided.into_iter().take(SNAPSHOT_DECIDED))
            .cloned()
            .collect();
        Snapshot {
            revision: inner.state.revision,
            server_time: self.clock.now(),
            identity: identity.clone(),
            flag_store: self.flag_store_name().to_string(),
            flag_store_synced_at: self.external.as_ref().and_then(|_| lock(&self.sync_status).0),
            flag_store_error: self.external.as_ref().and_then(|_| lock(&self.sync_status).1.clone()),
            propagation_secs: self.external.as_ref().map(|e| e.propagation_secs()),
            environments: inner.state.environments.clone(),
            frozen: inner.state.frozen.clone(),
            flags: inner.state.flags.values().cloned().collect(),
            guardrails: inner.readings.clone(),
            approvals,
            audit: inner.recent_audit.iter().cloned().collect(),
        }
    }

    pub fn state(&self) -> State {
        lock(&self.inner).state.clone()
    }

    pub fn readings(&self) -> Vec<GuardrailReading> {
        lock(&self.inner).readings.clone()
    }

    pub fn approvals(&self) -> Vec<ApprovalRequest> {
        lock(&self.inner).approvals.values().cloned().collect()
    }

    pub fn audit(&self, flag: Option<&str>, before: Option<u64>, limit: usize) -> Result<Vec<AuditEvent>, ServiceError> {
        Ok(lock(&self.inner).store.audit(flag, before, limit.clamp(1, 1000), 100_000)?)
    }

    /// Submit an action on behalf of `caller` (the path of the TUI, the CLI and the API).
    pub fn submit(&self, caller: &Caller, req: &ActionRequest, idem_key: Option<&str>) -> Result<Outcome, ServiceError> {
        check_reason(&req.reason)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let hash = body_hash(&caller.actor, req);
        if let Some(key) = idem_key {
            if key.is_empty() || key.len() > 200 {
                return Err(ServiceError::new(422, "invalid_idempotency_key", "an idempotency key is 1–200 characters"));
            }
            if let Some(rec) = inner.store.idempotency(key)? {
                if rec.body_hash != hash {
                    return Err(ServiceError::new(
                        422,
                        "idempotency_key_reused",
                        "this idempotency key was already used for a different request; use a new key per action",
                    ));
                }
                let mut outcome: Outcome = serde_json::from_value(rec.response)
                    .map_err(|e| ServiceError::new(500, "store_failed", format!("stored outcome unreadable: {e}")))?;
                outcome.replayed = true;
                return Ok(outcome);
            }
        }
        let action = &req.action;
        let env = inner
            .state
            .environment(action.env())
            .cloned()
            .ok_or_else(|| DomainError::UnknownEnv(action.env().to_string()))?;
        if let Some(f) = action.flag()
            && !inner.state.flags.contains_key(f)
        {
            return Err(DomainError::UnknownFlag(f.to_string()).into());
        }
        let current = action.target_revision(&inner.state);
        if let Some(expected) = req.expected_revision
            && current > expected
        {
            let what = action.flag().map_or_else(|| format!("environment {}", action.env()), |f| format!("flag {f}"));
            return Err(ServiceError {
                status: 409,
                code: "conflict",
                message: format!(
                    "changed since you looked: {what} is at revision {current}, you decided on {expected}; review the new state and decide again"
                ),
                current_revision: Some(current),
            });
        }
        let tier = action.tier(&inner.state);
        let idem_fn = |o: &Outcome| IdemRecord {
            body_hash: hash.clone(),
            status: 200,
            response: serde_json::to_value(o).unwrap_or_default(),
            at: now,
        };
        let idem = idem_key.map(|k| (k, &idem_fn as &dyn Fn(&Outcome) -> IdemRecord));
        match policy::decide(caller.actor.role, tier, env.protected, caller.actor.name == ENGINE_ACTOR) {
            Decision::Deny(why) => Err(ServiceError::new(403, "forbidden", why)),
            Decision::Apply => inner.apply(&self.tx, caller, action, &req.reason, now, None, idem),
            Decision::Request => {
                inner.request(&self.tx, caller, action, &req.reason, Vec::new(), None, now, self.approval_ttl, idem)
            }
        }
    }

    /// A recommendation: always a pending request, whoever posts it.
    pub fn propose(&self, caller: &Caller, req: ProposalRequest) -> Result<Outcome, ServiceError> {
        if !caller.actor.role.can_propose() {
            return Err(ServiceError::new(403, "forbidden", "viewers cannot propose changes"));
        }
        check_reason(&req.reason)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let mut scratch = inner.scratch(&req.action);
        let reverse = req.action.apply(&mut scratch, now)?;
        if let Some(r) = &req.reverse
            && r != &reverse
        {
            return Err(ServiceError::new(
                422,
                "reverse_mismatch",
                format!("the reverse you sent does not undo the action; the control plane computes {}", serde_json::to_string(&reverse).unwrap_or_default()),
            ));
        }
        inner.request(&self.tx, caller, &req.action, &req.reason, req.evidence, req.evidence_gap, now, self.approval_ttl, None)
    }

    fn pending(inner: &Inner, id: &str, now: DateTime<Utc>) -> Result<ApprovalRequest, ServiceError> {
        let a = inner
            .approvals
            .get(id)
            .ok_or_else(|| ServiceError::new(404, "unknown_approval", format!("no approval request `{id}`")))?;
        if a.is_expired(now) {
            return Err(ServiceError::new(409, "approval_expired", format!("request {id} expired at {}; ask for a new one", a.expires_at)));
        }
        if a.state != ApprovalState::Pending {
            return Err(ServiceError::new(409, "approval_not_pending", format!("request {id} is already {}", a.state.as_str())));
        }
        Ok(a.clone())
    }

    pub fn approve(&self, caller: &Caller, id: &str, reason: &str) -> Result<Outcome, ServiceError> {
        check_reason(reason)?;
        if !caller.actor.role.can_approve() {
            return Err(ServiceError::new(403, "forbidden", format!("the {} role cannot approve requests", caller.actor.role.as_str())));
        }
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let a = Self::pending(&inner, id, now)?;
        if a.requested_by.name == caller.actor.name {
            return Err(ServiceError::new(403, "self_approval", "nobody approves their own request: ask another approver"));
        }
        let current = a.action.target_revision(&inner.state);
        if current > a.revision {
            return Err(ServiceError {
                status: 409,
                code: "conflict",
                message: format!(
                    "changed since the request was made (revision {} → {current}); reject it and ask again on the current state",
                    a.revision
                ),
                current_revision: Some(current),
            });
        }
        let action = a.action.clone();
        inner.apply(&self.tx, caller, &action, reason, now, Some(a), None)
    }

    pub fn reject(&self, caller: &Caller, id: &str, reason: &str) -> Result<Outcome, ServiceError> {
        check_reason(reason)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let mut a = Self::pending(&inner, id, now)?;
        if !caller.actor.role.can_approve() && a.requested_by.name != caller.actor.name {
            return Err(ServiceError::new(403, "forbidden", "only approvers (or the requester, to withdraw) can reject"));
        }
        a.state = ApprovalState::Rejected;
        a.decided_by = Some(caller.actor.clone());
        a.decided_at = Some(now);
        a.decision_reason = Some(reason.to_string());
        let revision = Revision(inner.state.revision.0 + 1);
        let mut audit = inner.new_audit(caller, AuditKind::Rejected, reason, now, revision);
        audit.flag = a.action.flag().cloned();
        audit.action = Some(a.action.clone());
        audit.approval = Some(a.id.clone());
        let mut meta = inner.scratch(&a.action);
        meta.revision = revision;
        inner.store.commit(Commit { meta: Some(&meta), approvals: vec![&a], audit: vec![&audit], ..Default::default() })?;
        inner.state.revision = revision;
        inner.approvals.insert(a.id.clone(), a.clone());
        let outcome = Outcome {
            outcome: OutcomeKind::Rejected,
            revision,
            action: a.action.clone(),
            reverse: a.reverse.clone(),
            reverse_command: String::new(),
            audit_id: Some(audit.id),
            approval_id: Some(a.id.clone()),
            replayed: false,
        };
        inner.publish(&self.tx, Change { revision, at: now, flags: vec![], frozen: None, approvals: vec![a], audit: vec![audit] });
        Ok(outcome)
    }

    /// Mark overdue requests expired (audited). Returns how many.
    pub fn expire(&self) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let overdue: Vec<ApprovalRequest> = inner.approvals.values().filter(|a| a.is_expired(now)).cloned().collect();
        let caller = Caller::engine();
        for mut a in overdue.iter().cloned() {
            a.state = ApprovalState::Expired;
            a.decided_at = Some(now);
            let revision = Revision(inner.state.revision.0 + 1);
            let mut audit = inner.new_audit(&caller, AuditKind::Expired, "request expired", now, revision);
            audit.flag = a.action.flag().cloned();
            audit.action = Some(a.action.clone());
            audit.approval = Some(a.id.clone());
            let mut meta = inner.scratch(&a.action);
            meta.revision = revision;
            inner.store.commit(Commit { meta: Some(&meta), approvals: vec![&a], audit: vec![&audit], ..Default::default() })?;
            inner.state.revision = revision;
            inner.approvals.insert(a.id.clone(), a.clone());
            inner.publish(&self.tx, Change { revision, at: now, flags: vec![], frozen: None, approvals: vec![a], audit: vec![audit] });
        }
        Ok(overdue.len())
    }

    /// Create or replace an environment (admin).
    pub fn define_environment(&self, caller: &Caller, env: Environment) -> Result<DefineOutcome, ServiceError> {
        if caller.actor.role != Role::Admin {
            return Err(ServiceError::new(403, "forbidden", "only admins define environments"));
        }
        if !crate::domain::ids::valid_key(&env.key) {
            return Err(ServiceError::new(422, "invalid_key", "environment keys are 1–100 of A–Z a–z 0–9 - _ ."));
        }
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let result = match inner.state.environment(&env.key) {
            Some(e) if e == &env => return Ok(DefineOutcome { result: "unchanged".into(), revision: inner.state.revision }),
            Some(_) => "updated",
            None => "created",
        };
        let revision = Revision(inner.state.revision.0 + 1);
        let mut state = inner.scratch(&Action::Freeze { env: env.key.clone() });
        state.environments.retain(|e| e.key != env.key);
        state.environments.push(env.clone());
        state.revision = revision;
        let mut audit = inner.new_audit(caller, AuditKind::Defined, &format!("environment {} {result}", env.key), now, revision);
        audit.after = Some(serde_json::to_value(&env).unwrap_or_default());
        inner.store.commit(Commit { meta: Some(&state), audit: vec![&audit], ..Default::default() })?;
        inner.state.environments = state.environments;
        inner.state.revision = revision;
        inner.publish(&self.tx, Change { revision, at: now, flags: vec![], frozen: None, approvals: vec![], audit: vec![audit] });
        Ok(DefineOutcome { result: result.into(), revision })
    }

    /// Create or replace a flag definition (admin). Idempotent: an identical definition is
    /// `unchanged` and bumps nothing.
    pub fn define_flag(&self, caller: &Caller, mut flag: Flag) -> Result<DefineOutcome, ServiceError> {
        if caller.actor.role != Role::Admin {
            return Err(ServiceError::new(403, "forbidden", "only admins define flags"));
        }
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        if self.external.is_some() {
            // Flags live in the external store: a definition adds flagtop's parts (ladder,
            // guardrails, owner, description) to a flag that exists there.
            let Some(current) = inner.state.flags.get(&flag.key).cloned() else {
                return Err(ServiceError::new(
                    404,
                    "unknown_flag",
                    format!("`{}` does not exist in {}; create it there first", flag.key, self.flag_store_name()),
                ));
            };
            let mut merged = current;
            merged.owner = flag.owner.clone();
            if !flag.description.is_empty() {
                merged.description = flag.description.clone();
            }
            for (env, fe) in flag.environments {
                if let Some(m) = merged.environments.get_mut(&env) {
                    m.ladder = fe.ladder;
                    m.guardrails = fe.guardrails;
                }
            }
            flag = merged;
        }
        super::definitions::validate(&flag, &inner.state)?;
        // A definition may leave a ladder's entered_at out: keep the running one, or start now.
        for (env, fe) in flag.environments.iter_mut() {
            if let Some(l) = fe.ladder.as_mut()
                && l.entered_at == DateTime::<Utc>::default()
            {
                let old = inner.state.flags.get(&flag.key).and_then(|f| f.env(env)).and_then(|e| e.ladder.as_ref());
                l.entered_at = old.filter(|o| o.current == l.current).map_or(now, |o| o.entered_at);
            }
        }
        let result = match inner.state.flags.get(&flag.key) {
            Some(old) => {
                flag.revision = old.revision;
                if old == &flag {
                    return Ok(DefineOutcome { result: "unchanged".into(), revision: inner.state.revision });
                }
                "updated"
            }
            None => "created",
        };
        let revision = Revision(inner.state.revision.0 + 1);
        flag.revision = revision;
        let mut meta = inner.scratch(&Action::Freeze { env: "".into() });
        meta.revision = revision;
        let mut audit = inner.new_audit(caller, AuditKind::Defined, &format!("flag {} {result}", flag.key), now, revision);
        audit.flag = Some(flag.key.clone());
        audit.before = inner.state.flags.get(&flag.key).map(|f| serde_json::to_value(f).unwrap_or_default());
        inner.store.commit(Commit { meta: Some(&meta), flags: vec![&flag], audit: vec![&audit], ..Default::default() })?;
        inner.state.revision = revision;
        inner.state.flags.insert(flag.key.clone(), flag.clone());
        inner.publish(&self.tx, Change { revision, at: now, flags: vec![flag], frozen: None, approvals: vec![], audit: vec![audit] });
        Ok(DefineOutcome { result: result.into(), revision })
    }

    /// Accept pushed or simulated samples.
    pub fn push_samples(&self, samples: &[crate::wire::MetricSample]) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        for (i, s) in samples.iter().enumerate() {
            if inner.state.flags.get(&s.flag).and_then(|f| f.env(&s.env)).is_none() {
                return Err(ServiceError::new(404, "unknown_flag", format!("sample {i}: flag `{}` is not configured in `{}`", s.flag, s.env)));
            }
        }
        for (i, s) in samples.iter().enumerate() {
            inner
                .metrics
                .push(s, now)
                .map_err(|e| ServiceError::new(422, "invalid_sample", format!("sample {i}: {e}")))?;
        }
        Ok(samples.len())
    }

    /// Re-judge every guardrail; publish the readings that changed. Returns the new readings.
    pub fn evaluate_guardrails(&self, record: bool) -> Vec<GuardrailReading> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        let readings = inner.metrics.evaluate(&inner.state, now, record);
        let changed: Vec<GuardrailReading> = readings
            .iter()
            .filter(|r| {
                !inner.readings.iter().any(|o| {
                    o.flag == r.flag && o.env == r.env && o.metric == r.metric && o.cohort == r.cohort && o == *r
                })
            })
            .cloned()
            .collect();
        inner.readings = readings.clone();
        if !changed.is_empty() {
            let _ = self.tx.send(StreamMsg::Guardrails(Arc::new(GuardrailUpdate { at: now, readings: changed })));
        }
        readings
    }

    /// Authenticate a bearer token.
    pub fn authenticate(&self, token: &str) -> Option<Actor> {
        let h = auth::hash(token);
        {
            let local = lock(&self.local_tokens);
            for (k, actor) in local.iter() {
                if auth::constant_time_eq(k.as_bytes(), h.as_bytes()) {
                    return Some(actor.clone());
                }
            }
        }
        let inner = lock(&self.inner);
        match inner.store.token(&h) {
            Ok(Some(rec)) => Some(Actor { name: rec.name, role: rec.role }),
            _ => None,
        }
    }

    /// An in-memory token for this process's owner; returns the secret.
    pub fn add_local_token(&self, actor: Actor) -> Result<String, ServiceError> {
        let t = auth::mint().map_err(|e| ServiceError::new(500, "random_failed", e))?;
        lock(&self.local_tokens).insert(auth::hash(&t), actor);
        Ok(t)
    }

    /// Mint and store a token (shown once).
    pub fn add_token(&self, name: &str, role: Role) -> Result<String, ServiceError> {
        if !crate::domain::ids::valid_key(name) {
            return Err(ServiceError::new(422, "invalid_name", "token names are 1–100 of A–Z a–z 0–9 - _ ."));
        }
        let t = auth::mint().map_err(|e| ServiceError::new(500, "random_failed", e))?;
        let rec = TokenRecord { name: name.to_string(), role, created_at: self.clock.now() };
        lock(&self.inner).store.add_token(&auth::hash(&t), &rec)?;
        Ok(t)
    }

    pub fn has_tokens(&self) -> bool {
        lock(&self.inner).store.tokens().map(|t| !t.is_empty()).unwrap_or(false)
    }

    pub fn flag_store_name(&self) -> &'static str {
        self.external.as_ref().map_or("embedded", |e| e.name())
    }

    /// Record a successful sync; tell watchers when a failure is over (or every 30 s, so ages
    /// stay honest without an event per poll).
    pub fn mark_synced(&self) {
        let now = self.clock.now();
        let mut st = lock(&self.sync_status);
        let tell = st.1.is_some() || st.0.is_none_or(|t| now - t >= Duration::seconds(30));
        let last_told = if tell { now } else { st.0.unwrap_or(now) };
        *st = (Some(last_told), None);
        drop(st);
        if tell {
            let _ = self.tx.send(StreamMsg::Store(Arc::new(crate::wire::StoreStatus { synced_at: Some(now), error: None })));
        }
    }

    pub fn mark_sync_error(&self, e: &str) {
        let e = crate::sanitize::clean(e, 300);
        let mut st = lock(&self.sync_status);
        let changed = st.1.as_deref() != Some(e.as_str());
        st.1 = Some(e.clone());
        let synced_at = st.0;
        drop(st);
        if changed {
            let _ = self.tx.send(StreamMsg::Store(Arc::new(crate::wire::StoreStatus { synced_at, error: Some(e) })));
        }
    }

    /// Merge what the external flag store holds: cohorts, kill switch and variations come from
    /// there; ladders, guardrails and approvals stay flagtop's. Changed flags and the store's own
    /// events are committed and published like any change.
    pub fn sync_external(
        &self,
        environments: Option<Vec<Environment>>,
        flags: Vec<Flag>,
        events: Vec<ExternalEvent>,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let mut changed_flags = Vec::new();
        let mut state = inner.scratch(&Action::Freeze { env: "".into() });
        if let Some(envs) = environments {
            for e in envs {
                if state.environment(&e.key).is_none() {
                    state.environments.push(e);
                }
            }
        }
        for mut f in flags {
            if let Some(old) = inner.state.flags.get(&f.key) {
                for (env, fe) in f.environments.iter_mut() {
                    if let Some(o) = old.env(env) {
                        fe.ladder = o.ladder.clone();
                        fe.guardrails = o.guardrails.clone();
                        // Unleash switches an environment off when its last active strategy is
                        // disabled; "on with every cohort rolled back" serves the same, so keep
                        // flagtop's view when that is all that happened.
                        let all_back = |c: &[crate::domain::Cohort]| c.iter().all(|c| c.rolled_back);
                        if !fe.enabled && o.enabled && all_back(&fe.cohorts) && all_back(&o.cohorts) {
                            fe.enabled = true;
                        }
                    }
                }
                f.owner = old.owner.clone();
                f.revision = old.revision;
                if *old == f {
                    continue;
                }
            }
            changed_flags.push(f);
        }
        let envs_changed = state.environments != inner.state.environments;
        if changed_flags.is_empty() && events.is_empty() && !envs_changed {
            drop(inner);
            self.mark_synced();
            return Ok(());
        }
        let revision = Revision(inner.state.revision.0 + 1);
        state.revision = revision;
        for f in &mut changed_flags {
            f.revision = revision;
        }
        let mut audit = Vec::new();
        for e in &events {
            let actor = Actor { name: crate::sanitize::clean(&e.actor, 60), role: Role::Viewer };
            let caller = Caller { actor, source: "unleash".into() };
            let mut ev = inner.new_audit(&caller, AuditKind::External, &e.summary, e.at, revision);
            ev.flag = e.flag.as_deref().filter(|f| crate::domain::ids::valid_key(f)).map(crate::domain::FlagKey::from);
            audit.push(ev);
        }
        inner.store.commit(Commit { meta: Some(&state), flags: changed_flags.iter().collect(), audit: audit.iter().collect(), ..Default::default() })?;
        inner.state.revision = revision;
        inner.state.environments = state.environments;
        for f in &changed_flags {
            inner.state.flags.insert(f.key.clone(), f.clone());
        }
        inner.publish(&self.tx, Change { revision, at: now, flags: changed_flags, frozen: None, approvals: vec![], audit });
        drop(inner);
        self.mark_synced();
        Ok(())
    }

    /// Whether every guardrail of (flag, env) is healthy with enough data; engine bookkeeping.
    pub(super) fn with_inner<R>(&self, f: impl FnOnce(&mut Inner, &broadcast::Sender<StreamMsg>) -> R) -> R {
        let mut inner = lock(&self.inner);
        f(&mut inner, &self.tx)
    }
}

/// Engine helpers that go through the same apply/request path.
impl Inner {
    /// Keep memory bounded: only the newest decided requests stay in memory (all are stored).
    fn prune_decided(&mut self) {
        let mut decided: Vec<(DateTime<Utc>, ApprovalId)> = self
            .approvals
            .values()
            .filter(|a| a.state != ApprovalState::Pending)
            .map(|a| (a.decided_at.unwrap_or(a.created_at), a.id.clone()))
            .collect();
        if decided.len() <= KEEP_DECIDED {
            return;
        }
        decided.sort();
        let excess = decided.len() - KEEP_DECIDED;
        for (_, id) in decided.into_iter().take(excess) {
            self.approvals.remove(&id);
        }
    }

    /// Forget idempotency records older than the TTL (at most once an hour).
    pub(super) fn prune_idempotency(&mut self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        if self.idem_pruned_at.is_some_and(|t| now - t < Duration::hours(1)) {
            return Ok(0);
        }
        self.idem_pruned_at = Some(now);
        Ok(self.store.prune_idempotency(now - Duration::hours(IDEMPOTENCY_TTL_HOURS))?)
    }

    /// After a change that takes exposure back, check the affected guardrails one window later.
    fn schedule_evidence(&mut self, action: &Action, follows: AuditId, now: DateTime<Utc>) {
        let reduces = matches!(
            action,
            Action::Rollback { .. } | Action::Retreat { .. } | Action::Kill { .. } | Action::SetPercent { .. }
        ) && action.tier(&self.state) != crate::domain::Tier::Expand;
        let Some(fe) = action.flag().and_then(|f| self.state.flags.get(f)).and_then(|f| f.env(action.env())) else { return };
        let specs: Vec<_> = fe
            .guardrails
            .iter()
            .filter(|g| action.cohort().is_none_or(|c| c.as_str() == g.cohort.as_str()))
            .collect();
        if !reduces || specs.is_empty() {
            return;
        }
        let window = specs.iter().map(|g| g.window_secs).max().unwrap_or(60);
        let mut cohorts: Vec<String> = specs.iter().map(|g| g.cohort.to_string()).collect();
        cohorts.dedup();
        self.evidence_due.push(EvidenceCheck {
            follows,
            action: action.clone(),
            cohorts,
            due: now + Duration::seconds(window as i64),
        });
    }

    /// Record the evidence of every check that is due: an `evidence` audit event linked to the
    /// change, with each affected guardrail's value for the cohort as a whole now.
    pub(super) fn record_due_evidence(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        readings: &[GuardrailReading],
        now: DateTime<Utc>,
    ) -> Result<usize, ServiceError> {
        let (due, later): (Vec<EvidenceCheck>, Vec<EvidenceCheck>) =
            std::mem::take(&mut self.evidence_due).into_iter().partition(|c| c.due <= now);
        self.evidence_due = later;
        let n = due.len();
        for check in due {
            let Some(flag) = check.action.flag() else { continue };
            let rs: Vec<&GuardrailReading> = readings
                .iter()
                .filter(|r| &r.flag == flag && &r.env == check.action.env() && check.cohorts.contains(&r.cohort))
                .collect();
            let mut parts = Vec::new();
            let mut evidence = Vec::new();
            for r in &rs {
                let ok = match (r.cohort_value, r.threshold) {
                    (Some(v), Some(limit)) => v <= limit,
                    _ => false,
                };
                let mut e = r.evidence();
                e.status = Some(if ok { "recovered" } else if r.cohort_value.is_none() { "no data" } else { "not recovered" }.into());
                parts.push(format!(
                    "{} of {} {} ({} vs baseline {})",
                    r.metric,
                    r.cohort,
                    e.status.as_deref().unwrap_or(""),
                    crate::domain::guardrail::fmt_value(r.cohort_value),
                    crate::domain::guardrail::fmt_value(r.baseline)
                ));
                evidence.push(e);
            }
            let revision = Revision(self.state.revision.0 + 1);
            let reason = format!("evidence after #{}: {}", check.follows, parts.join("; "));
            let mut audit = self.new_audit(&Caller::engine(), AuditKind::Evidence, &reason, now, revision);
            audit.flag = Some(flag.clone());
            audit.action = Some(check.action.clone());
            audit.evidence = evidence;
            audit.follows = Some(check.follows);
            let mut meta = self.scratch(&check.action);
            meta.revision = revision;
            self.store.commit(Commit { meta: Some(&meta), audit: vec![&audit], ..Default::default() })?;
            self.state.revision = revision;
            self.publish(tx, Change { revision, at: now, flags: vec![], frozen: None, approvals: vec![], audit: vec![audit] });
        }
        Ok(n)
    }

    /// Pending requests for exactly `action` are moot once it was applied directly: close them
    /// (best effort; they are closed again on the next load if this write fails).
    fn close_superseded(&mut self, caller: &Caller, action: &Action, by: AuditId, now: DateTime<Utc>) -> Vec<ApprovalRequest> {
        let moot: Vec<ApprovalRequest> = self
            .approvals
            .values()
            .filter(|a| a.state == ApprovalState::Pending && &a.action == action)
            .cloned()
            .collect();
        let mut closed = Vec::new();
        for mut a in moot {
            a.state = ApprovalState::Rejected;
            a.decided_by = Some(caller.actor.clone());
            a.decided_at = Some(now);
            a.decision_reason = Some(format!("superseded: the same change was applied directly (audit #{by})"));
            if self.store.commit(Commit { approvals: vec![&a], ..Default::default() }).is_ok() {
                self.approvals.insert(a.id.clone(), a.clone());
                closed.push(a);
            }
        }
        closed
    }

    pub(super) fn engine_apply(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        action: &Action,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ServiceError> {
        self.apply(tx, &Caller::engine(), action, reason, now, None, None)
    }

    pub(super) fn engine_request(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        action: &Action,
        reason: &str,
        evidence: Vec<Evidence>,
        evidence_gap: Option<String>,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Outcome, ServiceError> {
        self.request(tx, &Caller::engine(), action, reason, evidence, evidence_gap, now, ttl, None)
    }

    pub(super) fn has_pending(&self, action: &Action) -> bool {
        self.approvals.values().any(|a| a.state == ApprovalState::Pending && &a.action == action)
    }
}
