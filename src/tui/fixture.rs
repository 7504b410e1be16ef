//! Test fixture: the demo scenario as a wire Snapshot (with a breached eu-west guardrail, the
//! ops-assistant proposal and one audit entry) and a live Model on it. Tests only.

use super::effect::Event;
use super::model::{Model, Pane};
use super::update::update;
use crate::client::stream::StreamEvent;
use crate::domain::{
    Actor, ApprovalId, ApprovalRequest, ApprovalState, AuditEvent, AuditId, AuditKind, GuardrailStatus, Revision, Role,
};
use crate::wire::{GuardrailReading, Snapshot};
use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub const FLAG_REV: u64 = 40;
pub const STATE_REV: u64 = 42;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, 12, 0, 0).single().unwrap_or_default()
}

pub fn reading(cohort: &str, metric: &str, status: GuardrailStatus, value: f64) -> GuardrailReading {
    GuardrailReading {
        flag: "checkout-v2".into(),
        env: "production".into(),
        metric: metric.into(),
        cohort: cohort.into(),
        value: Some(value),
        baseline: Some(310.0),
        threshold: Some(372.0),
        rule: "<= +20% vs baseline".into(),
        samples: 1800,
        baseline_samples: 5400,
        min_samples: 200,
        window_secs: 30,
        status,
        history: vec![300.0, 320.0, 350.0, 390.0, 420.0, value],
        source_error: None,
        cohort_value: None,
    }
}

pub fn snapshot() -> Snapshot {
    let sc = crate::control::scenario::build("demo", t0() - chrono::Duration::seconds(30)).unwrap();
    let mut probe = sc.state.clone();
    let mut flags: Vec<_> = sc.state.flags.into_values().collect();
    for f in &mut flags {
        f.revision = Revision(FLAG_REV);
    }
    let p = &sc.proposals[0];
    let reverse = p.action.clone().apply(&mut probe, t0()).unwrap();
    let approval = ApprovalRequest {
        id: ApprovalId::from("apr-1"),
        action: p.action.clone(),
        reverse,
        reason: p.reason.clone(),
        evidence: p.evidence.clone(),
        evidence_gap: p.evidence_gap.clone(),
        requested_by: p.actor.clone(),
        state: ApprovalState::Pending,
        created_at: t0() - chrono::Duration::minutes(3),
        expires_at: t0() + chrono::Duration::hours(1),
        revision: Revision(FLAG_REV),
        decided_by: None,
        decided_at: None,
        decision_reason: None,
        merged: 0,
    };
    let set = crate::domain::Action::SetPercent {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "us-east".into(),
        percent: 25,
    };
    let audit = AuditEvent {
        id: AuditId(7),
        at: t0() - chrono::Duration::minutes(1),
        kind: AuditKind::Applied,
        actor: Actor { name: "bob".into(), role: Role::Operator },
        source: "tui".into(),
        reason: "widen us-east".into(),
        flag: Some("checkout-v2".into()),
        action: Some(set),
        reverse: Some(crate::domain::Action::SetPercent {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: "us-east".into(),
            percent: 10,
        }),
        before: None,
        after: None,
        approval: None,
        evidence: Vec::new(),
        revision: Revision(FLAG_REV),
        follows: None,
    };
    Snapshot {
        revision: Revision(STATE_REV),
        server_time: t0(),
        identity: Actor { name: "alice".into(), role: Role::Approver },
        flag_store: "embedded".into(),
        environments: sc.state.environments,
        frozen: Default::default(),
        flags,
        guardrails: vec![
            reading("eu-west", "p95_latency_ms", GuardrailStatus::Breached, 455.0),
            reading("us-east", "p95_latency_ms", GuardrailStatus::Healthy, 318.0),
        ],
        approvals: vec![approval],
        audit: vec![audit],
    }
}

pub fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(c: KeyCode) -> Event {
    Event::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub fn type_str(m: &mut Model, s: &str) {
    for c in s.chars() {
        update(m, key(c));
    }
}

/// A live model on the demo snapshot.
pub fn model() -> Model {
    let mut m = Model::from_snapshot(snapshot(), "embedded (demo)".into(), None, t0());
    update(&mut m, Event::Stream(StreamEvent::Connected { revision: STATE_REV }));
    m
}

/// Live model with checkout-v2 selected and the eu-west cohort under the Ladder cursor.
pub fn on_eu_west() -> Model {
    let mut m = model();
    select_flag(&mut m, "checkout-v2");
    m.focus = Pane::Ladder;
    m.cohort_sel = m.cohorts().iter().position(|c| c.name.as_str() == "eu-west").unwrap();
    m
}

pub fn select_flag(m: &mut Model, key: &str) {
    m.flag_sel = m.visible.iter().position(|k| k.as_str() == key).unwrap();
    m.cohort_sel = 0;
}
