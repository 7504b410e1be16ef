//! flagtop in front of a REAL Unleash (issue 18), writes: an approval applies exactly what was
//! shown or answers "outdated" (bug 1); compare-and-set on constraints and variants too; one
//! writer's burst of changes never conflicts with itself (bug 3: a monotonic follower).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::unleash::{Unleash, act, audit, serve, set_percent, unique, unleash};
use common::{Http, cohort};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug1_an_approval_applies_exactly_what_was_shown_or_answers_outdated() {
    let Some(u) = unleash() else { return };
    let name = unique("restore");
    let ids = u.feature(&name, &[("eu-west", 25), ("us-east", 25)]).await;
    let dir = tempfile::tempdir().expect("tmp");
    // No polling: flagtop keeps what it saw, as within a sync interval.
    let server = serve(dir.path(), &u, "3600");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let alice = http.token(&admin, "alice", "operator").await;
    let bob = http.token(&admin, "bob", "approver").await;
    let rollback =
        json!({"type": "rollback", "flag": name, "env": "production", "cohort": "eu-west"});
    assert_eq!(act(&http, &alice, rollback, "p95 breach").await.status, 200);
    let r = act(
        &http,
        &alice,
        json!({"type": "restore", "flag": name, "env": "production", "cohort": "eu-west"}),
        "recovered",
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id = r.body["approval_id"].as_str().expect("request").to_string();

    // Someone sets eu-west to 100 directly in Unleash; bob approves what he was shown (25).
    assert_eq!(
        u.patch(
            &name,
            &ids[0],
            json!([{"op": "replace", "path": "/parameters/rollout", "value": "100"}])
        )
        .await,
        200
    );
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &bob,
            json!({"reason": "looks fine"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("outdated")),
        "{:?}",
        r.body
    );
    assert_eq!(
        u.production(&name).await.1[0],
        ("eu-west".to_string(), true, "100".to_string()),
        "nothing nobody saw was applied"
    );
    let events = audit(&http, &admin, &name).await;
    assert!(
        !events
            .iter()
            .any(|e| e["kind"] == "applied" && e["action"]["type"] == "restore"),
        "{events:#?}"
    );

    // A constraint changed underneath (IN → NOT_IN): a reduction decided on the old selector
    // is refused too, and Unleash keeps what it holds.
    let ops = json!([{"op": "replace", "path": "/constraints/0/operator", "value": "NOT_IN"}]);
    assert_eq!(u.patch(&name, &ids[1], ops).await, 200);
    let r = act(
        &http,
        &alice,
        set_percent(&name, "production", "us-east", 10),
        "slow down",
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{:?}",
        r.body
    );
    assert_eq!(u.production(&name).await.1[1].2, "25");

    // Variants added underneath: refused as well.
    let ops = json!([{"op": "replace", "path": "/constraints/0/operator", "value": "IN"},
        {"op": "add", "path": "/variants", "value": [{"name": "blue", "weight": 1000, "weightType": "variable", "stickiness": "default"}]}]);
    assert_eq!(u.patch(&name, &ids[1], ops).await, 200);
    let r = act(
        &http,
        &alice,
        set_percent(&name, "production", "us-east", 10),
        "slow down",
    )
    .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(u.production(&name).await.1[1].2, "25");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug3_one_writers_burst_of_100_set_percents_never_conflicts_with_itself() {
    let Some(u) = unleash() else { return };
    let name = unique("burst");
    u.feature_with(
        &name,
        "development",
        &[Unleash::region(&name, "eu-west", 10)],
    )
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let mut failures = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..100u8 {
        let r = act(
            &http,
            &admin,
            set_percent(&name, "development", "eu-west", 11 + i % 80),
            "burst",
        )
        .await;
        if r.status != 200 {
            failures.push((i, r.status, r.body));
        }
    }
    eprintln!(
        "100 set-percents through flagtop in {:?}",
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of 100 failed: {failures:#?}",
        failures.len()
    );
    let last = (11 + 99 % 80).to_string();
    let (_, strategies) = u
        .call(reqwest::Method::GET, u.feature_url(&name), None)
        .await;
    let dev = strategies["environments"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == "development"))
        .cloned()
        .expect("dev");
    assert_eq!(dev["strategies"][0]["parameters"]["rollout"], last.as_str());
    // The view never steps back: after the follower's polls it still shows the last write.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let snap = http.get("/v1/snapshot", &admin).await.body;
    assert_eq!(
        cohort(&snap, &name, "development", "eu-west")["percent"].to_string(),
        last
    );
}
