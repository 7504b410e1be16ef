//! Render tests with ratatui's TestBackend at 80×24 and 160×48 on the demo scenario: visible
//! text, styles of breached and stale rows, and that hostile strings reach the buffer inert.

use super::super::effect::Event;
use super::super::model::{Model, Pane};
use super::super::update::update;
use super::super::view;
use super::fixture::*;
use crate::client::stream::StreamEvent;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

pub(super) fn render(m: &Model, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let theme = crate::config::theme::builtin("dark");
    term.draw(|f| view::draw(f, m, &theme)).unwrap();
    term.backend().buffer().clone()
}

pub(super) fn text(b: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            s.push_str(b[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// Cells (x, y) where `needle` starts on a row.
pub(super) fn find(b: &Buffer, needle: &str) -> Vec<(u16, u16)> {
    let mut hits = Vec::new();
    for y in 0..b.area.height {
        let row: Vec<String> = (0..b.area.width)
            .map(|x| b[(x, y)].symbol().to_string())
            .collect();
        let first = needle.chars().next().unwrap().to_string();
        for x in 0..row.len() {
            if row[x] == first {
                let rest: String = row[x..].concat();
                if rest.starts_with(needle) {
                    hits.push((x as u16, y));
                }
            }
        }
    }
    hits
}

pub(super) fn assert_style(b: &Buffer, at: (u16, u16), len: u16, want: ratatui::style::Style) {
    for dx in 0..len {
        let c = &b[(at.0 + dx, at.1)];
        assert_eq!(
            Some(c.fg),
            want.fg.or(Some(ratatui::style::Color::Reset)),
            "fg at {:?}+{dx}",
            at
        );
        assert!(
            c.modifier.contains(want.add_modifier),
            "modifier at {:?}+{dx}: {:?}",
            at,
            c.modifier
        );
    }
}

#[test]
fn full_screen_160x48_shows_every_pane_and_the_breach() {
    let mut m = on_eu_west();
    m.focus = Pane::Flags;
    let b = render(&m, 160, 48);
    let s = text(&b);
    for want in [
        "flagtop",
        "production",
        "(protected)",
        "alice (approver)",
        "● live",
        " Flags ",
        " Ladder ",
        " Guardrails ",
        " Approvals ",
        " Activity ",
        "checkout-v2",
        "support-answer-profile",
        "[25%]",
        "eu-west",
        "p95_latency_ms",
        "✗ BREACHED",
        "ops-assistant (agent)",
        "#7",
        "↩ set-percent",
        "r rollback (the breached cohort)",
        "? help",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    let t = crate::config::theme::builtin("dark");
    let hits = find(&b, "✗ BREACHED");
    assert_eq!(hits.len(), 1, "{s}");
    assert_style(&b, hits[0], 10, t.breached);
    // The whole breached row carries the style, not just the word: the metric cell too.
    let metric = find(&b, "p95_latency_ms")
        .into_iter()
        .find(|p| p.1 == hits[0].1)
        .unwrap();
    assert_style(&b, metric, 14, t.breached);
    // The healthy row is not red (its status sits in the same column as the breached one).
    let healthy = find(&b, "healthy")
        .into_iter()
        .find(|p| p.0 == hits[0].0)
        .unwrap();
    assert_style(&b, healthy, 7, t.healthy);
}

#[test]
fn small_screen_80x24_stacks_flags_over_the_focused_pane() {
    let mut m = on_eu_west();
    let b = render(&m, 80, 24);
    let s = text(&b);
    for want in [
        "Flags",
        "checkout-v2",
        "✗ BREACH",
        "Ladder",
        "▶ eu-west",
        "25%",
        "● live",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    m.focus = Pane::Guardrails;
    let b = render(&m, 80, 24);
    let s = text(&b);
    assert!(s.contains("Guardrails") && s.contains("✗ BREACHED"), "{s}");
    let hits = find(&b, "✗ BREACHED");
    assert_style(
        &b,
        hits[0],
        10,
        crate::config::theme::builtin("dark").breached,
    );
    for p in [Pane::Approvals, Pane::Activity] {
        m.focus = p;
        let s = text(&render(&m, 80, 24));
        assert!(s.contains(p.title()), "{s}");
    }
}

#[test]
fn confirm_dialog_shows_change_blast_reverse_and_reason() {
    let mut m = on_eu_west();
    update(&mut m, key('r'));
    let s = text(&render(&m, 80, 24));
    for want in [
        "confirm",
        "rollback checkout-v2/eu-west in production",
        "25% exposed → rolled back",
        "blast:",
        "reverse: restore checkout-v2/eu-west",
        "rollback eu-west: p95_latency_ms breach",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    let mut m = on_eu_west();
    update(&mut m, key('K'));
    let s = text(&render(&m, 160, 48));
    assert!(
        s.contains("type `checkout-v2` to confirm") && s.contains("EVERY user in production"),
        "{s}"
    );
}

#[test]
fn stale_view_says_so_and_greys_panes() {
    let mut m = on_eu_west();
    m.focus = Pane::Flags;
    let down = StreamEvent::Disconnected {
        reason: "gone".into(),
        retry_in: std::time::Duration::from_secs(1),
    };
    update(&mut m, Event::Stream(down));
    update(&mut m, Event::Tick(t0() + chrono::Duration::seconds(12)));
    let b = render(&m, 160, 48);
    let s = text(&b);
    assert!(s.contains("reconnecting (stale 12s)"), "{s}");
    assert!(s.contains("data 12s old"), "{s}");
    let t = crate::config::theme::builtin("dark");
    let hits = find(&b, "✗ BREACHED");
    assert_style(&b, hits[0], 10, t.stale);
    let flag = find(&b, "support-answer-profile")[0];
    assert_style(&b, flag, 5, t.stale);
}

#[test]
fn hostile_strings_reach_the_buffer_inert() {
    let evil = "\x1b[2J\x1b]0;x\x07";
    let mut snap = snapshot();
    for f in &mut snap.flags {
        let f = std::sync::Arc::make_mut(f);
        if f.key.as_str() == "checkout-v2" {
            f.description = format!("desc {evil}");
            f.owner = evil.into();
            let prod = f.environments.get_mut("production").unwrap();
            prod.cohorts[0].name = format!("c{evil}").as_str().into();
            if let Some(l) = prod.ladder.as_mut() {
                l.pause_note = Some(evil.into());
                l.stages[0].name = evil.into();
            }
        }
    }
    snap.guardrails[0].metric = evil.into();
    snap.approvals[0].reason = evil.into();
    snap.audit[0].reason = evil.into();
    snap.identity.name = evil.into();
    let mut m = Model::new(
        crate::client::Clean::new(snap),
        &format!("be{evil}"),
        None,
        crate::config::keymap::builtin_default(),
        t0(),
    );
    update(
        &mut m,
        Event::Stream(StreamEvent::Connected {
            revision: STATE_REV,
        }),
    );
    select_flag(&mut m, "checkout-v2");
    let mut screens = vec![render(&m, 160, 48), render(&m, 80, 24)];
    m.focus = Pane::Ladder;
    update(
        &mut m,
        crate::tui::tests::fixture::code(crossterm::event::KeyCode::Enter),
    );
    screens.push(render(&m, 160, 48));
    for b in &screens {
        let s = text(b);
        assert!(
            s.contains('␛'),
            "escape should show as a visible placeholder:\n{s}"
        );
        for ch in s.chars() {
            let c = u32::from(ch);
            assert!(
                ch == '\n' || !(c < 0x20 || (0x7f..=0x9f).contains(&c)),
                "control char {c:#x} in buffer:\n{s}"
            );
        }
    }
}

#[test]
fn ten_thousand_flags_render_only_the_window() {
    let mut m = on_eu_west();
    let proto = m.data.state.flags.values().next().unwrap().as_ref().clone();
    for i in 0..10_000 {
        let mut f = proto.clone();
        f.key = format!("bulk-{i:05}").as_str().into();
        m.data.state.flags.insert(f.key.clone(), f.into());
    }
    m.refilter();
    m.focus = Pane::Flags;
    flag_row(&mut m, 9_000);
    let start = std::time::Instant::now();
    let s = text(&render(&m, 160, 48));
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
    assert!(s.contains(m.selected_flag_key().unwrap().as_str()), "{s}");
}

#[test]
fn after_rollback_rows_show_the_cohort_value_and_source_errors_show_as_text() {
    let mut m = on_eu_west();
    m.focus = Pane::Guardrails;
    for r in m
        .data
        .guardrails
        .iter_mut()
        .filter(|r| r.cohort.as_str() == "eu-west")
    {
        r.value = None;
        r.samples = 0;
        r.status = crate::domain::GuardrailStatus::Insufficient;
        r.cohort_value = Some(311.0);
    }
    if let Some(r) = m
        .data
        .guardrails
        .iter_mut()
        .find(|r| r.cohort.as_str() == "us-east")
    {
        r.status = crate::domain::GuardrailStatus::Insufficient;
        r.source_error = Some("prometheus: bad_data: parse error at char 5".into());
    }
    m.reindex_worst();
    let b = render(&m, 160, 48);
    let s = text(&b);
    for want in [
        "cohort 311 vs 310",
        "no traffic",
        "⚠ source",
        "prometheus: bad_data: parse error",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    assert!(!s.contains("✗ BREACHED"), "{s}");
}

#[test]
fn ladder_says_when_and_how_the_next_step_comes() {
    let m = on_eu_west();
    let s = text(&render(&m, 160, 48));
    assert!(s.contains("next: 50%"), "{s}");
    assert!(
        s.contains("then asks for approval") || s.contains("paused; resume"),
        "{s}"
    );
}

#[test]
fn header_shows_the_external_store_sync_and_propagation_bound() {
    let mut m = on_eu_west();
    m.data.flag_store = "unleash".into();
    m.data.propagation_secs = Some(15);
    m.data.store = crate::wire::StoreStatus {
        synced_at: Some(m.now),
        error: None,
    };
    let s = text(&render(&m, 200, 30));
    assert!(s.contains("unleash in sync, apps see changes ≤15s"), "{s}");
    m.data.store.synced_at = Some(m.now - chrono::Duration::seconds(300));
    let s = text(&render(&m, 200, 30));
    assert!(s.contains("unleash synced 5m ago"), "{s}");
    m.data.store.error = Some("Unleash is unreachable or failed: connection refused".into());
    let s = text(&render(&m, 200, 30));
    assert!(
        s.contains("unleash sync failing: Unleash is unreachable"),
        "{s}"
    );
}

#[test]
fn the_clock_redraw_comes_exactly_when_a_time_on_screen_changes() {
    // Ladder time at stage, the countdown to its next step, approval ages and expiries: nothing
    // on screen changes before the instant `next_clock_change` names, and something does at it.
    let mut m = on_eu_west();
    for _ in 0..8 {
        let before = text(&render(&m, 160, 48));
        let Some(due) = view::next_clock_change(&m) else {
            panic!("the demo shows times")
        };
        assert!(due > m.now, "{due} after {}", m.now);
        m.now = due - chrono::Duration::milliseconds(1);
        assert_eq!(text(&render(&m, 160, 48)), before, "changed before {due}");
        m.now = due;
        assert_ne!(
            text(&render(&m, 160, 48)),
            before,
            "nothing changed at {due}"
        );
    }
}
