//! The simulator's synthetic traffic as a Prometheus text-format `/metrics` page: counters of
//! requests and errors and a latency histogram per flag, environment, cohort and variation,
//! accumulated from the samples each engine tick produces. It only counts and renders; it never
//! touches flag state and never judges anything.
//!
//! The simulator hands over per-tick aggregates (a mean per arm), not single observations, so:
//! requests = the arm's user count; errors = `error_rate` × users; the latency histogram spreads
//! the arm's users evenly over ±10 % around its mean latency (the simulator's own spread), with
//! the mean recovered as `p95 / P95_OVER_MEAN`. A `histogram_quantile(0.95, …)` over it is
//! therefore ≈ 1.08 × mean, not the simulator's reported p95 — relative thresholds compare fine.

use super::simulator::P95_OVER_MEAN;
use crate::domain::State;
use crate::wire::{Arm, MetricSample};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// Upper bounds of the latency buckets, in milliseconds (`+Inf` is added).
pub const BUCKETS_MS: [f64; 12] = [
    25.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 750.0, 1000.0, 2500.0,
];
/// Most label sets kept; traffic of further ones is not exposed.
pub const MAX_SERIES: usize = 10_000;
/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Labels {
    flag: String,
    env: String,
    cohort: String,
    variation: String,
}

#[derive(Debug, Clone, Default)]
struct Counts {
    requests: u64,
    errors: Option<u64>,
    /// Cumulative per bucket, then `+Inf`.
    buckets: Option<[u64; BUCKETS_MS.len() + 1]>,
    latency_sum: f64,
}

/// Accumulated synthetic traffic of one control plane.
#[derive(Debug, Default)]
pub struct Exposition {
    series: Mutex<BTreeMap<Labels, Counts>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Exposition {
    /// Count one tick's samples; `state` says which variation each arm was served.
    pub fn record(&self, state: &State, samples: &[MetricSample]) {
        let mut series = lock(&self.series);
        // Every metric of a cohort's arm sees the same users: count requests once per tick.
        let mut requests: BTreeMap<Labels, u64> = BTreeMap::new();
        let mut latency_done: Vec<Labels> = Vec::new();
        for s in samples {
            let Some(fe) = state.flags.get(&s.flag).and_then(|f| f.env(&s.env)) else {
                continue;
            };
            let Some(cohort) = fe.cohort(&s.cohort) else {
                continue;
            };
            let variation = match s.arm {
                Arm::Candidate => &cohort.variation,
                Arm::Baseline => &fe.fallthrough,
            };
            let labels = Labels {
                flag: s.flag.to_string(),
                env: s.env.to_string(),
                cohort: s.cohort.clone(),
                variation: variation.clone(),
            };
            if !series.contains_key(&labels) && series.len() >= MAX_SERIES {
                continue;
            }
            let r = requests.entry(labels.clone()).or_insert(0);
            *r = (*r).max(s.count);
            let counts = series.entry(labels.clone()).or_default();
            if s.metric == "error_rate" {
                let errors = (s.value.clamp(0.0, 1.0) * s.count as f64).round() as u64;
                *counts.errors.get_or_insert(0) += errors;
            } else if s.metric.contains("latency") && !latency_done.contains(&labels) {
                observe(counts, s.value / P95_OVER_MEAN, s.count);
                latency_done.push(labels);
            }
        }
        for (labels, n) in requests {
            if let Some(c) = series.get_mut(&labels) {
                c.requests += n;
            }
        }
    }

    /// The text exposition format (families in a fixed order, series sorted by labels).
    pub fn render(&self) -> String {
        let series = lock(&self.series);
        let mut out = String::new();
        out.push_str("# HELP flagtop_sim_requests_total Simulated requests by flag, environment, cohort and served variation.\n");
        out.push_str("# TYPE flagtop_sim_requests_total counter\n");
        for (l, c) in series.iter() {
            let _ = writeln!(
                out,
                "flagtop_sim_requests_total{{{}}} {}",
                labels(l, None),
                c.requests
            );
        }
        out.push_str("# HELP flagtop_sim_errors_total Simulated failed requests (cohorts guarded on error_rate).\n");
        out.push_str("# TYPE flagtop_sim_errors_total counter\n");
        for (l, c) in series.iter() {
            if let Some(e) = c.errors {
                let _ = writeln!(out, "flagtop_sim_errors_total{{{}}} {e}", labels(l, None));
            }
        }
        out.push_str("# HELP flagtop_sim_latency_ms Simulated request latency in milliseconds (cohorts guarded on a latency metric).\n");
        out.push_str("# TYPE flagtop_sim_latency_ms histogram\n");
        for (l, c) in series.iter() {
            let Some(b) = &c.buckets else { continue };
            for (i, n) in b.iter().enumerate() {
                let le = BUCKETS_MS
                    .get(i)
                    .map_or_else(|| "+Inf".to_string(), |v| format!("{v}"));
                let _ = writeln!(
                    out,
                    "flagtop_sim_latency_ms_bucket{{{}}} {n}",
                    labels(l, Some(&le))
                );
            }
            let _ = writeln!(
                out,
                "flagtop_sim_latency_ms_sum{{{}}} {}",
                labels(l, None),
                c.latency_sum
            );
            let _ = writeln!(
                out,
                "flagtop_sim_latency_ms_count{{{}}} {}",
                labels(l, None),
                b[BUCKETS_MS.len()]
            );
        }
        out
    }
}

/// `count` observations spread evenly over ±10 % around `mean`.
fn observe(c: &mut Counts, mean: f64, count: u64) {
    if !mean.is_finite() || count == 0 {
        return;
    }
    let (lo, hi) = (mean * 0.9, mean * 1.1);
    let b = c.buckets.get_or_insert([0; BUCKETS_MS.len() + 1]);
    for (i, le) in BUCKETS_MS.iter().enumerate() {
        let frac = if hi <= lo {
            f64::from(u8::from(*le >= mean))
        } else {
            ((le - lo) / (hi - lo)).clamp(0.0, 1.0)
        };
        b[i] += (frac * count as f64).round() as u64;
    }
    b[BUCKETS_MS.len()] += count;
    c.latency_sum += mean * count as f64;
}

/// A label value escaped for the text format: backslash, double quote and line feed.
pub fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn labels(l: &Labels, le: Option<&str>) -> String {
    let mut s = format!(
        "flag=\"{}\",env=\"{}\",cohort=\"{}\",variation=\"{}\"",
        escape(&l.flag),
        escape(&l.env),
        escape(&l.cohort),
        escape(&l.variation)
    );
    if let Some(le) = le {
        let _ = write!(s, ",le=\"{le}\"");
    }
    s
}

/// `GET /metrics` (unauthenticated; 404 unless metrics are exposed).
pub async fn serve(axum::Extension(exposed): axum::Extension<Exposed>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match exposed.0 {
        Some(e) => (
            [(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)],
            e.render(),
        )
            .into_response(),
        None => (
            axum::http::StatusCode::NOT_FOUND,
            "metrics are not exposed; start with `flagtop serve --expose-metrics`\n",
        )
            .into_response(),
    }
}

/// The simulator's traffic as exposed at `/metrics`, when `--expose-metrics` asked for it.
#[derive(Clone, Default)]
pub struct Exposed(pub Option<Arc<Exposition>>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::simulator::Simulator;
    use chrono::{TimeZone, Utc};

    fn sample(
        flag: &str,
        cohort: &str,
        metric: &str,
        arm: Arm,
        value: f64,
        count: u64,
    ) -> MetricSample {
        MetricSample {
            flag: flag.into(),
            env: "production".into(),
            metric: metric.into(),
            cohort: cohort.into(),
            arm,
            value,
            count,
            at: None,
        }
    }

    #[test]
    fn counts_simulated_traffic_per_variation() {
        let now = Utc
            .timestamp_opt(1_780_000_000, 0)
            .single()
            .unwrap_or_default();
        let state = crate::control::scenario::build("demo", now)
            .map(|s| s.state)
            .unwrap_or_default();
        let mut sim = Simulator::new("demo", now);
        let e = Exposition::default();
        for _ in 0..3 {
            e.record(&state, &sim.tick(&state, now));
        }
        let text = e.render();
        let cand = r#"flagtop_sim_requests_total{flag="checkout-v2",env="production",cohort="eu-west",variation="on"} "#;
        let base = r#"flagtop_sim_requests_total{flag="checkout-v2",env="production",cohort="eu-west",variation="off"} "#;
        let n = |prefix: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .and_then(|v| v.parse::<u64>().ok())
        };
        let (c, b) = (n(cand).unwrap_or(0), n(base).unwrap_or(0));
        assert!(c > 0 && b > 0, "{text}");
        assert!(
            c + b <= 3 * crate::control::simulator::USERS_PER_TICK as u64,
            "requests counted once per tick"
        );
        assert!(text.contains(r#"flagtop_sim_latency_ms_bucket{flag="checkout-v2",env="production",cohort="eu-west",variation="on",le="+Inf"} "#));
        assert!(text.contains("# TYPE flagtop_sim_latency_ms histogram"));
    }

    #[test]
    fn errors_and_histogram_from_aggregates() {
        let now = Utc
            .timestamp_opt(1_780_000_000, 0)
            .single()
            .unwrap_or_default();
        let mut state = crate::control::scenario::build("demo", now)
            .map(|s| s.state)
            .unwrap_or_default();
        // Label values from flag data are escaped.
        if let Some(fe) = state.flags.get_mut("checkout-v2").and_then(|f| {
            std::sync::Arc::make_mut(f)
                .environments
                .get_mut("production")
        }) {
            fe.fallthrough = "of\"f\\\n".into();
        }
        let e = Exposition::default();
        e.record(
            &state,
            &[
                sample(
                    "checkout-v2",
                    "eu-west",
                    "error_rate",
                    Arm::Baseline,
                    0.1,
                    200,
                ),
                sample(
                    "checkout-v2",
                    "eu-west",
                    "p95_latency_ms",
                    Arm::Baseline,
                    130.0,
                    200,
                ),
                sample(
                    "checkout-v2",
                    "eu-west",
                    "p99_latency_ms",
                    Arm::Baseline,
                    999.0,
                    200,
                ),
                sample(
                    "checkout-v2",
                    "nowhere",
                    "error_rate",
                    Arm::Baseline,
                    0.5,
                    9,
                ),
            ],
        );
        let text = e.render();
        let l = r#"flag="checkout-v2",env="production",cohort="eu-west",variation="of\"f\\\n""#;
        assert!(
            text.contains(&format!("flagtop_sim_requests_total{{{l}}} 200\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("flagtop_sim_errors_total{{{l}}} 20\n")),
            "{text}"
        );
        // Mean 100 ms spread over 90–110: half below 100, all below 150.
        assert!(
            text.contains(&format!(
                "flagtop_sim_latency_ms_bucket{{{l},le=\"100\"}} 100\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "flagtop_sim_latency_ms_bucket{{{l},le=\"150\"}} 200\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("flagtop_sim_latency_ms_count{{{l}}} 200\n")),
            "only the first latency metric counts"
        );
        assert!(!text.contains("nowhere"));
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape("plain-ü"), "plain-ü");
    }
}
