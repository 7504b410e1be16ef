//! The commit turn (`TURN_LOCK`, a session-level advisory lock a replica holds after losing the
//! race for a revision) is never left held, on one real PostgreSQL (`scripts/postgres`): a
//! replica that gave up waiting for it must not be granted it afterwards by a statement still
//! waiting on the server, or every other replica's commits would wait on it for ever. Without
//! `FLAGTOP_TEST_PG_URL` it skips loudly, and fails under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::pg::{fresh_db, pg_store};
use flagtop::control::clock::SystemClock;
use flagtop::control::service::{Caller, ControlPlane};
use flagtop::control::store::Backend;
use flagtop::control::store::postgres::{self, TURN_LOCK};
use flagtop::domain::{Actor, Role};
use flagtop::wire::ActionRequest;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// A plain session on the test database, standing for another replica's connection.
fn session(rt: &tokio::runtime::Runtime, url: &str, pw: &str) -> tokio_postgres::Client {
    let config = postgres::config(url, Some(pw.to_string())).unwrap();
    rt.block_on(async {
        let (client, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    })
}

/// Requests for an advisory lock in this database that wait (are not granted yet).
fn waiting(rt: &tokio::runtime::Runtime, s: &tokio_postgres::Client) -> i64 {
    rt.block_on(s.query_one(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted",
        &[],
    ))
    .unwrap()
    .get(0)
}

#[test]
fn a_turn_given_up_on_is_never_held_afterwards() {
    let Some((url, pw)) = fresh_db("turn_given_up") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Replica B (a control plane) and replica X's store, on one database.
    let seed = flagtop::control::scenario::build("calm", chrono::Utc::now()).unwrap();
    let b = ControlPlane::open(pg_store(&url, &pw), Arc::new(SystemClock), Some(seed))
        .unwrap_or_else(|e| panic!("{e}"));
    let x = Arc::new(pg_store(&url, &pw));
    // A third replica holds the turn.
    let holder = session(&rt, &url, &pw);
    rt.block_on(holder.execute("SELECT pg_advisory_lock($1)", &[&TURN_LOCK]))
        .unwrap();
    // X waits for the turn on its writer connection until its deadline ...
    let first = {
        let x = x.clone();
        std::thread::spawn(move || x.take_turn())
    };
    let mut polls = 0;
    while waiting(&rt, &holder) == 0 {
        polls += 1;
        assert!(
            polls < 500,
            "X's wait for the turn never showed in pg_locks"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // ... and, a second later, waits again: this wait reaches the server only when the first
    // one ends there, so X gives up on it while the server still waits for the lock.
    std::thread::sleep(Duration::from_secs(1));
    let second = {
        let x = x.clone();
        std::thread::spawn(move || x.take_turn())
    };
    assert!(
        first.join().unwrap().is_err(),
        "the turn was held: X waited in vain"
    );
    assert!(
        second.join().unwrap().is_err(),
        "the turn was held: X waited in vain"
    );
    // The holder gives the turn back. X gave up on it: X must not hold it now.
    rt.block_on(holder.execute("SELECT pg_advisory_unlock($1)", &[&TURN_LOCK]))
        .unwrap();
    // So B can commit (its commit takes the turn shared; a turn left with X would make it
    // wait out its lock timeout and fail).
    let req: ActionRequest = serde_json::from_value(json!({
        "action": {"type": "freeze", "env": "staging"},
        "reason": "after a turn given up on",
    }))
    .unwrap();
    let admin = Caller::token(Actor::from_token("alice", Role::Admin), "api", "test");
    b.submit(&admin, &req, None)
        .unwrap_or_else(|e| panic!("B could not commit after X gave up on the turn: {e}"));
    // And the turn is free for anyone to take.
    let free: bool = rt
        .block_on(holder.query_one("SELECT pg_try_advisory_lock($1)", &[&TURN_LOCK]))
        .unwrap()
        .get(0);
    assert!(free, "the commit turn is still held after X gave up on it");
}
