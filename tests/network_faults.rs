//! The CLI and the TUI against a control plane behind a fault-injecting proxy that stalls,
//! drops connections mid-stream, answers garbage, loses answers, or comes back: the CLI exits
//! non-zero with a clear message and a documented code; the TUI shows stale/reconnecting within
//! a bounded time and recovers on its own; nothing is ever applied twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::fault::{FaultProxy, Mode};
use common::pty::Tui;
use common::{Http, Server};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

fn addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .parse()
        .expect("server address")
}

fn cli(proxy: &FaultProxy, token: &str, args: &[&str]) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(args)
        .args(["--backend", &proxy.url])
        .env("FLAGTOP_TOKEN", token)
        .env("FLAGTOP_HTTP_TIMEOUT_SECS", "2")
        .output()
        .expect("run flagtop");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
        start.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_fails_clearly_and_never_applies_twice() {
    let (_dir, server, token) = Server::fresh(&["--no-simulate"]);
    let proxy = FaultProxy::start(addr(&server.url)).await;

    proxy.set(Mode::Pass);
    assert_eq!(cli(&proxy, &token, &["status"]).0, Some(0));

    proxy.set(Mode::Stall);
    let (code, err, took) = cli(&proxy, &token, &["status"]);
    assert_eq!(code, Some(7), "{err}");
    assert!(err.contains("did not answer in time"), "{err}");
    assert!(took < Duration::from_secs(10), "bounded: {took:?}");

    proxy.set(Mode::Drop);
    let (code, err, _) = cli(&proxy, &token, &["status"]);
    assert_eq!(code, Some(7), "{err}");

    proxy.set(Mode::Garbage);
    let (code, err, _) = cli(&proxy, &token, &["status"]);
    assert!(matches!(code, Some(7 | 8)), "{code:?} {err}");
    assert!(err.contains("flagtop:"), "{err}");

    // The answer is lost after the change was applied: the CLI says the outcome is unknown and
    // names the key; retrying with it returns the first outcome, applied once.
    proxy.set(Mode::LoseResponse);
    let (code, err, _) = cli(
        &proxy,
        &token,
        &[
            "act",
            "rollback",
            "checkout-v2",
            "eu-west",
            "--env",
            "production",
            "--reason",
            "lossy link",
        ],
    );
    assert_eq!(code, Some(7), "{err}");
    assert!(err.contains("may or may not have been applied"), "{err}");
    let key: String = err
        .split("--idempotency-key ")
        .nth(1)
        .map(|s| {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect()
        })
        .expect("key in the message");
    assert_eq!(key.len(), 36, "a uuid: {key}");
    proxy.set(Mode::Pass);
    let out = Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args([
            "act",
            "rollback",
            "checkout-v2",
            "eu-west",
            "--env",
            "production",
            "--reason",
            "lossy link",
            "--json",
            "--idempotency-key",
            &key,
        ])
        .args(["--backend", &proxy.url])
        .env("FLAGTOP_TOKEN", &token)
        .output()
        .expect("retry");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v["replayed"], true,
        "the first attempt had been applied; the retry found it by its key"
    );
    let audit = Http::new(&server.url)
        .get("/v1/audit?flag=checkout-v2&limit=100", &token)
        .await
        .body;
    let applied = audit["events"]
        .as_array()
        .map(|e| e.iter().filter(|e| e["request_id"] == key.as_str()).count())
        .unwrap_or(0);
    assert_eq!(applied, 1, "applied exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_shows_stale_within_bounds_and_recovers_by_itself() {
    let (_dir, server, token) = Server::fresh(&["--no-simulate"]);
    let proxy = FaultProxy::start(addr(&server.url)).await;
    let mut tui = Tui::start_with(
        &proxy.url,
        &token,
        30,
        110,
        &[
            ("FLAGTOP_STREAM_IDLE_SECS", "3"),
            ("FLAGTOP_HTTP_TIMEOUT_SECS", "2"),
        ],
        &[],
    );
    tui.wait_for("● live", 20);

    // (mode, at most this long until the header says so). The proxy freezes the open stream on
    // Stall (no close), so only the stream's idle timeout (3 s of silence here; heartbeats come
    // every 10 s normally) can notice it.
    for (mode, bound) in [(Mode::Drop, 5), (Mode::Stall, 12), (Mode::Garbage, 12)] {
        proxy.set(mode);
        let t = Instant::now();
        let screen = tui.wait_for("reconnecting", bound);
        assert!(screen.contains("stale"), "{mode:?}: {screen}");
        eprintln!("{mode:?}: stale shown after {:?}", t.elapsed());
        // Writes are refused while stale: no confirm dialog opens.
        tui.keys("F");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !tui.contents().contains("Enter: send"),
            "{mode:?}: a write was offered while stale"
        );
        proxy.set(Mode::Pass);
        tui.wait_for("● live", 30);
    }
    // Nothing was sent during any of it.
    let audit = Http::new(&server.url)
        .get("/v1/audit?limit=100", &token)
        .await
        .body;
    assert!(
        audit["events"]
            .as_array()
            .map(|e| e.iter().all(|e| e["kind"] != "applied"))
            .unwrap_or(true)
    );
}
