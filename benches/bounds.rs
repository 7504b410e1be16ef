//! Figures for the bounds (benchmarks, not tests: nothing here fails on a number): the RSS of
//! a real `flagtop serve` holding thousands of event streams that never read, for minutes,
//! while changes flow; and the latency of authenticated actions while another client tries
//! to hold 20,000 idle connections. Writes its section of docs/performance.md (between the
//! `bounds` markers). Loopback only; every loop is bounded in count and time.
//!
//! Run: `cargo bench --bench bounds` (or `./scripts/bench`). Knobs: `BENCH_QUICK=1` (30 s instead
//! of 5 min), `BENCH_BOUNDS_SECS`, `BENCH_DOC` (default docs/performance.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code may fail loudly

mod common;

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const BIN: &str = env!("CARGO_BIN_EXE_flagtop");

struct Serve {
    child: Child,
    url: String,
    admin: String,
}

impl Serve {
    fn start(data: &std::path::Path) -> Serve {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-simulate",
                "--scenario",
                "calm",
                "--data",
            ])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut url, mut admin, mut expect) = (None, None, false);
        while url.is_none() {
            let Some(Ok(line)) = lines.next() else { break };
            if expect {
                admin = Some(line.trim().to_string());
                expect = false;
            } else if line.starts_with("first start: minted an admin token") {
                expect = true;
            } else if let Some(u) = line.strip_prefix("flagtop control plane listening on ") {
                url = Some(u.trim().to_string());
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Serve {
            child,
            url: url.expect("url"),
            admin: admin.expect("admin"),
        }
    }
    fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }
    fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        kb / 1024.0
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s.get(((p / 100.0) * (s.len().max(1) - 1) as f64).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

async fn token(c: &reqwest::Client, s: &Serve, name: &str, role: &str) -> String {
    let r: serde_json::Value = c
        .post(format!("{}/v1/tokens", s.url))
        .bearer_auth(&s.admin)
        .json(&json!({"name": name, "role": role}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    r["token"].as_str().expect("token").to_string()
}

/// 2,000 streams that never read (32 viewer tokens), changes flowing, for `secs`: RSS above idle.
async fn unread_streams(secs: u64) -> (f64, f64, usize) {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Serve::start(dir.path());
    let c = reqwest::Client::new();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = s.rss_mb();
    let mut tokens = Vec::new();
    for i in 0..32 {
        tokens.push(token(&c, &s, &format!("viewer{i}"), "viewer").await);
    }
    let mut held = Vec::new();
    let mut accepted = 0;
    for i in 0..2000 {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        let _ = sock.set_recv_buffer_size(4096);
        let Ok(mut st) = sock.connect(s.addr().parse().expect("addr")).await else {
            continue;
        };
        let req = format!(
            "GET /v1/stream HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
            tokens[i % 32]
        );
        if st.write_all(req.as_bytes()).await.is_ok() {
            held.push(st);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    eprintln!(
        "  {} streams held; RSS above idle before any change: {:.1} MB",
        held.len(),
        s.rss_mb() - idle
    );
    // Changes keep flowing (a writer at ~20 actions/s) so unread streams fill up.
    let started = Instant::now();
    let mut peak: f64 = 0.0;
    let mut i = 0u32;
    while started.elapsed() < Duration::from_secs(secs) {
        let body = json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "eu-west", "percent": 1 + (i % 90)}, "reason": "bench churn"});
        if let Ok(r) = c
            .post(format!("{}/v1/actions", s.url))
            .bearer_auth(&s.admin)
            .json(&body)
            .send()
            .await
            && r.status().is_success()
        {
            accepted += 1;
        }
        i += 1;
        if i.is_multiple_of(20) {
            peak = peak.max(s.rss_mb());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = s.rss_mb();
    (peak - idle, after - idle, accepted)
}

/// Authenticated actions, one at a time, while another client keeps trying to hold 20,000
/// idle connections: latencies in ms, and how many the attacker held at the end.
async fn under_connection_flood(n: usize) -> (Vec<f64>, usize) {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Arc::new(Serve::start(dir.path()));
    let stop = Arc::new(AtomicBool::new(false));
    let holding = Arc::new(AtomicUsize::new(0));
    let attacker = {
        let (s, stop, holding) = (s.clone(), stop.clone(), holding.clone());
        tokio::spawn(async move {
            let mut conns = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if conns.len() < 20_000 {
                    match tokio::time::timeout(
                        Duration::from_millis(200),
                        tokio::net::TcpStream::connect(s.addr()),
                    )
                    .await
                    {
                        Ok(Ok(c)) => conns.push(c),
                        _ => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                } else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                holding.store(conns.len(), Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut lat = Vec::new();
    for i in 0..n {
        let body = json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "us-east", "percent": 1 + (i % 90)}, "reason": "bench under flood"});
        let t = Instant::now();
        let ok = c
            .post(format!("{}/v1/actions", s.url))
            .bearer_auth(&s.admin)
            .json(&body)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = attacker.await;
    (lat, holding.load(Ordering::Relaxed))
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!(
            "flagtop bounds bench: skipped (run `cargo bench --bench bounds` or ./scripts/bench)"
        );
        return;
    }
    // The HTTP clients here use rustls without a built-in provider, like the binary.
    flagtop::app::init_tls();
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
    let secs: u64 = std::env::var("BENCH_BOUNDS_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 30 } else { 300 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    eprintln!("bounds: 2,000 unread streams for {secs} s …");
    let (peak, after, accepted) = rt.block_on(unread_streams(secs));
    eprintln!(
        "  RSS above idle: peak {peak:.1} MB, after disconnect {after:.1} MB ({accepted} actions)"
    );
    eprintln!("bounds: authenticated actions under a 20,000-connection flood …");
    let (lat, held) = rt.block_on(under_connection_flood(if quick { 200 } else { 1000 }));
    let (p50, p99) = (pct(&lat, 50.0), pct(&lat, 99.0));
    eprintln!(
        "  action latency p50 {p50:.2} ms, p99 {p99:.2} ms over {} actions; attacker held {held} connections",
        lat.len()
    );
    let met = |b: bool| if b { "✅ met" } else { "❌ missed" };
    let section = format!(
        "## Under hostile load (`benches/bounds.rs`)\n\n\
         | figure | goal | measured | |\n|---|---|---|---|\n\
         | RSS of `serve` above idle with 2,000 event streams that never read, changes flowing, for {secs} s (the server accepts 1,024: 64 per token × 32 tokens, capped at 1,024 in all) | ≤ 64 MB | peak {peak:.1} MB; {after:.1} MB after they disconnect | {} |\n\
         | authenticated `POST /v1/actions` while another client tries to hold 20,000 idle connections (it held {held} at the end; the server keeps at most 2,048 and evicts half-open ones) | p99 < 50 ms | p50 {p50:.2} ms, p99 {p99:.2} ms over {} actions | {} |\n\n\
         Method: loopback only; the streams are raw sockets with a 4 KiB receive buffer that are never read; a writer sends ~20 actions/s; RSS is read from `/proc/PID/status` every second of writes. Take these figures while nothing else runs on the machine.\n",
        met(peak <= 64.0),
        lat.len(),
        met(p99 < 50.0),
    );
    let doc = std::env::var("BENCH_DOC").unwrap_or_else(|_| "docs/performance.md".into());
    common::write_section(&doc, "bounds", &section);
    eprintln!("bounds: wrote its section of {doc}");
}
