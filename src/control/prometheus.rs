//! Prometheus as a guardrail source: for every guardrail with `promql`, render its templates,
//! query Prometheus (instant queries for value, samples and `up`; `query_range` for the
//! sparkline), split the answer by `variation` and hand an [`ExternalStat`] to the metrics
//! store. Judging and acting stay with the metrics store and the engine; this module never
//! changes flag state and never holds the control plane's lock across an await.
//!
//! Meanings (see docs/prometheus.md): an empty result is "no traffic" (no value, 0 samples, no
//! error); `NaN` (0/0) is "no observations" (no value); a candidate `+Inf` counts as above any
//! limit; `-Inf` is no value; `up` that is 0 or empty is "source down (up == 0)" even while
//! `rate()` still answers.

pub mod client;
pub mod series;
pub mod template;

pub use client::{PromClient, PromError, Series};
pub use series::{history, history_step, split};

use super::metrics::{ExternalStat, SeriesKey};
use super::service::ControlPlane;
use crate::domain::guardrail::PromQl;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use template::{Vars, baseline_value, candidate_value, render, sample_count};

/// How often the poller asks Prometheus unless `FLAGTOP_PROMETHEUS_INTERVAL` says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Points in a sparkline read with `query_range`.
pub const HISTORY_POINTS: i64 = 60;
/// The source error of a guardrail whose `up` query says the target is down.
pub const SOURCE_DOWN: &str = "source down (up == 0)";

/// One Prometheus-backed guardrail to read.
#[derive(Debug, Clone)]
struct Job {
    key: SeriesKey,
    promql: PromQl,
    window_secs: u64,
    min_samples: u64,
    /// The cohort's serving variation (None: the cohort is not configured).
    candidate: Option<String>,
    /// The environment's fallthrough.
    baseline: String,
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollReport {
    pub guardrails: usize,
    /// HTTP requests made (identical queries are asked once per poll).
    pub queries: usize,
    /// Guardrails left with a source error.
    pub errors: usize,
}

type Answer = Result<Arc<Vec<Series>>, PromError>;

/// One poll's queries: identical queries are asked once, and after the first "unreachable"
/// nothing more is tried.
struct Session<'a> {
    prom: &'a PromClient,
    at: Option<DateTime<Utc>>,
    cache: HashMap<String, Answer>,
    unreachable: Option<PromError>,
    queries: usize,
}

impl Session<'_> {
    async fn ask(
        &mut self,
        key: String,
        range: Option<(DateTime<Utc>, DateTime<Utc>, u64)>,
        query: &str,
    ) -> Answer {
        if let Some(a) = self.cache.get(&key) {
            return a.clone();
        }
        if let Some(e) = &self.unreachable {
            return Err(e.clone());
        }
        self.queries += 1;
        let answer = match range {
            None => self.prom.query(query, self.at).await,
            Some((start, end, step)) => self.prom.query_range(query, start, end, step).await,
        }
        .map(Arc::new);
        if let Err(e @ PromError::Unreachable(_)) = &answer {
            self.unreachable = Some(e.clone());
        }
        self.cache.insert(key, answer.clone());
        answer
    }

    async fn instant(&mut self, query: &str) -> Answer {
        self.ask(format!("i:{query}"), None, query).await
    }

    async fn range(
        &mut self,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: u64,
    ) -> Answer {
        self.ask(
            format!("r:{}:{}:{step}:{query}", start.timestamp(), end.timestamp()),
            Some((start, end, step)),
            query,
        )
        .await
    }
}

async fn read(s: &mut Session<'_>, job: &Job) -> ExternalStat {
    let mut stat = ExternalStat::default();
    let cohort = job.key.cohort.as_str();
    let Some(candidate) = job.candidate.as_deref() else {
        stat.error = Some(format!(
            "cohort `{}` is not configured here",
            crate::sanitize::clean(cohort, 60)
        ));
        return stat;
    };
    let vars = Vars {
        flag: &job.key.flag,
        env: &job.key.env,
        cohort,
        metric: &job.key.metric,
        window_secs: job.window_secs,
    };
    let mut errors: Vec<String> = Vec::new();
    match s
        .instant(&render(&job.promql.value, &vars))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| split(&r, cohort, candidate, &job.baseline))
    {
        Ok((c, b)) => {
            stat.candidate.value = c.and_then(candidate_value);
            stat.baseline.value = b.and_then(baseline_value);
        }
        Err(e) => errors.push(e),
    }
    match &job.promql.samples {
        Some(t) => match s
            .instant(&render(t, &vars))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| split(&r, cohort, candidate, &job.baseline))
        {
            Ok((c, b)) => {
                stat.candidate.samples = c.map_or(0, sample_count);
                stat.baseline.samples = b.map_or(0, sample_count);
            }
            Err(e) => errors.push(e),
        },
        // Without a sample-size query a value counts as enough evidence.
        None => {
            stat.candidate.samples = if stat.candidate.value.is_some() {
                job.min_samples
            } else {
                0
            };
            stat.baseline.samples = if stat.baseline.value.is_some() {
                job.min_samples
            } else {
                0
            };
        }
    }
    if let Some(t) = &job.promql.up {
        match s.instant(&render(t, &vars)).await {
            Ok(r)
                if r.is_empty()
                    || r.iter()
                        .any(|x| x.last().is_none_or(|v| v.is_nan() || v <= 0.0)) =>
            {
                errors.insert(0, SOURCE_DOWN.to_string());
            }
            Ok(_) => {}
            Err(e) => errors.insert(0, e.to_string()),
        }
    }
    let step = history_step(job.window_secs);
    let end_secs =
        s.at.unwrap_or_else(Utc::now)
            .timestamp()
            .div_euclid(step as i64)
            * step as i64;
    let start_secs = end_secs - step as i64 * (HISTORY_POINTS - 1);
    if let (Some(start), Some(end)) = (
        Utc.timestamp_opt(start_secs, 0).single(),
        Utc.timestamp_opt(end_secs, 0).single(),
    ) && let Ok(r) = s
        .range(&render(&job.promql.value, &vars), start, end, step)
        .await
    {
        stat.history = Some(history(
            &r,
            cohort,
            candidate,
            start_secs * 1000,
            step as i64 * 1000,
        ));
    }
    errors.dedup();
    if !errors.is_empty() {
        stat.error = Some(errors.join("; "));
    }
    stat
}

fn jobs(cp: &ControlPlane) -> Vec<Job> {
    cp.with_metrics(|_, state| {
        let mut out = Vec::new();
        for flag in state.flags.values() {
            for (env, fe) in &flag.environments {
                for spec in &fe.guardrails {
                    let Some(promql) = &spec.promql else { continue };
                    out.push(Job {
                        key: SeriesKey {
                            flag: flag.key.clone(),
                            env: env.clone(),
                            metric: spec.metric.clone(),
                            cohort: spec.cohort.clone(),
                        },
                        promql: promql.clone(),
                        window_secs: spec.window_secs,
                        min_samples: spec.min_samples,
                        candidate: fe.cohort(&spec.cohort).map(|c| c.variation.clone()),
                        baseline: fe.fallthrough.clone(),
                    });
                }
            }
        }
        out
    })
}

/// Read every Prometheus-backed guardrail once (at `at`, or Prometheus' now) and record what
/// was read; the next `evaluate_guardrails` judges it.
pub async fn poll_once(
    cp: &ControlPlane,
    prom: &PromClient,
    at: Option<DateTime<Utc>>,
) -> PollReport {
    let jobs = jobs(cp);
    let mut session = Session {
        prom,
        at,
        cache: HashMap::new(),
        unreachable: None,
        queries: 0,
    };
    let mut stats = Vec::with_capacity(jobs.len());
    for job in jobs {
        let stat = read(&mut session, &job).await;
        stats.push((job.key, stat));
    }
    let report = PollReport {
        guardrails: stats.len(),
        queries: session.queries,
        errors: stats.iter().filter(|(_, s)| s.error.is_some()).count(),
    };
    cp.with_metrics(|metrics, _| {
        for (key, stat) in stats {
            metrics.set_external(key, stat);
        }
    });
    report
}

/// How the background poller runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PollerConfig {
    pub interval: Duration,
    /// Query at this fixed time instead of now (tests, replaying an incident).
    pub at: Option<DateTime<Utc>>,
}

impl PollerConfig {
    /// From `FLAGTOP_PROMETHEUS_INTERVAL` (seconds, e.g. `0.5`) and `FLAGTOP_PROMETHEUS_TIME`
    /// (RFC 3339 or Unix seconds); defaults: 5 s, now.
    pub fn from_env() -> Result<PollerConfig, String> {
        let interval = match std::env::var("FLAGTOP_PROMETHEUS_INTERVAL") {
            Ok(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.05 && *s <= 86_400.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    format!(
                        "FLAGTOP_PROMETHEUS_INTERVAL: seconds between 0.05 and 86400, got `{}`",
                        crate::sanitize::clean(&v, 40)
                    )
                })?,
            Err(_) => DEFAULT_INTERVAL,
        };
        let at = match std::env::var("FLAGTOP_PROMETHEUS_TIME") {
            Ok(v) => Some(parse_time(&v).ok_or_else(|| {
                format!(
                    "FLAGTOP_PROMETHEUS_TIME: RFC 3339 or Unix seconds, got `{}`",
                    crate::sanitize::clean(&v, 40)
                )
            })?),
            Err(_) => None,
        };
        Ok(PollerConfig { interval, at })
    }
}

/// RFC 3339 or Unix seconds.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Utc.timestamp_opt(secs, 0).single();
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Start the poller on the current tokio runtime; it ends when `stop` is set.
pub fn spawn(cp: Arc<ControlPlane>, url: &str, stop: Arc<AtomicBool>) -> Result<(), String> {
    let prom = PromClient::new(url)?;
    let cfg = PollerConfig::from_env()?;
    tracing::info!(prometheus = %prom.base(), interval = ?cfg.interval, at = ?cfg.at, "reading promql guardrails from Prometheus");
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(cfg.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_errors = 0;
        loop {
            ticker.tick().await;
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let report = poll_once(&cp, &prom, cfg.at).await;
            if report.errors != last_errors {
                tracing::warn!(
                    errors = report.errors,
                    guardrails = report.guardrails,
                    "Prometheus guardrails with source errors changed"
                );
                last_errors = report.errors;
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests;
