//! `flagtop timeline` against a real `flagtop serve`: an operator's rollback and the seeded
//! agent proposal appear in order with who, reason, before → after and reverse; `--flag` and
//! `--env` narrow it; bad input exits 2 (usage) or 5 (unknown flag). The full incident (breach,
//! engine pause and proposal, rollback, evidence) is pinned on a manual clock by the golden
//! files in `tests/fixtures/timeline/` (`wire::timeline::tests`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::Server;

#[test]
fn timeline_lists_the_decisions_of_the_window_in_order() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let run = |args: &[&str]| server.cli(&admin, args);
    let out = run(&[
        "act",
        "rollback",
        "checkout-v2",
        "eu-west",
        "--env",
        "production",
        "--reason",
        "p95 breach in eu-west <b>",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["timeline", "--since", "10m", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let entries = v["entries"].as_array().expect("entries");
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["proposal", "change"], "{v}");
    let change = &entries[1];
    assert_eq!(change["what"], "rollback checkout-v2/eu-west in production");
    assert_eq!(change["who_kind"], "person");
    assert_eq!(
        change["reverse"],
        "restore checkout-v2/eu-west in production"
    );
    assert!(
        change["before"]
            .as_str()
            .unwrap()
            .contains("\"rolled_back\":false")
    );
    assert_eq!(
        entries[0]["evidence_gap"],
        "citation_failure_rate not joined to flag variation yet"
    );

    let out = run(&["timeline", "--since", "10m"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("## Incident record: "), "{md}");
    assert!(md.contains("reason: p95 breach in eu-west \\<b\\>"), "{md}");
    let out = run(&[
        "timeline",
        "--since",
        "10m",
        "--flag",
        "checkout-v2",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(1), "{v}");
    let out = run(&[
        "timeline", "--since", "10m", "--env", "staging", "--format", "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(0), "{v}");

    assert_eq!(run(&["timeline", "--since", "2w"]).status.code(), Some(2));
    assert_eq!(run(&["timeline", "--flag", "nope"]).status.code(), Some(5));
}
