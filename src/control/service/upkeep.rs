//! Upkeep: superseded and decided requests, idempotency expiry, and evidence after a change
//! (scheduled durably with the change, recorded through the one pipeline).

use super::*;
use crate::wire::exposure::EXPOSURE_WINDOW_SECS;

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

    /// After a change that takes exposure back, check the affected guardrails one window later;
    /// after a narrowed rollback, also whether the cohort's traffic moved (one exposure window
    /// later when the cohort has no guardrail).
    pub(in crate::control) fn schedule_evidence(
        &mut self,
        action: &Action,
        follows: AuditId,
        now: DateTime<Utc>,
    ) {
        let reduces = matches!(
            action,
            Action::Rollback { .. }
                | Action::Retreat { .. }
                | Action::Kill { .. }
                | Action::SetPercent { .. }
        ) && action.tier(&self.state) != crate::domain::Tier::Expand;
        let Some(fe) = action
            .flag()
            .and_then(|f| self.state.flags.get(f))
            .and_then(|f| f.env(action.env()))
        else {
            return;
        };
        let specs: Vec<_> = fe
            .guardrails
            .iter()
            .filter(|g| {
                action
                    .cohort()
                    .is_none_or(|c| c.as_str() == g.cohort.as_str())
            })
            .collect();
        let rollback = matches!(action, Action::Rollback { .. });
        if !reduces || (specs.is_empty() && !rollback) {
            return;
        }
        let window = specs
            .iter()
            .map(|g| g.window_secs)
            .max()
            .unwrap_or(EXPOSURE_WINDOW_SECS as u64);
        let mut cohorts: Vec<String> = specs.iter().map(|g| g.cohort.to_string()).collect();
        if let Some(c) = action.cohort()
            && cohorts.is_empty()
        {
            cohorts.push(c.to_string());
        }
        cohorts.dedup();
        self.stage_evidence_due(EvidenceDue {
            follows,
            action: action.clone(),
            cohorts,
            due: now + Duration::seconds(window as i64),
            changed_at: Some(now),
        });
    }

    /// Stage the evidence of every check that is due: an `evidence` audit event linked to the
    /// change, with each affected guardrail's value for the cohort as a whole now.
    fn stage_due_evidence(
        &mut self,
        caller: &Caller,
        readings: &[GuardrailReading],
        exposure: &super::super::exposure::Exposure,
        now: DateTime<Utc>,
    ) -> usize {
        let due: Vec<EvidenceDue> = self
            .evidence_due
            .iter()
            .filter(|c| c.due <= now)
            .cloned()
            .collect();
        let n = due.len();
        // Read once, and only when a check is due (the engine calls this every tick).
        let summary = if n > 0 {
            exposure.summary(now)
        } else {
            Vec::new()
        };
        for check in due {
            self.stage_evidence_done(check.follows);
            let Some(flag) = check.action.flag() else {
                continue;
            };
            let rs: Vec<&GuardrailReading> = readings
                .iter()
                .filter(|r| {
                    &r.flag == flag
                        && &r.env == check.action.env()
                        && check
                            .cohorts
                            .iter()
                            .any(|c| c.as_str() == r.cohort.as_str())
                })
                .collect();
            let mut parts = Vec::new();
            let mut evidence = Vec::new();
            for r in &rs {
                let ok = match (r.cohort_value, r.threshold) {
                    (Some(v), Some(limit)) => v <= limit,
                    _ => false,
                };
                let mut e = r.evidence();
                e.status = Some(
                    if ok {
                        "recovered"
                    } else if r.cohort_value.is_none() {
                        "no data"
                    } else {
                        "not recovered"
                    }
                    .into(),
                );
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
            if let (Action::Rollback { cohort, .. }, Some(since)) =
                (&check.action, check.changed_at)
            {
                let flag = (flag.as_str(), check.action.env().as_str(), cohort.as_str());
                let before = exposure.candidate_before(flag, since, now);
                let (part, e) = traffic_moved(&summary, flag, before, since, now);
                parts.push(part);
                evidence.push(e);
            }
            let revision = Revision(self.state.revision.0 + 1);
            let reason = format!("evidence after #{}: {}", check.follows, parts.join("; "));
            let mut audit = self.new_audit(caller, AuditKind::Evidence, &reason, now, revision);
            audit.flag = Some(flag.clone());
            audit.action = Some(check.action.clone());
            audit.evidence = evidence;
            audit.follows = Some(check.follows);
            self.state.revision = revision;
            self.stage_change(Change::audit_only(revision, now, audit), None);
        }
        n
    }

    /// Pending requests for exactly `action` are moot once it was applied directly: close them,
    /// staged with the action (committed, published or undone together with it).
    pub(in crate::control) fn close_superseded(
        &mut self,
        caller: &Caller,
        action: &Action,
        by: AuditId,
        now: DateTime<Utc>,
    ) -> Vec<ApprovalRequest> {
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
            a.decision_reason = Some(format!(
                "superseded: the same change was applied directly (audit #{by})"
            ));
            self.stage_approval(a.clone());
            closed.push(a);
        }
        closed
    }
}

/// Whether a narrowed rollback at `since` moved the cohort's traffic, from the exposure counts
/// taken at `now`: the evidence's sentence and its `exposure` entry (`candidate`: candidate
/// evaluations/min since the change, `baseline`: what it was before, `status`: traffic moved,
/// still served or no evaluations).
fn traffic_moved(
    exposure: &[crate::wire::ExposureCount],
    (flag, env, cohort): (&str, &str, &str),
    before: Option<u64>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (String, Evidence) {
    let served = crate::wire::exposure::served(exposure, flag, env, Some(cohort));
    let moved = served.since(since, now).or_was(before);
    let e = Evidence {
        metric: "exposure".into(),
        cohort: cohort.to_string(),
        candidate: moved.now_per_min().map(|n| n as f64),
        baseline: moved.was().map(|n| n as f64),
        threshold: Some(0.0),
        samples: served.cohort_per_min,
        window_secs: EXPOSURE_WINDOW_SECS as u64,
        status: Some(moved.status().into()),
        cohort_value: None,
    };
    (moved.describe(cohort, since), e)
}

impl ControlPlane {
    /// Record the evidence of every check that is due (the engine's entry; one commit).
    pub fn record_due_evidence(
        &self,
        caller: &Caller,
        readings: &[GuardrailReading],
    ) -> Result<usize, ServiceError> {
        authorise(caller, Op::RecordEvidence)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let n = inner.stage_due_evidence(caller, readings, &self.exposure, now);
        inner.commit(&self.tx)?;
        Ok(n)
    }

    /// Evidence checks not yet recorded (durable: they survive a restart).
    pub fn evidence_due(&self) -> Vec<EvidenceDue> {
        lock(&self.inner).evidence_due.clone()
    }

    /// Forget idempotency records older than the TTL (at most once an hour), through the pipeline.
    pub fn prune_idempotency(&self) -> Result<bool, ServiceError> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        if inner
            .idem_pruned_at
            .is_some_and(|t| now - t < Duration::hours(1))
        {
            return Ok(false);
        }
        inner.idem_pruned_at = Some(now);
        inner.stage_prune_idempotency(now - Duration::hours(IDEMPOTENCY_TTL_HOURS));
        inner.commit(&self.tx)?;
        Ok(true)
    }
}
