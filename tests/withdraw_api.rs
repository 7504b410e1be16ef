//! `POST /v1/approvals/{id}/withdraw` for every role against a real `flagtop serve`: each
//! token holder who may propose withdraws their own pending request; nobody — approvers and
//! admins included — withdraws someone else's (403 `not_your_request`, viewers 403 by policy),
//! and a refused withdrawal leaves the request pending and the revision where it was.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::{Http, Server};
use serde_json::json;

const ROLES: [&str; 5] = ["viewer", "operator", "approver", "agent", "admin"];

async fn propose(http: &Http, token: &str, percent: u8) -> String {
    let r = http
        .post(
            "/v1/proposals",
            token,
            json!({"action": {"type": "set_percent", "flag": "assistant-pr-creation", "env": "production", "cohort": "payments-team", "percent": percent}, "reason": "withdraw test"}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    r.body["approval_id"].as_str().expect("id").to_string()
}

async fn state(http: &Http, token: &str, id: &str) -> String {
    let r = http.get("/v1/approvals", token).await;
    r.body["approvals"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id))
        .and_then(|a| a["state"].as_str())
        .expect("request listed")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_requester_withdraws_whatever_the_role() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let mut tokens = Vec::new();
    for r in ROLES {
        tokens.push(http.token(&admin, &format!("{r}-user"), r).await);
    }
    // Someone else's request (the admin's): refused for every role, nothing changes.
    let theirs = propose(&http, &admin, 40).await;
    let rev = http.get("/v1/snapshot", &admin).await.body["revision"].clone();
    let mut got = Vec::new();
    for t in &tokens[..4] {
        let r = http
            .post(
                &format!("/v1/approvals/{theirs}/withdraw"),
                t,
                json!({"reason": "mine?"}),
            )
            .await;
        got.push((
            r.status,
            r.body["error"]["code"].as_str().unwrap_or("").to_string(),
        ));
    }
    let want: Vec<(u16, String)> = [
        (403, "forbidden"),
        (403, "not_your_request"),
        (403, "not_your_request"),
        (403, "not_your_request"),
    ]
    .iter()
    .map(|(s, c)| (*s, c.to_string()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(state(&http, &admin, &theirs).await, "pending");
    assert_eq!(http.get("/v1/snapshot", &admin).await.body["revision"], rev);
    // Their own: every role that may propose withdraws it (operator, approver, agent, admin).
    for (i, t) in tokens.iter().enumerate().skip(1) {
        let id = propose(&http, t, 50 + i as u8).await;
        let r = http
            .post(
                &format!("/v1/approvals/{id}/withdraw"),
                t,
                json!({"reason": "changed my mind"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}: {:?}", ROLES[i], r.body);
        assert_eq!(r.body["outcome"], "rejected");
        assert_eq!(state(&http, &admin, &id).await, "rejected");
        // Decided now: a conflict, not a second close.
        let again = http
            .post(
                &format!("/v1/approvals/{id}/withdraw"),
                t,
                json!({"reason": "again"}),
            )
            .await;
        assert_eq!(
            (again.status, again.body["error"]["code"].as_str()),
            (409, Some("approval_not_pending"))
        );
    }
    // A reason is required; an unknown verb names the three.
    let id = propose(&http, &tokens[1], 70).await;
    let r = http
        .post(
            &format!("/v1/approvals/{id}/withdraw"),
            &tokens[1],
            json!({"reason": " "}),
        )
        .await;
    assert_eq!(r.status / 100, 4, "{:?}", r.body);
    assert_eq!(state(&http, &admin, &id).await, "pending");
    let r = http
        .post(
            &format!("/v1/approvals/{id}/cancel"),
            &tokens[1],
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/withdraw"),
        "{:?}",
        r.body
    );
}
