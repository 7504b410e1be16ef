//! The real TUI, screenshots and log lines show hostile text neutralised.

use super::*;

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
