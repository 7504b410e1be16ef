//! Follows an external flag store: follows Unleash's event log by id (paging back until caught
//! up; on a gap — more than `MAX_EVENT_PAGES` pages, or no cursor — it reads every feature
//! again), polls the feature list with an ETag (an unchanged list costs a 304; a name gone from
//! it is an archived or deleted flag), and hands changed flags and new events to the control
//! plane, which merges them through its usual commit-and-publish path. The cursor is kept in
//! the data dir, so events made while `serve` was down reach Activity at the next start.
//! It also reads Unleash's client metrics for flags whose guardrails take their sample counts
//! from there.

use super::flags::unleash::Unleash;
use super::flags::usage::Counter;
use super::flags::{ExternalEvent, ExternalSync, FlagStoreError};
use crate::control::exposure::Served;
use crate::control::service::ControlPlane;
use crate::domain::{FlagKey, SampleSource};
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct Follower {
    unleash: Unleash,
    etag: Option<String>,
    last_event: u64,
    known: Vec<String>,
    usage: Counter,
    /// Where the event cursor is kept, and the Unleash it belongs to.
    cursor: Option<(PathBuf, String)>,
    /// Flags whose last read was not merged (flagtop changed them meanwhile): read again.
    again: BTreeSet<String>,
    /// Polls since Unleash's lifecycle stages were last compared (see `STAGE_EVERY`).
    polls: u32,
}

/// Every this many polls, the lifecycle stages of every feature are read in bulk (the feature
/// search) and a feature whose stage moved without an event (Unleash moves `pre-live` and `live`
/// on SDK metrics) is read again.
const STAGE_EVERY: u32 = 30;

/// `STAGE_EVERY`; builds with the `test-hooks` feature (never shipped) take a lower one from
/// `FLAGTOP_TEST_STAGE_EVERY`, so an end-to-end test need not wait 30 polls.
fn stage_every() -> u32 {
    #[cfg(feature = "test-hooks")]
    if let Some(n) = std::env::var("FLAGTOP_TEST_STAGE_EVERY")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        return n.max(1);
    }
    STAGE_EVERY
}

/// At most this many flags' client metrics are read per poll (one request each).
const MAX_USAGE_FLAGS: usize = 200;
/// At most this many flags are read again per poll after a read was dropped.
const MAX_AGAIN: usize = 1000;

fn merge_failed(e: impl std::fmt::Display) -> FlagStoreError {
    FlagStoreError::Unavailable {
        store: "Unleash",
        detail: e.to_string(),
    }
}

impl Follower {
    pub fn new(unleash: Unleash) -> Follower {
        Follower {
            unleash,
            etag: None,
            last_event: 0,
            known: Vec::new(),
            usage: Counter::default(),
            cursor: None,
            again: BTreeSet::new(),
            polls: 0,
        }
    }

    /// Keep the event cursor in `path` (for the Unleash at `url`): a restart catches up.
    pub fn with_cursor(mut self, path: PathBuf, url: &str) -> Follower {
        self.cursor = Some((path, url.trim_end_matches('/').to_string()));
        self
    }

    fn stored_cursor(&self) -> Option<u64> {
        let (path, url) = self.cursor.as_ref()?;
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        (lines.next()? == url).then_some(())?;
        lines.next()?.trim().parse().ok()
    }

    fn store_cursor(&self) {
        let Some((path, url)) = &self.cursor else {
            return;
        };
        let tmp = path.with_extension("tmp");
        let r = std::fs::write(&tmp, format!("{url}\n{}\n", self.last_event))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not keep the Unleash event cursor");
        }
    }

    /// Read every feature (at start, and after a gap in the event log) and merge; events since
    /// the stored cursor, if any, go to Activity.
    fn full(
        &mut self,
        cp: &ControlPlane,
        events: Vec<ExternalEvent>,
        newest: u64,
    ) -> Result<(), FlagStoreError> {
        let stamp = cp.revision();
        let state = self.unleash.load()?;
        if let Some((names, etag)) = self.unleash.feature_names(None)? {
            self.known = names;
            self.etag = etag;
        }
        let sync = ExternalSync {
            stamp: Some(stamp),
            environments: Some(state.environments),
            flags: state.flags,
            complete: true,
            events,
            ..Default::default()
        };
        let again = cp.merge_external(sync).map_err(merge_failed)?;
        self.again = again.iter().map(|k| k.to_string()).collect();
        // Where the log stands (lower than before only when the log itself was replaced).
        self.last_event = newest;
        self.store_cursor();
        Ok(())
    }

    /// Load everything once (at start). With a stored cursor, the events made since (while
    /// flagtop was not running) are read too; without one, the log's newest id is the start.
    pub fn initial(&mut self, cp: &ControlPlane) -> Result<(), FlagStoreError> {
        cp.with_metrics(|metrics, _| metrics.follow_unleash_counts());
        let (events, newest) = match self.stored_cursor() {
            Some(after) => {
                let page = self.unleash.events_since(after)?;
                (page.events, page.newest)
            }
            None => (Vec::new(), self.unleash.events_since(0)?.newest),
        };
        self.last_event = 0;
        self.full(cp, events, newest)
    }

    /// One poll: new events → read the features they name; a changed list → read new ones,
    /// mark vanished ones archived; a gap in the log, or a changed segment (its event names no
    /// feature) → read everything.
    pub fn poll(&mut self, cp: &ControlPlane) -> Result<usize, FlagStoreError> {
        let stamp = cp.revision();
        let page = self.unleash.events_since(self.last_event)?;
        if page.gap || page.segments_changed {
            if page.gap {
                tracing::info!(
                    after = self.last_event,
                    "the Unleash event log ran past one poll's pages: reading every feature again"
                );
            } else {
                tracing::info!("an Unleash segment changed: reading every feature again");
            }
            let n = page.events.len();
            self.full(cp, page.events, page.newest)?;
            return Ok(n);
        }
        let mut names: BTreeSet<String> =
            page.events.iter().filter_map(|e| e.flag.clone()).collect();
        names.extend(page.retired.iter().cloned());
        self.polls = (self.polls + 1) % stage_every();
        if self.polls == 0 {
            // Stages are shown, not acted on: a failed bulk read waits for the next round.
            match self.moved_stages(cp) {
                Ok(moved) => names.extend(moved),
                Err(e) => tracing::debug!(error = %e, "reading Unleash's lifecycle stages failed"),
            }
        }
        names.extend(std::mem::take(&mut self.again));
        let mut gone = Vec::new();
        if let Some((list, etag)) = self.unleash.feature_names(self.etag.as_deref())? {
            names.extend(list.iter().filter(|n| !self.known.contains(n)).cloned());
            gone.extend(
                self.known
                    .iter()
                    .filter(|n| !list.contains(n))
                    .map(|n| FlagKey::from(n.as_str())),
            );
            self.known = list;
            self.etag = etag;
        }
        if names.is_empty() && page.events.is_empty() && gone.is_empty() {
            if page.newest > self.last_event {
                self.last_event = page.newest;
                self.store_cursor();
            }
            cp.mark_synced();
            return Ok(0);
        }
        let catalog = self.unleash.catalog()?;
        let mut flags = Vec::new();
        for n in names.iter().take(MAX_AGAIN) {
            match self.unleash.feature(n, &catalog)? {
                Some(f) => flags.push(f),
                // Named by an event but no longer there: archived or deleted.
                None if crate::domain::ids::valid_key(n) => gone.push(FlagKey::from(n.as_str())),
                None => {}
            }
        }
        let n = flags.len();
        let sync = ExternalSync {
            stamp: Some(stamp),
            environments: None,
            flags,
            gone,
            complete: false,
            events: page.events,
        };
        let again = cp.merge_external(sync).map_err(merge_failed)?;
        self.again = again.iter().map(|k| k.to_string()).collect();
        self.last_event = self.last_event.max(page.newest);
        self.store_cursor();
        Ok(n)
    }
}

impl Follower {
    /// Features whose Unleash lifecycle stage differs from the one flagtop holds.
    fn moved_stages(&self, cp: &ControlPlane) -> Result<Vec<String>, FlagStoreError> {
        let stages = self.unleash.stages()?;
        Ok(cp.read_state(|state| {
            stages
                .into_iter()
                .filter(|(name, stage)| {
                    state
                        .flags
                        .get(name.as_str())
                        .is_some_and(|f| f.store_stage != *stage)
                })
                .map(|(name, _)| name)
                .take(MAX_AGAIN)
                .collect()
        }))
    }

    /// Read the client metrics of every flag with a guardrail counting samples from Unleash
    /// first, then of the other flags (`MAX_USAGE_FLAGS` in all), and file the new evaluations:
    /// as guardrail sample counts, and as exposure (flag-level: Unleash reports `yes`/`no` per
    /// flag and environment, not per cohort). A failed read shows on that flag's guardrails.
    pub fn poll_usage(&mut self, cp: &ControlPlane) {
        let watched: Vec<FlagKey> = cp.with_metrics(|_, state| {
            let sampled = |f: &crate::domain::Flag| {
                f.environments.values().any(|fe| {
                    fe.guardrails
                        .iter()
                        .any(|g| g.samples_from == SampleSource::Unleash)
                })
            };
            let flags = || state.flags.values();
            flags()
                .filter(|f| sampled(f))
                .chain(flags().filter(|f| !sampled(f)))
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
                    let served = delta.iter().flat_map(|(env, (yes, no))| {
                        [(true, *yes), (false, *no)].map(|(exposed, n)| {
                            let variation = if exposed { "yes" } else { "no" };
                            (
                                Served {
                                    flag: flag.as_str(),
                                    env: env.as_str(),
                                    cohort: None,
                                    variation,
                                    exposed,
                                },
                                n,
                            )
                        })
                    });
                    cp.exposure.record_counted(now, served);
                    cp.with_metrics(|metrics, _| {
                        for (env, (yes, no)) in delta {
                            metrics.record_exposures(flag, &env.as_str().into(), yes, no, now);
                        }
                        metrics.set_exposure_error(flag, None);
                    });
                }
                Err(e) => {
                    tracing::debug!(flag = %flag, error = %e, "reading Unleash client metrics failed");
                    cp.with_metrics(|metrics, _| {
                        metrics.set_exposure_error(flag, Some(e.to_string()))
                    });
                }
            }
        }
        let watched: HashSet<String> = watched.iter().map(|f| f.to_string()).collect();
        self.usage.retain(&watched);
    }
}

/// Poll every `every` on its own thread until `stop` is set.
pub fn spawn(
    cp: Arc<ControlPlane>,
    mut follower: Follower,
    every: Duration,
    stop: Arc<AtomicBool>,
) {
    let r = std::thread::Builder::new()
        .name("flagtop-unleash-sync".into())
        .spawn(move || {
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
