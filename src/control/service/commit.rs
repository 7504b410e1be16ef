//! The one commit pipeline. Every writer stages its change under the service lock (live state,
//! audit, requests, tokens, evidence checks), remembering what it replaced; `commit` — the only
//! call into the store's write path in the whole service — writes everything staged in ONE
//! transaction (one fsync) and then publishes each change in revision order, or, when the write
//! fails, puts the live state back as it was and publishes nothing. The lock is held from the
//! first staged change to the end of `commit`, so no other thread sees a change that is not
//! durable.

use super::*;
use crate::control::error::STORE_BUSY;
use crate::control::store::StoreError;
use crate::domain::EnvKey;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Staged changes, in order, and how to take them back.
#[derive(Default)]
pub(in crate::control) struct Pending {
    undo: Option<Undo>,
    changes: Vec<Change>,
    idempotency: HashMap<String, IdemRecord>,
    tokens: Vec<(String, TokenRecord)>,
    evidence_new: Vec<EvidenceDue>,
    evidence_done: Vec<AuditId>,
    prune_idempotency_before: Option<DateTime<Utc>>,
    /// Webhooks removed: their queued deliveries and health go with the commit.
    hooks_removed: Vec<String>,
}

/// The live state as it was before the first staged change.
struct Undo {
    revision: Revision,
    environments: Vec<Environment>,
    frozen: BTreeSet<EnvKey>,
    env_revisions: BTreeMap<EnvKey, Revision>,
    webhooks: Vec<crate::domain::Webhook>,
    next_audit: u64,
    evidence_due: Vec<EvidenceDue>,
    flags: HashMap<FlagKey, Option<Arc<Flag>>>,
    approvals: HashMap<ApprovalId, Option<ApprovalRequest>>,
}

impl Pending {
    /// The record staged for an idempotency key in this group, if any.
    pub(super) fn idempotency(&self, key: &str) -> Option<&IdemRecord> {
        self.idempotency.get(key)
    }
}

impl Inner {
    /// Remember the live state before the first change of a group is staged. Call before any
    /// write to the live state (revision, audit counter, flags, requests).
    pub(super) fn begin_staging(&mut self) {
        if self.pending.undo.is_none() {
            self.pending.undo = Some(Undo {
                revision: self.state.revision,
                environments: self.state.environments.clone(),
                frozen: self.state.frozen.clone(),
                env_revisions: self.state.env_revisions.clone(),
                webhooks: self.state.webhooks.clone(),
                next_audit: self.next_audit,
                evidence_due: self.evidence_due.clone(),
                flags: HashMap::new(),
                approvals: HashMap::new(),
            });
        }
    }

    /// Make `flag` live, remembering the version it replaces.
    pub(super) fn stage_flag(&mut self, flag: Arc<Flag>) {
        self.begin_staging();
        let key = flag.key.clone();
        let old = self.state.flags.insert(key.clone(), flag);
        if let Some(undo) = &mut self.pending.undo {
            undo.flags.entry(key).or_insert(old);
        }
    }

    /// Make `request` live, remembering the version it replaces.
    pub(super) fn stage_approval(&mut self, request: ApprovalRequest) {
        self.begin_staging();
        let id = request.id.clone();
        let old = self.approvals.insert(id.clone(), request);
        if let Some(undo) = &mut self.pending.undo {
            undo.approvals.entry(id).or_insert(old);
        }
    }

    /// Queue `change` for the group's commit and, once durable, for the streams. The flags,
    /// requests and audit events it carries are what the commit writes.
    pub(super) fn stage_change(
        &mut self,
        change: Change,
        idempotency: Option<(String, IdemRecord)>,
    ) {
        self.begin_staging();
        self.pending.changes.push(change);
        if let Some((key, rec)) = idempotency {
            self.pending.idempotency.insert(key, rec);
        }
    }

    /// Stage a minted token (its record; the secret is never stored).
    pub(super) fn stage_token(&mut self, hash: String, rec: TokenRecord) {
        self.begin_staging();
        self.pending.tokens.push((hash, rec));
    }

    /// Schedule an evidence check, durable with the change that causes it.
    pub(super) fn stage_evidence_due(&mut self, check: EvidenceDue) {
        self.begin_staging();
        self.evidence_due.push(check.clone());
        self.pending.evidence_new.push(check);
    }

    /// Mark an evidence check recorded (it leaves the store with the evidence event's commit).
    pub(super) fn stage_evidence_done(&mut self, follows: AuditId) {
        self.begin_staging();
        self.evidence_due.retain(|c| c.follows != follows);
        self.pending.evidence_new.retain(|c| c.follows != follows);
        self.pending.evidence_done.push(follows);
    }

    /// Drop a removed webhook's queued deliveries and health with the next commit.
    pub(super) fn stage_hook_removed(&mut self, name: String) {
        self.begin_staging();
        self.pending.hooks_removed.push(name);
    }

    /// Forget idempotency records made before `before` with the next commit.
    pub(super) fn stage_prune_idempotency(&mut self, before: DateTime<Utc>) {
        self.begin_staging();
        self.pending.prune_idempotency_before = Some(before);
    }

    /// THE commit: everything staged in one transaction, then each change published in order.
    /// On a failed commit nothing staged stays live and nothing is published.
    pub(in crate::control) fn commit(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
    ) -> Result<(), ServiceError> {
        let pending = std::mem::take(&mut self.pending);
        let Some(undo) = pending.undo else {
            return Ok(());
        };
        if pending.changes.is_empty() && pending.prune_idempotency_before.is_none() {
            self.undo(undo);
            return Ok(());
        }
        let written = {
            // A flag or request changed twice in the group: its newest version is the one kept.
            let mut flags = BTreeMap::new();
            let mut approvals = BTreeMap::new();
            for c in &pending.changes {
                flags.extend(c.flags.iter().map(|f| (&f.key, f)));
                approvals.extend(c.approvals.iter().map(|a| (&a.id, a)));
            }
            let outbox = self.outbox_for(&pending.changes, &undo.flags);
            self.store.commit(Commit {
                outbox: outbox.iter().collect(),
                hooks_removed: pending.hooks_removed.iter().map(String::as_str).collect(),
                meta: Some(&self.state),
                base: undo.revision,
                changes: pending.changes.iter().collect(),
                last_audit: self.next_audit,
                flags: flags.into_values().map(|f| &**f).collect(),
                approvals: approvals.into_values().collect(),
                audit: pending.changes.iter().flat_map(|c| &c.audit).collect(),
                idempotency: pending
                    .idempotency
                    .iter()
                    .map(|(k, r)| (k.as_str(), r))
                    .collect(),
                tokens: pending
                    .tokens
                    .iter()
                    .map(|(h, r)| (h.as_str(), r))
                    .collect(),
                evidence_due: pending.evidence_new.iter().collect(),
                evidence_done: pending.evidence_done.clone(),
                prune_idempotency_before: pending.prune_idempotency_before,
            })
        };
        match written {
            Ok(()) => {
                for change in pending.changes {
                    self.publish(tx, change);
                }
                Ok(())
            }
            Err(StoreError::Behind { db, staged }) => {
                // Another replica committed first: nothing of this group was written. Take in
                // what it committed, so a retry stages on it. Not a conflict — nothing the caller
                // decided on need have changed: the group commit re-validates and retries; the
                // one-change paths answer "busy, retry" (503 with Retry-After).
                self.undo(undo);
                if let Err(e) = self.catch_up(tx) {
                    tracing::warn!(error = %e, "could not catch up with another replica");
                }
                Err(ServiceError::new(
                    ErrorKind::Unavailable,
                    STORE_BUSY,
                    format!(
                        "another replica committed first (revision {db}, this one staged on {staged}); \
                         nothing was applied — retry"
                    ),
                ))
            }
            Err(e) => {
                self.undo(undo);
                Err(e.into())
            }
        }
    }

    /// Take in what other replicas committed after the live revision, in order, and publish
    /// each change to this replica's streams. Nothing may be staged. Returns how many changes.
    pub(in crate::control) fn catch_up(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
    ) -> Result<usize, StoreError> {
        if self.pending.undo.is_some() {
            return Ok(0);
        }
        let Some(c) = self.store.since(self.state.revision)? else {
            return Ok(0);
        };
        let n = c.changes.len();
        for change in c.changes {
            for f in &change.flags {
                self.state.flags.insert(f.key.clone(), Arc::clone(f));
            }
            for a in &change.approvals {
                self.approvals.insert(a.id.clone(), a.clone());
            }
            self.publish(tx, change);
        }
        if c.state.revision > self.state.revision {
            self.state.revision = c.state.revision;
            self.state.environments = c.state.environments;
            self.state.frozen = c.state.frozen;
            self.state.env_revisions = c.state.env_revisions;
            self.state.webhooks = c.state.webhooks;
        }
        self.next_audit = self.next_audit.max(c.last_audit);
        self.evidence_due = c.evidence_due;
        Ok(n)
    }

    /// Drop whatever is staged (after a refusal in a one-change path).
    pub(in crate::control) fn discard(&mut self) {
        if let Some(undo) = std::mem::take(&mut self.pending).undo {
            self.undo(undo);
        }
    }

    /// Commit what `staged` staged at once: the one-change path (engine, approvals, proposals).
    pub(super) fn commit_one(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        staged: Result<Outcome, ServiceError>,
    ) -> Result<Outcome, ServiceError> {
        match staged {
            Ok(outcome) => self.commit(tx).map(|()| outcome),
            Err(e) => {
                self.discard();
                Err(e)
            }
        }
    }

    fn undo(&mut self, u: Undo) {
        self.state.revision = u.revision;
        self.state.environments = u.environments;
        self.state.frozen = u.frozen;
        self.state.env_revisions = u.env_revisions;
        self.state.webhooks = u.webhooks;
        self.next_audit = u.next_audit;
        self.evidence_due = u.evidence_due;
        for (key, old) in u.flags {
            match old {
                Some(f) => self.state.flags.insert(key, f),
                None => self.state.flags.remove(&key),
            };
        }
        for (id, old) in u.approvals {
            match old {
                Some(a) => self.approvals.insert(id, a),
                None => self.approvals.remove(&id),
            };
        }
    }
}
