//! The CLI with several `--backend`s: it moves to the next on connection loss — a refused
//! connection, or an answer lost after the request was sent (then the action is resent with
//! its idempotency key and answered from the record: applied once, reported as applied) — and
//! never on an HTTP error answer. The "replicas" here are one real `flagtop serve`, reached
//! directly and through a fault-injecting proxy; `tests/postgres_failover.rs` kills real ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::fault::{FaultProxy, Mode};
use common::{Http, Server};
use std::process::{Command, Output};

fn flagtop(backends: &str, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(args)
        .args(["--backend", backends])
        .env("FLAGTOP_TOKEN", token)
        .env("FLAGTOP_HTTP_TIMEOUT_SECS", "2")
        .output()
        .expect("run flagtop")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn rollbacks(h: &Http, token: &str, reason: &str) -> usize {
    let audit = h.get("/v1/audit?limit=1000", token).await.body;
    audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == reason)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_moves_on_when_the_connection_is_lost_and_not_on_an_error_answer() {
    let (_dir, server, token) = Server::fresh(&["--no-simulate"]);
    let h = Http::new(&server.url);
    let addr = server.url.trim_start_matches("http://").parse().unwrap();
    let proxy = FaultProxy::start(addr).await;

    // The first replica refuses connections: the next one answers.
    let dead = "http://127.0.0.1:9";
    let o = flagtop(&format!("{dead},{}", server.url), &token, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The first replica applies the action but its answer is lost: the CLI resends it with the
    // same key to the next, which answers from the record. Applied once, reported as applied.
    proxy.set(Mode::LoseResponse);
    let backends = format!("{},{}", proxy.url, server.url);
    let act = [
        "act",
        "rollback",
        "checkout-v2",
        "eu-west",
        "--env",
        "production",
        "--reason",
        "answer lost",
        "--json",
    ];
    let o = flagtop(&backends, &token, &act);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(out["outcome"], "applied", "{out}");
    assert_eq!(
        out["replayed"], true,
        "the first replica applied it; the next answered from the record: {out}"
    );
    assert_eq!(
        rollbacks(&h, &token, "answer lost").await,
        1,
        "applied once"
    );

    // Both gone: the error names both, exit 7 (unreachable).
    let o = flagtop(&format!("{dead},http://127.0.0.1:7"), &token, &["status"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(
        text(&o).contains("127.0.0.1:9") && text(&o).contains("127.0.0.1:7"),
        "{}",
        text(&o)
    );

    // An HTTP error answer is an answer: no move to the (stalled) next one, whose timeout would
    // turn the documented "not found" (5) into "unreachable" (7).
    proxy.set(Mode::Stall);
    let backends = format!("{},{}", server.url, proxy.url);
    let o = flagtop(
        &backends,
        &token,
        &[
            "act",
            "rollback",
            "no-such-flag",
            "eu-west",
            "--env",
            "production",
            "--reason",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));

    // At most 16 replicas: more is a usage error (2), said before anything is sent.
    let many: Vec<String> = (0..17)
        .map(|i| format!("http://127.0.0.1:{}", 1000 + i))
        .collect();
    let o = flagtop(&many.join(","), &token, &["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("at most 16"), "{}", text(&o));
}
