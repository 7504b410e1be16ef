//! Writes to Unleash: one compare-and-set JSON Patch per changed strategy, testing everything
//! the operator decided on with the raw values last read; kill and revive through the
//! environment off/on endpoints without Unleash's 100 %-strategy trap.

use super::events::Own;
use super::{SDK_POLL_SECS, STORE, Unleash, conflict, lock, refused, seg};
use crate::control::flags::{FlagStore, FlagStoreError};
use crate::domain::{Action, Cohort, Flag, Selector};
use serde_json::{Value, json};

impl Unleash {
    /// Send a write of flagtop's, remembering it so that its event in Unleash's log is not
    /// shown as someone else's; forgotten again when it was definitely not applied.
    pub(super) fn send_own(
        &self,
        own: Own,
        rb: reqwest::blocking::RequestBuilder,
        what: &str,
    ) -> Result<(), FlagStoreError> {
        self.remember_own(own.clone());
        let r = self.send(rb, what);
        if let Err(e) = &r
            && !matches!(e, FlagStoreError::Unknown { .. })
        {
            self.forget_own(&own);
        }
        r
    }

    fn env_of<'a>(v: &'a Value, env: &str) -> Option<&'a Value> {
        v["environments"]
            .as_array()?
            .iter()
            .find(|e| e["name"].as_str() == Some(env))
    }

    fn revive(&self, flag: &str, env: &str) -> Result<(), FlagStoreError> {
        let current = self
            .get_opt(&self.feature_path(flag))?
            .ok_or_else(|| conflict(format!("{flag} no longer exists in Unleash")))?;
        let e = Self::env_of(&current, env)
            .ok_or_else(|| conflict(format!("{flag} has no environment {env}")))?;
        if e["enabled"].as_bool() == Some(true) {
            return Err(conflict(format!("{flag} is already on in {env}")));
        }
        let strategies: Vec<&Value> = e["strategies"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        if strategies
            .iter()
            .any(|s| s["disabled"].as_bool() != Some(true))
        {
            // At least one strategy is active: the plain `on` adds nothing.
            return self.turn_on(flag, env);
        }
        // Every strategy is disabled (every cohort rolled back). Never the plain `on` here: Unleash
        // would silently add a 100 % strategy. `?shouldActivateDisabledStrategies=true` would
        // re-enable the disabled strategies, undoing the narrowed rollbacks. And Unleash keeps an
        // environment with no active strategy off anyway (it turns it off by itself when the last
        // strategy is disabled), which serves exactly what "on, every cohort rolled back" serves.
        // So the revive is recorded by flagtop and the environment is turned on together with
        // the first restore (see `apply`).
        tracing::info!(
            flag,
            env,
            "revive with every cohort rolled back: Unleash stays off until a cohort is restored"
        );
        Ok(())
    }

    fn turn_on(&self, flag: &str, env: &str) -> Result<(), FlagStoreError> {
        let on = format!("{}/environments/{}/on", self.feature_path(flag), seg(env));
        let own = Own::Env {
            flag: flag.to_string(),
            env: env.to_string(),
            on: true,
        };
        self.send_own(own, self.http.post(on), "turn the flag on")
    }

    /// After restoring a cohort of a flag that is on for flagtop: Unleash may have switched the
    /// environment off when its last strategy was disabled; with a strategy active again, the
    /// plain `on` is safe and brings the environment back.
    fn ensure_on(&self, flag: &str, env: &str) -> Result<(), FlagStoreError> {
        let current = self.get(&self.feature_path(flag))?;
        match Self::env_of(&current, env) {
            Some(e) if e["enabled"].as_bool() == Some(false) => self.turn_on(flag, env),
            _ => Ok(()),
        }
    }

    /// The raw JSON of the strategy behind `seen_cohort`, provided Unleash still holds exactly
    /// what the operator saw; else a conflict naming what changed.
    fn raw_as_seen(&self, flag: &str, seen_cohort: &Cohort) -> Result<Value, FlagStoreError> {
        let id = seen_cohort.external_id.as_deref().ok_or_else(|| {
            refused(format!(
                "cohort {} has no Unleash strategy behind it",
                seen_cohort.name
            ))
        })?;
        let cached = |this: &Self| lock(&this.seen).get(id).cloned();
        if let Some((c, raw)) = cached(self)
            && c == *seen_cohort
        {
            return Ok(raw);
        }
        // Not remembered, or remembered differently (a read that raced flagtop's own write):
        // read it now.
        let catalog = self.catalog()?;
        if self.feature(flag, &catalog)?.is_none() {
            return Err(conflict(format!(
                "{flag} no longer exists in Unleash (archived or deleted)"
            )));
        }
        match cached(self) {
            Some((c, raw)) if c == *seen_cohort => Ok(raw),
            Some((c, _)) => Err(conflict(format!(
                "cohort {} is now {}",
                seen_cohort.name,
                describe(&c)
            ))),
            None => Err(conflict(format!(
                "the strategy behind cohort {} no longer exists",
                seen_cohort.name
            ))),
        }
    }
}

/// A cohort in a few words, for a conflict message.
fn describe(c: &Cohort) -> String {
    let who = match &c.selector {
        Selector::Everyone => "everyone".to_string(),
        Selector::Segment { segment } => format!("segment {segment}"),
        Selector::Constraints {
            constraints,
            segments,
        } => {
            let mut p: Vec<String> = segments.iter().map(|s| format!("segment {s}")).collect();
            p.extend(constraints.iter().map(|c| c.describe()));
            p.join(" and ")
        }
    };
    let state = if c.rolled_back { ", rolled back" } else { "" };
    crate::sanitize::clean(&format!("{} ({who}) at {}%{state}", c.name, c.percent), 300)
}

impl FlagStore for Unleash {
    fn name(&self) -> &'static str {
        "unleash"
    }

    fn propagation_secs(&self) -> u32 {
        SDK_POLL_SECS
    }

    fn read(&self, flag: &crate::domain::FlagKey) -> Result<Option<Flag>, FlagStoreError> {
        let catalog = self.catalog()?;
        self.feature(flag.as_str(), &catalog)
    }

    fn archived(&self, flag: &crate::domain::FlagKey) -> Result<Option<bool>, FlagStoreError> {
        self.archived_state(flag.as_str())
    }

    fn apply(&self, action: &Action, before: &Flag, after: &Flag) -> Result<(), FlagStoreError> {
        // Archive and unarchive are the feature's, not an environment's (an archived flag
        // follows Unleash with no environment left).
        match action {
            Action::Archive { .. } => return self.archive(before.key.as_str()),
            Action::Unarchive { .. } => return self.revive_archived(before.key.as_str()),
            _ => {}
        }
        let env = action.env().as_str();
        let (Some(b), Some(a)) = (before.env(env), after.env(env)) else {
            return Err(refused(format!(
                "{} is not configured in {env}",
                before.key
            )));
        };
        let flag = before.key.as_str();
        match action {
            Action::Kill { .. } => {
                let url = format!("{}/environments/{}/off", self.feature_path(flag), seg(env));
                let own = Own::Env {
                    flag: flag.to_string(),
                    env: env.to_string(),
                    on: false,
                };
                self.send_own(own, self.http.post(url), "turn the flag off")
            }
            Action::Revive { .. } => self.revive(flag, env),
            _ => {
                // Cohort changes: one compare-and-set patch per changed strategy. Once one patch
                // went through, any later failure leaves the outcome unknown (partly applied):
                // the service reads the flag back.
                let mut sent = false;
                let after_first = |sent: bool, e: FlagStoreError| match e {
                    FlagStoreError::Unknown { .. } => e,
                    e if sent => FlagStoreError::Unknown {
                        store: STORE,
                        detail: format!("after a first change went through: {e}"),
                    },
                    e => e,
                };
                for (cb, ca) in b.cohorts.iter().zip(&a.cohorts) {
                    if cb == ca {
                        continue;
                    }
                    if cb.percent != ca.percent
                        && cb.selector == Selector::Everyone
                        && cb.name.as_str() == "default"
                    {
                        return Err(refused(
                            "the `default` strategy has no percentage; use a flexibleRollout strategy",
                        ));
                    }
                    let raw = self
                        .raw_as_seen(flag, cb)
                        .map_err(|e| after_first(sent, e))?;
                    let id = raw["id"].as_str().unwrap_or_default().to_string();
                    // Test everything the decision was made on, as Unleash held it.
                    let mut ops = Vec::new();
                    for path in [
                        "/constraints",
                        "/variants",
                        "/segments",
                        "/disabled",
                        "/parameters/rollout",
                    ] {
                        if let Some(v) = raw.pointer(path) {
                            ops.push(json!({"op": "test", "path": path, "value": v}));
                        }
                    }
                    let mut next = raw.clone();
                    if cb.percent != ca.percent {
                        // Unleash stores rollout as a string and does not range-check it: we did.
                        let r = Value::String(ca.percent.min(100).to_string());
                        ops.push(
                            json!({"op": "replace", "path": "/parameters/rollout", "value": r}),
                        );
                        next["parameters"]["rollout"] = r;
                    }
                    if cb.rolled_back != ca.rolled_back {
                        ops.push(
                            json!({"op": "replace", "path": "/disabled", "value": ca.rolled_back}),
                        );
                        next["disabled"] = Value::Bool(ca.rolled_back);
                    }
                    let what = format!("change cohort {} of {flag} in {env}", cb.name);
                    let own = Own::Strategy {
                        id: id.clone(),
                        rollout: next["parameters"]["rollout"].clone(),
                        disabled: ca.rolled_back,
                    };
                    let url = format!(
                        "{}/environments/{}/strategies/{}",
                        self.feature_path(flag),
                        seg(env),
                        seg(&id)
                    );
                    self.send_own(own, self.http.patch(url).json(&Value::Array(ops)), &what)
                        .map_err(|e| after_first(sent, e))?;
                    lock(&self.seen).insert(id, (ca.clone(), next));
                    sent = true;
                }
                let restored = b
                    .cohorts
                    .iter()
                    .zip(&a.cohorts)
                    .any(|(cb, ca)| cb.rolled_back && !ca.rolled_back);
                if a.enabled && restored {
                    self.ensure_on(flag, env)
                        .map_err(|e| after_first(sent, e))?;
                }
                Ok(())
            }
        }
    }
}
