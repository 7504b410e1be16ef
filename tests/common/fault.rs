//! A small fault-injecting TCP proxy for tests: pass, stall, drop, garbage, or forward the
//! request but lose the response. Switching modes also cuts the connections already open
//! (a drop mid-stream).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Accept, read, never answer.
    Stall,
    /// Close every connection at once.
    Drop,
    /// Answer with bytes that are not what a flagtop control plane says.
    Garbage,
    /// Forward the request, then close without passing the answer back.
    LoseResponse,
}

pub struct FaultProxy {
    pub url: String,
    mode: Arc<Mutex<Mode>>,
    generation: watch::Sender<u64>,
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let mode = Arc::new(Mutex::new(Mode::Pass));
        let (generation, _) = watch::channel(0u64);
        let (m, g) = (mode.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = *m.lock().expect("lock");
                let cut = g.subscribe();
                tokio::spawn(handle(client, upstream, mode, cut, m.clone()));
            }
        });
        FaultProxy {
            url,
            mode,
            generation,
        }
    }

    /// Switch mode. Open connections are cut, except that `Stall` freezes them silently.
    pub fn set(&self, mode: Mode) {
        *self.mode.lock().expect("lock") = mode;
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    mode: Mode,
    mut cut: watch::Receiver<u64>,
    now: Arc<Mutex<Mode>>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    match mode {
        Mode::Drop => {}
        Mode::Stall => loop {
            tokio::select! {
                _ = cut.changed() => return,
                n = client.read(&mut buf) => if matches!(n, Ok(0) | Err(_)) { return },
            }
        },
        Mode::Garbage => {
            let _ = client.read(&mut buf).await;
            let _ = client.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n\x00\xff{garbage!!").await;
        }
        Mode::LoseResponse => {
            let Ok(mut up) = TcpStream::connect(upstream).await else {
                return;
            };
            let Ok(n) = client.read(&mut buf).await else {
                return;
            };
            let _ = up.write_all(&buf[..n]).await;
            // Let the control plane apply it, then lose its answer.
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(2), up.read(&mut buf)).await;
        }
        Mode::Pass => {
            let Ok(mut up) = TcpStream::connect(upstream).await else {
                return;
            };
            tokio::select! {
                _ = cut.changed() => {}
                _ = tokio::io::copy_bidirectional(&mut client, &mut up) => return,
            }
            // Switched to Stall: keep the connection open but pass nothing (a link gone quiet);
            // any other mode cuts it.
            if *now.lock().expect("lock") == Mode::Stall {
                let _ = cut.changed().await;
            }
        }
    }
}
