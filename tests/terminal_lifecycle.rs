//! The terminal is always given back: the real TUI in a pseudo-terminal against a real
//! `flagtop serve`, ended by a panic (the `FLAGTOP_TEST_PANIC_AFTER_MS` trigger, built only with
//! the `test-hooks` feature, which scripts/test turns on),
//! SIGTERM, SIGHUP, and a closed PTY (the SSH connection dropped, with SIGHUP handled or
//! ignored). Each case must leave the alternate screen (`ESC[?1049l`), show the cursor
//! (`ESC[?25h`) and leave raw mode (checked with `stty` on the PTY) — or, when the terminal is
//! gone, exit within a few seconds without spinning on the CPU (crossterm #793).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::Server;
use common::pty::{Opts, Tui};
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const LEAVE_ALT: &str = "\x1b[?1049l";
const ENTER_ALT: &str = "\x1b[?1049h";
const SHOW_CURSOR: &str = "\x1b[?25h";

/// The TUI on `url`, optionally with SIGHUP ignored (as under `nohup`).
fn start(url: &str, token: &str, env: &[(&str, &str)], ignore_hup: bool) -> Tui {
    Tui::start_opts(
        url,
        token,
        Opts {
            env,
            ignore_hup,
            ..Opts::default()
        },
    )
}

/// Raw output after the TUI entered the alternate screen.
fn after_alt(tui: &Tui) -> String {
    let text = tui.raw_text();
    let from = text.find(ENTER_ALT).unwrap_or(0);
    text[from..].to_string()
}

/// Every log file the TUI wrote under its data dir, concatenated.
fn log_text(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_name().to_string_lossy().contains("log") && e.path().is_file() {
            text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    text
}

/// CPU ticks (user + system) the process used, from /proc/PID/stat; None once it is gone.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The terminal came back: alternate screen left, cursor shown, raw mode off.
fn assert_restored(tui: &Tui, case: &str) {
    std::thread::sleep(Duration::from_millis(200));
    let tail = after_alt(tui);
    assert!(
        tail.contains(LEAVE_ALT),
        "{case}: the alternate screen was not left; output tail {:?}",
        &tail[tail.len().saturating_sub(300)..]
    );
    assert!(
        tail.contains(SHOW_CURSOR),
        "{case}: the cursor was not shown again; output tail {:?}",
        &tail[tail.len().saturating_sub(300)..]
    );
    let stty = tui.stty();
    assert!(
        stty.contains(" icanon") && stty.contains(" echo "),
        "{case}: raw mode still on: {stty}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_restores_the_terminal() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let mut tui = start(&server.url, &admin, &[], false);
    tui.wait_for("● live", 20);
    assert!(tui.stty().contains("-icanon"), "raw mode while running");
    tui.signal("-TERM");
    let status = tui
        .wait_exit(5)
        .expect("flagtop exits within 5 s of SIGTERM");
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}");
    assert_restored(&tui, "SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_restores_the_terminal() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let mut tui = start(&server.url, &admin, &[], false);
    tui.wait_for("● live", 20);
    tui.signal("-HUP");
    let status = tui
        .wait_exit(5)
        .expect("flagtop exits within 5 s of SIGHUP");
    assert!(status.success(), "SIGHUP is a clean exit: {status:?}");
    assert_restored(&tui, "SIGHUP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "the panic trigger needs `--features test-hooks` (scripts/test passes it)"
)]
async fn a_panic_restores_the_terminal() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let mut tui = start(
        &server.url,
        &admin,
        &[("FLAGTOP_TEST_PANIC_AFTER_MS", "1500")],
        false,
    );
    tui.wait_for("● live", 20);
    let status = tui.wait_exit(10).expect("flagtop exits after the panic");
    assert!(!status.success(), "a panic is a failure exit: {status:?}");
    assert_restored(&tui, "panic");
    // The panic message is printed after the terminal is restored, on the normal screen.
    let tail = after_alt(&tui);
    let at = tail.rfind(LEAVE_ALT).unwrap_or(0);
    assert!(
        tail[at..].contains("FLAGTOP_TEST_PANIC_AFTER_MS"),
        "panic message after the restore: {:?}",
        &tail[at..]
    );
}

/// Drops every master descriptor while the TUI runs, like sshd when the connection dies.
fn closed_pty(ignore_hup: bool) {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let data = tempfile::tempdir().unwrap();
    let data_env = [("FLAGTOP_DATA", data.path().to_str().unwrap())];
    let mut tui = start(&server.url, &admin, &data_env, ignore_hup);
    tui.wait_for("● live", 20);
    let pid = tui.pid();
    // Wake the reader with a redraw, then let it close the master; close the writer too.
    tui.hangup.store(true, Ordering::SeqCst);
    tui.keys("j");
    tui.writer = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !tui.reader_done.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the test could not close the PTY"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let closed_at = Instant::now();
    match tui.wait_exit(5) {
        Some(s) => {
            eprintln!(
                "closed PTY (SIGHUP {}): exited after {:?} with {s:?}",
                if ignore_hup { "ignored" } else { "handled" },
                closed_at.elapsed()
            );
            // A clean exit, not an abort from a double panic while writing to the dead TTY.
            assert!(
                s.signal().is_none(),
                "flagtop died of a signal after its terminal closed: {s:?}"
            );
            if ignore_hup {
                // No signal came: the TUI noticed the dead terminal itself, and says how.
                let log = log_text(data.path());
                assert!(
                    log.contains("the TUI stops") && !log.contains("SIGHUP;"),
                    "with SIGHUP ignored the TUI should notice the hang-up itself and log why it stopped; its log:\n{log}"
                );
            }
        }
        None => {
            let a = cpu_ticks(pid);
            std::thread::sleep(Duration::from_secs(2));
            let b = cpu_ticks(pid);
            let used = match (a, b) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => 0,
            };
            panic!(
                "flagtop still runs 5 s after its terminal closed; it used {used} CPU ticks in 2 s (100 ≈ one busy core)"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pty_ends_the_tui_without_spinning() {
    closed_pty(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pty_with_sighup_ignored_ends_the_tui_without_spinning() {
    closed_pty(true);
}

/// A report to an output that is gone (stderr on a dead terminal, here a full disk) is lost, not
/// a second panic: before, `eprintln!` panicked, the panic report failed to print again and the
/// process died of SIGABRT — what a TUI whose terminal closed mid-draw did now and then.
#[test]
fn a_report_to_a_lost_output_exits_with_its_code_not_an_abort() {
    use std::process::{Command, Stdio};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for (json, what) in [(false, "stderr"), (true, "stdout")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flagtop"));
        cmd.args([
            "--data",
            dir.path().to_str().unwrap(),
            "--backend",
            &backend,
            "status",
        ])
        .env("FLAGTOP_TOKEN", "x")
        .stdin(Stdio::null());
        if json {
            cmd.arg("--json").stdout(full()).stderr(Stdio::null());
        } else {
            cmd.stdout(Stdio::null()).stderr(full());
        }
        let s = cmd.status().unwrap();
        assert!(
            s.signal().is_none(),
            "flagtop died of a signal when its {what} was lost: {s:?}"
        );
        assert_eq!(
            s.code(),
            Some(7),
            "an unreachable backend exits 7 even when the report is lost ({what} lost)"
        );
    }
}
