//! The Unleash (open source) flag store over its Admin API: features → flags,
//! `flexibleRollout` strategies → cohorts, environment on/off → kill/revive, the event log →
//! Activity. Writes use JSON Patch with a `test` of the value the operator saw (Unleash has no
//! revision and ignores If-Match; a failed test is HTTP 500 → our conflict). Blocking HTTP: call
//! only from blocking threads (the service's mutation path and the sync thread).

use super::{ExternalEvent, ExternalState, FlagStore, FlagStoreError};
use crate::domain::flag::{Constraint, ConstraintOp};
use crate::domain::ids::valid_key;
use crate::domain::{Action, Cohort, CohortName, EnvKey, Environment, Flag, FlagEnv, FlagKind, Lifecycle, Selector};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const STORE: &str = "Unleash";
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

/// Feature names and the ETag they came with.
pub type FeatureList = (Vec<String>, Option<String>);

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
    pub fn feature_names(&self, etag: Option<&str>) -> Result<Option<FeatureList>, FlagStoreError> {
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

/// Markdown summaries of Unleash events, as plain text: `**x**` → x, `[t](url)` → t.
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match (after.find("]("), after.find(')')) {
            (Some(j), Some(k)) if j < k => {
                out.push_str(&after[..j]);
                rest = &after[k + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    crate::sanitize::clean(&out.replace("**", ""), 300)
}

/// A cohort name from a strategy: its title, else its constraints or segments, else its id.
fn cohort_name(s: &Value, taken: &mut BTreeSet<String>) -> String {
    let slug = |x: &str| -> String {
        let mut o: String = x.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect();
        o.truncate(60);
        o.trim_matches('-').to_string()
    };
    let title = s["title"].as_str().map(slug).filter(|t| valid_key(t));
    let from_constraints = || {
        let parts: Vec<String> = s["constraints"]
            .as_array()?
            .iter()
            .filter_map(|c| c["values"].as_array().map(|v| v.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("-")))
            .collect();
        let n = slug(&parts.join("-"));
        valid_key(&n).then_some(n)
    };
    let from_segments = || {
        let ids: Vec<String> = s["segments"].as_array()?.iter().filter_map(|x| x.as_u64().map(|n| n.to_string())).collect();
        (!ids.is_empty()).then(|| format!("segment-{}", ids.join("-")))
    };
    let base = title
        .or_else(from_constraints)
        .or_else(from_segments)
        .unwrap_or_else(|| match s["name"].as_str() {
            Some("default") => "default".to_string(),
            _ => format!("strategy-{}", s["id"].as_str().unwrap_or("x").chars().take(8).collect::<String>()),
        });
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

fn selector(s: &Value) -> Selector {
    if let Some(seg) = s["segments"].as_array().and_then(|a| a.first()).and_then(Value::as_u64) {
        return Selector::Segment { segment: seg.to_string() };
    }
    let constraints: Vec<Constraint> = s["constraints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| Constraint {
            attribute: c["contextName"].as_str().unwrap_or("").to_string(),
            op: if c["operator"].as_str() == Some("NOT_IN") { ConstraintOp::NotIn } else { ConstraintOp::In },
            values: c["values"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        })
        .collect();
    if constraints.is_empty() { Selector::Everyone } else { Selector::Constraints { constraints } }
}

/// Map one Unleash feature (Admin API JSON) to a flag.
pub fn to_flag(v: &Value, envs: &[Environment]) -> Option<Flag> {
    let key = v["name"].as_str()?;
    if !valid_key(key) {
        tracing::warn!(feature = %crate::sanitize::clean(key, 100), "skipping an Unleash feature whose name is not a valid flag key");
        return None;
    }
    let mut variations = vec!["off".to_string(), "on".to_string()];
    let mut environments = crate::domain::SmallMap::new();
    for e in v["environments"].as_array().into_iter().flatten() {
        let Some(name) = e["name"].as_str().filter(|n| envs.iter().any(|x| x.key.as_str() == *n)) else { continue };
        for var in e["variants"].as_array().into_iter().flatten() {
            if let Some(n) = var["name"].as_str().filter(|n| !variations.iter().any(|x| x == n)) {
                variations.push(n.to_string());
            }
        }
        let mut taken = BTreeSet::new();
        let cohorts = e["strategies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| matches!(s["name"].as_str(), Some("flexibleRollout" | "default")))
            .map(|s| {
                let percent = match s["name"].as_str() {
                    Some("default") => 100,
                    _ => s["parameters"]["rollout"]
                        .as_str()
                        .and_then(|r| r.trim().parse::<i64>().ok())
                        .or_else(|| s["parameters"]["rollout"].as_i64())
                        .unwrap_or(0)
                        .clamp(0, 100) as u8,
                };
                Cohort {
                    name: CohortName::from(cohort_name(s, &mut taken).as_str()),
                    selector: selector(s),
                    percent,
                    variation: "on".into(),
                    rolled_back: s["disabled"].as_bool().unwrap_or(false),
                    external_id: s["id"].as_str().map(str::to_string),
                }
            })
            .collect();
        environments.insert(
            EnvKey::from(name),
            FlagEnv { enabled: e["enabled"].as_bool().unwrap_or(false), cohorts, fallthrough: "off".into(), ladder: None, guardrails: vec![] },
        );
    }
    let kind = if variations.len() > 2 { FlagKind::Multivariate } else { FlagKind::Boolean };
    let lifecycle = match v["type"].as_str() {
        Some("kill-switch" | "permission" | "operational") => Lifecycle::Permanent,
        _ => Lifecycle::Temporary,
    };
    Some(Flag {
        key: key.into(),
        kind,
        description: crate::sanitize::clean(v["description"].as_str().unwrap_or(""), 1000),
        owner: format!("unleash:{}", v["project"].as_str().unwrap_or("default")),
        lifecycle,
        variations,
        environments,
        revision: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_strategies_to_cohorts() {
        let v = json!({"name": "checkout-v2", "type": "release", "project": "default", "environments": [
            {"name": "production", "enabled": true, "strategies": [
                {"id": "s1", "name": "flexibleRollout", "title": "eu-west", "disabled": true,
                 "parameters": {"rollout": "25"}, "constraints": [{"contextName": "region", "operator": "IN", "values": ["eu-west"]}]},
                {"id": "s2", "name": "flexibleRollout", "title": "", "disabled": false,
                 "parameters": {"rollout": "150"}, "constraints": [{"contextName": "region", "operator": "IN", "values": ["us-east"]}]},
                {"id": "s3", "name": "userWithId", "parameters": {}},
                {"id": "s4", "name": "default"}
            ]},
            {"name": "development", "enabled": false, "strategies": []}
        ]});
        let envs = vec![Environment { key: "production".into(), protected: true }];
        let f = to_flag(&v, &envs).unwrap_or_else(|| panic!("mapped"));
        let fe = &f.environments[&crate::domain::EnvKey::from("production")];
        let names: Vec<&str> = fe.cohorts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["eu-west", "us-east", "default"]);
        assert!(fe.cohorts[0].rolled_back && fe.cohorts[0].percent == 25);
        assert_eq!(fe.cohorts[1].percent, 100, "out-of-range rollouts are clamped");
        assert_eq!(fe.cohorts[1].external_id.as_deref(), Some("s2"));
        assert!(!f.environments.contains_key("development"));
    }

    #[test]
    fn event_summaries_become_plain_text() {
        assert_eq!(
            plain("**admin** enabled **[checkout-v2](http://x/y)** for the **production** environment\u{1b}[2J"),
            "admin enabled checkout-v2 for the production environment␛[2J"
        );
    }
}
