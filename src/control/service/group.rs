//! Group commit for submitted actions. A submission queues a ticket; the first submitter to find
//! no group in progress leads: it takes the service lock, takes every ticket queued by then
//! (in order), stages each on the live state, commits them in one redb transaction (one fsync)
//! and answers all of them. Tickets that arrive meanwhile wait for the next leader, so while one
//! group is being fsynced the next one fills. Acknowledged still means durable: every answer is
//! given after the group's commit, and a failed commit fails every action staged in it.

use super::*;
use crate::control::error::STORE_BUSY;
use std::sync::Condvar;

/// At most this many actions in one transaction (and published at once: well inside the
/// broadcast channel's capacity, so no stream lags because of a burst).
const MAX_GROUP: usize = 256;

/// Commit attempts for one group when other replicas take the next revision first (each after
/// catching up and re-validating). From the second on the group holds the store's commit turn,
/// so one retry is enough; the bound is a safety net, after which 503 `store_busy`. (A jittered
/// backoff alone starved: against a replica committing back to back, one lost 8 in a row.)
const GROUP_ATTEMPTS: u32 = 8;

/// One submitted action waiting for its group.
pub(super) struct Ticket {
    id: u64,
    caller: Caller,
    req: ActionRequest,
    /// The idempotency key as stored (scoped to the caller's token) and as sent.
    key: Option<(String, String)>,
    /// What the evidence does not cover, for a request this action may become.
    gap: Option<String>,
}

#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<Waiting>,
    answered: Condvar,
}

#[derive(Default)]
struct Waiting {
    tickets: VecDeque<Ticket>,
    answers: HashMap<u64, Result<Outcome, ServiceError>>,
    /// A leader is staging or committing a group.
    leading: bool,
    next_id: u64,
    /// Groups committed and the largest so far (tests; cheap enough to keep for a metric).
    groups: u64,
    largest: usize,
    /// Commits retried because another replica took the revision first.
    retries: u64,
}

/// What staging one ticket gave.
enum Staged {
    /// Staged in this group: the answer once the group is durable.
    Pending(Outcome),
    /// Final now: a refusal, or the stored outcome of an earlier, durable request.
    Final(Result<Outcome, ServiceError>),
}

impl ControlPlane {
    /// Submit an action on behalf of `caller` (the path of the TUI, the CLI, the API and the
    /// engine). Returns once the action is durable (or refused).
    pub fn submit(
        &self,
        caller: &Caller,
        req: &ActionRequest,
        idem_key: Option<&str>,
    ) -> Result<Outcome, ServiceError> {
        self.submit_with_gap(caller, req, idem_key, None)
    }

    /// As `submit`; should policy turn the action into a request, `gap` says what its
    /// evidence does not cover (the engine's drafts).
    pub fn submit_with_gap(
        &self,
        caller: &Caller,
        req: &ActionRequest,
        idem_key: Option<&str>,
        gap: Option<String>,
    ) -> Result<Outcome, ServiceError> {
        authorise(caller, Op::Act)?;
        check_reason(&req.reason)?;
        bounds::check_action(&req.action)?;
        if let Some(g) = &gap {
            bounds::check_evidence(&[], Some(g))?;
        }
        if let Some(key) = idem_key
            && (key.is_empty() || key.len() > 200)
        {
            return Err(ServiceError::new(
                ErrorKind::Invalid,
                "invalid_idempotency_key",
                "an idempotency key is 1–200 characters",
            ));
        }
        let key = idem_key.map(|k| (caller.scoped_key(k), k.to_string()));
        if self.external.is_some() && crate::control::flags::touches_store(&req.action) {
            // Flags held elsewhere: the external call happens outside the lock, one at a time
            // per flag, never inside a group.
            return self.submit_external(caller, req, key, gap);
        }
        let mut w = lock(&self.group.state);
        let id = w.next_id;
        w.next_id += 1;
        w.tickets.push_back(Ticket {
            id,
            caller: caller.clone(),
            req: req.clone(),
            key,
            gap,
        });
        loop {
            if let Some(answer) = w.answers.remove(&id) {
                return answer;
            }
            if w.leading {
                w = self
                    .group
                    .answered
                    .wait(w)
                    .unwrap_or_else(|p| p.into_inner());
                continue;
            }
            w.leading = true;
            drop(w);
            let answers = self.lead_group();
            w = lock(&self.group.state);
            w.answers.extend(answers);
            w.leading = false;
            self.group.answered.notify_all();
        }
    }

    /// Groups committed so far and the largest one.
    pub fn group_stats(&self) -> (u64, usize) {
        let w = lock(&self.group.state);
        (w.groups, w.largest)
    }

    /// Group commits retried because another replica committed first (each re-validated on
    /// the caught-up state).
    pub fn group_retries(&self) -> u64 {
        lock(&self.group.state).retries
    }

    /// Submissions queued for the next group (tests).
    #[cfg(test)]
    pub(in crate::control) fn queued(&self) -> usize {
        lock(&self.group.state).tickets.len()
    }

    /// Stage every queued ticket in order, commit them together, and say what each gets. When
    /// another replica took the next revision first, the commit caught this replica up; every
    /// ticket is then staged again on the caught-up state (expected revisions and idempotency
    /// keys checked afresh, so only an action whose target really changed gets 409) and the
    /// group committed again holding the store's commit turn — at most `GROUP_ATTEMPTS` times,
    /// then 503 `store_busy`.
    fn lead_group(&self) -> Vec<(u64, Result<Outcome, ServiceError>)> {
        // Take the lock first: tickets queued while it is busy (an fsync, an engine tick) join.
        let mut inner = lock(&self.inner);
        let tickets: Vec<Ticket> = {
            let mut w = lock(&self.group.state);
            let n = w.tickets.len().min(MAX_GROUP);
            w.tickets.drain(..n).collect()
        };
        let (mut attempt, mut turn) = (1, false);
        let keys: Vec<&str> = tickets
            .iter()
            .filter_map(|t| t.key.as_ref().map(|(k, _)| k.as_str()))
            .collect();
        let (staged, durable) = loop {
            // Every attempt looks the keys up afresh: another replica may have committed one.
            let known = inner.store.idempotency_many(&keys).map_err(Into::into);
            let staged: Vec<(u64, Staged)> = tickets
                .iter()
                .map(|t| {
                    let now = self.clock.now();
                    (t.id, inner.stage_ticket(t, &known, now, self.approval_ttl))
                })
                .collect();
            let durable = inner.commit(&self.tx);
            match durable {
                Err(e) if e.code == STORE_BUSY && attempt < GROUP_ATTEMPTS => {
                    attempt += 1;
                    if !turn {
                        // Hold the commit turn: other replicas' commits wait until this group
                        // is committed, so it cannot lose again while it re-stages.
                        if let Err(e) = inner.store.take_turn() {
                            break (staged, Err(e.into()));
                        }
                        turn = true;
                    }
                    // What landed before the turn was ours.
                    if let Err(e) = inner.catch_up(&self.tx) {
                        break (staged, Err(e.into()));
                    }
                }
                Err(mut e) if e.code == STORE_BUSY => {
                    e.message = format!(
                        "{} (after {attempt} attempts: other replicas keep committing first; retry shortly)",
                        e.message
                    );
                    break (staged, Err(e));
                }
                durable => break (staged, durable),
            }
        };
        if turn {
            inner.store.end_turn();
        }
        drop(inner);
        let in_group = staged
            .iter()
            .filter(|(_, s)| matches!(s, Staged::Pending(_)))
            .count();
        let mut w = lock(&self.group.state);
        w.retries += u64::from(attempt - 1);
        if in_group > 0 && durable.is_ok() {
            w.groups += 1;
            w.largest = w.largest.max(in_group);
        }
        drop(w);
        staged
            .into_iter()
            .map(|(id, s)| {
                let answer = match s {
                    Staged::Final(answer) => answer,
                    Staged::Pending(outcome) => durable.clone().map(|()| outcome),
                };
                (id, answer)
            })
            .collect()
    }
}

fn replay(rec: &IdemRecord, hash: &str) -> Result<Outcome, ServiceError> {
    if rec.body_hash != hash {
        return Err(ServiceError::new(
            ErrorKind::Invalid,
            "idempotency_key_reused",
            "this idempotency key was already used for a different request; use a new key per action",
        ));
    }
    let mut outcome: Outcome = serde_json::from_value(rec.response.clone()).map_err(|e| {
        ServiceError::new(
            ErrorKind::Internal,
            "store_failed",
            format!("stored outcome unreadable: {e}"),
        )
    })?;
    outcome.replayed = true;
    Ok(outcome)
}

impl Inner {
    /// A retry (same idempotency key) gets the first answer: the stored one when that request
    /// is durable, the one staged in this group otherwise (given, like the first, only once
    /// the group is durable). Anything else is validated and staged.
    /// `known`: the durable records of the group's keys (looked up together).
    fn stage_ticket(
        &mut self,
        t: &Ticket,
        known: &Result<HashMap<String, IdemRecord>, ServiceError>,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Staged {
        let hash = body_hash(&t.caller.actor, &t.req);
        if let Some((key, _)) = &t.key {
            if let Some(rec) = self.pending.idempotency(key) {
                return match replay(rec, &hash) {
                    Ok(outcome) => Staged::Pending(outcome),
                    Err(e) => Staged::Final(Err(e)),
                };
            }
            match known {
                Ok(found) => {
                    if let Some(rec) = found.get(key) {
                        return Staged::Final(replay(rec, &hash));
                    }
                }
                Err(e) => return Staged::Final(Err(e.clone())),
            }
        }
        match self.stage_submit(t, hash, now, ttl) {
            Ok(outcome) => Staged::Pending(outcome),
            Err(e) => Staged::Final(Err(e)),
        }
    }

    /// A durable or staged answer for this scoped idempotency key, if there is one.
    pub(super) fn replayed(&self, key: &str, hash: &str) -> Option<Result<Outcome, ServiceError>> {
        if let Some(rec) = self.pending.idempotency(key) {
            return Some(replay(rec, hash));
        }
        match self.store.idempotency(key) {
            Ok(Some(rec)) => Some(replay(&rec, hash)),
            Ok(None) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// Validate a submission against the live state and say what policy makes of it.
    pub(super) fn check_submission(
        &self,
        caller: &Caller,
        req: &ActionRequest,
    ) -> Result<Decision, ServiceError> {
        let action = &req.action;
        let env = self
            .state
            .environment(action.env())
            .cloned()
            .ok_or_else(|| DomainError::UnknownEnv(action.env().to_string()))?;
        let flag = match action.flag() {
            Some(f) => Some(
                self.state
                    .flags
                    .get(f)
                    .ok_or_else(|| DomainError::UnknownFlag(f.to_string()))?,
            ),
            None => None,
        };
        let current = action.target_revision(&self.state);
        if let Some(expected) = req.expected_revision
            && current > expected
        {
            let what = action.flag().map_or_else(
                || format!("environment {}", action.env()),
                |f| format!("flag {f}"),
            );
            return Err(ServiceError::conflict(
                format!(
                    "changed since you looked: {what} is at revision {current}, you decided on {expected}; review the new state and decide again"
                ),
                Some(current),
            ));
        }
        let automatic_ladder = matches!(action, Action::Advance { .. })
            && flag
                .and_then(|f| f.env(action.env()))
                .and_then(|fe| fe.ladder.as_ref())
                .is_some_and(|l| l.policy == crate::domain::AdvancePolicy::Automatic);
        Ok(policy::decide(policy::Ask {
            kind: caller.actor.kind,
            role: caller.actor.role,
            tier: action.tier(&self.state),
            protected: env.protected,
            automatic_ladder,
        }))
    }

    /// Check the target, the expected revision and policy against the live state (including
    /// the actions staged before this one), then stage the action or an approval request.
    fn stage_submit(
        &mut self,
        t: &Ticket,
        hash: String,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Outcome, ServiceError> {
        let decision = self.check_submission(&t.caller, &t.req)?;
        let idem_fn = |o: &Outcome| IdemRecord {
            body_hash: hash.clone(),
            status: 200,
            response: serde_json::to_value(o).unwrap_or_default(),
            at: now,
        };
        let idem = t.key.as_ref().map(|(scoped, sent)| Idem {
            scoped,
            sent,
            record: &idem_fn,
        });
        let (caller, req) = (&t.caller, &t.req);
        match decision {
            Decision::Deny(why) => Err(ServiceError::forbidden(why)),
            Decision::Apply => self.stage_apply(caller, &req.action, &req.reason, now, None, idem),
            Decision::Request => self.stage_request(
                caller,
                &req.action,
                &req.reason,
                Vec::new(),
                t.gap.clone(),
                now,
                ttl,
                idem,
            ),
        }
    }
}

/// An idempotency key on its way to the store: scoped as stored, as sent (the audit's request
/// id), and how to make its record from the outcome.
#[derive(Clone, Copy)]
pub(super) struct Idem<'a> {
    pub scoped: &'a str,
    pub sent: &'a str,
    pub record: &'a dyn Fn(&Outcome) -> IdemRecord,
}
