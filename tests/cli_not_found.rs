//! The CLI on an unknown flag or environment: exit 5 (as the README promises), with `--json`
//! the error as JSON on stdout (`{"error":{"code","message"}}`), and a known one still exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::Server;

#[test]
fn unknown_flag_or_environment_exits_5_and_json_errors_are_json() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let run = |args: &[&str]| server.cli(&admin, args);
    let out = run(&["audit", "--flag", "nope"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no flag `nope`"));
    let out = run(&["audit", "--flag", "nope", "--json"]);
    assert_eq!(out.status.code(), Some(5));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["error"]["code"], "not_found");
    assert!(v["error"]["message"].as_str().unwrap().contains("nope"));
    let out = run(&["status", "--env", "nope"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["status", "--env", "nope", "--json"]);
    assert_eq!(out.status.code(), Some(5));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["error"]["code"], "not_found");
    // Known ones are fine.
    assert_eq!(
        run(&["audit", "--flag", "checkout-v2"]).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["status", "--env", "production"]).status.code(),
        Some(0)
    );
}
