//! A TCP proxy in front of the test PostgreSQL that reads just enough of the client's side of
//! its wire protocol to find a transaction's `COMMIT` (a simple query, as tokio-postgres sends
//! it) and do one thing to the next one: pass it and lose the answer (applied, never
//! confirmed), or hold it (never forwarded, the link kept open and silent both ways: a
//! half-open connection, the server's session left in its transaction). `refuse` makes the
//! database unreachable through it (open links cut, new ones closed at once).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCommit {
    Pass,
    /// Forward the `COMMIT`, let the server finish it, then cut both sides: no answer.
    LoseAnswer,
    /// As `LoseAnswer`, and then the database is out of reach (`refuse(true)`).
    LoseAll,
    /// Never forward it; keep the server's side open (its session idles in its transaction).
    Hold,
    /// As `Hold`, and the database is out of reach for everyone else (`refuse(true)`): the
    /// replica is as good as lost, and nobody can end its session but the server itself.
    HoldAll,
}

#[derive(Default)]
struct State {
    next: Option<OnCommit>,
    fired: bool,
    refuse: bool,
    /// Server sides of held links, kept open until the proxy goes.
    held: Vec<OwnedWriteHalf>,
}

pub struct PgCut {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    cut: watch::Sender<u64>,
}

impl PgCut {
    pub async fn start(upstream: SocketAddr) -> PgCut {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State::default()));
        let (cut, _) = watch::channel(0u64);
        let (st, c) = (state.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if st.lock().expect("lock").refuse {
                    continue; // dropped: closed at once
                }
                tokio::spawn(link(client, upstream, st.clone(), c.clone()));
            }
        });
        PgCut { addr, state, cut }
    }

    /// What to do to the next `COMMIT` through the proxy (once).
    pub fn arm(&self, what: OnCommit) {
        let mut s = self.state.lock().expect("lock");
        s.next = Some(what);
        s.fired = false;
    }

    /// Whether the armed `COMMIT` came through.
    pub fn fired(&self) -> bool {
        self.state.lock().expect("lock").fired
    }

    /// Cut every open link and close new ones at once (true), or let them through again.
    pub fn refuse(&self, refuse: bool) {
        self.state.lock().expect("lock").refuse = refuse;
        if refuse {
            self.cut.send_modify(|g| *g += 1);
        }
    }

    /// `url` (postgres://user@host:port/db) pointed at this proxy.
    pub fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("scheme");
        let (auth_host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let user = auth_host.rsplit_once('@').map(|(u, _)| format!("{u}@"));
        format!(
            "{scheme}://{}{}/{path}",
            user.unwrap_or_default(),
            self.addr
        )
    }
}

/// The server's address from a postgres:// URL.
pub fn upstream_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").expect("scheme").1;
    let host = rest.split('/').next().expect("host");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.replace("localhost", "127.0.0.1");
    host.parse().expect("host:port")
}

async fn link(
    client: TcpStream,
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
    cut_all: watch::Sender<u64>,
) {
    let mut cut = cut_all.subscribe();
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mute = Arc::new(AtomicBool::new(false));
    // The server's side, as it comes (unless muted).
    let m = mute.clone();
    let mut down_cut = cut.clone();
    let down = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            tokio::select! {
                biased; // a cut wins over bytes already waiting
                _ = down_cut.changed() => return,
                n = sr.read(&mut buf) => match n {
                    Ok(0) | Err(_) => return,
                    // Muted: swallowed (the client's side stays open, and hears nothing).
                    Ok(_) if m.load(Ordering::SeqCst) => {}
                    Ok(n) => {
                        if cw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                },
            }
        }
    });
    // The client's side, message by message: the untyped start-up message(s), then typed ones.
    let mut started = false;
    loop {
        let msg = tokio::select! {
            biased;
            _ = cut.changed() => break,
            m = message(&mut cr, started) => m,
        };
        let Some(msg) = msg else { break };
        if !started {
            // An SSL or GSS request (8 bytes, a code of its own) comes before the real start-up.
            started = !(msg.len() == 8 && msg[4..8] != [0, 3, 0, 0]);
        }
        let is_commit = started && msg.first() == Some(&b'Q') && msg.get(5..) == Some(b"COMMIT\0");
        let what = if is_commit {
            let mut s = state.lock().expect("lock");
            let what = s.next.take();
            s.fired |= what.is_some();
            what.unwrap_or(OnCommit::Pass)
        } else {
            OnCommit::Pass
        };
        match what {
            OnCommit::Pass => {
                if sw.write_all(&msg).await.is_err() {
                    break;
                }
            }
            OnCommit::LoseAnswer | OnCommit::LoseAll => {
                mute.store(true, Ordering::SeqCst);
                let _ = sw.write_all(&msg).await;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if what == OnCommit::LoseAll {
                    state.lock().expect("lock").refuse = true;
                    cut_all.send_modify(|g| *g += 1);
                }
                break;
            }
            OnCommit::Hold | OnCommit::HoldAll => {
                // Silent both ways: what the client sends goes nowhere, until it gives up and
                // closes; the server's side is kept open even then (it never hears of that).
                mute.store(true, Ordering::SeqCst);
                if what == OnCommit::HoldAll {
                    state.lock().expect("lock").refuse = true;
                    cut_all.send_modify(|g| *g += 1);
                    cut.borrow_and_update(); // every other link, not this one
                }
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    tokio::select! {
                        biased;
                        _ = cut.changed() => break,
                        n = cr.read(&mut buf) => if matches!(n, Ok(0) | Err(_)) { break },
                    }
                }
                state.lock().expect("lock").held.push(sw);
                return;
            }
        }
    }
    down.abort();
}

/// One message from the client: untyped (length first) until started, then type and length.
async fn message(r: &mut tokio::net::tcp::OwnedReadHalf, started: bool) -> Option<Vec<u8>> {
    let mut msg = Vec::new();
    if started {
        let mut t = [0u8; 1];
        r.read_exact(&mut t).await.ok()?;
        msg.push(t[0]);
    }
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await.ok()?;
    msg.extend_from_slice(&len);
    let n = usize::try_from(u32::from_be_bytes(len))
        .ok()?
        .checked_sub(4)?;
    let at = msg.len();
    msg.resize(at + n, 0);
    r.read_exact(&mut msg[at..]).await.ok()?;
    Some(msg)
}
