//! The webhook delivery worker: a tokio task that sends each hook's oldest queued delivery
//! (`outbox_head`), signs it (`sign`), records every attempt durably (`outbox_attempt`) and
//! retries with exponential backoff and jitter until the receiver answers 2xx. At least once:
//! a delivery sent just before the process dies is sent again after a restart, with the same
//! `X-Flagtop-Delivery` id, which receivers deduplicate by. One hook's failures never hold up
//! another's; a hook's deliveries go out in the order of the changes that made them. On
//! PostgreSQL only the replica that runs the engine delivers. Must not change flag state.

mod send;
mod sign;

pub use sign::{hex_hmac_sha256, signature_header};

use super::service::ControlPlane;
use crate::wire::webhook::Delivery;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long the worker waits between passes when nothing was due.
pub const POLL: Duration = Duration::from_millis(250);
/// The first retry's delay; each further one doubles, up to `BACKOFF_MAX`.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);

/// The delay before attempt `attempt + 1`: `BACKOFF_BASE · 2^(attempt-1)`, capped, times a
/// jitter in [0.5, 1) so that many hooks failing together do not retry together.
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    exp.min(BACKOFF_MAX).mul_f64(jitter.clamp(0.5, 1.0))
}

/// A jitter factor in [0.5, 1) from the OS's randomness (uuid v4 draws it).
fn jitter() -> f64 {
    0.5 + (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 2000.0
}

/// Deliver until `stop` is set, on `rt` (the leadership thread is not a tokio thread).
pub fn spawn(rt: &tokio::runtime::Handle, cp: Arc<ControlPlane>, stop: Arc<AtomicBool>) {
    rt.spawn(async move {
        let client = match send::client() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the webhook HTTP client; webhooks will not be delivered");
                return;
            }
        };
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = pass(&cp, &client).await {
                tracing::warn!(error = %e, "webhook delivery pass failed; trying again");
            }
            // With no hook defined, look again only as often as the health is read.
            let idle = cp.read_state(|s| s.webhooks.is_empty());
            tokio::time::sleep(if idle { HEALTH_POLL } else { POLL }).await;
        }
    });
}

/// How often every replica reads the webhooks' health for snapshots, `status` and the TUI.
pub const HEALTH_POLL: Duration = Duration::from_secs(1);

/// Read the webhooks' health every `HEALTH_POLL` until `stop` is set (every replica: the one
/// delivering writes it to the store, the others read it there).
pub fn spawn_health(rt: &tokio::runtime::Handle, cp: Arc<ControlPlane>, stop: Arc<AtomicBool>) {
    rt.spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let c = cp.clone();
            match tokio::task::spawn_blocking(move || c.webhook_health()).await {
                Ok(Ok(h)) => cp.set_hook_health(h),
                Ok(Err(e)) => tracing::debug!(error = %e, "cannot read the webhooks' health"),
                Err(_) => {}
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
    });
}

/// One pass: each hook's oldest due delivery, sent once — all hooks at the same time, so a
/// receiver that never answers holds up only its own hook.
async fn pass(cp: &Arc<ControlPlane>, client: &reqwest::Client) -> Result<(), String> {
    let sends = cp.webhooks().into_iter().map(|hook| one(cp, client, hook));
    futures::future::join_all(sends)
        .await
        .into_iter()
        .collect::<Result<Vec<()>, String>>()
        .map(drop)
}

/// `hook`'s oldest delivery, when it is due: sent, and the attempt recorded.
async fn one(
    cp: &Arc<ControlPlane>,
    client: &reqwest::Client,
    hook: crate::domain::Webhook,
) -> Result<(), String> {
    let store = cp.backend();
    let name = hook.name.clone();
    let (head, _) = tokio::task::spawn_blocking(move || store.outbox_head(&name))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let Some(row) = head else { return Ok(()) };
    let now = cp.clock.now();
    if row.next_at.is_some_and(|t| t > now) {
        return Ok(());
    }
    let attempt = row.attempts.saturating_add(1);
    let answer = send::send(client, &hook, &row, attempt, now).await;
    let d = delivery(&row, attempt, cp.clock.now(), answer);
    match d.outcome.as_str() {
        "delivered" => {
            tracing::info!(hook = %hook.name, id = %row.id, attempt, "webhook delivered")
        }
        _ => {
            tracing::warn!(hook = %hook.name, id = %row.id, attempt, error = d.error.as_deref().unwrap_or(""), "webhook delivery failed; will retry")
        }
    }
    let store = cp.backend();
    tokio::task::spawn_blocking(move || store.outbox_attempt(&row, &d))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// The log entry of one attempt: delivered on a 2xx, else retrying after the backoff.
fn delivery(
    row: &crate::wire::webhook::OutboxRow,
    attempt: u32,
    at: DateTime<Utc>,
    answer: Result<u16, String>,
) -> Delivery {
    let (status, error) = match answer {
        Ok(s) if (200..300).contains(&s) => (Some(s), None),
        Ok(s) if (300..400).contains(&s) => (
            Some(s),
            Some(format!(
                "answered {s}: redirects are not followed; use the final URL"
            )),
        ),
        Ok(s) => (Some(s), Some(format!("answered {s}"))),
        Err(e) => (None, Some(e)),
    };
    let delivered = error.is_none();
    let next_at = (!delivered).then(|| {
        let wait = backoff(attempt, jitter());
        at + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::seconds(600))
    });
    Delivery {
        hook: row.hook.clone(),
        id: row.id.clone(),
        event: row.event,
        attempt,
        at,
        status,
        error: error.map(|e| crate::sanitize::clean(&e, crate::wire::webhook::MAX_ATTEMPT_TEXT)),
        outcome: if delivered { "delivered" } else { "retrying" }.into(),
        next_at,
    }
}

#[cfg(test)]
mod tests;
