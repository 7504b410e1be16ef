//! Owns what the model knows about an incident: which guardrails are breached in the view, the
//! worst of them (`!` jumps there, the header announces it), and the breached cohorts of a flag
//! that `r` rolls back; and what a request's state is called (outdated, superseded). Reads the model only; it must not change it, do I/O or draw.

use super::Model;
use crate::domain::{
    ApprovalRequest, ApprovalState, CohortName, EnvKey, FlagKey, GuardrailStatus, Revision,
};
use crate::wire::GuardrailReading;

/// One breached guardrail of a cohort that is still exposed (not rolled back).
#[derive(Debug, Clone, PartialEq)]
pub struct Breach<'a> {
    pub reading: &'a GuardrailReading,
    /// How far past its limit the candidate is (value / threshold; 1 when either is unknown).
    pub excess: f64,
}

impl Breach<'_> {
    pub fn flag(&self) -> &FlagKey {
        &self.reading.flag
    }
    pub fn env(&self) -> &EnvKey {
        &self.reading.env
    }
    pub fn cohort(&self) -> &str {
        &self.reading.cohort
    }
}

fn excess(r: &GuardrailReading) -> f64 {
    match (r.value, r.threshold) {
        (Some(v), Some(t)) if t.abs() > f64::EPSILON => (v / t).abs(),
        _ => 1.0,
    }
}

impl Model {
    /// Whether `cohort` of `flag` in `env` is still exposed to the candidate (exists, not
    /// rolled back). A breach of a rolled-back cohort is recovering, not something to act on.
    fn exposed(&self, flag: &FlagKey, env: &EnvKey, cohort: &str) -> bool {
        self.data
            .state
            .flags
            .get(flag)
            .and_then(|f| f.env(env))
            .is_some_and(|fe| {
                fe.enabled
                    && fe
                        .cohorts
                        .iter()
                        .any(|c| c.name.as_str() == cohort && !c.rolled_back)
            })
    }

    /// Every breach of an exposed cohort, worst first: the environment on screen before the
    /// others, then the furthest past its limit, then by flag, cohort and metric (stable).
    pub fn breaches(&self) -> Vec<Breach<'_>> {
        let mut v: Vec<Breach<'_>> = self
            .data
            .guardrails
            .iter()
            .filter(|r| {
                r.status == GuardrailStatus::Breached && self.exposed(&r.flag, &r.env, &r.cohort)
            })
            .map(|r| Breach {
                reading: r,
                excess: excess(r),
            })
            .collect();
        v.sort_by(|a, b| {
            (a.reading.env != self.env)
                .cmp(&(b.reading.env != self.env))
                .then(b.excess.total_cmp(&a.excess))
                .then_with(|| a.reading.flag.cmp(&b.reading.flag))
                .then_with(|| a.reading.cohort.cmp(&b.reading.cohort))
                .then_with(|| a.reading.metric.cmp(&b.reading.metric))
        });
        v
    }

    /// The breaches in the environment on screen (what the header announces).
    pub fn breaches_here(&self) -> Vec<Breach<'_>> {
        self.breaches()
            .into_iter()
            .filter(|b| *b.env() == self.env)
            .collect()
    }

    /// The exposed cohorts of `flag` with a breached guardrail in the environment on screen,
    /// worst first, each once.
    pub fn breached_cohorts(&self, flag: &FlagKey) -> Vec<CohortName> {
        let mut out: Vec<CohortName> = Vec::new();
        for b in self.breaches_here() {
            if b.flag() == flag && !out.iter().any(|c| c.as_str() == b.cohort()) {
                out.push(CohortName::from(b.cohort()));
            }
        }
        out
    }

    /// With the bell on: whether a breach appeared that the bell has not announced yet
    /// (remembers what it saw, so each breach rings once until it clears).
    pub fn ring_for_new_breach(&mut self) -> bool {
        if !self.bell {
            return false;
        }
        let now: Vec<(FlagKey, EnvKey, String, String)> = self
            .breaches_here()
            .iter()
            .map(|b| {
                (
                    b.flag().clone(),
                    b.env().clone(),
                    b.cohort().to_string(),
                    b.reading.metric.clone(),
                )
            })
            .collect();
        let new = now.iter().any(|k| !self.rung.contains(k));
        self.rung = now;
        new
    }

    /// With the bell on: whether a pending request appeared that this user may approve (an
    /// approver or admin, not its requester) and the bell has not announced yet.
    pub fn ring_for_new_request(&mut self) -> bool {
        if !self.bell {
            return false;
        }
        let me = &self.data.identity;
        let now: Vec<crate::domain::ApprovalId> = match me.role.can_approve() {
            true => self
                .data
                .approvals
                .iter()
                .filter(|a| a.state == ApprovalState::Pending && a.requested_by.name != me.name)
                .map(|a| a.id.clone())
                .collect(),
            false => Vec::new(),
        };
        let new = now.iter().any(|id| !self.rung_requests.contains(id));
        self.rung_requests = now;
        new
    }

    /// A pending request whose flag changed since it was made: (its revision, the flag's now).
    /// Approving it would be refused as a conflict.
    pub fn outdated(&self, a: &ApprovalRequest) -> Option<(Revision, Revision)> {
        if a.state != ApprovalState::Pending {
            return None;
        }
        let now = self.data.state.flags.get(a.action.flag()?)?.revision;
        (now > a.revision).then_some((a.revision, now))
    }

    /// What a request's state is called on screen: `outdated` for a pending request whose flag
    /// changed since, `superseded` for one closed because the same change was applied directly.
    pub fn approval_label(&self, a: &ApprovalRequest) -> &'static str {
        match a.state {
            ApprovalState::Pending if self.outdated(a).is_some() => "outdated",
            ApprovalState::Rejected
                if a.decision_reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("superseded")) =>
            {
                "superseded"
            }
            s => s.as_str(),
        }
    }

    /// Whether `cohort` of `flag` has a breached guardrail in the environment on screen (rolled
    /// back or not: the Ladder marks both).
    pub fn cohort_breached(&self, flag: &FlagKey, cohort: &str) -> bool {
        self.data.guardrails.iter().any(|r| {
            r.status == GuardrailStatus::Breached
                && r.flag == *flag
                && r.env == self.env
                && r.cohort.as_str() == cohort
        })
    }
}
