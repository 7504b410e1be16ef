//! One HTTP attempt: POST the body with its headers, no redirects, bounded by timeouts; only
//! the status is read (the answer's body is never read). Errors never name the URL (its path
//! may be the hook's secret).

use super::sign::signature_header;
use crate::domain::Webhook;
use crate::wire::webhook::{OutboxRow, body};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Connecting to a receiver, at most.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole attempt (connect, send, the answer's status line and headers), at most.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("flagtop/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Send `row` to `hook`: the receiver's status, or what went wrong.
pub(super) async fn send(
    client: &reqwest::Client,
    hook: &Webhook,
    row: &OutboxRow,
    attempt: u32,
    now: DateTime<Utc>,
) -> Result<u16, String> {
    let text = body(hook.format, &row.payload);
    let mut rb = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-flagtop-event", row.event.as_str())
        .header("x-flagtop-delivery", &row.id)
        .header("x-flagtop-attempt", attempt.to_string());
    if let Some(var) = &hook.secret_env {
        let Some(secret) = std::env::var(var).ok().filter(|s| !s.is_empty()) else {
            return Err(format!(
                "the signing secret's variable {var} is not set on this control plane; set it and restart"
            ));
        };
        let mut sig = reqwest::header::HeaderValue::from_str(&signature_header(
            secret.as_bytes(),
            now.timestamp(),
            &text,
        ))
        .map_err(|e| e.to_string())?;
        sig.set_sensitive(true);
        rb = rb.header("x-flagtop-signature", sig);
    }
    match rb.body(text).send().await {
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) => Err(describe(&e.without_url())),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect to the receiver".into()
    } else {
        format!("request failed: {e}")
    }
}
