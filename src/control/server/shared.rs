//! What a connection's I/O, the requests on it and the registry share: activity, whether it was
//! answered, requests in flight, eviction, and the byte counts of the event stream it carries.

use futures::task::AtomicWaker;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Shared between a connection's I/O, the requests on it and the registry.
#[derive(Default)]
pub struct Shared {
    /// Bytes were written back (an answer began): not half-open.
    pub(crate) answered: AtomicBool,
    /// Requests being handled and streams open on this connection.
    pub(super) busy: AtomicUsize,
    /// Milliseconds since the registry's start of the last read or write.
    pub(crate) last_activity: AtomicU64,
    pub(crate) evicted: AtomicBool,
    pub(crate) waker: AtomicWaker,
    /// The byte counters of the event stream this connection carries, if any: bytes count as
    /// queued until the socket takes them, so what hyper buffers counts too.
    pub(crate) stream_queue: Mutex<Option<StreamQueue>>,
}

/// A stream's queued bytes and the server's total, both lowered as the socket takes bytes.
#[derive(Clone)]
pub struct StreamQueue {
    pub queued: Arc<AtomicUsize>,
    pub total: Arc<AtomicUsize>,
}

impl StreamQueue {
    /// `n` bytes left the process (written to the socket, or dropped with the connection).
    pub fn taken(&self, n: usize) {
        let mut took = 0;
        let _ = self
            .queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                took = v.min(n);
                Some(v - took)
            });
        let _ = self
            .total
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_sub(took))
            });
    }
}

/// A request on this connection keeps it from eviction while the guard lives (a stream holds
/// one for its whole life).
pub struct Busy(Arc<Shared>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A handle on the connection a request came in on (a request extension).
#[derive(Clone)]
pub struct ConnHandle(pub(super) Arc<Shared>);

impl ConnHandle {
    pub fn busy(&self) -> Busy {
        self.0.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self.0.clone())
    }

    /// From now on, bytes this connection writes lower `q` (the stream it carries). What an
    /// earlier stream on it still counted is released (its answer was written in full, or the
    /// next request would not have been read).
    pub fn carry_stream(&self, q: StreamQueue) {
        if let Ok(mut slot) = self.0.stream_queue.lock()
            && let Some(old) = slot.replace(q)
        {
            old.taken(usize::MAX);
        }
    }

    /// Close the connection now (its next read or write fails, so hyper drops it with every
    /// buffer it holds): for a stream whose client stopped reading.
    pub fn close(&self) {
        self.0.evicted.store(true, Ordering::SeqCst);
        self.0.waker.wake();
    }
}

impl Shared {
    /// The connection is gone: what its stream still counted left with it.
    pub(super) fn release_stream(&self) {
        if let Ok(mut slot) = self.stream_queue.lock()
            && let Some(q) = slot.take()
        {
            q.taken(usize::MAX);
        }
    }
}
