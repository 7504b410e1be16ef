//! Deciding approval requests: approve (applies, through the external store when flags live
//! there), reject or withdraw, expire. Each is staged and committed by the one pipeline.

use super::*;

impl Inner {
    /// The open request `id`, or why it cannot be decided.
    pub(super) fn pending_request(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<ApprovalRequest, ServiceError> {
        let a = self.approvals.get(id).ok_or_else(|| {
            ServiceError::new(
                ErrorKind::NotFound,
                "unknown_approval",
                format!("no approval request `{id}`"),
            )
        })?;
        if a.is_expired(now) {
            return Err(ServiceError::new(
                ErrorKind::Conflict,
                "approval_expired",
                format!(
                    "request {id} expired at {}; ask for a new one",
                    a.expires_at
                ),
            ));
        }
        if a.state != ApprovalState::Pending {
            return Err(ServiceError::new(
                ErrorKind::Conflict,
                "approval_not_pending",
                format!("request {id} is already {}", a.state.as_str()),
            ));
        }
        Ok(a.clone())
    }

    /// Everything that must hold for `caller` to approve `id` now.
    pub(super) fn approvable(
        &self,
        caller: &Caller,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<ApprovalRequest, ServiceError> {
        let a = self.pending_request(id, now)?;
        if a.requested_by.name == caller.actor.name {
            return Err(ServiceError::new(
                ErrorKind::Forbidden,
                "self_approval",
                "nobody approves their own request: ask another approver",
            ));
        }
        let current = a.action.target_revision(&self.state);
        if current > a.revision {
            return Err(ServiceError::conflict(
                format!(
                    "changed since the request was made (revision {} → {current}); reject it and ask again on the current state",
                    a.revision
                ),
                Some(current),
            ));
        }
        Ok(a)
    }

    /// Stage the close of a request without applying it (rejected, expired).
    fn stage_close(
        &mut self,
        caller: &Caller,
        mut a: ApprovalRequest,
        state: ApprovalState,
        reason: &str,
        now: DateTime<Utc>,
    ) -> (ApprovalRequest, AuditId, Revision) {
        a.state = state;
        a.decided_by = Some(caller.actor.clone());
        a.decided_at = Some(now);
        a.decision_reason = Some(reason.to_string());
        let kind = if state == ApprovalState::Expired {
            AuditKind::Expired
        } else {
            AuditKind::Rejected
        };
        self.begin_staging();
        let revision = Revision(self.state.revision.0 + 1);
        let mut audit = self.new_audit(caller, kind, reason, now, revision);
        audit.flag = a.action.flag().cloned();
        audit.action = Some(a.action.clone());
        audit.approval = Some(a.id.clone());
        self.state.revision = revision;
        self.stage_approval(a.clone());
        let audit_id = audit.id;
        self.stage_change(
            Change {
                revision,
                at: now,
                flags: vec![],
                frozen: None,
                approvals: vec![a.clone()],
                audit: vec![audit],
            },
            None,
        );
        (a, audit_id, revision)
    }
}

impl ControlPlane {
    pub fn approve(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<Outcome, ServiceError> {
        authorise(caller, Op::Approve)?;
        check_reason(reason)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let a = inner.approvable(caller, id, now)?;
        if self.external.is_some() && crate::control::flags::touches_store(&a.action) {
            drop(inner);
            return self.approve_external(caller, a, reason);
        }
        let action = a.action.clone();
        let staged = inner.stage_apply(caller, &action, reason, now, Some(a), None);
        inner.commit_one(&self.tx, staged)
    }

    /// Reject (approvers) or withdraw (the requester) an open request.
    pub fn reject(&self, caller: &Caller, id: &str, reason: &str) -> Result<Outcome, ServiceError> {
        authorise(caller, Op::Reject)?;
        check_reason(reason)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let a = inner.pending_request(id, now)?;
        if !caller.actor.role.can_approve() && a.requested_by.name != caller.actor.name {
            return Err(ServiceError::forbidden(
                "only approvers (or the requester, to withdraw) can reject",
            ));
        }
        inner.close_rejected(&self.tx, caller, a, reason, now)
    }

    /// Withdraw an open request: only its requester may, whatever their role (closed as
    /// rejected, decided by the requester). Someone else's request is refused (403) before
    /// whether it is still open is looked at; a decided one is a conflict (409).
    pub fn withdraw(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<Outcome, ServiceError> {
        authorise(caller, Op::Reject)?;
        check_reason(reason)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let owner = inner
            .approvals
            .get(id)
            .map(|a| a.requested_by.name.clone())
            .ok_or_else(|| {
                ServiceError::new(
                    ErrorKind::NotFound,
                    "unknown_approval",
                    format!("no approval request `{id}`"),
                )
            })?;
        if owner != caller.actor.name {
            return Err(ServiceError::new(
                ErrorKind::Forbidden,
                "not_your_request",
                format!(
                    "request {id} was made by {owner}: only its requester withdraws it (an approver may reject it)"
                ),
            ));
        }
        let a = inner.pending_request(id, now)?;
        inner.close_rejected(&self.tx, caller, a, reason, now)
    }

    /// Mark overdue requests expired (audited, one commit). Returns how many.
    pub fn expire(&self) -> Result<usize, ServiceError> {
        let caller = Caller::system();
        authorise(&caller, Op::Expire)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let overdue: Vec<ApprovalRequest> = inner
            .approvals
            .values()
            .filter(|a| a.is_expired(now))
            .cloned()
            .collect();
        for a in overdue.iter().cloned() {
            inner.stage_close(&caller, a, ApprovalState::Expired, "request expired", now);
        }
        inner.commit(&self.tx)?;
        Ok(overdue.len())
    }
}

impl Inner {
    /// Close `a` as rejected (by an approver, or withdrawn by its requester) and commit.
    fn close_rejected(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        caller: &Caller,
        a: ApprovalRequest,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ServiceError> {
        let (a, audit_id, revision) =
            self.stage_close(caller, a, ApprovalState::Rejected, reason, now);
        self.commit(tx)?;
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
}
