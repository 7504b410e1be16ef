//! The door over HTTP, against a real `flagtop serve`: authorisation before any other check,
//! idempotency keys scoped to the token, strict bodies (an unknown field anywhere is refused,
//! named), reasons that must be visible, and reserved names that no token may carry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::{Http, Server};
use serde_json::json;

struct Fixture {
    _dir: tempfile::TempDir,
    _server: Server,
    http: Http,
    admin: String,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), &["--no-simulate"]);
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    Fixture {
        _dir: dir,
        _server: server,
        http,
        admin,
    }
}

fn pause(extra: Option<(&str, serde_json::Value)>) -> serde_json::Value {
    let mut action = json!({"type": "pause", "flag": "checkout-v2", "env": "staging"});
    if let Some((k, v)) = extra {
        action[k] = v;
    }
    json!({"action": action, "reason": "door test"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_who_may_not_act_get_403_before_any_other_check() {
    let f = fixture().await;
    let viewer = f.http.token(&f.admin, "vera", "viewer").await;
    let agent = f.http.token(&f.admin, "bot", "agent").await;
    let operator = f.http.token(&f.admin, "olga", "operator").await;
    // Garbage, unknown targets, a bad reason: for callers who may not act it is always 403.
    let bodies = [
        json!({"nonsense": true}),
        json!({"action": {"type": "pause", "flag": "no-such-flag", "env": "staging"}, "reason": "x"}),
        json!({"action": {"type": "pause", "flag": "checkout-v2", "env": "staging"}, "reason": "", "expected_revision": 1}),
    ];
    for who in [&viewer, &agent] {
        for b in &bodies {
            let r = f.http.post("/v1/actions", who, b.clone()).await;
            assert_eq!(r.status, 403, "{b} → {:?}", r.body);
        }
        let r = f
            .http
            .post("/v1/approvals/apr-nope/approve", who, json!({"bad": 1}))
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        let r = f
            .http
            .call(
                "PUT",
                "/v1/flags/zzz",
                Some(who),
                Some(json!({"garbage": 1})),
                &[],
            )
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        let r = f
            .http
            .post(
                "/v1/tokens",
                who,
                json!({"name": "flagtop-engine", "role": "admin"}),
            )
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);
    }
    let r = f
        .http
        .post("/v1/proposals", &viewer, json!({"garbage": 1}))
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    // The same garbage from an operator is judged on its merits.
    let r = f
        .http
        .post("/v1/actions", &operator, bodies[1].clone())
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_scoped_to_the_token() {
    let f = fixture().await;
    let a = f.http.token(&f.admin, "anna", "operator").await;
    let b = f.http.token(&f.admin, "ben", "operator").await;
    let body = |p: u8| json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "eu-west", "percent": p}, "reason": "scoped keys"});
    let key = [("idempotency-key", "shared-key-1")];
    let r = f
        .http
        .call("POST", "/v1/actions", Some(&a), Some(body(11)), &key)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Another token with the same key and another body: a new request, not "key reused".
    let r = f
        .http
        .call("POST", "/v1/actions", Some(&b), Some(body(12)), &key)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["replayed"], false);
    // The first token's retry is a replay; its reuse with another body is refused.
    let r = f
        .http
        .call("POST", "/v1/actions", Some(&a), Some(body(11)), &key)
        .await;
    assert_eq!(
        (r.status, &r.body["replayed"]),
        (200, &json!(true)),
        "{:?}",
        r.body
    );
    let r = f
        .http
        .call("POST", "/v1/actions", Some(&a), Some(body(13)), &key)
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "idempotency_key_reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_anywhere_are_refused_by_name_and_reasons_must_be_visible() {
    let f = fixture().await;
    let op = f.http.token(&f.admin, "olga", "operator").await;
    let snap = f.http.get("/v1/snapshot", &op).await.body;
    let revision = snap["revision"].clone();
    // Inside the action.
    let r = f
        .http
        .post("/v1/actions", &op, pause(Some(("evil", json!(1)))))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (422, Some("unknown_field")),
        "{:?}",
        r.body
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("evil"),
        "{:?}",
        r.body
    );
    // A misspelled optional field at the top.
    let mut b = pause(None);
    b["expected_revison"] = json!(3);
    let r = f.http.post("/v1/actions", &op, b).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("expected_revison"),
        "{:?}",
        r.body
    );
    // Deep in a flag definition (admin): the path is named.
    let mut flag = f.http.get("/v1/flags/checkout-v2", &f.admin).await.body;
    flag["environments"]["staging"]["cohorts"][0]["percnt"] = json!(5);
    let r = f
        .http
        .call(
            "PUT",
            "/v1/flags/checkout-v2",
            Some(&f.admin),
            Some(flag),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (422, Some("unknown_field")),
        "{:?}",
        r.body
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("percnt"),
        "{:?}",
        r.body
    );
    // Evidence inside a proposal.
    let p = json!({"action": {"type": "pause", "flag": "checkout-v2", "env": "staging"}, "reason": "x",
                   "evidence": [{"metric": "p95", "cohort": "eu-west", "samples": 3, "sneaky": true}]});
    let r = f.http.post("/v1/proposals", &op, p).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    // Reasons of nothing visible.
    for reason in ["\u{200B}", "\u{200B}\u{FEFF} \u{202E}", "   "] {
        let mut b = pause(None);
        b["reason"] = json!(reason);
        let r = f.http.post("/v1/actions", &op, b).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (422, Some("reason_required")),
            "{reason:?}: {:?}",
            r.body
        );
    }
    // Nothing of it changed anything.
    assert_eq!(
        f.http.get("/v1/snapshot", &op).await.body["revision"],
        revision
    );
    // The well-formed request passes.
    let r = f.http.post("/v1/actions", &op, pause(None)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_names_cannot_be_minted_and_the_engine_label_is_not_for_tokens() {
    let f = fixture().await;
    for name in [
        "flagtop-engine",
        "flagtop-system",
        "automation",
        "engine",
        "system",
    ] {
        let r = f
            .http
            .post(
                "/v1/tokens",
                &f.admin,
                json!({"name": name, "role": "operator"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("reserved_name")),
            "{name}: {:?}",
            r.body
        );
    }
    // The two-person rule holds for every token, whatever it is called.
    let op = f.http.token(&f.admin, "engine-room", "operator").await;
    let body = json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "production", "cohort": "us-east", "percent": 100}, "reason": "expand"});
    let r = f.http.post("/v1/actions", &op, body).await;
    assert_eq!(
        (r.status, r.body["outcome"].as_str()),
        (202, Some("requested")),
        "{:?}",
        r.body
    );
    let who = f.http.get("/v1/whoami", &op).await.body;
    assert_eq!(who["kind"], "person");
}
