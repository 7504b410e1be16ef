//! The door: typed callers no token can claim, one commit pipeline that takes every writer's
//! change back when the store fails, external writes outside the lock that end recorded with
//! their true outcome, and evidence that survives a restart.

use super::*;
use crate::control::flags::{FlagStore, FlagStoreError};
use crate::control::service::{ErrorKind, StreamMsg};
use crate::control::store::{Commit, TokenRecord};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

fn admin() -> Caller {
    person("root", Role::Admin)
}

fn staging(cohort: &str, percent: u8) -> Action {
    Action::SetPercent {
        flag: "checkout-v2".into(),
        env: "staging".into(),
        cohort: cohort.into(),
        percent,
    }
}

fn fail_next_commit(cp: &ControlPlane) {
    cp.with_inner(|inner| inner.store.fail_next_commit());
}

/// State, requests, audit and streams as they are now, to compare after a failed commit.
fn everything(cp: &ControlPlane) -> (State, Vec<ApprovalRequest>, usize) {
    let audit = cp
        .audit(None, None, 1000)
        .unwrap_or_else(|e| panic!("{e}"))
        .len();
    (cp.state(), cp.approvals(), audit)
}

fn assert_untouched(
    cp: &ControlPlane,
    before: &(State, Vec<ApprovalRequest>, usize),
    rx: &mut tokio::sync::broadcast::Receiver<StreamMsg>,
    what: &str,
) {
    assert_eq!(
        &everything(cp),
        before,
        "{what}: a failed commit left something behind"
    );
    while let Ok(m) = rx.try_recv() {
        assert!(
            !matches!(m, StreamMsg::Change(_)),
            "{what}: a failed commit was published"
        );
    }
}

#[test]
fn a_reserved_name_cannot_be_minted_and_labels_come_from_the_kind() {
    let (_d, cp, _clock) = plane("calm");
    for name in [
        "flagtop-engine",
        "flagtop-system",
        "FLAGTOP-ENGINE",
        "automation",
        "engine",
        "flagtop-anything",
    ] {
        let e = cp
            .add_token(&admin(), name, Role::Operator)
            .err()
            .unwrap_or_else(|| panic!("{name} was minted"));
        assert_eq!(
            (e.kind, e.code),
            (ErrorKind::BadRequest, "reserved_name"),
            "{name}"
        );
    }
    let e = cp
        .add_token(&person("op", Role::Operator), "bob", Role::Admin)
        .err()
        .unwrap_or_else(|| panic!("an operator minted"));
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert!(cp.add_token(&admin(), "bob", Role::Operator).is_ok());
    // A person named like the engine is still a person: the two-person rule holds for them.
    let impostor = person("flagtop-engine", Role::Admin);
    assert_eq!(impostor.actor.kind(), "person");
    let expand = Action::SetPercent {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "us-east".into(),
        percent: 100,
    };
    let o = cp
        .submit(&impostor, &req(expand), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.outcome, OutcomeKind::Requested);
    let a = cp
        .approvals()
        .into_iter()
        .find(|a| a.state == ApprovalState::Pending)
        .unwrap_or_else(|| panic!("no request"));
    assert_eq!(a.requested_by.kind(), "person");
}

#[test]
fn an_impostor_token_planted_in_an_old_data_dir_is_disabled_at_start() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let secret = "ft_planted_secret";
    {
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let seed = scenario::build("calm", t0()).unwrap_or_else(|e| panic!("{e}"));
        let cp = ControlPlane::open(store, Arc::new(ManualClock::new(t0())), Some(seed))
            .unwrap_or_else(|e| panic!("{e}"));
        let rec = TokenRecord {
            name: ENGINE_ACTOR.into(),
            role: Role::Operator,
            created_at: t0(),
            environments: vec![],
        };
        // As an older flagtop would have written it, past today's checks.
        cp.with_inner(|inner| {
            let hash = crate::control::auth::hash(secret);
            inner
                .store
                .commit(Commit {
                    tokens: vec![(hash.as_str(), &rec)],
                    ..Default::default()
                })
                .unwrap_or_else(|e| panic!("{e}"));
        });
    }
    let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cp = ControlPlane::open(store, Arc::new(ManualClock::new(t0())), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cp.authenticate(secret),
        None,
        "the planted token must authenticate nothing"
    );
    let warnings = cp.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(ENGINE_ACTOR) && w.contains("disabled")),
        "{warnings:?}"
    );
}

#[test]
fn the_engine_passes_the_same_policy_table() {
    // Protected production: the engine's rollback is a request, its pause applies; in staging
    // its rollback applies. No name is consulted anywhere.
    let (_d, cp, _clock) = plane("calm");
    let engine = Caller::engine();
    let rollback = |env: &str| Action::Rollback {
        flag: "checkout-v2".into(),
        env: env.into(),
        cohort: "eu-west".into(),
    };
    let o = cp
        .submit(&engine, &req(rollback("production")), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.outcome, OutcomeKind::Requested);
    let o = cp
        .submit(&engine, &req(rollback("staging")), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.outcome, OutcomeKind::Applied);
    let kill = Action::Kill {
        flag: "checkout-v2".into(),
        env: "staging".into(),
    };
    assert_eq!(
        cp.submit(&engine, &req(kill), None).err().map(|e| e.kind),
        Some(ErrorKind::Forbidden)
    );
    assert_eq!(
        cp.approve(&engine, "anything", "x").err().map(|e| e.kind),
        Some(ErrorKind::Forbidden)
    );
    let audit = cp.audit(None, None, 10).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        audit
            .iter()
            .filter(|e| e.source == "engine")
            .all(|e| e.actor.kind() == "automation")
    );
}

#[test]
fn a_failed_store_commit_takes_back_every_kind_of_writer() {
    let (_d, cp, clock) = plane("demo");
    let mut rx = cp.subscribe();
    let approver = person("carol", Role::Approver);
    let pending = cp
        .approvals()
        .into_iter()
        .find(|a| a.state == ApprovalState::Pending)
        .unwrap_or_else(|| panic!("no request"));
    // approve
    let before = everything(&cp);
    fail_next_commit(&cp);
    let e = cp
        .approve(&approver, pending.id.as_str(), "ok")
        .err()
        .unwrap_or_else(|| panic!("approve committed"));
    assert_eq!(e.kind, ErrorKind::Internal);
    assert_untouched(&cp, &before, &mut rx, "approve");
    // reject
    fail_next_commit(&cp);
    assert!(cp.reject(&approver, pending.id.as_str(), "no").is_err());
    assert_untouched(&cp, &before, &mut rx, "reject");
    // define a flag and an environment
    let mut flag = (*cp.state().flags["checkout-v2"]).clone();
    flag.description = "changed".into();
    fail_next_commit(&cp);
    assert!(cp.define_flag(&admin(), flag).is_err());
    assert_untouched(&cp, &before, &mut rx, "define flag");
    fail_next_commit(&cp);
    let mut env = cp.state().environments[0].clone();
    env.key = "qa".into();
    assert!(cp.define_environment(&admin(), env).is_err());
    assert_untouched(&cp, &before, &mut rx, "define environment");
    // the flag-store follower
    let mut synced = (*cp.state().flags["checkout-v2"]).clone();
    synced.description = "from the store".into();
    let event = crate::control::flags::ExternalEvent {
        id: 1,
        at: t0(),
        actor: "someone".into(),
        flag: Some("checkout-v2".into()),
        summary: "x".into(),
    };
    fail_next_commit(&cp);
    assert!(cp.sync_external(None, vec![synced], vec![event]).is_err());
    assert_untouched(&cp, &before, &mut rx, "follower");
    // a token
    fail_next_commit(&cp);
    assert!(cp.add_token(&admin(), "dave", Role::Viewer).is_err());
    assert_untouched(&cp, &before, &mut rx, "token");
    // evidence: a rollback in staging schedules a check; its recording fails, stays due.
    let rb = Action::Rollback {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "eu-west".into(),
    };
    cp.submit(&person("ic", Role::Operator), &req(rb), None)
        .unwrap_or_else(|e| panic!("{e}"));
    while rx.try_recv().is_ok() {}
    let due = cp.evidence_due();
    assert_eq!(due.len(), 1, "the rollback scheduled no evidence check");
    clock.advance(600);
    let before = everything(&cp);
    fail_next_commit(&cp);
    assert!(
        cp.record_due_evidence(&Caller::engine(), &cp.readings())
            .is_err()
    );
    assert_untouched(&cp, &before, &mut rx, "evidence");
    assert_eq!(
        cp.evidence_due(),
        due,
        "a failed evidence commit lost the check"
    );
    assert_eq!(
        cp.record_due_evidence(&Caller::engine(), &cp.readings())
            .unwrap_or_else(|e| panic!("{e}")),
        1
    );
    assert!(cp.evidence_due().is_empty());
    // expiry
    while rx.try_recv().is_ok() {}
    clock.advance(5 * 3600);
    let before = everything(&cp);
    fail_next_commit(&cp);
    assert!(cp.expire().is_err());
    assert_untouched(&cp, &before, &mut rx, "expire");
    assert!(cp.expire().unwrap_or_else(|e| panic!("{e}")) >= 1);
}

#[test]
fn pending_evidence_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let clock = Arc::new(ManualClock::new(t0()));
    let due = {
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let seed = scenario::build("calm", t0()).unwrap_or_else(|e| panic!("{e}"));
        let cp =
            ControlPlane::open(store, clock.clone(), Some(seed)).unwrap_or_else(|e| panic!("{e}"));
        let rb = Action::Rollback {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: "eu-west".into(),
        };
        cp.submit(&person("ic", Role::Operator), &req(rb), None)
            .unwrap_or_else(|e| panic!("{e}"));
        cp.evidence_due()
    };
    assert_eq!(due.len(), 1);
    let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cp = ControlPlane::open(store, clock.clone(), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cp.evidence_due(),
        due,
        "the evidence check was lost on restart"
    );
    clock.advance(3600);
    let mut engine = Engine::default();
    let report = engine.tick(&cp, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.evidence, 1);
    let audit = cp
        .audit(Some("checkout-v2"), None, 10)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        audit
            .iter()
            .any(|e| e.kind == AuditKind::Evidence && e.follows == Some(due[0].follows))
    );
}

#[test]
fn an_audit_search_that_stops_at_its_scan_limit_says_where() {
    let (_d, cp, _clock) = plane("demo");
    let op = person("ic", Role::Operator);
    for p in [11, 12, 13, 14, 15, 16] {
        cp.submit(&op, &req(staging("eu-west", p)), None)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let (events, stopped) = cp
        .with_inner(|inner| inner.store.audit_scan(Some("no-such-flag"), None, 10, 3))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(events.is_empty());
    let stopped = stopped.unwrap_or_else(|| {
        panic!("an empty answer that only means 'not searched that far' must say so")
    });
    // Asking again from there goes on where it stopped.
    let (_, again) = cp
        .with_inner(|inner| {
            inner
                .store
                .audit_scan(Some("no-such-flag"), Some(stopped), 10, 1000)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, None, "the whole trail was searched the second time");
    let (found, none) = cp
        .with_inner(|inner| inner.store.audit_scan(Some("checkout-v2"), None, 3, 3))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((found.len(), none), (3, None));
}

mod external;
