//! Hostile strings from a backend, a file or another user never take over a terminal: flag
//! descriptions and owners, reasons (actions, approvals, rejections), proposal evidence and
//! evidence gaps carrying ESC, CSI (clear screen), OSC (window title, hyperlink), the
//! bracketed-paste end marker, C1 controls, bidi overrides, zero-width characters and very long
//! text are shown neutralised by the real TUI in a pseudo-terminal, `flagtop status`, `audit`,
//! `approvals list`, their `--json` forms, screenshots and log lines. Hostile *keys* (flags,
//! cohorts, environments, token names) are refused with a precise error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

#[path = "../common/mod.rs"]
mod common;
mod screen;

use common::pty::Tui;
use common::{Http, Server};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Every hostile sequence at once; each part has a marker so a leak is easy to spot.
const PAYLOAD: &str = "P0\x1b[2Jclr \x1b]0;pwned\x07ttl \x1b]8;;http://x\x07lnk\x1b]8;;\x07 \x1b[201~pst \u{9b}31mc1 \u{9d}0;t\u{9c} \u{202e}rev\u{202c} z\u{200b}w\u{200d}j\u{feff} del\x7f cr\r nl\n tab\t P9";

/// Byte sequences that must never appear verbatim in anything we print.
const LEAKS: &[&str] = &[
    "\x1b[2Jclr",
    "\x1b]0;pwned",
    "\x1b]8;;http://x",
    "\x1b[201~",
    "\u{9b}",
    "\u{9d}",
    "\u{9c}",
    "\u{202e}",
    "\u{202c}",
    "\u{200b}",
    "\u{200d}",
    "\u{feff}",
];

/// Bidi controls and invisible characters (the set `sanitize` replaces).
fn bidi_or_invisible(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Human output: valid UTF-8, no ESC, no C0 but newline, no C1, no bidi or zero-width.
fn assert_inert_text(out: &[u8], what: &str) {
    let s = std::str::from_utf8(out).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let bad = (c.is_control() && c != '\n') || bidi_or_invisible(c);
        let near: String = chars[i.saturating_sub(40)..(i + 40).min(chars.len())]
            .iter()
            .collect();
        assert!(!bad, "{what}: {c:?} at char {i}: …{near:?}…");
    }
    for l in LEAKS {
        assert!(!s.contains(l), "{what}: {l:?} leaked");
    }
}

/// JSON output: valid, and no raw control, C1, bidi or invisible character anywhere in the
/// bytes (serde escapes C0; the rest must be escaped too, a terminal may act on C1).
fn assert_inert_json(out: &[u8], what: &str) -> Value {
    let v: Value =
        serde_json::from_slice(out).unwrap_or_else(|e| panic!("{what}: invalid JSON: {e}"));
    assert_inert_text(out, what);
    v
}

/// True when some string inside `v` equals or contains `needle` (the JSON keeps the data).
fn json_has(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(a) => a.iter().any(|x| json_has(x, needle)),
        Value::Object(o) => o.values().any(|x| json_has(x, needle)),
        _ => false,
    }
}

fn flagtop(url: &str, token: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(args)
        .args(["--backend", url])
        .env("FLAGTOP_TOKEN", token)
        .env("FLAGTOP_DATA", tempfile::tempdir().expect("tmp").keep())
        .output()
        .expect("run flagtop")
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A control plane seeded with hostile text through every write path; returns it with the
/// admin token.
async fn hostile_server(dir: &std::path::Path) -> (Server, String) {
    let server = Server::start(dir, &["--no-simulate"]);
    let admin = server.admin.clone().expect("admin token");
    let http = Http::new(&server.url);
    let alice = http.token(&admin, "alice", "operator").await;
    let bob = http.token(&admin, "bob", "approver").await;
    let agent = http.token(&admin, "ops-agent", "agent").await;

    // Description (long: 3.9 KB, under the 4000-byte limit) and owner of a flag, by an admin.
    let mut flag = http.get("/v1/flags/checkout-v2", &admin).await.body;
    let long = format!("{PAYLOAD} {}", "long-description ".repeat(220));
    assert!(long.len() < 4000);
    flag["description"] = json!(long);
    flag["owner"] = json!(PAYLOAD);
    let r = http
        .call(
            "PUT",
            "/v1/flags/checkout-v2",
            Some(&admin),
            Some(flag.clone()),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // An applied action's reason; a proposal's reason, evidence and gap; a rejection's reason.
    let rollback = json!({"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": "eu-west"});
    let r = http
        .post(
            "/v1/actions",
            &alice,
            json!({"action": rollback, "reason": format!("act {PAYLOAD}")}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let evidence = json!([{"metric": format!("m {PAYLOAD}"), "cohort": "us-east", "candidate": 1.0, "baseline": 0.5, "samples": 10, "window_secs": 60, "status": format!("s {PAYLOAD}")}]);
    let advance = json!({"type": "set_percent", "flag": "checkout-v2", "env": "production", "cohort": "us-east", "percent": 40});
    let r = http
        .post(
            "/v1/proposals",
            &agent,
            json!({"action": advance, "reason": format!("prop {PAYLOAD}"), "evidence": evidence}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let gap = json!({"type": "set_percent", "flag": "search-ranking-v3", "env": "staging", "cohort": "internal", "percent": 60});
    let r = http.post("/v1/proposals", &agent, json!({"action": gap, "reason": format!("gap {PAYLOAD}"), "evidence_gap": format!("no data {PAYLOAD}")})).await;
    if r.status != 202 {
        // The demo may not have that cohort: fall back to a flag/cohort it has.
        let gap = json!({"type": "set_percent", "flag": "checkout-v2", "env": "production", "cohort": "us-east", "percent": 45});
        let r = http.post("/v1/proposals", &agent, json!({"action": gap, "reason": format!("gap {PAYLOAD}"), "evidence_gap": format!("no data {PAYLOAD}")})).await;
        assert_eq!(r.status, 202, "{:?}", r.body);
    }
    let expand = json!({"type": "set_percent", "flag": "checkout-v2", "env": "production", "cohort": "us-east", "percent": 60});
    let r = http
        .post(
            "/v1/actions",
            &alice,
            json!({"action": expand, "reason": format!("req {PAYLOAD}")}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id = r.body["approval_id"]
        .as_str()
        .expect("approval id")
        .to_string();
    let r = http
        .post(
            &format!("/v1/approvals/{id}/reject"),
            &bob,
            json!({"reason": format!("rej {PAYLOAD}")}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (server, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_keys_and_oversized_text_are_refused_precisely() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let flag = http.get("/v1/flags/checkout-v2", &admin).await.body;

    for bad in [
        "ev\x1b[2Jil",
        "a\u{202e}b",
        "z\u{200b}w",
        "c1\u{9b}x",
        "sp ace",
        "",
        &"k".repeat(101),
    ] {
        // Token (user) names.
        let r = http
            .post("/v1/tokens", &admin, json!({"name": bad, "role": "viewer"}))
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (422, Some("invalid_name")),
            "token name {bad:?}: {:?}",
            r.body
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("A–Z a–z 0–9 - _ .")
        );
        if bad.is_empty() {
            continue;
        }
        // Flag keys.
        let mut f = flag.clone();
        f["key"] = json!(bad);
        let r = http
            .call(
                "PUT",
                &format!("/v1/flags/{}", percent_encode(bad)),
                Some(&admin),
                Some(f),
                &[],
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (422, Some("invalid_key")),
            "flag key {bad:?}: {:?}",
            r.body
        );
        // Cohort names.
        let mut f = flag.clone();
        f["environments"]["production"]["cohorts"][0]["name"] = json!(bad);
        let r = http
            .call("PUT", "/v1/flags/checkout-v2", Some(&admin), Some(f), &[])
            .await;
        assert_eq!(r.status, 422, "cohort name {bad:?}: {:?}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains("cohort"), "cohort name {bad:?}: {msg}");
        // Environment keys.
        let r = http
            .call(
                "PUT",
                &format!("/v1/environments/{}", percent_encode(bad)),
                Some(&admin),
                Some(json!({"key": bad, "protected": false})),
                &[],
            )
            .await;
        assert_eq!(r.status, 422, "environment key {bad:?}: {:?}", r.body);
    }

    // Very long text (100 KB) is refused, not stored and not shown.
    let huge = format!("{PAYLOAD}{}", "x".repeat(100 * 1024));
    let mut f = flag.clone();
    f["description"] = json!(huge);
    let r = http
        .call("PUT", "/v1/flags/checkout-v2", Some(&admin), Some(f), &[])
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("too long")
    );
    let rollback = json!({"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": "eu-west"});
    let r = http
        .post(
            "/v1/actions",
            &admin,
            json!({"action": rollback, "reason": huge}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (422, Some("reason_too_long")),
        "{:?}",
        r.body
    );

    // A hostile flag key on the command line: a precise error, and stderr stays inert.
    let out = flagtop(
        &server.url,
        &admin,
        &[
            "act",
            "kill",
            "x\x1b]0;pwned\x07y",
            "--env",
            "production",
            "--reason",
            "r",
        ],
    );
    assert!(!out.status.success());
    assert_inert_text(&out.stdout, "act stdout");
    assert_inert_text(&out.stderr, "act stderr");
    assert!(!out.stderr.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_audit_approvals_and_json_are_inert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, admin) = hostile_server(dir.path()).await;
    let url = server.url.clone();

    for args in [
        &["status"][..],
        &["status", "--env", "production"],
        &["audit"],
        &["audit", "--limit", "100"],
        &["approvals", "list"],
        &["approvals"],
    ] {
        let out = flagtop(&url, &admin, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_inert_text(&out.stdout, &format!("{args:?}"));
        assert_inert_text(&out.stderr, &format!("{args:?} stderr"));
    }
    // The neutralised text is visible (an operator can see something odd is there).
    let audit = flagtop(&url, &admin, &["audit"]);
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(
        text.contains("act P0␛[2Jclr"),
        "visible placeholders in audit:\n{text}"
    );
    assert!(
        text.contains("rej P0␛[2Jclr"),
        "the rejection reason is listed:\n{text}"
    );
    let approvals = flagtop(&url, &admin, &["approvals", "list"]);
    let text = String::from_utf8_lossy(&approvals.stdout);
    assert!(text.contains("prop P0␛[2Jclr"), "proposal reason:\n{text}");
    assert!(
        text.contains("evidence gap: no data P0␛[2Jclr"),
        "evidence gap:\n{text}"
    );

    for args in [
        &["status", "--json"][..],
        &["audit", "--json"],
        &["approvals", "--json"],
    ] {
        let out = flagtop(&url, &admin, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = assert_inert_json(&out.stdout, &format!("{args:?}"));
        // JSON is for programs: the data is kept exactly, only escaped.
        assert!(
            json_has(&v, PAYLOAD),
            "{args:?}: the hostile text round-trips through the JSON"
        );
    }
}
