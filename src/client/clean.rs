//! Owns `Clean<T>`: data from a control plane with every string neutralised (control characters,
//! escape sequences, bidi and invisible characters become inert placeholders, see
//! `crate::sanitize`). The client hands the TUI only `Clean` data, so views print what they are
//! given and need no `clean(` of their own. Making one runs the sanitiser over every string of
//! the value once; it must not change anything else (numbers, times, order).

use crate::domain::{
    Action, Actor, ApprovalRequest, AuditEvent, Cohort, Environment, Evidence, Flag, FlagEnv,
    Selector,
};
use crate::sanitize::sanitize;
use crate::wire::{
    Change, ExposureCount, GuardrailReading, GuardrailUpdate, Outcome, Snapshot, StoreStatus,
};
use compact_str::CompactString;
use std::borrow::Cow;
use std::sync::Arc;

/// A value whose strings are all inert on a terminal.
#[derive(Debug, Clone, PartialEq)]
pub struct Clean<T>(T);

impl<T: Neutralise> Clean<T> {
    /// Neutralises every string of `value`.
    pub fn new(mut value: T) -> Clean<T> {
        value.neutralise();
        Clean(value)
    }
}

impl<T> Clean<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Clean<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::Serialize> serde::Serialize for Clean<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Types whose strings the client neutralises.
pub trait Neutralise {
    fn neutralise(&mut self);
}

fn text(s: &mut String) {
    if let Cow::Owned(o) = sanitize(s) {
        *s = o;
    }
}

fn opt(s: &mut Option<String>) {
    if let Some(s) = s {
        text(s);
    }
}

fn id(s: &mut CompactString) {
    if let Cow::Owned(o) = sanitize(s) {
        *s = o.into();
    }
}

fn dirty(s: &str) -> bool {
    matches!(sanitize(s), Cow::Owned(_))
}

impl Neutralise for String {
    fn neutralise(&mut self) {
        text(self);
    }
}

impl Neutralise for Actor {
    fn neutralise(&mut self) {
        text(&mut self.name);
    }
}

impl Neutralise for Action {
    fn neutralise(&mut self) {
        match self {
            Action::SetPercent {
                flag, env, cohort, ..
            }
            | Action::Rollback { flag, env, cohort }
            | Action::Restore { flag, env, cohort } => {
                id(&mut flag.0);
                id(&mut env.0);
                id(&mut cohort.0);
            }
            Action::Advance {
                flag,
                env,
                exposure,
            }
            | Action::Retreat {
                flag,
                env,
                exposure,
            } => {
                id(&mut flag.0);
                id(&mut env.0);
                if let Some(m) = exposure
                    && m.keys().any(|k| dirty(k))
                {
                    *m = std::mem::take(m)
                        .into_iter()
                        .map(|(mut k, v)| {
                            id(&mut k.0);
                            (k, v)
                        })
                        .collect();
                }
            }
            Action::Pause { flag, env, note } => {
                id(&mut flag.0);
                id(&mut env.0);
                opt(note);
            }
            Action::Resume { flag, env }
            | Action::Kill { flag, env }
            | Action::Revive { flag, env }
            | Action::Archive { flag, env }
            | Action::Unarchive { flag, env } => {
                id(&mut flag.0);
                id(&mut env.0);
            }
            Action::Freeze { env } | Action::Unfreeze { env } => id(&mut env.0),
        }
    }
}

impl Neutralise for Cohort {
    fn neutralise(&mut self) {
        id(&mut self.name.0);
        text(&mut self.variation);
        opt(&mut self.external_id);
        match &mut self.selector {
            Selector::Everyone => {}
            Selector::Segment { segment } => text(segment),
            Selector::Constraints {
                constraints,
                segments,
            } => {
                for c in constraints {
                    text(&mut c.attribute);
                    c.values.iter_mut().for_each(text);
                    opt(&mut c.segment);
                }
                segments.iter_mut().for_each(text);
            }
        }
    }
}

impl Neutralise for FlagEnv {
    fn neutralise(&mut self) {
        self.cohorts.iter_mut().for_each(Neutralise::neutralise);
        text(&mut self.fallthrough);
        if let Some(l) = &mut self.ladder {
            l.stages.iter_mut().for_each(|s| text(&mut s.name));
            opt(&mut l.pause_note);
        }
        for g in &mut self.guardrails {
            text(&mut g.metric);
            id(&mut g.cohort.0);
        }
    }
}

impl Neutralise for Flag {
    fn neutralise(&mut self) {
        id(&mut self.key.0);
        text(&mut self.description);
        text(&mut self.owner);
        text(&mut self.cleanup);
        self.variations.iter_mut().for_each(text);
        if self.environments.keys().any(|k| dirty(k)) {
            self.environments = std::mem::take(&mut self.environments)
                .into_iter()
                .map(|(mut k, v)| {
                    id(&mut k.0);
                    (k, v)
                })
                .collect();
        }
        self.environments
            .iter_mut()
            .for_each(|(_, e)| e.neutralise());
    }
}

impl Neutralise for Arc<Flag> {
    fn neutralise(&mut self) {
        // Flags are shared with the embedded control plane (10,000 of them in the large
        // scenario): look first, copy only a flag that has something to neutralise.
        if flag_dirty(self) {
            Arc::make_mut(self).neutralise();
        }
    }
}

/// Whether any string `Neutralise for Flag` touches would change (read-only).
fn flag_dirty(f: &Flag) -> bool {
    let cohort = |c: &Cohort| {
        dirty(&c.name)
            || dirty(&c.variation)
            || c.external_id.as_deref().is_some_and(dirty)
            || match &c.selector {
                Selector::Everyone => false,
                Selector::Segment { segment } => dirty(segment),
                Selector::Constraints {
                    constraints,
                    segments,
                } => {
                    constraints.iter().any(|k| {
                        dirty(&k.attribute)
                            || k.values.iter().any(|v| dirty(v))
                            || k.segment.as_deref().is_some_and(dirty)
                    }) || segments.iter().any(|s| dirty(s))
                }
            }
    };
    let env = |e: &FlagEnv| {
        dirty(&e.fallthrough)
            || e.cohorts.iter().any(cohort)
            || e.ladder.as_ref().is_some_and(|l| {
                l.stages.iter().any(|s| dirty(&s.name))
                    || l.pause_note.as_deref().is_some_and(dirty)
            })
            || e.guardrails
                .iter()
                .any(|g| dirty(&g.metric) || dirty(&g.cohort))
    };
    dirty(&f.key)
        || dirty(&f.description)
        || dirty(&f.owner)
        || f.variations.iter().any(|v| dirty(v))
        || f.environments.iter().any(|(k, e)| dirty(k) || env(e))
}

impl Neutralise for Environment {
    fn neutralise(&mut self) {
        id(&mut self.key.0);
    }
}

impl Neutralise for Evidence {
    fn neutralise(&mut self) {
        text(&mut self.metric);
        text(&mut self.cohort);
        opt(&mut self.status);
    }
}

impl Neutralise for ApprovalRequest {
    fn neutralise(&mut self) {
        id(&mut self.id.0);
        self.action.neutralise();
        self.reverse.neutralise();
        text(&mut self.reason);
        self.evidence.iter_mut().for_each(Neutralise::neutralise);
        opt(&mut self.evidence_gap);
        self.requested_by.neutralise();
        if let Some(a) = &mut self.decided_by {
            a.neutralise();
        }
        opt(&mut self.decision_reason);
    }
}

impl Neutralise for AuditEvent {
    fn neutralise(&mut self) {
        self.actor.neutralise();
        text(&mut self.source);
        text(&mut self.reason);
        if let Some(f) = &mut self.flag {
            id(&mut f.0);
        }
        if let Some(a) = &mut self.action {
            a.neutralise();
        }
        if let Some(a) = &mut self.reverse {
            a.neutralise();
        }
        if let Some(a) = &mut self.approval {
            id(&mut a.0);
        }
        self.evidence.iter_mut().for_each(Neutralise::neutralise);
        opt(&mut self.request_id);
    }
}

impl Neutralise for GuardrailReading {
    fn neutralise(&mut self) {
        id(&mut self.flag.0);
        id(&mut self.env.0);
        text(&mut self.metric);
        id(&mut self.cohort.0);
        text(&mut self.rule);
        opt(&mut self.source_error);
    }
}

impl Neutralise for GuardrailUpdate {
    fn neutralise(&mut self) {
        self.readings.iter_mut().for_each(Neutralise::neutralise);
        self.exposure.iter_mut().for_each(Neutralise::neutralise);
    }
}

impl Neutralise for ExposureCount {
    fn neutralise(&mut self) {
        id(&mut self.flag.0);
        id(&mut self.env.0);
        if let Some(c) = &mut self.cohort {
            id(&mut c.0);
        }
        text(&mut self.variation);
    }
}

impl Neutralise for StoreStatus {
    fn neutralise(&mut self) {
        opt(&mut self.error);
    }
}

fn env_set(s: &mut std::collections::BTreeSet<crate::domain::EnvKey>) {
    if s.iter().any(|k| dirty(k)) {
        *s = std::mem::take(s)
            .into_iter()
            .map(|mut k| {
                id(&mut k.0);
                k
            })
            .collect();
    }
}

impl Neutralise for Snapshot {
    fn neutralise(&mut self) {
        self.identity.neutralise();
        text(&mut self.flag_store);
        opt(&mut self.flag_store_error);
        self.environments
            .iter_mut()
            .for_each(Neutralise::neutralise);
        env_set(&mut self.frozen);
        self.flags.iter_mut().for_each(Neutralise::neutralise);
        self.guardrails.iter_mut().for_each(Neutralise::neutralise);
        self.approvals.iter_mut().for_each(Neutralise::neutralise);
        self.audit.iter_mut().for_each(Neutralise::neutralise);
        self.exposure.iter_mut().for_each(Neutralise::neutralise);
        self.lifecycle_rules = self.lifecycle_rules.bounded();
        self.webhooks.neutralise();
    }
}

impl Neutralise for Change {
    fn neutralise(&mut self) {
        self.flags.iter_mut().for_each(Neutralise::neutralise);
        if let Some(f) = &mut self.frozen {
            env_set(f);
        }
        self.approvals.iter_mut().for_each(Neutralise::neutralise);
        self.audit.iter_mut().for_each(Neutralise::neutralise);
    }
}

impl Neutralise for Outcome {
    fn neutralise(&mut self) {
        self.action.neutralise();
        self.reverse.neutralise();
        text(&mut self.reverse_command);
        if let Some(a) = &mut self.approval_id {
            id(&mut a.0);
        }
    }
}

mod webhook;

#[cfg(test)]
mod tests;
