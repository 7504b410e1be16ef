//! The Unleash (open source, 7.5 and 8.x) flag store over its Admin API: features → flags,
//! `flexibleRollout` strategies → cohorts (mapping in `map`), environment on/off → kill/revive,
//! Unleash's archive and revive → archive/unarchive and its lifecycle stages (`archive`), the
//! event log → Activity. Unleash has no revision and ignores If-Match; the only
//! compare-and-set is a JSON Patch `test`, so every strategy write tests each field the operator
//! decided on — rollout, disabled, constraints, variants, segments — with the raw values Unleash
//! held when flagtop last mapped them (a failed test is HTTP 500 → our conflict). Blocking HTTP:
//! call only from blocking threads (the service's mutation path and the sync thread).

mod archive;
mod events;
pub mod map;
#[cfg(test)]
mod map_tests;
mod write;

pub use events::EventPage;
use events::Own;

use super::{ExternalState, FlagStoreError};
use crate::domain::ids::valid_key;
use crate::domain::{Cohort, EnvKey, Environment, Flag};
use map::Segments;
use serde_json::Value;
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
        FlagStoreError::Unknown {
            store: STORE,
            detail: e.to_string(),
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> FlagStoreError {
    FlagStoreError::Unavailable {
        store: STORE,
        detail: e.to_string(),
    }
}

fn refused(detail: impl Into<String>) -> FlagStoreError {
    FlagStoreError::Refused {
        store: STORE,
        detail: detail.into(),
    }
}

fn conflict(detail: impl Into<String>) -> FlagStoreError {
    FlagStoreError::Conflict {
        store: STORE,
        detail: detail.into(),
    }
}

/// Path segments we build from our own validated keys and Unleash's ids: keep them URL-safe.
fn seg(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.~".contains(*c))
        .collect()
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
        format!(
            "{}/api/admin/projects/{}/features/{}",
            self.base,
            seg(&self.project),
            seg(flag)
        )
    }

    /// GET `url`: Some(json), None on 404.
    fn get_opt(&self, url: &str) -> Result<Option<Value>, FlagStoreError> {
        let resp = self
            .http
            .get(url)
            .header("authorization", &self.token)
            .send()
            .map_err(unavailable)?;
        let status = resp.status();
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(refused(format!(
                "the admin token was not accepted (HTTP {status})"
            )));
        }
        if status.as_u16() == 404 {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(unavailable(format!(
                "GET {} answered HTTP {status}",
                url.trim_start_matches(&self.base)
            )));
        }
        resp.json().map(Some).map_err(unavailable)
    }

    fn get(&self, url: &str) -> Result<Value, FlagStoreError> {
        self.get_opt(url)?.ok_or_else(|| {
            unavailable(format!(
                "GET {} answered HTTP 404",
                url.trim_start_matches(&self.base)
            ))
        })
    }

    /// Send a write; map Unleash's answers to ours.
    fn send(
        &self,
        rb: reqwest::blocking::RequestBuilder,
        what: &str,
    ) -> Result<(), FlagStoreError> {
        let resp = rb
            .header("authorization", &self.token)
            .send()
            .map_err(write_failed)?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = resp.text().unwrap_or_default();
        Err(match status {
            // A failed JSON Patch `test` comes back as a 500 naming the failed operation.
            500 if body.contains("TEST_OPERATION_FAILED")
                || body.contains("Test operation failed") =>
            {
                conflict(format!("{what}: the value you saw is no longer there"))
            }
            404 => conflict(format!("{what}: it no longer exists in Unleash")),
            400..=499 if body.contains("archived") => {
                conflict(format!("{what}: the flag is archived in Unleash"))
            }
            401 | 403 => refused(format!(
                "{what}: the admin token was not accepted (HTTP {status})"
            )),
            400..=499 => refused(format!(
                "{what}: HTTP {status}: {}",
                crate::sanitize::clean(&body, 200)
            )),
            // A 5xx after the request arrived: it may have been applied.
            _ => FlagStoreError::Unknown {
                store: STORE,
                detail: format!("{what}: HTTP {status}"),
            },
        })
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
                    protected: e["type"].as_str() == Some("production")
                        || e["protected"].as_bool() == Some(true),
                })
            })
            .collect())
    }

    /// Segment ids → segments with their constraints (empty when the server has none or does
    /// not offer them).
    pub fn segments(&self) -> Result<Segments, FlagStoreError> {
        let Some(v) = self.get_opt(&format!("{}/api/admin/segments", self.base))? else {
            return Ok(Segments::new());
        };
        Ok(v["segments"]
            .as_array()
            .into_iter()
            .flatten()
            .take(10_000)
            .filter_map(map::segment)
            .collect())
    }

    /// What mapping a feature needs besides the feature: environments and segments.
    pub fn catalog(&self) -> Result<(Vec<Environment>, Segments), FlagStoreError> {
        Ok((self.environments()?, self.segments()?))
    }

    /// Feature names, or None when unchanged since `etag` (HTTP 304 — cheap to poll).
    /// Archived features are not listed.
    pub fn feature_names(&self, etag: Option<&str>) -> Result<Option<FeatureList>, FlagStoreError> {
        let url = format!(
            "{}/api/admin/projects/{}/features",
            self.base,
            seg(&self.project)
        );
        let mut rb = self.http.get(url).header("authorization", &self.token);
        if let Some(e) = etag {
            rb = rb.header("if-none-match", e);
        }
        let resp = rb.send().map_err(unavailable)?;
        if resp.status().as_u16() == 304 {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(unavailable(format!(
                "listing features answered HTTP {}",
                resp.status()
            )));
        }
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
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
    pub fn feature(
        &self,
        name: &str,
        catalog: &(Vec<Environment>, Segments),
    ) -> Result<Option<Flag>, FlagStoreError> {
        let Some(v) = self.get_opt(&self.feature_path(name))? else {
            return Ok(None);
        };
        if v["archived"].as_bool() == Some(true) || v["archivedAt"].is_string() {
            return Ok(None);
        }
        let Some((flag, raw)) = map::to_flag(&v, &catalog.0, &catalog.1) else {
            return Ok(None);
        };
        let mut seen = lock(&self.seen);
        if seen.len() + raw.len() > MAX_SEEN {
            seen.clear();
        }
        for fe in flag.environments.values() {
            for c in &fe.cohorts {
                if let Some((_, r)) = c
                    .external_id
                    .as_ref()
                    .and_then(|id| raw.iter().find(|(i, _)| i == id))
                {
                    seen.insert(
                        r["id"].as_str().unwrap_or_default().to_string(),
                        (c.clone(), r.clone()),
                    );
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
        Ok(ExternalState {
            environments: catalog.0,
            flags,
        })
    }

    /// Running totals of `flag`'s evaluations (yes/no) per environment, application and hour,
    /// for the current and the previous hour (so an hour's last increments are not lost).
    pub fn client_metrics(&self, flag: &str) -> Result<Vec<super::usage::Usage>, FlagStoreError> {
        let v = self.get(&format!(
            "{}/api/admin/client-metrics/features/{}/raw?hoursBack=2",
            self.base,
            seg(flag)
        ))?;
        Ok(super::usage::parse(&v))
    }
}
