//! The real binary in a pseudo-terminal against a real control plane: a narrowed rollback of
//! `eu-west` by keys, checked on screen and in the audit; then the control plane is killed (the
//! TUI must show stale state) and restarted (the TUI must recover on its own); `q` restores the
//! terminal. The incident commander's first minute: with the simulator running, the breach is
//! announced in the header, `r` on the breached flag offers the breached cohort, and `!` `r`
//! Enter rolls it back, at 80×24 and 160×48.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::pty::{Opts, Tui, free_port};
use common::{Http, Server};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowed_rollback_by_keys_then_stale_then_recovery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start_on(dir.path(), &listen, &["--no-simulate"]);
    let admin = server.admin.clone().expect("admin token");
    let http = Http::new(&server.url);

    let mut tui = Tui::start(&server.url, &admin, 30, 110);
    tui.wait_for("checkout-v2", 20);
    tui.wait_for("● live", 10);
    // Select checkout-v2 (`:flag`: rows sort attention first), focus the Ladder pane, move to
    // eu-west, roll it back: after choosing the cohort, `r` + Enter (the reason is prefilled).
    tui.keys(":flag checkout-v2\r");
    tui.wait_for("Ladder checkout-v2", 5);
    tui.keys("\tjj");
    tui.keys("r");
    tui.wait_for("confirm", 5);
    tui.wait_for("reverse: restore checkout-v2/eu-west in production", 5);
    tui.keys("\r");
    tui.wait_for("ROLLED BACK", 10);

    let audit = http
        .get("/v1/audit?flag=checkout-v2&limit=5", &admin)
        .await
        .body;
    let last = &audit["events"][0];
    assert_eq!(last["kind"], "applied");
    assert_eq!(last["source"], "tui");
    assert_eq!(last["action"]["type"], "rollback");
    assert_eq!(last["action"]["cohort"], "eu-west");
    assert!(!last["reason"].as_str().unwrap_or("").trim().is_empty());
    let snap = http.get("/v1/snapshot", &admin).await.body;
    assert_eq!(
        common::cohort(&snap, "checkout-v2", "production", "eu-west")["rolled_back"],
        true
    );
    assert_eq!(
        common::cohort(&snap, "checkout-v2", "production", "us-east")["rolled_back"],
        false
    );

    // Kill the control plane: the TUI keeps the last state and says it is stale.
    let data = server.data.clone();
    server.kill9();
    let screen = tui.wait_for("reconnecting", 40);
    assert!(screen.contains("ROLLED BACK"), "last state kept:\n{screen}");
    assert!(
        !screen.contains("● live"),
        "a dead backend is not shown as live:\n{screen}"
    );
    assert!(
        screen.contains("stale"),
        "the header says the data is stale:\n{screen}"
    );
    // Writes are refused while stale.
    tui.keys("r");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !tui.contents().contains("Enter: send"),
        "no confirm dialog while stale"
    );
    // Restart it on the same address: the TUI recovers by itself.
    let _server = Server::start_on(&data, &listen, &["--no-simulate"]);
    let screen = tui.wait_for("● live", 30);
    assert!(
        screen.contains("ROLLED BACK"),
        "state after recovery:\n{screen}"
    );

    // q quits and gives the terminal back (alternate screen left, cursor shown).
    tui.keys("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Ok(Some(s)) = tui.child.try_wait() {
            break s;
        }
        assert!(Instant::now() < deadline, "flagtop did not exit on q");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    std::thread::sleep(Duration::from_millis(200));
    let raw = tui.raw.lock().expect("lock").clone();
    let tail = String::from_utf8_lossy(&raw[raw.len().saturating_sub(400)..]).to_string();
    assert!(
        tail.contains("\x1b[?1049l"),
        "left the alternate screen: {tail:?}"
    );
    // No raw control sequence from the backend leaked: the screen holds no ESC characters.
    assert!(!tui.contents().contains('\x1b'));
}

/// The SGR colour parameters found in raw terminal output: (256-colour or RGB escapes, any
/// colour escape at all).
fn colour_escapes(raw: &[u8]) -> (usize, usize) {
    let text = String::from_utf8_lossy(raw);
    let (mut rich, mut any) = (0, 0);
    for seq in text.split("\x1b[").skip(1) {
        let Some(end) = seq.find(|c: char| !(c.is_ascii_digit() || c == ';' || c == ':')) else {
            continue;
        };
        if !seq[end..].starts_with('m') {
            continue;
        }
        let params: Vec<&str> = seq[..end].split(';').collect();
        if params
            .windows(2)
            .any(|w| (w[0] == "38" || w[0] == "48") && (w[1] == "5" || w[1] == "2"))
        {
            rich += 1;
        }
        let colour = |p: &&str| {
            p.parse::<u32>()
                .is_ok_and(|n| matches!(n, 30..=39 | 40..=49 | 90..=97 | 100..=107))
        };
        if params.iter().any(colour) {
            any += 1;
        }
    }
    (rich, any)
}

fn quit(mut tui: Tui) {
    tui.keys("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(s)) = tui.child.try_wait() {
            assert!(s.success(), "exit status {s:?}");
            return;
        }
        assert!(Instant::now() < deadline, "flagtop did not exit on q");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_sixteen_colours_and_ascii_terminals() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);

    // NO_COLOR: not one colour escape, statuses still readable as words, selection reversed.
    let tui = Tui::start_with(
        &server.url,
        &admin,
        24,
        80,
        &[("TERM", "xterm-256color"), ("NO_COLOR", "1")],
        &[],
    );
    tui.wait_for("insufficient", 20);
    let screen = tui.wait_for("● live", 20);
    assert!(screen.contains("insufficient"), "{screen}");
    std::thread::sleep(Duration::from_millis(300));
    let raw = tui.raw.lock().expect("lock").clone();
    assert_eq!(
        colour_escapes(&raw),
        (0, 0),
        "NO_COLOR output has colour escapes: {:?}",
        String::from_utf8_lossy(&raw)
    );
    assert!(
        String::from_utf8_lossy(&raw).contains("\x1b[7m"),
        "selection is reversed video"
    );
    quit(tui);

    // TERM=xterm (16 colours): the ansi16 theme, only SGR 30–37/90–97, never 38;5 or 38;2.
    let tui = Tui::start_with(&server.url, &admin, 24, 80, &[("TERM", "xterm")], &[]);
    let screen = tui.wait_for("insufficient", 20);
    assert!(screen.contains("Flags"), "{screen}");
    std::thread::sleep(Duration::from_millis(300));
    let raw = tui.raw.lock().expect("lock").clone();
    let (rich, any) = colour_escapes(&raw);
    assert_eq!(
        rich,
        0,
        "256/RGB colour escapes on a 16-colour terminal: {:?}",
        String::from_utf8_lossy(&raw)
    );
    assert!(any > 0, "16-colour output still has colour");
    quit(tui);

    // --ascii: no box-drawing, block, braille or symbol glyphs anywhere on screen.
    let tui = Tui::start_with(
        &server.url,
        &admin,
        24,
        80,
        &[("TERM", "xterm-256color")],
        &["--ascii"],
    );
    let screen = tui.wait_for("* live", 20);
    assert!(
        screen.contains("+ Flags") && screen.contains("insufficient"),
        "{screen}"
    );
    assert!(
        screen.is_ascii(),
        "non-ASCII on screen with --ascii:\n{screen}"
    );
    // And a non-UTF-8 locale picks ASCII by itself.
    quit(tui);
    let tui = Tui::start_with(
        &server.url,
        &admin,
        24,
        80,
        &[("TERM", "xterm-256color"), ("LANG", "C")],
        &[],
    );
    let screen = tui.wait_for("* live", 20);
    assert!(screen.is_ascii(), "{screen}");
    quit(tui);
}

/// The demo's incident as an incident commander meets it: wait for the simulated breach, check
/// that `r` with checkout-v2 selected in Flags offers eu-west (not the first cohort), then `!`
/// `r` Enter, and find the eu-west rollback in the audit. Both sizes run side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bang_r_enter_rolls_back_the_breach_at_80x24_and_160x48() {
    let sizes = [(24u16, 80u16), (48, 160)];
    let mut runs = Vec::new();
    for (rows, cols) in sizes {
        let (dir, server, admin) = Server::fresh(&[]);
        let tui = Tui::start(&server.url, &admin, rows, cols);
        runs.push((dir, server, admin, tui, (rows, cols)));
    }
    for (_dir, server, admin, mut tui, size) in runs {
        let http = Http::new(&server.url);
        tui.wait_for("● live", 20);
        let screen = tui.wait_for("to jump", 120);
        assert!(
            screen.contains("✗ checkout-v2/eu-west"),
            "{size:?}: the header names the breach:\n{screen}"
        );
        // `r` with checkout-v2 selected in Flags: the breached cohort, never the first one.
        tui.keys(":flag checkout-v2\r");
        tui.wait_for("Ladder checkout-v2", 5);
        tui.keys("r");
        let screen = tui.wait_for("rollback checkout-v2/eu-west", 5);
        assert!(
            !screen.contains("rollback checkout-v2/internal"),
            "{size:?}:\n{screen}"
        );
        tui.keys("\x1b");
        std::thread::sleep(Duration::from_millis(200));
        // Move away, then the three keys: `!` `r` Enter.
        tui.keys("g");
        tui.keys("!");
        tui.keys("r");
        tui.wait_for("restore checkout-v2/eu-west", 5);
        tui.keys("\r");
        let screen = tui.wait_for("ROLLED BACK", 10);
        assert!(
            screen.contains("applied"),
            "{size:?}: the outcome is on screen:\n{screen}"
        );
        let audit = http
            .get("/v1/audit?flag=checkout-v2&limit=10", &admin)
            .await
            .body;
        let mine = audit["events"]
            .as_array()
            .expect("events")
            .iter()
            .find(|e| e["source"] == "tui")
            .unwrap_or_else(|| panic!("{size:?}: no TUI entry in {audit}"))
            .clone();
        assert_eq!(mine["kind"], "applied");
        assert_eq!(mine["action"]["type"], "rollback");
        assert_eq!(mine["action"]["cohort"], "eu-west", "{size:?}");
        assert!(
            mine["reason"].as_str().unwrap_or("").contains("breach"),
            "the prefilled reason names the breach: {mine}"
        );
        quit(tui);
    }
}

#[test]
fn the_embedded_demo_says_its_traffic_is_simulated() {
    // `flagtop` with no backend: the header names the simulated demo, not a loopback URL.
    let tui = Tui::start_opts(
        "",
        "",
        Opts {
            rows: 48,
            cols: 160,
            embedded: true,
            ..Opts::default()
        },
    );
    let screen = tui.wait_for("demo · simulated traffic", 30);
    let header = screen.lines().next().unwrap_or_default().to_string();
    assert!(header.contains("demo · simulated traffic"), "{header}");
    assert!(!header.contains("127.0.0.1"), "{header}");
    quit(tui);
}
