//! Bad input to the whole-flow server: each refusal precise (status and code), each changing nothing.

use super::common::Http;
use super::rollback;
use serde_json::json;

pub async fn changes_nothing(http: &Http, alice: &str, bob: &str, viewer: &str, agent: &str) {
    let rev_before = http.get("/v1/snapshot", alice).await.body["revision"].clone();
    let cases: Vec<(serde_json::Value, u16, &str)> = vec![
        (
            json!({"action": {"type": "rollback", "flag": "nope", "env": "production", "cohort": "eu-west"}, "reason": "x"}),
            404,
            "unknown_flag",
        ),
        (
            json!({"action": {"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": "mars"}, "reason": "x"}),
            404,
            "unknown_cohort",
        ),
        (
            json!({"action": {"type": "rollback", "flag": "checkout-v2", "env": "moon", "cohort": "eu-west"}, "reason": "x"}),
            404,
            "unknown_environment",
        ),
        (
            json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "eu-west", "percent": 150}, "reason": "x"}),
            422,
            "percent_out_of_range",
        ),
        (
            json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "eu-west", "percent": "ten"}, "reason": "x"}),
            422,
            "invalid_request",
        ),
        (
            json!({"action": rollback("eu-west"), "reason": "   "}),
            422,
            "reason_required",
        ),
        (
            json!({"action": rollback("eu-west")}),
            422,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let r = http.post("/v1/actions", alice, body.clone()).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(!r.body["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    let raw = http
        .client
        .post(format!("{}/v1/actions", http.url))
        .bearer_auth(alice)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status().as_u16(), 400);
    let huge = format!("{{\"reason\": \"{}\"}}", "x".repeat(400_000));
    let raw = http
        .client
        .post(format!("{}/v1/actions", http.url))
        .bearer_auth(alice)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status().as_u16(), 413);
    for (token, code) in [(viewer, "forbidden"), (agent, "forbidden")] {
        let r = http
            .post(
                "/v1/actions",
                token,
                json!({"action": rollback("eu-west"), "reason": "x"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (403, Some(code))
        );
    }
    let r = http.call("GET", "/v1/snapshot", None, None, &[]).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let r = http
        .call(
            "GET",
            &format!("/v1/snapshot?token={alice}"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("token_in_url"))
    );
    let r = http
        .post(
            "/v1/approvals/apr-none/approve",
            bob,
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        http.get("/v1/snapshot", alice).await.body["revision"],
        rev_before,
        "bad input changed nothing"
    );
}
