//! `kill -9` between commit and delivery: the outbox row is durable with the change, so the
//! restarted server delivers it, once per id.

use super::common::Http;
use super::common::receiver::{Receiver, free_addr};
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_commit_and_delivery_it_delivers_after_the_restart_once_per_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--no-simulate"]);
    let admin = server.admin.clone().unwrap();
    let http = Http::new(&server.url);
    // The receiver is down: nothing listens on its address yet.
    let addr = free_addr();
    define(
        &http,
        &admin,
        &format!("http://{addr}/hook"),
        &["freeze"],
        &[],
    )
    .await;
    let mut audit_ids = Vec::new();
    for on in [true, false, true] {
        let o = freeze(&http, &admin, on).await;
        if on {
            audit_ids.push(o["audit_id"].as_u64().unwrap());
        }
    }
    // Wait until the worker has tried (and failed) at least once: committed, not delivered.
    let mut tried = false;
    for _ in 0..100 {
        let log = log(&server, &admin);
        if log["hooks"][0]["failing"] == true {
            assert_eq!(log["hooks"][0]["queued"], 2, "{log}");
            tried = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(tried, "the worker never tried the unreachable receiver");
    // `status` says so (its view of the hooks is refreshed every second).
    let mut status = serde_json::Value::Null;
    for _ in 0..50 {
        let out = server.cli(&admin, &["status", "--json"]);
        status = serde_json::from_slice(&out.stdout).unwrap();
        if status["webhooks"][0]["failing"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let hook = &status["webhooks"][0];
    assert_eq!(
        (hook["name"].as_str(), hook["failing"].as_bool()),
        (Some("ops"), Some(true)),
        "{status}"
    );
    assert_eq!(
        hook["last_attempt"]["error"], "could not connect to the receiver",
        "{status}"
    );
    let text = server.cli(&admin, &["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("WARNING: webhook ops FAILING: attempt"),
        "{text}"
    );
    server.kill9();
    let rx = Receiver::start_on(&addr, &[]).await;
    let server = serve(dir.path(), &["--no-simulate"]);
    let got = rx.wait_for(60, |g| g.len() >= 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let ids = rx.ids();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");
    // In the order of the changes, each naming the change that made it.
    let seqs: Vec<u64> = got
        .iter()
        .map(|g| g.json()["audit_id"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, audit_ids);
    assert!(got.iter().all(signature_valid));
    // Delivered, so a further wait brings nothing again.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(rx.all().len(), 2);
    let log = log(&server, &admin);
    assert_eq!(log["hooks"][0]["queued"], 0, "{log}");
    assert_eq!(log["hooks"][0]["failing"], false, "{log}");
}
