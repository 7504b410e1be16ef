//! Staging an action inside the lock: scratch apply, then staged on the live state with its
//! audit and reverse (see `commit`: durable, then published); and turning an action into an
//! approval request. No external call happens here (see `external`).

use super::group::Idem;
use super::*;

impl Inner {
    /// A scratch state holding only what `action` touches (cheap even with 10,000 flags).
    pub(in crate::control) fn scratch(&self, action: &Action) -> State {
        State {
            revision: self.state.revision,
            environments: self.state.environments.clone(),
            frozen: self.state.frozen.clone(),
            env_revisions: self.state.env_revisions.clone(),
            webhooks: Vec::new(),
            flags: action
                .flag()
                .and_then(|k| self.state.flags.get_key_value(k))
                .map(|(k, f)| (k.clone(), f.clone()))
                .into_iter()
                .collect(),
        }
    }

    pub(in crate::control) fn evidence_for(&self, action: &Action) -> Vec<Evidence> {
        let Some(flag) = action.flag() else {
            return Vec::new();
        };
        self.readings
            .iter()
            .filter(|r| &r.flag == flag && &r.env == action.env())
            .filter(|r| action.cohort().is_none_or(|c| c == &r.cohort))
            .map(GuardrailReading::evidence)
            .collect()
    }

    pub(in crate::control) fn new_audit(
        &mut self,
        caller: &Caller,
        kind: AuditKind,
        reason: &str,
        now: DateTime<Utc>,
        revision: Revision,
    ) -> AuditEvent {
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

    pub(in crate::control) fn publish(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        change: Change,
    ) {
        for e in &change.audit {
            self.recent_audit.push_front(e.clone());
        }
        self.recent_audit.truncate(SNAPSHOT_AUDIT);
        let change = Arc::new(Published::new(&change));
        self.recent_bytes += change.json().len();
        self.recent.push_back(change.clone());
        while self.recent.len() > RESUME_WINDOW
            || (self.recent_bytes > RESUME_WINDOW_BYTES && self.recent.len() > 1)
        {
            if let Some(old) = self.recent.pop_front() {
                self.recent_bytes = self.recent_bytes.saturating_sub(old.json().len());
            }
        }
        let _ = tx.send(StreamMsg::Change(change));
    }

    /// Validate `action` on the live state (with whatever is staged before it) and stage it:
    /// scratch apply, then live state, audit and the change to publish.
    /// A refusal stages nothing.
    pub(super) fn stage_apply(
        &mut self,
        caller: &Caller,
        action: &Action,
        reason: &str,
        now: DateTime<Utc>,
        approval: Option<ApprovalRequest>,
        idem: Option<Idem<'_>>,
    ) -> Result<Outcome, ServiceError> {
        let mut scratch = self.scratch(action);
        let before = summarize(&scratch, action);
        let reverse = action.apply(&mut scratch, now)?;
        let revision = Revision(self.state.revision.0 + 1);
        scratch.revision = revision;
        match action.flag() {
            Some(k) => {
                if let Some(f) = scratch.flags.get_mut(k) {
                    Arc::make_mut(f).revision = revision;
                }
            }
            None => {
                scratch.env_revisions.insert(action.env().clone(), revision);
            }
        }
        let after = summarize(&scratch, action);
        // Nothing below fails: from here on the action is staged.
        self.begin_staging();
        let kind = if approval.is_some() {
            AuditKind::Approved
        } else {
            AuditKind::Applied
        };
        let mut audit = self.new_audit(caller, kind, reason, now, revision);
        audit.flag = action.flag().cloned();
        audit.action = Some(action.clone());
        audit.reverse = Some(reverse.clone());
        audit.before = Some(before);
        audit.after = Some(after);
        audit.evidence = self.evidence_for(action);
        audit.request_id = idem.map(|i| i.sent.to_string());
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
        let idem_rec = idem.map(|i| (i.scoped.to_string(), (i.record)(&outcome)));
        self.state.revision = revision;
        self.state.frozen = std::mem::take(&mut scratch.frozen);
        self.state.env_revisions = std::mem::take(&mut scratch.env_revisions);
        let mut flags = Vec::new();
        if let Some(k) = action.flag()
            && let Some(f) = scratch.flags.remove(k)
        {
            self.stage_flag(Arc::clone(&f));
            flags.push(f);
        }
        if let Some(a) = &approval {
            self.stage_approval(a.clone());
        }
        let frozen = action.flag().is_none().then(|| self.state.frozen.clone());
        let audit_id = audit.id;
        self.schedule_evidence(action, audit_id, now);
        let mut approvals: Vec<ApprovalRequest> = approval.into_iter().collect();
        approvals.extend(self.close_superseded(caller, action, audit_id, now));
        self.stage_change(
            Change {
                revision,
                at: now,
                flags,
                frozen,
                approvals,
                audit: vec![audit],
            },
            idem_rec,
        );
        Ok(outcome)
    }

    /// Stage an approval request for `action` (the reverse is computed now), or merge it into
    /// the open one for the same action. A refusal stages nothing.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stage_request(
        &mut self,
        caller: &Caller,
        action: &Action,
        reason: &str,
        evidence: Vec<Evidence>,
        evidence_gap: Option<String>,
        now: DateTime<Utc>,
        ttl: Duration,
        idem: Option<Idem<'_>>,
    ) -> Result<Outcome, ServiceError> {
        let mut scratch = self.scratch(action);
        let target_rev = action.target_revision(&scratch);
        let reverse = action.apply(&mut scratch, now)?;
        let revision = Revision(self.state.revision.0 + 1);
        // Merge duplicates of an open request instead of stacking them.
        if let Some(existing) = self
            .approvals
            .values()
            .find(|a| a.state == ApprovalState::Pending && &a.action == action)
        {
            let mut a = existing.clone();
            a.merged += 1;
            if !evidence.is_empty() {
                a.evidence = evidence;
            }
            if evidence_gap.is_some() {
                a.evidence_gap = evidence_gap;
            }
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
            let idem_rec = idem.map(|i| (i.scoped.to_string(), (i.record)(&outcome)));
            self.begin_staging();
            self.state.revision = revision;
            self.stage_approval(a.clone());
            self.stage_change(
                Change {
                    revision,
                    at: now,
                    flags: vec![],
                    frozen: None,
                    approvals: vec![a],
                    audit: vec![],
                },
                idem_rec,
            );
            return Ok(outcome);
        }
        let mine = self
            .approvals
            .values()
            .filter(|a| {
                a.state == ApprovalState::Pending && a.requested_by.name == caller.actor.name
            })
            .count();
        if mine >= bounds::MAX_PENDING_PER_REQUESTER
            && caller.actor.kind != crate::domain::ActorKind::Engine
        {
            return Err(ServiceError::new(
                ErrorKind::TooMany,
                "too_many_requests",
                format!(
                    "{} already has {} requests waiting for a decision (at most {}); withdraw or wait for some",
                    caller.actor.name,
                    mine,
                    bounds::MAX_PENDING_PER_REQUESTER
                ),
            ));
        }
        if self
            .approvals
            .values()
            .filter(|a| a.state == ApprovalState::Pending)
            .count()
            >= MAX_PENDING
        {
            return Err(ServiceError::new(
                ErrorKind::TooMany,
                "too_many_requests",
                format!(
                    "{MAX_PENDING} requests are already waiting for a decision; decide some first"
                ),
            ));
        }
        self.prune_decided();
        let id = ApprovalId::new(format!(
            "apr-{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        ));
        let evidence = if evidence.is_empty() {
            self.evidence_for(action)
        } else {
            evidence
        };
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
        self.begin_staging();
        let mut audit = self.new_audit(caller, AuditKind::Requested, reason, now, revision);
        audit.flag = action.flag().cloned();
        audit.action = Some(action.clone());
        audit.reverse = Some(reverse.clone());
        audit.approval = Some(id.clone());
        audit.evidence = req.evidence.clone();
        audit.request_id = idem.map(|i| i.sent.to_string());
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
        let idem_rec = idem.map(|i| (i.scoped.to_string(), (i.record)(&outcome)));
        self.state.revision = revision;
        self.stage_approval(req.clone());
        self.stage_change(
            Change {
                revision,
                at: now,
                flags: vec![],
                frozen: None,
                approvals: vec![req],
                audit: vec![audit],
            },
            idem_rec,
        );
        Ok(outcome)
    }
}
