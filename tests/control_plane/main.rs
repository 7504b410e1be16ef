//! End to end: a real `flagtop serve` process driven over HTTP through the whole flow of the
//! control-plane issue, including an SSE client and kill -9 + restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod bad_input;
#[path = "../common/mod.rs"]
mod common;
mod status;
mod streams;

use common::{Http, Server, cohort, flag_revision};
use flagtop::client::Client;
use flagtop::client::stream::{StreamEvent, follow};
use serde_json::json;
use std::time::Duration;

fn rollback(cohort: &str) -> serde_json::Value {
    json!({"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": cohort})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_flow_over_http_survives_kill_9() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let alice = http.token(&admin, "alice", "operator").await;
    let bob = http.token(&admin, "bob", "approver").await;
    let viewer = http.token(&admin, "vic", "viewer").await;
    let agent = http.token(&admin, "ops-assistant-2", "agent").await;

    // An SSE client that follows every change from the start.
    let snap = http.get("/v1/snapshot", &alice).await;
    assert_eq!(snap.status, 200);
    let start_rev = snap.body["revision"].as_u64().expect("revision");
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let sse_client = Client::new(&server.url, &alice, "api").expect("client");
    let follower = tokio::spawn(follow(sse_client, Some(start_rev), None, tx));

    // Status: the demo's production state.
    assert_eq!(
        cohort(&snap.body, "checkout-v2", "production", "eu-west")["percent"],
        25
    );
    let mut acked: Vec<u64> = Vec::new(); // revisions of acknowledged changes

    // Narrowed rollback of eu-west: only eu-west changes.
    let r = http
        .post(
            "/v1/actions",
            &alice,
            json!({"action": rollback("eu-west"), "reason": "p95 breach in eu-west"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["outcome"], "applied");
    assert_eq!(r.body["reverse"]["type"], "restore");
    assert!(
        r.body["reverse_command"]
            .as_str()
            .unwrap_or("")
            .starts_with("flagtop act restore checkout-v2 eu-west --env production")
    );
    acked.push(r.body["revision"].as_u64().expect("rev"));
    let snap = http.get("/v1/snapshot", &alice).await.body;
    assert_eq!(
        cohort(&snap, "checkout-v2", "production", "eu-west")["rolled_back"],
        true
    );
    assert_eq!(
        cohort(&snap, "checkout-v2", "production", "us-east")["rolled_back"],
        false
    );
    assert_eq!(
        cohort(&snap, "checkout-v2", "production", "us-east")["percent"],
        25
    );

    // Its reverse, as returned: restoring exposure in protected production is an expansion, so
    // it becomes a request that another person approves.
    let reverse = r.body["reverse"].clone();
    let r = http
        .post(
            "/v1/actions",
            &alice,
            json!({"action": reverse, "reason": "undo: recovered"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["outcome"].as_str()),
        (202, Some("requested")),
        "{:?}",
        r.body
    );
    acked.push(r.body["revision"].as_u64().expect("rev"));
    let restore_id = r.body["approval_id"].as_str().expect("id").to_string();
    let r = http
        .post(
            &format!("/v1/approvals/{restore_id}/approve"),
            &bob,
            json!({"reason": "eu-west recovered"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    acked.push(r.body["revision"].as_u64().expect("rev"));
    let snap = http.get("/v1/snapshot", &alice).await.body;
    assert_eq!(
        cohort(&snap, "checkout-v2", "production", "eu-west")["rolled_back"],
        false
    );

    // An expansion in production becomes a request.
    let expand = json!({"type": "set_percent", "flag": "checkout-v2", "env": "production", "cohort": "us-east", "percent": 50});
    let r = http
        .post(
            "/v1/actions",
            &alice,
            json!({"action": expand, "reason": "next step for us-east"}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["outcome"], "requested");
    let id = r.body["approval_id"]
        .as_str()
        .expect("approval id")
        .to_string();
    acked.push(r.body["revision"].as_u64().expect("rev"));
    let snap = http.get("/v1/snapshot", &alice).await.body;
    assert_eq!(
        cohort(&snap, "checkout-v2", "production", "us-east")["percent"],
        25,
        "not applied before approval"
    );

    // Self-approval refused (alice is an operator; even as approver she could not approve her own).
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &alice,
            json!({"reason": "lgtm"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let bob_req = http.post("/v1/actions", &bob, json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "production", "cohort": "eu-west", "percent": 30}, "reason": "bob's own"})).await;
    assert_eq!(bob_req.status, 202);
    let bob_id = bob_req.body["approval_id"]
        .as_str()
        .expect("id")
        .to_string();
    acked.push(bob_req.body["revision"].as_u64().expect("rev"));
    let r = http
        .post(
            &format!("/v1/approvals/{bob_id}/approve"),
            &bob,
            json!({"reason": "mine"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (403, Some("self_approval"))
    );
    // An agent cannot approve either.
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &agent,
            json!({"reason": "ok"}),
        )
        .await;
    assert_eq!(r.status, 403);

    // Another identity's approval applies it.
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &bob,
            json!({"reason": "evidence looks healthy"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["outcome"], "applied");
    acked.push(r.body["revision"].as_u64().expect("rev"));
    let snap = http.get("/v1/snapshot", &alice).await.body;
    assert_eq!(
        cohort(&snap, "checkout-v2", "production", "us-east")["percent"],
        50
    );
    // Already decided: cannot be approved again.
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &bob,
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("approval_not_pending"))
    );
    // Bob's own request is rejected by him (withdrawn).
    let r = http
        .post(
            &format!("/v1/approvals/{bob_id}/reject"),
            &bob,
            json!({"reason": "withdrawn"}),
        )
        .await;
    assert_eq!(r.status, 200);
    acked.push(r.body["revision"].as_u64().expect("rev"));

    // A stale revision: decided on the flag's old revision → conflict, nothing changes.
    let stale = flag_revision(&snap, "checkout-v2") - 1;
    let r = http
        .post("/v1/actions", &alice, json!({"action": rollback("us-east"), "reason": "stale view", "expected_revision": stale}))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{:?}",
        r.body
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("changed since you looked")
    );
    let after = http.get("/v1/snapshot", &alice).await.body;
    assert_eq!(
        cohort(&after, "checkout-v2", "production", "us-east")["rolled_back"],
        false
    );
    // The current revision is accepted.
    let cur = flag_revision(&after, "checkout-v2");
    let body = json!({"action": rollback("us-east"), "reason": "us-east errors", "expected_revision": cur});
    let key = [("idempotency-key", "key-us-east-1")];
    let r1 = http
        .call(
            "POST",
            "/v1/actions",
            Some(&alice),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(r1.status, 200, "{:?}", r1.body);
    acked.push(r1.body["revision"].as_u64().expect("rev"));
    // Idempotent retry: same outcome, applied once.
    let r2 = http
        .call(
            "POST",
            "/v1/actions",
            Some(&alice),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(r2.status, 200, "{:?}", r2.body);
    assert_eq!(r2.body["audit_id"], r1.body["audit_id"]);
    assert_eq!(r2.body["replayed"], true);
    let audit = http
        .get("/v1/audit?flag=checkout-v2&limit=100", &alice)
        .await
        .body;
    let us_east_rollbacks = audit["events"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter(|e| e["kind"] == "applied" && e["action"] == rollback("us-east"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(
        us_east_rollbacks, 1,
        "a retried request must not apply twice"
    );
    // The same key with another body is refused.
    let other = json!({"action": rollback("eu-west"), "reason": "different"});
    let r = http
        .call("POST", "/v1/actions", Some(&alice), Some(other), &key)
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );

    // Bad input: each precise, each changing nothing.
    bad_input::changes_nothing(&http, &alice, &bob, &viewer, &agent).await;

    // The SSE client received every acknowledged change, in order.
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.last().copied().unwrap_or(0) < *acked.iter().max().unwrap_or(&0) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(StreamEvent::Change(c))) => seen.push(c.revision.0),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "changes in order: {seen:?}"
    );
    for rev in &acked {
        assert!(seen.contains(rev), "SSE missed revision {rev}: {seen:?}");
    }
    follower.abort();

    // Resume with Last-Event-ID: a new client resuming from the first change gets the rest.
    let (tx2, mut rx2) = tokio::sync::mpsc::channel(1024);
    let resumed = tokio::spawn(follow(
        Client::new(&server.url, &alice, "api").expect("client"),
        Some(acked[0]),
        None,
        tx2,
    ));
    let mut replay = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), rx2.recv()).await {
        if let StreamEvent::Change(c) = ev {
            replay.push(c.revision.0);
            if c.revision.0 >= *acked.iter().max().unwrap_or(&0) {
                break;
            }
        }
    }
    resumed.abort();
    assert_eq!(
        replay.first().copied(),
        Some(acked[0] + 1),
        "resume starts right after Last-Event-ID: {replay:?}"
    );

    // kill -9 and restart: nothing acknowledged is lost.
    let final_snap = http.get("/v1/snapshot", &alice).await.body;
    let audit_before = http.get("/v1/audit?limit=1000", &alice).await.body;
    let data = server.data.clone();
    server.kill9();
    let server = Server::start(&data, &["--no-simulate"]);
    assert!(
        server.admin.is_none(),
        "tokens persist: no new admin token on restart"
    );
    let http = Http::new(&server.url);
    let snap = http.get("/v1/snapshot", &alice).await;
    assert_eq!(snap.status, 200, "tokens survive a restart");
    assert_eq!(snap.body["revision"], final_snap["revision"]);
    for (c, field) in [
        ("us-east", "rolled_back"),
        ("us-east", "percent"),
        ("eu-west", "rolled_back"),
    ] {
        assert_eq!(
            cohort(&snap.body, "checkout-v2", "production", c)[field],
            cohort(&final_snap, "checkout-v2", "production", c)[field]
        );
    }
    let audit_after = http.get("/v1/audit?limit=1000", &alice).await.body;
    assert_eq!(
        audit_after["events"], audit_before["events"],
        "audit survives kill -9"
    );
    let approvals = http.get("/v1/approvals", &alice).await.body;
    assert!(
        approvals["approvals"]
            .as_array()
            .map(|a| a.iter().any(|x| x["id"] == id && x["state"] == "applied"))
            .unwrap_or(false)
    );
    // The idempotency record survives too.
    let r3 = http
        .call("POST", "/v1/actions", Some(&alice), Some(body), &key)
        .await;
    assert_eq!(
        (r3.status, &r3.body["audit_id"]),
        (200, &r1.body["audit_id"])
    );
}
