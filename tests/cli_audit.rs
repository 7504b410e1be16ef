//! `flagtop audit` text against a real `flagtop serve`: each change shows its before → after.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::Server;

#[test]
fn audit_text_shows_before_and_after() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let run = |args: &[&str]| server.cli(&admin, args);
    let ok = |out: std::process::Output| {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    ok(run(&[
        "act",
        "rollback",
        "checkout-v2",
        "eu-west",
        "--env",
        "production",
        "--reason",
        "p95 breach",
    ]));
    ok(run(&[
        "act",
        "set-percent",
        "checkout-v2",
        "us-east",
        "10",
        "--env",
        "production",
        "--reason",
        "smaller",
    ]));
    let text = ok(run(&["audit", "--flag", "checkout-v2"]));
    let lines: Vec<&str> = text.lines().collect();
    let at = |what: &str| {
        lines
            .iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in:\n{text}"))
    };
    // Newest first, each change on the line after its entry.
    let set = at("set-percent checkout-v2/us-east");
    assert!(
        lines[set + 1].contains("change:  percent 25 → 10"),
        "{text}"
    );
    let rb = at("rollback checkout-v2/eu-west");
    assert!(
        lines[rb + 1].contains("change:  rolled_back false → true"),
        "{text}"
    );
    assert!(set < rb, "{text}");
}
