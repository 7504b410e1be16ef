//! In front of a REAL Unleash: exposure comes from Unleash's client metrics. What SDKs report
//! (`yes`/`no` per flag and environment) reaches the snapshot's exposure and `status --json` as
//! flag-level counts (Unleash has no per-cohort split), the same counts the Ladder shows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::Http;
use common::unleash::{eventually, serve, unique, unleash};
use serde_json::Value;

/// (candidate, all) evaluations of `flag` in production that name no cohort.
fn flag_level(snap: &Value, flag: &str) -> (u64, u64) {
    let rows: Vec<&Value> = snap["exposure"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["flag"] == flag && e["env"] == "production" && e["cohort"].is_null())
        .collect();
    let total = |pred: &dyn Fn(&Value) -> bool| -> u64 {
        rows.iter()
            .filter(|e| pred(e))
            .map(|e| e["total"].as_u64().unwrap_or(0))
            .sum()
    };
    (total(&|e| e["exposed"] == true), total(&|_| true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unleash_client_metrics_become_flag_level_exposure() {
    let Some(u) = unleash() else { return };
    let name = unique("exposure");
    u.feature(&name, &[("eu-west", 25)]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    eventually(20, "the flag followed", || async {
        let snap = http.get("/v1/snapshot", &admin).await.body;
        snap["flags"]
            .as_array()?
            .iter()
            .any(|f| f["key"] == name.as_str())
            .then_some(())
    })
    .await;
    // The follower's first read is its starting point; evaluations reported after it count.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        flag_level(&http.get("/v1/snapshot", &admin).await.body, &name),
        (0, 0)
    );
    u.report_evaluations(&name, 40, 120).await;
    let counts = eventually(30, "Unleash's evaluations as exposure", || async {
        let c = flag_level(&http.get("/v1/snapshot", &admin).await.body, &name);
        (c.1 > 0).then_some(c)
    })
    .await;
    assert_eq!(counts, (40, 160));
    let status = server.cli(&admin, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).expect("status --json");
    assert_eq!(flag_level(&status, &name), (40, 160));
}
