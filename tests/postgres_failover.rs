//! Clients on two `flagtop serve --store` replicas of one real PostgreSQL database (see
//! `postgres.rs`): kill -9 of the replica a client streams from and acts on — the client moves
//! to the other, its stream is complete and in order across the failover, and nothing it sent
//! is lost or applied twice; kill -9 of the engine's replica just before a breach — the other
//! replica handles the breach, once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::Http;
use common::pg::{fresh_db, replica, runs_engine, wait_for};
use flagtop::client::Client;
use flagtop::client::stream::{StreamEvent, follow};
use flagtop::wire::ActionRequest;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A rollback of every cohort not rolled back yet in staging and development, each with its
/// own idempotency key: many independent actions that all can succeed.
fn rollbacks(snap: &serde_json::Value, reason: &str) -> Vec<(String, ActionRequest)> {
    let mut out = Vec::new();
    for f in snap["flags"].as_array().unwrap() {
        let flag = f["key"].as_str().unwrap();
        for env in ["staging", "development"] {
            for c in f["environments"][env]["cohorts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["rolled_back"] == false)
            {
                let cohort = c["name"].as_str().unwrap();
                let req = json!({"action": {"type": "rollback", "flag": flag, "env": env, "cohort": cohort}, "reason": reason});
                out.push((
                    format!("{reason}-{flag}-{env}-{cohort}"),
                    serde_json::from_value(req).unwrap(),
                ));
            }
        }
    }
    out
}

/// What the stream delivered, in order.
type Seen = Arc<Mutex<Vec<StreamEvent>>>;

fn changes(seen: &Seen) -> Vec<u64> {
    seen.lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Change(c) => Some(c.revision.0),
            _ => None,
        })
        .collect()
}

fn replicas_seen(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Replica(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_the_clients_replica_moves_it_on_with_a_complete_stream_and_nothing_doubled() {
    let Some((url, pw)) = fresh_db("failover") else {
        return;
    };
    flagtop::app::init_tls();
    let (_da, a) = replica(&url, &pw, &["--no-simulate"]);
    let admin = a.admin.clone().unwrap();
    let (_db, b) = replica(&url, &pw, &["--no-simulate"]);
    let (a_url, b_url) = (a.url.clone(), b.url.clone());
    let client = Client::replicas(&[&a_url, &b_url], &admin, "cli").unwrap();
    let snap = client.snapshot().await.unwrap();
    let start = snap.revision.0;
    let reqs = rollbacks(&serde_json::to_value(&snap).unwrap(), "failover");
    assert!(
        reqs.len() >= 6,
        "enough independent actions: {}",
        reqs.len()
    );

    let seen: Seen = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let stream = tokio::spawn(follow(client.clone(), Some(start), None, tx));
    let collect = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                seen.lock().unwrap().push(ev);
            }
        })
    };
    wait_for("the stream to connect to A", 10, async || {
        replicas_seen(&seen) == [a_url.clone()]
    })
    .await;

    // A third of the actions on A; a third in flight while A is killed; a third after.
    let third = reqs.len() / 3;
    let mut outcomes = Vec::new();
    for (key, req) in &reqs[..third] {
        outcomes.push(client.act(req, key).await.unwrap());
    }
    assert_eq!(client.base(), a_url, "still on A before the kill");
    let mut tasks = Vec::new();
    for (i, (key, req)) in reqs[third..2 * third].iter().cloned().enumerate() {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5 * i as u64)).await;
            c.act(&req, &key).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    a.kill9();
    for t in tasks {
        // Acknowledged by A, or (connection lost) resent with its key to B and answered there.
        outcomes.push(
            t.await
                .unwrap()
                .unwrap_or_else(|e| panic!("an action was lost: {e}")),
        );
    }
    for (key, req) in &reqs[2 * third..] {
        outcomes.push(client.act(req, key).await.unwrap());
    }
    assert_eq!(client.base(), b_url, "the client moved to B");
    eprintln!(
        "{} of {} answers were read back from the record on B (sent to A, answer lost)",
        outcomes.iter().filter(|o| o.replayed).count(),
        outcomes.len()
    );

    // The stream followed: it names B, and catches up to B's revision.
    let hb = Http::new(&b_url);
    let end = hb.get("/v1/snapshot", &admin).await.body["revision"]
        .as_u64()
        .unwrap();
    wait_for("the stream to reach B's revision", 15, async || {
        changes(&seen).last().is_some_and(|r| *r >= end)
    })
    .await;
    stream.abort();
    collect.abort();
    assert_eq!(replicas_seen(&seen), [a_url.clone(), b_url.clone()]);
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, StreamEvent::Reset { .. })),
        "resumed with Last-Event-ID on B, not reset"
    );
    let revs = changes(&seen);
    let want: Vec<u64> = (start + 1..=end).collect();
    assert_eq!(
        revs, want,
        "every revision once, in order, across the failover"
    );
    for o in &outcomes {
        assert!(
            revs.contains(&o.revision.0),
            "acknowledged {o:?} is in the stream"
        );
    }

    // Nothing lost, nothing doubled: one audit row per request.
    let audit = hb.get("/v1/audit?limit=1000", &admin).await.body;
    let rows: Vec<String> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "failover")
        .map(|e| e["action"].to_string())
        .collect();
    assert_eq!(rows.len(), reqs.len(), "each action applied exactly once");
    assert_eq!(
        rows.iter().collect::<BTreeSet<_>>().len(),
        reqs.len(),
        "no action twice"
    );
    let audit_ids: BTreeSet<_> = outcomes.iter().map(|o| o.audit_id).collect();
    assert_eq!(audit_ids.len(), reqs.len(), "each answer names its own row");
}

/// The demo's `checkout-v2`/`eu-west` guardrails on a replica, as (metric, status).
async fn eu_west(h: &Http, token: &str) -> Vec<(String, String)> {
    let snap = h.get("/v1/snapshot", token).await.body;
    snap["guardrails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["flag"] == "checkout-v2" && r["env"] == "production" && r["cohort"] == "eu-west"
        })
        .map(|r| {
            (
                r["metric"].as_str().unwrap_or("").to_string(),
                r["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_the_engines_replica_just_before_a_breach_leaves_it_to_the_other_once() {
    let Some((url, pw)) = fresh_db("breach") else {
        return;
    };
    // The demo with its simulated traffic: checkout-v2 degrades in eu-west from 8 s on.
    let (da, a) = replica(&url, &pw, &[]);
    let admin = a.admin.clone().unwrap();
    wait_for("A to take the engine", 10, async || runs_engine(da.path())).await;
    let (db, b) = replica(&url, &pw, &[]);
    let (ha, hb) = (Http::new(&a.url), Http::new(&b.url));
    // Just before the breach: a guardrail is warning, none breached, nothing handled yet.
    wait_for("eu-west to degrade to a warning on A", 40, async || {
        let g = eu_west(&ha, &admin).await;
        assert!(
            !g.iter().any(|(_, s)| s == "breached"),
            "breached before it was seen warning: {g:?}"
        );
        g.iter().any(|(_, s)| s == "warning")
    })
    .await;
    a.kill9();
    let safeguard = |audit: &serde_json::Value, prefix: &str| -> Vec<serde_json::Value> {
        audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["reason"].as_str().is_some_and(|r| r.starts_with(prefix)))
            .cloned()
            .collect()
    };
    let before = hb.get("/v1/audit?limit=1000", &admin).await.body;
    assert!(
        safeguard(&before, "safeguard:").is_empty(),
        "A handled nothing before it died"
    );
    wait_for("B to take the engine", 10, async || runs_engine(db.path())).await;
    // B's engine judges the degradation on its own samples and handles the breach: it pauses
    // the ladder and asks for the narrowed rollback (production needs a person's approval),
    // with the breach's evidence.
    wait_for("B to handle the breach", 60, async || {
        let audit = hb.get("/v1/audit?limit=1000", &admin).await.body;
        !safeguard(&audit, "narrowed rollback:").is_empty()
    })
    .await;
    // A few more engine ticks on the breached cohort: still handled once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let audit = hb.get("/v1/audit?limit=1000", &admin).await.body;
    let pauses = safeguard(&audit, "safeguard:");
    let rollbacks = safeguard(&audit, "narrowed rollback:");
    assert_eq!(pauses.len(), 1, "one pause: {pauses:?}");
    assert_eq!(pauses[0]["kind"], "applied");
    assert_eq!(pauses[0]["action"]["type"], "pause");
    assert_eq!(rollbacks.len(), 1, "one rollback: {rollbacks:?}");
    assert_eq!(rollbacks[0]["action"]["cohort"], "eu-west");
    let approvals = hb.get("/v1/approvals", &admin).await.body;
    let asked: Vec<_> = approvals["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == rollbacks[0]["action"])
        .collect();
    assert_eq!(asked.len(), 1, "one request: {asked:?}");
    let evidence = asked[0]["evidence"].as_array().unwrap();
    let metrics: Vec<&str> = evidence
        .iter()
        .filter_map(|e| e["metric"].as_str())
        .collect();
    assert!(
        evidence.iter().any(|e| e["status"] == "breached"),
        "the breach is its evidence: {evidence:?}"
    );
    assert_eq!(
        metrics.iter().collect::<BTreeSet<_>>().len(),
        metrics.len(),
        "each reading once: {evidence:?}"
    );
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_is_live_on_the_other_replica_after_kill_9_and_names_it() {
    let Some((url, pw)) = fresh_db("tui") else {
        return;
    };
    let (_da, a) = replica(&url, &pw, &["--no-simulate"]);
    let admin = a.admin.clone().unwrap();
    let (_db, b) = replica(&url, &pw, &["--no-simulate"]);
    let (a_url, b_url) = (a.url.clone(), b.url.clone());
    // The real binary in a PTY, given both replicas (`--backend A,B`), wide enough for the
    // whole header.
    let tui = common::pty::Tui::start(&format!("{a_url},{b_url}"), &admin, 30, 200);
    tui.wait_for("● live", 20);
    let header = |t: &common::pty::Tui| t.contents().lines().next().unwrap_or("").to_string();
    assert!(header(&tui).contains(&a_url), "on A: {}", header(&tui));
    a.kill9();
    tui.wait_for(&b_url, 15);
    let top = header(&tui);
    assert!(
        top.contains("● live") && !top.contains(&a_url),
        "live on B: {top}"
    );
    // Live for real: a change made on B reaches the screen through the resumed stream.
    let hb = Http::new(&b_url);
    let r = hb.post("/v1/actions", &admin, json!({"action": {"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": "eu-west"}, "reason": "after failover"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rev = r.body["revision"].as_u64().unwrap();
    tui.wait_for(&format!("rev {rev}"), 10);
}
