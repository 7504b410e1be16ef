//! Owns deterministic fixture state for screenshots, tests and benchmarks: the demo scenario as a wire
//! Snapshot at a fixed clock, with guardrail readings (a breached `eu-west`), the ops-assistant
//! proposal, the engine's narrowed-rollback proposal for the incident, and one audit entry. It
//! must not do I/O or read the clock.

use crate::client::stream::StreamEvent;
use crate::domain::{
    Action, Actor, ApprovalId, ApprovalRequest, ApprovalState, AuditEvent, AuditId, AuditKind,
    GuardrailStatus, Revision, Role,
};
use crate::tui::effect::Event;
use crate::tui::model::{Model, Pane};
use crate::tui::update::update;
use crate::wire::{GuardrailReading, Snapshot};

pub const FLAG_REV: u64 = 40;
pub const STATE_REV: u64 = 42;

pub use crate::testkit::t0;

pub fn reading(
    cohort: &str,
    metric: &str,
    status: GuardrailStatus,
    value: f64,
) -> GuardrailReading {
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

fn approval(
    id: &str,
    action: Action,
    reverse: Action,
    reason: String,
    by: Actor,
    minutes_ago: i64,
) -> ApprovalRequest {
    ApprovalRequest {
        id: ApprovalId::from(id),
        action,
        reverse,
        reason,
        evidence: Vec::new(),
        evidence_gap: None,
        requested_by: by,
        state: ApprovalState::Pending,
        created_at: t0() - chrono::Duration::minutes(minutes_ago),
        expires_at: t0() + chrono::Duration::hours(1),
        revision: Revision(FLAG_REV),
        decided_by: None,
        decided_at: None,
        decision_reason: None,
        merged: 0,
    }
}

/// The scenario `name` as a snapshot at `t0()`, with the ops-assistant proposal pending.
pub fn snapshot(name: &str) -> Result<Snapshot, String> {
    let sc = crate::control::scenario::build(name, t0() - chrono::Duration::seconds(30))?;
    let mut probe = sc.state.clone();
    let mut flags: Vec<_> = sc.state.flags.into_values().collect();
    for f in &mut flags {
        std::sync::Arc::make_mut(f).revision = Revision(FLAG_REV);
    }
    let mut approvals = Vec::new();
    for (i, p) in sc.proposals.iter().enumerate() {
        let reverse = p
            .action
            .clone()
            .apply(&mut probe, t0())
            .map_err(|e| e.to_string())?;
        let mut a = approval(
            &format!("apr-{}", i + 1),
            p.action.clone(),
            reverse,
            p.reason.clone(),
            p.actor.clone(),
            3,
        );
        a.evidence = p.evidence.clone();
        a.evidence_gap = p.evidence_gap.clone();
        approvals.push(a);
    }
    let set = |percent| Action::SetPercent {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "us-east".into(),
        percent,
    };
    let audit = AuditEvent {
        id: AuditId(7),
        at: t0() - chrono::Duration::minutes(1),
        kind: AuditKind::Applied,
        actor: Actor::from_token("bob", Role::Operator),
        source: "tui".into(),
        reason: "widen us-east".into(),
        flag: Some("checkout-v2".into()),
        action: Some(set(25)),
        reverse: Some(set(10)),
        // As the service summarises a percent change (`control::service::summarize`).
        before: Some(serde_json::json!({"cohort": "us-east", "percent": 10, "rolled_back": false})),
        after: Some(serde_json::json!({"cohort": "us-east", "percent": 25, "rolled_back": false})),
        approval: None,
        evidence: Vec::new(),
        revision: Revision(FLAG_REV),
        follows: None,
        request_id: None,
    };
    Ok(Snapshot {
        warnings: Vec::new(),
        unsettled: 0,
        exposure: if name == "demo" {
            exposure()
        } else {
            Vec::new()
        },
        revision: Revision(STATE_REV),
        server_time: t0(),
        identity: Actor::from_token("alice", Role::Approver),
        flag_store: "embedded".into(),
        flag_store_synced_at: None,
        flag_store_error: None,
        propagation_secs: None,
        simulated: true,
        lifecycle_rules: Default::default(),
        webhooks: Vec::new(),
        environments: sc.state.environments,
        frozen: Default::default(),
        flags,
        guardrails: vec![
            reading(
                "eu-west",
                "p95_latency_ms",
                GuardrailStatus::Breached,
                455.0,
            ),
            reading("us-east", "p95_latency_ms", GuardrailStatus::Healthy, 318.0),
        ],
        approvals,
        audit: vec![audit],
    })
}

/// What applications were served in production in the last minute (checkout-v2's guarded
/// regional cohorts; the internal cohorts were not evaluated): the Ladder's cells and the
/// confirm's blast radius.
fn exposure() -> Vec<crate::wire::ExposureCount> {
    let row = |cohort: &str, exposed: bool, per_min: u64| crate::wire::ExposureCount {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: Some(cohort.into()),
        variation: if exposed { "on" } else { "off" }.into(),
        exposed,
        total: per_min * 12,
        last_window: per_min,
        this_window: per_min / 3,
        earlier_window: per_min,
        last_at: Some(t0()),
    };
    vec![
        row("eu-west", true, 1240),
        row("eu-west", false, 3720),
        row("us-east", true, 2480),
        row("us-east", false, 7440),
    ]
}

/// A live model on the snapshot.
pub fn model(name: &str) -> Result<Model, String> {
    let mut m = Model::new(
        crate::client::Clean::new(snapshot(name)?),
        &crate::tui::simulated_label(name),
        None,
        crate::config::keymap::builtin_default(),
        t0(),
    );
    let _ = update(
        &mut m,
        Event::Stream(StreamEvent::Connected {
            revision: STATE_REV,
        }),
    );
    Ok(m)
}

pub fn select_flag(m: &mut Model, key: &str) {
    if !m.select_flag(key) {
        m.flags.sel.select_row(0, &m.flags.visible);
    }
}

/// Live model with checkout-v2 selected and the eu-west cohort under the Ladder cursor.
pub fn on_eu_west(name: &str) -> Result<Model, String> {
    let mut m = model(name)?;
    select_flag(&mut m, "checkout-v2");
    m.focus = Pane::Ladder;
    m.select_cohort("eu-west");
    Ok(m)
}

/// The incident moment: eu-west breached with a second p95 series, the ladder paused by the
/// safeguard, and the engine's narrowed-rollback proposal for eu-west pending.
pub fn incident(name: &str) -> Result<Model, String> {
    let mut m = on_eu_west(name)?;
    m.focus = Pane::Guardrails;
    m.data.guardrails.push(reading(
        "eu-west",
        "error_rate",
        GuardrailStatus::Breached,
        0.031,
    ));
    if let Some(r) = m.data.guardrails.last_mut() {
        (r.baseline, r.threshold, r.rule, r.history) = (
            Some(0.011),
            Some(0.02),
            "<= 0.02 absolute".into(),
            vec![0.01, 0.012, 0.018, 0.024, 0.029, 0.031],
        );
    }
    m.data.guardrails.push(reading(
        "us-east",
        "error_rate",
        GuardrailStatus::Healthy,
        0.010,
    ));
    if let Some(r) = m.data.guardrails.last_mut() {
        (r.baseline, r.threshold, r.rule, r.history) = (
            Some(0.011),
            Some(0.02),
            "<= 0.02 absolute".into(),
            vec![0.011, 0.010, 0.012, 0.011, 0.010, 0.010],
        );
    }
    let rollback = Action::Rollback {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "eu-west".into(),
    };
    let restore = Action::Restore {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "eu-west".into(),
    };
    let engine = Actor::from_token("flagtop-safeguard", Role::Agent);
    let mut a = approval(
        "apr-9",
        rollback,
        restore,
        "p95_latency_ms breached in eu-west (455 vs limit 372)".into(),
        engine,
        0,
    );
    a.evidence_gap = None;
    m.data.approvals.insert(0, a);
    if let Some(f) = m
        .data
        .state
        .flags
        .get_mut(&crate::domain::FlagKey::from("checkout-v2"))
        && let Some(fe) = std::sync::Arc::make_mut(f)
            .environments
            .get_mut("production")
        && let Some(l) = fe.ladder.as_mut()
    {
        l.state = crate::domain::LadderState::Paused;
        l.pause_note = Some("guardrail p95_latency_ms breached in eu-west".into());
    }
    m.flags.sort = crate::tui::model::SortBy::Attention;
    m.data_changed(true);
    Ok(m)
}
