//! The CLI's errors against a real `flagtop serve`: with `--json`, every command's failure is
//! `{"error":{"code","message"}}` on stdout with the exit code the README documents; without,
//! a sentence on stderr and nothing on stdout. An unknown flag, cohort or environment exits 5
//! everywhere, naming it and the names that exist. No refusal changes anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::{Http, Server};
use std::process::Output;

/// Exit code, error code and message of a `--json` failure (stdout must be exactly that JSON).
fn json_error(out: &Output) -> (i32, String, String) {
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {text:?}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let obj = v.as_object().expect("an object");
    assert_eq!(obj.len(), 1, "only `error`: {v}");
    let err = v["error"].as_object().expect("error object");
    assert_eq!(err.len(), 2, "code and message: {v}");
    (
        out.status.code().expect("exit code"),
        err["code"].as_str().expect("code").to_string(),
        err["message"].as_str().expect("message").to_string(),
    )
}

async fn revision(http: &Http, token: &str) -> u64 {
    let r = http.get("/v1/snapshot", token).await;
    assert_eq!(r.status, 200);
    r.body["revision"].as_u64().expect("revision")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_fails_as_json_on_stdout_with_the_documented_code() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let viewer = http.token(&admin, "vera", "viewer").await;
    let before = revision(&http, &admin).await;
    let run = |token: &str, args: &[&str]| server.cli(token, args);
    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (
            "status",
            vec!["status", "--env", "nope", "--json"],
            5,
            "not_found",
        ),
        (
            "audit",
            vec!["audit", "--flag", "nope", "--json"],
            5,
            "not_found",
        ),
        (
            "audit env",
            vec!["audit", "--env", "nope", "--json"],
            5,
            "not_found",
        ),
        (
            "act flag",
            vec![
                "act",
                "rollback",
                "nope",
                "eu-west",
                "--env",
                "production",
                "--reason",
                "x",
                "--json",
            ],
            5,
            "not_found",
        ),
        (
            "act reason",
            vec![
                "act",
                "rollback",
                "checkout-v2",
                "eu-west",
                "--env",
                "production",
                "--json",
            ],
            2,
            "usage",
        ),
        // A command line clap refuses (a missing argument) is JSON too.
        (
            "act parse",
            vec!["act", "rollback", "checkout-v2", "--json"],
            2,
            "usage",
        ),
        (
            "act conflict",
            vec![
                "act",
                "pause",
                "checkout-v2",
                "--env",
                "staging",
                "--reason",
                "x",
                "--expect-revision",
                "0",
                "--json",
            ],
            3,
            "conflict",
        ),
        (
            "approvals",
            vec![
                "approvals",
                "approve",
                "apr-nope",
                "--reason",
                "x",
                "--json",
            ],
            5,
            "unknown_approval",
        ),
        (
            "apply",
            vec!["apply", "-f", "/nonexistent/flags.toml", "--json"],
            2,
            "usage",
        ),
        (
            "propose",
            vec![
                "propose",
                "rollback",
                "checkout-v2",
                "nope",
                "--env",
                "production",
                "--reason",
                "x",
                "--json",
            ],
            5,
            "not_found",
        ),
    ];
    for (what, args, code, name) in &cases {
        let out = run(&admin, args);
        let (exit, c, message) = json_error(&out);
        assert_eq!((exit, c.as_str()), (*code, *name), "{what}: {message}");
        assert!(!message.is_empty(), "{what}");
        if *what == "act parse" {
            assert!(message.contains("<COHORT>"), "{message}");
        }
        if *what == "act flag" {
            assert!(
                message.contains("known: ") && message.contains("checkout-v2"),
                "{message}"
            );
        }
    }
    // An sdk token for an unknown environment: 5, as everywhere.
    let out = run(
        &admin,
        &[
            "token", "add", "app", "--role", "sdk", "--env", "nope", "--json",
        ],
    );
    let (exit, code, message) = json_error(&out);
    assert_eq!(
        (exit, code.as_str()),
        (5, "unknown_environment"),
        "{message}"
    );
    // Not allowed: a viewer minting a token, JSON with exit 4.
    let out = run(
        &viewer,
        &["token", "add", "mallory", "--role", "admin", "--json"],
    );
    let (exit, code, _) = json_error(&out);
    assert_eq!((exit, code.as_str()), (4, "forbidden"));
    // Unreachable: exit 7, JSON.
    let port = common::pty::free_port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args([
            "status",
            "--json",
            "--backend",
            &format!("http://127.0.0.1:{port}"),
        ])
        .env("FLAGTOP_TOKEN", "x")
        .output()
        .expect("run");
    let (exit, code, message) = json_error(&out);
    assert_eq!((exit, code.as_str()), (7, "unreachable"), "{message}");
    // Without --json: a sentence on stderr, nothing on stdout, the same exit code.
    let out = run(
        &admin,
        &[
            "act",
            "rollback",
            "nope",
            "eu-west",
            "--env",
            "production",
            "--reason",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(5));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("flagtop: no flag `nope`"), "{err}");
    let out = run(&admin, &["act", "rollback", "checkout-v2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // Nothing above changed anything.
    assert_eq!(revision(&http, &admin).await, before);
    // And a success with --json is still the command's own JSON.
    let out = run(
        &admin,
        &["token", "add", "tina", "--role", "viewer", "--json"],
    );
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (v["name"].as_str(), v["role"].as_str()),
        (Some("tina"), Some("viewer"))
    );
    assert!(
        v["token"].as_str().is_some_and(|t| t.starts_with("ft_")),
        "{v}"
    );
}

#[test]
fn unknown_names_exit_5_everywhere_and_say_what_exists() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let run = |args: &[&str]| server.cli(&admin, args);
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["audit", "--flag", "nope"],
            "no flag `nope`",
            "checkout-v2",
        ),
        (
            vec!["status", "--env", "nope"],
            "no environment `nope`",
            "production",
        ),
        (
            vec!["audit", "--env", "nope"],
            "no environment `nope`",
            "staging",
        ),
        (
            vec![
                "act",
                "rollback",
                "checkout-v2",
                "nope",
                "--env",
                "production",
                "--reason",
                "x",
            ],
            "no cohort `nope`",
            "eu-west",
        ),
        (
            vec!["act", "freeze", "--env", "nope", "--reason", "x"],
            "no environment `nope`",
            "production",
        ),
        (
            vec![
                "propose",
                "pause",
                "nope",
                "--env",
                "production",
                "--reason",
                "x",
            ],
            "no flag `nope`",
            "checkout-v2",
        ),
        (
            vec!["propose", "freeze", "--env", "prod", "--reason", "x"],
            "no environment `prod`",
            "production",
        ),
    ];
    for (args, names, lists) in &cases {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {err}");
        assert!(
            err.contains(names) && err.contains("known:") && err.contains(lists),
            "{args:?}: {err}"
        );
    }
    // Near matches come first: `prod` lists `production` before the others.
    let out = run(&["status", "--env", "prod"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("known: production"), "{err}");
}

#[test]
fn status_says_when_the_plane_simulates_its_traffic() {
    for (args, simulated) in [(&[][..], true), (&["--no-simulate"][..], false)] {
        let (_dir, server, admin) = Server::fresh(args);
        let out = server.cli(&admin, &["status", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["simulated"], simulated, "serve {args:?}");
        let text = server.cli(&admin, &["status"]);
        let text = String::from_utf8_lossy(&text.stdout).to_string();
        assert_eq!(text.contains("simulated traffic"), simulated, "{text}");
    }
}
