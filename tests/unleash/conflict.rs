//! A strategy changed in Unleash underneath flagtop is a conflict; polling picks changes up.

use super::*;

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
