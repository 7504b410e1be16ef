//! `GET /v1/stream`: the server-sent event stream of changes, guardrail updates and
//! heartbeats, one task per connection. Frames are written by hand: with 200 streams, axum's
//! `Event` builder (a growing buffer per event, a newline scan of every payload, a keep-alive
//! timer reset on every event) cost more server CPU than the changes themselves.

use super::limits::Limits;
use super::{ApiError, TokenScope};
use crate::control::server::{ConnHandle, StreamQueue, until_closing};
use crate::control::service::{ControlPlane, StreamMsg};
use crate::domain::Revision;
use crate::wire::{ExposureCount, GuardrailReading, GuardrailUpdate, StreamHello};
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use budget::{Budgeted, Drain, fitted};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// Told to every stream when the server shuts down: streams end at once.
#[derive(Clone)]
pub struct Closing(pub tokio::sync::watch::Receiver<bool>);

/// Chunks a stream may have queued (besides its byte budget).
const STREAM_CHUNKS: usize = 256;

/// Silence longer than this on a stream gets a heartbeat comment.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(10);

/// Frames that are ready together go out as one chunk (one write, one wake-up of the reader):
/// a group commit publishes its changes back to back. Bounded so one chunk stays small.
const BATCH_FRAMES: usize = 64;
const BATCH_BYTES: usize = 256 << 10;

/// Appends one SSE frame to `f`. `data` is compact JSON (one line); a newline in it would still
/// become its own `data:` line. The id is `REVISION@EPOCH`.
fn push_frame(f: &mut String, event: &str, id: Option<(Revision, &str)>, data: &str) {
    f.reserve(data.len() + event.len() + 40);
    let _ = writeln!(f, "event: {event}");
    if let Some((rev, epoch)) = id {
        let _ = writeln!(f, "id: {rev}@{epoch}");
    }
    for line in data.split('\n') {
        let _ = writeln!(f, "data: {line}");
    }
    f.push('\n');
}

/// A `hello` or `reset` frame: the revision the server is at, and its epoch.
fn push_hello(f: &mut String, kind: &str, revision: Revision, epoch: &str) {
    let hello = StreamHello {
        revision,
        epoch: Some(epoch.to_string()),
    };
    push_frame(
        f,
        kind,
        None,
        &serde_json::to_string(&hello).unwrap_or_default(),
    );
}

/// Where a `Last-Event-ID` asks to resume: Some(revision) to replay from, None for a reset
/// (malformed, from another data dir, or ahead of this server).
fn resume_point(last_event_id: &str, epoch: &str, current: Revision) -> Option<u64> {
    let (rev, their_epoch) = match last_event_id.trim().split_once('@') {
        Some((r, e)) => (r, Some(e)),
        None => (last_event_id.trim(), None),
    };
    let rev: u64 = rev.parse().ok()?;
    if their_epoch.is_some_and(|e| e != epoch) || rev > current.0 {
        return None;
    }
    Some(rev)
}

#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct StreamQuery {
    /// Send guardrail readings for this environment only (a dashboard showing one environment
    /// need not wake for the others); absent: every environment.
    readings: Option<String>,
}

/// A `GuardrailUpdate` as JSON, borrowing the readings and exposure counts it keeps.
#[derive(serde::Serialize)]
struct Filtered<'a> {
    at: chrono::DateTime<chrono::Utc>,
    readings: Vec<&'a GuardrailReading>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exposure: Vec<&'a ExposureCount>,
}

/// The `guardrails` data with the readings and exposure `env` lets through; None when none is left.
fn guardrails_json(g: &GuardrailUpdate, env: Option<&str>) -> Option<String> {
    let json = match env {
        None => serde_json::to_string(g),
        Some(env) => {
            let readings: Vec<&GuardrailReading> = g
                .readings
                .iter()
                .filter(|r| r.env.as_str() == env)
                .collect();
            let exposure: Vec<&ExposureCount> = g
                .exposure
                .iter()
                .filter(|e| e.env.as_str() == env)
                .collect();
            if readings.is_empty() && exposure.is_empty() {
                return None;
            }
            serde_json::to_string(&Filtered {
                at: g.at,
                readings,
                exposure,
            })
        }
    };
    Some(json.unwrap_or_default())
}

/// A broadcast message as this stream sends it: appended to `out`, or Err(()) when the stream
/// is over. `last` is the newest change revision sent (older ones are skipped).
fn push_msg(
    out: &mut String,
    msg: Result<StreamMsg, RecvError>,
    last: &mut u64,
    env: Option<&str>,
    cp: &ControlPlane,
) -> Result<(), ()> {
    match msg {
        Ok(StreamMsg::Change(c)) if c.revision.0 > *last => {
            *last = c.revision.0;
            push_frame(out, "change", Some((c.revision, cp.epoch())), c.json());
        }
        Ok(StreamMsg::Change(_)) => {}
        Ok(StreamMsg::Guardrails(g)) => {
            if let Some(json) = guardrails_json(&g, env) {
                push_frame(out, "guardrails", None, &json);
            }
        }
        Ok(StreamMsg::Store(s)) => push_frame(
            out,
            "store",
            None,
            &serde_json::to_string(&*s).unwrap_or_default(),
        ),
        Ok(StreamMsg::Webhooks(h)) => push_frame(
            out,
            "webhooks",
            None,
            &serde_json::to_string(&*h).unwrap_or_default(),
        ),
        Err(RecvError::Lagged(_)) => {
            // Too slow to keep up: tell the client to fetch a fresh snapshot.
            let rev = cp.revision();
            *last = rev.0;
            push_hello(out, "reset", rev, cp.epoch());
        }
        Err(RecvError::Closed) => return Err(()),
    }
    Ok(())
}

/// `hello`, then every change in order (`id` = `revision@epoch`), guardrail updates,
/// heartbeats; resumable with `Last-Event-ID`; `reset` when the gap is too old to replay, or the
/// id is malformed, from another data dir or ahead of this server. With `?readings=ENV`,
/// guardrail updates for that environment only, opening with its current ones. Bounded: a
/// token's and the server's number of streams, and the bytes a stream (and all of them) may
/// have queued for a client that does not read — past that the stream is closed and the client
/// resyncs.
pub(super) async fn stream(
    State(cp): State<Arc<ControlPlane>>,
    Extension(limits): Extension<Arc<Limits>>,
    Extension(scope): Extension<TokenScope>,
    Extension(Closing(mut closing)): Extension<Closing>,
    conn: Option<Extension<ConnHandle>>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let slot = match limits.open_stream(&scope.0) {
        Ok(s) => s,
        Err(t) => return Ok(t.into_response()),
    };
    // A stream keeps its connection from being evicted for as long as it is open.
    let conn = conn.map(|Extension(c)| c);
    let busy = conn.as_ref().map(ConnHandle::busy);
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let env = q.readings.map(crate::domain::EnvKey::new);
    // Register what we want and subscribe before reading the backlog and the current readings,
    // so nothing falls between them.
    let interest = cp.want_readings(env.clone());
    let mut sub = cp.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(STREAM_CHUNKS);
    let queued = Arc::new(AtomicUsize::new(0));
    let total = limits.queued.clone();
    // Bytes stay counted until the socket takes them (hyper's own buffers included): the
    // connection lowers the counts as it writes. Without one, as the body hands them to hyper.
    let by_socket = conn.as_ref().is_some_and(|c| {
        c.carry_stream(StreamQueue {
            queued: queued.clone(),
            total: total.clone(),
        });
        true
    });
    let sender = Budgeted {
        tx,
        queued: queued.clone(),
        total: total.clone(),
        conn: conn.clone(),
    };
    tokio::spawn(async move {
        let (_interest, _slot, _busy) = (interest, slot, busy);
        let tx = sender;
        let epoch = cp.epoch().to_string();
        // A client that comes from another replica of this database may have seen revisions
        // this one has not read yet: read them first, so it resumes instead of a reset.
        if let Some(id) = &last_event_id
            && resume_point(id, &epoch, Revision(u64::MAX)).is_some_and(|r| r > cp.revision().0)
        {
            let cp = cp.clone();
            let _ = tokio::task::spawn_blocking(move || cp.follow_store()).await;
        }
        // The opening, as one chunk: hello, the changes missed (or a reset), the current readings.
        let current = cp.revision();
        let mut last = current.0;
        let mut opening = String::new();
        push_hello(&mut opening, "hello", current, &epoch);
        if let Some(id) = &last_event_id {
            match resume_point(id, &epoch, current)
                .and_then(|r| cp.changes_since(Revision(r)).map(|b| (r, b)))
            {
                Some((r, backlog)) => {
                    last = r;
                    for c in backlog {
                        last = last.max(c.revision.0);
                        push_frame(&mut opening, "change", Some((c.revision, &epoch)), c.json());
                    }
                }
                None => push_hello(&mut opening, "reset", current, &epoch),
            }
        }
        if env.is_some() {
            // What a client switching to this environment has not been sent yet.
            let at = cp.clock.now();
            let now = GuardrailUpdate {
                at,
                readings: cp.readings(),
                exposure: cp.exposure.summary(at),
            };
            if let Some(json) = guardrails_json(&now, env.as_deref()) {
                push_frame(&mut opening, "guardrails", None, &json);
            }
        }
        if tx.send(fitted(opening)).is_err() {
            return;
        }
        // The heartbeat timer is re-armed only when it fires, not on every event.
        let mut sent = tokio::time::Instant::now();
        let beat = tokio::time::sleep(HEARTBEAT);
        tokio::pin!(beat);
        loop {
            let msg = tokio::select! {
                _ = tx.tx.closed() => return,
                () = until_closing(&mut closing) => return,
                m = sub.recv() => m,
                () = &mut beat => {
                    let now = tokio::time::Instant::now();
                    if now < sent + HEARTBEAT {
                        beat.as_mut().reset(sent + HEARTBEAT);
                        continue;
                    }
                    beat.as_mut().reset(now + HEARTBEAT);
                    sent = now;
                    if tx.send(Bytes::from_static(b":heartbeat\n\n")).is_err() {
                        return;
                    }
                    continue;
                }
            };
            // This message and whatever else is ready now, as one chunk.
            let mut chunk = String::new();
            let (mut next, mut frames) = (Some(msg), 0);
            while let Some(m) = next.take() {
                if push_msg(&mut chunk, m, &mut last, env.as_deref(), &cp).is_err() {
                    return;
                }
                frames += 1;
                if frames >= BATCH_FRAMES || chunk.len() >= BATCH_BYTES {
                    break;
                }
                next = match sub.try_recv() {
                    Ok(m) => Some(Ok(m)),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                    Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
                };
            }
            if chunk.is_empty() {
                continue;
            }
            sent = tokio::time::Instant::now();
            if tx.send(fitted(chunk)).is_err() {
                return;
            }
        }
    });
    let drain = Drain {
        rx,
        queue: StreamQueue { queued, total },
        by_socket,
    };
    let frames = futures::stream::unfold(drain, |mut d| async move {
        let f = d.rx.recv().await?;
        if !d.by_socket {
            d.queue.taken(f.len());
        }
        Some((Ok::<_, Infallible>(f), d))
    });
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    Ok((headers, Body::from_stream(frames)).into_response())
}

mod budget;
#[cfg(test)]
mod tests;
