//! Exposure on screen: the Ladder's served cell per cohort (and "no evaluations"), the confirm
//! dialog's blast radius in evaluations, and after a narrowed rollback whether traffic moved.

use super::super::effect::Event;
use super::super::model::Model;
use super::super::update::update;
use super::fixture::*;
use super::view::{render, text};
use crate::client::Clean;
use crate::client::stream::StreamEvent;
use crate::domain::{Action, Actor, AuditEvent, AuditId, AuditKind, Revision, Role};
use crate::testkit::t0;
use crate::wire::{Change, ExposureCount, GuardrailUpdate};
use chrono::{DateTime, Duration, Utc};

fn row(cohort: &str, exposed: bool, last: u64, last_at: DateTime<Utc>) -> ExposureCount {
    ExposureCount {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: Some(cohort.into()),
        variation: if exposed { "on" } else { "off" }.into(),
        exposed,
        total: last,
        last_window: last,
        this_window: 0,
        earlier_window: 0,
        last_at: Some(last_at),
    }
}

fn served(m: &mut Model, at: DateTime<Utc>, rows: Vec<ExposureCount>) {
    update(
        m,
        Event::Stream(StreamEvent::Guardrails(Clean::new(GuardrailUpdate {
            at,
            readings: Vec::new(),
            exposure: rows,
        }))),
    );
}

/// eu-west 1,240/min candidate, us-east 11,260/min of traffic (8 % is eu-west's candidate).
fn busy(at: DateTime<Utc>) -> Vec<ExposureCount> {
    vec![
        row("eu-west", true, 1240, at),
        row("eu-west", false, 3720, at),
        row("us-east", false, 11_260, at),
    ]
}

#[test]
fn the_ladder_shows_what_each_cohort_was_served_and_the_confirm_counts_it() {
    // The fixture: eu-west 1,240/min candidate of 14,880/min in production.
    let mut m = on_eu_west();
    let s = text(&render(&m, 160, 48));
    let eu = s.lines().find(|l| l.contains("▶ eu-west")).unwrap_or("");
    assert!(eu.contains("1,240/min on"), "{eu}\n{s}");
    let internal = s.lines().find(|l| l.contains("  internal")).unwrap_or("");
    assert!(internal.contains("no evaluations"), "{internal}\n{s}");
    update(&mut m, key('r'));
    let s = text(&render(&m, 160, 48));
    assert!(
        s.contains("served:  ~1,240 evaluations/min, 8 % of production"),
        "{s}"
    );
}

#[test]
fn a_flag_nobody_evaluated_says_so_once() {
    let mut m = on_eu_west();
    m.data.exposure.clear();
    let s = text(&render(&m, 160, 48));
    assert!(
        s.contains("checkout-v2 · production · no evaluations"),
        "{s}"
    );
    assert!(!s.contains("/min"), "{s}");
}

#[test]
fn after_a_narrowed_rollback_the_ladder_says_whether_traffic_moved() {
    let mut m = on_eu_west();
    served(&mut m, t0() + Duration::seconds(10), busy(t0()));
    let since = t0() + Duration::seconds(20);
    let mut f = (**m.data.state.flags.get("checkout-v2").unwrap()).clone();
    f.environments
        .get_mut("production")
        .unwrap()
        .cohort_mut("eu-west")
        .unwrap()
        .rolled_back = true;
    f.revision = Revision(50);
    let rollback = Action::Rollback {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "eu-west".into(),
    };
    let audit = AuditEvent {
        id: AuditId(99),
        at: since,
        kind: AuditKind::Applied,
        actor: Actor::from_token("alice", Role::Operator),
        source: "tui".into(),
        reason: "p95 breach".into(),
        flag: Some("checkout-v2".into()),
        action: Some(rollback),
        reverse: None,
        before: None,
        after: None,
        approval: None,
        evidence: Vec::new(),
        revision: Revision(50),
        follows: None,
        request_id: None,
    };
    let change = Change {
        revision: Revision(50),
        at: since,
        flags: vec![f.into()],
        frozen: None,
        approvals: vec![],
        audit: vec![audit],
    };
    update(
        &mut m,
        Event::Stream(StreamEvent::Change(Box::new(Clean::new(change)))),
    );
    // Later in the same window: eu-west's users got only the fallthrough since the rollback.
    let now = t0() + Duration::seconds(50);
    served(
        &mut m,
        now,
        vec![
            row("eu-west", true, 1240, since - Duration::seconds(1)),
            row("eu-west", false, 3720, now),
        ],
    );
    let s = text(&render(&m, 160, 48));
    assert!(
        s.contains("eu-west: candidate served 0/min since 12:00:20, was 1,240/min"),
        "{s}"
    );
    // A candidate evaluation after the rollback: the screen says it is still served.
    served(&mut m, now, vec![row("eu-west", true, 1240, now)]);
    let s = text(&render(&m, 160, 48));
    assert!(
        s.contains("eu-west: candidate STILL served 1,240/min since 12:00:20"),
        "{s}"
    );
}

#[test]
fn flag_level_counts_show_in_the_title_when_no_cohort_has_any() {
    let mut m = on_eu_west();
    m.data.exposure.clear();
    let mut yes = row("x", true, 900, t0());
    yes.cohort = None;
    yes.variation = "yes".into();
    let mut no = row("x", false, 2700, t0());
    no.cohort = None;
    no.variation = "no".into();
    served(&mut m, t0(), vec![yes, no]);
    let s = text(&render(&m, 160, 48));
    assert!(
        s.contains("checkout-v2 · production · served 900/min of 3,600/min, no per-cohort counts"),
        "{s}"
    );
}
