//! The HTTP connection loop under the API: every connection bounded. At most `MAX_CONNECTIONS`
//! at once (fewer when the file limit is low: `public_cap`); request headers must arrive within `HEADER_READ_TIMEOUT` (also between keep-alive
//! requests), a TLS handshake within `TLS_HANDSHAKE_TIMEOUT`. When the cap is reached, a new
//! connection evicts one that never got an answer (half-open: the oldest first), else the one
//! idle the longest; streams and requests in flight are never evicted — so an authenticated
//! request still gets through while thousands of half-open connections are held. Shutdown
//! stops accepting, closes streams and ends within `SHUTDOWN_GRACE`. Axum's router is served
//! per connection by hyper (the same hyper axum runs on).

use axum::Router;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};

mod cap;
mod shared;
mod tracked;
pub use cap::{FD_RESERVE, MIN_CONNECTIONS, open_files_limit, public_cap};
use shared::Shared;
pub use shared::{Busy, ConnHandle, StreamQueue};
use tracked::Tracked;

/// Connections served at once (on one listener; lower when the process may open fewer files).
pub const MAX_CONNECTIONS: usize = 2048;
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

pub struct Registry {
    conns: Mutex<HashMap<u64, Entry>>,
    next: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
    cap: usize,
    /// One permit per open connection (held until its descriptor is closed).
    room: Arc<tokio::sync::Semaphore>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::with_cap(MAX_CONNECTIONS)
    }
}

impl Registry {
    pub fn with_cap(cap: usize) -> Registry {
        Registry {
            conns: Mutex::default(),
            next: AtomicU64::new(0),
            epoch: std::sync::OnceLock::new(),
            cap: cap.max(1),
            room: Arc::new(tokio::sync::Semaphore::new(cap.max(1))),
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
        if conns.len() >= self.cap && !evict_from(&mut conns) {
            return None;
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

    /// Room for one more connection: a permit that lives as long as its descriptor (at most
    /// the cap at once). With none left, one idle connection is evicted at once (before the
    /// next one is accepted) and its permit awaited, so the descriptors in use never exceed
    /// the cap, however fast others reconnect.
    async fn room(self: Arc<Self>) -> tokio::sync::OwnedSemaphorePermit {
        if let Ok(p) = self.room.clone().try_acquire_owned() {
            return p;
        }
        let evicted = {
            let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
            evict_from(&mut conns)
        };
        if !evicted {
            tracing::warn!("every connection is busy: new connections wait");
        }
        match self.room.clone().acquire_owned().await {
            Ok(p) => p,
            // The semaphore is never closed.
            Err(_) => std::future::pending().await,
        }
    }
}

/// Evict one idle connection: a half-open one (never answered) first, the oldest; else the
/// one idle longest. False when every connection is busy.
fn evict_from(conns: &mut HashMap<u64, Entry>) -> bool {
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
    let Some(victim) = victim else {
        return false;
    };
    victim.evicted.store(true, Ordering::SeqCst);
    victim.waker.wake();
    conns.retain(|_, e| !Arc::ptr_eq(&e.shared, &victim));
    true
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
    // Room first, then accept: kept across turns of the loop (a finished connection must not
    // start another eviction).
    let next = |listener: Arc<Listener>, registry: Arc<Registry>| {
        Box::pin(async move {
            let permit = registry.room().await;
            (permit, accept(&listener).await)
        })
    };
    let mut pending = next(listener.clone(), registry.clone());
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            (permit, accepted) = &mut pending => {
                pending = next(listener.clone(), registry.clone());
                let Some(io) = accepted else { continue };
                let Some((id, shared)) = registry.admit() else {
                    tracing::warn!("connection refused: every connection is busy");
                    continue;
                };
                let app = app.clone();
                let registry = registry.clone();
                let closing = closing.subscribe();
                tasks.spawn(async move {
                    connection(io, id, shared, registry, app, closing).await;
                    // The descriptor is closed: room for the next one.
                    drop(permit);
                });
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
