//! Shaping a Prometheus answer for one guardrail: the candidate's and baseline's values of a
//! cohort (split by the `variation` label) and the candidate's sparkline on the step grid.

use super::{HISTORY_POINTS, Series};

/// Series of `cohort` (those without a `cohort` label count too) for `variation`.
fn of<'s>(
    series: &'s [Series],
    cohort: &'s str,
    variation: &'s str,
) -> impl Iterator<Item = &'s Series> + 's {
    series
        .iter()
        .filter(move |s| s.label("cohort").is_none_or(|c| c == cohort))
        .filter(move |s| s.label("variation") == Some(variation))
}

/// The raw candidate and baseline values of a result split by `variation`.
pub fn split(
    series: &[Series],
    cohort: &str,
    candidate: &str,
    baseline: &str,
) -> Result<(Option<f64>, Option<f64>), String> {
    let mine: Vec<&Series> = series
        .iter()
        .filter(|s| s.label("cohort").is_none_or(|c| c == cohort))
        .collect();
    if !mine.is_empty() && mine.iter().all(|s| s.label("variation").is_none()) {
        return Err("prometheus: the result has no `variation` label; split the query with `sum by (cohort, variation)`".into());
    }
    let pick = |variation: &str| -> Result<Option<f64>, String> {
        let found: Vec<&Series> = of(series, cohort, variation).collect();
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(one.last()),
            many => Err(format!(
                "prometheus: {} series for variation `{}` of cohort `{}`; aggregate with `sum by (cohort, variation)`",
                many.len(),
                crate::sanitize::clean(variation, 40),
                crate::sanitize::clean(cohort, 40)
            )),
        }
    };
    Ok((pick(candidate)?, pick(baseline)?))
}

/// The candidate's sparkline from a range result: points placed on the step grid by their
/// timestamps (steps Prometheus left out stay out), oldest first, finite values only.
pub fn history(
    series: &[Series],
    cohort: &str,
    candidate: &str,
    start_ms: i64,
    step_ms: i64,
) -> Vec<f64> {
    let mut slots: Vec<Option<f64>> = vec![None; HISTORY_POINTS as usize];
    let step = step_ms.max(1);
    for s in of(series, cohort, candidate).take(1) {
        for &(ts, v) in &s.points {
            let k = (ts - start_ms + step / 2).div_euclid(step);
            if let Some(slot) = usize::try_from(k).ok().and_then(|k| slots.get_mut(k)) {
                *slot = Some(v);
            }
        }
    }
    slots
        .into_iter()
        .flatten()
        .filter(|v| v.is_finite())
        .collect()
}

/// The step of the sparkline for a window: a quarter of it (at least 1 s).
pub fn history_step(window_secs: u64) -> u64 {
    (window_secs / 4).max(1)
}
