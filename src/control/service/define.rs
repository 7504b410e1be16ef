//! Definitions: environments and flags, created or replaced by admins (idempotent).

use super::*;

impl ControlPlane {
    /// Create or replace an environment (admin).
    pub fn define_environment(&self, caller: &Caller, env: Environment) -> Result<DefineOutcome, ServiceError> {
        if caller.actor.role != Role::Admin {
            return Err(ServiceError::new(403, "forbidden", "only admins define environments"));
        }
        if !crate::domain::ids::valid_key(&env.key) {
            return Err(ServiceError::new(422, "invalid_key", "environment keys are 1–100 of A–Z a–z 0–9 - _ ."));
        }
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let result = match inner.state.environment(&env.key) {
            Some(e) if e == &env => return Ok(DefineOutcome { result: "unchanged".into(), revision: inner.state.revision }),
            Some(_) => "updated",
            None => "created",
        };
        let revision = Revision(inner.state.revision.0 + 1);
        let mut state = inner.scratch(&Action::Freeze { env: env.key.clone() });
        state.environments.retain(|e| e.key != env.key);
        state.environments.push(env.clone());
        state.revision = revision;
        let mut audit = inner.new_audit(caller, AuditKind::Defined, &format!("environment {} {result}", env.key), now, revision);
        audit.after = Some(serde_json::to_value(&env).unwrap_or_default());
        inner.store.commit(Commit { meta: Some(&state), audit: vec![&audit], ..Default::default() })?;
        inner.state.environments = state.environments;
        inner.state.revision = revision;
        inner.publish(&self.tx, Change { revision, at: now, flags: vec![], frozen: None, approvals: vec![], audit: vec![audit] });
        Ok(DefineOutcome { result: result.into(), revision })
    }

    /// Create or replace a flag definition (admin). Idempotent: an identical definition is
    /// `unchanged` and bumps nothing.
    pub fn define_flag(&self, caller: &Caller, mut flag: Flag) -> Result<DefineOutcome, ServiceError> {
        if caller.actor.role != Role::Admin {
            return Err(ServiceError::new(403, "forbidden", "only admins define flags"));
        }
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        if self.external.is_some() {
            // Flags live in the external store: a definition adds flagtop's parts (ladder,
            // guardrails, owner, description) to a flag that exists there.
            let Some(current) = inner.state.flags.get(&flag.key).cloned() else {
                return Err(ServiceError::new(
                    404,
                    "unknown_flag",
                    format!("`{}` does not exist in {}; create it there first", flag.key, self.flag_store_name()),
                ));
            };
            let mut merged = Arc::unwrap_or_clone(current);
            merged.owner = flag.owner.clone();
            if !flag.description.is_empty() {
                merged.description = flag.description.clone();
            }
            for (env, fe) in flag.environments {
                if let Some(m) = merged.environments.get_mut(&env) {
                    m.ladder = fe.ladder;
                    m.guardrails = fe.guardrails;
                }
            }
            flag = merged;
        }
        crate::control::definitions::validate(&flag, &inner.state)?;
        // A definition may leave a ladder's entered_at out: keep the running one, or start now.
        for (env, fe) in flag.environments.iter_mut() {
            if let Some(l) = fe.ladder.as_mut()
                && l.entered_at == DateTime::<Utc>::default()
            {
                let old = inner.state.flags.get(&flag.key).and_then(|f| f.env(env)).and_then(|e| e.ladder.as_ref());
                l.entered_at = old.filter(|o| o.current == l.current).map_or(now, |o| o.entered_at);
            }
        }
        let result = match inner.state.flags.get(&flag.key) {
            Some(old) => {
                flag.revision = old.revision;
                if **old == flag {
                    return Ok(DefineOutcome { result: "unchanged".into(), revision: inner.state.revision });
                }
                "updated"
            }
            None => "created",
        };
        let revision = Revision(inner.state.revision.0 + 1);
        flag.revision = revision;
        let mut meta = inner.scratch(&Action::Freeze { env: "".into() });
        meta.revision = revision;
        let mut audit = inner.new_audit(caller, AuditKind::Defined, &format!("flag {} {result}", flag.key), now, revision);
        audit.flag = Some(flag.key.clone());
        audit.before = inner.state.flags.get(&flag.key).map(|f| serde_json::to_value(f).unwrap_or_default());
        inner.store.commit(Commit { meta: Some(&meta), flags: vec![&flag], audit: vec![&audit], ..Default::default() })?;
        inner.state.revision = revision;
        let flag = Arc::new(flag);
        inner.state.flags.insert(flag.key.clone(), Arc::clone(&flag));
        inner.publish(&self.tx, Change { revision, at: now, flags: vec![flag], frozen: None, approvals: vec![], audit: vec![audit] });
        Ok(DefineOutcome { result: result.into(), revision })
    }
}
