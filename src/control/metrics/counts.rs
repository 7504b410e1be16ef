//! Sample counts from elsewhere than the metric's own source: Unleash's client metrics
//! (`samples_from = "unleash"`, per flag and environment) and this control plane's own exposure
//! counts (`samples_from = "exposure"`, per cohort). Readings only; judging stays the spec's.

use super::{Metrics, add, window};
use crate::domain::{CohortName, EnvKey, FlagKey, GuardrailSpec, GuardrailStatus, WindowStat};
use crate::wire::GuardrailReading;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

const NOT_FOLLOWING_UNLEASH: &str = "sample counts come from Unleash client metrics, but this control plane does not follow Unleash (start it with --flags unleash)";

impl Metrics {
    /// From now on, guardrails with `samples_from = "unleash"` take their counts from
    /// `record_exposures` (called by the Unleash follower).
    pub fn follow_unleash_counts(&mut self) {
        self.exposures.get_or_insert_with(HashMap::new);
    }

    /// New evaluations of `flag` in `env` seen in Unleash's client metrics since the last poll.
    pub fn record_exposures(
        &mut self,
        flag: &FlagKey,
        env: &EnvKey,
        yes: u64,
        no: u64,
        now: DateTime<Utc>,
    ) {
        let Some(map) = self.exposures.as_mut() else {
            return;
        };
        let e = map.entry((flag.clone(), env.clone())).or_default();
        let sec = now.timestamp();
        for (buckets, n) in [(&mut e.yes, yes), (&mut e.no, no)] {
            if n > 0 {
                add(buckets, sec, 0.0, n, sec);
            }
        }
        self.exposure_errors.remove(flag);
    }

    /// The last fetch of `flag`'s client metrics failed (`None`: it worked again).
    pub fn set_exposure_error(&mut self, flag: &FlagKey, error: Option<String>) {
        match error {
            Some(e) => self.exposure_errors.insert(flag.clone(), e),
            None => self.exposure_errors.remove(flag),
        };
    }

    /// Replace a reading's sample counts with Unleash's `yes`/`no` over its window and judge it
    /// again; a missing or failing source makes it `insufficient` with the reason.
    pub(super) fn use_unleash_counts(
        &self,
        r: &mut GuardrailReading,
        spec: &GuardrailSpec,
        now: DateTime<Utc>,
    ) {
        let error = match &self.exposures {
            None => Some(NOT_FOLLOWING_UNLEASH.to_string()),
            Some(_) => self
                .exposure_errors
                .get(&r.flag)
                .map(|e| format!("Unleash client metrics: {e}")),
        };
        let counts = self
            .exposures
            .as_ref()
            .and_then(|m| m.get(&(r.flag.clone(), r.env.clone())));
        let (yes, no) = counts.map_or((0, 0), |c| {
            (
                window(&c.yes, spec.window_secs, now.timestamp()).samples,
                window(&c.no, spec.window_secs, now.timestamp()).samples,
            )
        });
        let judgement = spec.judge(
            WindowStat {
                value: r.value,
                samples: yes,
            },
            WindowStat {
                value: r.baseline,
                samples: no,
            },
        );
        r.samples = yes;
        r.baseline_samples = no;
        r.threshold = judgement.limit;
        r.source_error = r.source_error.take().or(error);
        r.status = if r.source_error.is_some() {
            GuardrailStatus::Insufficient
        } else {
            judgement.status
        };
    }

    /// New evaluations of `cohort` served by this control plane since the last call: `yes`
    /// got the candidate, `no` the fallthrough (the engine feeds them every tick).
    pub fn record_served(
        &mut self,
        flag: &FlagKey,
        env: &EnvKey,
        cohort: &CohortName,
        yes: u64,
        no: u64,
        now: DateTime<Utc>,
    ) {
        let key = (flag.clone(), env.clone(), cohort.clone());
        if !self.served.contains_key(&key) && self.served.len() >= super::MAX_SERIES {
            return;
        }
        let e = self.served.entry(key).or_default();
        let sec = now.timestamp();
        for (buckets, n) in [(&mut e.yes, yes), (&mut e.no, no)] {
            if n > 0 {
                add(buckets, sec, 0.0, n, sec);
            }
        }
    }

    /// Replace a reading's sample counts with the cohort's evaluations over its window (candidate
    /// and fallthrough) and judge it again.
    pub(super) fn use_served_counts(
        &self,
        r: &mut GuardrailReading,
        spec: &GuardrailSpec,
        now: DateTime<Utc>,
    ) {
        let counts = self
            .served
            .get(&(r.flag.clone(), r.env.clone(), r.cohort.clone()));
        let (yes, no) = counts.map_or((0, 0), |c| {
            (
                window(&c.yes, spec.window_secs, now.timestamp()).samples,
                window(&c.no, spec.window_secs, now.timestamp()).samples,
            )
        });
        let judgement = spec.judge(
            WindowStat {
                value: r.value,
                samples: yes,
            },
            WindowStat {
                value: r.baseline,
                samples: no,
            },
        );
        r.samples = yes;
        r.baseline_samples = no;
        r.threshold = judgement.limit;
        r.status = if r.source_error.is_some() {
            GuardrailStatus::Insufficient
        } else {
            judgement.status
        };
    }
}
