//! Delivery: the demo breach, signed; and retries after 500s, logged.

use super::common::Http;
use super::common::receiver::Receiver;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_breach_delivers_breach_and_request_created_signed() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let admin = server.admin.clone().unwrap();
    let http = Http::new(&server.url);
    let rx = Receiver::start(&[]).await;
    define(
        &http,
        &admin,
        &rx.url,
        &["breach", "request_created"],
        &["production"],
    )
    .await;
    // The demo's eu-west breaches within about half a minute of simulated traffic.
    let got = rx
        .wait_for(120, |g| {
            ["breach", "request_created"]
                .iter()
                .all(|e| g.iter().any(|x| x.header("x-flagtop-event") == *e))
        })
        .await;
    let events: Vec<&str> = got.iter().map(|g| g.header("x-flagtop-event")).collect();
    assert!(events.contains(&"breach"), "{events:?}");
    assert!(events.contains(&"request_created"), "{events:?}");
    for g in &got {
        assert!(signature_valid(g), "bad signature: {:?}", g.headers);
        let p = g.json();
        assert_eq!(p["id"], g.header("x-flagtop-delivery"));
        assert_eq!(p["event"], g.header("x-flagtop-event"));
        assert_eq!(p["flag"], "checkout-v2");
        assert_eq!(p["environment"], "production");
        assert_eq!(g.header("content-type"), "application/json");
    }
    let created = got
        .iter()
        .find(|g| g.header("x-flagtop-event") == "request_created")
        .unwrap()
        .json();
    assert_eq!(created["cohort"], "eu-west");
    assert_eq!(created["change"]["action"]["type"], "rollback");
    assert_eq!(created["change"]["reverse"]["type"], "restore");
    let approve = format!(
        "flagtop approvals approve {}",
        created["approval"].as_str().unwrap()
    );
    assert!(
        created["commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with(&approve)),
        "{created}"
    );
    // A tampered body does not verify.
    let mut forged = got[0].clone();
    forged.body = forged.body.replace("checkout-v2", "checkout-v3");
    assert!(!signature_valid(&forged));
    // The secret is nowhere in what the API shows.
    let hooks = http.get("/v1/webhooks", &admin).await;
    assert!(!hooks.body.to_string().contains(SECRET), "{}", hooks.body);
    let audit = http.get("/v1/audit?limit=200", &admin).await;
    assert!(!audit.body.to_string().contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_twice_then_200_is_delivered_once_after_two_retries_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--no-simulate"]);
    let admin = server.admin.clone().unwrap();
    let http = Http::new(&server.url);
    let rx = Receiver::start(&[500, 500]).await;
    define(&http, &admin, &rx.url, &["freeze"], &[]).await;
    freeze(&http, &admin, true).await;
    let got = rx.wait_for(60, |g| g.len() >= 3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    let attempts: Vec<&str> = got.iter().map(|g| g.header("x-flagtop-attempt")).collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    // One event: the same id and the same body every time (signed afresh each time).
    assert_eq!(rx.ids().len(), 1, "{:?}", rx.ids());
    assert!(
        got.iter()
            .all(|g| g.body == got[0].body && signature_valid(g))
    );
    // The log: retrying, retrying, delivered (newest first); the hook is healthy again.
    let mut log = log(&server, &admin);
    for _ in 0..50 {
        if log["deliveries"].as_array().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        log = super::log(&server, &admin);
    }
    let outcomes: Vec<(&str, u64)> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["outcome"].as_str().unwrap(),
                d["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("delivered", 200), ("retrying", 500), ("retrying", 500)]
    );
    let hook = &log["hooks"][0];
    assert_eq!(
        (hook["name"].as_str(), hook["failing"].as_bool()),
        (Some("ops"), Some(false))
    );
    assert_eq!(
        (hook["delivered"].as_u64(), hook["queued"].as_u64()),
        (Some(1), Some(0))
    );
    // Nothing more arrives: delivered once.
    freeze(&http, &admin, false).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(rx.all().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_holds_up_only_its_own_hook() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--no-simulate"]);
    let admin = server.admin.clone().unwrap();
    let http = Http::new(&server.url);
    // Accepts connections and never answers (held open until the test ends).
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole_url = format!("http://{}/hook", hole.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = hole.accept().await {
            conns.push(c);
        }
    });
    let rx = Receiver::start(&[]).await;
    // Defined first: a pass that sent one hook after another would wait on it first.
    for (name, url) in [("stuck", hole_url.as_str()), ("ops", rx.url.as_str())] {
        let body =
            json!({"name": name, "url": url, "events": ["freeze"], "secret_env": SECRET_ENV});
        let path = format!("/v1/webhooks/{name}");
        let r = http.call("PUT", &path, Some(&admin), Some(body), &[]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    freeze(&http, &admin, true).await;
    let got = rx.wait_for(30, |g| !g.is_empty()).await;
    assert_eq!(got.len(), 1);
    // The stuck hook's first attempt is still waiting for its answer: nothing logged for it.
    let out = server.cli(&admin, &["webhooks", "log", "--json", "--hook", "stuck"]);
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["deliveries"].as_array().map(Vec::len), Some(0), "{log}");
    held.abort();
}
