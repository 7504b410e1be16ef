//! A stream's byte budgets: the sending side refuses (and closes the connection) past the
//! stream's budget or the server's, the receiving side hands chunks to hyper.

use super::super::limits::{STREAM_BUDGET_BYTES, STREAMS_TOTAL_BUDGET_BYTES};
use crate::control::server::{ConnHandle, StreamQueue};
use axum::body::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A chunk as bytes that hold no more memory than their length: a `String` grown by doubling
/// may hold twice its text, and the budgets count length (shrinking in place is cheap).
pub(super) fn fitted(mut chunk: String) -> Bytes {
    chunk.shrink_to_fit();
    Bytes::from(chunk)
}

/// The sending side of a stream, within its byte budget and the server's: a chunk that does
/// not fit ends the stream (`Err`), it is never queued without bound.
pub(super) struct Budgeted {
    pub(super) tx: tokio::sync::mpsc::Sender<Bytes>,
    pub(super) queued: Arc<AtomicUsize>,
    pub(super) total: Arc<AtomicUsize>,
    /// Closed with the stream when its client falls behind: what hyper still buffers for a
    /// client that does not read is freed with the connection, not kept until it reads.
    pub(super) conn: Option<ConnHandle>,
}

impl Budgeted {
    fn queue(&self) -> StreamQueue {
        StreamQueue {
            queued: self.queued.clone(),
            total: self.total.clone(),
        }
    }

    pub(super) fn send(&self, chunk: Bytes) -> Result<(), ()> {
        let n = chunk.len();
        let mine = self.queued.load(Ordering::SeqCst);
        let all = self.total.load(Ordering::SeqCst);
        // The first chunk always fits (a stream must be able to open); after that the budgets.
        if mine > 0 && (mine + n > STREAM_BUDGET_BYTES || all + n > STREAMS_TOTAL_BUDGET_BYTES) {
            tracing::info!(
                queued = mine,
                "closing a stream whose client does not read (over its budget)"
            );
            self.close();
            return Err(());
        }
        self.queued.fetch_add(n, Ordering::SeqCst);
        self.total.fetch_add(n, Ordering::SeqCst);
        if self.tx.try_send(chunk).is_err() {
            self.queue().taken(n);
            self.close();
            return Err(());
        }
        Ok(())
    }

    fn close(&self) {
        if let Some(c) = &self.conn {
            c.close();
        }
    }
}

/// The receiving side (the response body): what is still counted when the client goes leaves
/// the server's total with it.
pub(super) struct Drain {
    pub(super) rx: tokio::sync::mpsc::Receiver<Bytes>,
    pub(super) queue: StreamQueue,
    /// The connection lowers the counts as its socket takes bytes.
    pub(super) by_socket: bool,
}

impl Drop for Drain {
    fn drop(&mut self) {
        // Counted by the socket: hyper may still hold some of it, released with the
        // connection (`Shared::release_stream`).
        if !self.by_socket {
            self.queue.taken(usize::MAX);
        }
    }
}
