//! Guardrails: a metric of one cohort, candidate against baseline, judged against a threshold
//! with a minimum sample size. Pure evaluation; the samples come from elsewhere.

use super::ids::{CohortName, EnvKey, FlagKey};
use serde::{Deserialize, Serialize};

/// One guardrail series: a metric of one cohort of one flag in one environment. Samples,
/// readings and a pane's selection are kept per series; a newer one replaces the older.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub flag: FlagKey,
    pub env: EnvKey,
    pub metric: String,
    pub cohort: CohortName,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardrailSpec {
    /// Metric name, e.g. `error_rate`, `p95_latency_ms`.
    pub metric: String,
    pub cohort: CohortName,
    pub threshold: Threshold,
    /// Fraction of the limit at which `warning` starts, e.g. 0.8 = warn at 80 % of the way.
    #[serde(default = "default_warning_at")]
    pub warning_at: f64,
    /// Below this many candidate (or baseline, for relative thresholds) observations in the
    /// window the status is `insufficient`, never `healthy`.
    #[serde(default = "default_min_samples")]
    pub min_samples: u64,
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// Where the values come from: empty or "push"/"simulator" for samples, or a PromQL source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Read this guardrail from Prometheus instead of pushed samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promql: Option<PromQl>,
    /// Where the sample counts (`min_samples` is checked against them) come from: the metric's
    /// own source (default), Unleash's client metrics — evaluations of the flag in that
    /// environment, `yes` counting as candidate and `no` as baseline — or this control plane's
    /// exposure counts of the cohort (candidate served vs fallthrough).
    #[serde(default, skip_serializing_if = "SampleSource::is_metric")]
    pub samples_from: SampleSource,
}

/// Where a guardrail's sample counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleSource {
    /// The same source as the values (pushed samples, the simulator, or the PromQL `samples`).
    #[default]
    Metric,
    /// Unleash client metrics: how often SDKs evaluated the flag to `yes` / `no` in the window.
    Unleash,
    /// This control plane's exposure counts: how often applications (OFREP) and the simulator
    /// were served the cohort's candidate / the fallthrough in the window.
    Exposure,
}

impl SampleSource {
    pub fn is_metric(&self) -> bool {
        *self == SampleSource::Metric
    }
}

/// PromQL templates of a Prometheus-backed guardrail. Templates may use `$flag`, `$env`,
/// `$cohort`, `$metric` and `$window` (e.g. `1m`); results are split by the `variation` label:
/// the cohort's serving variation is the candidate, the fallthrough the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromQl {
    /// The metric's value per variation (e.g. an error ratio or a `histogram_quantile`).
    pub value: String,
    /// Observations per variation over the window; below `min_samples` → insufficient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<String>,
    /// A query that is 1 while the scrape target is up (e.g. `up{job="checkout"}`); 0 or
    /// empty → "source down", never healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<String>,
}

fn default_warning_at() -> f64 {
    0.8
}
fn default_min_samples() -> u64 {
    100
}
fn default_window() -> u64 {
    60
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Threshold {
    /// Candidate may be at most `max_increase_pct` % above the baseline.
    Relative { max_increase_pct: f64 },
    /// Candidate must stay below `max`.
    Absolute { max: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailStatus {
    Healthy,
    Insufficient,
    Warning,
    Breached,
}

impl GuardrailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GuardrailStatus::Healthy => "healthy",
            GuardrailStatus::Insufficient => "insufficient",
            GuardrailStatus::Warning => "warning",
            GuardrailStatus::Breached => "breached",
        }
    }
    /// How bad, for "worst status" summaries.
    pub fn severity(self) -> u8 {
        match self {
            GuardrailStatus::Healthy => 0,
            GuardrailStatus::Insufficient => 1,
            GuardrailStatus::Warning => 2,
            GuardrailStatus::Breached => 3,
        }
    }
}

/// A metric value for people: `+Inf` for the huge stand-in of an infinite value, fewer
/// decimals for larger numbers, `n/a` for none.
pub fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(x) if x.is_nan() => "NaN".into(),
        Some(x) if x >= 1e15 => "+Inf".into(),
        Some(x) if x <= -1e15 => "-Inf".into(),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 1.0 => format!("{x:.2}"),
        Some(x) => format!("{x:.4}"),
    }
}

/// Most decimals [`fmt_apart`] adds to tell two different values apart.
const MAX_APART_DECIMALS: usize = 6;

/// Two metric values for one sentence ("218.4 vs limit 218"): as [`fmt_value`], but with
/// more decimals, up to [`MAX_APART_DECIMALS`], while different values would read the same — a
/// breach must never read "218 vs limit 218".
pub fn fmt_apart(a: Option<f64>, b: Option<f64>) -> (String, String) {
    let (fa, fb) = (fmt_value(a), fmt_value(b));
    let (Some(x), Some(y)) = (a, b) else {
        return (fa, fb);
    };
    if fa != fb || x == y || !x.is_finite() || !y.is_finite() || x.abs() >= 1e15 {
        return (fa, fb);
    }
    for d in 1..=MAX_APART_DECIMALS {
        let (sx, sy) = (format!("{x:.d$}"), format!("{y:.d$}"));
        if sx != sy {
            return (trim_decimals(&sx), trim_decimals(&sy));
        }
    }
    (format!("{x:e}"), format!("{y:e}"))
}

/// `218.40` → `218.4`, `218.00` → `218`: trailing zeros say nothing.
fn trim_decimals(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// A windowed aggregate: mean value over `samples` observations (None when no data).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct WindowStat {
    pub value: Option<f64>,
    pub samples: u64,
}

/// The outcome of judging one guardrail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    pub status: GuardrailStatus,
    /// The numeric limit the candidate was compared against.
    pub limit: Option<f64>,
}

impl GuardrailSpec {
    /// Judge candidate against baseline. Higher values are worse.
    pub fn judge(&self, candidate: WindowStat, baseline: WindowStat) -> Judgement {
        let limit = match self.threshold {
            Threshold::Absolute { max } => Some(max),
            Threshold::Relative { max_increase_pct } => baseline
                .value
                .filter(|b| b.is_finite())
                .map(|b| b * (1.0 + max_increase_pct / 100.0)),
        };
        let enough = candidate.samples >= self.min_samples
            && match self.threshold {
                Threshold::Relative { .. } => baseline.samples >= self.min_samples,
                Threshold::Absolute { .. } => true,
            };
        let (Some(value), Some(limit)) = (candidate.value.filter(|v| v.is_finite()), limit) else {
            return Judgement {
                status: GuardrailStatus::Insufficient,
                limit,
            };
        };
        if !enough {
            return Judgement {
                status: GuardrailStatus::Insufficient,
                limit: Some(limit),
            };
        }
        // Where the warning band starts: `warning_at` of the way from the baseline (or 0) to the limit.
        let floor = match self.threshold {
            Threshold::Relative { .. } => baseline.value.unwrap_or(0.0),
            Threshold::Absolute { .. } => 0.0,
        };
        let warn_from = floor + (limit - floor) * self.warning_at.clamp(0.0, 1.0);
        let status = if value > limit {
            GuardrailStatus::Breached
        } else if value > warn_from {
            GuardrailStatus::Warning
        } else {
            GuardrailStatus::Healthy
        };
        Judgement {
            status,
            limit: Some(limit),
        }
    }

    /// A short human description of the threshold, e.g. `≤ +20% vs baseline`.
    pub fn describe_threshold(&self) -> String {
        match self.threshold {
            Threshold::Relative { max_increase_pct } => {
                format!("<= +{max_increase_pct}% vs baseline")
            }
            Threshold::Absolute { max } => format!("< {max}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_apart_never_read_equal() {
        let (v, l) = fmt_apart(Some(218.4), Some(218.0));
        assert_eq!((v.as_str(), l.as_str()), ("218.4", "218"));
        let (v, l) = fmt_apart(Some(1.00004), Some(1.0));
        assert_ne!(v, l);
        assert_eq!(
            fmt_apart(Some(455.2), Some(372.0)),
            ("455".into(), "372".into())
        );
        assert_eq!(
            fmt_apart(Some(218.0), Some(218.0)),
            ("218".into(), "218".into())
        );
        assert_eq!(fmt_apart(None, Some(1.0)), ("n/a".into(), "1.00".into()));
    }

    fn spec(threshold: Threshold) -> GuardrailSpec {
        GuardrailSpec {
            metric: "p95".into(),
            cohort: "eu-west".into(),
            threshold,
            warning_at: 0.8,
            min_samples: 100,
            window_secs: 60,
            source: None,
            promql: None,
            samples_from: SampleSource::Metric,
        }
    }
    fn w(value: f64, samples: u64) -> WindowStat {
        WindowStat {
            value: Some(value),
            samples,
        }
    }

    #[test]
    fn relative_threshold_bands() {
        let s = spec(Threshold::Relative {
            max_increase_pct: 20.0,
        });
        assert_eq!(
            s.judge(w(100.0, 500), w(100.0, 500)).status,
            GuardrailStatus::Healthy
        );
        assert_eq!(
            s.judge(w(118.0, 500), w(100.0, 500)).status,
            GuardrailStatus::Warning
        );
        let j = s.judge(w(121.0, 500), w(100.0, 500));
        assert_eq!(j.status, GuardrailStatus::Breached);
        assert_eq!(j.limit, Some(120.0));
    }

    #[test]
    fn absolute_threshold() {
        let s = spec(Threshold::Absolute { max: 0.02 });
        assert_eq!(
            s.judge(w(0.01, 500), WindowStat::default()).status,
            GuardrailStatus::Healthy
        );
        assert_eq!(
            s.judge(w(0.03, 500), WindowStat::default()).status,
            GuardrailStatus::Breached
        );
    }

    #[test]
    fn too_few_samples_is_insufficient_never_healthy() {
        let s = spec(Threshold::Absolute { max: 0.02 });
        assert_eq!(
            s.judge(w(0.0, 99), WindowStat::default()).status,
            GuardrailStatus::Insufficient
        );
        // Even a breaching value with too few samples is insufficient, not breached.
        assert_eq!(
            s.judge(w(0.5, 10), WindowStat::default()).status,
            GuardrailStatus::Insufficient
        );
        let r = spec(Threshold::Relative {
            max_increase_pct: 20.0,
        });
        assert_eq!(
            r.judge(w(100.0, 500), w(100.0, 5)).status,
            GuardrailStatus::Insufficient
        );
        assert_eq!(
            r.judge(w(100.0, 500), WindowStat::default()).status,
            GuardrailStatus::Insufficient
        );
        assert_eq!(
            r.judge(w(f64::NAN, 500), w(1.0, 500)).status,
            GuardrailStatus::Insufficient
        );
    }
}
