//! Webhook definitions through the door (created, replaced or removed by admins, idempotent,
//! audited without the secret or the URL's path), what the commit pipeline queues for them
//! (`Inner::outbox_for`), and the hooks' health and delivery log as read from the store.

use super::*;
use crate::domain::Webhook;

/// What a hook's definition may show in audit and API answers: never the secret (it is not
/// held) nor the URL's path (an incoming-webhook URL's path is often its secret).
pub fn shown(h: &Webhook) -> serde_json::Value {
    serde_json::json!({
        "name": h.name,
        "url": h.shown_url(),
        "events": h.events,
        "environments": h.environments,
        "flags": h.flags,
        "secret_env": h.secret_env,
        "format": h.format,
    })
}

/// The control plane's own environment: where a hook's secret is read.
pub fn process_secret(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

impl ControlPlane {
    /// Create or replace a webhook (admin). Idempotent: an identical definition is `unchanged`.
    pub fn define_webhook(
        &self,
        caller: &Caller,
        hook: Webhook,
    ) -> Result<DefineOutcome, ServiceError> {
        authorise(caller, Op::Define)?;
        let mut hook = hook;
        hook.events.sort();
        hook.events.dedup();
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        crate::control::definitions::check_webhook(&hook, &inner.state, &process_secret)?;
        let old = inner.state.webhooks.iter().find(|h| h.name == hook.name);
        let result = match old {
            Some(h) if h == &hook => {
                return Ok(DefineOutcome {
                    result: "unchanged".into(),
                    revision: inner.state.revision,
                });
            }
            Some(_) => "updated",
            None => "created",
        };
        let before = old.map(shown);
        inner.begin_staging();
        let revision = Revision(inner.state.revision.0 + 1);
        let mut audit = inner.new_audit(
            caller,
            AuditKind::Defined,
            &format!("webhook {} {result}", hook.name),
            now,
            revision,
        );
        audit.before = before;
        audit.after = Some(shown(&hook));
        match inner
            .state
            .webhooks
            .iter_mut()
            .find(|h| h.name == hook.name)
        {
            Some(h) => *h = hook,
            None => inner.state.webhooks.push(hook),
        }
        inner.state.revision = revision;
        inner.stage_change(Change::audit_only(revision, now, audit), None);
        inner.commit(&self.tx)?;
        Ok(DefineOutcome {
            result: result.into(),
            revision,
        })
    }

    /// Remove a webhook (admin): its queued deliveries go with it, in the same commit.
    pub fn remove_webhook(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<DefineOutcome, ServiceError> {
        authorise(caller, Op::Define)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let Some(old) = inner
            .state
            .webhooks
            .iter()
            .find(|h| h.name == name)
            .map(shown)
        else {
            return Err(ServiceError::new(
                ErrorKind::NotFound,
                "unknown_webhook",
                format!(
                    "no webhook `{}`; `GET /v1/webhooks` lists them",
                    crate::sanitize::clean(name, 100)
                ),
            ));
        };
        inner.begin_staging();
        let revision = Revision(inner.state.revision.0 + 1);
        let mut audit = inner.new_audit(
            caller,
            AuditKind::Defined,
            &format!("webhook {name} removed"),
            now,
            revision,
        );
        audit.before = Some(old);
        inner.state.webhooks.retain(|h| h.name != name);
        inner.state.revision = revision;
        inner.stage_hook_removed(name.to_string());
        inner.stage_change(Change::audit_only(revision, now, audit), None);
        inner.commit(&self.tx)?;
        Ok(DefineOutcome {
            result: "removed".into(),
            revision,
        })
    }

    /// The webhooks defined, as they may be shown.
    pub fn webhooks(&self) -> Vec<Webhook> {
        lock(&self.inner).state.webhooks.clone()
    }
}

/// Deliveries one commit may queue at most (beyond it, the rest are dropped and logged): a
/// group of many actions with many hooks must not make one transaction unbounded.
pub const MAX_QUEUED_PER_COMMIT: usize = 10_000;

impl Inner {
    /// The outbox rows for what `changes` commit: one per (hook, event) a hook wants, written
    /// in the same transaction. `before` holds the flags as they were before the group (a
    /// pending request on a flag that changes is `request_outdated`).
    pub(super) fn outbox_for(
        &self,
        changes: &[Change],
        before: &HashMap<FlagKey, Option<Arc<Flag>>>,
    ) -> Vec<crate::wire::webhook::OutboxRow> {
        use crate::domain::HookEvent;
        use crate::domain::hook_events::events_of;
        let hooks = &self.state.webhooks;
        if hooks.is_empty() {
            return Vec::new();
        }
        let epoch = self.store.epoch();
        let mut rows = Vec::new();
        let mut outdated = std::collections::HashSet::new();
        let mut queue = |event: HookEvent, a: &AuditEvent, id: String| {
            let env = a.action.as_ref().map(|x| x.env());
            for h in hooks
                .iter()
                .filter(|h| h.wants(event, a.flag.as_ref(), env))
            {
                if rows.len() >= MAX_QUEUED_PER_COMMIT {
                    tracing::warn!(hook = %h.name, "too many webhook deliveries in one commit; dropped");
                    continue;
                }
                rows.push(crate::wire::webhook::OutboxRow {
                    id: id.clone(),
                    hook: h.name.clone(),
                    event,
                    seq: a.id.0,
                    queued_at: a.at,
                    payload: crate::wire::webhook::payload(&id, event, a),
                    attempts: 0,
                    next_at: None,
                });
            }
        };
        for c in changes {
            for a in &c.audit {
                for event in events_of(a) {
                    queue(event, a, format!("{epoch}-{}-{}", a.id, event.as_str()));
                }
            }
            // A pending request on a flag this change moved is outdated now (it was not before).
            for f in &c.flags {
                let was = before
                    .get(&f.key)
                    .and_then(|o| o.as_ref())
                    .map(|o| o.revision);
                let Some(a) = c.audit.iter().find(|a| a.flag.as_ref() == Some(&f.key)) else {
                    continue;
                };
                for r in self.approvals.values() {
                    let on_flag = r.action.flag() == Some(&f.key);
                    let fresh_before = was.is_none_or(|w| w <= r.revision);
                    if r.state == ApprovalState::Pending
                        && on_flag
                        && fresh_before
                        && f.revision > r.revision
                        && a.approval.as_ref() != Some(&r.id)
                        && outdated.insert(r.id.clone())
                    {
                        let mut ev = a.clone();
                        ev.kind = crate::domain::AuditKind::Requested;
                        ev.action = Some(r.action.clone());
                        ev.reverse = Some(r.reverse.clone());
                        ev.approval = Some(r.id.clone());
                        let id = format!("{epoch}-{}-request_outdated-{}", a.id, r.id);
                        queue(HookEvent::RequestOutdated, &ev, id);
                    }
                }
            }
        }
        rows
    }
}

/// Deliveries `GET /v1/webhooks/log` answers at most.
pub const MAX_LOG_ANSWER: usize = 500;

impl ControlPlane {
    /// The store, for the webhook worker (outbox reads and attempts are bookkeeping of
    /// deliveries, not changes: they never pass the door or bump a revision).
    pub fn backend(&self) -> Arc<dyn Backend> {
        self.store.clone()
    }

    /// Every defined hook's health (queued counted now), by name.
    pub fn webhook_health(&self) -> Result<Vec<crate::wire::webhook::HookHealth>, ServiceError> {
        let hooks = self.webhooks();
        if hooks.is_empty() {
            return Ok(Vec::new());
        }
        let recorded = self.store.hook_health()?;
        let mut out = Vec::new();
        for h in hooks {
            let mut hh = recorded
                .iter()
                .find(|r| r.name == h.name)
                .cloned()
                .unwrap_or_else(|| crate::wire::webhook::HookHealth {
                    name: h.name.clone(),
                    ..Default::default()
                });
            hh.queued = self.store.outbox_head(&h.name)?.1;
            out.push(hh);
        }
        Ok(out)
    }

    /// The delivery log (newest first, one hook's or all) and every hook's health.
    pub fn webhook_log(
        &self,
        hook: Option<&str>,
        limit: usize,
    ) -> Result<crate::wire::webhook::DeliveryLog, ServiceError> {
        let limit = limit.clamp(1, MAX_LOG_ANSWER);
        Ok(crate::wire::webhook::DeliveryLog {
            deliveries: self.store.deliveries(hook, limit)?,
            hooks: self.webhook_health()?,
        })
    }
}

impl ControlPlane {
    /// Keep the webhooks' health for snapshots and `status`; tell the streams when a hook
    /// starts or stops failing (the TUI's header says `⚠ webhook failing`).
    pub fn set_hook_health(&self, now: Vec<crate::wire::webhook::HookHealth>) {
        let failing = |h: &[crate::wire::webhook::HookHealth]| -> Vec<String> {
            h.iter()
                .filter(|x| x.failing)
                .map(|x| x.name.clone())
                .collect()
        };
        let mut kept = lock(&self.hook_health);
        let changed = failing(&kept) != failing(&now);
        *kept = now.clone();
        drop(kept);
        if changed {
            let _ = self.tx.send(StreamMsg::Webhooks(Arc::new(now)));
        }
    }
}
