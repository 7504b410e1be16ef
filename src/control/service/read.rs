//! Reads: snapshots, state, requests, audit pages, the stream's backlog. No writes here.

use super::*;

impl ControlPlane {
    pub fn subscribe(&self) -> broadcast::Receiver<StreamMsg> {
        self.tx.subscribe()
    }

    /// Changes after `revision` for a resuming stream, or None when they are no longer kept.
    pub fn changes_since(&self, revision: Revision) -> Option<Vec<Arc<Published>>> {
        let inner = lock(&self.inner);
        if revision >= inner.state.revision {
            return Some(Vec::new());
        }
        let oldest = inner.recent.front().map(|c| c.revision.0)?;
        if revision.0 + 1 < oldest {
            return None;
        }
        Some(
            inner
                .recent
                .iter()
                .filter(|c| c.revision > revision)
                .cloned()
                .collect(),
        )
    }

    /// The store's identity (see `Backend::epoch`).
    pub fn epoch(&self) -> &str {
        self.store.epoch()
    }

    /// Take in what other replicas of a shared store committed, publishing it to this
    /// replica's streams in order (the follower calls this when woken, and every second).
    pub fn follow_store(&self) -> Result<usize, ServiceError> {
        Ok(lock(&self.inner).catch_up(&self.tx)?)
    }

    /// Where the store is (never a password).
    pub fn store_description(&self) -> String {
        self.store.describe()
    }

    pub fn revision(&self) -> Revision {
        lock(&self.inner).state.revision
    }

    pub fn snapshot(&self, identity: &Actor) -> Snapshot {
        let inner = lock(&self.inner);
        let mut decided: Vec<&ApprovalRequest> = inner
            .approvals
            .values()
            .filter(|a| a.state != ApprovalState::Pending)
            .collect();
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
            flag_store_synced_at: self
                .external
                .as_ref()
                .and_then(|_| lock(&self.sync_status).0),
            flag_store_error: self
                .external
                .as_ref()
                .and_then(|_| lock(&self.sync_status).1.clone()),
            propagation_secs: self.external.as_ref().map(|e| e.propagation_secs()),
            environments: inner.state.environments.clone(),
            frozen: inner.state.frozen.clone(),
            flags: inner.state.flags.values().cloned().collect(),
            guardrails: inner.readings.clone(),
            approvals,
            audit: inner.recent_audit.iter().cloned().collect(),
            warnings: self.disabled_tokens.clone(),
            unsettled: inner.unsettled.len(),
            exposure: self.exposure.summary(self.clock.now()),
            simulated: self.simulated.load(std::sync::atomic::Ordering::Relaxed),
            lifecycle_rules: self.lifecycle_rules(),
            webhooks: lock(&self.hook_health).clone(),
        }
    }

    /// Read the live state without copying it (OFREP evaluations); `f` must be quick.
    pub fn read_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&lock(&self.inner).state)
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

    pub fn audit(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, ServiceError> {
        Ok(self.audit_page(flag, before, limit)?.0)
    }

    /// As `audit`, and where the search stopped if it hit `AUDIT_SCAN_LIMIT` first.
    pub fn audit_page(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<AuditEvent>, Option<u64>), ServiceError> {
        Ok(self
            .store
            .audit_scan(flag, before, limit.clamp(1, 1000), audit_scan_limit())?)
    }
}

/// `AUDIT_SCAN_LIMIT`; builds with the `test-hooks` feature (never shipped) take a lower one
/// from `FLAGTOP_TEST_AUDIT_SCAN_LIMIT`, so an end-to-end test can reach it without writing
/// 100,000 events.
fn audit_scan_limit() -> usize {
    #[cfg(feature = "test-hooks")]
    if let Some(n) = std::env::var("FLAGTOP_TEST_AUDIT_SCAN_LIMIT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.max(1);
    }
    AUDIT_SCAN_LIMIT
}
