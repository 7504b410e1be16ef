//! The real `flagtop` TUI in a pseudo-terminal (portable-pty), its output parsed by a vt100
//! screen and also kept raw, for end-to-end tests.
#![allow(dead_code)]

use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Tui {
    pub screen: Arc<Mutex<vt100::Parser>>,
    pub raw: Arc<Mutex<Vec<u8>>>,
    pub writer: Option<Box<dyn Write + Send>>,
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    /// The PTY's master side; dropping it is the SSH connection going away.
    pub master: Arc<Mutex<Option<Box<dyn MasterPty + Send>>>>,
}

impl Tui {
    /// `flagtop --backend URL --env production` with default looks (xterm-256color, UTF-8).
    pub fn start(url: &str, token: &str, rows: u16, cols: u16) -> Tui {
        Tui::start_with(url, token, rows, cols, &[("TERM", "xterm-256color")], &[])
    }

    /// With extra environment variables and arguments, and an empty config dir so only what is
    /// given here decides the looks.
    pub fn start_with(url: &str, token: &str, rows: u16, cols: u16, env: &[(&str, &str)], args: &[&str]) -> Tui {
        let pty = native_pty_system();
        let pair = pty.openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).expect("openpty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_flagtop"));
        cmd.args(["--backend", url, "--env", "production"]);
        cmd.args(args);
        cmd.env("FLAGTOP_TOKEN", token);
        cmd.env("FLAGTOP_CONFIG_DIR", tempfile::tempdir().expect("tmp").keep());
        for k in ["NO_COLOR", "COLORTERM", "FLAGTOP_THEME", "FLAGTOP_ASCII", "LC_ALL", "LC_CTYPE"] {
            cmd.env_remove(k);
        }
        cmd.env("LANG", "C.UTF-8");
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.env("FLAGTOP_DATA", tempfile::tempdir().expect("tmp").keep());
        let child = pair.slave.spawn_command(cmd).expect("spawn flagtop");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let nz = |n: u16| std::num::NonZero::new(n).expect("size");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(nz(rows), nz(cols), 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (s2, r2) = (screen.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s2.lock().expect("lock").process(&buf[..n]);
                r2.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        });
        Tui { screen, raw, writer: Some(writer), child, master: Arc::new(Mutex::new(Some(pair.master))) }
    }

    pub fn contents(&self) -> String {
        self.screen.lock().expect("lock").screen().contents()
    }

    /// Wait until the screen shows `what`; fail with the screen after `secs`.
    pub fn wait_for(&self, what: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let c = self.contents();
            if c.contains(what) {
                return c;
            }
            assert!(Instant::now() < deadline, "screen never showed {what:?}; it shows:\n{c}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn keys(&mut self, keys: &str) {
        let Some(w) = self.writer.as_mut() else { return };
        for k in keys.as_bytes() {
            w.write_all(&[*k]).expect("write key");
            w.flush().expect("flush");
            std::thread::sleep(Duration::from_millis(80));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.process_id().unwrap_or(0)
    }

    /// Wait for the process to end; None if it is still running after `secs`.
    pub fn wait_exit(&mut self, secs: u64) -> Option<portable_pty::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The last bytes written to the terminal, lossily as text.
    pub fn tail(&self, n: usize) -> String {
        let raw = self.raw.lock().expect("lock");
        String::from_utf8_lossy(&raw[raw.len().saturating_sub(n)..]).to_string()
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}
