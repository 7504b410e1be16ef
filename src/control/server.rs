//! The HTTP connection loop under the API: every connection bounded. At most `MAX_CONNECTIONS`
//! at once (fewer when the file limit is low: `public_cap`); request headers must arrive within `HEADER_READ_TIMEOUT` (also between keep-alive
//! requests), a TLS handshake within `TLS_HANDSHAKE_TIMEOUT`. When the cap is reached, a new
//! connection evicts one that never got an answer (half-open: the oldest first), else the one
//! idle the longest; streams and requests in flight are never evicted — so an authenticated
//! request still gets through while thousands of half-open connections are held. Shutdown
//! stops accepting, closes streams and ends within `SHUTDOWN_GRACE`. Axum's router is served
//! per connection by hyper (the same hyper axum runs on).

use axum::Router;
use futures::task::AtomicWaker;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};

mod tracked;
use tracked::Tracked;

/// Connections served at once (on one listener; lower when the process may open fewer files).
pub const MAX_CONNECTIONS: usize = 2048;
/// File descriptors kept free of TCP connections: the owner's socket, its TUI, the store, logs.
pub const FD_RESERVE: usize = 256;
/// The fewest connections a listener admits, however low the file limit.
pub const MIN_CONNECTIONS: usize = 16;
/// A client must send a request's headers within this (and within this of the previous answer
/// on a kept-alive connection).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A TLS client must finish its handshake within this.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// After shutdown is asked for, connections get this long to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(700);
/// Largest request head (request line and headers) hyper will buffer.
pub const MAX_HEAD_BYTES: usize = 64 << 10;

/// What the registry knows of one connection.
struct Entry {
    accepted: Instant,
    shared: Arc<Shared>,
}

/// Shared between a connection's I/O, the requests on it and the registry.
#[derive(Default)]
pub struct Shared {
    /// Bytes were written back (an answer began): not half-open.
    pub(crate) answered: AtomicBool,
    /// Requests being handled and streams open on this connection.
    busy: AtomicUsize,
    /// Milliseconds since the registry's start of the last read or write.
    pub(crate) last_activity: AtomicU64,
    pub(crate) evicted: AtomicBool,
    pub(crate) waker: AtomicWaker,
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
pub struct ConnHandle(Arc<Shared>);

impl ConnHandle {
    pub fn busy(&self) -> Busy {
        self.0.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self.0.clone())
    }
}

pub struct Registry {
    conns: Mutex<HashMap<u64, Entry>>,
    next: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
    cap: usize,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::with_cap(MAX_CONNECTIONS)
    }
}

/// The soft limit on open files of this process (`/proc/self/limits`), when it can be read.
pub fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The cap for a listener others can reach: `MAX_CONNECTIONS`, or fewer so that `FD_RESERVE`
/// descriptors stay free under the file limit — whoever holds connections to it cannot run
/// the process (and the TUI in it) out of files.
pub fn public_cap(open_files: Option<usize>) -> usize {
    match open_files {
        Some(n) => n
            .saturating_sub(FD_RESERVE)
            .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS),
        None => MAX_CONNECTIONS,
    }
}

impl Registry {
    pub fn with_cap(cap: usize) -> Registry {
        Registry {
            conns: Mutex::default(),
            next: AtomicU64::new(0),
            epoch: std::sync::OnceLock::new(),
            cap: cap.max(1),
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.get_or_init(Instant::now).elapsed().as_millis() as u64
    }

    pub fn open(&self) -> usize {
        self.conns.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Register a new connection, evicting one if the cap is reached; None: refuse it (every
    /// connection is busy).
    fn admit(&self) -> Option<(u64, Arc<Shared>)> {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        if conns.len() >= self.cap {
            let idle = |e: &&Entry| e.shared.busy.load(Ordering::SeqCst) == 0;
            let victim = conns
                .values()
                .filter(idle)
                .filter(|e| !e.shared.answered.load(Ordering::SeqCst))
                .min_by_key(|e| e.accepted)
                .or_else(|| {
                    conns
                        .values()
                        .filter(idle)
                        .min_by_key(|e| e.shared.last_activity.load(Ordering::SeqCst))
                })
                .map(|e| e.shared.clone());
            let victim = victim?;
            victim.evicted.store(true, Ordering::SeqCst);
            victim.waker.wake();
            conns.retain(|_, e| !Arc::ptr_eq(&e.shared, &victim));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared::default());
        shared.last_activity.store(self.now_ms(), Ordering::SeqCst);
        conns.insert(
            id,
            Entry {
                accepted: Instant::now(),
                shared: shared.clone(),
            },
        );
        Some((id, shared))
    }

    pub(crate) fn remove(&self, id: u64) {
        if let Ok(mut c) = self.conns.lock() {
            c.remove(&id);
        }
    }
}

/// How connections arrive: plain TCP, TCP with TLS, or the owner's Unix socket (a connection
/// from any other uid than `owner_uid` is closed unanswered).
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    Tls(tokio::net::TcpListener, tokio_rustls::TlsAcceptor),
    Unix {
        listener: tokio::net::UnixListener,
        owner_uid: u32,
    },
}

/// Serve `app` on `listener` until `shutdown` resolves; then stop accepting, tell streams to
/// close (`closing`), and give connections `SHUTDOWN_GRACE` to end.
pub async fn serve(
    listener: Listener,
    app: Router,
    registry: Arc<Registry>,
    closing: tokio::sync::watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    let listener = Arc::new(listener);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener) => {
                let Some(io) = accepted else { continue };
                let Some((id, shared)) = registry.admit() else {
                    tracing::warn!("connection refused: every connection is busy");
                    continue;
                };
                let app = app.clone();
                let registry = registry.clone();
                let closing = closing.subscribe();
                tasks.spawn(connection(io, id, shared, registry, app, closing));
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    let _ = closing.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
}

/// A connection's byte stream, whatever the transport.
enum Io {
    Tcp(tokio::net::TcpStream),
    Tls(tokio::net::TcpStream, tokio_rustls::TlsAcceptor),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> Option<Io> {
    let r = match listener {
        Listener::Tcp(l) => l.accept().await.map(|(s, _)| Io::Tcp(s)),
        Listener::Tls(l, a) => l.accept().await.map(|(s, _)| Io::Tls(s, a.clone())),
        Listener::Unix {
            listener,
            owner_uid,
        } => match listener.accept().await {
            Ok((s, _)) => match s.peer_cred() {
                Ok(c) if c.uid() == *owner_uid => Ok(Io::Unix(s)),
                Ok(c) => {
                    tracing::warn!(
                        uid = c.uid(),
                        "refused a connection on the owner's socket from another user"
                    );
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "refused a connection on the owner's socket: its peer is unknown");
                    return None;
                }
            },
            Err(e) => Err(e),
        },
    };
    match r {
        Ok(io) => Some(io),
        Err(e) => {
            // Out of file descriptors and the like: back off instead of spinning.
            tracing::warn!(error = %e, "accept failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

async fn connection(
    io: Io,
    id: u64,
    shared: Arc<Shared>,
    registry: Arc<Registry>,
    app: Router,
    closing: tokio::sync::watch::Receiver<bool>,
) {
    match io {
        Io::Tcp(s) => {
            let _ = s.set_nodelay(true);
            let handle = ConnHandle(shared.clone());
            http(
                Tracked {
                    io: s,
                    id,
                    shared,
                    registry,
                },
                handle,
                app,
                closing,
            )
            .await
        }
        Io::Unix(s) => {
            let handle = ConnHandle(shared.clone());
            http(
                Tracked {
                    io: s,
                    id,
                    shared,
                    registry,
                },
                handle,
                app,
                closing,
            )
            .await
        }
        Io::Tls(s, acceptor) => {
            let handle = ConnHandle(shared.clone());
            let tracked = Tracked {
                io: s,
                id,
                shared,
                registry,
            };
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tracked)).await {
                Ok(Ok(tls)) => http(tls, handle, app, closing).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

async fn http<S>(
    io: S,
    handle: ConnHandle,
    app: Router,
    mut closing: tokio::sync::watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    use tower::ServiceExt;
    // Which connection a request came in on, for the handlers (streams mark it busy).
    let svc = app.map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(handle.clone());
        req.map(axum::body::Body::new)
    });
    let svc = hyper_util::service::TowerToHyperService::new(svc);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true)
        .serve_connection(hyper_util::rt::TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended");
            }
        }
        () = until_closing(&mut closing) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Resolves once shutdown was asked for; never, when nobody can ask any more.
pub async fn until_closing(closing: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if *closing.borrow_and_update() {
            return;
        }
        if closing.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_cap_leaves_descriptors_free_under_the_file_limit() {
        assert_eq!(public_cap(Some(1024)), 1024 - FD_RESERVE);
        assert_eq!(public_cap(Some(20_000)), MAX_CONNECTIONS);
        assert_eq!(public_cap(Some(100)), MIN_CONNECTIONS);
        assert_eq!(public_cap(None), MAX_CONNECTIONS);
        assert!(open_files_limit().is_some_and(|n| n > 0));
    }
}
