//! The follower's side of an external flag store: merging what it read (monotonic: never a read
//! older than flagtop's own write; archived flags shown archived), and the sync state shown to
//! watchers and `status`.

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
            let _ = self
                .tx
                .send(StreamMsg::Store(Arc::new(crate::wire::StoreStatus {
                    synced_at: Some(now),
                    error: None,
                })));
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
            let _ = self
                .tx
                .send(StreamMsg::Store(Arc::new(crate::wire::StoreStatus {
                    synced_at,
                    error: Some(e),
                })));
        }
    }

    /// Merge what the external flag store holds (see `merge_external`), without a stamp.
    pub fn sync_external(
        &self,
        environments: Option<Vec<Environment>>,
        flags: Vec<Flag>,
        events: Vec<ExternalEvent>,
    ) -> Result<(), ServiceError> {
        let sync = crate::control::flags::ExternalSync {
            environments,
            flags,
            events,
            ..Default::default()
        };
        self.merge_external(sync).map(|_| ())
    }

    /// Merge what the external flag store holds: cohorts, kill switch and variations come from
    /// there; ladders, guardrails and approvals stay flagtop's. Changed flags and the store's own
    /// events are committed and published like any change (the follower's entry into the door).
    /// Monotonic: a flag with a write of flagtop's in flight, or changed here after the read
    /// began (`stamp`), is not merged — it is returned, for the follower to read again. Flags
    /// gone from the store stay in flagtop's history, shown archived, with no environment left.
    pub fn merge_external(
        &self,
        sync: crate::control::flags::ExternalSync,
    ) -> Result<Vec<FlagKey>, ServiceError> {
        let crate::control::flags::ExternalSync {
            stamp,
            environments,
            flags,
            mut gone,
            complete,
            events,
        } = sync;
        authorise(
            &Caller::follower("", self.flag_store_name()),
            Op::RecordExternal,
        )?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let mut changed_flags = Vec::new();
        let mut new_envs = Vec::new();
        if let Some(envs) = environments {
            for e in envs {
                if inner.state.environment(&e.key).is_none()
                    && !new_envs.iter().any(|n: &Environment| n.key == e.key)
                {
                    new_envs.push(e);
                }
            }
        }
        let mut again = Vec::new();
        if complete {
            let present: std::collections::HashSet<&FlagKey> =
                flags.iter().map(|f| &f.key).collect();
            // Only flags that came from the store (a data dir may hold flagtop's own too).
            let from_store = |f: &Flag| f.owner.starts_with("unleash:");
            gone.extend(
                inner
                    .state
                    .flags
                    .iter()
                    .filter(|(k, f)| !present.contains(k) && from_store(f))
                    .map(|(k, _)| k.clone()),
            );
        }
        let stale = |inner: &Inner, key: &FlagKey| {
            inner.in_flight.contains(key)
                || stamp.is_some_and(|s| inner.state.flags.get(key).is_some_and(|f| f.revision > s))
        };
        let mut archived = Vec::new();
        for key in gone {
            if stale(&inner, &key) {
                again.push(key);
                continue;
            }
            if let Some(old) = inner.state.flags.get(&key) {
                let mut a = crate::control::flags::unleash::map::archived(Flag::clone(old));
                if a.store_stage.is_some() {
                    a.store_stage = Some(crate::domain::StoreStage::Archived);
                }
                if a != **old {
                    archived.push(a);
                }
            }
        }
        for mut f in flags.into_iter().chain(archived) {
            if stale(&inner, &f.key)
                && !f
                    .description
                    .starts_with(crate::control::flags::unleash::map::ARCHIVED)
            {
                again.push(f.key.clone());
                continue;
            }
            if !inner.state.flags.contains_key(&f.key) {
                // First seen here: exposure has stood at least since now.
                f.changed_at = Some(now);
            }
            if let Some(old) = inner.state.flags.get(&f.key) {
                for (env, fe) in f.environments.iter_mut() {
                    if let Some(o) = old.env(env) {
                        fe.ladder = o.ladder.clone();
                        fe.guardrails = o.guardrails.clone();
                        // Unleash switches an environment off when its last active strategy is
                        // disabled; "on with every cohort rolled back" serves the same, so keep
                        // flagtop's view when that is all that happened.
                        let all_back =
                            |c: &[crate::domain::Cohort]| c.iter().all(|c| c.rolled_back);
                        if !fe.enabled && o.enabled && all_back(&fe.cohorts) && all_back(&o.cohorts)
                        {
                            fe.enabled = true;
                            fe.off = false;
                        }
                        // Off because flagtop killed it: still killed, not merely off.
                        if !fe.enabled && o.killed() {
                            fe.off = false;
                        }
                    }
                }
                f.owner = old.owner.clone();
                // flagtop's own parts of the definition, and when exposure last changed.
                f.review_by = old.review_by;
                f.cleanup = old.cleanup.clone();
                f.changed_at = if crate::control::service::define::same_exposure(old, &f) {
                    old.changed_at
                } else {
                    Some(now)
                };
                f.revision = old.revision;
                if **old == f {
                    continue;
                }
            }
            changed_flags.push(f);
        }
        if changed_flags.is_empty() && events.is_empty() && new_envs.is_empty() {
            drop(inner);
            self.mark_synced();
            return Ok(again);
        }
        inner.begin_staging();
        let revision = Revision(inner.state.revision.0 + 1);
        let mut audit = Vec::new();
        for e in &events {
            let caller = Caller::follower(&e.actor, self.flag_store_name());
            let mut ev = inner.new_audit(&caller, AuditKind::External, &e.summary, e.at, revision);
            ev.flag = e
                .flag
                .as_deref()
                .filter(|f| crate::domain::ids::valid_key(f))
                .map(crate::domain::FlagKey::from);
            audit.push(ev);
        }
        inner.state.revision = revision;
        inner.state.environments.extend(new_envs);
        let mut flags = Vec::new();
        for mut f in changed_flags {
            f.revision = revision;
            let f = Arc::new(f);
            inner.stage_flag(Arc::clone(&f));
            flags.push(f);
        }
        inner.stage_change(
            Change {
                revision,
                at: now,
                flags,
                frozen: None,
                approvals: vec![],
                audit,
            },
            None,
        );
        inner.commit(&self.tx)?;
        drop(inner);
        self.mark_synced();
        Ok(again)
    }
}
