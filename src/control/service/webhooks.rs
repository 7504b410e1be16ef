//! Webhook definitions through the door (created or replaced by admins, idempotent, audited
//! without the secret or the URL's path), and what the commit pipeline queues for them.

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
        inner.stage_change(
            Change {
                revision,
                at: now,
                flags: vec![],
                frozen: None,
                approvals: vec![],
                audit: vec![audit],
            },
            None,
        );
        inner.commit(&self.tx)?;
        Ok(DefineOutcome {
            result: result.into(),
            revision,
        })
    }

    /// The webhooks defined, as they may be shown.
    pub fn webhooks(&self) -> Vec<Webhook> {
        lock(&self.inner).state.webhooks.clone()
    }
}
