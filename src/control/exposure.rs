//! Exposure: what applications were actually served (OFREP evaluations and the simulator's
//! users), counted per flag, environment, cohort and variation in one-minute windows. Bounded,
//! in memory, readings only: nothing here passes the door or bumps a revision.

use crate::domain::{CohortName, EnvKey, FlagKey};
use crate::wire::ExposureCount;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

pub use crate::wire::exposure::{EXPOSURE_WINDOW_SECS, MAX_EXPOSURE_SERIES, window_of};

/// Complete windows kept per series for the evidence after a change (an hour: the longest
/// guardrail window), so that what was served before a change is known when its evidence is due.
pub const EXPOSURE_HISTORY_WINDOWS: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    flag: FlagKey,
    env: EnvKey,
    cohort: Option<CohortName>,
    variation: String,
    exposed: bool,
}

#[derive(Debug, Clone, Default)]
struct Counter {
    total: u64,
    window: i64,
    current: u64,
    previous: u64,
    /// The window before `previous`.
    earlier: u64,
    last_at: Option<DateTime<Utc>>,
    /// Changed since the last `changed` call (published on the stream).
    dirty: bool,
    /// Complete windows with evaluations, oldest first (at most `EXPOSURE_HISTORY_WINDOWS`).
    history: std::collections::VecDeque<(i64, u64)>,
}

impl Counter {
    /// Move the windows on to `window` (empty windows in between read zero).
    fn roll(&mut self, window: i64) {
        if window > self.window {
            if self.current > 0 {
                self.history.push_back((self.window, self.current));
            }
            while self.history.len() > EXPOSURE_HISTORY_WINDOWS
                || self
                    .history
                    .front()
                    .is_some_and(|(w, _)| window - w > EXPOSURE_HISTORY_WINDOWS as i64)
            {
                self.history.pop_front();
            }
            let (previous, earlier) = match window - self.window {
                1 => (self.current, self.previous),
                2 => (0, self.current),
                _ => (0, 0),
            };
            if (previous, earlier, 0) != (self.previous, self.earlier, self.current) {
                self.dirty = true;
            }
            (self.previous, self.earlier, self.current) = (previous, earlier, 0);
            self.window = window;
        }
    }

    /// Evaluations in `window` (the current one or a kept one; 0 when none were counted).
    fn at(&self, window: i64) -> u64 {
        if window == self.window {
            return self.current;
        }
        self.history
            .iter()
            .find(|(w, _)| *w == window)
            .map_or(0, |(_, n)| *n)
    }

    fn count(&self, k: &Key) -> ExposureCount {
        ExposureCount {
            flag: k.flag.clone(),
            env: k.env.clone(),
            cohort: k.cohort.clone(),
            variation: k.variation.clone(),
            exposed: k.exposed,
            total: self.total,
            last_window: self.previous,
            this_window: self.current,
            earlier_window: self.earlier,
            last_at: self.last_at,
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

impl Exposure {
    /// Count evaluations served at `now` (one lock for a whole bulk answer).
    pub fn record<'a>(&self, now: DateTime<Utc>, served: impl IntoIterator<Item = Served<'a>>) {
        self.record_counted(now, served.into_iter().map(|s| (s, 1)));
    }

    /// Count `n` evaluations of each kind served at `now` (the simulator's users, aggregated).
    pub fn record_counted<'a>(
        &self,
        now: DateTime<Utc>,
        served: impl IntoIterator<Item = (Served<'a>, u64)>,
    ) {
        let w = window_of(now);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for (s, n) in served {
            if n == 0 {
                continue;
            }
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
                    c.total += n;
                    c.current += n;
                    c.last_at = c.last_at.max(Some(now));
                    c.dirty = true;
                }
                None if full => inner.dropped += n,
                None => {
                    inner.series.insert(
                        key,
                        Counter {
                            total: n,
                            window: w,
                            current: n,
                            last_at: Some(now),
                            dirty: true,
                            ..Counter::default()
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
                c.count(k)
            })
            .collect();
        sort(&mut out);
        out
    }

    /// The series that changed (were served, or moved to a new window) since the last call, as
    /// of `now`: what the stream sends to dashboards.
    pub fn changed(&self, now: DateTime<Utc>) -> Vec<ExposureCount> {
        let w = window_of(now);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<ExposureCount> = inner
            .series
            .iter_mut()
            .filter_map(|(k, c)| {
                c.roll(w);
                let dirty = std::mem::take(&mut c.dirty);
                dirty.then(|| c.count(k))
            })
            .collect();
        sort(&mut out);
        out
    }

    /// Evaluations per (flag, environment, cohort, exposed) since the control plane started:
    /// what a guardrail with `samples_from = "exposure"` counts (by difference).
    pub fn totals(&self) -> Vec<(FlagKey, EnvKey, CohortName, bool, u64)> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut sums: HashMap<(&FlagKey, &EnvKey, &CohortName, bool), u64> = HashMap::new();
        for (k, c) in &inner.series {
            if let Some(cohort) = &k.cohort {
                *sums
                    .entry((&k.flag, &k.env, cohort, k.exposed))
                    .or_default() += c.total;
            }
        }
        sums.into_iter()
            .map(|((f, e, c, x), n)| (f.clone(), e.clone(), c.clone(), x, n))
            .collect()
    }

    /// Candidate evaluations of `cohort` up to a change at `since`, per minute as
    /// `wire::exposure::Served::was` reads them (the window before the change, or its own
    /// window's when more), from the windows kept; None when `since` is older than those.
    pub fn candidate_before(
        &self,
        (flag, env, cohort): (&str, &str, &str),
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<u64> {
        let (w, n) = (window_of(since), window_of(now));
        if n - (w - 1) > EXPOSURE_HISTORY_WINDOWS as i64 {
            return None;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (mut before, mut own) = (0, 0);
        for (k, c) in inner.series.iter_mut() {
            if k.exposed
                && k.flag.as_str() == flag
                && k.env.as_str() == env
                && k.cohort.as_ref().is_some_and(|c| c.as_str() == cohort)
            {
                c.roll(n);
                before += c.at(w - 1);
                own += c.at(w);
            }
        }
        Some(before.max(own))
    }

    /// Evaluations not counted because `MAX_EXPOSURE_SERIES` was reached.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).dropped
    }
}

fn sort(out: &mut [ExposureCount]) {
    out.sort_by(|a, b| {
        (&a.flag, &a.env, &a.cohort, &a.variation).cmp(&(&b.flag, &b.env, &b.cohort, &b.variation))
    });
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
    fn the_window_before_last_and_the_last_serve_are_kept() {
        let e = Exposure::default();
        e.record_counted(at(0), [(one("eu-west", true), 1240)]);
        e.record(at(61), [one("eu-west", false)]);
        let s = e.summary(at(61));
        let cand = s.iter().find(|c| c.exposed).unwrap();
        assert_eq!((cand.last_window, cand.earlier_window), (1240, 0));
        assert_eq!(cand.last_at, Some(at(0)));
        // One window later what came before the gap is still known, two later it is gone.
        let s = e.summary(at(121));
        let cand = s.iter().find(|c| c.exposed).unwrap();
        assert_eq!((cand.last_window, cand.earlier_window), (0, 1240));
        let s = e.summary(at(185));
        let cand = s.iter().find(|c| c.exposed).unwrap();
        assert_eq!((cand.last_window, cand.earlier_window), (0, 0));
    }

    #[test]
    fn what_was_served_before_a_change_is_kept_for_an_hour() {
        let e = Exposure::default();
        // 1,240 candidate evaluations in the minute before a change at 60 s, 30 in its own.
        e.record_counted(at(0), [(one("eu-west", true), 1240)]);
        e.record_counted(at(61), [(one("eu-west", true), 30)]);
        let cohort = ("f", "production", "eu-west");
        let since = at(70);
        assert_eq!(e.candidate_before(cohort, since, at(75)), Some(1240));
        // Five minutes later (a 300 s guardrail window) the counts no longer hold it; this does.
        assert_eq!(e.candidate_before(cohort, since, at(370)), Some(1240));
        assert!(
            e.summary(at(370))
                .iter()
                .all(|c| c.last_window == 0 && c.earlier_window == 0)
        );
        assert_eq!(
            e.candidate_before(("f", "production", "us-east"), since, at(370)),
            Some(0)
        );
        // Older than the windows kept: unknown.
        let late = at(60 * (EXPOSURE_HISTORY_WINDOWS as i64 + 2));
        assert_eq!(e.candidate_before(cohort, since, late), None);
    }

    #[test]
    fn changed_names_each_series_once_until_it_changes_again() {
        let e = Exposure::default();
        e.record(at(0), [one("eu-west", true), one("us-east", true)]);
        assert_eq!(e.changed(at(1)).len(), 2);
        assert!(e.changed(at(2)).is_empty());
        e.record(at(3), [one("eu-west", true)]);
        let c = e.changed(at(3));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].this_window, 2);
        // A new window changes every series' counts.
        assert_eq!(e.changed(at(60)).len(), 2);
        let totals = e.totals();
        assert_eq!(totals.iter().map(|t| t.4).sum::<u64>(), 3);
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
