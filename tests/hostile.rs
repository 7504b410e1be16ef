//! Hostile strings from a backend, a file or another user never take over a terminal: flag
//! descriptions and owners, reasons (actions, approvals, rejections), proposal evidence and
//! evidence gaps carrying ESC, CSI (clear screen), OSC (window title, hyperlink), the
//! bracketed-paste end marker, C1 controls, bidi overrides, zero-width characters and very long
//! text are shown neutralised by the real TUI in a pseudo-terminal, `flagtop status`, `audit`,
//! `approvals list`, their `--json` forms, screenshots and log lines. Hostile *keys* (flags,
//! cohorts, environments, token names) are refused with a precise error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_shows_hostile_text_neutralised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, admin) = hostile_server(dir.path()).await;
    let mut tui = Tui::start(&server.url, &admin, 40, 160);
    tui.wait_for("checkout-v2", 20);
    tui.wait_for("● live", 10);
    // The activity pane (applied and rejected reasons) and approvals pane (proposal reason,
    // evidence, gap) are on the first screen.
    tui.wait_for("P0␛[2Jclr", 10);
    // Details of the flag: description and owner.
    tui.keys(":flag checkout-v2\r"); // rows sort attention first: select by key
    tui.wait_for("Ladder checkout-v2", 5);
    tui.keys("\r");
    let screen = tui.wait_for("description:", 5);
    assert!(
        screen.contains("owner: P0␛[2Jclr"),
        "owner neutralised:\n{screen}"
    );
    tui.keys("\x1b");
    std::thread::sleep(Duration::from_millis(300));
    // Details of every approval and every audit event: walk the panes.
    for pane_keys in ["\t\t\t", "\t"] {
        tui.keys(pane_keys);
        for _ in 0..4 {
            tui.keys("\r");
            std::thread::sleep(Duration::from_millis(150));
            tui.keys("\x1bj");
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let raw = tui.raw.lock().expect("lock").clone();
    let text = String::from_utf8_lossy(&raw).to_string();
    for l in LEAKS {
        assert!(!text.contains(l), "{l:?} reached the terminal verbatim");
    }
    for c in text.chars() {
        assert!(
            !bidi_or_invisible(c) && !('\u{80}'..='\u{9f}').contains(&c),
            "{c:?} reached the terminal"
        );
    }
    {
        let p = tui.screen.lock().expect("lock");
        assert!(
            p.callbacks().titles.is_empty(),
            "the window title was set: {:?}",
            p.callbacks().titles
        );
        assert_eq!(
            p.callbacks().other,
            0,
            "an OSC sequence reached the terminal"
        );
        assert!(!p.screen().contents().contains('\x1b'));
    }
    tui.keys("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tui.child.try_wait().ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "flagtop did not exit on q");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn screenshots_of_hostile_state_hold_no_control_characters() {
    use flagtop::tui::model::Model;
    let mut snap = flagtop::screenshot::fixture::snapshot("demo").expect("demo snapshot");
    let huge = format!("{PAYLOAD}{}", "y".repeat(100 * 1024));
    for f in &mut snap.flags {
        let f = std::sync::Arc::make_mut(f);
        f.description = huge.clone();
        f.owner = PAYLOAD.to_string();
    }
    for a in &mut snap.approvals {
        a.reason = huge.clone();
        a.evidence_gap = Some(PAYLOAD.to_string());
        for e in &mut a.evidence {
            e.metric = PAYLOAD.to_string();
        }
    }
    for e in &mut snap.audit {
        e.reason = huge.clone();
        e.actor.name = PAYLOAD.to_string();
        e.source = PAYLOAD.to_string();
    }
    for g in &mut snap.guardrails {
        g.source_error = Some(huge.clone());
        g.rule = PAYLOAD.to_string();
    }
    let now = flagtop::screenshot::fixture::t0();
    let mut m = Model::new(
        flagtop::client::Clean::new(snap),
        &format!("backend {PAYLOAD}"),
        Some("production"),
        flagtop::config::keymap::builtin_default(),
        now,
    );
    let theme = flagtop::config::theme::builtin("default");
    let mut shots = vec![flagtop::screenshot::render(&m, &theme, 160, 50).expect("render")];
    for key in ["j", "\r"] {
        let code = if key == "\r" {
            crossterm::event::KeyCode::Enter
        } else {
            crossterm::event::KeyCode::Char('j')
        };
        let key = crossterm::event::KeyEvent::new(code, crossterm::event::KeyModifiers::NONE);
        let _ = flagtop::tui::update::update(
            &mut m,
            flagtop::tui::effect::Event::Key {
                key,
                new_idem_key: format!("k-{key:?}"),
            },
        );
    }
    shots.push(flagtop::screenshot::render(&m, &theme, 160, 50).expect("render details"));
    for svg in shots {
        assert!(
            svg.len() < 2_000_000,
            "a 100 KB string does not blow up the SVG: {} bytes",
            svg.len()
        );
        assert_inert_text(svg.as_bytes(), "screenshot SVG");
        assert!(svg.contains("P0␛[2Jclr"), "the neutralised text is drawn");
    }
}

#[test]
fn log_lines_hold_no_raw_control_characters() {
    // `flagtop serve` logs its data directory as a `%` field, which tracing-subscriber writes
    // raw (it escapes only the message): a hostile directory name is a real way in.
    let base = tempfile::tempdir().expect("tempdir");
    let data = base
        .path()
        .join("d\x1b]0;pwned\x07\x1b[2Jclr\u{9b}1m\u{202e}x\ny");
    let server = Server::start(&data, &["--no-simulate"]);
    let log = data.join("flagtop.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let t = std::fs::read(&log).unwrap_or_default();
        if String::from_utf8_lossy(&t).contains("listening") {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "no log line in {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(server);
    assert_inert_text(&text, "flagtop.log");
    let s = String::from_utf8_lossy(&text);
    let line = s
        .lines()
        .find(|l| l.contains("listening"))
        .unwrap_or_default();
    assert!(
        line.contains("d␛]0;pwned␇␛[2Jclr"),
        "the path is logged, neutralised, on one line: {line}"
    );
}
