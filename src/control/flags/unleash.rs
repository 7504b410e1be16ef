//! The Unleash (open source, 7.5 and 8.x) flag store over its Admin API: features → flags,
//! `flexibleRollout` strategies → cohorts (mapping in `map`), environment on/off → kill/revive,
//! the event log → Activity. Unleash has no revision and ignores If-Match; the only
//! compare-and-set is a JSON Patch `test`, so every strategy write tests each field the operator
//! decided on — rollout, disabled, constraints, variants, segments — with the raw values Unleash
//! held when flagtop last mapped them (a failed test is HTTP 500 → our conflict). Blocking HTTP:
//! call only from blocking threads (the service's mutation path and the sync thread).

pub mod map;

use super::{ExternalEvent, ExternalState, FlagStore, FlagStoreError};
use crate::domain::ids::valid_key;
use crate::domain::{Action, Cohort, EnvKey, Environment, Flag, Selector};
use map::Segments;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const STORE: &str = "Unleash";
/// Unleash SDKs poll every 15 s by default: the bound on how soon applications see a change.
pub const SDK_POLL_SECS: u32 = 15;
/// Events read per page of the event log, and pages at most per poll (beyond that: a gap,
/// and the follower reloads every feature instead).
pub const EVENT_PAGE: usize = 100;
pub const MAX_EVENT_PAGES: usize = 50;
/// Strategies whose raw JSON is remembered for compare-and-set (beyond: forgotten, re-read).
pub const MAX_SEEN: usize = 50_000;
/// flagtop's own writes remembered until Unleash's event for them is seen (then not shown twice).
pub const MAX_OWN: usize = 10_000;
const OWN_TTL: Duration = Duration::from_secs(600);

/// A write flagtop sent, to recognise its event in Unleash's log.
#[derive(Debug, Clone, PartialEq)]
enum Own {
    Strategy { id: String, rollout: Value, disabled: bool },
    Env { flag: String, env: String, on: bool },
}

#[derive(Clone)]
pub struct Unleash {
    base: String,
    token: String,
    project: String,
    http: reqwest::blocking::Client,
    /// Strategy id → the cohort it mapped to and its raw JSON (what a CAS tests).
    seen: Arc<Mutex<HashMap<String, (Cohort, Value)>>>,
    own: Arc<Mutex<VecDeque<(Instant, Own)>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A write's transport error: `Unavailable` when it never connected, `Unknown` once sent.
fn write_failed(e: reqwest::Error) -> FlagStoreError {
    if e.is_connect() || e.is_builder() {
        unavailable(e)
    } else {
        FlagStoreError::Unknown { store: STORE, detail: e.to_string() }
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

/// One read of the event log: new events (oldest first, flagtop's own and SDK registrations
/// left out), the newest id seen, and whether the log ran further back than we read (a gap).
#[derive(Debug, Default)]
pub struct EventPage {
    pub events: Vec<ExternalEvent>,
    pub newest: u64,
    pub gap: bool,
}

/// Unleash event types that are not flag activity (SDK registrations, metrics).
fn is_noise(kind: &str) -> bool {
    kind.starts_with("application-") || kind.starts_with("client-") || kind.starts_with("api-token-") || kind == "user-created"
}

impl Unleash {
    /// `base` like `http://127.0.0.1:4242`; `token` an admin API token (never logged).
    pub fn new(base: &str, token: &str) -> Result<Unleash, FlagStoreError> {
        crate::client::http::init_tls();
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("flagtop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(unavailable)?;
        Ok(Unleash {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            project: "default".into(),
            http,
            seen: Arc::default(),
            own: Arc::default(),
        })
    }

    fn feature_path(&self, flag: &str) -> String {
        format!("{}/api/admin/projects/{}/features/{}", self.base, seg(&self.project), seg(flag))
    }

    /// GET `url`: Some(json), None on 404.
    fn get_opt(&self, url: &str) -> Result<Option<Value>, FlagStoreError> {
        let resp = self.http.get(url).header("authorization", &self.token).send().map_err(unavailable)?;
        let status = resp.status();
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(refused(format!("the admin token was not accepted (HTTP {status})")));
        }
        if status.as_u16() == 404 {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(unavailable(format!("GET {} answered HTTP {status}", url.trim_start_matches(&self.base))));
        }
        resp.json().map(Some).map_err(unavailable)
    }

    fn get(&self, url: &str) -> Result<Value, FlagStoreError> {
        self.get_opt(url)?.ok_or_else(|| unavailable(format!("GET {} answered HTTP 404", url.trim_start_matches(&self.base))))
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
            400..=499 if body.contains("archived") => conflict(format!("{what}: the flag is archived in Unleash")),
            401 | 403 => refused(format!("{what}: the admin token was not accepted (HTTP {status})")),
            400..=499 => refused(format!("{what}: HTTP {status}: {}", crate::sanitize::clean(&body, 200))),
            // A 5xx after the request arrived: it may have been applied.
            _ => FlagStoreError::Unknown { store: STORE, detail: format!("{what}: HTTP {status}") },
        })
    }

    fn remember_own(&self, own: Own) {
        let mut q = lock(&self.own);
        while q.len() >= MAX_OWN || q.front().is_some_and(|(at, _)| at.elapsed() > OWN_TTL) {
            q.pop_front();
        }
        q.push_back((Instant::now(), own));
    }

    /// Whether `e` is the event of a write flagtop made (and forget that write).
    fn is_own(&self, e: &Value) -> bool {
        let kind = e["type"].as_str().unwrap_or("");
        let probe = match kind {
            "feature-strategy-update" => Own::Strategy {
                id: e["data"]["id"].as_str().unwrap_or("").to_string(),
                rollout: e["data"]["parameters"]["rollout"].clone(),
                disabled: e["data"]["disabled"].as_bool().unwrap_or(false),
            },
            "feature-environment-enabled" | "feature-environment-disabled" => Own::Env {
                flag: e["featureName"].as_str().unwrap_or("").to_string(),
                env: e["environment"].as_str().unwrap_or("").to_string(),
                on: kind == "feature-environment-enabled",
            },
            _ => return false,
        };
        let mut q = lock(&self.own);
        match q.iter().position(|(_, o)| *o == probe) {
            Some(i) => {
                q.remove(i);
                true
            }
            None => false,
        }
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

    /// Segment ids → names (empty when the server has none or does not offer them).
    pub fn segments(&self) -> Result<Segments, FlagStoreError> {
        let Some(v) = self.get_opt(&format!("{}/api/admin/segments", self.base))? else { return Ok(Segments::new()) };
        Ok(v["segments"]
            .as_array()
            .into_iter()
            .flatten()
            .take(10_000)
            .filter_map(|s| Some((s["id"].as_u64()?, crate::sanitize::clean(s["name"].as_str()?, map::MAX_TEXT))))
            .collect())
    }

    /// What mapping a feature needs besides the feature: environments and segments.
    pub fn catalog(&self) -> Result<(Vec<Environment>, Segments), FlagStoreError> {
        Ok((self.environments()?, self.segments()?))
    }

    /// Feature names, or None when unchanged since `etag` (HTTP 304 — cheap to poll).
    /// Archived features are not listed.
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
        let names = v["features"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["archived"].as_bool() != Some(true))
            .filter_map(|f| f["name"].as_str().map(str::to_string))
            .collect();
        Ok(Some((names, etag)))
    }

    /// One feature as a flag (None when it no longer exists or its name is not a valid flagtop
    /// key). Remembers each strategy's raw JSON for compare-and-set.
    pub fn feature(&self, name: &str, catalog: &(Vec<Environment>, Segments)) -> Result<Option<Flag>, FlagStoreError> {
        let Some(v) = self.get_opt(&self.feature_path(name))? else { return Ok(None) };
        if v["archived"].as_bool() == Some(true) || v["archivedAt"].is_string() {
            return Ok(None);
        }
        let Some((flag, raw)) = map::to_flag(&v, &catalog.0, &catalog.1) else { return Ok(None) };
        let mut seen = lock(&self.seen);
        if seen.len() + raw.len() > MAX_SEEN {
            seen.clear();
        }
        for fe in flag.environments.values() {
            for c in &fe.cohorts {
                if let Some((_, r)) = c.external_id.as_ref().and_then(|id| raw.iter().find(|(i, _)| i == id)) {
                    seen.insert(r["id"].as_str().unwrap_or_default().to_string(), (c.clone(), r.clone()));
                }
            }
        }
        Ok(Some(flag))
    }

    pub fn load(&self) -> Result<ExternalState, FlagStoreError> {
        let catalog = self.catalog()?;
        let (names, _) = self.feature_names(None)?.unwrap_or_default();
        let mut flags = Vec::new();
        for n in names {
            if let Some(f) = self.feature(&n, &catalog)? {
                flags.push(f);
            }
        }
        Ok(ExternalState { environments: catalog.0, flags })
    }

    /// Running totals of `flag`'s evaluations (yes/no) per environment, application and hour,
    /// for the current and the previous hour (so an hour's last increments are not lost).
    pub fn client_metrics(&self, flag: &str) -> Result<Vec<super::usage::Usage>, FlagStoreError> {
        let v = self.get(&format!("{}/api/admin/client-metrics/features/{}/raw?hoursBack=2", self.base, seg(flag)))?;
        Ok(super::usage::parse(&v))
    }

    /// Events newer than `after`, paging back through the log (newest first) until reaching
    /// `after`, at most `MAX_EVENT_PAGES` pages; `after == 0` reads only where the log stands.
    pub fn events_since(&self, after: u64) -> Result<EventPage, FlagStoreError> {
        let mut page = EventPage { newest: after, ..EventPage::default() };
        let mut raw: Vec<Value> = Vec::new();
        let mut reached = false;
        for n in 0..MAX_EVENT_PAGES {
            let url = format!("{}/api/admin/search/events?limit={EVENT_PAGE}&offset={}", self.base, n * EVENT_PAGE);
            let v = self.get(&url)?;
            let events = v["events"].as_array().cloned().unwrap_or_default();
            let full = events.len() >= EVENT_PAGE;
            for e in events {
                match e["id"].as_u64() {
                    Some(id) if id > after => {
                        page.newest = page.newest.max(id);
                        if !raw.iter().any(|r| r["id"].as_u64() == Some(id)) {
                            raw.push(e);
                        }
                    }
                    Some(_) => reached = true,
                    None => {}
                }
            }
            if reached || !full || after == 0 {
                reached = true;
                break;
            }
        }
        page.gap = !reached;
        if after == 0 {
            return Ok(page);
        }
        raw.sort_by_key(|e| e["id"].as_u64());
        page.events = raw
            .iter()
            .filter(|e| !is_noise(e["type"].as_str().unwrap_or("")) && !self.is_own(e))
            .filter_map(|e| {
                Some(ExternalEvent {
                    id: e["id"].as_u64()?,
                    at: e["createdAt"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default(),
                    actor: crate::sanitize::clean(e["createdBy"].as_str().unwrap_or("unleash"), 100),
                    flag: e["featureName"].as_str().map(|f| crate::sanitize::clean(f, 100)),
                    summary: map::plain(e["summary"].as_str().or(e["label"].as_str()).or(e["type"].as_str()).unwrap_or("event")),
                })
            })
            .collect();
        Ok(page)
    }

    fn env_of<'a>(v: &'a Value, env: &str) -> Option<&'a Value> {
        v["environments"].as_array()?.iter().find(|e| e["name"].as_str() == Some(env))
    }

    fn revive(&self, flag: &str, env: &str) -> Result<(), FlagStoreError> {
        let current = self.get_opt(&self.feature_path(flag))?.ok_or_else(|| conflict(format!("{flag} no longer exists in Unleash")))?;
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
        self.remember_own(Own::Env { flag: flag.to_string(), env: env.to_string(), on: true });
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

    /// The raw JSON of the strategy behind `seen_cohort`, provided Unleash still holds exactly
    /// what the operator saw; else a conflict naming what changed.
    fn raw_as_seen(&self, flag: &str, seen_cohort: &Cohort) -> Result<Value, FlagStoreError> {
        let id = seen_cohort
            .external_id
            .as_deref()
            .ok_or_else(|| refused(format!("cohort {} has no Unleash strategy behind it", seen_cohort.name)))?;
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
            return Err(conflict(format!("{flag} no longer exists in Unleash (archived or deleted)")));
        }
        match cached(self) {
            Some((c, raw)) if c == *seen_cohort => Ok(raw),
            Some((c, _)) => Err(conflict(format!("cohort {} is now {}", seen_cohort.name, describe(&c)))),
            None => Err(conflict(format!("the strategy behind cohort {} no longer exists", seen_cohort.name))),
        }
    }
}

/// A cohort in a few words, for a conflict message.
fn describe(c: &Cohort) -> String {
    let who = match &c.selector {
        Selector::Everyone => "everyone".to_string(),
        Selector::Segment { segment } => format!("segment {segment}"),
        Selector::Constraints { constraints, segments } => {
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

    fn apply(&self, action: &Action, before: &Flag, after: &Flag) -> Result<(), FlagStoreError> {
        let env = action.env().as_str();
        let (Some(b), Some(a)) = (before.env(env), after.env(env)) else {
            return Err(refused(format!("{} is not configured in {env}", before.key)));
        };
        let flag = before.key.as_str();
        match action {
            Action::Kill { .. } => {
                let url = format!("{}/environments/{}/off", self.feature_path(flag), seg(env));
                self.remember_own(Own::Env { flag: flag.to_string(), env: env.to_string(), on: false });
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
                    e if sent => FlagStoreError::Unknown { store: STORE, detail: format!("after a first change went through: {e}") },
                    e => e,
                };
                for (cb, ca) in b.cohorts.iter().zip(&a.cohorts) {
                    if cb == ca {
                        continue;
                    }
                    if cb.percent != ca.percent && cb.selector == Selector::Everyone && cb.name.as_str() == "default" {
                        return Err(refused("the `default` strategy has no percentage; use a flexibleRollout strategy"));
                    }
                    let raw = self.raw_as_seen(flag, cb).map_err(|e| after_first(sent, e))?;
                    let id = raw["id"].as_str().unwrap_or_default().to_string();
                    // Test everything the decision was made on, as Unleash held it.
                    let mut ops = Vec::new();
                    for path in ["/constraints", "/variants", "/segments", "/disabled", "/parameters/rollout"] {
                        if let Some(v) = raw.pointer(path) {
                            ops.push(json!({"op": "test", "path": path, "value": v}));
                        }
                    }
                    let mut next = raw.clone();
                    if cb.percent != ca.percent {
                        // Unleash stores rollout as a string and does not range-check it: we did.
                        let r = Value::String(ca.percent.min(100).to_string());
                        ops.push(json!({"op": "replace", "path": "/parameters/rollout", "value": r}));
                        next["parameters"]["rollout"] = r;
                    }
                    if cb.rolled_back != ca.rolled_back {
                        ops.push(json!({"op": "replace", "path": "/disabled", "value": ca.rolled_back}));
                        next["disabled"] = Value::Bool(ca.rolled_back);
                    }
                    let what = format!("change cohort {} of {flag} in {env}", cb.name);
                    let own = Own::Strategy { id: id.clone(), rollout: next["parameters"]["rollout"].clone(), disabled: ca.rolled_back };
                    self.remember_own(own);
                    self.patch_strategy(flag, env, &id, Value::Array(ops), &what).map_err(|e| after_first(sent, e))?;
                    lock(&self.seen).insert(id, (ca.clone(), next));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_registrations_and_tokens_are_not_flag_activity() {
        for kind in ["application-created", "client-metrics", "api-token-created", "user-created"] {
            assert!(is_noise(kind), "{kind}");
        }
        for kind in ["feature-strategy-update", "feature-environment-disabled", "feature-archived", "segment-updated"] {
            assert!(!is_noise(kind), "{kind}");
        }
    }

    #[test]
    fn flagtops_own_writes_are_recognised_once_in_the_event_log() {
        let u = Unleash::new("http://127.0.0.1:9", "t").unwrap_or_else(|e| panic!("{e}"));
        u.remember_own(Own::Strategy { id: "s1".into(), rollout: json!("20"), disabled: false });
        u.remember_own(Own::Env { flag: "f".into(), env: "production".into(), on: false });
        let ours = json!({"type": "feature-strategy-update", "data": {"id": "s1", "disabled": false, "parameters": {"rollout": "20"}}});
        let someone = json!({"type": "feature-strategy-update", "data": {"id": "s1", "disabled": false, "parameters": {"rollout": "30"}}});
        assert!(!u.is_own(&someone), "another value is someone else's change");
        assert!(u.is_own(&ours));
        assert!(!u.is_own(&ours), "recognised once: the same change again is someone else's");
        assert!(u.is_own(&json!({"type": "feature-environment-disabled", "featureName": "f", "environment": "production"})));
    }
}
