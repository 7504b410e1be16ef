//! Layout render tests at 80×24 and 120×30 on the incident: every pane marks the rows it cannot
//! show (Ladder, Guardrails, Activity), the selected breached cohort stays in view when lines
//! wrap, guardrail values, limits and statuses are never cut, the header's banner stays whole
//! (shortened, not clipped), an approval's summary ends in `…` when cut, the header says
//! `simulated traffic` whenever the control plane says its simulator makes it up. Tests only.

use super::super::model::{Model, Pane};
use super::fixture::*;
use super::view::{render, text};
use crate::domain::GuardrailStatus;

fn incident() -> Model {
    crate::screenshot::fixture::incident("demo").unwrap()
}

/// The line of `s` holding `what` (the test fails when none does).
fn line_with<'a>(s: &'a str, what: &str) -> &'a str {
    s.lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what:?} in\n{s}"))
}

#[test]
fn the_ladder_keeps_the_breached_cohort_in_view_and_counts_the_rest() {
    let m = incident();
    let s = text(&render(&m, 120, 30));
    // The pause note wraps onto a second line: the selected eu-west row is still drawn.
    assert!(s.contains("▶ eu-west"), "{s}");
    assert!(
        line_with(&s, "Ladder checkout-v2").contains("↓1 more"),
        "{s}"
    );
}

#[test]
fn guardrails_and_activity_mark_their_hidden_rows() {
    let mut m = incident();
    for i in 0..12 {
        let mut r = reading(
            &format!("cohort-{i:02}"),
            "p95_latency_ms",
            GuardrailStatus::Healthy,
            300.0,
        );
        r.history = vec![300.0, 301.0];
        m.data.guardrails.push(r);
    }
    m.focus = Pane::Guardrails;
    let s = text(&render(&m, 80, 24));
    let title = line_with(&s, "Guardrails");
    assert!(title.contains("↓") && title.contains("more"), "{s}");

    let Some(first) = m.data.audit.first().cloned() else {
        panic!("fixture audit")
    };
    for i in 0..30 {
        let mut e = first.clone();
        e.id = crate::domain::AuditId(100 + i);
        m.data.audit.insert(0, e);
    }
    m.focus = Pane::Activity;
    let s = text(&render(&m, 80, 24));
    let title = line_with(&s, "Activity");
    assert!(title.contains("↓") && title.contains("more"), "{s}");
}

#[test]
fn guardrail_values_limits_and_statuses_are_never_cut() {
    for (w, h) in [(80, 24), (120, 30)] {
        let mut m = incident();
        m.focus = Pane::Guardrails;
        let s = text(&render(&m, w, h));
        for want in [
            "0.0310 vs 0.0110",
            "≤0.0200",
            "455 vs 310",
            "≤372",
            "✗ BREACHED",
            "healthy",
        ] {
            assert!(s.contains(want), "{w}×{h}: {want:?} cut in\n{s}");
        }
    }
}

#[test]
fn the_banner_is_shortened_not_clipped_at_80_columns() {
    let m = incident();
    let s = text(&render(&m, 80, 24));
    let header = s.lines().next().unwrap_or_default();
    assert!(
        header.contains("✗ checkout-v2/eu-west error_rate (+1) — ! to jump"),
        "{header}"
    );
    // With room, the values are there.
    let s = text(&render(&m, 160, 48));
    assert!(
        s.lines()
            .next()
            .unwrap_or_default()
            .contains("error_rate 0.0310 vs ≤0.0200 (+1) — ! to jump"),
        "{s}"
    );
}

#[test]
fn an_approvals_summary_ends_in_an_ellipsis_when_cut() {
    let m = incident();
    let s = text(&render(&m, 120, 30));
    let row = line_with(&s, "by ops-assistant");
    assert!(row.contains('…'), "{row}");
}

#[test]
fn no_guardrails_is_said_in_full() {
    let mut m = incident();
    select_flag(&mut m, "legacy-billing-killswitch");
    m.focus = Pane::Guardrails;
    for (w, h) in [(80, 24), (120, 30)] {
        let s = text(&render(&m, w, h));
        assert!(
            s.contains("no guardrails for this flag here"),
            "{w}×{h}:\n{s}"
        );
    }
}

#[test]
fn the_header_says_simulated_traffic_over_a_backend_whose_plane_simulates() {
    // The fixture's snapshot says its plane simulates (as `flagtop serve` does by default).
    let mut m = model();
    assert!(m.data.simulated);
    let s = text(&render(&m, 200, 30));
    let header = line_with(&s, "rev ");
    assert_eq!(header.matches("simulated traffic").count(), 1, "{header}");
    assert!(header.contains("demo · simulated traffic"), "{header}");
    m.data.backend_label = "https://flagtop.example:7878".into();
    let s = text(&render(&m, 200, 30));
    let header = line_with(&s, "rev ");
    assert!(
        header.contains("https://flagtop.example:7878 · simulated traffic"),
        "{header}"
    );
    // A plane without the simulator: the address alone.
    m.data.simulated = false;
    let s = text(&render(&m, 200, 30));
    let header = line_with(&s, "rev ");
    assert!(header.contains("https://flagtop.example:7878"), "{header}");
    assert!(!header.contains("simulated"), "{header}");
}
