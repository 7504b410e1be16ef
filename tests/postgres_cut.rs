//! A commit whose answer never came, on one real PostgreSQL (`scripts/postgres`), through a
//! proxy that finds the transaction's `COMMIT` on the wire: applied but unconfirmed, held on a
//! half-open link, or unconfirmed with the database out of reach. The caller is told what the
//! database holds — applied, nothing applied, or "may have been applied" — never "nothing
//! changed" when something did, and a session left in its transaction does not block the next
//! commit. Without `FLAGTOP_TEST_PG_URL` they skip loudly, and fail under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::pg::{fresh_db, pg_store};
use common::pg_cut::{OnCommit, PgCut, upstream_of};
use flagtop::control::clock::SystemClock;
use flagtop::control::error::{ErrorKind, ServiceError};
use flagtop::control::service::{Caller, ControlPlane};
use flagtop::domain::{Actor, Role};
use flagtop::wire::ActionRequest;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The test database's URL and password, for a second replica.
struct Db {
    url: String,
    pw: String,
}

struct Rig {
    db: Db,
    rt: tokio::runtime::Runtime,
    proxy: PgCut,
    cp: Arc<ControlPlane>,
    /// A session straight to the database (not through the proxy).
    direct: tokio_postgres::Client,
}

/// A control plane whose store reaches the test database only through the proxy.
fn rig(name: &str) -> Option<Rig> {
    let (url, pw) = fresh_db(name)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let proxy = rt.block_on(PgCut::start(upstream_of(&url)));
    let seed = flagtop::control::scenario::build("calm", chrono::Utc::now()).unwrap();
    let cp = ControlPlane::open(
        pg_store(&proxy.url_for(&url), &pw),
        Arc::new(SystemClock),
        Some(seed),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config = flagtop::control::store::postgres::config(&url, Some(pw.clone())).unwrap();
    let direct = rt.block_on(async {
        let (client, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    });
    Some(Rig {
        db: Db { url, pw },
        rt,
        proxy,
        cp,
        direct,
    })
}

fn freeze(cp: &ControlPlane, env: &str, frozen: bool) -> Result<u64, ServiceError> {
    let kind = if frozen { "freeze" } else { "unfreeze" };
    let req: ActionRequest = serde_json::from_value(json!({
        "action": {"type": kind, "env": env},
        "reason": "a commit cut off",
    }))
    .unwrap();
    let admin = Caller::token(Actor::from_token("alice", Role::Admin), "api", "test");
    cp.submit(&admin, &req, None).map(|o| o.revision.0)
}

impl Rig {
    fn freeze(&self, env: &str, frozen: bool) -> Result<u64, ServiceError> {
        freeze(&self.cp, env, frozen)
    }

    /// The newest revision in the database's changes table.
    fn db_revision(&self) -> i64 {
        self.rt
            .block_on(self.direct.query_one(
                "SELECT coalesce(max(revision), 0) FROM flagtop_changes",
                &[],
            ))
            .unwrap()
            .get(0)
    }

    /// Sessions on this database left inside a transaction.
    fn in_transaction(&self) -> i64 {
        self.rt
            .block_on(self.direct.query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND state LIKE 'idle in transaction%'",
                &[],
            ))
            .unwrap()
            .get(0)
    }
}

#[test]
fn a_commit_whose_answer_was_lost_is_found_applied() {
    let Some(r) = rig("cut_applied") else {
        return;
    };
    let before = r.db_revision();
    r.proxy.arm(OnCommit::LoseAnswer);
    let rev = r
        .freeze("staging", true)
        .unwrap_or_else(|e| panic!("the commit was applied, but the caller was told: {e}"));
    assert!(r.proxy.fired(), "the proxy never saw the COMMIT");
    assert_eq!(
        r.db_revision(),
        before + 1,
        "exactly one change was applied"
    );
    assert_eq!(i64::try_from(rev).unwrap(), before + 1);
    assert!(r.cp.state().frozen.iter().any(|e| e.as_str() == "staging"));
    // The replica goes on committing on its new revision.
    r.freeze("staging", false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.db_revision(), before + 2);
}

#[test]
fn a_commit_held_on_a_half_open_link_is_ended_and_nothing_applied() {
    let Some(r) = rig("cut_held") else {
        return;
    };
    let before = r.db_revision();
    r.proxy.arm(OnCommit::Hold);
    let e = r
        .freeze("staging", true)
        .expect_err("the COMMIT never reached the server");
    assert!(r.proxy.fired(), "the proxy never saw the COMMIT");
    assert_eq!(
        (e.kind, e.code),
        (ErrorKind::Unavailable, "store_unavailable"),
        "{e}"
    );
    assert!(e.message.contains("nothing was applied"), "{e}");
    assert_eq!(r.db_revision(), before, "nothing was applied");
    // The session the server kept (holding the meta row and the commit turn) was ended — by
    // the replica's settling, or by the server's idle-in-transaction timeout, whichever came
    // first (both take about QUERY_TIMEOUT here, so this does not tell them apart) ...
    assert_eq!(
        r.in_transaction(),
        0,
        "a cut session is still in its transaction"
    );
    // ... so the next commit goes through at once, not after waiting out its lock.
    r.freeze("staging", true)
        .unwrap_or_else(|e| panic!("the next commit was blocked: {e}"));
    assert_eq!(r.db_revision(), before + 1);
}

#[test]
fn a_commit_that_cannot_be_settled_says_it_may_have_been_applied() {
    let Some(r) = rig("cut_unsure") else {
        return;
    };
    let before = r.db_revision();
    let live = r.cp.revision();
    r.proxy.arm(OnCommit::LoseAll);
    let e = r
        .freeze("staging", true)
        .expect_err("the database was out of reach: the commit cannot be confirmed");
    assert!(r.proxy.fired(), "the proxy never saw the COMMIT");
    assert_eq!(
        (e.kind, e.code),
        (ErrorKind::OutcomeUnknown, "outcome_unknown"),
        "{e}"
    );
    assert!(e.message.contains("may have been applied"), "{e}");
    assert!(!e.message.contains("nothing was applied"), "{e}");
    // It was applied; once the database is back the replica shows it.
    assert_eq!(r.db_revision(), before + 1);
    r.proxy.refuse(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while r.cp.revision() == live {
        assert!(
            Instant::now() < deadline,
            "the replica never took in the change it could not confirm"
        );
        let _ = r.cp.follow_store();
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(r.cp.state().frozen.iter().any(|e| e.as_str() == "staging"));
}

#[test]
fn a_replica_lost_in_the_middle_of_a_commit_does_not_block_the_others() {
    let Some(r) = rig("cut_lost") else {
        return;
    };
    let before = r.db_revision();
    // Another replica, straight on the database.
    let other = ControlPlane::open(pg_store(&r.db.url, &r.db.pw), Arc::new(SystemClock), None)
        .unwrap_or_else(|e| panic!("{e}"));
    // The first replica's link goes half-open inside its commit, and nothing of it can reach
    // the database again: its session sits in its transaction holding the meta row, and only
    // the server can end it.
    r.proxy.arm(OnCommit::HoldAll);
    let e = r
        .freeze("staging", true)
        .expect_err("the commit never got through");
    assert!(r.proxy.fired(), "the proxy never saw the COMMIT");
    assert_eq!(e.code, "outcome_unknown", "{e}");
    // The other replica commits (the server ended the session left in its transaction) ...
    freeze(&other, "production", true)
        .unwrap_or_else(|e| panic!("a lost replica's session blocked the others: {e}"));
    // ... and what the lost one sent was never applied.
    assert_eq!(r.db_revision(), before + 1);
    assert_eq!(r.in_transaction(), 0);
}
