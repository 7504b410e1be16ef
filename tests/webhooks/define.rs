//! Definitions over HTTP and `flagtop apply -f`: admin only, strict bodies, URLs and secrets
//! checked; a Slack hook gets `{"text": …}` with hostile text escaped and no signature.

use super::common::Http;
use super::common::receiver::Receiver;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_are_checked_and_a_slack_hook_gets_escaped_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--no-simulate"]);
    let admin = server.admin.clone().unwrap();
    let http = Http::new(&server.url);
    let put = |token: String, body: serde_json::Value| {
        let http = &http;
        async move {
            http.call("PUT", "/v1/webhooks/ops", Some(&token), Some(body), &[])
                .await
        }
    };
    let hook = |url: &str| json!({"name": "ops", "url": url, "events": ["freeze"], "secret_env": SECRET_ENV});
    let viewer = http.token(&admin, "viv", "viewer").await;
    assert_eq!(put(viewer, hook("https://example.com/h")).await.status, 403);
    let mut extra = hook("https://example.com/h");
    extra["secret"] = json!("inline");
    let r = put(admin.clone(), extra).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (422, Some("unknown_field")),
        "{:?}",
        r.body
    );
    let r = put(admin.clone(), hook("https://user:pw@example.com/h")).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (422, Some("invalid_url")),
        "{:?}",
        r.body
    );
    let mut unset = hook("https://example.com/h");
    unset["secret_env"] = json!("FLAGTOP_TEST_NOT_SET");
    let r = put(admin.clone(), unset).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(
        r.body
            .to_string()
            .contains("no environment variable FLAGTOP_TEST_NOT_SET"),
        "{:?}",
        r.body
    );

    // `apply -f` with a Slack hook: created, then unchanged.
    let rx = Receiver::start(&[]).await;
    let file = dir.path().join("hooks.toml");
    std::fs::write(
        &file,
        format!("[[webhooks]]\nname = \"chat\"\nurl = \"{}\"\nevents = [\"freeze\"]\nformat = \"slack\"\n", rx.url),
    )
    .unwrap();
    let apply = || server.cli(&admin, &["apply", "-f", file.to_str().unwrap(), "--json"]);
    let out = apply();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first[0], json!({"webhook": "chat", "result": "created"}));
    let again: serde_json::Value = serde_json::from_slice(&apply().stdout).unwrap();
    assert_eq!(again[0]["result"], "unchanged");

    let r = http
        .post(
            "/v1/actions",
            &admin,
            json!({"action": {"type": "freeze", "env": "staging"}, "reason": "<!channel> & <https://evil|click> \u{1b}[31m"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let got = rx.wait_for(30, |g| !g.is_empty()).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("x-flagtop-signature"),
        "",
        "a Slack hook without a secret is not signed"
    );
    let text = got[0].json()["text"].as_str().unwrap().to_string();
    assert!(text.starts_with("*flagtop: freeze*"), "{text}");
    assert!(
        text.contains("&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"),
        "{text}"
    );
    assert!(!text.contains('<') && !text.contains('\u{1b}'), "{text}");
}
