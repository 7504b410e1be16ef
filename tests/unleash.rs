//! flagtop in front of a REAL Unleash (started by scripts/unleash via scripts/test): listing
//! flags and cohorts, a narrowed rollback of one strategy that leaves the others untouched (read
//! back from Unleash), its undo, a percentage change, kill and revive without the 100%-strategy
//! trap, a conflict when the strategy changed underneath, an approval in a protected environment
//! applied to Unleash only once approved, changes made directly in Unleash picked up by polling,
//! the audit trail with Unleash's own events beside flagtop's, and guardrail sample counts taken
//! from Unleash's client metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::{Http, Server, cohort};
use serde_json::{Value, json};
use std::time::Duration;

use common::unleash::{act, serve, unique, unleash};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowed_rollback_undo_percent_kill_revive_and_approval_against_real_unleash() {
    let Some(u) = unleash() else { return };
    let name = unique("checkout");
    let ids = u
        .feature(
            &name,
            &[("eu-west", 25), ("us-east", 25), ("internal", 100)],
        )
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let approver = http.token(&admin, "bob", "approver").await;
    let op = http.token(&admin, "alice", "operator").await;

    // Listing: the feature is a flag, its strategies are cohorts; production is protected.
    let snap = http.get("/v1/snapshot", &op).await.body;
    assert_eq!(snap["flag_store"], "unleash");
    assert_eq!(snap["propagation_secs"], 15);
    assert!(
        snap["environments"]
            .as_array()
            .expect("envs")
            .iter()
            .any(|e| e["key"] == "production" && e["protected"] == true)
    );
    for (c, p) in [("eu-west", 25), ("us-east", 25), ("internal", 100)] {
        assert_eq!(cohort(&snap, &name, "production", c)["percent"], p);
        assert_eq!(cohort(&snap, &name, "production", c)["rolled_back"], false);
    }
    let f = |c: &str| json!({"flag": name, "env": "production", "cohort": c});
    let with = |t: &str, extra: Value| {
        let mut v = json!({"type": t, "flag": name, "env": "production"});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    };

    // Narrowed rollback of eu-west: exactly that strategy is disabled in Unleash.
    let r = act(
        &http,
        &op,
        with("rollback", json!({"cohort": "eu-west"})),
        "p95 breach in eu-west",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (on, s) = u.production(&name).await;
    assert!(on);
    assert_eq!(
        s,
        vec![
            ("eu-west".into(), true, "25".into()),
            ("us-east".into(), false, "25".into()),
            ("internal".into(), false, "100".into())
        ]
    );
    let _ = f("eu-west");

    // Its undo: restoring in protected production is a request; applied to Unleash only once approved.
    let r = act(&http, &op, r.body["reverse"].clone(), "undo").await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert!(
        u.production(&name).await.1[0].1,
        "not restored before approval"
    );
    let id = r.body["approval_id"].as_str().expect("id").to_string();
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &approver,
            json!({"reason": "recovered"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(!u.production(&name).await.1[0].1, "restored after approval");

    // A percentage change (a reduction: immediate). Unleash keeps `rollout` as a string.
    let r = act(
        &http,
        &op,
        with("set_percent", json!({"cohort": "us-east", "percent": 10})),
        "slow down",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        u.production(&name).await.1[1],
        ("us-east".into(), false, "10".into())
    );
    // flagtop validates 0–100 itself (Unleash would accept "150").
    let r = act(
        &http,
        &op,
        with("set_percent", json!({"cohort": "us-east", "percent": 150})),
        "x",
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(u.production(&name).await.1[1].2, "10");

    // An expansion in protected production: a request; Unleash unchanged until approved.
    let r = act(
        &http,
        &op,
        with("set_percent", json!({"cohort": "us-east", "percent": 50})),
        "next step",
    )
    .await;
    assert_eq!(r.status, 202);
    assert_eq!(u.production(&name).await.1[1].2, "10");
    let id = r.body["approval_id"].as_str().expect("id").to_string();
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &op,
            json!({"reason": "mine"}),
        )
        .await;
    assert_eq!(r.status, 403, "an operator cannot approve");
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &approver,
            json!({"reason": "healthy"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(u.production(&name).await.1[1].2, "50");

    // Kill and revive with some strategies active: no strategy is added.
    let r = act(&http, &op, with("kill", json!({})), "incident").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(!u.production(&name).await.0);
    let r = act(&http, &op, with("revive", json!({})), "over").await;
    let id = r.body["approval_id"]
        .as_str()
        .expect("revive is an expansion: a request")
        .to_string();
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &approver,
            json!({"reason": "ok"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (on, s) = u.production(&name).await;
    assert!(on);
    assert_eq!(s.len(), 3, "no strategy added: {s:?}");

    // The trap: every strategy disabled, then kill and revive. Unleash's plain `on` would add a
    // 100 % strategy; flagtop must not, and the rolled-back cohorts stay rolled back.
    for c in ["eu-west", "us-east", "internal"] {
        let r = act(
            &http,
            &op,
            with("rollback", json!({"cohort": c})),
            "all back",
        )
        .await;
        assert_eq!(r.status, 200, "{c}: {:?}", r.body);
    }
    let r = act(&http, &op, with("kill", json!({})), "off").await;
    assert_eq!(r.status, 200);
    let r = act(&http, &op, with("revive", json!({})), "on again").await;
    let id = r.body["approval_id"].as_str().expect("request").to_string();
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &approver,
            json!({"reason": "ok"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (on, s) = u.production(&name).await;
    assert_eq!(s.len(), 3, "no 100% strategy was added: {s:?}");
    assert!(
        s.iter().all(|x| x.1),
        "rolled-back strategies stay disabled: {s:?}"
    );
    // Unleash cannot hold "on with nothing active" (it serves the same as off); flagtop shows the
    // flag revived with every cohort rolled back, and turns Unleash on with the first restore.
    assert!(!on);
    let snap = http.get("/v1/snapshot", &op).await.body;
    let prod = &snap["flags"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["key"] == name))
        .expect("flag")["environments"]["production"];
    assert_eq!(prod["enabled"], true);
    let r = act(
        &http,
        &op,
        with("restore", json!({"cohort": "internal"})),
        "internal back",
    )
    .await;
    let id = r.body["approval_id"].as_str().expect("request").to_string();
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &approver,
            json!({"reason": "ok"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (on, s) = u.production(&name).await;
    assert!(on, "on again with a cohort active");
    assert_eq!(s.len(), 3, "still no added strategy: {s:?}");
    assert_eq!(
        s.iter()
            .filter(|x| !x.1)
            .map(|x| x.0.as_str())
            .collect::<Vec<_>>(),
        vec!["internal"]
    );

    // The audit trail: flagtop's entries once each (bug 9: Unleash's events for flagtop's own
    // writes are not shown a second time), and a change made directly in Unleash beside them.
    assert_eq!(
        u.patch(
            &name,
            &ids[2],
            json!([{"op": "replace", "path": "/parameters/rollout", "value": "90"}])
        )
        .await,
        200
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let audit = http
            .get(&format!("/v1/audit?flag={name}&limit=200"), &op)
            .await
            .body;
        let events = audit["events"].as_array().cloned().unwrap_or_default();
        let ours = events
            .iter()
            .filter(|e| e["kind"] == "applied" || e["kind"] == "approved")
            .count();
        let theirs: Vec<&Value> = events
            .iter()
            .filter(|e| e["kind"] == "external" && e["source"] == "unleash")
            .collect();
        if ours >= 9 && !theirs.is_empty() {
            assert!(events.iter().any(|e| e["kind"] == "applied"
                && e["action"]["type"] == "rollback"
                && e["action"]["cohort"] == "eu-west"));
            tokio::time::sleep(Duration::from_secs(2)).await;
            let audit = http
                .get(&format!("/v1/audit?flag={name}&limit=200"), &op)
                .await
                .body;
            let theirs: Vec<Value> = audit["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["kind"] == "external")
                .cloned()
                .collect();
            let direct: Vec<&Value> = theirs
                .iter()
                .filter(|e| e["reason"].as_str().unwrap_or("").contains("updated"))
                .collect();
            assert_eq!(
                theirs.len(),
                1,
                "only the direct change is Unleash's: {theirs:#?}"
            );
            assert_eq!(direct.len(), 1, "{theirs:#?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "audit lacks entries: ours={ours} unleash={theirs:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategy_changed_underneath_is_a_conflict_and_polling_picks_changes_up() {
    let Some(u) = unleash() else { return };
    let name = unique("search");
    let ids = u.feature(&name, &[("eu-west", 25), ("us-east", 25)]).await;

    // No polling during the conflict: flagtop still believes eu-west is at 25.
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "3600");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    assert_eq!(
        u.patch(
            &name,
            &ids[0],
            json!([{"op": "replace", "path": "/parameters/rollout", "value": "33"}])
        )
        .await,
        200
    );
    let r = act(&http, &admin, json!({"type": "set_percent", "flag": name, "env": "production", "cohort": "eu-west", "percent": 10}), "stale view").await;
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
            .contains("changed in Unleash since you looked")
    );
    assert_eq!(
        u.production(&name).await.1[0].2,
        "33",
        "nothing overwritten"
    );
    let audit = http
        .get(&format!("/v1/audit?flag={name}"), &admin)
        .await
        .body;
    assert!(
        audit["events"]
            .as_array()
            .map(|e| e.iter().all(|e| e["kind"] != "applied"))
            .unwrap_or(true),
        "a refused change is not audited as applied"
    );
    drop(server);

    // With polling, a change made directly in Unleash shows up in flagtop within seconds.
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    assert_eq!(
        cohort(
            &http.get("/v1/snapshot", &admin).await.body,
            &name,
            "production",
            "eu-west"
        )["percent"],
        33
    );
    assert_eq!(
        u.patch(
            &name,
            &ids[1],
            json!([{"op": "replace", "path": "/parameters/rollout", "value": "40"}])
        )
        .await,
        200
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let snap = http.get("/v1/snapshot", &admin).await.body;
        if cohort(&snap, &name, "production", "us-east")["percent"] == 40 {
            assert!(snap["flag_store_synced_at"].is_string());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the change in Unleash never reached flagtop"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Now that flagtop has seen 40, a change on top of it goes through.
    let r = act(&http, &admin, json!({"type": "set_percent", "flag": name, "env": "production", "cohort": "us-east", "percent": 20}), "fresh view").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(u.production(&name).await.1[1].2, "20");
}

/// The guardrail reading of (flag, production, cohort) once it satisfies `want` (readings are
/// refreshed by the engine's tick; Unleash flushes client metrics about every 5 s).
async fn wait_reading(
    http: &Http,
    token: &str,
    flag: &str,
    cohort: &str,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let snap = http.get("/v1/snapshot", token).await.body;
        let r = snap["guardrails"]
            .as_array()
            .and_then(|rs| {
                rs.iter().find(|r| {
                    r["flag"] == flag && r["env"] == "production" && r["cohort"] == cohort
                })
            })
            .cloned()
            .unwrap_or(Value::Null);
        if want(&r) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the guardrail reading of {flag}/{cohort} never got there: {r}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardrail_sample_counts_come_from_unleash_client_metrics() {
    let Some(u) = unleash() else { return };
    let name = unique("counted");
    u.feature(&name, &[("eu-west", 50)]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);

    // flagtop's guardrail on the Unleash flag: values pushed by the application, sample counts
    // from the SDKs' evaluations as Unleash reports them.
    let snap = http.get("/v1/snapshot", &admin).await.body;
    let mut flag = snap["flags"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["key"] == name.as_str()))
        .cloned()
        .expect("flag");
    flag["environments"]["production"]["guardrails"] = json!([{"metric": "error_rate", "cohort": "eu-west",
        "threshold": {"type": "absolute", "max": 0.05}, "min_samples": 30, "window_secs": 600, "samples_from": "unleash"}]);
    let r = http
        .call(
            "PUT",
            &format!("/v1/flags/{name}"),
            Some(&admin),
            Some(flag),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let arms = ["candidate", "baseline"].map(|arm| {
        json!({"flag": name, "env": "production",
        "metric": "error_rate", "cohort": "eu-west", "arm": arm, "value": 0.01, "count": 3})
    });
    let samples = json!({ "samples": arms });
    assert_eq!(http.post("/v1/metrics", &admin, samples).await.status, 200);
    let r = wait_reading(&http, &admin, &name, "eu-west", |r| {
        r["samples"].as_u64() == Some(0)
    })
    .await;
    assert_eq!(
        (r["status"].as_str(), r["source_error"].as_str()),
        (Some("insufficient"), None),
        "{r}"
    );
    // Let the follower take its first read (the starting point) before any evaluation exists.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let counts = |yes: u64, no: u64| {
        move |r: &Value| {
            r["samples"].as_u64() == Some(yes) && r["baseline_samples"].as_u64() == Some(no)
        }
    };
    u.report_evaluations(&name, 25, 10).await;
    let r = wait_reading(&http, &admin, &name, "eu-west", counts(25, 10)).await;
    assert_eq!(
        r["status"], "insufficient",
        "25 evaluations are fewer than min_samples 30: {r}"
    );
    u.report_evaluations(&name, 15, 5).await;
    let r = wait_reading(&http, &admin, &name, "eu-west", counts(40, 15)).await;
    assert_eq!(
        (r["status"].as_str(), r["source_error"].as_str()),
        (Some("healthy"), None),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unleash_sample_counts_without_unleash_say_so() {
    // No Unleash needed: the embedded store cannot supply Unleash counts, and the reading says why.
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let snap = http.get("/v1/snapshot", &admin).await.body;
    let mut flag = snap["flags"]
        .as_array()
        .and_then(|f| f.first())
        .cloned()
        .expect("a flag");
    let key = flag["key"].as_str().expect("key").to_string();
    let cohort = flag["environments"]["production"]["cohorts"][0]["name"]
        .as_str()
        .expect("cohort")
        .to_string();
    flag["environments"]["production"]["guardrails"] = json!([{"metric": "error_rate", "cohort": cohort,
        "threshold": {"type": "absolute", "max": 0.05}, "samples_from": "unleash"}]);
    let r = http
        .call(
            "PUT",
            &format!("/v1/flags/{key}"),
            Some(&admin),
            Some(flag),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = wait_reading(&http, &admin, &key, &cohort, |r| {
        r["source_error"].is_string()
    })
    .await;
    assert_eq!(r["status"], "insufficient");
    assert!(
        r["source_error"]
            .as_str()
            .unwrap_or("")
            .contains("--flags unleash"),
        "{r}"
    );
}

/// The audit kinds flagtop recorded for `flag`, newest first.
async fn audit_kinds(http: &Http, token: &str, flag: &str) -> Vec<String> {
    let audit = http
        .get(&format!("/v1/audit?flag={flag}"), token)
        .await
        .body;
    audit["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_audit(http: &Http, token: &str, flag: &str, kind: &str) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    loop {
        let kinds = audit_kinds(http, token, flag).await;
        if kinds.iter().any(|k| k == kind) {
            return kinds;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no `{kind}` in the audit of {flag}: {kinds:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_unleash_stalls_nothing_else_and_the_write_ends_recorded_as_it_really_went() {
    let Some(u) = unleash() else { return };
    let name = unique("stall");
    u.feature(&name, &[("eu-west", 25), ("us-east", 25)]).await;
    let upstream: std::net::SocketAddr = u
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("unleash address");
    let proxy = common::fault::FaultProxy::start(upstream).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(
        dir.path(),
        &[
            "--no-simulate",
            "--flags",
            "unleash",
            "--unleash-url",
            &proxy.url,
            "--unleash-poll-secs",
            "1",
        ],
    );
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let rollback =
        json!({"type": "rollback", "flag": name, "env": "production", "cohort": "eu-west"});

    // 1. Unleash hangs and never sees the request: while the write waits, the control plane
    //    answers; the write ends "outcome unknown" (never "nothing was changed"), and once
    //    Unleash answers again the read-back records that it was NOT applied.
    proxy.set(common::fault::Mode::Stall);
    // The write waits for Unleash's timeout twice (the write, then the read-back): give it time.
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("client");
    let (url, a, r) = (
        format!("{}/v1/actions", server.url),
        admin.clone(),
        rollback.clone(),
    );
    let hung = tokio::spawn(async move {
        let resp = patient
            .post(url)
            .bearer_auth(a)
            .json(&json!({"action": r, "reason": "rollback while unleash hangs"}))
            .send()
            .await
            .expect("answer");
        let status = resp.status().as_u16();
        common::Reply {
            status,
            body: resp.json().await.unwrap_or(Value::Null),
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    for path in ["/v1/snapshot", "/v1/approvals", "/v1/audit?limit=5"] {
        let started = std::time::Instant::now();
        let r = quick
            .get(format!("{}{path}", server.url))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("answers while Unleash hangs");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert!(
            !hung.is_finished(),
            "the write should still be waiting for Unleash ({path} after {:?})",
            started.elapsed()
        );
    }
    let reply = hung.await.expect("task");
    assert_eq!(reply.status, 502, "{:?}", reply.body);
    assert_eq!(
        reply.body["error"]["code"], "outcome_unknown",
        "{:?}",
        reply.body
    );
    assert!(
        !reply.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nothing was changed")
    );
    proxy.set(common::fault::Mode::Pass);
    let kinds = wait_audit(&http, &admin, &name, "not_applied").await;
    assert!(kinds.contains(&"outcome_unknown".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"applied".to_string()), "{kinds:?}");
    assert_eq!(
        u.production(&name).await.1[0],
        ("eu-west".to_string(), false, "25".to_string()),
        "Unleash untouched"
    );

    // 2. Unleash applies it but the answer is lost (and so is the read-back): recorded as
    //    unknown, then as applied once Unleash answers, with flagtop's view following.
    proxy.set(common::fault::Mode::LoseResponse);
    let patient = Http {
        url: server.url.clone(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .expect("client"),
    };
    let reply = act(&patient, &admin, rollback.clone(), "rollback, answer lost").await;
    assert_eq!(
        (reply.status, reply.body["error"]["code"].as_str()),
        (502, Some("outcome_unknown")),
        "{:?}",
        reply.body
    );
    proxy.set(common::fault::Mode::Pass);
    wait_audit(&http, &admin, &name, "applied").await;
    assert!(
        u.production(&name).await.1[0].1,
        "Unleash has eu-west disabled"
    );
    let snap = http.get("/v1/snapshot", &admin).await.body;
    assert_eq!(
        cohort(&snap, &name, "production", "eu-west")["rolled_back"],
        true
    );
    assert_eq!(
        cohort(&snap, &name, "production", "us-east")["rolled_back"],
        false
    );
    assert!(
        snap.get("unsettled").is_none(),
        "{:?}",
        snap.get("unsettled")
    );
}
