//! Render tests of the incident and the layout at 80×24, 120×30 and 160×48: the header banner
//! and the Ladder's breached row in the breached style, full flag names where they fit and `…`
//! where they are cut, the chooser, the selected prefilled reason, approvals' states and the
//! scroll marker. Tests only.

use super::super::model::Pane;
use super::super::update::update;
use super::fixture::*;
use super::view::{assert_style, find, render, text};
use crossterm::event::KeyCode;

#[test]
fn the_header_announces_the_breach_in_the_breached_style_at_every_size() {
    let t = crate::config::theme::builtin("dark");
    for (w, h) in [(80, 24), (120, 30), (160, 48)] {
        let m = model();
        let b = render(&m, w, h);
        let s = text(&b);
        let want = "✗ checkout-v2/eu-west p95 455 vs ≤372 — ! to jump";
        let hits: Vec<_> = find(&b, want).into_iter().filter(|p| p.1 == 0).collect();
        assert_eq!(
            hits.len(),
            1,
            "{w}×{h}: the banner is whole on the header line:\n{s}"
        );
        assert_style(&b, hits[0], 10, t.breached);
        assert!(
            s.lines().next().unwrap().contains("● live"),
            "{w}×{h}: the connection state stays"
        );
    }
}

#[test]
fn the_ladder_marks_the_breached_cohort_row() {
    let t = crate::config::theme::builtin("dark");
    let m = on_eu_west();
    let b = render(&m, 160, 48);
    let s = text(&b);
    let hits = find(&b, "✗ breached — r rolls it back");
    assert_eq!(hits.len(), 1, "only eu-west is marked:\n{s}");
    let row = find(&b, "▶ eu-west");
    assert_eq!(row[0].1, hits[0].1, "on eu-west's row");
    assert_style(&b, hits[0], 10, t.breached);
    // The healthy cohort carries no mark.
    let us = find(&b, "us-east")
        .into_iter()
        .find(|p| p.0 == row[0].0 + 2)
        .unwrap();
    assert!(!find(&b, "✗ breached").iter().any(|p| p.1 == us.1), "{s}");
}

#[test]
fn flag_names_are_whole_where_they_fit_and_end_in_an_ellipsis_where_cut() {
    for (w, h) in [(80, 24), (120, 30), (160, 48)] {
        let mut m = model();
        m.focus = Pane::Flags;
        let s = text(&render(&m, w, h));
        for name in [
            "assistant-pr-creation",
            "support-answer-profile",
            "legacy-billing-killswitch",
            "search-ranking-v3",
            "checkout-v2",
        ] {
            assert!(s.contains(name), "{w}×{h}: {name} is cut:\n{s}");
        }
    }
    // A name longer than the pane can give: cut with `…`, never mid-air.
    let mut snap = snapshot();
    let long = "a-very-long-flag-name-that-goes-on-and-on-past-any-column-width-x";
    let mut f = snap.flags[0].clone();
    std::sync::Arc::make_mut(&mut f).key = long.into();
    snap.flags.push(f);
    let mut m = super::super::model::Model::new(
        crate::client::Clean::new(snap),
        "x",
        None,
        crate::config::keymap::builtin_default(),
        t0(),
    );
    update(
        &mut m,
        super::super::effect::Event::Stream(crate::client::stream::StreamEvent::Connected {
            revision: STATE_REV,
        }),
    );
    let s = text(&render(&m, 80, 24));
    assert!(!s.contains(long), "{s}");
    assert!(
        s.contains("a-very-long-flag-name")
            && s.lines()
                .any(|l| l.contains("a-very-long") && l.contains('…')),
        "{s}"
    );
}

#[test]
fn the_chooser_and_a_selected_prefilled_reason_are_drawn() {
    let t = crate::config::theme::builtin("dark");
    let mut m = model();
    select_flag(&mut m, "checkout-v2");
    let mut r = reading(
        "us-east",
        "p95_latency_ms",
        crate::domain::GuardrailStatus::Breached,
        500.0,
    );
    r.history.clear();
    update(
        &mut m,
        super::super::effect::Event::Stream(crate::client::stream::StreamEvent::Guardrails(
            crate::client::Clean::new(crate::wire::GuardrailUpdate {
                exposure: Vec::new(),
                at: t0(),
                readings: vec![r],
            }),
        )),
    );
    update(&mut m, key('r'));
    let b = render(&m, 80, 24);
    let s = text(&b);
    for want in [
        "rollback: which cohort?",
        "2 cohorts of checkout-v2 breached",
        "▶ 1. us-east",
        "2. eu-west",
        "Enter: review",
    ] {
        assert!(s.contains(want), "missing {want:?}:\n{s}");
    }
    assert_style(&b, find(&b, "▶ 1. us-east")[0], 10, t.selection);
    update(&mut m, code(KeyCode::Enter));
    let b = render(&m, 80, 24);
    let s = text(&b);
    assert!(s.contains("typing replaces it"), "{s}");
    let at = find(&b, "rollback us-east: p95_latency_ms breach")[0];
    assert_style(&b, at, 10, t.selection);
    // Typed over, it is plain text again.
    type_str(&mut m, "pager");
    let b = render(&m, 80, 24);
    let at = find(&b, "> pager")[0];
    assert!(
        !b[(at.0 + 2, at.1)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
            || t.selection.add_modifier.is_empty()
    );
    assert!(!text(&b).contains("typing replaces it"));
}

#[test]
fn approvals_show_outdated_and_a_scroll_marker() {
    let t = crate::config::theme::builtin("dark");
    let mut m = model();
    let mut extra = Vec::new();
    for i in 0..8 {
        let mut a = m.data.approvals[0].clone();
        a.id = format!("apr-x{i}").as_str().into();
        a.created_at = t0() - chrono::Duration::seconds(i);
        extra.push(a);
    }
    let flag = m.data.approvals[0].action.flag().unwrap().clone();
    let mut f = (**m.data.state.flags.get(&flag).unwrap()).clone();
    f.revision = crate::domain::Revision(50);
    let c = crate::wire::Change {
        revision: crate::domain::Revision(50),
        at: t0(),
        flags: vec![f.into()],
        frozen: None,
        approvals: extra,
        audit: vec![],
    };
    update(
        &mut m,
        super::super::effect::Event::Stream(crate::client::stream::StreamEvent::Change(Box::new(
            crate::client::Clean::new(c),
        ))),
    );
    m.focus = Pane::Approvals;
    let b = render(&m, 160, 48);
    let s = text(&b);
    assert!(
        s.contains("outdated") && s.contains("(revision 40 → 50)"),
        "{s}"
    );
    assert!(
        s.contains("↓") && s.contains("more"),
        "a scroll marker for the hidden requests:\n{s}"
    );
    assert_style(&b, find(&b, "outdated")[0], 8, t.danger);
}

#[test]
fn help_groups_keys_by_danger_tier_with_the_kill_switch_last() {
    let t = crate::config::theme::builtin("dark");
    let mut m = model();
    update(&mut m, key('?'));
    let b = render(&m, 160, 48);
    let s = text(&b);
    let at = |w: &str| s.find(w).unwrap_or_else(|| panic!("missing {w:?}:\n{s}"));
    assert!(
        at("look and move:") < at("reduce (applied after a confirm):"),
        "{s}"
    );
    // Pause and freeze are `hold` in docs/policy.md, not `reduce`: their own group.
    let hold = at("hold (stops automatic steps; undone by the same key):");
    let reduce = at("reduce (applied after a confirm):");
    assert!(hold < reduce, "{s}");
    for k in ["pause/resume ladder", "freeze/unfreeze env"] {
        assert!(at(k) > hold && at(k) < reduce, "{k} under hold:\n{s}");
    }
    assert!(
        at("reduce (applied after a confirm):") < at("global (typed confirmation):"),
        "{s}"
    );
    assert!(
        at("global (typed confirmation):") < at("kill switch (typed)"),
        "{s}"
    );
    assert_style(&b, find(&b, "global (typed confirmation):")[0], 6, t.danger);
}
