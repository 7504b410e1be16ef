//! `GET /ofrep/v1/events`: the OFREP event stream (SSE). Sends a `refetchEvaluation` event,
//! with the new configuration ETag, whenever a change can alter a result in the token's
//! environment. Bounded like every stream: the token's and the server's stream caps.

use super::super::stream::Closing;
use super::{Asker, admit, config_version};
use crate::control::server::{ConnHandle, until_closing};
use crate::control::service::{ControlPlane, StreamMsg};
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

pub const PATH: &str = "/ofrep/v1/events";
/// Silence longer than this gets a heartbeat comment.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(10);
/// Frames queued for a client that does not read; beyond, the stream closes (the client
/// reconnects and re-fetches).
const QUEUED_FRAMES: usize = 16;

fn frame(etag: &str, at: i64) -> Bytes {
    let data = serde_json::json!({ "type": "refetchEvaluation", "etag": etag, "lastModified": at });
    Bytes::from(format!("event: message\ndata: {data}\n\n"))
}

pub(super) async fn events(
    State(cp): State<Arc<ControlPlane>>,
    asker: Asker,
    Extension(Closing(mut closing)): Extension<Closing>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
) -> Response {
    let env = match admit(&asker, &headers) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let slot = match asker.limits.open_stream(&asker.scope.0) {
        Ok(s) => s,
        Err(t) => return t.into_response(),
    };
    let busy = conn.map(|Extension(c)| c.busy());
    let mut sub = cp.subscribe();
    let epoch = cp.epoch().to_string();
    let mut last = cp.read_state(|s| config_version(s, &epoch, &env));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUED_FRAMES);
    tokio::spawn(async move {
        let (_slot, _busy) = (slot, busy);
        if tx
            .try_send(Bytes::from_static(b"retry: 1000\n: connected\n\n"))
            .is_err()
        {
            return;
        }
        loop {
            let msg = tokio::select! {
                _ = tx.closed() => return,
                () = until_closing(&mut closing) => return,
                m = sub.recv() => Some(m),
                () = tokio::time::sleep(HEARTBEAT) => None,
            };
            let changed = match msg {
                None => {
                    if tx.try_send(Bytes::from_static(b":heartbeat\n\n")).is_err() {
                        return;
                    }
                    continue;
                }
                Some(Ok(StreamMsg::Change(_)) | Err(RecvError::Lagged(_))) => true,
                Some(Ok(_)) => false,
                Some(Err(RecvError::Closed)) => return,
            };
            if !changed {
                continue;
            }
            let now = cp.read_state(|s| config_version(s, &epoch, &env));
            if now == last {
                continue;
            }
            last = now;
            if tx
                .try_send(frame(&last, cp.clock.now().timestamp()))
                .is_err()
            {
                return;
            }
        }
    });
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|f| (Ok::<_, Infallible>(f), rx))
    });
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (headers, Body::from_stream(frames)).into_response()
}
