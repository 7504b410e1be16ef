//! The Enter details overlay: a flag per environment (cohorts with selectors, ladder, guardrails
//! with a chart, recent audit with before → after), an audit entry's before → after and
//! evidence, scrolling with markers, Esc closing, long text bounded.

use super::super::dialog::Dialog;
use super::super::model::Pane;
use super::super::update::update;
use super::fixture::*;
use super::view::{render, text};
use crossterm::event::KeyCode;

fn scroll_of(m: &super::super::model::Model) -> usize {
    match &m.dialog {
        Some(Dialog::Details(d)) => d.scroll,
        other => panic!("expected details, got {other:?}"),
    }
}

#[test]
fn enter_on_a_flag_shows_each_environment_its_cohorts_ladder_guardrails_and_audit() {
    let mut m = on_eu_west();
    m.focus = Pane::Flags;
    update(&mut m, code(KeyCode::Enter));
    let screen = text(&render(&m, 160, 48));
    for want in [
        "flag checkout-v2",
        "production (on screen) · protected",
        "staging",
        "eu-west",
        "selector: ",
        "everyone else → ",
        "ladder ",
        "p95_latency_ms / eu-west: 455 vs baseline 310 (limit 372",
        "✗ BREACHED",
        "recent audit of this flag",
        "#7 ",
        "percent: 10 → 25",
    ] {
        assert!(screen.contains(want), "missing {want:?} in\n{screen}");
    }
    // The chart: braille dots, the candidate over the baseline and the limit.
    assert!(
        screen
            .chars()
            .any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "no chart in\n{screen}"
    );
    assert!(
        screen.contains("candidate") && screen.contains("baseline now"),
        "{screen}"
    );
    update(&mut m, code(KeyCode::Esc));
    assert!(m.dialog.is_none());
}

#[test]
fn the_details_scroll_with_markers_and_other_keys_do_nothing() {
    let mut m = on_eu_west();
    m.focus = Pane::Flags;
    update(&mut m, code(KeyCode::Enter));
    let first = text(&render(&m, 80, 24));
    assert!(first.contains("more "), "no ↓ marker at 80×24:\n{first}");
    assert!(first.contains("↓ "), "{first}");
    assert!(!first.contains("↑ "), "{first}");
    for _ in 0..5 {
        update(&mut m, key('j'));
    }
    assert_eq!(scroll_of(&m), 5);
    let moved = text(&render(&m, 80, 24));
    assert!(moved.contains("↑ 5 more"), "{moved}");
    // `r` inside the overlay is not a rollback: nothing opens, nothing is sent.
    let step = update(&mut m, key('r'));
    assert!(matches!(m.dialog, Some(Dialog::Details(_))));
    assert!(format!("{step:?}").contains("[]"), "{step:?}");
    update(&mut m, key('G'));
    let end = text(&render(&m, 80, 24));
    assert!(!end.contains("↓ "), "{end}");
    update(&mut m, key('g'));
    assert_eq!(scroll_of(&m), 0);
    update(&mut m, key('q'));
    assert!(m.dialog.is_none());
}

#[test]
fn enter_on_an_audit_entry_shows_before_after_and_evidence() {
    let mut m = model();
    m.focus = Pane::Activity;
    if let Some(e) = m.data.audit.first_mut() {
        e.evidence.push(crate::domain::approval::Evidence {
            metric: "p95_latency_ms".into(),
            cohort: "us-east".into(),
            candidate: Some(318.0),
            baseline: Some(310.0),
            threshold: Some(372.0),
            samples: 1800,
            window_secs: 30,
            status: Some("healthy".into()),
            cohort_value: None,
        });
    }
    update(&mut m, code(KeyCode::Enter));
    let screen = text(&render(&m, 120, 30));
    for want in [
        "audit #7",
        "applied by bob",
        "action:  ",
        "reverse: ",
        "reason:  widen us-east",
        "before → after",
        "percent: 10 → 25",
        "evidence when it was recorded",
        "p95_latency_ms / us-east: 318 vs baseline 310 (limit 372) n=1800 over 30s · healthy",
    ] {
        assert!(screen.contains(want), "missing {want:?} in\n{screen}");
    }
    update(&mut m, code(KeyCode::Esc));
    assert!(m.dialog.is_none());
}

#[test]
fn long_backend_text_stays_inside_the_overlay() {
    let mut m = on_eu_west();
    m.focus = Pane::Flags;
    if let Some(f) = m
        .data
        .state
        .flags
        .get_mut(&crate::domain::FlagKey::from("checkout-v2"))
    {
        std::sync::Arc::make_mut(f).description = "x".repeat(5000);
    }
    update(&mut m, code(KeyCode::Enter));
    let b = render(&m, 80, 24);
    let screen = text(&b);
    // Cut with `…` inside the frame: the right border is still there on the description row.
    let row = screen
        .lines()
        .find(|l| l.contains("xxxx"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains('…') && row.trim_end().ends_with('│'), "{row}");
}

#[test]
fn the_details_and_their_chart_stay_ascii_in_ascii_mode() {
    let mut m = on_eu_west();
    m.focus = Pane::Flags;
    update(&mut m, code(KeyCode::Enter));
    let mut t = crate::config::theme::builtin("mono");
    t.ascii = true;
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).unwrap();
    term.draw(|f| super::super::view::draw(f, &m, &t)).unwrap();
    let s = text(term.backend().buffer());
    assert!(s.is_ascii(), "{s}");
    assert!(s.contains("candidate") && s.contains('*'), "{s}");
}

#[test]
fn details_stop_at_max_rows_and_say_how_many_more() {
    use crate::tui::details::{Details, MAX_ROWS, Row, Target, content};
    let m = model();
    let d = Details {
        target: Target::Text {
            title: "t".into(),
            lines: (0..MAX_ROWS + 50).map(|i| format!("line {i}")).collect(),
        },
        scroll: 0,
    };
    let rows = content(&m, &d).1;
    assert_eq!(rows.len(), MAX_ROWS + 1);
    assert_eq!(
        rows.last(),
        Some(&Row::Muted("… 50 more rows not shown".into()))
    );
    let at_edge = Details {
        target: Target::Text {
            title: "t".into(),
            lines: (0..MAX_ROWS).map(|i| format!("line {i}")).collect(),
        },
        scroll: 0,
    };
    assert_eq!(content(&m, &at_edge).1.len(), MAX_ROWS);
}
