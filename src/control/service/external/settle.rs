//! Under the lock, the two ends of an external write: marking the flag in flight before the
//! store is called, and committing what really happened once the outcome is known.

use super::*;

impl Inner {
    /// Under the lock: compute what the store should hold after `action` and mark the flag in
    /// flight. A flag with a write in flight or unsettled refuses a second one.
    pub(super) fn begin_write(
        &mut self,
        caller: &Caller,
        action: &Action,
        reason: &str,
        approval: Option<ApprovalRequest>,
        idem: Option<(String, String, String)>,
        now: DateTime<Utc>,
    ) -> Result<Write, ServiceError> {
        let Some(key) = action.flag().cloned() else {
            return Err(ServiceError::new(
                ErrorKind::Internal,
                "no_flag",
                "only flag actions reach the external store",
            ));
        };
        let mut scratch = self.scratch(action);
        action.apply(&mut scratch, now)?;
        let (Some(before), Some(after)) = (
            self.state.flags.get(&key).cloned(),
            scratch.flags.remove(&key),
        ) else {
            return Err(DomainError::UnknownFlag(key.to_string()).into());
        };
        if !self.in_flight.insert(key.clone()) {
            return Err(ServiceError::conflict(
                format!(
                    "another change to {key} is being written to the flag store (or its outcome is still being settled); look again in a moment"
                ),
                None,
            ));
        }
        Ok(Write {
            caller: caller.clone(),
            action: action.clone(),
            reason: reason.to_string(),
            approval,
            idem,
            before,
            after: Arc::unwrap_or_clone(after),
        })
    }

    /// Commit what the store did with `w` and release its flag (unless still unknown).
    pub(super) fn settle(
        &mut self,
        tx: &broadcast::Sender<StreamMsg>,
        w: Write,
        truth: Truth,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ServiceError> {
        let key = w.before.key.clone();
        match truth {
            Truth::Applied {
                confirmed_by_reading,
            } => {
                self.in_flight.remove(&key);
                let reason = if confirmed_by_reading {
                    format!(
                        "{} (the flag store did not answer; reading it back confirmed the change)",
                        w.reason
                    )
                } else {
                    w.reason.clone()
                };
                let idem_fn = |o: &Outcome| IdemRecord {
                    body_hash: w.idem.as_ref().map(|i| i.2.clone()).unwrap_or_default(),
                    status: 200,
                    response: serde_json::to_value(o).unwrap_or_default(),
                    at: now,
                };
                let idem = w.idem.as_ref().map(|(scoped, sent, _)| Idem {
                    scoped,
                    sent,
                    record: &idem_fn,
                });
                let staged =
                    self.stage_apply(&w.caller, &w.action, &reason, now, w.approval.clone(), idem);
                // The store has it. If flagtop cannot record it (a refusal on the state it holds
                // now, or a failed commit), the answer must not read as "nothing changed": the
                // change is live in the flag store and the follower brings it in.
                self.commit_one(tx, staged).map_err(|e| {
                    tracing::error!(error = %e, action = %w.action.describe(), "applied in the flag store but not recorded here");
                    ServiceError::new(
                        ErrorKind::OutcomeUnknown,
                        "applied_not_recorded",
                        format!(
                            "the flag store applied the change, but flagtop could not record it ({e}); it shows what the \
                             flag store holds within one sync — do not repeat the change, watch the flag"
                        ),
                    )
                })
            }
            Truth::Refused(e @ FlagStoreError::Conflict { .. }) if w.approval.is_some() => {
                // The approver was shown the request on the values flagtop saw; the store no
                // longer holds them, so applying would apply something nobody saw.
                self.in_flight.remove(&key);
                Err(ServiceError::new(
                    ErrorKind::Conflict,
                    "outdated",
                    format!(
                        "the request is outdated: {e}; nothing was changed — reject it and ask again on the current state"
                    ),
                ))
            }
            Truth::Refused(e) => {
                self.in_flight.remove(&key);
                Err(store_error(e))
            }
            Truth::NotApplied(why) => {
                self.in_flight.remove(&key);
                self.stage_note(
                    &w,
                    AuditKind::NotApplied,
                    &format!("not applied: {why}"),
                    now,
                );
                self.commit(tx)?;
                Err(ServiceError::new(
                    ErrorKind::Unavailable,
                    "flag_store_unavailable",
                    format!(
                        "nothing was changed: {why}; the request is unchanged — decide again when the flag store answers"
                    ),
                ))
            }
            Truth::Unknown(why) => {
                let first = !self.unsettled.iter().any(|u| {
                    u.write.action == w.action && u.write.before.revision == w.before.revision
                });
                if first {
                    self.stage_note(
                        &w,
                        AuditKind::OutcomeUnknown,
                        &format!("outcome unknown: {why}"),
                        now,
                    );
                    self.commit(tx)?;
                    self.unsettled.push(Unsettled { write: w });
                }
                Err(ServiceError::new(
                    ErrorKind::OutcomeUnknown,
                    "outcome_unknown",
                    format!(
                        "the flag store got the change but did not answer, and could not be read back ({why}); flagtop will record \
                         what it did as soon as it answers — do not repeat the change, watch the flag"
                    ),
                ))
            }
        }
    }

    /// Stage an audit note about an external write (not applied, outcome unknown).
    fn stage_note(&mut self, w: &Write, kind: AuditKind, note: &str, now: DateTime<Utc>) {
        self.begin_staging();
        let revision = Revision(self.state.revision.0 + 1);
        let mut audit = self.new_audit(
            &w.caller,
            kind,
            &format!("{} — {note}", w.reason),
            now,
            revision,
        );
        audit.flag = Some(w.before.key.clone());
        audit.action = Some(w.action.clone());
        audit.approval = w.approval.as_ref().map(|a| a.id.clone());
        self.state.revision = revision;
        self.stage_change(Change::audit_only(revision, now, audit), None);
    }
}
