//! The team store against a real PostgreSQL 15 (started by `scripts/postgres`, which
//! `scripts/test` runs): the same behaviour tests as the embedded store, over the `Backend`
//! trait; then real `flagtop serve` replicas sharing one database. Each test makes a database of
//! its own, so they run in parallel. Without `FLAGTOP_TEST_PG_URL` they skip loudly, and fail
//! under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::{Http, Server};
use flagtop::control::clock::SystemClock;
use flagtop::control::service::{Caller, ControlPlane};
use flagtop::control::store::postgres::{self, PgStore};
use flagtop::control::store::{Backend, Store};
use flagtop::domain::{Actor, Role};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The test server's URL and password, or None (skipped) when none was started.
fn server() -> Option<(String, String)> {
    match (
        std::env::var("FLAGTOP_TEST_PG_URL"),
        std::env::var("FLAGTOP_TEST_PG_PASSWORD"),
    ) {
        (Ok(u), Ok(p)) => Some((u, p)),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "FLAGTOP_TEST_PG_URL is not set under CI: scripts/test must start PostgreSQL (scripts/postgres start)"
            )
        }
        _ => {
            eprintln!(
                "SKIPPED: no PostgreSQL (run scripts/postgres start and source .ci/tmp/postgres/env)"
            );
            None
        }
    }
}

/// A new, empty database for one test; its URL (no password in it) and the password.
fn fresh_db(name: &str) -> Option<(String, String)> {
    let (url, password) = server()?;
    let db = format!("flagtop_{name}_{}", std::process::id());
    // On a thread of its own: async tests call this too.
    let (u, p, d) = (url.clone(), password.clone(), db.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let config = postgres::config(&u, Some(p)).unwrap();
            let (client, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {d} WITH (FORCE)"))
                .await
                .unwrap();
            client
                .batch_execute(&format!("CREATE DATABASE {d}"))
                .await
                .unwrap();
        });
    })
    .join()
    .unwrap();
    let base = url.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    Some((format!("{base}/{db}"), password))
}

fn pg_store(url: &str, password: &str) -> PgStore {
    PgStore::open(postgres::config(url, Some(password.to_string())).unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn operator() -> Caller {
    Caller::token(Actor::from_token("alice", Role::Operator), "api", "test")
}

fn rollback(cohort: &str) -> flagtop::wire::ActionRequest {
    serde_json::from_value(json!({
        "action": {"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": cohort},
        "reason": "p95 breach"
    }))
    .unwrap()
}

/// The behaviour both stores must have: seed once, commit, replay idempotency, tokens, audit,
/// and the same state, audit and epoch after reopening.
fn behaviour(open: &dyn Fn() -> Arc<dyn Backend>) {
    let clock = Arc::new(SystemClock);
    let store = open();
    assert!(!store.initialised().unwrap());
    let seed = flagtop::control::scenario::build("demo", chrono::Utc::now()).unwrap();
    let cp = ControlPlane::open(store, clock.clone(), Some(seed)).unwrap_or_else(|e| panic!("{e}"));
    let epoch = cp.epoch().to_string();
    let secret = cp
        .add_token(&Caller::system(), "bob", Role::Approver)
        .unwrap();
    let first = cp
        .submit(&operator(), &rollback("eu-west"), Some("key-1"))
        .unwrap();
    let again = cp
        .submit(&operator(), &rollback("eu-west"), Some("key-1"))
        .unwrap();
    assert_eq!(
        first.audit_id, again.audit_id,
        "the same key is applied once"
    );
    let state = cp.state();
    let audit = cp.audit(None, None, 1000).unwrap();
    let flag_audit = cp.audit(Some("checkout-v2"), None, 1000).unwrap();
    assert!(
        flag_audit
            .iter()
            .all(|e| e.flag.as_ref().is_some_and(|f| f.as_str() == "checkout-v2"))
    );
    let approvals = cp.approvals().len();
    assert!(cp.authenticate(&secret).is_some());
    drop(cp);

    let store = open();
    assert!(store.initialised().unwrap());
    let cp = ControlPlane::open(store, clock, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cp.epoch(), epoch, "the epoch is made once");
    assert_eq!(cp.state(), state, "the same state after reopening");
    assert_eq!(cp.audit(None, None, 1000).unwrap(), audit);
    assert_eq!(cp.approvals().len(), approvals);
    assert_eq!(
        cp.authenticate(&secret).map(|a| a.name),
        Some("bob".to_string())
    );
    let replay = cp
        .submit(&operator(), &rollback("eu-west"), Some("key-1"))
        .unwrap();
    assert_eq!(
        replay.audit_id, first.audit_id,
        "the key is remembered across a restart"
    );
    let older = cp.audit(None, Some(audit[0].id.0), 1000).unwrap();
    assert_eq!(older.len(), audit.len() - 1, "paging with before=");
}

#[test]
fn embedded_store_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    behaviour(&move || Arc::new(Store::open(&path).unwrap_or_else(|e| panic!("{e}"))));
}

#[test]
fn postgres_store_behaviour() {
    let Some((url, pw)) = fresh_db("behaviour") else {
        return;
    };
    behaviour(&move || Arc::new(pg_store(&url, &pw)));
}

#[test]
fn two_stores_on_one_database_never_commit_the_same_revision() {
    let Some((url, pw)) = fresh_db("revision") else {
        return;
    };
    let clock = Arc::new(SystemClock);
    let seed = flagtop::control::scenario::build("demo", chrono::Utc::now()).unwrap();
    let a = ControlPlane::open(pg_store(&url, &pw), clock.clone(), Some(seed)).unwrap();
    let b = ControlPlane::open(pg_store(&url, &pw), clock, None).unwrap();
    assert_eq!(
        a.epoch(),
        b.epoch(),
        "replicas of one database share its epoch"
    );
    a.submit(&operator(), &rollback("eu-west"), None).unwrap();
    // B staged on an older revision: refused as a conflict, nothing written, and it caught up.
    let e = b
        .submit(&operator(), &rollback("us-east"), None)
        .unwrap_err();
    assert_eq!(e.kind, flagtop::control::error::ErrorKind::Conflict, "{e}");
    assert_eq!(b.revision(), a.revision(), "B caught up");
    let ok = b.submit(&operator(), &rollback("us-east"), None).unwrap();
    assert_eq!(ok.revision.0, a.revision().0 + 1);
    assert_eq!(a.follow_store().unwrap(), 1);
    assert_eq!(a.state(), b.state());
}

/// `flagtop serve --store` replicas on one database.
fn replica(url: &str, pw: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("FLAGTOP_STORE", url.to_string()),
        ("PGPASSWORD", pw.to_string()),
    ];
    let s = Server::start_env(dir.path(), "127.0.0.1:0", &["--no-simulate"], &envs);
    (dir, s)
}

async fn wait_for(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_actions_streams_conflicts_and_idempotency() {
    let Some((url, pw)) = fresh_db("replicas") else {
        return;
    };
    let (_da, a) = replica(&url, &pw);
    let admin = a
        .admin
        .clone()
        .expect("the first replica mints the admin token");
    let (_db, b) = replica(&url, &pw);
    assert!(
        b.admin.is_none(),
        "the second replica finds the token in the database"
    );
    let (ha, hb) = (Http::new(&a.url), Http::new(&b.url));
    let alice = ha.token(&admin, "alice", "operator").await;
    assert_eq!(
        hb.get("/v1/whoami", &alice).await.status,
        200,
        "a token minted on A works on B"
    );

    // B's stream sees an action taken on A, with an id that resumes on either replica.
    let resp = hb
        .client
        .get(format!("{}/v1/stream", b.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let r = ha.post("/v1/actions", &alice, json!({"action": {"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": "eu-west"}, "reason": "breach"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rev = r.body["revision"].as_u64().unwrap();
    let mut resp = resp;
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains(&format!("id: {rev}@")) && Instant::now() < deadline {
        if let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(Duration::from_secs(1), resp.chunk()).await
        {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(
        seen.contains(&format!("id: {rev}@")),
        "B's stream carries revision {rev}: {seen}"
    );
    let sa = ha.get("/v1/snapshot", &alice).await.body;
    let sb = hb.get("/v1/snapshot", &alice).await.body;
    assert_eq!(sa["flags"], sb["flags"]);

    // Conflicting actions on A and B, decided on the same revision: exactly one wins.
    let snap = ha.get("/v1/snapshot", &alice).await.body;
    let frev = common::flag_revision(&snap, "checkout-v2");
    let body = |cohort: &str| json!({"action": {"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": cohort}, "reason": "breach", "expected_revision": frev});
    let (ra, rb) = tokio::join!(
        ha.post("/v1/actions", &alice, body("us-east")),
        hb.post("/v1/actions", &alice, body("us-east"))
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "A: {:?} B: {:?}", ra.body, rb.body);

    // The same idempotency key sent to both at once: applied once.
    let act = json!({"action": {"type": "kill", "flag": "search-ranking-v3", "env": "staging"}, "reason": "kill it"});
    async fn send(h: &Http, alice: &str, act: &serde_json::Value) -> common::Reply {
        h.call(
            "POST",
            "/v1/actions",
            Some(alice),
            Some(act.clone()),
            &[("idempotency-key", "same-key")],
        )
        .await
    }
    let (ra, rb) = tokio::join!(send(&ha, &alice, &act), send(&hb, &alice, &act));
    let ids: Vec<_> = [&ra, &rb]
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.body["audit_id"].as_u64())
        .collect();
    assert!(!ids.is_empty(), "A: {:?} B: {:?}", ra.body, rb.body);
    // A loser was told to retry: with the same key it gets the winner's answer.
    let (ra, rb) = tokio::join!(send(&ha, &alice, &act), send(&hb, &alice, &act));
    assert_eq!(
        (ra.status, rb.status),
        (200, 200),
        "A: {:?} B: {:?}",
        ra.body,
        rb.body
    );
    assert_eq!(ra.body["audit_id"], rb.body["audit_id"]);
    assert!(ids.iter().all(|i| *i == ra.body["audit_id"].as_u64()));
    let audit = ha.get("/v1/audit?limit=1000", &alice).await.body;
    let kills = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "kill it")
        .count();
    assert_eq!(kills, 1, "applied once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_a_replica_loses_nothing_acknowledged_and_doubles_nothing() {
    let Some((url, pw)) = fresh_db("kill9") else {
        return;
    };
    let (_da, a) = replica(&url, &pw);
    let admin = a.admin.clone().unwrap();
    let (_db, b) = replica(&url, &pw);
    let hb = Http::new(&b.url);
    // Writers on both replicas, each request with its own key, each cohort touched once.
    let snap = hb.get("/v1/snapshot", &admin).await.body;
    let mut targets: Vec<(String, String)> = Vec::new();
    for f in snap["flags"].as_array().unwrap() {
        for env in ["staging", "development"] {
            for c in f["environments"][env]["cohorts"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if c["rolled_back"] == false {
                    targets.push((
                        format!("{}|{env}", f["key"].as_str().unwrap()),
                        c["name"].as_str().unwrap().to_string(),
                    ));
                }
            }
        }
    }
    assert!(targets.len() >= 4, "enough targets: {targets:?}");
    let reqs: Vec<(String, serde_json::Value)> = targets
        .iter()
        .map(|(fe, c)| {
            let (f, env) = fe.split_once('|').unwrap();
            (format!("k-{fe}-{c}"), json!({"action": {"type": "rollback", "flag": f, "env": env, "cohort": c}, "reason": "crash"}))
        })
        .collect();
    let urls = [a.url.clone(), b.url.clone()];
    let mut tasks = Vec::new();
    for (i, (key, body)) in reqs.iter().cloned().enumerate() {
        let (url, admin) = (urls[i % 2].clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10 * i as u64)).await;
            let h = Http::new(&url);
            let r = h
                .client
                .post(format!("{url}/v1/actions"))
                .bearer_auth(&admin)
                .header("idempotency-key", &key)
                .json(&body)
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 200 => Some(key),
                _ => None,
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    a.kill9();
    let mut acked = Vec::new();
    for t in tasks {
        if let Some(k) = t.await.unwrap() {
            acked.push(k);
        }
    }
    // Retry everything on the survivor with its key: each applied exactly once.
    for (key, body) in &reqs {
        let r = hb
            .call(
                "POST",
                "/v1/actions",
                Some(&admin),
                Some(body.clone()),
                &[("idempotency-key", key)],
            )
            .await;
        let r = if r.status == 409 {
            hb.call(
                "POST",
                "/v1/actions",
                Some(&admin),
                Some(body.clone()),
                &[("idempotency-key", key)],
            )
            .await
        } else {
            r
        };
        assert_eq!(r.status, 200, "{key}: {:?}", r.body);
    }
    let audit = hb.get("/v1/audit?limit=1000", &admin).await.body;
    let crash = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "crash")
        .count();
    assert_eq!(
        crash,
        reqs.len(),
        "every request applied exactly once ({} acknowledged before the kill)",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_answers_503_then_lives_again() {
    let Some((url, pw)) = fresh_db("restart") else {
        return;
    };
    let (Ok(pgdata), Ok(pgbin)) = (
        std::env::var("FLAGTOP_TEST_PGDATA"),
        std::env::var("FLAGTOP_TEST_PGBIN"),
    ) else {
        panic!("scripts/postgres sets FLAGTOP_TEST_PGDATA and FLAGTOP_TEST_PGBIN")
    };
    // Other tests share this server: this one runs alone in its own process (see scripts/test).
    if std::env::var("FLAGTOP_TEST_PG_RESTART").is_err() {
        eprintln!(
            "SKIPPED here: restarting the shared PostgreSQL needs FLAGTOP_TEST_PG_RESTART=1 (scripts/test runs it alone)"
        );
        return;
    }
    let (_d, a) = replica(&url, &pw);
    let admin = a.admin.clone().unwrap();
    let h = Http::new(&a.url);
    let pg_ctl = |verb: &str| {
        let s = std::process::Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{pgbin}/pg_ctl"),
                "-D",
                &pgdata,
                "-w",
                "-m",
                "fast",
                verb,
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(s.success(), "pg_ctl {verb}");
    };
    pg_ctl("stop");
    let act = json!({"action": {"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": "eu-west"}, "reason": "while down"});
    let r = h.post("/v1/actions", &admin, act.clone()).await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(
        h.get("/v1/snapshot", &admin).await.status,
        200,
        "snapshots still answer (from memory)"
    );
    // Start it again as scripts/postgres did.
    let port = server()
        .unwrap()
        .0
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let sock = std::path::Path::new(&pgdata)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let opts = format!("-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=300");
    let s = std::process::Command::new("runuser")
        .args([
            "-u",
            "postgres",
            "--",
            &format!("{pgbin}/pg_ctl"),
            "-D",
            &pgdata,
            "-w",
            "-l",
            &format!("{sock}/log"),
            "-o",
            &opts,
            "start",
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(s.success());
    wait_for("writes after the restart", async || {
        h.post("/v1/actions", &admin, act.clone()).await.status == 200
    })
    .await;
    let audit = h.get("/v1/audit?limit=1000", &admin).await.body;
    let n = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "while down")
        .count();
    assert_eq!(n, 1, "the refused write was never half-applied");
}

#[test]
fn migrate_copies_an_embedded_store_and_verifies_it() {
    let Some((url, pw)) = fresh_db("migrate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let seed = flagtop::control::scenario::build("demo", chrono::Utc::now()).unwrap();
    let cp = ControlPlane::open(
        Store::open(dir.path()).unwrap(),
        Arc::new(SystemClock),
        Some(seed),
    )
    .unwrap();
    let secret = cp
        .add_token(&Caller::system(), "bob", Role::Approver)
        .unwrap();
    let applied = cp
        .submit(&operator(), &rollback("eu-west"), Some("key-1"))
        .unwrap();
    let (state, audit, approvals) = (
        cp.state(),
        cp.audit(None, None, 1000).unwrap(),
        cp.approvals().len(),
    );
    drop(cp);

    // A password in --to is refused (argv is public); PGPASSWORD carries it.
    let with_pw = url.replacen("postgres@", &format!("postgres:{pw}@"), 1);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["migrate", "--from"])
        .arg(dir.path())
        .args(["--to", &with_pw])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("password"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["migrate", "--from"])
        .arg(dir.path())
        .args(["--to", &url])
        .env("PGPASSWORD", &pw)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains("MISMATCH") && stdout.contains("audit events"),
        "{stdout}"
    );

    let cp = ControlPlane::open(pg_store(&url, &pw), Arc::new(SystemClock), None).unwrap();
    assert_eq!(cp.state(), state);
    assert_eq!(cp.audit(None, None, 1000).unwrap(), audit);
    assert_eq!(cp.approvals().len(), approvals);
    assert!(cp.authenticate(&secret).is_some());
    assert_eq!(
        cp.submit(&operator(), &rollback("eu-west"), Some("key-1"))
            .unwrap()
            .audit_id,
        applied.audit_id,
        "idempotency copied"
    );
    // A second migrate into the same database is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["migrate", "--from"])
        .arg(dir.path())
        .args(["--to", &url])
        .env("PGPASSWORD", &pw)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

fn runs_engine(data: &std::path::Path) -> bool {
    std::fs::read_to_string(data.join("flagtop.log"))
        .is_ok_and(|l| l.contains("this replica runs the engine"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_engines_replica_hands_the_engine_to_another() {
    let Some((url, pw)) = fresh_db("engine") else {
        return;
    };
    let (da, a) = replica(&url, &pw);
    wait_for("A to take the engine", async || runs_engine(da.path())).await;
    let (db, b) = replica(&url, &pw);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!runs_engine(db.path()), "one engine while A lives");
    let killed = Instant::now();
    a.kill9();
    wait_for("B to take the engine", async || runs_engine(db.path())).await;
    let took = killed.elapsed();
    eprintln!("engine failover after kill -9: {took:?}");
    assert!(took < Duration::from_secs(5), "took over in {took:?}");
    drop(b);
}
