//! Deciding approval requests: approve (applies), reject, expire.

use super::*;

impl ControlPlane {
    pub(in crate::control) fn pending(inner: &Inner, id: &str, now: DateTime<Utc>) -> Result<ApprovalRequest, ServiceError> {
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
}
