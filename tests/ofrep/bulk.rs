//! The bulk contract (ETag, 304, event stream) and every refusal in the OFREP error shape.

use super::*;

async fn raw(http: &Http, path: &str, headers: &[(&str, &str)], body: &str) -> reqwest::Response {
    let mut rb = http
        .client
        .post(format!("{}{path}", http.url))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_etag_event_stream_and_refusals() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate", "--scenario", "calm"]);
    let http = Http::new(&server.url);
    let r = http
        .post(
            "/v1/tokens",
            &admin,
            json!({"name": "web", "role": "sdk", "environments": [ENV]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sdk = r.body["token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {sdk}");
    let auth = [("authorization", bearer.as_str())];
    let ctx = r#"{"context":{"targetingKey":"user-7","region":"eu-west"}}"#;

    // An sdk token reads and acts nothing; other roles and environments do not evaluate.
    assert_eq!(http.get("/v1/snapshot", &sdk).await.status, 403);
    assert_eq!(http.get("/v1/stream", &sdk).await.status, 403);
    assert_eq!(http.post("/v1/actions", &sdk, json!({})).await.status, 403);
    assert_eq!(
        raw(&http, "/ofrep/v1/evaluate/flags/checkout-v2", &[], ctx)
            .await
            .status(),
        401
    );
    let admin_bearer = format!("Bearer {admin}");
    assert_eq!(
        raw(
            &http,
            "/ofrep/v1/evaluate/flags/checkout-v2",
            &[("authorization", &admin_bearer)],
            ctx
        )
        .await
        .status(),
        403
    );
    let other_env = [("x-api-key", sdk.as_str()), ("x-flagtop-env", "staging")];
    assert_eq!(
        raw(
            &http,
            "/ofrep/v1/evaluate/flags/checkout-v2",
            &other_env,
            ctx
        )
        .await
        .status(),
        403
    );
    let r = http
        .post("/v1/tokens", &admin, json!({"name": "bad", "role": "sdk"}))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (422, Some("environment_required"))
    );
    let r = http
        .post(
            "/v1/tokens",
            &admin,
            json!({"name": "bad", "role": "sdk", "environments": ["nowhere"]}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (422, Some("unknown_environment"))
    );

    // Bad bodies: the OFREP error shape with the right status, nothing changed.
    let long = format!(r#"{{"context":{{"targetingKey":"{}"}}}}"#, "x".repeat(300));
    let deep = r#"{"context":{"targetingKey":"u","a":[[[[[[1]]]]]]}}"#;
    for (body, status, code) in [
        ("{not json", 400, "PARSE_ERROR"),
        (r#"{"context":5}"#, 400, "INVALID_CONTEXT"),
        (
            r#"{"context":{"region":"eu-west"}}"#,
            400,
            "TARGETING_KEY_MISSING",
        ),
        (long.as_str(), 400, "INVALID_CONTEXT"),
        (deep, 400, "INVALID_CONTEXT"),
    ] {
        let r = raw(&http, "/ofrep/v1/evaluate/flags/checkout-v2", &auth, body).await;
        assert_eq!(r.status(), status, "{body}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(
            (b["key"].as_str(), b["errorCode"].as_str()),
            (Some("checkout-v2"), Some(code)),
            "{body}"
        );
    }
    let r = raw(&http, "/ofrep/v1/evaluate/flags/nope", &auth, ctx).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errorCode"],
        "FLAG_NOT_FOUND"
    );

    // Bulk: every flag with an ETag; the same ETag is 304; a change gives a new one.
    let r = raw(&http, "/ofrep/v1/evaluate/flags", &auth, ctx).await;
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let b: Value = r.json().await.unwrap();
    assert!(
        b["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == "checkout-v2" && f["reason"] == "SPLIT"),
        "{b}"
    );
    assert_eq!(b["eventStreams"][0]["type"], "sse");
    let uri = b["eventStreams"][0]["endpoint"]["requestUri"]
        .as_str()
        .unwrap()
        .to_string();
    let with_etag = [
        ("authorization", bearer.as_str()),
        ("if-none-match", etag.as_str()),
    ];
    assert_eq!(
        raw(&http, "/ofrep/v1/evaluate/flags", &with_etag, ctx)
            .await
            .status(),
        304
    );

    // The event stream: a change that can alter a result sends refetchEvaluation with the new ETag.
    let mut events = http
        .client
        .get(format!("{}{uri}", http.url))
        .header("x-api-key", &sdk)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let _hello = tokio::time::timeout(Duration::from_secs(5), events.chunk())
        .await
        .unwrap()
        .unwrap();
    let t = Instant::now();
    rollback_eu_west(&server.url, &admin, "ofrep stream test");
    let mut got = String::new();
    while !got.contains("refetchEvaluation") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), events.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        got.push_str(&String::from_utf8_lossy(&chunk));
    }
    eprintln!(
        "rollback command → refetchEvaluation in {:?} (includes the CLI process)",
        t.elapsed()
    );
    assert!(got.contains("event: message"), "{got}");
    let r = raw(&http, "/ofrep/v1/evaluate/flags", &with_etag, ctx).await;
    assert_eq!(r.status(), 200, "the old ETag still matched after a change");
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
}
