//! Deterministic tests of the service and engine on a manual clock with scripted samples.

use super::clock::ManualClock;
use super::engine::Engine;
use super::scenario;
use super::service::{Caller, ControlPlane, ErrorKind};
use super::simulator::Simulator;
use super::store::Store;
use crate::domain::*;
use crate::wire::{ActionRequest, Arm, MetricSample, OutcomeKind, ProposalRequest};
use std::sync::Arc;

use crate::testkit::t0;

fn plane(name: &str) -> (tempfile::TempDir, Arc<ControlPlane>, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let clock = Arc::new(ManualClock::new(t0()));
    let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario::build(name, t0()).unwrap_or_else(|e| panic!("{e}"));
    let cp = ControlPlane::open(store, clock.clone(), Some(seed)).unwrap_or_else(|e| panic!("{e}"));
    (dir, cp, clock)
}

fn person(name: &str, role: Role) -> Caller {
    Caller::token(Actor::from_token(name, role), "test", name)
}

fn req(action: Action) -> ActionRequest {
    ActionRequest {
        action,
        reason: "test".into(),
        expected_revision: None,
        source: None,
    }
}

fn ladder(cp: &ControlPlane, flag: &str, env: &str) -> Ladder {
    cp.state().flags[flag].environments[&crate::domain::EnvKey::from(env)]
        .ladder
        .clone()
        .unwrap_or_else(|| panic!("no ladder"))
}

#[allow(clippy::too_many_arguments)]
fn push(
    cp: &ControlPlane,
    flag: &str,
    env: &str,
    metric: &str,
    cohort: &str,
    cand: f64,
    base: f64,
    n: u64,
) {
    let s = |arm, value| MetricSample {
        flag: flag.into(),
        env: env.into(),
        metric: metric.into(),
        cohort: cohort.into(),
        arm,
        value,
        count: n,
        at: None,
    };
    cp.push_samples(&[s(Arm::Candidate, cand), s(Arm::Baseline, base)])
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn applying_a_change_directly_closes_the_matching_request() {
    let (_d, cp, _clock) = plane("demo");
    let op = person("ic", Role::Operator);
    let action = Action::SetPercent {
        flag: "support-answer-profile".into(),
        env: "production".into(),
        cohort: "everyone".into(),
        percent: 0,
    };
    let pending = |cp: &ControlPlane| {
        cp.approvals()
            .into_iter()
            .filter(|a| a.state == ApprovalState::Pending && a.action == action)
            .count()
    };
    assert_eq!(pending(&cp), 1);
    cp.submit(&op, &req(action.clone()), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pending(&cp), 0);
    let closed = cp
        .approvals()
        .into_iter()
        .find(|a| a.action == action)
        .unwrap_or_else(|| panic!("gone"));
    assert!(
        closed
            .decision_reason
            .unwrap_or_default()
            .starts_with("superseded")
    );
}

#[test]
fn agents_only_propose_duplicates_merge_and_requests_expire() {
    let (_d, cp, clock) = plane("demo");
    let agent = person("ops-assistant", Role::Agent);
    let action = Action::SetPercent {
        flag: "support-answer-profile".into(),
        env: "production".into(),
        cohort: "everyone".into(),
        percent: 0,
    };
    // The seeded proposal exists; posting it again merges.
    let before = cp.approvals().len();
    let o = cp
        .propose(
            &agent,
            ProposalRequest {
                action: action.clone(),
                reverse: None,
                reason: "again".into(),
                evidence: vec![],
                evidence_gap: None,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.outcome, OutcomeKind::Requested);
    assert_eq!(cp.approvals().len(), before, "merged, not stacked");
    let a = cp
        .approvals()
        .into_iter()
        .find(|a| a.action == action)
        .unwrap_or_else(|| panic!("no request"));
    assert_eq!(a.merged, 1);
    // A wrong reverse is refused.
    let bad = ProposalRequest {
        action: action.clone(),
        reverse: Some(action.clone()),
        reason: "x".into(),
        evidence: vec![],
        evidence_gap: None,
    };
    assert_eq!(
        cp.propose(&agent, bad).map_err(|e| e.code),
        Err("reverse_mismatch")
    );
    // Agents cannot act or approve.
    assert_eq!(
        cp.submit(&agent, &req(action.clone()), None)
            .map_err(|e| e.kind),
        Err(ErrorKind::Forbidden)
    );
    assert_eq!(
        cp.approve(&agent, &a.id, "ok").map_err(|e| e.kind),
        Err(ErrorKind::Forbidden)
    );
    // Expired requests cannot be approved.
    clock.advance(5 * 3600);
    assert_eq!(
        cp.approve(&person("ic", Role::Approver), &a.id, "late")
            .map_err(|e| e.code),
        Err("approval_expired")
    );
    assert_eq!(cp.expire().unwrap_or(0), 1);
    assert_eq!(
        cp.approvals()
            .into_iter()
            .find(|x| x.id == a.id)
            .map(|x| x.state),
        Some(ApprovalState::Expired)
    );
}

#[test]
fn define_flag_is_idempotent_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let clock = Arc::new(ManualClock::new(t0()));
    let admin = person("root", Role::Admin);
    let flag = {
        let cp = ControlPlane::open(
            Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}")),
            clock.clone(),
            scenario::build("demo", t0()).ok(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut f = cp.state().flags["checkout-v2"].as_ref().clone();
        f.key = "checkout-v3".into();
        f.revision = Revision(0);
        assert_eq!(
            cp.define_flag(&admin, f.clone())
                .map(|o| o.result)
                .ok()
                .as_deref(),
            Some("created")
        );
        let rev = cp.revision();
        assert_eq!(
            cp.define_flag(&admin, f.clone())
                .map(|o| o.result)
                .ok()
                .as_deref(),
            Some("unchanged")
        );
        assert_eq!(cp.revision(), rev);
        assert_eq!(
            cp.define_flag(&person("op", Role::Operator), f.clone())
                .map_err(|e| e.kind),
            Err(ErrorKind::Forbidden)
        );
        // A second control plane cannot open the same data dir.
        assert!(matches!(
            Store::open(dir.path()),
            Err(super::store::StoreError::Locked(_))
        ));
        f
    };
    let cp = ControlPlane::open(
        Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}")),
        clock,
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let got = cp
        .state()
        .flags
        .get("checkout-v3")
        .cloned()
        .unwrap_or_else(|| panic!("lost"));
    assert_eq!(got.environments, flag.environments);
}

mod breach;
mod door;
mod group_commit;
mod ladder;
mod lifecycle;
mod resume;
mod served;
mod webhooks;

/// The embedded TUI holds the control plane's flags, not a copy: a snapshot shares every flag;
/// an action replaces only the flag it changed, and leaves the snapshot's version as it was.
#[test]
fn snapshots_share_flags_with_the_live_state_and_an_action_copies_only_its_flag() {
    let (_d, cp, _clock) = plane("calm");
    let op = person("ic", Role::Operator);
    let snap = cp.snapshot(&op.actor);
    let shared = |cp: &ControlPlane| {
        let live = cp.state();
        snap.flags
            .iter()
            .filter(|f| live.flags.get(&f.key).is_some_and(|l| Arc::ptr_eq(l, f)))
            .count()
    };
    assert_eq!(shared(&cp), snap.flags.len());
    let before = snap
        .flags
        .iter()
        .find(|f| f.key.as_str() == "checkout-v2")
        .map(|f| f.as_ref().clone());
    let action = Action::SetPercent {
        flag: "checkout-v2".into(),
        env: "staging".into(),
        cohort: "eu-west".into(),
        percent: 7,
    };
    cp.submit(&op, &req(action), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shared(&cp), snap.flags.len() - 1);
    let after = snap
        .flags
        .iter()
        .find(|f| f.key.as_str() == "checkout-v2")
        .map(|f| f.as_ref().clone());
    assert_eq!(
        before, after,
        "the snapshot's flag must not change under it"
    );
    let live = cp.state().flags["checkout-v2"]
        .env("staging")
        .and_then(|e| e.cohort("eu-west"))
        .map(|c| c.percent);
    assert_eq!(live, Some(7));
}

/// Guardrail readings reach the streams only for environments an open stream asked for (or
/// all, when one asked for all); nobody asking means nothing is published, so a dashboard on
/// staging is not woken by production's readings every second.
#[test]
fn readings_are_published_only_for_environments_a_stream_wants() {
    let (_d, cp, clock) = plane("calm");
    let mut engine = Engine::default();
    let mut sim = Simulator::new("calm", t0());
    let mut rx = cp.subscribe();
    let mut published = |cp: &ControlPlane, clock: &ManualClock| -> Vec<String> {
        for _ in 0..3 {
            clock.advance(1);
            engine
                .tick(cp, Some(&mut sim))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let mut envs = Vec::new();
        while let Ok(m) = rx.try_recv() {
            if let super::service::StreamMsg::Guardrails(g) = m {
                envs.extend(g.readings.iter().map(|r| r.env.to_string()));
            }
        }
        envs.sort();
        envs.dedup();
        envs
    };
    assert_eq!(
        published(&cp, &clock),
        Vec::<String>::new(),
        "no stream wants readings"
    );
    let staging = cp.want_readings(Some("staging".into()));
    assert_eq!(
        published(&cp, &clock),
        Vec::<String>::new(),
        "calm guards production only"
    );
    let production = cp.want_readings(Some("production".into()));
    assert_eq!(published(&cp, &clock), vec!["production".to_string()]);
    drop((staging, production));
    assert_eq!(published(&cp, &clock), Vec::<String>::new());
    let all = cp.want_readings(None);
    assert_eq!(published(&cp, &clock), vec!["production".to_string()]);
    drop(all);
    assert_eq!(published(&cp, &clock), Vec::<String>::new());
}
