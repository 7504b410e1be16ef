//! flagtop in front of a REAL Unleash (issue 18), following it: the event log is followed by id
//! with catch-up after a pause (more than a page of events) or a restart (bug 4); archived
//! flags go away within a poll and after a restart (bug 5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::unleash::{
    Unleash, act, audit, eventually, flag, serve, set_percent, signal, unique, unleash,
};
use common::{Http, cohort};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug4_events_made_while_serve_was_paused_or_down_are_caught_up() {
    let Some(u) = unleash() else { return };
    let (a, b) = (unique("quiet"), unique("noisy"));
    let a_ids = u
        .feature_with(&a, "development", &[Unleash::region(&a, "eu-west", 10)])
        .await;
    let b_ids = u
        .feature_with(&b, "development", &[Unleash::region(&b, "eu-west", 10)])
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let op = http.token(&admin, "carol", "operator").await;
    let percent = |snap: &Value| cohort(snap, &a, "development", "eu-west")["percent"].as_u64();

    // Paused: one change to A, then 110 to B (more than one page of the event log).
    signal(&server, "-STOP");
    assert_eq!(
        u.patch_in(
            &a,
            "development",
            &a_ids[0],
            json!([{"op": "replace", "path": "/parameters/rollout", "value": "33"}])
        )
        .await,
        200
    );
    for i in 0..110 {
        let ops = json!([{"op": "replace", "path": "/parameters/rollout", "value": (20 + i % 50).to_string()}]);
        assert_eq!(u.patch_in(&b, "development", &b_ids[0], ops).await, 200);
    }
    signal(&server, "-CONT");
    eventually(15, "A's change made while serve was paused", || async {
        (percent(&http.get("/v1/snapshot", &op).await.body) == Some(33)).then_some(())
    })
    .await;
    assert!(
        audit(&http, &op, &a)
            .await
            .iter()
            .any(|e| e["kind"] == "external"),
        "A's event is in Activity"
    );
    let r = act(
        &http,
        &op,
        set_percent(&a, "development", "eu-west", 30),
        "on the fresh view",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Down: a change made while no flagtop runs is there at the next start, in Activity too.
    // (First let the follower see Unleash's event for flagtop's own write above: a write made
    // in the last poll interval before a crash is shown once more after the restart.)
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let before = audit(&http, &op, &a)
        .await
        .iter()
        .filter(|e| e["kind"] == "external")
        .count();
    drop(server);
    assert_eq!(
        u.patch_in(
            &a,
            "development",
            &a_ids[0],
            json!([{"op": "replace", "path": "/parameters/rollout", "value": "44"}])
        )
        .await,
        200
    );
    let server = serve(dir.path(), &u, "1");
    let http = Http::new(&server.url);
    assert_eq!(percent(&http.get("/v1/snapshot", &op).await.body), Some(44));
    let after = audit(&http, &op, &a)
        .await
        .iter()
        .filter(|e| e["kind"] == "external")
        .count();
    assert_eq!(
        after,
        before + 1,
        "the change made while serve was down is in Activity"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug5_archived_flags_go_away_within_a_poll_and_after_a_restart() {
    let Some(u) = unleash() else { return };
    let (live, later) = (unique("archive-live"), unique("archive-down"));
    u.feature(&live, &[("eu-west", 25)]).await;
    u.feature(&later, &[("eu-west", 25)]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let op = http.token(&admin, "dave", "operator").await;
    let archived = |snap: &Value, key: &str| {
        let f = flag(snap, key);
        f["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("[archived"))
            && f["environments"].as_object().is_some_and(|e| e.is_empty())
            // Unleash's archive is flagtop's: the flag's lifecycle reads archived.
            && f["archived"] == true
    };
    u.archive(&live).await;
    eventually(10, "the archived flag goes away", || async {
        archived(&http.get("/v1/snapshot", &op).await.body, &live).then_some(())
    })
    .await;
    let r = act(
        &http,
        &op,
        json!({"type": "rollback", "flag": live, "env": "production", "cohort": "eu-west"}),
        "x",
    )
    .await;
    assert_ne!(r.status, 200);
    assert_ne!(
        r.body["error"]["code"], "flag_store_refused",
        "refused by flagtop, not by Unleash's 422: {:?}",
        r.body
    );

    drop(server);
    u.archive(&later).await;
    let server = serve(dir.path(), &u, "1");
    let http = Http::new(&server.url);
    let snap = http.get("/v1/snapshot", &op).await.body;
    assert!(archived(&snap, &live), "still archived after a restart");
    assert!(archived(&snap, &later), "archived while serve was down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_ahead_of_the_event_log_is_noticed_and_following_resumes() {
    // Unleash's database replaced or restored under the same URL: its event ids are now lower
    // than the cursor flagtop kept. flagtop must not wait for ids it will never see.
    let Some(u) = unleash() else { return };
    let name = unique("restored");
    let ids = u
        .feature_with(
            &name,
            "development",
            &[Unleash::region(&name, "eu-west", 10)],
        )
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    drop(server);
    let cursor = dir.path().join("unleash-cursor");
    let text = std::fs::read_to_string(&cursor).expect("the cursor is kept in the data dir");
    let url = text.lines().next().expect("url").to_string();
    std::fs::write(&cursor, format!("{url}\n999999999\n")).expect("write cursor");
    let server = serve(dir.path(), &u, "1");
    let http = Http::new(&server.url);
    let ops = json!([{"op": "replace", "path": "/parameters/rollout", "value": "55"}]);
    assert_eq!(u.patch_in(&name, "development", &ids[0], ops).await, 200);
    eventually(
        15,
        "a change made after the restart is followed",
        || async {
            let snap = http.get("/v1/snapshot", &admin).await.body;
            (cohort(&snap, &name, "development", "eu-west")["percent"] == 55).then_some(())
        },
    )
    .await;
}
