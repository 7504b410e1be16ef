//! Signed webhooks end to end: a real `flagtop serve` and a real HTTP receiver on loopback.
//! A demo breach delivers `breach` and `request_created` signed (checked here with the `hmac`
//! crate, independently of flagtop's ring); 500, 500, 200 is delivered once after two retries,
//! each attempt logged; `kill -9` between commit and delivery delivers after the restart,
//! once per id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

#[path = "../common/mod.rs"]
mod common;
mod define;
mod delivery;
mod postgres;
mod restart;

use common::receiver::Got;
use common::{Http, Server};
use hmac::{KeyInit, Mac};
use serde_json::json;

pub const SECRET: &str = "test-secret-0123456789abcdef";
pub const SECRET_ENV: &str = "FLAGTOP_TEST_HOOK_SECRET";

/// `flagtop serve` with the hook secret in its environment (`extra` after `--data DIR`).
pub fn serve(data: &std::path::Path, extra: &[&str]) -> Server {
    Server::start_env(
        data,
        "127.0.0.1:0",
        extra,
        &[(SECRET_ENV, SECRET.to_string())],
    )
}

/// Define a signed json hook through the API.
pub async fn define(http: &Http, admin: &str, url: &str, events: &[&str], envs: &[&str]) {
    let r = http
        .call(
            "PUT",
            "/v1/webhooks/ops",
            Some(admin),
            Some(json!({
                "name": "ops", "url": url, "events": events, "environments": envs,
                "secret_env": SECRET_ENV,
            })),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["result"], "created");
}

/// The signature header checked as a receiver would: HMAC-SHA256 over "<t>.<body>".
pub fn signature_valid(g: &Got) -> bool {
    let header = g.header("x-flagtop-signature");
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", g.body).as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    want == v1
}

/// `flagtop webhooks log --json --hook ops` through the CLI.
pub fn log(server: &Server, admin: &str) -> serde_json::Value {
    let out = server.cli(admin, &["webhooks", "log", "--json", "--hook", "ops"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Freeze (or unfreeze) staging: an event a hook can subscribe to, applied at once.
pub async fn freeze(http: &Http, admin: &str, on: bool) -> serde_json::Value {
    let verb = if on { "freeze" } else { "unfreeze" };
    let r = http
        .post(
            "/v1/actions",
            admin,
            json!({"action": {"type": verb, "env": "staging"}, "reason": "webhook test"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}
