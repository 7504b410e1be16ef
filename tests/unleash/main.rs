//! flagtop in front of a REAL Unleash (started by scripts/unleash via scripts/test): listing
//! flags and cohorts, a narrowed rollback of one strategy that leaves the others untouched (read
//! back from Unleash), its undo, a percentage change, kill and revive without the 100%-strategy
//! trap, a conflict when the strategy changed underneath, an approval in a protected environment
//! applied to Unleash only once approved, changes made directly in Unleash picked up by polling,
//! the audit trail with Unleash's own events beside flagtop's, and guardrail sample counts taken
//! from Unleash's client metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

#[path = "../common/mod.rs"]
mod common;
mod conflict;
mod hung;
mod metrics;

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
