//! The Unleash (open source) flag store over its Admin API: features → flags,
//! `flexibleRollout` strategies → cohorts, environment on/off → kill/revive, the event log →
//! Activity. Writes use JSON Patch with a `test` of the value the operator saw (Unleash has no
//! revision and ignores If-Match; a failed test is HTTP 500 → our conflict). Blocking HTTP: call
//! only from blocking threads (the service's mutation path and the sync thread).

use super::unleash_map::{plain, to_flag};
use super::{ExternalEvent, ExternalState, FlagStore, FlagStoreError};
use crate::domain::ids::valid_key;
use crate::domain::{Action, EnvKey, Environment, Flag, Selector};
use serde_json::{json, Value};
use std::time::Duration;

const STORE: &str = "Unleash";

/// Feature names and the ETag that answered them.
pub type FeatureNames = (Vec<String>, Option<String>);
/// Unleash SDKs poll every 15 s by default: the bound on how soon applications see a change.
pub const SDK_POLL_SECS: u32 = 15;

pub struct Unleash {
    base: String,
    token: String,
    project: String,
    http: reqwest::blocking::Client,
}

/// A write's transport error: `Unavailable` when it never connected, `Unknown` once sent.
fn write_failed(e: reqwest::Error) -> FlagStoreError {
    if e.is_connect() || e.is_builder() {
        unavailable(e)
    } else {
        FlagStoreError::Unknown { store: "Unleash", detail: e.to_string() }
    }
}

fn unavailable(e: impl std::fmt::Display) -> FlagStoreError {
    FlagStoreError::Unavailable { store: STORE, detail: e.to_string() }
}

fn refused(detail: impl Into<String>) -> FlagStoreError {
    FlagStoreError::Refused { store: STORE, detail: detail.into() }
}

fn conflict(detail: impl Into<String>) -> FlagStoreError {
    FlagStoreError::Conflict { store: STORE, detail: detail.into() }
}

/// Path segments we build from our own validated keys and Unleash's ids: keep them URL-safe.
fn seg(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.~".contains(*c)).collect()
}

impl Unleash {
    /// `base` like `http://127.0.0.1:4242`; `token` an admin API token (never logged).
    pub fn new(base: &str, token: &str) -> Result<Unleash, FlagStoreError> {
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("flagtop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(unavailable)?;
        Ok(Unleash { base: base.trim_end_matches('/').to_string(), token: token.to_string(), project: "default".into(), http })
    }

    fn feature_path(&self, flag: &str) -> String {
        format!("{}/api/admin/projects/{}/features/{}", self.base, seg(&self.project), seg(flag))
    }

    fn get(&self, url: &str) -> Result<Value, FlagStoreError> {
        let resp = self.http.get(url).header("authorization", &self.token).send().map_err(unavailable)?;
        let status = resp.status();
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(refused(format!("the admin token was not accepted (HTTP {status})")));
        }
        if !status.is_success() {
            return Err(unavailable(format!("GET {} answered HTTP {status}", url.trim_start_matches(&self.base))));
        }
        resp.json().map_err(unavailable)
    }

    /// Send a write; map Unleash's answers to ours.
    fn send(&self, rb: reqwest::blocking::RequestBuilder, what: &str) -> Result<(), FlagStoreError> {
        let resp = rb.header("authorization", &self.token).send().map_err(write_failed)?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = resp.text().unwrap_or_default();
        Err(match status {
            // A failed JSON Patch `test` comes back as a 500 naming the failed operation.
            500 if body.contains("TEST_OPERATION_FAILED") || body.contains("Test operation failed") => {
                conflict(format!("{what}: the value you saw is no longer there"))
            }
            404 => conflict(format!("{what}: it no longer exists in Unleash")),
            401 | 403 => refused(format!("{what}: the admin token was not accepted (HTTP {status})")),
            400..=499 => refused(format!("{what}: HTTP {status}: {}", crate::sanitize::clean(&body, 200))),
            // A 5xx after the request arrived: it may have been applied.
            _ => FlagStoreError::Unknown { store: "Unleash", detail: format!("{what}: HTTP {status}") },
        })
    }

    fn patch_strategy(&self, flag: &str, env: &str, id: &str, ops: Value, what: &str) -> Result<(), FlagStoreError> {
        let url = format!("{}/environments/{}/strategies/{}", self.feature_path(flag), seg(env), seg(id));
        self.send(self.http.patch(url).json(&ops), what)
    }

    pub fn environments(&self) -> Result<Vec<Environment>, FlagStoreError> {
        let v = self.get(&format!("{}/api/admin/environments", self.base))?;
        Ok(v["environments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["enabled"].as_bool().unwrap_or(true))
            .filter_map(|e| {
                let name = e["name"].as_str()?;
                valid_key(name).then(|| Environment {
                    key: EnvKey::from(name),
                    // Production is protected unless configured otherwise.
                    protected: e["type"].as_str() == Some("production") || e["protected"].as_bool() == Some(true),
                })
            })
            .collect())
    }

    /// Feature names, or None when unchanged since `etag` (HTTP 304 — cheap to poll).
    pub fn feature_names(&self, etag: Option<&str>) -> Result<Option<FeatureNames>, FlagStoreError> {
        let url = format!("{}/api/admin/projects/{}/features", self.base, seg(&self.project));
        let mut rb = self.http.get(url).header("authorization", &self.token);
        if let Some(e) = etag {
            rb = rb.header("if-none-match", e);
        }
        let resp = rb.send().map_err(unavailable)?;
        if resp.status().as_u16() == 304 {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(unavailable(format!("listing features answered HTTP {}", resp.status())));
        }
        let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
        let v: Value = resp.json().map_err(unavailable)?;
        let names = v["features"].as_array().into_iter().flatten().filter_map(|f| f["name"].as_str().map(str::to_string)).collect();
        Ok(Some((names, etag)))
    }

    /// One feature as a flag (None when its name is not a valid flagtop key).
    pub fn feature(&self, name: &str, envs: &[Environment]) -> Result<Option<Flag>, FlagStoreError> {
        let v = self.get(&self.feature_path(name))?;
        Ok(to_flag(&v, envs))
    }

    pub fn load(&self) -> Result<ExternalState, FlagStoreError> {
        let environments = self.environments()?;
        let (names, _) = self.feature_names(None)?.unwrap_or_default();
        let mut flags = Vec::new();
        for n in names {
            if let Some(f) = self.feature(&n, &environments)? {
                flags.push(f);
            }
        }
        Ok(ExternalState { environments, flags })
    }

    /// Running totals of `flag`'s evaluations (yes/no) per environment, application and hour,
    /// for the current and the previous hour (so an hour's last increments are not lost).
    pub fn client_metrics(&self, flag: &str) -> Result<Vec<super::usage::Usage>, FlagStoreError> {
        let v = self.get(&format!("{}/api/admin/client-metrics/features/{}/raw?hoursBack=2", self.base, seg(flag)))?;
        Ok(super::usage::parse(&v))
    }

    /// Events newer than `after`, oldest first (at most 100 per call).
    pub fn events_since(&self, after: u64) -> Result<Vec<ExternalEvent>, FlagStoreError> {
        let v = self.get(&format!("{}/api/admin/search/events?limit=100&offset=0", self.base))?;
        let mut out: Vec<ExternalEvent> = v["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let id = e["id"].as_u64()?;
                (id > after).then(|| ExternalEvent {
                    id,
                    at: e["createdAt"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default(),
                    actor: e["createdBy"].as_str().unwrap_or("unleash").to_string(),
                    flag: e["featureName"].as_str().map(str::to_string),
                    summary: plain(e["summary"].as_str().or(e["label"].as_str()).or(e["type"].as_str()).unwrap_or("event")),
                })
            })
            .collect();
        out.sort_by_key(|e| e.id);
        Ok(out)
    }

    fn env_of<'a>(v: &'a Value, env: &str) -> Option<&'a Value> {
        v["environments"].as_array()?.iter().find(|e| e["name"].as_str() == Some(env))
    }

    fn revive(&self, flag: &str, env: &str) -> Result<(), FlagStoreError> {
        let current = self.get(&self.feature_path(flag))?;
        let e = Self::env_of(&current, env).ok_or_else(|| conflict(format!("{flag} has no environment {env}")))?;
        if e["enabled"].as_bool() == Some(true) {
            return Err(conflict(format!("{flag} is already on in {env}")));
        }
        let strategies: Vec<&Value> = e["strategies"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
        if strategies.iter().any(|s| s["disabled"].as_bool() != Some(true)) {
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
        tracing::info!(flag, env, "revive with every cohort rolled back: Unleash stays off until a cohort is restored");
        Ok(())
    }

    fn turn_on(&self, flag: &str, env: &str) -> Result<(), FlagStoreError> {
        let on = format!("{}/environments/{}/on", self.feature_path(flag), seg(env));
        self.send(self.http.post(on), "turn the flag on")
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
}

impl FlagStore for Unleash {
    fn name(&self) -> &'static str {
        "unleash"
    }

    fn propagation_secs(&self) -> u32 {
        SDK_POLL_SECS
    }

    fn read(&self, flag: &crate::domain::FlagKey) -> Result<Option<Flag>, FlagStoreError> {
        let envs = self.environments()?;
        self.feature(flag.as_str(), &envs)
    }

    fn apply(&self, action: &Action, before: &Flag, after: &Flag) -> Result<(), FlagStoreError> {
        let env = action.env().as_str();
        let (Some(b), Some(a)) = (before.env(env), after.env(env)) else {
            return Err(refused(format!("{} is not configured in {env}", before.key)));
        };
        let flag = before.key.as_str();
        match action {
            Action::Kill { .. } => {
                let url = format!("{}/environments/{}/off", self.feature_path(flag), seg(env));
                self.send(self.http.post(url), "turn the flag off")
            }
            Action::Revive { .. } => self.revive(flag, env),
            _ => {
                // Cohort changes: one compare-and-set patch per changed strategy. Once one patch
                // went through, any later failure leaves the outcome unknown (partly applied):
                // the service reads the flag back.
                let mut sent = false;
                let after_first = |sent: bool, e: FlagStoreError| match e {
                    FlagStoreError::Unknown { .. } => e,
                    e if sent => FlagStoreError::Unknown { store: "Unleash", detail: format!("after a first change went through: {e}") },
                    e => e,
                };
                for (cb, ca) in b.cohorts.iter().zip(&a.cohorts) {
                    if cb == ca {
                        continue;
                    }
                    let id = cb.external_id.as_deref().ok_or_else(|| {
                        refused(format!("cohort {} has no Unleash strategy behind it", cb.name))
                    })?;
                    let mut ops = Vec::new();
                    if cb.percent != ca.percent {
                        if cb.selector == Selector::Everyone && cb.name.as_str() == "default" {
                            return Err(refused("the `default` strategy has no percentage; use a flexibleRollout strategy"));
                        }
                        ops.push(json!({"op": "test", "path": "/parameters/rollout", "value": cb.percent.to_string()}));
                        // Unleash stores rollout as a string and does not range-check it: we did.
                        ops.push(json!({"op": "replace", "path": "/parameters/rollout", "value": ca.percent.min(100).to_string()}));
                    }
                    if cb.rolled_back != ca.rolled_back {
                        ops.push(json!({"op": "test", "path": "/disabled", "value": cb.rolled_back}));
                        ops.push(json!({"op": "replace", "path": "/disabled", "value": ca.rolled_back}));
                    }
                    let what = format!("change cohort {} of {flag} in {env}", cb.name);
                    self.patch_strategy(flag, env, id, Value::Array(ops), &what).map_err(|e| after_first(sent, e))?;
                    sent = true;
                }
                let restored = b.cohorts.iter().zip(&a.cohorts).any(|(cb, ca)| cb.rolled_back && !ca.rolled_back);
                if a.enabled && restored {
                    self.ensure_on(flag, env).map_err(|e| after_first(sent, e))?;
                }
                Ok(())
            }
        }
    }
}
