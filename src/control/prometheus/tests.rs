//! Unit tests of `prometheus`.

use super::*;
use std::collections::BTreeMap;

fn series(labels: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
    Series {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        points: points.to_vec(),
    }
}

#[test]
fn split_by_variation_and_cohort_in_any_order() {
    let r = vec![
        series(&[("cohort", "us"), ("variation", "on")], &[(0, 9.0)]),
        series(&[("cohort", "eu"), ("variation", "off")], &[(0, 1.0)]),
        series(&[("cohort", "eu"), ("variation", "on")], &[(0, 2.0)]),
    ];
    assert_eq!(split(&r, "eu", "on", "off"), Ok((Some(2.0), Some(1.0))));
    assert_eq!(split(&r, "us", "on", "off"), Ok((Some(9.0), None)));
    assert_eq!(
        split(&[], "eu", "on", "off"),
        Ok((None, None)),
        "empty is no traffic, not an error"
    );
}

#[test]
fn split_refuses_ambiguous_or_unsplit_results() {
    let twice = vec![
        series(&[("variation", "on"), ("pod", "a")], &[(0, 1.0)]),
        series(&[("variation", "on"), ("pod", "b")], &[(0, 2.0)]),
    ];
    assert!(
        split(&twice, "eu", "on", "off").is_err_and(|e| e.contains("2 series for variation `on`"))
    );
    let unsplit = vec![series(&[], &[(0, 1.0)])];
    assert!(split(&unsplit, "eu", "on", "off").is_err_and(|e| e.contains("no `variation` label")));
}

#[test]
fn history_matches_points_by_timestamp() {
    // Steps at 0, 15 s, 30 s …; the 15 s step is missing, a stray point lies off the grid
    // range, and a NaN is dropped.
    let r = vec![
        series(&[("variation", "off")], &[(0, 100.0)]),
        series(
            &[("variation", "on")],
            &[
                (-15_000, 7.0),
                (0, 1.0),
                (30_001, 3.0),
                (45_000, f64::NAN),
                (60_000, 4.0),
            ],
        ),
    ];
    assert_eq!(history(&r, "eu", "on", 0, 15_000), vec![1.0, 3.0, 4.0]);
    let late = series(&[("variation", "on")], &[(15_000 * HISTORY_POINTS, 5.0)]);
    assert!(history(&[late], "eu", "on", 0, 15_000).is_empty());
}

#[test]
fn history_step_is_a_quarter_window() {
    assert_eq!(history_step(60), 15);
    assert_eq!(history_step(2), 1);
}

#[test]
fn parses_times() {
    assert_eq!(
        parse_time("1780000000").map(|t| t.timestamp()),
        Some(1_780_000_000)
    );
    assert_eq!(
        parse_time("2026-05-28T20:26:40Z").map(|t| t.timestamp()),
        Some(1_780_000_000)
    );
    assert_eq!(parse_time("yesterday"), None);
}
