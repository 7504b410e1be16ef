//! The OFREP bulk contract with the official web provider (`@openfeature/web-sdk` +
//! `@openfeature/ofrep-web-provider`) under Node, against a real `flagtop serve`: a bulk
//! evaluation with an ETag, a 304 when the context is the same, the event stream's
//! `refetchEvaluation` after a narrowed rollback, and the re-fetch (with `flagConfigEtag`) that
//! brings the new value. Installed by `scripts/nodeenv-ofrep` from a committed lock file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::{Http, Server};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const FLAG: &str = "checkout-v2";
const ENV: &str = "production";

/// The web install, or None with a loud message; under CI a missing install fails.
fn web_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/tmp/ofrep-web");
    let ok = dir
        .join("node_modules/@openfeature/ofrep-web-provider")
        .exists()
        && Command::new("node").arg("--version").output().is_ok();
    if ok {
        return Some(dir);
    }
    common::skip_loudly(
        "OPENFEATURE WEB PROVIDER TEST SKIPPED: no node or no .ci/tmp/ofrep-web — run scripts/nodeenv-ofrep (scripts/test does)",
    )
}

fn requests(step: &Value) -> Vec<Value> {
    step["requests"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_web_provider_uses_etag_304_and_the_event_stream_to_see_a_rollback() {
    let Some(dir) = web_dir() else { return };
    let (_dir, server, admin) = Server::fresh(&["--no-simulate", "--scenario", "calm"]);
    let http = Http::new(&server.url);
    let sdk = http
        .post(
            "/v1/tokens",
            &admin,
            json!({"name": "web-app", "role": "sdk", "environments": [ENV]}),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    // A user of eu-west who gets the candidate now (the single-flag endpoint says so).
    let mut user = None;
    for i in 0..400 {
        let key = format!("web-user-{i}");
        let r = http
            .call(
                "POST",
                &format!("/ofrep/v1/evaluate/flags/{FLAG}"),
                None,
                Some(json!({"context": {"targetingKey": key, "region": "eu-west"}})),
                &[("x-api-key", sdk.as_str())],
            )
            .await;
        if r.body["value"] == true {
            user = Some(key);
            break;
        }
    }
    let user = user.expect("an exposed eu-west user");

    let script = dir.join("drive.mjs");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ofrep/web/drive.mjs"),
        &script,
    )
    .unwrap();
    let mut child = Command::new("node")
        .arg(&script)
        .args([FLAG, user.as_str(), "eu-west"])
        .env("OFREP_ENDPOINT", &server.url)
        .env("OFREP_TOKEN", &sdk)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node drive.mjs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |want: &str| -> Value {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("drive.mjs ended before {want}"))
            .unwrap();
        let v: Value = serde_json::from_str(&line).expect("a JSON line");
        assert_eq!(v["step"], want, "{v}");
        v
    };

    // One bulk evaluation, answered 200 with an ETag; the candidate for this user.
    let ready = next("ready");
    assert_eq!(ready["value"], true, "{ready}");
    let first = requests(&ready);
    assert!(
        first
            .iter()
            .any(|r| r["path"] == "/ofrep/v1/evaluate/flags" && r["status"] == 200),
        "{ready}"
    );
    let etag = first
        .iter()
        .find_map(|r| r["etag"].as_str())
        .unwrap_or_else(|| panic!("no ETag: {ready}"))
        .to_string();
    // The same context: If-None-Match with that ETag, 304, nothing changes.
    let same = next("same-context");
    assert!(
        requests(&same)
            .iter()
            .any(|r| r["status"] == 304 && r["ifNoneMatch"] == etag.as_str()),
        "{same}"
    );
    assert_eq!(same["value"], true);
    // Listening on the event stream the bulk answer advertised.
    let listening = next("listening");
    assert!(
        listening["opened"].as_u64().unwrap_or(0) >= 1,
        "{listening}"
    );
    assert_eq!(listening["streams"][0], "/ofrep/v1/events");

    // A narrowed rollback of eu-west: refetchEvaluation → a re-fetch → the fallthrough.
    let r = http
        .post(
            "/v1/actions",
            &admin,
            json!({"action": {"type": "rollback", "flag": FLAG, "env": ENV, "cohort": "eu-west"},
                   "reason": "web provider test"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let changed = next("changed");
    assert_eq!(changed["value"], false, "{changed}");
    let refetch = requests(&changed);
    assert!(
        refetch.iter().any(|r| r["status"] == 200
            && r["query"]
                .as_str()
                .unwrap_or("")
                .contains("flagConfigEtag=")
            && r["etag"].as_str().is_some_and(|e| e != etag)),
        "the re-fetch carries the stream's ETag and gets a new one: {changed}"
    );
    assert!(child.wait().unwrap().success());
}
