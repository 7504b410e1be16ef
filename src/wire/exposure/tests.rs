//! Tests of reading exposure counts: sums per cohort, whether a rollback moved traffic, what was
//! served before it, thousands separators.

use super::*;
use chrono::TimeZone;

/// A time in window 30_000_000 (plus `secs`).
fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0)
        .single()
        .unwrap_or_default()
}

fn row(cohort: &str, exposed: bool, last: u64, this: u64, last_at: i64) -> ExposureCount {
    ExposureCount {
        flag: "f".into(),
        env: "production".into(),
        cohort: Some(cohort.into()),
        variation: if exposed { "on" } else { "off" }.into(),
        exposed,
        total: last + this,
        last_window: last,
        this_window: this,
        earlier_window: 0,
        last_at: Some(at(last_at)),
    }
}

#[test]
fn counts_are_summed_per_cohort_and_environment() {
    let rows = [
        row("eu-west", true, 1240, 100, 5),
        row("eu-west", false, 3000, 10, 5),
        row("us-east", true, 11_260, 0, 5),
    ];
    let s = served(&rows, "f", "production", Some("eu-west"));
    assert_eq!(
        (s.candidate_per_min, s.cohort_per_min, s.env_per_min),
        (1240, 3000 + 1240, 1240 + 3000 + 11_260)
    );
    assert_eq!(s.variation.as_deref(), Some("on"));
    assert_eq!(
        s.blast_radius("production"),
        "~1,240 evaluations/min, 8 % of production"
    );
    let none = served(&rows, "f", "production", Some("beta"));
    assert!(!none.evaluated);
    assert!(
        none.blast_radius("production")
            .starts_with("no evaluations")
    );
    let staging = served(&rows, "f", "staging", Some("eu-west"));
    assert_eq!(staging.env_per_min, 0);
}

#[test]
fn a_rollback_moved_traffic_when_only_the_fallthrough_was_served_since() {
    let since = at(20);
    // Counts taken in the same window as the change: `last_window` is what came before.
    let rows = [
        row("eu-west", true, 1240, 400, 19),
        row("eu-west", false, 3000, 900, 50),
    ];
    let m = served(&rows, "f", "production", Some("eu-west")).since(since, at(50));
    assert_eq!(m, Moved::Moved { was: Some(1240) });
    assert_eq!(m.now_per_min(), Some(0));
    assert_eq!(
        m.describe("eu-west", since),
        format!(
            "eu-west: candidate served 0/min since {}, was 1,240/min",
            since.format("%H:%M:%S")
        )
    );
    // A candidate evaluation after the change: still served.
    let rows = [
        row("eu-west", true, 1240, 400, 21),
        row("eu-west", false, 3000, 900, 50),
    ];
    let m = served(&rows, "f", "production", Some("eu-west")).since(since, at(50));
    assert_eq!(m.status(), "still served");
    // Nothing at all since: cannot tell.
    let rows = [
        row("eu-west", true, 1240, 400, 19),
        row("eu-west", false, 3000, 900, 19),
    ];
    let m = served(&rows, "f", "production", Some("eu-west")).since(since, at(50));
    assert_eq!(m.status(), "no evaluations");
    assert_eq!(m.now_per_min(), None);
}

#[test]
fn what_was_served_before_is_known_for_one_window_after() {
    let mut cand = row("eu-west", true, 7, 3, 19);
    cand.earlier_window = 1240;
    let s = served([&cand], "f", "production", Some("eu-west"));
    let since = at(20);
    // In the change's window: the last window before it, or what came before it in its own.
    assert_eq!(s.was(since, at(30)), Some(7));
    assert_eq!(s.was(since, at(90)), Some(1240));
    assert_eq!(s.was(since, at(150)), None);
    let first = row("eu-west", true, 0, 900, 19);
    let s = served([&first], "f", "production", Some("eu-west"));
    assert_eq!(s.was(since, at(30)), Some(900));
}

#[test]
fn counts_read_with_thousands_separators() {
    assert_eq!(fmt_count(0), "0");
    assert_eq!(fmt_count(999), "999");
    assert_eq!(fmt_count(1240), "1,240");
    assert_eq!(fmt_count(1_234_567), "1,234,567");
}
