//! Unleash's lifecycle stages beside flagtop's (issue 22), against a REAL Unleash: the stage a
//! feature's read carries, a stage Unleash moves on SDK metrics without an event (picked up by
//! the follower's bulk read of every feature's stage), and `completed` shown in `flagtop
//! lifecycle` and `status --json` beside flagtop's computed stage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::unleash::{eventually, flag, unique, unleash};
use common::{Http, Server};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unleashs_stage_is_followed_and_shown_beside_flagtops() {
    let Some(u) = unleash() else { return };
    let name = unique("stages");
    u.feature(&name, &[("eu-west", 25)]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let args = [
        "--no-simulate",
        "--flags",
        "unleash",
        "--unleash-url",
        &u.url,
        "--unleash-poll-secs",
        "1",
    ];
    // The bulk read of stages every 2 polls instead of 30 (a test-hooks build only).
    let envs = [("FLAGTOP_TEST_STAGE_EVERY", "2".to_string())];
    let server = Server::start_env(dir.path(), "127.0.0.1:0", &args, &envs);
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let stage_is = |want: &'static str| {
        let (http, admin, name) = (&http, &admin, &name);
        async move {
            let s = http.get("/v1/snapshot", admin).await.body;
            (flag(&s, name)["store_stage"] == want).then_some(())
        }
    };
    // Unleash records a new feature's stage a moment after creating it.
    eventually(15, "initial", || stage_is("initial")).await;

    // SDK metrics move it on, with no event in Unleash's log: the bulk read notices. Unleash
    // takes metrics in on its own schedule (slower on a loaded machine), so report again every
    // 10 s, as an SDK does, for up to 90 s.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(90);
    let mut stage = Value::Null;
    'moved: loop {
        u.report_evaluations(&name, 30, 70).await;
        let round = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while tokio::time::Instant::now() < round {
            let s = http.get("/v1/snapshot", &admin).await.body;
            stage = flag(&s, &name)["store_stage"].clone();
            if stage == "pre-live" || stage == "live" {
                break 'moved;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "SDK metrics never moved the stage on (still {stage})"
        );
    }

    // Marked completed in Unleash (an event): shown beside flagtop's stage.
    let url = format!("{}/lifecycle/complete", u.feature_url(&name));
    let body = serde_json::json!({"status": "kept"});
    let (s, v) = u.call(reqwest::Method::POST, url, Some(body)).await;
    assert_eq!(s, 200, "{v}");
    eventually(15, "completed", || stage_is("completed")).await;
    let out = server.cli(&admin, &["lifecycle", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let f = v["flags"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["key"] == name.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(f["store_stage"], "completed", "{v}");
    assert_eq!(
        f["lifecycle_stage"], "rolling_out",
        "flagtop's own, beside it: {v}"
    );
    let out = server.cli(&admin, &["lifecycle"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with(name.as_str()))
        .unwrap_or_default();
    assert!(
        line.contains("unleash: completed (ready for cleanup)"),
        "{text}"
    );
    let out = server.cli(&admin, &["status", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(flag(&v, &name)["store_stage"], "completed", "{v}");
}
