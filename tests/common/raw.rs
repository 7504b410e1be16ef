//! Raw loopback sockets for the bounds tests: a stream request that is never read, reading a
//! connection until the server closes it, a server's RSS.

use super::Server;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub fn addr(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_string()
}

pub fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A raw `GET /v1/stream` on a socket with a small receive buffer that is then never read.
pub async fn unread_stream(addr: &str, token: &str, last_event_id: Option<&str>) -> TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    let _ = sock.set_recv_buffer_size(4096);
    let mut s = sock
        .connect(addr.parse().expect("addr"))
        .await
        .expect("connect");
    let resume = last_event_id
        .map(|id| format!("last-event-id: {id}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET /v1/stream HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n{resume}\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("write");
    s
}

/// Everything the server sends on `s` until it closes (or `limit` passes).
pub async fn read_to_close(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&all).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&all).into_owned(), true),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
}

/// `flagtop ARGS --data DATA` as the owner would run it on this machine: no `--backend`, no
/// token (it finds the control plane through the data dir's endpoint file).
pub fn local_cli(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("FLAGTOP_TOKEN")
        .env_remove("FLAGTOP_BACKEND")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run flagtop")
}

/// Open files of process `pid`.
pub fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}
