//! The real `flagtop` TUI in a pseudo-terminal (portable-pty), its output parsed by a vt100
//! screen (which also records title and OSC sequences) and kept raw, for end-to-end tests.
#![allow(dead_code)]

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Window titles and other OSC sequences the terminal was asked to act on.
#[derive(Default)]
pub struct Osc {
    pub titles: Vec<Vec<u8>>,
    pub other: usize,
}

impl vt100::Callbacks for Osc {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.titles.push(title.to_vec());
    }
    fn set_window_icon_name(&mut self, _: &mut vt100::Screen, name: &[u8]) {
        self.titles.push(name.to_vec());
    }
    fn unhandled_osc(&mut self, _: &mut vt100::Screen, _: &[&[u8]]) {
        self.other += 1;
    }
}

/// How to start the TUI.
pub struct Opts<'a> {
    pub rows: u16,
    pub cols: u16,
    pub env: &'a [(&'a str, &'a str)],
    pub args: &'a [&'a str],
    /// Start with SIGHUP blocked (so it never arrives, whatever handler flagtop installs).
    pub ignore_hup: bool,
    /// Run under `prlimit` with at most this many open files.
    pub files: Option<u32>,
    /// No `--backend`: the TUI opens its own embedded control plane (the demo, simulated
    /// traffic) on a fresh data dir; the url and token are ignored.
    pub embedded: bool,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Opts {
            rows: 30,
            cols: 110,
            env: &[],
            args: &[],
            ignore_hup: false,
            files: None,
            embedded: false,
        }
    }
}

pub struct Tui {
    pub screen: Arc<Mutex<vt100::Parser<Osc>>>,
    pub raw: Arc<Mutex<Vec<u8>>>,
    pub writer: Option<Box<dyn Write + Send>>,
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    pub tty: Option<std::path::PathBuf>,
    /// Set it (and wake the reader with some output) to drop every master descriptor: the PTY
    /// closes, as when sshd loses the connection. `reader_done` says when that happened.
    pub hangup: Arc<AtomicBool>,
    pub reader_done: Arc<AtomicBool>,
}

impl Tui {
    /// `flagtop --backend URL --env production` with default looks (xterm-256color, UTF-8).
    pub fn start(url: &str, token: &str, rows: u16, cols: u16) -> Tui {
        Tui::start_opts(
            url,
            token,
            Opts {
                rows,
                cols,
                ..Opts::default()
            },
        )
    }

    /// With extra environment variables and arguments.
    pub fn start_with(
        url: &str,
        token: &str,
        rows: u16,
        cols: u16,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Tui {
        Tui::start_opts(
            url,
            token,
            Opts {
                rows,
                cols,
                env,
                args,
                ignore_hup: false,
                files: None,
                embedded: false,
            },
        )
    }

    /// An empty config dir and a clean environment, so only what is given here decides the looks.
    /// An empty `url` starts the TUI on its own embedded control plane (no `--backend`).
    pub fn start_opts(url: &str, token: &str, o: Opts<'_>) -> Tui {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: o.rows,
                cols: o.cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let bin = env!("CARGO_BIN_EXE_flagtop");
        let mut cmd = if o.ignore_hup {
            // Blocked, not only ignored: flagtop installs its own SIGHUP handler (which replaces
            // an inherited SIG_IGN, as under `nohup`), but a blocked signal stays blocked across
            // exec and never arrives, so only flagtop's own notice of the dead terminal can end it.
            let mut c = CommandBuilder::new("python3");
            c.args([
                "-c",
                "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGHUP]); os.execv(sys.argv[1], sys.argv[1:])",
                bin,
            ]);
            c
        } else if let Some(n) = o.files {
            let mut c = CommandBuilder::new("prlimit");
            c.args([format!("--nofile={n}:{n}").as_str(), "--", bin]);
            c
        } else {
            CommandBuilder::new(bin)
        };
        // No URL (or embedded): no --backend, so the TUI finds its control plane from the
        // data dir, or opens its own embedded one there.
        if !o.embedded && !url.is_empty() {
            cmd.args(["--backend", url]);
        }
        cmd.args(["--env", "production"]);
        cmd.args(o.args);
        cmd.env("FLAGTOP_TOKEN", token);
        cmd.env(
            "FLAGTOP_CONFIG_DIR",
            tempfile::tempdir().expect("tmp").keep(),
        );
        for k in [
            "NO_COLOR",
            "COLORTERM",
            "FLAGTOP_THEME",
            "FLAGTOP_ASCII",
            "LC_ALL",
            "LC_CTYPE",
        ] {
            cmd.env_remove(k);
        }
        cmd.env("LANG", "C.UTF-8");
        cmd.env("TERM", "xterm-256color");
        cmd.env("FLAGTOP_DATA", tempfile::tempdir().expect("tmp").keep());
        for (k, v) in o.env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn flagtop");
        drop(pair.slave);
        let tty = pair.master.tty_name();
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let nz = |n: u16| std::num::NonZero::new(n).expect("size");
        let screen = Arc::new(Mutex::new(vt100::Parser::new_with_callbacks(
            nz(o.rows),
            nz(o.cols),
            0,
            Osc::default(),
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let hangup = Arc::new(AtomicBool::new(false));
        let reader_done = Arc::new(AtomicBool::new(false));
        let (s2, r2, h2, d2) = (
            screen.clone(),
            raw.clone(),
            hangup.clone(),
            reader_done.clone(),
        );
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
        Tui {
            screen,
            raw,
            writer: Some(writer),
            child,
            tty,
            hangup,
            reader_done,
        }
    }

    /// `flagtop --data DIR --env production` without `--backend`: the TUI on whatever control
    /// plane runs on that data dir (or one it opens there).
    pub fn on_data_dir(data: &std::path::Path, rows: u16, cols: u16) -> Tui {
        let dir = data.to_string_lossy().to_string();
        let env = [("FLAGTOP_DATA", dir.as_str())];
        Tui::start_opts(
            "",
            "",
            Opts {
                rows,
                cols,
                env: &env,
                ..Opts::default()
            },
        )
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
            assert!(
                Instant::now() < deadline,
                "screen never showed {what:?}; it shows:\n{c}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Type `keys`, one at a time.
    pub fn keys(&mut self, keys: &str) {
        let Some(w) = self.writer.as_mut() else {
            return;
        };
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
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    }

    /// Everything written to the terminal, lossily as text.
    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().expect("lock")).to_string()
    }

    /// The last bytes written to the terminal, lossily as text.
    pub fn tail(&self, n: usize) -> String {
        let raw = self.raw.lock().expect("lock");
        String::from_utf8_lossy(&raw[raw.len().saturating_sub(n)..]).to_string()
    }

    /// The PTY's line discipline as `stty -a` prints it.
    pub fn stty(&self) -> String {
        let tty = self.tty.as_ref().expect("tty name");
        let out = std::process::Command::new("stty")
            .arg("-F")
            .arg(tty)
            .arg("-a")
            .output()
            .expect("run stty");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Send a signal (`-TERM`, `-HUP`, …) to the TUI.
    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} failed");
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
