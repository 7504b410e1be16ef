//! Unit tests of the incident keys through `update`: `r` targets the breached cohort from any
//! pane (several → a chooser, none → a chooser, never silently the first), `!` jumps to the worst
//! breach so `!` `r` Enter rolls it back, and what the header banner says. Tests only.

use super::super::confirm::Intent;
use super::super::dialog::Dialog;
use super::super::effect::Event;
use super::super::model::{Model, Pane};
use super::super::update::update;
use super::fixture::*;
use crate::client::Clean;
use crate::client::stream::StreamEvent;
use crate::domain::{Action, GuardrailStatus, Revision};
use crate::wire::{Change, GuardrailUpdate};
use crossterm::event::KeyCode;

pub(super) fn rollback(cohort: &str) -> Action {
    Action::Rollback {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: cohort.into(),
    }
}

fn readings(m: &mut Model, rs: Vec<crate::wire::GuardrailReading>) {
    update(
        m,
        Event::Stream(StreamEvent::Guardrails(Clean::new(GuardrailUpdate {
            exposure: Vec::new(),
            at: t0(),
            readings: rs,
        }))),
    );
}

fn choices(m: &Model) -> Vec<String> {
    match &m.dialog {
        Some(Dialog::Choose(ch)) => ch.options.iter().map(|c| c.to_string()).collect(),
        other => panic!("expected the cohort chooser, got {other:?}"),
    }
}

#[test]
fn r_on_the_breached_flag_in_the_flags_pane_offers_the_breached_cohort() {
    let mut m = model();
    select_flag(&mut m, "checkout-v2");
    assert_eq!(m.focus, Pane::Flags);
    assert_eq!(
        m.selected_cohort().map(|c| c.name.as_str()),
        Some("internal"),
        "the Ladder cursor sits on the first cohort"
    );
    update(&mut m, key('r'));
    let c = confirm_of(&m);
    assert_eq!(
        c.intent,
        Intent::Act(rollback("eu-west")),
        "the breached cohort, not the first one"
    );
    assert!(
        c.reason.value().contains("eu-west") && c.reason.value().contains("p95_latency_ms breach"),
        "{}",
        c.reason.value()
    );
}

#[test]
fn r_targets_the_breach_from_every_pane() {
    for pane in [
        Pane::Flags,
        Pane::Guardrails,
        Pane::Approvals,
        Pane::Activity,
    ] {
        let mut m = model();
        select_flag(&mut m, "checkout-v2");
        m.focus = pane;
        update(&mut m, key('r'));
        assert_eq!(
            confirm_of(&m).intent,
            Intent::Act(rollback("eu-west")),
            "from {pane:?}"
        );
    }
    // In the Ladder pane on a healthy cohort while another is breached: still the breach.
    let mut m = on_eu_west();
    m.select_cohort("internal");
    update(&mut m, key('r'));
    assert_eq!(confirm_of(&m).intent, Intent::Act(rollback("eu-west")));
}

#[test]
fn several_breaches_open_a_chooser_that_lists_them_worst_first() {
    let mut m = model();
    select_flag(&mut m, "checkout-v2");
    readings(
        &mut m,
        vec![reading(
            "us-east",
            "p95_latency_ms",
            GuardrailStatus::Breached,
            500.0,
        )],
    );
    update(&mut m, key('r'));
    assert_eq!(
        choices(&m),
        ["us-east", "eu-west"],
        "us-east is further past its limit (500 vs 455)"
    );
    update(&mut m, key('j'));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    assert!(
        fx.is_empty(),
        "choosing opens the confirm, it sends nothing"
    );
    assert_eq!(confirm_of(&m).intent, Intent::Act(rollback("eu-west")));
    // A digit picks directly; Esc closes without anything sent.
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('r'));
    update(&mut m, key('1'));
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(confirm_of(&m).intent, Intent::Act(rollback("us-east")));
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('r'));
    assert!(update(&mut m, code(KeyCode::Esc)).effects.is_empty());
    assert!(m.dialog.is_none());
}

#[test]
fn no_breach_asks_which_cohort_unless_one_was_chosen_in_the_ladder() {
    let mut m = model();
    select_flag(&mut m, "checkout-v2");
    readings(
        &mut m,
        vec![reading(
            "eu-west",
            "p95_latency_ms",
            GuardrailStatus::Healthy,
            320.0,
        )],
    );
    update(&mut m, key('r'));
    assert_eq!(
        choices(&m),
        ["internal", "beta-accounts", "eu-west", "us-east"]
    );
    update(&mut m, code(KeyCode::Esc));
    // The Ladder cursor was never moved: still a question.
    m.focus = Pane::Ladder;
    update(&mut m, key('r'));
    assert!(
        matches!(m.dialog, Some(Dialog::Choose(_))),
        "an untouched Ladder cursor is not a choice"
    );
    update(&mut m, code(KeyCode::Esc));
    // Moved onto us-east: that is a choice.
    update(&mut m, key('j'));
    update(&mut m, key('j'));
    update(&mut m, key('j'));
    update(&mut m, key('r'));
    assert_eq!(confirm_of(&m).intent, Intent::Act(rollback("us-east")));
}

#[test]
fn bang_jumps_to_the_worst_breach_and_r_enter_rolls_it_back() {
    let mut m = model();
    update(&mut m, key('e')); // staging: the breach is in production
    assert_eq!(m.env.as_str(), "staging");
    update(&mut m, key('/'));
    type_str(&mut m, "support");
    update(&mut m, code(KeyCode::Enter));
    update(&mut m, key('!'));
    assert_eq!(m.env.as_str(), "production");
    assert_eq!(
        m.selected_flag_key().map(|k| k.as_str()),
        Some("checkout-v2")
    );
    assert_eq!(
        m.selected_cohort().map(|c| c.name.as_str()),
        Some("eu-west")
    );
    assert_eq!(m.focus, Pane::Ladder);
    assert!(
        m.flags.filter.is_empty(),
        "a filter hiding the flag is cleared"
    );
    update(&mut m, key('r'));
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let (req, _) = submit(&fx);
    assert_eq!(req.action, rollback("eu-west"));
    assert_eq!(req.expected_revision, Some(Revision(FLAG_REV)));
}

#[test]
fn a_rolled_back_breach_is_recovering_not_a_target() {
    let mut m = model();
    let mut f = (**m.data.state.flags.get("checkout-v2").unwrap()).clone();
    f.environments
        .get_mut("production")
        .unwrap()
        .cohort_mut("eu-west")
        .unwrap()
        .rolled_back = true;
    f.revision = Revision(50);
    let change = Change {
        revision: Revision(50),
        at: t0(),
        flags: vec![f.into()],
        frozen: None,
        approvals: vec![],
        audit: vec![],
    };
    update(
        &mut m,
        Event::Stream(StreamEvent::Change(Box::new(Clean::new(change)))),
    );
    assert!(m.breaches().is_empty());
    update(&mut m, key('!'));
    assert_eq!(
        m.status.as_ref().map(|s| s.text.as_str()),
        Some("no breached guardrail")
    );
    assert!(super::super::view::header_banner(&m).is_none());
}

#[test]
fn the_banner_names_the_worst_breach_and_counts_the_others() {
    let mut m = model();
    assert_eq!(
        super::super::view::header_banner(&m).as_deref(),
        Some("✗ checkout-v2/eu-west p95 455 vs ≤372 — ! to jump")
    );
    readings(
        &mut m,
        vec![reading(
            "us-east",
            "p95_latency_ms",
            GuardrailStatus::Breached,
            400.0,
        )],
    );
    assert_eq!(
        super::super::view::header_banner(&m).as_deref(),
        Some("✗ checkout-v2/eu-west p95 455 vs ≤372 (+1) — ! to jump")
    );
    update(&mut m, key('e'));
    assert!(
        super::super::view::header_banner(&m).is_none(),
        "staging has no breach"
    );
}

#[test]
fn attention_order_keeps_the_selection_by_key_when_rows_move() {
    let mut m = model();
    assert_eq!(
        m.flags.visible.first().map(|k| k.as_str()),
        Some("checkout-v2")
    );
    select_flag(&mut m, "search-ranking-v3");
    let before = m.flags.sel.row();
    // A new breach on another flag moves it up; the selection stays on its flag.
    let mut r = reading(
        "eu-west",
        "p95_latency_ms",
        GuardrailStatus::Breached,
        500.0,
    );
    r.flag = "search-ranking-v3".into();
    r.cohort = "everyone".into();
    readings(&mut m, vec![r]);
    assert_eq!(
        m.selected_flag_key().map(|k| k.as_str()),
        Some("search-ranking-v3")
    );
    assert!(m.flags.sel.row() < before, "it moved up with its flag");
}

#[test]
fn the_bell_rings_once_per_new_breach_and_only_when_configured() {
    let new_breach = || {
        vec![reading(
            "us-east",
            "p95_latency_ms",
            GuardrailStatus::Breached,
            400.0,
        )]
    };
    let bell = |fx: &[super::super::effect::Effect]| {
        fx.iter()
            .filter(|e| **e == super::super::effect::Effect::Bell)
            .count()
    };
    let mut m = model();
    let fx = update(
        &mut m,
        Event::Stream(StreamEvent::Guardrails(Clean::new(GuardrailUpdate {
            exposure: Vec::new(),
            at: t0(),
            readings: new_breach(),
        }))),
    )
    .effects;
    assert_eq!(bell(&fx), 0, "off by default");
    let mut m = model();
    m.bell = true;
    assert!(
        m.ring_for_new_breach(),
        "what is breached at start is seen once (the loop drops it)"
    );
    let fx = update(
        &mut m,
        Event::Stream(StreamEvent::Guardrails(Clean::new(GuardrailUpdate {
            exposure: Vec::new(),
            at: t0(),
            readings: new_breach(),
        }))),
    )
    .effects;
    assert_eq!(bell(&fx), 1, "us-east newly breached");
    let fx = update(
        &mut m,
        Event::Stream(StreamEvent::Guardrails(Clean::new(GuardrailUpdate {
            exposure: Vec::new(),
            at: t0(),
            readings: new_breach(),
        }))),
    )
    .effects;
    assert_eq!(bell(&fx), 0, "the same breach rings once");
    assert_eq!(
        bell(&update(&mut m, key('j')).effects),
        0,
        "keys never ring"
    );
}

#[test]
fn the_bell_rings_once_for_a_new_request_this_user_may_approve_and_not_for_their_own() {
    let bell = |fx: &[super::super::effect::Effect]| {
        fx.iter()
            .filter(|e| **e == super::super::effect::Effect::Bell)
            .count()
    };
    let mut m = model();
    m.bell = true;
    let _ = (m.ring_for_new_breach(), m.ring_for_new_request());
    let template = m.data.approvals[0].clone();
    let next = std::cell::Cell::new(m.data.revision.0);
    let request = |id: &str, by: &str| {
        next.set(next.get() + 1);
        let mut a = template.clone();
        a.id = id.into();
        a.state = crate::domain::ApprovalState::Pending;
        a.requested_by = crate::domain::Actor::from_token(by, crate::domain::Role::Operator);
        Event::Stream(StreamEvent::Change(Box::new(Clean::new(
            crate::wire::Change {
                revision: crate::domain::Revision(next.get()),
                at: t0(),
                flags: vec![],
                frozen: None,
                approvals: vec![a],
                audit: vec![],
            },
        ))))
    };
    let me = m.data.identity.name.clone();
    let own = request("apr-own", &me);
    assert_eq!(
        bell(&update(&mut m, own).effects),
        0,
        "not for my own request"
    );
    let ev = request("apr-new", "bob");
    assert_eq!(
        bell(&update(&mut m, ev).effects),
        1,
        "bob's request is mine to approve"
    );
    let again = request("apr-new", "bob");
    assert_eq!(bell(&update(&mut m, again).effects), 0, "rings once");
    m.data.identity.role = crate::domain::Role::Operator;
    let other = request("apr-other", "carol");
    assert_eq!(
        bell(&update(&mut m, other).effects),
        0,
        "an operator cannot approve"
    );
}
