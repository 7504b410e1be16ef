//! End to end: a real `flagtop serve` process driven over HTTP through the whole flow of the
//! control-plane issue, including an SSE client and kill -9 + restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

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
    let rev_before = http.get("/v1/snapshot", &alice).await.body["revision"].clone();
    let cases: Vec<(serde_json::Value, u16, &str)> = vec![
        (
            json!({"action": {"type": "rollback", "flag": "nope", "env": "production", "cohort": "eu-west"}, "reason": "x"}),
            404,
            "unknown_flag",
        ),
        (
            json!({"action": {"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": "mars"}, "reason": "x"}),
            404,
            "unknown_cohort",
        ),
        (
            json!({"action": {"type": "rollback", "flag": "checkout-v2", "env": "moon", "cohort": "eu-west"}, "reason": "x"}),
            404,
            "unknown_environment",
        ),
        (
            json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "eu-west", "percent": 150}, "reason": "x"}),
            422,
            "percent_out_of_range",
        ),
        (
            json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "eu-west", "percent": "ten"}, "reason": "x"}),
            422,
            "invalid_request",
        ),
        (
            json!({"action": rollback("eu-west"), "reason": "   "}),
            422,
            "reason_required",
        ),
        (
            json!({"action": rollback("eu-west")}),
            422,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let r = http.post("/v1/actions", &alice, body.clone()).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(!r.body["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    let raw = http
        .client
        .post(format!("{}/v1/actions", server.url))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status().as_u16(), 400);
    let huge = format!("{{\"reason\": \"{}\"}}", "x".repeat(400_000));
    let raw = http
        .client
        .post(format!("{}/v1/actions", server.url))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status().as_u16(), 413);
    for (token, code) in [(&viewer, "forbidden"), (&agent, "forbidden")] {
        let r = http
            .post(
                "/v1/actions",
                token,
                json!({"action": rollback("eu-west"), "reason": "x"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (403, Some(code))
        );
    }
    let r = http.call("GET", "/v1/snapshot", None, None, &[]).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let r = http
        .call(
            "GET",
            &format!("/v1/snapshot?token={alice}"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("token_in_url"))
    );
    let r = http
        .post(
            "/v1/approvals/apr-none/approve",
            &bob,
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        http.get("/v1/snapshot", &alice).await.body["revision"],
        rev_before,
        "bad input changed nothing"
    );

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_carries_the_contract_fields() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["status", "--json", "--backend", &server.url])
        .env("FLAGTOP_TOKEN", &admin)
        .output()
        .expect("run status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["revision"].is_u64());
    let envs = v["environments"].as_array().expect("environments");
    assert!(
        envs.iter()
            .any(|e| e["key"] == "production" && e["protected"] == true)
    );
    let flags = v["flags"].as_array().expect("flags");
    assert_eq!(flags.len(), 5);
    let f = flags
        .iter()
        .find(|f| f["key"] == "checkout-v2")
        .expect("checkout-v2");
    assert_eq!(f["kind"], "boolean");
    let prod = &f["environments"]["production"];
    assert_eq!(prod["enabled"], true);
    let c = &prod["cohorts"][2];
    assert_eq!(
        (
            c["name"].as_str(),
            c["percent"].as_u64(),
            c["rolled_back"].as_bool()
        ),
        (Some("eu-west"), Some(25), Some(false))
    );
    assert!(prod["ladder"]["stages"].is_array());
    assert_eq!(prod["ladder"]["current"], 3);
    assert_eq!(prod["ladder"]["state"], "progressing");
    for g in prod["guardrails"].as_array().expect("guardrails") {
        for k in [
            "metric",
            "cohort",
            "value",
            "baseline",
            "threshold",
            "status",
        ] {
            assert!(g.get(k).is_some(), "guardrail lacks {k}");
        }
    }
    let a = &v["approvals"].as_array().expect("approvals")[0];
    for k in ["id", "state", "action", "reverse", "requested_by"] {
        assert!(a.get(k).is_some(), "approval lacks {k}");
    }
    assert_eq!(a["requested_by"], "ops-assistant");

    // The CLI: act --json prints outcome, audit id and a ready-to-paste reverse; exit codes.
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
            .args(args)
            .args(["--backend", &server.url])
            .env("FLAGTOP_TOKEN", &admin)
            .output()
            .expect("run")
    };
    let out = run(&[
        "act",
        "rollback",
        "checkout-v2",
        "eu-west",
        "--env",
        "production",
        "--reason",
        "p95 breach",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["outcome"], "applied");
    assert!(v["audit_id"].is_u64());
    assert_eq!(
        v["reverse_command"]
            .as_str()
            .map(|s| s
                .starts_with("flagtop act restore checkout-v2 eu-west --env production --reason")),
        Some(true)
    );
    // Undo by audit id applies the stored reverse (a restore in protected production: a request).
    let id = v["audit_id"].as_u64().expect("audit id").to_string();
    let out = run(&["act", "undo", &id, "--reason", "recovered", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let u: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (u["outcome"].as_str(), u["action"]["type"].as_str()),
        (Some("requested"), Some("restore"))
    );
    assert_eq!(u["action"]["cohort"], "eu-west");
    let out = run(&["act", "undo", "999999", "--reason", "x"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "act",
        "rollback",
        "checkout-v2",
        "eu-west",
        "--env",
        "production",
        "--reason",
        "again",
    ]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "invalid state → exit 6: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "act",
        "set-percent",
        "checkout-v2",
        "us-east",
        "150",
        "--env",
        "production",
        "--reason",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0–100"));
    let out = run(&[
        "act",
        "rollback",
        "checkout-v2",
        "eu-west",
        "--env",
        "production",
    ]);
    assert_eq!(out.status.code(), Some(2), "reason is never optional");
    let out = run(&[
        "act",
        "kill",
        "no-such-flag",
        "--env",
        "production",
        "--reason",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(5));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["status", "--backend", "http://127.0.0.1:9"])
        .env("FLAGTOP_TOKEN", "x")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(7), "unreachable → exit 7");
}

/// A dashboard's stream carries guardrail readings for the environment on screen only. Switching
/// environment reconnects at once, resuming: the new environment's current readings arrive
/// first, no change is lost or repeated, and the switch is not reported as a reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_follows_the_readings_of_the_environment_on_screen() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No simulator: production's readings (the calm scenario guards production only) change only
    // through the samples pushed below; a series nobody pushes to never changes, so after the
    // switch only the stream's opening can bring it.
    let server = Server::start(dir.path(), &["--scenario", "calm", "--no-simulate"]);
    let admin = server.admin.clone().expect("admin token");
    let http = Http::new(&server.url);
    let alice = http.token(&admin, "alice", "operator").await;
    let start_rev = http.get("/v1/snapshot", &alice).await.body["revision"]
        .as_u64()
        .expect("revision");
    let (env_tx, env_rx) = tokio::sync::watch::channel(flagtop::domain::EnvKey::from("staging"));
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let follower = tokio::spawn(follow(
        Client::new(&server.url, &alice, "tui").expect("client"),
        Some(start_rev),
        Some(env_rx),
        tx,
    ));
    // Events for `secs` seconds (or until `until` says stop).
    async fn collect(
        rx: &mut tokio::sync::mpsc::Receiver<StreamEvent>,
        secs: u64,
        until: impl Fn(&StreamEvent) -> bool,
    ) -> Vec<StreamEvent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut out = Vec::new();
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            let stop = until(&ev);
            out.push(ev);
            if stop {
                break;
            }
        }
        out
    }
    let envs = |evs: &[StreamEvent]| -> Vec<String> {
        let mut e: Vec<String> = evs
            .iter()
            .filter_map(|ev| {
                if let StreamEvent::Guardrails(g) = ev {
                    Some(g)
                } else {
                    None
                }
            })
            .flat_map(|g| g.readings.iter().map(|r| r.env.to_string()))
            .collect();
        e.dedup();
        e
    };
    // Production's readings change (the engine judges pushes every second) while staging is shown.
    for value in [0.01, 0.02, 0.03] {
        let s = json!({"samples": [
            {"flag": "checkout-v2", "env": "production", "metric": "error_rate", "cohort": "us-east", "arm": "candidate", "value": value, "count": 50},
            {"flag": "checkout-v2", "env": "production", "metric": "error_rate", "cohort": "us-east", "arm": "baseline", "value": 0.01, "count": 50}
        ]});
        assert_eq!(http.post("/v1/metrics", &alice, s).await.status, 200);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let first = collect(&mut rx, 2, |_| false).await;
    assert!(
        matches!(first.first(), Some(StreamEvent::Connected { .. })),
        "{first:?}"
    );
    assert_eq!(
        envs(&first),
        Vec::<String>::new(),
        "production's readings must not reach a stream for staging"
    );

    env_tx
        .send(flagtop::domain::EnvKey::from("production"))
        .expect("follower alive");
    let r = http.post("/v1/actions", &alice, json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "eu-west", "percent": 3}, "reason": "t"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rev = r.body["revision"].as_u64().expect("rev");
    let after = collect(&mut rx, 3, |_| false).await;
    let opening = after.iter().find_map(|ev| {
        if let StreamEvent::Guardrails(g) = ev {
            Some(g)
        } else {
            None
        }
    });
    let series = |metric: &str, cohort: &str| {
        opening.and_then(|g| {
            g.readings
                .iter()
                .find(|r| r.metric == metric && r.cohort.as_str() == cohort)
        })
    };
    assert_eq!(
        series("error_rate", "us-east").map(|r| r.samples),
        Some(150),
        "the readings pushed while staging was shown: {after:?}"
    );
    assert!(
        series("p95_latency_ms", "eu-west").is_some(),
        "an unchanged series comes only with the opening: {after:?}"
    );
    assert_eq!(envs(&after), vec!["production".to_string()]);
    let changes: Vec<u64> = after
        .iter()
        .filter_map(|ev| {
            if let StreamEvent::Change(c) = ev {
                Some(c.revision.0)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        changes,
        vec![rev],
        "the change made during the switch arrives once"
    );
    assert!(
        !after.iter().any(|ev| matches!(
            ev,
            StreamEvent::Connected { .. }
                | StreamEvent::Disconnected { .. }
                | StreamEvent::Reset { .. }
        )),
        "a switch is not a reconnect: {after:?}"
    );
    follower.abort();
}
