//! Exposure: what applications were actually served (OFREP evaluations), counted per flag,
//! environment, cohort and variation in one-minute windows. Bounded, in memory, readings only:
//! nothing here passes the door or bumps a revision.

use crate::domain::{CohortName, EnvKey, FlagKey};
use crate::wire::ExposureCount;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// Series (flag × environment × cohort × variation) counted at most; evaluations for a new
/// series beyond this are counted only in `dropped`.
pub const MAX_EXPOSURE_SERIES: usize = 10_000;
/// Length of one exposure window.
pub const EXPOSURE_WINDOW_SECS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    flag: FlagKey,
    env: EnvKey,
    cohort: Option<CohortName>,
    variation: String,
    exposed: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    total: u64,
    window: i64,
    current: u64,
    previous: u64,
}

impl Counter {
    /// Move the windows on to `window` (an empty window in between clears `previous`).
    fn roll(&mut self, window: i64) {
        if window > self.window {
            self.previous = if window == self.window + 1 {
                self.current
            } else {
                0
            };
            self.current = 0;
            self.window = window;
        }
    }
}

/// One evaluation served, as the counter takes it.
pub struct Served<'a> {
    pub flag: &'a str,
    pub env: &'a str,
    pub cohort: Option<&'a str>,
    pub variation: &'a str,
    pub exposed: bool,
}

#[derive(Default)]
struct Inner {
    series: HashMap<Key, Counter>,
    dropped: u64,
}

#[derive(Default)]
pub struct Exposure {
    inner: Mutex<Inner>,
}

fn window_of(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(EXPOSURE_WINDOW_SECS)
}

impl Exposure {
    /// Count evaluations served at `now` (one lock for a whole bulk answer).
    pub fn record<'a>(&self, now: DateTime<Utc>, served: impl IntoIterator<Item = Served<'a>>) {
        let w = window_of(now);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for s in served {
            let key = Key {
                flag: FlagKey::from(s.flag),
                env: EnvKey::from(s.env),
                cohort: s.cohort.map(CohortName::from),
                variation: s.variation.to_string(),
                exposed: s.exposed,
            };
            let full = inner.series.len() >= MAX_EXPOSURE_SERIES;
            match inner.series.get_mut(&key) {
                Some(c) => {
                    c.roll(w);
                    c.total += 1;
                    c.current += 1;
                }
                None if full => inner.dropped += 1,
                None => {
                    inner.series.insert(
                        key,
                        Counter {
                            total: 1,
                            window: w,
                            current: 1,
                            previous: 0,
                        },
                    );
                }
            }
        }
    }

    /// Every series, sorted by flag, environment, cohort and variation.
    pub fn summary(&self, now: DateTime<Utc>) -> Vec<ExposureCount> {
        let w = window_of(now);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<ExposureCount> = inner
            .series
            .iter_mut()
            .map(|(k, c)| {
                c.roll(w);
                ExposureCount {
                    flag: k.flag.clone(),
                    env: k.env.clone(),
                    cohort: k.cohort.clone(),
                    variation: k.variation.clone(),
                    exposed: k.exposed,
                    total: c.total,
                    last_window: c.previous,
                    this_window: c.current,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.flag, &a.env, &a.cohort, &a.variation).cmp(&(
                &b.flag,
                &b.env,
                &b.cohort,
                &b.variation,
            ))
        });
        out
    }

    /// Evaluations not counted because `MAX_EXPOSURE_SERIES` was reached.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0)
            .single()
            .unwrap_or_default()
    }

    fn one<'a>(cohort: &'a str, exposed: bool) -> Served<'a> {
        Served {
            flag: "f",
            env: "production",
            cohort: Some(cohort),
            variation: if exposed { "on" } else { "off" },
            exposed,
        }
    }

    #[test]
    fn windows_roll_and_totals_stay() {
        let e = Exposure::default();
        e.record(at(0), (0..3).map(|_| one("eu-west", true)));
        e.record(at(61), [one("eu-west", true)]);
        let s = e.summary(at(61));
        assert_eq!((s[0].total, s[0].last_window, s[0].this_window), (4, 3, 1));
        // Two windows later with nothing served: both windows read zero, the total stays.
        let s = e.summary(at(200));
        assert_eq!((s[0].total, s[0].last_window, s[0].this_window), (4, 0, 0));
    }

    #[test]
    fn series_are_bounded() {
        let e = Exposure::default();
        let names: Vec<String> = (0..=MAX_EXPOSURE_SERIES).map(|i| format!("c{i}")).collect();
        e.record(at(0), names.iter().map(|n| one(n, true)));
        assert_eq!(e.summary(at(0)).len(), MAX_EXPOSURE_SERIES);
        assert_eq!(e.dropped(), 1);
    }
}
