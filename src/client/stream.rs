//! The live event stream: connects to `GET /v1/stream`, parses it with the bounded SSE parser,
//! resumes with `Last-Event-ID`, and reconnects with jittered exponential backoff. With several
//! replicas a lost connection moves to the next one at once (the id resumes on any replica of
//! one database), backing off only once every replica failed in a row. Emits `StreamEvent`s
//! into a channel; never blocks the receiver.

use super::clean::Clean;
use super::http::Client;
use super::sse::{SseItem, SseParser};
use crate::domain::EnvKey;
use crate::wire::{Change, GuardrailUpdate, StreamHello};
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub const MAX_LINE: usize = 1 << 20;
pub const MAX_EVENT: usize = 8 << 20;
/// No byte (not even a heartbeat, sent every 10 s) for this long means the link is dead
/// (`FLAGTOP_STREAM_IDLE_SECS`, default 25 s).
pub fn idle_timeout() -> Duration {
    super::http::secs_from_env("FLAGTOP_STREAM_IDLE_SECS", 25)
}

#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// Connected (or reconnected); `revision` is the server's current revision.
    Connected {
        revision: u64,
    },
    /// Sent before `Connected` when the client has several replicas: the URL of the one the
    /// stream (and every request after it) is on now.
    Replica(String),
    Change(Box<Clean<Change>>),
    Guardrails(Clean<GuardrailUpdate>),
    /// The external flag store's sync state changed.
    Store(Clean<crate::wire::StoreStatus>),
    /// The webhooks' health changed (a hook started or stopped failing).
    Webhooks(Clean<Vec<crate::wire::webhook::HookHealth>>),
    /// The server cannot replay what we missed: fetch a new snapshot.
    Reset {
        revision: u64,
    },
    /// The stream is down; it will retry after `retry_in`. `reason` is inert text.
    Disconnected {
        reason: String,
        retry_in: Duration,
    },
}

fn jitter(base: Duration) -> Duration {
    // Jitter from the clock's sub-second noise: enough to spread reconnecting clients.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let frac = f64::from(nanos % 1000) / 1000.0; // 0..1
    base.mul_f64(0.5 + frac * 0.5)
}

/// Between two replicas: a pause just long enough not to spin.
const HOP: Duration = Duration::from_millis(50);

/// Why a connection failed, and whether the replica is gone or silent (another one may do
/// better) rather than answering with an error.
struct Failed {
    reason: String,
    lost: bool,
}

fn lost(reason: String) -> Failed {
    Failed { reason, lost: true }
}

fn refused(reason: String) -> Failed {
    Failed {
        reason,
        lost: false,
    }
}

/// How one connection ended.
enum End {
    /// The receiver is gone: stop.
    Gone,
    /// The environment whose readings we want changed: reconnect at once (resuming).
    Switch,
}

/// Follow the stream until the receiver is dropped. `last_revision` is the revision of the
/// snapshot the caller already holds. With `readings`, guardrail readings come for the
/// environment it holds only; when it changes, the stream reconnects (resuming, so no change is
/// lost or repeated) and opens with that environment's current readings.
pub async fn follow(
    client: Client,
    mut last_revision: Option<u64>,
    mut readings: Option<watch::Receiver<EnvKey>>,
    tx: mpsc::Sender<StreamEvent>,
) {
    let mut backoff = Duration::from_millis(250);
    // After a switch the link never went down: its new `hello` is not news to the receiver.
    let mut switching = false;
    // The data dir the stream last came from: a resume names it, so another server answers
    // with a reset instead of a silent gap.
    let mut epoch: Option<String> = None;
    // Replicas that failed one after the other since the last `hello`.
    let mut hops = 0;
    loop {
        let (at, base) = client.backends().current();
        let base = base.to_string();
        let failed = match connection(
            (&client, &base),
            (&mut last_revision, &mut epoch),
            readings.as_mut(),
            switching,
            &tx,
            (&mut backoff, &mut hops),
        )
        .await
        {
            Ok(End::Gone) => return,
            Ok(End::Switch) => {
                switching = true;
                continue;
            }
            Err(f) => f,
        };
        switching = false;
        let several = client.backends().several();
        let wait = if failed.lost && several {
            client.backends().move_on_from(at);
            hops += 1;
            if hops < client.backends().len() {
                HOP
            } else {
                hops = 0;
                jitter(backoff)
            }
        } else {
            jitter(backoff)
        };
        let reason = crate::sanitize::sanitize(&failed.reason).into_owned();
        if tx
            .send(StreamEvent::Disconnected {
                reason,
                retry_in: wait,
            })
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// One connection: Ok when it ended on purpose, Err when it failed.
async fn connection(
    (client, base): (&Client, &str),
    (last_revision, epoch): (&mut Option<u64>, &mut Option<String>),
    mut readings: Option<&mut watch::Receiver<EnvKey>>,
    switching: bool,
    tx: &mpsc::Sender<StreamEvent>,
    (backoff, hops): (&mut Duration, &mut usize),
) -> Result<End, Failed> {
    // Keys are checked to be URL-safe; one that is not gets every environment's readings.
    let path = match readings
        .as_deref_mut()
        .map(|r| r.borrow_and_update().clone())
    {
        Some(env) if crate::domain::ids::valid_key(&env) => format!("/v1/stream?readings={env}"),
        _ => "/v1/stream".to_string(),
    };
    let mut rb = client
        .request_to(base, reqwest::Method::GET, &path)
        .header("accept", "text/event-stream");
    if let Some(r) = last_revision {
        let id = match epoch.as_deref() {
            Some(e) => format!("{r}@{e}"),
            None => r.to_string(),
        };
        rb = rb.header("last-event-id", id);
    }
    let idle = idle_timeout();
    let resp = match tokio::time::timeout(idle, rb.send()).await {
        Err(_) => {
            return Err(lost(format!(
                "no answer to the stream request from {base} for {} s",
                idle.as_secs()
            )));
        }
        Ok(r) => r.map_err(|e| lost(Client::map_send_error(base, e).to_string()))?,
    };
    if !resp.status().is_success() {
        return Err(refused(format!("stream answered HTTP {}", resp.status())));
    }
    let mut body = resp.bytes_stream();
    let mut parser = SseParser::new(MAX_LINE, MAX_EVENT);
    let mut items = Vec::new();
    loop {
        // A fresh timer per chunk (dropped when the chunk comes): no timer left behind to wake
        // the runtime while data flows.
        let next = async {
            match readings.as_deref_mut() {
                Some(r) => tokio::select! {
                    c = tokio::time::timeout(idle, body.next()) => Some(c),
                    // A closed sender (the TUI is going) ends the stream through `tx`, not here.
                    Ok(()) = r.changed() => None,
                },
                None => Some(tokio::time::timeout(idle, body.next()).await),
            }
        };
        let Some(chunk) = next.await else {
            return Ok(End::Switch);
        };
        let chunk = match chunk {
            Err(_) => {
                return Err(lost(format!(
                    "no data or heartbeat from {base} for {} s",
                    idle.as_secs()
                )));
            }
            Ok(None) => return Err(lost(format!("{base} closed the stream"))),
            Ok(Some(Err(e))) => return Err(lost(format!("stream read from {base} failed: {e}"))),
            Ok(Some(Ok(c))) => c,
        };
        parser
            .push(&chunk, &mut items)
            .map_err(|e| refused(e.to_string()))?;
        for item in items.drain(..) {
            let SseItem::Event(ev) = item else { continue };
            let out = match ev.event.as_str() {
                "hello" => {
                    *backoff = Duration::from_millis(250);
                    *hops = 0;
                    let h: StreamHello = serde_json::from_str(&ev.data)
                        .map_err(|e| refused(format!("bad hello: {e}")))?;
                    if let Some(e) = h.epoch.filter(|e| e.len() <= 64) {
                        *epoch = Some(e);
                    }
                    if switching {
                        continue;
                    }
                    if client.backends().several()
                        && tx
                            .send(StreamEvent::Replica(base.to_string()))
                            .await
                            .is_err()
                    {
                        return Ok(End::Gone);
                    }
                    StreamEvent::Connected {
                        revision: h.revision.0,
                    }
                }
                "reset" => {
                    let h: StreamHello = serde_json::from_str(&ev.data)
                        .map_err(|e| refused(format!("bad reset: {e}")))?;
                    *last_revision = Some(h.revision.0);
                    StreamEvent::Reset {
                        revision: h.revision.0,
                    }
                }
                "change" => {
                    let c: Change = serde_json::from_str(&ev.data)
                        .map_err(|e| refused(format!("bad change: {e}")))?;
                    *last_revision = Some(c.revision.0);
                    StreamEvent::Change(Box::new(Clean::new(c)))
                }
                "store" => StreamEvent::Store(Clean::new(
                    serde_json::from_str(&ev.data)
                        .map_err(|e| refused(format!("bad store: {e}")))?,
                )),
                "webhooks" => StreamEvent::Webhooks(Clean::new(
                    serde_json::from_str(&ev.data)
                        .map_err(|e| refused(format!("bad webhooks: {e}")))?,
                )),
                "guardrails" => StreamEvent::Guardrails(Clean::new(
                    serde_json::from_str(&ev.data)
                        .map_err(|e| refused(format!("bad guardrails: {e}")))?,
                )),
                _ => continue,
            };
            if tx.send(out).await.is_err() {
                return Ok(End::Gone);
            }
        }
    }
}
