//! Follows an external flag store: polls Unleash's event log (and the feature list with an
//! ETag, so an unchanged list costs a 304) and hands changed flags and new events to the
//! control plane, which merges them through its usual commit-and-publish path. It also reads
//! Unleash's client metrics for flags whose guardrails take their sample counts from there.

use super::unleash::Unleash;
use super::usage::Counter;
use crate::control::service::ControlPlane;
use crate::domain::{FlagKey, SampleSource};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct Follower {
    unleash: Unleash,
    etag: Option<String>,
    last_event: u64,
    known: Vec<String>,
    usage: Counter,
}

/// At most this many flags' client metrics are read per poll (one request each).
const MAX_USAGE_FLAGS: usize = 200;

impl Follower {
    pub fn new(unleash: Unleash) -> Follower {
        Follower { unleash, etag: None, last_event: 0, known: Vec::new(), usage: Counter::default() }
    }

    /// Load everything once (at start); remembers where the event log stands.
    pub fn initial(&mut self, cp: &ControlPlane) -> Result<(), super::FlagStoreError> {
        let state = self.unleash.load()?;
        if let Some((names, etag)) = self.unleash.feature_names(None)? {
            self.known = names;
            self.etag = etag;
        }
        let events = self.unleash.events_since(0)?;
        self.last_event = events.last().map_or(0, |e| e.id);
        cp.with_metrics(|metrics, _| metrics.follow_unleash_counts());
        cp.sync_external(Some(state.environments.clone()), state.flags, Vec::new())
            .map_err(|e| super::FlagStoreError::Unavailable { store: "Unleash", detail: e.to_string() })?;
        Ok(())
    }

    /// One poll: new events → refetch the features they name; a changed list → fetch new ones.
    pub fn poll(&mut self, cp: &ControlPlane) -> Result<usize, super::FlagStoreError> {
        let events = self.unleash.events_since(self.last_event)?;
        let mut names: Vec<String> = events.iter().filter_map(|e| e.flag.clone()).collect();
        if let Some((list, etag)) = self.unleash.feature_names(self.etag.as_deref())? {
            names.extend(list.iter().filter(|n| !self.known.contains(n)).cloned());
            self.known = list;
            self.etag = etag;
        }
        names.sort();
        names.dedup();
        if names.is_empty() && events.is_empty() {
            cp.mark_synced();
            return Ok(0);
        }
        let envs = self.unleash.environments()?;
        let mut flags = Vec::new();
        for n in names.iter().filter(|n| self.known.contains(n)) {
            if let Some(f) = self.unleash.feature(n, &envs)? {
                flags.push(f);
            }
        }
        if let Some(e) = events.last() {
            self.last_event = e.id;
        }
        let n = flags.len();
        cp.sync_external(None, flags, events)
            .map_err(|e| super::FlagStoreError::Unavailable { store: "Unleash", detail: e.to_string() })?;
        Ok(n)
    }
}

impl Follower {
    /// Read the client metrics of every flag with a guardrail counting samples from Unleash and
    /// file the new evaluations; a failed read shows on that flag's guardrails.
    pub fn poll_usage(&mut self, cp: &ControlPlane) {
        let watched: Vec<FlagKey> = cp.with_metrics(|_, state| {
            state
                .flags
                .values()
                .filter(|f| f.environments.values().any(|fe| fe.guardrails.iter().any(|g| g.samples_from == SampleSource::Unleash)))
                .map(|f| f.key.clone())
                .take(MAX_USAGE_FLAGS)
                .collect()
        });
        for flag in &watched {
            let read = self.unleash.client_metrics(flag.as_str());
            let now = cp.clock.now();
            match read {
                Ok(read) => {
                    let delta = self.usage.delta(flag.as_str(), read);
                    cp.with_metrics(|metrics, _| {
                        for (env, (yes, no)) in delta {
                            metrics.record_exposures(flag, &env.as_str().into(), yes, no, now);
                        }
                        metrics.set_exposure_error(flag, None);
                    });
                }
                Err(e) => {
                    tracing::debug!(flag = %flag, error = %e, "reading Unleash client metrics failed");
                    cp.with_metrics(|metrics, _| metrics.set_exposure_error(flag, Some(e.to_string())));
                }
            }
        }
        let watched: HashSet<String> = watched.iter().map(|f| f.to_string()).collect();
        self.usage.retain(&watched);
    }
}

/// Poll every `every` on its own thread until `stop` is set.
pub fn spawn(cp: Arc<ControlPlane>, mut follower: Follower, every: Duration, stop: Arc<AtomicBool>) {
    let r = std::thread::Builder::new().name("flagtop-unleash-sync".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(every);
            // Writes whose outcome was unknown are settled first: what the store holds now.
            let settled = cp.settle_unknown();
            if settled > 0 {
                tracing::info!(settled, "external writes with an unknown outcome settled");
            }
            if let Err(e) = follower.poll(&cp) {
                tracing::warn!(error = %e, "unleash sync failed; will retry");
                cp.mark_sync_error(&e.to_string());
            }
            follower.poll_usage(&cp);
        }
    });
    if let Err(e) = r {
        tracing::error!(error = %e, "could not start the unleash sync thread");
    }
}
