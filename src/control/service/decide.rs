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
        let staged = inner.stage_apply(caller, &action, reason, now, Some(a), None);
        inner.commit_one(&self.tx, staged)
    }

    pub fn reject(&self, caller: &Caller, id: &str, reason: &str) -> Result<Outcome, ServiceError> {
        check_reason(reason)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let a = Self::pending(&inner, id, now)?;
        if !caller.actor.role.can_approve() && a.requested_by.name != caller.actor.name {
            return Err(ServiceError::new(403, "forbidden", "only approvers (or the requester, to withdraw) can reject"));
        }
        let (a, audit_id, revision) = inner.close_request(&self.tx, caller, a, ApprovalState::Rejected, reason, now)?;
        Ok(Outcome {
            outcome: OutcomeKind::Rejected,
            revision,
            action: a.action.clone(),
            reverse: a.reverse.clone(),
            reverse_command: String::new(),
            audit_id: Some(audit_id),
            approval_id: Some(a.id),
            replayed: false,
        })
    }

    /// Mark overdue requests expired (audited). Returns how many.
    pub fn expire(&self) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let overdue: Vec<ApprovalRequest> = inner.approvals.values().filter(|a| a.is_expired(now)).cloned().collect();
        let caller = Caller::engine();
        for a in overdue.iter().cloned() {
            inner.close_request(&self.tx, &caller, a, ApprovalState::Expired, "request expired", now)?;
        }
        Ok(overdue.len())
    }
}

impl Inner {
    /// Close a request without applying it (rejected, expired): audited, durable, published.
    fn close_request(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        caller: &Caller,
        mut a: ApprovalRequest,
        state: ApprovalState,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(ApprovalRequest, AuditId, Revision), ServiceError> {
        a.state = state;
        a.decided_by = Some(caller.actor.clone());
        a.decided_at = Some(now);
        a.decision_reason = Some(reason.to_string());
        let kind = if state == ApprovalState::Expired { AuditKind::Expired } else { AuditKind::Rejected };
        let revision = Revision(self.state.revision.0 + 1);
        let mut audit = self.new_audit(caller, kind, reason, now, revision);
        audit.flag = a.action.flag().cloned();
        audit.action = Some(a.action.clone());
        audit.approval = Some(a.id.clone());
        let mut meta = self.scratch(&a.action);
        meta.revision = revision;
        self.store.commit(Commit { meta: Some(&meta), approvals: vec![&a], audit: vec![&audit], ..Default::default() })?;
        self.state.revision = revision;
        self.approvals.insert(a.id.clone(), a.clone());
        let audit_id = audit.id;
        self.publish(tx, Change { revision, at: now, flags: vec![], frozen: None, approvals: vec![a.clone()], audit: vec![audit] });
        Ok((a, audit_id, revision))
    }
}
