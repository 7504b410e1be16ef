//! Guardrail samples in bounded per-second buckets, windowed aggregates, and the readings they
//! yield. Owns no policy: judging is `GuardrailSpec::judge`, acting on it is the engine's job.

use crate::domain::{
    EnvKey, FlagKey, GuardrailSpec, GuardrailStatus, SampleSource, State, WindowStat,
};
use crate::wire::{Arm, GuardrailReading, MetricSample};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};

/// The longest window a guardrail may use; older buckets are dropped.
pub const MAX_WINDOW_SECS: i64 = 3600;
/// How many recent values a sparkline keeps.
pub const HISTORY_LEN: usize = 60;
/// How many series the store holds at most; samples for further series are refused.
pub const MAX_SERIES: usize = 50_000;

/// The key of a series: one guardrail metric of one cohort of a flag in an environment.
pub use crate::domain::guardrail::SeriesKey;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    sec: i64,
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Series {
    candidate: VecDeque<Bucket>,
    baseline: VecDeque<Bucket>,
    history: VecDeque<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SampleError {
    #[error("sample value must be a finite number")]
    NotFinite,
    #[error("sample is more than a minute in the future")]
    Future,
    #[error("too many metric series (limit {MAX_SERIES})")]
    TooManySeries,
}

/// Values of a guardrail read from an external source (Prometheus) rather than pushed samples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExternalStat {
    pub candidate: WindowStat,
    pub baseline: WindowStat,
    /// Set when the source failed or is down: the guardrail is then `insufficient` with this text.
    pub error: Option<String>,
    /// Recent candidate values, oldest first (e.g. from `query_range`); replaces the history.
    pub history: Option<Vec<f64>>,
}

#[derive(Debug, Default)]
pub struct Metrics {
    series: HashMap<SeriesKey, Series>,
    external: HashMap<SeriesKey, ExternalStat>,
    /// Evaluation counts per (flag, environment) from Unleash's client metrics; `None` while
    /// the control plane does not follow Unleash.
    exposures: Option<HashMap<(FlagKey, EnvKey), Exposures>>,
    /// Why the last fetch of a flag's client metrics failed.
    exposure_errors: HashMap<FlagKey, String>,
    /// Evaluations per (flag, environment, cohort) served by this control plane (OFREP and the
    /// simulator), for guardrails with `samples_from = "exposure"`.
    served: HashMap<(FlagKey, EnvKey, crate::domain::CohortName), Exposures>,
}

/// How often SDKs evaluated a flag: `yes` (candidate) and `no` (baseline), bucketed per second
/// of arrival.
#[derive(Debug, Default)]
struct Exposures {
    yes: VecDeque<Bucket>,
    no: VecDeque<Bucket>,
}

fn add(buckets: &mut VecDeque<Bucket>, sec: i64, value: f64, count: u64, now_sec: i64) {
    match buckets.iter_mut().rev().find(|b| b.sec == sec) {
        Some(b) => {
            b.sum += value * count as f64;
            b.count += count;
        }
        None => {
            let pos = buckets
                .iter()
                .rposition(|b| b.sec < sec)
                .map_or(0, |p| p + 1);
            buckets.insert(
                pos,
                Bucket {
                    sec,
                    sum: value * count as f64,
                    count,
                },
            );
        }
    }
    while buckets
        .front()
        .is_some_and(|b| b.sec <= now_sec - MAX_WINDOW_SECS)
        || buckets.len() > MAX_WINDOW_SECS as usize
    {
        buckets.pop_front();
    }
}

fn window(buckets: &VecDeque<Bucket>, window_secs: u64, now_sec: i64) -> WindowStat {
    let from = now_sec - window_secs as i64;
    let (sum, count) = buckets
        .iter()
        .rev()
        .take_while(|b| b.sec > from)
        .filter(|b| b.sec <= now_sec)
        .fold((0.0, 0u64), |(s, c), b| (s + b.sum, c + b.count));
    WindowStat {
        value: (count > 0).then(|| sum / count as f64),
        samples: count,
    }
}

impl Metrics {
    /// Whether a series for this sample exists already.
    pub fn has_series(&self, s: &MetricSample) -> bool {
        let key = SeriesKey {
            flag: s.flag.clone(),
            env: s.env.clone(),
            metric: s.metric.clone(),
            cohort: s.cohort.as_str().into(),
        };
        self.series.contains_key(&key)
    }

    /// How many series satisfy `pred`.
    pub fn count_series(&self, pred: impl Fn(&SeriesKey) -> bool) -> usize {
        self.series.keys().filter(|k| pred(k)).count()
    }

    pub fn push(&mut self, s: &MetricSample, now: DateTime<Utc>) -> Result<(), SampleError> {
        if !s.value.is_finite() {
            return Err(SampleError::NotFinite);
        }
        let at = s.at.unwrap_or(now);
        if at > now + chrono::Duration::seconds(60) {
            return Err(SampleError::Future);
        }
        let key = SeriesKey {
            flag: s.flag.clone(),
            env: s.env.clone(),
            metric: s.metric.clone(),
            cohort: s.cohort.as_str().into(),
        };
        if !self.series.contains_key(&key) && self.series.len() >= MAX_SERIES {
            return Err(SampleError::TooManySeries);
        }
        let series = self.series.entry(key).or_default();
        let buckets = match s.arm {
            Arm::Candidate => &mut series.candidate,
            Arm::Baseline => &mut series.baseline,
        };
        add(buckets, at.timestamp(), s.value, s.count, now.timestamp());
        Ok(())
    }

    /// Record what an external source says about a guardrail (used for specs with `promql`).
    pub fn set_external(&mut self, key: SeriesKey, stat: ExternalStat) {
        self.external.insert(key, stat);
    }

    pub fn window(
        &self,
        key: &SeriesKey,
        arm: Arm,
        window_secs: u64,
        now: DateTime<Utc>,
    ) -> WindowStat {
        self.series.get(key).map_or_else(WindowStat::default, |s| {
            let b = match arm {
                Arm::Candidate => &s.candidate,
                Arm::Baseline => &s.baseline,
            };
            window(b, window_secs, now.timestamp())
        })
    }

    /// Judge every guardrail in `state` as of `now`. With `record`, each candidate value is
    /// appended to its sparkline history (call once per evaluation tick).
    pub fn evaluate(
        &mut self,
        state: &State,
        now: DateTime<Utc>,
        record: bool,
    ) -> Vec<GuardrailReading> {
        let mut out = Vec::new();
        for flag in state.flags.values() {
            for (env, fe) in &flag.environments {
                for spec in &fe.guardrails {
                    let key = SeriesKey {
                        flag: flag.key.clone(),
                        env: env.clone(),
                        metric: spec.metric.clone(),
                        cohort: spec.cohort.clone(),
                    };
                    let mut reading = if spec.promql.is_some() {
                        external_reading(&key, spec, self.external.get(&key))
                    } else {
                        self.local_reading(key, spec, now, record)
                    };
                    match spec.samples_from {
                        SampleSource::Metric => {}
                        SampleSource::Unleash => self.use_unleash_counts(&mut reading, spec, now),
                        SampleSource::Exposure => self.use_served_counts(&mut reading, spec, now),
                    }
                    out.push(reading);
                }
            }
        }
        out
    }

    /// A reading from pushed (or simulated) samples.
    fn local_reading(
        &mut self,
        key: SeriesKey,
        spec: &GuardrailSpec,
        now: DateTime<Utc>,
        record: bool,
    ) -> GuardrailReading {
        let cand = self.window(&key, Arm::Candidate, spec.window_secs, now);
        let base = self.window(&key, Arm::Baseline, spec.window_secs, now);
        let judgement = spec.judge(cand, base);
        let both = cand.samples + base.samples;
        let cohort_value = (both > 0).then(|| {
            (cand.value.unwrap_or(0.0) * cand.samples as f64
                + base.value.unwrap_or(0.0) * base.samples as f64)
                / both as f64
        });
        let history = match self.series.get_mut(&key) {
            Some(s) => {
                if record && let Some(v) = cand.value {
                    s.history.push_back(v);
                    while s.history.len() > HISTORY_LEN {
                        s.history.pop_front();
                    }
                }
                s.history.iter().copied().collect()
            }
            None => Vec::new(),
        };
        GuardrailReading {
            flag: key.flag,
            env: key.env,
            metric: key.metric,
            cohort: key.cohort,
            value: cand.value,
            baseline: base.value,
            threshold: judgement.limit,
            rule: spec.describe_threshold(),
            samples: cand.samples,
            baseline_samples: base.samples,
            min_samples: spec.min_samples,
            window_secs: spec.window_secs,
            status: judgement.status,
            history,
            cohort_value,
            source_error: None,
        }
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }
}

/// A reading for a Prometheus-backed guardrail: judged like any other, but a source error (or
/// no answer yet) makes it `insufficient` with the error shown, never `healthy`.
fn external_reading(
    key: &SeriesKey,
    spec: &GuardrailSpec,
    stat: Option<&ExternalStat>,
) -> GuardrailReading {
    let none = ExternalStat {
        error: Some(
            "no answer from Prometheus yet (is the control plane started with --prometheus URL?)"
                .into(),
        ),
        ..Default::default()
    };
    let stat = stat.unwrap_or(&none);
    let judgement = spec.judge(stat.candidate, stat.baseline);
    let status = if stat.error.is_some() {
        GuardrailStatus::Insufficient
    } else {
        judgement.status
    };
    GuardrailReading {
        flag: key.flag.clone(),
        env: key.env.clone(),
        metric: spec.metric.clone(),
        cohort: spec.cohort.clone(),
        value: stat.candidate.value,
        baseline: stat.baseline.value,
        threshold: judgement.limit,
        rule: spec.describe_threshold(),
        samples: stat.candidate.samples,
        baseline_samples: stat.baseline.samples,
        min_samples: spec.min_samples,
        window_secs: spec.window_secs,
        status,
        history: stat.history.clone().unwrap_or_default(),
        cohort_value: None,
        source_error: stat.error.clone(),
    }
}

/// The worst status among readings (for summaries); `None` when there are none.
pub fn worst<'a>(
    readings: impl IntoIterator<Item = &'a GuardrailReading>,
) -> Option<GuardrailStatus> {
    readings
        .into_iter()
        .map(|r| r.status)
        .max_by_key(|s| s.severity())
}

mod counts;
#[cfg(test)]
mod tests;
