//! A connection's I/O as the registry sees it: reads and writes note activity, the first
//! bytes written mark it answered (no longer half-open), bytes written leave its event stream's
//! queue, and once evicted its next read or write fails so hyper closes it. It must not decide who is evicted (the registry does).

use super::{Registry, Shared};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's I/O, tracked: activity and answers are noted, and an evicted connection fails
/// its next read or write (hyper then closes it).
pub(super) struct Tracked<S> {
    pub(super) io: S,
    pub(super) id: u64,
    pub(super) shared: Arc<Shared>,
    pub(super) registry: Arc<Registry>,
}

impl<S> Drop for Tracked<S> {
    fn drop(&mut self) {
        self.registry.remove(self.id);
        self.shared.release_stream();
    }
}

fn evicted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection evicted: the server is at its connection limit",
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.shared.waker.register(cx.waker());
        if self.shared.evicted.load(Ordering::SeqCst) {
            return Poll::Ready(Err(evicted()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            let now = self.registry.now_ms();
            self.shared.last_activity.store(now, Ordering::SeqCst);
        }
        r
    }
}

impl<S> Tracked<S> {
    /// `n` bytes went to the socket: answered, active, and out of its stream's queue.
    fn wrote(&self, n: usize) {
        self.shared.answered.store(true, Ordering::SeqCst);
        let now = self.registry.now_ms();
        self.shared.last_activity.store(now, Ordering::SeqCst);
        if let Ok(q) = self.shared.stream_queue.lock()
            && let Some(q) = q.as_ref()
        {
            q.taken(n);
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        // A write stuck on a full socket is woken by a close too.
        self.shared.waker.register(cx.waker());
        if self.shared.evicted.load(Ordering::SeqCst) {
            return Poll::Ready(Err(evicted()));
        }
        let r = Pin::new(&mut self.io).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &r
            && *n > 0
        {
            self.wrote(*n);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.shared.waker.register(cx.waker());
        if self.shared.evicted.load(Ordering::SeqCst) {
            return Poll::Ready(Err(evicted()));
        }
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r
            && *n > 0
        {
            self.wrote(*n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
