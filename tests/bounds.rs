//! Bounded under hostile load, against a real `flagtop serve` on loopback (every loop bounded
//! in count and time): unread streams are closed at their byte budget and capped per token, an
//! authenticated request answers while thousands of half-open connections are held, slow
//! heads and bodies are cut, oversized fields are refused by name, and a resume from the future
//! or from another data dir gets a reset. (The local side — squatters, signals, closed stdout —
//! is in `bounds_local.rs`; the owner's socket in `bounds_socket.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::raw::{addr, read_to_close, rss_kb, unread_stream};
use common::{Http, Server};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The descriptors a process has open.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_stream_is_closed_at_its_budget_and_streams_are_capped_per_token() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), &["--no-simulate", "--scenario", "calm"]);
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let pid = server.child.id();
    // Big changes: a flag with a long description and many cohorts, changed over and over.
    let mut flag = http.get("/v1/flags/checkout-v2", &admin).await.body;
    flag["description"] = json!("x".repeat(3900));
    let template = flag["environments"]["staging"]["cohorts"][0].clone();
    let cohorts: Vec<_> = (0..90)
        .map(|i| {
            let mut c = template.clone();
            c["name"] = json!(format!("c{i}"));
            c["percent"] = json!(1);
            c
        })
        .collect();
    flag["environments"]["staging"]["cohorts"] = json!(cohorts);
    flag["environments"]["staging"]["ladder"] = serde_json::Value::Null;
    let r = http
        .call(
            "PUT",
            "/v1/flags/checkout-v2",
            Some(&admin),
            Some(flag),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let idle = rss_kb(pid);
    // One token holds its cap of streams (64) and reads none of them; the next one is refused.
    let viewer = http.token(&admin, "watcher", "viewer").await;
    let fds_before = fds(pid);
    let mut unread = Vec::new();
    for _ in 0..64 {
        unread.push(unread_stream(&addr(&server), &viewer, None).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open = |token: &str| {
        let (client, url, token) = (
            http.client.clone(),
            format!("{}/v1/stream", server.url),
            token.to_string(),
        );
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("answer")
        }
    };
    let resp = open(&viewer).await;
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    // The refused stream's connection is not kept for it (a flood of them would be held memory).
    assert_eq!(
        resp.headers()
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close")
    );
    drop(resp);
    // Another token is not held back by this one.
    assert_eq!(open(&admin).await.status().as_u16(), 200);
    // ~15 KB per change × 600 changes ≈ 9 MB per stream: past what the kernel buffers and past
    // each stream's 1 MiB budget (and the server's 16 MiB for all).
    for i in 0..600u32 {
        let body = json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": format!("c{}", i % 90), "percent": 2 + (i % 50)}, "reason": "churn"});
        let r = http.post("/v1/actions", &admin, body).await;
        assert!(r.status == 200 || r.status == 409, "{:?}", r.body);
    }
    let grown_mb = rss_kb(pid).saturating_sub(idle) / 1024;
    assert!(
        grown_mb < 64,
        "64 unread streams grew the server by {grown_mb} MB"
    );
    // The server closed the streams that fell behind: their places are free again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = open(&viewer).await.status().as_u16();
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(
            Instant::now() < deadline,
            "unread streams over their budget were kept open"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // And their connections are gone with them, the client still not reading: what hyper
    // buffered for it is freed with the connection, not kept until the client reads or goes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while fds(pid) > fds_before + 8 {
        assert!(
            Instant::now() < deadline,
            "streams closed over their budget kept their connections: {} descriptors, {fds_before} before them",
            fds(pid)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(unread);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticated_request_answers_while_thousands_of_half_open_connections_are_held() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), &["--no-simulate", "--scenario", "calm"]);
    let admin = server.admin.clone().expect("admin");
    let a = addr(&server);
    // More half-open connections (connected, nothing sent) than the server's cap of 2048.
    let mut idle = Vec::new();
    for _ in 0..3000 {
        match TcpStream::connect(&a).await {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connect: {e}"),
        }
    }
    let http = Http::new(&server.url);
    for _ in 0..5 {
        let started = Instant::now();
        let r = http.get("/v1/snapshot", &admin).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(started.elapsed() < Duration::from_secs(10));
        let body = json!({"action": {"type": "pause", "flag": "checkout-v2", "env": "staging"}, "reason": "under load"});
        let r = http.post("/v1/actions", &admin, body).await;
        assert!(r.status == 200 || r.status == 422, "{:?}", r.body);
    }
    // A connection that sends nothing is closed by the header read timeout (5 s).
    let mut quiet = TcpStream::connect(&a).await.expect("connect");
    let (_, closed) = read_to_close(&mut quiet, Duration::from_secs(15)).await;
    assert!(
        closed,
        "a silent connection was kept open past the header timeout"
    );
    drop(idle);
}

/// Whether an HTTP answer's head carries `Connection: close`.
fn says_close(answer: &str) -> bool {
    let head = answer.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .any(|l| l.eq_ignore_ascii_case("connection: close"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_and_oversized_fields_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), &["--no-simulate", "--scenario", "calm"]);
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    // A body announced as 1 GB: refused at once.
    let mut s = TcpStream::connect(addr(&server)).await.expect("connect");
    let head = format!(
        "POST /v1/actions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {admin}\r\ncontent-type: application/json\r\ncontent-length: 1000000000\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let (answer, _) = read_to_close(&mut s, Duration::from_secs(15)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:.80}");
    // The rest of that body never came: the answer says the connection is done, so a client
    // does not send its next request on it.
    assert!(says_close(&answer), "{answer}");
    // A small body trickled in: cut after the body read timeout (10 s), not held open.
    let mut s = TcpStream::connect(addr(&server)).await.expect("connect");
    let head = format!(
        "POST /v1/actions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {admin}\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(30) {
        let _ = s.write_all(b" ").await;
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            break;
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a trickled body was not cut: {answer:.80}"
    );
    assert!(says_close(&answer), "{answer}");
    // Fields past their bounds, each named.
    let big = "y".repeat(250_000);
    let cases = [
        (
            "/v1/metrics",
            json!({"samples": [{"flag": "checkout-v2", "env": "production", "metric": big, "cohort": "eu-west", "arm": "candidate", "value": 1.0}]}),
            "metric",
        ),
        (
            "/v1/metrics",
            json!({"samples": [{"flag": "checkout-v2", "env": "production", "metric": "error_rate", "cohort": "eu-west", "arm": "candidate", "value": 1.0, "count": u64::MAX}]}),
            "count",
        ),
        (
            "/v1/proposals",
            json!({"action": {"type": "pause", "flag": "checkout-v2", "env": "staging"}, "reason": "x", "evidence_gap": big}),
            "evidence_gap",
        ),
        (
            "/v1/proposals",
            json!({"action": {"type": "pause", "flag": "checkout-v2", "env": "staging", "note": "n".repeat(600)}, "reason": "x"}),
            "note",
        ),
        (
            "/v1/actions",
            json!({"action": {"type": "pause", "flag": "checkout-v2", "env": "staging"}, "reason": "r".repeat(3000)}),
            "reason",
        ),
    ];
    let before = http.get("/v1/snapshot", &admin).await.body["revision"].clone();
    for (path, body, field) in cases {
        let r = http.post(path, &admin, body).await;
        assert_eq!(r.status, 422, "{path} {field}: {:?}", r.body);
        let msg = r.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(
            msg.contains(field),
            "{path}: the refusal does not name `{field}`: {msg}"
        );
    }
    assert_eq!(
        http.get("/v1/snapshot", &admin).await.body["revision"],
        before
    );
    // Requests per agent are bounded (50 open at once).
    let agent = http.token(&admin, "eager-bot", "agent").await;
    let mut last = 0;
    for p in 0..60u8 {
        let body = json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "production", "cohort": "us-east", "percent": 30 + p}, "reason": "proposal"});
        last = http.post("/v1/proposals", &agent, body).await.status;
    }
    assert_eq!(last, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_the_future_or_from_another_data_dir_gets_a_reset() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), &["--no-simulate", "--scenario", "calm"]);
    let admin = server.admin.clone().expect("admin");
    for id in ["999999", "1@not-this-data-dir", "garbage", "2@"] {
        let mut s = unread_stream(&addr(&server), &admin, Some(id)).await;
        let mut got = String::new();
        let mut buf = [0u8; 8192];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !got.contains("event: reset") {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => got.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => break,
            }
        }
        assert!(
            got.contains("event: hello") && got.contains("event: reset"),
            "Last-Event-ID {id}: no reset in {got:.300}"
        );
    }
    // A resume from this data dir at its own revision is exact: no reset.
    let snap = Http::new(&server.url)
        .get("/v1/snapshot", &admin)
        .await
        .body;
    let rev = snap["revision"].as_u64().expect("revision");
    let mut s = unread_stream(&addr(&server), &admin, None).await;
    let mut got = String::new();
    let mut buf = [0u8; 8192];
    while !got.contains("event: hello") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("hello")
            .expect("read");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let epoch = got
        .split("\"epoch\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("epoch in hello")
        .to_string();
    let mut s = unread_stream(&addr(&server), &admin, Some(&format!("{rev}@{epoch}"))).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("data")
        .expect("read");
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("event: reset"));
}
