//! Definitions: environments and flags, created or replaced by admins (idempotent), and tokens.
//! Each is staged and committed by the one pipeline.

use super::*;

/// Whether two versions of a flag serve the same people the same way (cohorts and switches).
pub(in crate::control::service) fn same_exposure(a: &Flag, b: &Flag) -> bool {
    a.environments.len() == b.environments.len()
        && a.environments.iter().all(|(env, x)| {
            b.env(env).is_some_and(|y| {
                x.enabled == y.enabled
                    && x.off == y.off
                    && x.cohorts == y.cohorts
                    && x.fallthrough == y.fallthrough
            })
        })
}

impl ControlPlane {
    /// Create or replace an environment (admin).
    pub fn define_environment(
        &self,
        caller: &Caller,
        env: Environment,
    ) -> Result<DefineOutcome, ServiceError> {
        authorise(caller, Op::Define)?;
        if !crate::domain::ids::valid_key(&env.key) {
            return Err(ServiceError::new(
                ErrorKind::Invalid,
                "invalid_key",
                "environment keys are 1–100 of A–Z a–z 0–9 - _ .",
            ));
        }
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        let result = match inner.state.environment(&env.key) {
            Some(e) if e == &env => {
                return Ok(DefineOutcome {
                    result: "unchanged".into(),
                    revision: inner.state.revision,
                });
            }
            Some(_) => "updated",
            None => "created",
        };
        inner.begin_staging();
        let revision = Revision(inner.state.revision.0 + 1);
        let mut audit = inner.new_audit(
            caller,
            AuditKind::Defined,
            &format!("environment {} {result}", env.key),
            now,
            revision,
        );
        audit.after = Some(serde_json::to_value(&env).unwrap_or_default());
        inner.state.environments.retain(|e| e.key != env.key);
        inner.state.environments.push(env);
        inner.state.revision = revision;
        inner.stage_change(Change::audit_only(revision, now, audit), None);
        inner.commit(&self.tx)?;
        Ok(DefineOutcome {
            result: result.into(),
            revision,
        })
    }

    /// Create or replace a flag definition (admin). Idempotent: an identical definition is
    /// `unchanged` and bumps nothing.
    pub fn define_flag(
        &self,
        caller: &Caller,
        mut flag: Flag,
    ) -> Result<DefineOutcome, ServiceError> {
        authorise(caller, Op::Define)?;
        let now = self.clock.now();
        let mut inner = lock(&self.inner);
        if inner.in_flight.contains(&flag.key) {
            return Err(ServiceError::conflict(
                format!(
                    "a change to {} is being written to {} right now; look again in a moment",
                    flag.key,
                    self.flag_store_name()
                ),
                None,
            ));
        }
        if self.external.is_some() {
            // Flags live in the external store: a definition adds flagtop's parts (ladder,
            // guardrails, owner, description) to a flag that exists there.
            let Some(current) = inner.state.flags.get(&flag.key).cloned() else {
                return Err(ServiceError::new(
                    ErrorKind::NotFound,
                    "unknown_flag",
                    format!(
                        "`{}` does not exist in {}; create it there first",
                        flag.key,
                        self.flag_store_name()
                    ),
                ));
            };
            let mut merged = Arc::unwrap_or_clone(current);
            merged.owner = flag.owner.clone();
            merged.review_by = flag.review_by;
            merged.cleanup = flag.cleanup.clone();
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
        // Archived and when exposure last changed are state, not definition: carried over.
        let old = inner.state.flags.get(&flag.key);
        flag.archived = old.is_some_and(|o| o.archived);
        flag.changed_at = match old {
            Some(o) if same_exposure(o, &flag) => o.changed_at,
            _ => Some(now),
        };
        // A definition may leave a ladder's entered_at out: keep the running one, or start now.
        for (env, fe) in flag.environments.iter_mut() {
            if let Some(l) = fe.ladder.as_mut()
                && l.entered_at == DateTime::<Utc>::default()
            {
                let old = inner
                    .state
                    .flags
                    .get(&flag.key)
                    .and_then(|f| f.env(env))
                    .and_then(|e| e.ladder.as_ref());
                l.entered_at = old
                    .filter(|o| o.current == l.current)
                    .map_or(now, |o| o.entered_at);
            }
        }
        let result = match inner.state.flags.get(&flag.key) {
            Some(old) => {
                flag.revision = old.revision;
                if **old == flag {
                    return Ok(DefineOutcome {
                        result: "unchanged".into(),
                        revision: inner.state.revision,
                    });
                }
                "updated"
            }
            None => "created",
        };
        inner.begin_staging();
        let revision = Revision(inner.state.revision.0 + 1);
        flag.revision = revision;
        let mut audit = inner.new_audit(
            caller,
            AuditKind::Defined,
            &format!("flag {} {result}", flag.key),
            now,
            revision,
        );
        audit.flag = Some(flag.key.clone());
        audit.before = inner
            .state
            .flags
            .get(&flag.key)
            .map(|f| serde_json::to_value(f).unwrap_or_default());
        inner.state.revision = revision;
        let flag = Arc::new(flag);
        inner.stage_flag(Arc::clone(&flag));
        inner.stage_change(
            Change {
                revision,
                at: now,
                flags: vec![flag],
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

    /// Mint and store a token (the secret is shown once, only its hash is kept). Names the
    /// control plane acts under itself are reserved.
    pub fn add_token(
        &self,
        caller: &Caller,
        name: &str,
        role: Role,
    ) -> Result<String, ServiceError> {
        self.add_token_for(caller, name, role, Vec::new())
    }

    /// Mint a token; an `sdk` token names the environments it may evaluate in (1 or more,
    /// each existing), other roles name none.
    pub fn add_token_for(
        &self,
        caller: &Caller,
        name: &str,
        role: Role,
        environments: Vec<crate::domain::EnvKey>,
    ) -> Result<String, ServiceError> {
        authorise(caller, Op::MintToken)?;
        self.check_token_envs(role, &environments)?;
        if !crate::domain::ids::valid_key(name) {
            return Err(ServiceError::new(
                ErrorKind::Invalid,
                "invalid_name",
                "token names are 1–100 of A–Z a–z 0–9 - _ .",
            ));
        }
        if crate::domain::is_reserved_name(name) {
            return Err(ServiceError::new(
                ErrorKind::BadRequest,
                "reserved_name",
                format!(
                    "`{name}` is reserved for the control plane's own callers (flagtop-…, engine, system, automation); choose another name"
                ),
            ));
        }
        let t =
            auth::mint().map_err(|e| ServiceError::new(ErrorKind::Internal, "random_failed", e))?;
        let now = self.clock.now();
        let rec = TokenRecord {
            name: name.to_string(),
            role,
            created_at: now,
            environments: environments.clone(),
        };
        let mut inner = lock(&self.inner);
        inner.begin_staging();
        let revision = Revision(inner.state.revision.0 + 1);
        let mut audit = inner.new_audit(
            caller,
            AuditKind::TokenAdded,
            &format!("token {name} minted for role {}", role.as_str()),
            now,
            revision,
        );
        audit.after = Some(match environments.is_empty() {
            true => serde_json::json!({ "name": name, "role": role.as_str() }),
            false => {
                serde_json::json!({ "name": name, "role": role.as_str(), "environments": environments })
            }
        });
        inner.state.revision = revision;
        inner.stage_token(auth::hash(&t), rec);
        inner.stage_change(Change::audit_only(revision, now, audit), None);
        inner.commit(&self.tx)?;
        Ok(t)
    }

    fn check_token_envs(
        &self,
        role: Role,
        environments: &[crate::domain::EnvKey],
    ) -> Result<(), ServiceError> {
        let invalid =
            |code: &'static str, msg: String| Err(ServiceError::new(ErrorKind::Invalid, code, msg));
        if role != Role::Sdk {
            if environments.is_empty() {
                return Ok(());
            }
            return invalid(
                "environments_not_allowed",
                format!(
                    "only sdk tokens are bound to environments; drop --env for role {}",
                    role.as_str()
                ),
            );
        }
        if environments.is_empty() {
            return invalid(
                "environment_required",
                "an sdk token evaluates in named environments: add --env ENV (one or more)".into(),
            );
        }
        if environments.len() > MAX_TOKEN_ENVS {
            return invalid(
                "too_many_environments",
                format!("an sdk token names at most {} environments", MAX_TOKEN_ENVS),
            );
        }
        let inner = lock(&self.inner);
        for e in environments {
            if inner.state.environment(e).is_none() {
                let known: Vec<&str> = inner
                    .state
                    .environments
                    .iter()
                    .map(|e| e.key.as_str())
                    .collect();
                return Err(ServiceError::new(
                    ErrorKind::Invalid,
                    "unknown_environment",
                    format!(
                        "unknown environment `{}`; known: {}",
                        crate::sanitize::clean(e, 100),
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}
