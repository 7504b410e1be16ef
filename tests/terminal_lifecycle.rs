//! The terminal is always given back: the real TUI in a pseudo-terminal against a real
//! `flagtop serve`, ended by a panic (the test-only `FLAGTOP_TEST_PANIC_AFTER_MS` trigger),
//! SIGTERM, SIGHUP, and a closed PTY (the SSH connection dropped, with SIGHUP handled or
//! ignored). Each case must leave the alternate screen (`ESC[?1049l`), show the cursor
//! (`ESC[?25h`) and leave raw mode (checked with `stty` on the PTY) — or, when the terminal is
//! gone, exit within a few seconds without spinning on the CPU (crossterm #793).

mod common;

use common::Server;
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LEAVE_ALT: &str = "\x1b[?1049l";
const ENTER_ALT: &str = "\x1b[?1049h";
const SHOW_CURSOR: &str = "\x1b[?25h";

struct Tui {
    screen: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Option<Box<dyn Write + Send>>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    tty: Option<std::path::PathBuf>,
    /// Set to make the reader thread drop every master descriptor (the PTY closes).
    hangup: Arc<AtomicBool>,
    reader_done: Arc<AtomicBool>,
}

impl Tui {
    /// `ignore_hup`: start through `sh` with SIGHUP ignored (as under `nohup`).
    fn start(url: &str, token: &str, env: &[(&str, &str)], ignore_hup: bool) -> Tui {
        let pair = native_pty_system().openpty(PtySize { rows: 30, cols: 110, pixel_width: 0, pixel_height: 0 }).expect("openpty");
        let bin = env!("CARGO_BIN_EXE_flagtop");
        let args = ["--backend", url, "--env", "production"];
        let mut cmd = if ignore_hup {
            let mut c = CommandBuilder::new("/bin/sh");
            c.args(["-c", "trap '' HUP; exec \"$0\" \"$@\"", bin]);
            c
        } else {
            CommandBuilder::new(bin)
        };
        cmd.args(args);
        cmd.env("FLAGTOP_TOKEN", token);
        cmd.env("FLAGTOP_CONFIG_DIR", tempfile::tempdir().expect("tmp").keep());
        for k in ["NO_COLOR", "COLORTERM", "FLAGTOP_THEME", "FLAGTOP_ASCII", "LC_ALL", "LC_CTYPE"] {
            cmd.env_remove(k);
        }
        cmd.env("LANG", "C.UTF-8");
        cmd.env("TERM", "xterm-256color");
        cmd.env("FLAGTOP_DATA", tempfile::tempdir().expect("tmp").keep());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn flagtop");
        drop(pair.slave);
        let tty = pair.master.tty_name();
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(std::num::NonZero::new(30).expect("rows"), std::num::NonZero::new(110).expect("cols"), 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let hangup = Arc::new(AtomicBool::new(false));
        let reader_done = Arc::new(AtomicBool::new(false));
        let (s2, r2, h2, d2) = (screen.clone(), raw.clone(), hangup.clone(), reader_done.clone());
        let master: Box<dyn MasterPty + Send> = pair.master;
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s2.lock().expect("lock").process(&buf[..n]);
                r2.lock().expect("lock").extend_from_slice(&buf[..n]);
                if h2.load(Ordering::SeqCst) {
                    break;
                }
            }
            drop(reader);
            drop(master);
            d2.store(true, Ordering::SeqCst);
        });
        Tui { screen, raw, writer: Some(writer), child, tty, hangup, reader_done }
    }

    fn pid(&self) -> u32 {
        self.child.process_id().expect("pid")
    }

    fn wait_for(&self, what: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let c = self.screen.lock().expect("lock").screen().contents();
            if c.contains(what) {
                return;
            }
            assert!(Instant::now() < deadline, "screen never showed {what:?}; it shows:\n{c}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&mut self, keys: &str) {
        if let Some(w) = self.writer.as_mut() {
            let _ = w.write_all(keys.as_bytes());
            let _ = w.flush();
        }
    }

    /// Waits up to `secs` for the process to exit; its exit status, or None.
    fn wait_exit(&mut self, secs: u64) -> Option<portable_pty::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    }

    /// The PTY's line discipline as `stty -a` prints it.
    fn stty(&self) -> String {
        let tty = self.tty.as_ref().expect("tty name");
        let out = std::process::Command::new("stty").arg("-F").arg(tty).arg("-a").output().expect("run stty");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Raw output after the TUI entered the alternate screen.
    fn tail(&self) -> String {
        let raw = self.raw.lock().expect("lock").clone();
        let text = String::from_utf8_lossy(&raw).to_string();
        let from = text.find(ENTER_ALT).unwrap_or(0);
        text[from..].to_string()
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill").args([sig, &self.pid().to_string()]).status().expect("kill").success();
        assert!(ok, "kill {sig} failed");
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// CPU ticks (user + system) the process used, from /proc/PID/stat; None once it is gone.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn server() -> (tempfile::TempDir, Server, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--no-simulate"]);
    let admin = server.admin.clone().expect("admin token");
    (dir, server, admin)
}

/// The terminal came back: alternate screen left, cursor shown, raw mode off.
fn assert_restored(tui: &Tui, case: &str) {
    std::thread::sleep(Duration::from_millis(200));
    let tail = tui.tail();
    assert!(tail.contains(LEAVE_ALT), "{case}: the alternate screen was not left; output tail {:?}", &tail[tail.len().saturating_sub(300)..]);
    assert!(tail.contains(SHOW_CURSOR), "{case}: the cursor was not shown again; output tail {:?}", &tail[tail.len().saturating_sub(300)..]);
    let stty = tui.stty();
    assert!(stty.contains(" icanon") && stty.contains(" echo "), "{case}: raw mode still on: {stty}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_restores_the_terminal() {
    let (_dir, server, admin) = server();
    let mut tui = Tui::start(&server.url, &admin, &[], false);
    tui.wait_for("● live", 20);
    assert!(tui.stty().contains("-icanon"), "raw mode while running");
    tui.signal("-TERM");
    let status = tui.wait_exit(5).expect("flagtop exits within 5 s of SIGTERM");
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}");
    assert_restored(&tui, "SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_restores_the_terminal() {
    let (_dir, server, admin) = server();
    let mut tui = Tui::start(&server.url, &admin, &[], false);
    tui.wait_for("● live", 20);
    tui.signal("-HUP");
    let status = tui.wait_exit(5).expect("flagtop exits within 5 s of SIGHUP");
    assert!(status.success(), "SIGHUP is a clean exit: {status:?}");
    assert_restored(&tui, "SIGHUP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_restores_the_terminal() {
    let (_dir, server, admin) = server();
    let mut tui = Tui::start(&server.url, &admin, &[("FLAGTOP_TEST_PANIC_AFTER_MS", "1500")], false);
    tui.wait_for("● live", 20);
    let status = tui.wait_exit(10).expect("flagtop exits after the panic");
    assert!(!status.success(), "a panic is a failure exit: {status:?}");
    assert_restored(&tui, "panic");
    // The panic message is printed after the terminal is restored, on the normal screen.
    let tail = tui.tail();
    let at = tail.rfind(LEAVE_ALT).unwrap_or(0);
    assert!(tail[at..].contains("FLAGTOP_TEST_PANIC_AFTER_MS"), "panic message after the restore: {:?}", &tail[at..]);
}

/// Drops every master descriptor while the TUI runs, like sshd when the connection dies.
fn closed_pty(ignore_hup: bool) {
    let (_dir, server, admin) = server();
    let mut tui = Tui::start(&server.url, &admin, &[], ignore_hup);
    tui.wait_for("● live", 20);
    let pid = tui.pid();
    // Wake the reader with a redraw, then let it close the master; close the writer too.
    tui.hangup.store(true, Ordering::SeqCst);
    tui.keys("j");
    tui.writer = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !tui.reader_done.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the test could not close the PTY");
        std::thread::sleep(Duration::from_millis(20));
    }
    let closed_at = Instant::now();
    match tui.wait_exit(5) {
        Some(s) => {
            eprintln!("closed PTY (SIGHUP {}): exited after {:?} with {s:?}", if ignore_hup { "ignored" } else { "handled" }, closed_at.elapsed());
            // A clean exit, not an abort from a double panic while writing to the dead TTY.
            assert!(s.signal().is_none(), "flagtop died of a signal after its terminal closed: {s:?}");
        }
        None => {
            let a = cpu_ticks(pid);
            std::thread::sleep(Duration::from_secs(2));
            let b = cpu_ticks(pid);
            let used = match (a, b) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => 0,
            };
            panic!("flagtop still runs 5 s after its terminal closed; it used {used} CPU ticks in 2 s (100 ≈ one busy core)");
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
