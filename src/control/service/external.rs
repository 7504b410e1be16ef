//! Keeping in step with an external flag store (Unleash): merge its flags and events.

use super::*;

impl ControlPlane {
    pub fn flag_store_name(&self) -> &'static str {
        self.external.as_ref().map_or("embedded", |e| e.name())
    }

    /// Record a successful sync; tell watchers when a failure is over (or every 30 s, so ages
    /// stay honest without an event per poll).
    pub fn mark_synced(&self) {
        let now = self.clock.now();
        let mut st = lock(&self.sync_status);
        let tell = st.1.is_some() || st.0.is_none_or(|t| now - t >= Duration::seconds(30));
        let last_told = if tell { now } else { st.0.unwrap_or(now) };
        *st = (Some(last_told), None);
        drop(st);
        if tell {
            let _ = self.tx.send(StreamMsg::Store(Arc::new(crate::wire::StoreStatus { synced_at: Some(now), error: None })));
        }
    }

    pub fn mark_sync_error(&self, e: &str) {
        let e = crate::sanitize::clean(e, 300);
        let mut st = lock(&self.sync_status);
        let changed = st.1.as_deref() != Some(e.as_str());
        st.1 = Some(e.clone());
        let synced_at = st.0;
        drop(st);
        if changed {
            let _ = self.tx.send(StreamMsg::Store(Arc::new(crate::wire::StoreStatus { synced_at, error: Some(e) })));
        }
    }

    /// Merge what the external flag store holds: cohorts, kill switch and variations come from
    /// there; ladders, guardrails and approvals stay flagtop's. Changed flags and the store's own
    /// events are committed and published like any change.
    pub fn sync_external(
        &self,
        environments: Option<Vec<Environment>>,
        flags: Vec<Flag>,
        events: Vec<ExternalEvent>,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let mut changed_flags = Vec::new();
        let mut state = inner.scratch(&Action::Freeze { env: "".into() });
        if let Some(envs) = environments {
            for e in envs {
                if state.environment(&e.key).is_none() {
                    state.environments.push(e);
                }
            }
        }
        for mut f in flags {
            if let Some(old) = inner.state.flags.get(&f.key) {
                for (env, fe) in f.environments.iter_mut() {
                    if let Some(o) = old.env(env) {
                        fe.ladder = o.ladder.clone();
                        fe.guardrails = o.guardrails.clone();
                        // Unleash switches an environment off when its last active strategy is
                        // disabled; "on with every cohort rolled back" serves the same, so keep
                        // flagtop's view when that is all that happened.
                        let all_back = |c: &[crate::domain::Cohort]| c.iter().all(|c| c.rolled_back);
                        if !fe.enabled && o.enabled && all_back(&fe.cohorts) && all_back(&o.cohorts) {
                            fe.enabled = true;
                        }
                    }
                }
                f.owner = old.owner.clone();
                f.revision = old.revision;
                if **old == f {
                    continue;
                }
            }
            changed_flags.push(f);
        }
        let envs_changed = state.environments != inner.state.environments;
        if changed_flags.is_empty() && events.is_empty() && !envs_changed {
            drop(inner);
            self.mark_synced();
            return Ok(());
        }
        let revision = Revision(inner.state.revision.0 + 1);
        state.revision = revision;
        for f in &mut changed_flags {
            f.revision = revision;
        }
        let mut audit = Vec::new();
        for e in &events {
            let actor = Actor { name: crate::sanitize::clean(&e.actor, 60), role: Role::Viewer };
            let caller = Caller { actor, source: "unleash".into() };
            let mut ev = inner.new_audit(&caller, AuditKind::External, &e.summary, e.at, revision);
            ev.flag = e.flag.as_deref().filter(|f| crate::domain::ids::valid_key(f)).map(crate::domain::FlagKey::from);
            audit.push(ev);
        }
        inner.store.commit(Commit { meta: Some(&state), flags: changed_flags.iter().collect(), audit: audit.iter().collect(), ..Default::default() })?;
        inner.state.revision = revision;
        inner.state.environments = state.environments;
        let changed_flags: Vec<Arc<Flag>> = changed_flags.into_iter().map(Arc::new).collect();
        for f in &changed_flags {
            inner.state.flags.insert(f.key.clone(), Arc::clone(f));
        }
        inner.publish(&self.tx, Change { revision, at: now, flags: changed_flags, frozen: None, approvals: vec![], audit });
        drop(inner);
        self.mark_synced();
        Ok(())
    }
}
