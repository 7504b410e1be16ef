//! Upkeep under the lock: superseded and decided requests, idempotency expiry, evidence after
//! a change, and the engine's entry points into the mutation path.

use super::*;

impl Inner {
    /// Keep memory bounded: only the newest decided requests stay in memory (all are stored).
    pub(in crate::control) fn prune_decided(&mut self) {
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
    pub(in crate::control) fn prune_idempotency(&mut self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        if self.idem_pruned_at.is_some_and(|t| now - t < Duration::hours(1)) {
            return Ok(0);
        }
        self.idem_pruned_at = Some(now);
        Ok(self.store.prune_idempotency(now - Duration::hours(IDEMPOTENCY_TTL_HOURS))?)
    }

    /// After a change that takes exposure back, check the affected guardrails one window later.
    pub(in crate::control) fn schedule_evidence(&mut self, action: &Action, follows: AuditId, now: DateTime<Utc>) {
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
    pub(in crate::control) fn record_due_evidence(
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

    /// Pending requests for exactly `action` are moot once it was applied directly: close them,
    /// staged with the action (committed, published or undone together with it).
    pub(in crate::control) fn close_superseded(&mut self, caller: &Caller, action: &Action, by: AuditId, now: DateTime<Utc>) -> Vec<ApprovalRequest> {
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
            self.stage_approval(a.clone());
            closed.push(a);
        }
        closed
    }

    pub(in crate::control) fn engine_apply(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        action: &Action,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ServiceError> {
        let staged = self.stage_apply(&Caller::engine(), action, reason, now, None, None);
        self.commit_one(tx, staged)
    }

    pub(in crate::control) fn engine_request(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        action: &Action,
        reason: &str,
        evidence: Vec<Evidence>,
        evidence_gap: Option<String>,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Outcome, ServiceError> {
        let staged = self.stage_request(&Caller::engine(), action, reason, evidence, evidence_gap, now, ttl, None);
        self.commit_one(tx, staged)
    }

    pub(in crate::control) fn has_pending(&self, action: &Action) -> bool {
        self.approvals.values().any(|a| a.state == ApprovalState::Pending && &a.action == action)
    }
}
