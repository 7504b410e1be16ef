//! Group commit: concurrent submissions are committed together, answered only once durable,
//! published once each and in revision order; a retry inside a group applies once; a failed
//! group commit takes all of it back.

use super::*;
use crate::control::service::{ErrorKind, ServiceError, StreamMsg};
use crate::wire::{Change, Outcome};
use std::time::{Duration, Instant};

const FLAG: &str = "checkout-v2";
const COHORTS: [&str; 2] = ["eu-west", "us-east"];

fn set(cohort: &str, percent: u8) -> Action {
    Action::SetPercent {
        flag: FLAG.into(),
        env: "staging".into(),
        cohort: cohort.into(),
        percent,
    }
}

fn percent(cp: &ControlPlane, cohort: &str) -> u8 {
    cp.state().flags[FLAG].environments[&crate::domain::EnvKey::from("staging")]
        .cohort(cohort)
        .map_or(255, |c| c.percent)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Submit `subs` from one thread each while the service lock is held, each queued after the
/// one before; release the lock once all are queued, so they form one group in this order.
fn submit_as_one_group(
    cp: &ControlPlane,
    subs: Vec<(ActionRequest, Option<&str>)>,
) -> Vec<Result<Outcome, ServiceError>> {
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let holder = s.spawn(move || {
            cp.with_inner(|_| {
                let _ = held_tx.send(());
                let _ = release_rx.recv();
            })
        });
        held_rx.recv().unwrap_or_else(|e| panic!("{e}"));
        let op = person("ic", Role::Operator);
        let mut answers = Vec::new();
        for (i, (r, key)) in subs.into_iter().enumerate() {
            let op = op.clone();
            answers.push(s.spawn(move || cp.submit(&op, &r, key)));
            wait_until("the submission is queued", || cp.queued() > i);
        }
        let _ = release_tx.send(());
        holder.join().unwrap_or_else(|_| panic!("holder"));
        answers
            .into_iter()
            .map(|a| a.join().unwrap_or_else(|_| panic!("submitter")))
            .collect()
    })
}

fn changes(rx: &mut tokio::sync::broadcast::Receiver<StreamMsg>) -> Vec<Change> {
    let mut out = Vec::new();
    while let Ok(m) = rx.try_recv() {
        if let StreamMsg::Change(c) = m {
            let change: Change = serde_json::from_str(c.json()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(change.revision, c.revision);
            out.push(change);
        }
    }
    out
}

#[test]
fn concurrent_actions_are_all_durable_contiguous_and_published_once_in_order() {
    let (dir, cp, _clock) = plane("calm");
    let mut rx = cp.subscribe();
    let r0 = cp.revision().0;
    // Staging starts at 100 %: every percent below is a change.
    let (threads, each) = (8u64, 12u64);
    let answers: Vec<Vec<Outcome>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let cp = &cp;
                s.spawn(move || {
                    let op = person(&format!("op{t}"), Role::Operator);
                    (0..each)
                        // Distinct percents per thread and step: never "already at" that value.
                        .map(|i| {
                            let action = set(COHORTS[(i % 2) as usize], (1 + t * each + i) as u8);
                            cp.submit(&op, &req(action), None)
                                .unwrap_or_else(|e| panic!("{e}"))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("thread")))
            .collect()
    });
    let n = threads * each;
    // Each thread's own actions were answered in its order.
    for mine in &answers {
        assert!(
            mine.windows(2).all(|w| w[0].revision < w[1].revision),
            "{mine:?}"
        );
    }
    let mut all: Vec<&Outcome> = answers.iter().flatten().collect();
    all.sort_by_key(|o| o.revision);
    let revisions: Vec<u64> = all.iter().map(|o| o.revision.0).collect();
    assert_eq!(
        revisions,
        (r0 + 1..=r0 + n).collect::<Vec<_>>(),
        "one revision per action, none skipped"
    );
    // The stream: every change once, in revision order, each with its own audit event.
    let published = changes(&mut rx);
    assert_eq!(
        published.iter().map(|c| c.revision.0).collect::<Vec<_>>(),
        revisions
    );
    for (c, o) in published.iter().zip(&all) {
        assert_eq!(
            c.audit.iter().map(|e| Some(e.id)).collect::<Vec<_>>(),
            vec![o.audit_id]
        );
    }
    // The last action on each cohort is what is live.
    let last = |cohort: &str| {
        all.iter().rev().find_map(|o| match &o.action {
            Action::SetPercent {
                cohort: c, percent, ..
            } if c.as_str() == cohort => Some(*percent),
            _ => None,
        })
    };
    for cohort in COHORTS {
        assert_eq!(Some(percent(&cp, cohort)), last(cohort));
    }
    // And durable: a reopened store holds all of it.
    let state = cp.state();
    drop(cp);
    let cp = ControlPlane::open(
        Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}")),
        Arc::new(ManualClock::new(t0())),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cp.revision().0, r0 + n);
    assert_eq!(cp.state().flags[FLAG], state.flags[FLAG]);
    let audit = cp
        .audit(Some(FLAG), None, 1000)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.kind == AuditKind::Applied)
            .count() as u64,
        n
    );
}

#[test]
fn actions_queued_behind_a_busy_lock_commit_as_one_group_in_queue_order() {
    let (_d, cp, _clock) = plane("calm");
    let (groups, _) = cp.group_stats();
    let r0 = cp.revision().0;
    let subs = (0..10u8)
        .map(|i| (req(set(COHORTS[usize::from(i % 2)], 10 + i)), None))
        .collect();
    let answers = submit_as_one_group(&cp, subs);
    let revisions: Vec<u64> = answers
        .iter()
        .map(|a| {
            a.as_ref()
                .map(|o| o.revision.0)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    assert_eq!(revisions, (r0 + 1..=r0 + 10).collect::<Vec<_>>());
    assert_eq!(
        cp.group_stats(),
        (groups + 1, 10),
        "ten queued actions, one commit"
    );
    assert_eq!((percent(&cp, "eu-west"), percent(&cp, "us-east")), (18, 19));
}

#[test]
fn a_retry_inside_the_same_group_gets_the_same_outcome_and_applies_once() {
    let (_d, cp, _clock) = plane("calm");
    let (r0, us_east) = (cp.revision().0, percent(&cp, "us-east"));
    let first = req(set("eu-west", 42));
    let mut subs: Vec<_> = (0..5).map(|_| (first.clone(), Some("key-1"))).collect();
    subs.insert(2, (req(set("us-east", 7)), Some("key-1")));
    let answers = submit_as_one_group(&cp, subs);
    assert_eq!(
        answers[2].as_ref().map_err(|e| e.code).err(),
        Some("idempotency_key_reused")
    );
    let outcomes: Vec<&Outcome> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(outcomes.len(), 5);
    assert_eq!(
        outcomes.iter().filter(|o| !o.replayed).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| o.revision.0 == r0 + 1 && o.audit_id == outcomes[0].audit_id)
    );
    assert_eq!(cp.revision().0, r0 + 1, "applied once");
    assert_eq!(percent(&cp, "us-east"), us_east);
    // A later retry gets the stored answer; the key stays bound to its first request.
    let op = person("ic", Role::Operator);
    let again = cp
        .submit(&op, &first, Some("key-1"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((again.revision.0, again.replayed), (r0 + 1, true));
    let audit = cp
        .audit(Some(FLAG), None, 100)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.request_id.as_deref() == Some("key-1"))
            .count(),
        1
    );
}

#[test]
fn a_failed_group_commit_fails_every_action_and_changes_nothing() {
    let (_d, cp, _clock) = plane("calm");
    let op = person("ic", Role::Operator);
    let before = cp
        .submit(&op, &req(set("eu-west", 11)), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let (state, approvals) = (cp.state(), cp.approvals());
    let mut rx = cp.subscribe();
    cp.with_inner(|inner| inner.store.fail_next_commit());
    let subs = vec![
        (req(set("eu-west", 12)), Some("key-f")),
        (req(set("us-east", 13)), None),
        (req(set("eu-west", 11)), None),
        // Protected production: an approval request, staged in the same group.
        (
            req(Action::SetPercent {
                flag: FLAG.into(),
                env: "production".into(),
                cohort: "eu-west".into(),
                percent: 99,
            }),
            None,
        ),
    ];
    let answers = submit_as_one_group(&cp, subs);
    let codes: Vec<_> = answers
        .iter()
        .map(|a| a.as_ref().map_err(|e| (e.kind, e.code)).err())
        .collect();
    assert_eq!(codes, vec![Some((ErrorKind::Internal, "store_failed")); 4]);
    assert_eq!(cp.state(), state, "nothing staged stayed live");
    assert_eq!(cp.approvals(), approvals);
    assert!(changes(&mut rx).is_empty(), "nothing published");
    // The next action takes the next revision and audit id; the failed key is free again.
    let next = cp
        .submit(&op, &req(set("eu-west", 12)), Some("key-f"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (next.revision.0, next.replayed),
        (before.revision.0 + 1, false)
    );
    assert_eq!(next.audit_id.map(|a| a.0), before.audit_id.map(|a| a.0 + 1));
    assert_eq!(
        changes(&mut rx)
            .iter()
            .map(|c| c.revision)
            .collect::<Vec<_>>(),
        vec![next.revision]
    );
}
