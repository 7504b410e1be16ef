//! Group commits from two replicas on one real PostgreSQL (started by `scripts/postgres`): a
//! group that loses the race for the next revision is caught up, re-validated and committed
//! again. Writers on different flags never see a conflict; writers deciding on the same cohort
//! with the revision they read get 409 exactly when it changed. Each replica is a control plane
//! on a store of its own (its own connections), as `flagtop serve --store` runs it. Without
//! `FLAGTOP_TEST_PG_URL` they skip loudly, and fail under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::pg::{fresh_db, pg_store};
use flagtop::control::clock::SystemClock;
use flagtop::control::error::ErrorKind;
use flagtop::control::service::{Caller, ControlPlane};
use flagtop::domain::{Actor, Revision, Role};
use flagtop::wire::ActionRequest;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

fn admin() -> Caller {
    Caller::token(Actor::from_token("alice", Role::Admin), "api", "test")
}

/// Two replicas of one fresh database seeded with the large scenario.
fn two_replicas(name: &str) -> Option<[Arc<ControlPlane>; 2]> {
    let (url, pw) = fresh_db(name)?;
    let clock = Arc::new(SystemClock);
    let seed = flagtop::control::scenario::build("large", chrono::Utc::now()).unwrap();
    let a = ControlPlane::open(pg_store(&url, &pw), clock.clone(), Some(seed))
        .unwrap_or_else(|e| panic!("{e}"));
    let b = ControlPlane::open(pg_store(&url, &pw), clock, None).unwrap_or_else(|e| panic!("{e}"));
    Some([a, b])
}

/// Staging cohorts, one per flag: (flag, cohort, percent), in key order.
fn targets(cp: &ControlPlane) -> Vec<(String, String, u8)> {
    let mut t: Vec<_> = cp
        .state()
        .flags
        .values()
        .filter_map(|f| {
            let c = f.env("staging")?.cohorts.first()?;
            Some((f.key.to_string(), c.name.to_string(), c.percent))
        })
        .collect();
    t.sort();
    t
}

fn set_percent(
    (flag, cohort, _): &(String, String, u8),
    percent: u8,
    expected: Option<Revision>,
    reason: &str,
) -> ActionRequest {
    let mut r: ActionRequest = serde_json::from_value(json!({
        "action": {"type": "set_percent", "flag": flag, "env": "staging", "cohort": cohort, "percent": percent},
        "reason": reason,
    }))
    .unwrap();
    r.expected_revision = expected;
    r
}

#[test]
fn writers_on_two_replicas_on_different_flags_never_conflict() {
    const WRITERS: usize = 4; // per replica
    const EACH: usize = 25;
    let Some(replicas) = two_replicas("retry_disjoint") else {
        return;
    };
    let targets = targets(&replicas[0]);
    assert!(targets.len() >= 2 * WRITERS, "{} targets", targets.len());
    let start = replicas[0].revision();
    let go = Arc::new(Barrier::new(2 * WRITERS));
    let mut threads = Vec::new();
    for (r, cp) in replicas.iter().enumerate() {
        for w in 0..WRITERS {
            let (cp, go) = (cp.clone(), go.clone());
            let target = targets[r * WRITERS + w].clone();
            threads.push(std::thread::spawn(move || {
                go.wait();
                (0..EACH)
                    .map(|i| {
                        // Every action changes something: away from the seed and back.
                        let p0 = target.2;
                        let p = if i % 2 == 0 {
                            if p0 == 50 { 51 } else { 50 }
                        } else {
                            p0
                        };
                        let key = format!("r{r}-w{w}-{i}");
                        let req = set_percent(&target, p, None, &format!("disjoint {key}"));
                        cp.submit(&admin(), &req, Some(&key))
                            .unwrap_or_else(|e| panic!("{key} refused: {e}"))
                    })
                    .collect::<Vec<_>>()
            }));
        }
    }
    let outcomes: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let n = (2 * WRITERS * EACH) as u64;
    assert_eq!(
        outcomes.len() as u64,
        n,
        "every action acknowledged, none 409"
    );
    assert!(outcomes.iter().all(|o| !o.replayed));
    // Revisions: unique and gap-free, exactly the acknowledged ones after the start.
    let revs: BTreeSet<u64> = outcomes.iter().map(|o| o.revision.0).collect();
    let expected: BTreeSet<u64> = (start.0 + 1..=start.0 + n).collect();
    assert_eq!(revs, expected, "one revision per action, no gap, no repeat");
    for cp in &replicas {
        cp.follow_store().unwrap();
        assert_eq!(cp.revision().0, start.0 + n);
    }
    assert_eq!(replicas[0].state(), replicas[1].state());
    // Applied once each: one audit event per acknowledged action, on both replicas' reads.
    for cp in &replicas {
        let audit = cp.audit(None, None, 1000).unwrap();
        let mine: Vec<_> = audit
            .iter()
            .filter(|e| e.reason.starts_with("disjoint "))
            .collect();
        assert_eq!(mine.len() as u64, n, "each action audited once");
        let reasons: BTreeSet<_> = mine.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons.len() as u64, n, "no action audited twice");
        let ids: BTreeSet<_> = audit.iter().map(|e| e.id.0).collect();
        assert_eq!(ids.len(), audit.len(), "audit ids never collide");
    }
    // Retrying the keys on the other replica replays; nothing is applied again.
    for (r, cp) in replicas.iter().enumerate() {
        let other = 1 - r;
        let target = &targets[other * WRITERS];
        let p = if target.2 == 50 { 51 } else { 50 };
        let key = format!("r{other}-w0-0");
        let req = set_percent(target, p, None, &format!("disjoint {key}"));
        let o = cp.submit(&admin(), &req, Some(&key)).unwrap();
        assert!(o.replayed, "{key} answered from its first outcome");
        assert_eq!(cp.revision().0, start.0 + n);
    }
    eprintln!(
        "group commits retried after another replica committed first: {} + {}",
        replicas[0].group_retries(),
        replicas[1].group_retries()
    );
}

#[test]
fn writers_on_the_same_cohort_get_409_exactly_when_it_changed() {
    const PER_REPLICA: usize = 2;
    const ROUNDS: usize = 10;
    let Some(replicas) = two_replicas("retry_same") else {
        return;
    };
    let targets = targets(&replicas[0]);
    let (contested, other) = (targets[0].clone(), targets[1].clone());
    let contested_action = set_percent(&contested, 0, None, "").action;
    let other_action = set_percent(&other, 0, None, "").action;
    let start = replicas[0].state();
    for round in 0..ROUNDS {
        for cp in &replicas {
            cp.follow_store().unwrap();
        }
        // Everybody reads the same revision, then decides on it at once.
        let read = contested_action.target_revision(&replicas[0].state());
        assert_eq!(read, contested_action.target_revision(&replicas[1].state()));
        let go = Arc::new(Barrier::new(2 * PER_REPLICA + 1));
        let mut threads = Vec::new();
        for (r, cp) in replicas.iter().enumerate() {
            for w in 0..PER_REPLICA {
                let (cp, go, target) = (cp.clone(), go.clone(), contested.clone());
                let p = (10 * round + 2 * w + r + 1) as u8;
                threads.push(std::thread::spawn(move || {
                    go.wait();
                    let req = set_percent(&target, p, Some(read), &format!("same {round}"));
                    cp.submit(&admin(), &req, None)
                }));
            }
        }
        // A writer on another flag, with the revision it read: never stale, never refused.
        let (cp, other_t) = (replicas[round % 2].clone(), other.clone());
        let other_read = other_action.target_revision(&cp.state());
        let other_p = if round % 2 == 0 { 77 } else { 78 };
        threads.push(std::thread::spawn(move || {
            go.wait();
            let req = set_percent(&other_t, other_p, Some(other_read), "other");
            cp.submit(&admin(), &req, None)
        }));
        let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let (contested_answers, other_answer) = answers.split_at(2 * PER_REPLICA);
        let won = contested_answers.iter().filter(|a| a.is_ok()).count();
        assert_eq!(won, 1, "round {round}: exactly one decision on {read} wins");
        for e in contested_answers.iter().filter_map(|a| a.as_ref().err()) {
            assert_eq!(e.kind, ErrorKind::Conflict, "round {round}: {e}");
            assert!(
                e.current_revision.is_some_and(|c| c > read),
                "round {round}: the 409 names the newer revision: {e:?}"
            );
        }
        if let Err(e) = &other_answer[0] {
            panic!("round {round}: a writer on another flag was refused: {e}");
        }
    }
    for cp in &replicas {
        cp.follow_store().unwrap();
    }
    assert_eq!(replicas[0].state(), replicas[1].state());
    let audit = replicas[1].audit(None, None, 1000).unwrap();
    let same = audit
        .iter()
        .filter(|e| e.reason.starts_with("same "))
        .count();
    let others = audit.iter().filter(|e| e.reason == "other").count();
    assert_eq!(
        (same, others),
        (ROUNDS, ROUNDS),
        "the winners, and only they, applied"
    );
    let end = replicas[0].state();
    assert_eq!(
        end.revision.0,
        start.revision.0 + 2 * ROUNDS as u64,
        "one revision per applied action"
    );
}
