//! Owns guardrail readings between the stream and the model: they wait here, merged by series
//! (the newest reading of a series replaces the one waiting), and the loop takes them whenever it
//! runs. Only a reading for the environment on screen wakes the loop, so readings the screen does
//! not show (another environment) cost no wake-up, no update and no frame. Must not touch the
//! model or the terminal; one lock, held only to merge or take.

use crate::client::Clean;
use crate::domain::guardrail::SeriesKey;
use crate::domain::{CohortName, EnvKey};
use crate::wire::{ExposureCount, GuardrailReading, GuardrailUpdate};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;

/// The series `r` is a reading of.
pub fn series(r: &GuardrailReading) -> SeriesKey {
    SeriesKey {
        flag: r.flag.clone(),
        env: r.env.clone(),
        metric: r.metric.clone(),
        cohort: CohortName::from(r.cohort.as_str()),
    }
}

/// Whether `r` is a reading of the series `k` (without building a key).
pub fn is_of(r: &GuardrailReading, k: &SeriesKey) -> bool {
    r.flag == k.flag
        && r.env == k.env
        && r.metric == k.metric
        && r.cohort.as_str() == k.cohort.as_str()
}

#[derive(Debug)]
struct Waiting {
    /// The environment on screen (set by the loop each time it takes).
    shown: EnvKey,
    /// In arrival order of their series, so new series keep a stable place in the model.
    readings: Vec<GuardrailReading>,
    index: HashMap<SeriesKey, usize>,
    /// When the newest of them arrived.
    arrived: Option<DateTime<Utc>>,
    /// Exposure series waiting (the newest of each), and the control plane's time of the newest.
    exposure: HashMap<ExposureKey, ExposureCount>,
    exposure_at: Option<DateTime<Utc>>,
}

type ExposureKey = (String, String, Option<String>, String, bool);

/// Readings waiting for the loop, and the wake-up for the ones it must show now.
#[derive(Debug)]
pub struct Readings {
    waiting: Mutex<Waiting>,
    wake: Notify,
}

impl Readings {
    pub fn new(shown: EnvKey) -> Readings {
        let waiting = Waiting {
            shown,
            readings: Vec::new(),
            index: HashMap::new(),
            arrived: None,
            exposure: HashMap::new(),
            exposure_at: None,
        };
        Readings {
            waiting: Mutex::new(waiting),
            wake: Notify::new(),
        }
    }

    /// Stream side: keeps `u`'s readings (arrived at `now`); wakes the loop when one of them is
    /// for the environment on screen.
    pub fn put(&self, u: Clean<GuardrailUpdate>, now: DateTime<Utc>) {
        let u = u.into_inner();
        let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let mut shown = false;
        for r in u.readings {
            shown |= r.env == w.shown;
            let key = series(&r);
            match w.index.get(&key) {
                Some(&i) => w.readings[i] = r,
                None => {
                    let i = w.readings.len();
                    w.readings.push(r);
                    w.index.insert(key, i);
                }
            }
        }
        if !u.exposure.is_empty() {
            w.exposure_at = Some(w.exposure_at.map_or(u.at, |a| a.max(u.at)));
        }
        for e in u.exposure {
            shown |= e.env == w.shown;
            let key = (
                e.flag.to_string(),
                e.env.to_string(),
                e.cohort.as_ref().map(|c| c.to_string()),
                e.variation.clone(),
                e.exposed,
            );
            w.exposure.insert(key, e);
        }
        w.arrived = Some(w.arrived.map_or(now, |a| a.max(now)));
        drop(w);
        if shown {
            self.wake.notify_one();
        }
    }

    /// Loop side: `shown` is the environment now on screen; returns every waiting reading and
    /// when the newest arrived, or None when nothing waits.
    pub fn take(&self, shown: &EnvKey) -> Option<(Clean<GuardrailUpdate>, DateTime<Utc>)> {
        let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if w.shown != *shown {
            w.shown = shown.clone();
        }
        let arrived = w.arrived.take()?;
        w.index.clear();
        let readings = std::mem::take(&mut w.readings);
        let exposure: Vec<ExposureCount> = w.exposure.drain().map(|(_, e)| e).collect();
        // Exposure counts are read against the control plane's time they were taken at.
        let at = w.exposure_at.take().unwrap_or(arrived);
        // Clean already (they came in as `Clean`); `Clean::new` keeps the type saying so.
        Some((
            Clean::new(GuardrailUpdate {
                exposure,
                at,
                readings,
            }),
            arrived,
        ))
    }

    /// Resolves when a reading for the environment on screen has arrived since the last call.
    pub async fn shown_arrived(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::GuardrailStatus;

    fn reading(flag: &str, env: &str, value: f64) -> GuardrailReading {
        GuardrailReading {
            flag: flag.into(),
            env: env.into(),
            metric: "error_rate".into(),
            cohort: "eu-west".into(),
            value: Some(value),
            baseline: None,
            threshold: None,
            rule: String::new(),
            samples: 0,
            baseline_samples: 0,
            min_samples: 0,
            window_secs: 30,
            status: GuardrailStatus::Healthy,
            history: Vec::new(),
            cohort_value: None,
            source_error: None,
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    #[tokio::test]
    async fn only_readings_for_the_shown_environment_wake_the_loop() {
        let r = Readings::new("staging".into());
        r.put(
            Clean::new(GuardrailUpdate {
                exposure: Vec::new(),
                at: at(0),
                readings: vec![reading("a", "production", 1.0)],
            }),
            at(0),
        );
        let woke =
            tokio::time::timeout(std::time::Duration::from_millis(20), r.shown_arrived()).await;
        assert!(
            woke.is_err(),
            "a production reading must not wake a loop showing staging"
        );
        r.put(
            Clean::new(GuardrailUpdate {
                exposure: Vec::new(),
                at: at(1),
                readings: vec![reading("a", "staging", 2.0)],
            }),
            at(1),
        );
        let woke = tokio::time::timeout(std::time::Duration::from_secs(5), r.shown_arrived()).await;
        assert!(woke.is_ok());
    }

    #[test]
    fn waiting_readings_merge_by_series_and_keep_their_order() {
        let r = Readings::new("staging".into());
        r.put(
            Clean::new(GuardrailUpdate {
                exposure: Vec::new(),
                at: at(0),
                readings: vec![
                    reading("a", "production", 1.0),
                    reading("b", "production", 1.0),
                ],
            }),
            at(0),
        );
        r.put(
            Clean::new(GuardrailUpdate {
                exposure: Vec::new(),
                at: at(1),
                readings: vec![reading("a", "production", 3.0)],
            }),
            at(2),
        );
        let Some((u, arrived)) = r.take(&"staging".into()) else {
            panic!("readings were waiting")
        };
        assert_eq!(arrived, at(2));
        let got: Vec<(String, Option<f64>)> = u
            .readings
            .iter()
            .map(|x| (x.flag.to_string(), x.value))
            .collect();
        assert_eq!(
            got,
            vec![("a".to_string(), Some(3.0)), ("b".to_string(), Some(1.0))]
        );
        assert!(r.take(&"staging".into()).is_none(), "taken once");
    }

    #[tokio::test]
    async fn switching_environment_changes_which_readings_wake() {
        let r = Readings::new("staging".into());
        assert!(r.take(&"production".into()).is_none());
        r.put(
            Clean::new(GuardrailUpdate {
                exposure: Vec::new(),
                at: at(0),
                readings: vec![reading("a", "production", 1.0)],
            }),
            at(0),
        );
        let woke = tokio::time::timeout(std::time::Duration::from_secs(5), r.shown_arrived()).await;
        assert!(woke.is_ok(), "production is on screen now");
    }
}
