//! `GET /v1/stream`: the server-sent event stream of changes, guardrail updates and
//! heartbeats, one task per connection. Frames are written by hand: with 200 streams, axum's
//! `Event` builder (a growing buffer per event, a newline scan of every payload, a keep-alive
//! timer reset on every event) cost more server CPU than the changes themselves.

use crate::control::service::{ControlPlane, StreamMsg};
use crate::domain::Revision;
use crate::wire::{GuardrailReading, GuardrailUpdate, StreamHello};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// Silence longer than this on a stream gets a heartbeat comment.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(10);

/// Frames that are ready together go out as one chunk (one write, one wake-up of the reader):
/// a group commit publishes its changes back to back. Bounded so one chunk stays small.
const BATCH_FRAMES: usize = 64;
const BATCH_BYTES: usize = 256 << 10;

/// Appends one SSE frame to `f`. `data` is compact JSON (one line); a newline in it would still
/// become its own `data:` line.
fn push_frame(f: &mut String, event: &str, id: Option<Revision>, data: &str) {
    f.reserve(data.len() + event.len() + 40);
    let _ = writeln!(f, "event: {event}");
    if let Some(id) = id {
        let _ = writeln!(f, "id: {id}");
    }
    for line in data.split('\n') {
        let _ = writeln!(f, "data: {line}");
    }
    f.push('\n');
}

/// A `hello` or `reset` frame: the revision the server is at.
fn push_hello(f: &mut String, kind: &str, revision: Revision) {
    push_frame(f, kind, None, &serde_json::to_string(&StreamHello { revision }).unwrap_or_default());
}

#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct StreamQuery {
    /// Send guardrail readings for this environment only (a dashboard showing one environment
    /// need not wake for the others); absent: every environment.
    readings: Option<String>,
}

/// A `GuardrailUpdate` as JSON, borrowing the readings it keeps.
#[derive(serde::Serialize)]
struct Filtered<'a> {
    at: chrono::DateTime<chrono::Utc>,
    readings: Vec<&'a GuardrailReading>,
}

/// The `guardrails` data with the readings `env` lets through; None when none is left.
fn guardrails_json(g: &GuardrailUpdate, env: Option<&str>) -> Option<String> {
    let json = match env {
        None => serde_json::to_string(g),
        Some(env) => {
            let readings: Vec<&GuardrailReading> = g.readings.iter().filter(|r| r.env.as_str() == env).collect();
            if readings.is_empty() {
                return None;
            }
            serde_json::to_string(&Filtered { at: g.at, readings })
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
            push_frame(out, "change", Some(c.revision), c.json());
        }
        Ok(StreamMsg::Change(_)) => {}
        Ok(StreamMsg::Guardrails(g)) => {
            if let Some(json) = guardrails_json(&g, env) {
                push_frame(out, "guardrails", None, &json);
            }
        }
        Ok(StreamMsg::Store(s)) => push_frame(out, "store", None, &serde_json::to_string(&*s).unwrap_or_default()),
        Err(RecvError::Lagged(_)) => {
            // Too slow to keep up: tell the client to fetch a fresh snapshot.
            let rev = cp.revision();
            *last = rev.0;
            push_hello(out, "reset", rev);
        }
        Err(RecvError::Closed) => return Err(()),
    }
    Ok(())
}

/// `hello`, then every change in order (`id` = revision), guardrail updates, heartbeats;
/// resumable with `Last-Event-ID`; `reset` when the gap is too old to replay. With
/// `?readings=ENV`, guardrail updates for that environment only, opening with its current ones.
pub(super) async fn stream(State(cp): State<Arc<ControlPlane>>, Query(q): Query<StreamQuery>, headers: HeaderMap) -> Response {
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    let env = q.readings.map(crate::domain::EnvKey::new);
    // Register what we want and subscribe before reading the backlog and the current readings,
    // so nothing falls between them.
    let interest = cp.want_readings(env.clone());
    let mut sub = cp.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    tokio::spawn(async move {
        let _interest = interest;
        // The opening, as one chunk: hello, the changes missed (or a reset), the current readings.
        let current = cp.revision();
        let mut last = current.0;
        let mut opening = String::new();
        push_hello(&mut opening, "hello", current);
        if let Some(r) = resume {
            match cp.changes_since(Revision(r)) {
                Some(backlog) => {
                    last = r;
                    for c in backlog {
                        last = last.max(c.revision.0);
                        push_frame(&mut opening, "change", Some(c.revision), c.json());
                    }
                }
                None => push_hello(&mut opening, "reset", current),
            }
        }
        if env.is_some() {
            // What a client switching to this environment has not been sent yet.
            let now = GuardrailUpdate { at: chrono::Utc::now(), readings: cp.readings() };
            if let Some(json) = guardrails_json(&now, env.as_deref()) {
                push_frame(&mut opening, "guardrails", None, &json);
            }
        }
        if tx.send(Bytes::from(opening)).await.is_err() {
            return;
        }
        // The heartbeat timer is re-armed only when it fires, not on every event.
        let mut sent = tokio::time::Instant::now();
        let beat = tokio::time::sleep(HEARTBEAT);
        tokio::pin!(beat);
        loop {
            let msg = tokio::select! {
                _ = tx.closed() => return,
                m = sub.recv() => m,
                () = &mut beat => {
                    let now = tokio::time::Instant::now();
                    if now < sent + HEARTBEAT {
                        beat.as_mut().reset(sent + HEARTBEAT);
                        continue;
                    }
                    beat.as_mut().reset(now + HEARTBEAT);
                    sent = now;
                    if tx.send(Bytes::from_static(b":heartbeat\n\n")).await.is_err() {
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
            if tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
        }
    });
    let frames = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (Ok::<_, Infallible>(f), rx)) });
    let headers = [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")];
    (headers, Body::from_stream(frames)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::sse::{SseEvent, SseItem, SseParser};

    #[test]
    fn frames_parse_back_to_the_same_event() {
        let mut f = String::new();
        push_frame(&mut f, "change", Some(Revision(7)), r#"{"a":1}"#);
        assert_eq!(f, "event: change\nid: 7\ndata: {\"a\":1}\n\n");
        push_frame(&mut f, "odd", None, "two\nlines");
        let mut out = Vec::new();
        let mut p = SseParser::new(1 << 20, 1 << 20);
        p.push(f.as_bytes(), &mut out).unwrap_or_else(|e| panic!("{e}"));
        let event = |id: Option<&str>, event: &str, data: &str| {
            SseItem::Event(SseEvent { id: id.map(str::to_string), event: event.into(), data: data.into(), retry: None })
        };
        // The id stays in force until the stream sets another (SSE rules).
        assert_eq!(out, vec![event(Some("7"), "change", r#"{"a":1}"#), event(Some("7"), "odd", "two\nlines")]);
    }

    /// Messages batched into one chunk parse back as separate events, in order; a change at or
    /// below the last revision sent is skipped; a closed channel ends the stream.
    #[test]
    fn a_batch_of_messages_is_one_chunk_of_frames_in_order() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = crate::control::store::Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let clock = Arc::new(crate::control::clock::ManualClock::new(chrono::Utc::now()));
        let cp = ControlPlane::open(store, clock, None).unwrap_or_else(|e| panic!("{e}"));
        let change = |rev: u64| {
            let c = crate::wire::Change { revision: Revision(rev), at: chrono::Utc::now(), flags: vec![], frozen: None, approvals: vec![], audit: vec![] };
            Ok(StreamMsg::Change(Arc::new(crate::control::service::Published::new(&c))))
        };
        let (mut chunk, mut last) = (String::new(), 2);
        for m in [change(3), change(2), change(5), change(4)] {
            assert_eq!(push_msg(&mut chunk, m, &mut last, None, &cp), Ok(()));
        }
        assert_eq!(push_msg(&mut chunk, Err(RecvError::Closed), &mut last, None, &cp), Err(()));
        let mut out = Vec::new();
        let mut p = SseParser::new(1 << 20, 1 << 20);
        p.push(chunk.as_bytes(), &mut out).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<Option<String>> = out.iter().map(|i| if let SseItem::Event(e) = i { e.id.clone() } else { None }).collect();
        assert_eq!(ids, vec![Some("3".to_string()), Some("5".to_string())]);
        assert_eq!(last, 5);
    }
}
