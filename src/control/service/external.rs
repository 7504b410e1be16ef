//! Flags held by an external flag store (Unleash): writing to it OUTSIDE the service lock and
//! committing what really happened, and merging what the follower read from it.
//!
//! A write: under the lock, validate and decide; mark the flag in flight (no other write to the
//! store for it, and the follower does not merge it); release the lock; call the store; take
//! the lock again and commit the truth. A refusal or a connection that never reached the store
//! changes nothing. A timeout, a dropped connection or a 5xx after the request was sent is an
//! *unknown* outcome: flagtop reads the flag back and records what the store really holds
//! (applied, or not applied); when even that fails, it records "outcome unknown", keeps the flag
//! in flight and settles it on the follower's next poll (`settle_unknown`). An approval request
//! follows the truth: applied with the change, still pending when the change did not happen.

mod follow;
mod settle;

use super::group::Idem;
use super::*;

/// A write sent to the external store whose outcome is not known yet.
pub(in crate::control) struct Unsettled {
    write: Write,
}

/// Everything needed to commit an external write once its outcome is known.
#[derive(Clone)]
struct Write {
    caller: Caller,
    action: Action,
    reason: String,
    approval: Option<ApprovalRequest>,
    /// The idempotency key (scoped, as sent) and the request's hash.
    idem: Option<(String, String, String)>,
    before: Arc<Flag>,
    after: Flag,
}

/// What the external store did with a write.
enum Truth {
    Applied {
        confirmed_by_reading: bool,
    },
    /// Definitely not applied: the store refused it, or it never reached the store.
    Refused(FlagStoreError),
    /// Sent, no answer, and the read-back shows the old values (or someone else's).
    NotApplied(String),
    Unknown(String),
}

/// Whether the store's copy of `flag` in `env` serves what `want` says (cohorts and on/off).
fn holds(store: &Flag, want: &Flag, env: &crate::domain::EnvKey) -> bool {
    match (store.env(env), want.env(env)) {
        (Some(s), Some(w)) => {
            s.enabled == w.enabled
                && s.cohorts.len() == w.cohorts.len()
                && s.cohorts
                    .iter()
                    .zip(&w.cohorts)
                    .all(|(a, b)| a.percent == b.percent && a.rolled_back == b.rolled_back)
        }
        _ => false,
    }
}

fn store_error(e: FlagStoreError) -> ServiceError {
    match e {
        FlagStoreError::Conflict { .. } => ServiceError::conflict(
            format!(
                "{e}; flagtop will pick up the new state within seconds — review it and decide again"
            ),
            None,
        ),
        FlagStoreError::Refused { .. } => {
            ServiceError::new(ErrorKind::Invalid, "flag_store_refused", e.to_string())
        }
        FlagStoreError::Unavailable { .. } => ServiceError::new(
            ErrorKind::Unavailable,
            "flag_store_unavailable",
            format!("{e}; nothing was changed"),
        ),
        FlagStoreError::Unknown { .. } => {
            ServiceError::new(ErrorKind::OutcomeUnknown, "outcome_unknown", e.to_string())
        }
    }
}

impl ControlPlane {
    /// `submit` for an action that changes state held by the external store.
    pub(super) fn submit_external(
        &self,
        caller: &Caller,
        req: &ActionRequest,
        key: Option<(String, String)>,
        gap: Option<String>,
    ) -> Result<Outcome, ServiceError> {
        let now = self.clock.now();
        let hash = body_hash(&caller.actor, req);
        let write = {
            let mut inner = lock(&self.inner);
            if let Some((scoped, _)) = &key
                && let Some(answer) = inner.replayed(scoped, &hash)
            {
                return answer;
            }
            let idem_fn = |o: &Outcome| IdemRecord {
                body_hash: hash.clone(),
                status: 200,
                response: serde_json::to_value(o).unwrap_or_default(),
                at: now,
            };
            let idem = key.as_ref().map(|(scoped, sent)| Idem {
                scoped,
                sent,
                record: &idem_fn,
            });
            match inner.check_submission(caller, req)? {
                Decision::Deny(why) => return Err(ServiceError::forbidden(why)),
                Decision::Request => {
                    let staged = inner.stage_request(
                        caller,
                        &req.action,
                        &req.reason,
                        Vec::new(),
                        gap,
                        now,
                        self.approval_ttl,
                        idem,
                    );
                    return inner.commit_one(&self.tx, staged);
                }
                Decision::Apply => {}
            }
            inner.begin_write(
                caller,
                &req.action,
                &req.reason,
                None,
                key.map(|(s, k)| (s, k, hash.clone())),
                now,
            )?
        };
        self.write_external(write)
    }

    /// `approve` for a request whose action changes state held by the external store.
    pub(super) fn approve_external(
        &self,
        caller: &Caller,
        a: ApprovalRequest,
        reason: &str,
    ) -> Result<Outcome, ServiceError> {
        let now = self.clock.now();
        let write = {
            let mut inner = lock(&self.inner);
            // Decided again under this lock: the request may have changed since it was read.
            let a = inner.approvable(caller, a.id.as_str(), now)?;
            let action = a.action.clone();
            inner.begin_write(caller, &action, reason, Some(a), None, now)?
        };
        self.write_external(write)
    }

    /// Call the store without the lock, find out what happened, commit the truth.
    fn write_external(&self, w: Write) -> Result<Outcome, ServiceError> {
        let Some(ext) = self.external.clone() else {
            return Err(ServiceError::new(
                ErrorKind::Internal,
                "no_flag_store",
                "no external flag store is configured",
            ));
        };
        let truth = match ext.apply(&w.action, &w.before, &w.after) {
            Ok(()) => Truth::Applied {
                confirmed_by_reading: false,
            },
            Err(e @ FlagStoreError::Unknown { .. }) => {
                tracing::warn!(error = %e, action = %w.action.describe(), "external write outcome unknown; reading it back");
                read_back(ext.as_ref(), &w, e.to_string())
            }
            Err(e) => Truth::Refused(e),
        };
        let mut inner = lock(&self.inner);
        inner.settle(&self.tx, w, truth, self.clock.now())
    }

    /// Settle writes whose outcome was unknown: read each flag back; commit what the store
    /// holds. Called by the follower on every poll. Returns how many were settled.
    pub fn settle_unknown(&self) -> usize {
        let Some(ext) = self.external.clone() else {
            return 0;
        };
        let waiting: Vec<Write> = lock(&self.inner)
            .unsettled
            .iter()
            .map(|u| u.write.clone())
            .collect();
        let mut settled = 0;
        for w in waiting {
            let truth = read_back(ext.as_ref(), &w, String::new());
            if matches!(truth, Truth::Unknown(_)) {
                continue;
            }
            let mut inner = lock(&self.inner);
            let Some(i) = inner.unsettled.iter().position(|u| {
                u.write.action == w.action && u.write.before.revision == w.before.revision
            }) else {
                continue;
            };
            inner.unsettled.remove(i);
            let r = inner.settle(&self.tx, w, truth, self.clock.now());
            if let Err(e) = r {
                tracing::warn!(error = %e, "settling an external write");
            }
            settled += 1;
        }
        settled
    }

    /// Writes to the external store whose outcome is not known yet (for status and tests).
    pub fn unsettled(&self) -> usize {
        lock(&self.inner).unsettled.len()
    }
}

/// Read the flag back and compare with what was sent.
fn read_back(ext: &dyn FlagStore, w: &Write, why: String) -> Truth {
    if matches!(w.action, Action::Archive { .. } | Action::Unarchive { .. }) {
        return read_back_archive(ext, w, why);
    }
    let env = w.action.env();
    match ext.read(&w.before.key) {
        Ok(Some(now)) if holds(&now, &w.after, env) => Truth::Applied {
            confirmed_by_reading: true,
        },
        Ok(Some(now)) if holds(&now, &w.before, env) => Truth::NotApplied(format!(
            "{why}; reading {} back shows the old values",
            ext.name()
        )),
        Ok(Some(_)) => Truth::NotApplied(format!(
            "{why}; reading {} back shows values set by someone else",
            ext.name()
        )),
        Ok(None) => Truth::NotApplied(format!(
            "{why}; the flag no longer exists in {}",
            ext.name()
        )),
        Err(e) => Truth::Unknown(format!("{why}; reading it back failed too: {e}")),
    }
}

/// An archive or unarchive read back: is the flag archived in the store now?
fn read_back_archive(ext: &dyn FlagStore, w: &Write, why: String) -> Truth {
    let want = w.after.archived;
    match ext.archived(&w.before.key) {
        Ok(Some(a)) if a == want => Truth::Applied {
            confirmed_by_reading: true,
        },
        Ok(Some(_)) => Truth::NotApplied(format!(
            "{why}; reading {} back shows the flag still {}",
            ext.name(),
            if want { "live" } else { "archived" }
        )),
        Ok(None) => Truth::NotApplied(format!(
            "{why}; the flag no longer exists in {}",
            ext.name()
        )),
        Err(e) => Truth::Unknown(format!("{why}; reading it back failed too: {e}")),
    }
}
