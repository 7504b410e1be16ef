//! On PostgreSQL with two replicas: the outbox is written in the commit's transaction on
//! either replica, only the one running the engine delivers, and both show the same health.
//! Skipped (loudly) without `scripts/postgres start`.

use super::common::Http;
use super::common::pg::{fresh_db, replica_env, runs_engine, wait_for};
use super::common::receiver::Receiver;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_event_once_from_the_leader() {
    let Some((url, pw)) = fresh_db("webhooks") else {
        return;
    };
    let secret = [(SECRET_ENV, SECRET.to_string())];
    let (da, a) = replica_env(&url, &pw, &["--no-simulate"], &secret);
    let admin = a.admin.clone().unwrap();
    let (db, b) = replica_env(&url, &pw, &["--no-simulate"], &secret);
    wait_for("a leader", 30, async || {
        runs_engine(da.path()) || runs_engine(db.path())
    })
    .await;
    let (ha, hb) = (Http::new(&a.url), Http::new(&b.url));
    let rx = Receiver::start(&[500]).await;
    define(&ha, &admin, &rx.url, &["freeze"], &[]).await;
    // Committed on B (the hook definition reached it through the store), delivered by the leader.
    wait_for("B to see the hook", 30, async || {
        hb.get("/v1/webhooks", &admin).await.body["webhooks"][0]["name"] == "ops"
    })
    .await;
    freeze(&hb, &admin, true).await;
    freeze(&ha, &admin, false).await;
    freeze(&hb, &admin, true).await;
    let got = rx.wait_for(60, |g| g.len() >= 3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let ids = rx.ids();
    // Two events (freeze twice), the first answered 500 once: 3 requests, 2 ids.
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids.values().sum::<usize>(), 3, "{ids:?}");
    assert!(rx.all().iter().all(signature_valid));
    for s in [&a, &b] {
        let log = log(s, &admin);
        assert_eq!(log["hooks"][0]["delivered"], 2, "{log}");
        assert_eq!(log["hooks"][0]["queued"], 0, "{log}");
        assert_eq!(log["deliveries"].as_array().unwrap().len(), 3, "{log}");
    }
    // Removed on B while one delivery is still queued (its receiver is gone): the queue goes
    // with the hook, and A no longer lists it.
    rx.stop();
    freeze(&ha, &admin, false).await;
    freeze(&ha, &admin, true).await;
    let out = b.cli(&admin, &["webhooks", "remove", "ops"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("A to drop the hook", 30, async || {
        ha.get("/v1/webhooks", &admin).await.body["webhooks"] == json!([])
    })
    .await;
    let store = super::common::pg::pg_store(&url, &pw);
    use flagtop::control::store::Backend;
    assert_eq!(store.outbox_head("ops").unwrap().1, 0);
    assert!(store.hook_health().unwrap().is_empty());
}
