//! The real TUI in a pseudo-terminal (portable-pty), its output parsed by vt100.

use super::*;

// ---------- the TUI in a pseudo-terminal ----------

pub(crate) type Watch = (String, std::sync::mpsc::Sender<Instant>);

pub(crate) struct Tui {
    pub(crate) screen: Arc<Mutex<vt100::Parser>>,
    pub(crate) bytes: Arc<AtomicU64>,
    pub(crate) watches: Arc<Mutex<Vec<Watch>>>,
    pub(crate) writer: Box<dyn Write + Send>,
    pub(crate) child: Box<dyn portable_pty::Child + Send + Sync>,
    pub(crate) started: Instant,
    pub(crate) data: PathBuf,
}

impl Tui {
    /// The real binary in a `cols`×`rows` PTY: `flagtop --data DATA ARGS…` (embedded control plane).
    pub(crate) fn start(data: &Path, args: &[&str], rows: u16, cols: u16) -> Tui {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(BIN);
        cmd.arg("--data");
        cmd.arg(data);
        cmd.args(args);
        cmd.env("FLAGTOP_CONFIG_DIR", data.join("config"));
        for k in [
            "NO_COLOR",
            "COLORTERM",
            "FLAGTOP_THEME",
            "FLAGTOP_ASCII",
            "LC_ALL",
            "LC_CTYPE",
            "FLAGTOP_BACKEND",
            "FLAGTOP_DATA",
        ] {
            cmd.env_remove(k);
        }
        cmd.env("TERM", "xterm-256color");
        cmd.env("LANG", "C.UTF-8");
        let started = Instant::now();
        let child = pair.slave.spawn_command(cmd).expect("spawn flagtop");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZero::new(rows).expect("rows"),
            std::num::NonZero::new(cols).expect("cols"),
            0,
        )));
        let bytes = Arc::new(AtomicU64::new(0));
        let watches: Arc<Mutex<Vec<Watch>>> = Arc::new(Mutex::new(Vec::new()));
        let (s2, b2, w2) = (screen.clone(), bytes.clone(), watches.clone());
        std::thread::spawn(move || {
            let _master = pair.master; // keep the PTY open while reading
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let at = Instant::now();
                let mut screen = s2.lock().expect("lock");
                screen.process(&buf[..n]);
                b2.fetch_add(n as u64, Ordering::SeqCst);
                let mut ws = w2.lock().expect("lock");
                if !ws.is_empty() {
                    let text = screen.screen().contents();
                    ws.retain(|(what, tx)| {
                        if text.contains(what.as_str()) {
                            let _ = tx.send(at);
                            false
                        } else {
                            true
                        }
                    });
                }
            }
        });
        Tui {
            screen,
            bytes,
            watches,
            writer,
            child,
            started,
            data: data.to_path_buf(),
        }
    }

    pub(crate) fn contents(&self) -> String {
        self.screen.lock().expect("lock").screen().contents()
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::SeqCst)
    }

    /// Registers interest in `what` appearing on screen (checked after every chunk of output).
    /// Returns a receiver of the instant the chunk that made it appear was read.
    pub(crate) fn watch(&self, what: &str) -> std::sync::mpsc::Receiver<Instant> {
        let (tx, rx) = std::sync::mpsc::channel();
        let screen = self.screen.lock().expect("lock");
        let mut ws = self.watches.lock().expect("lock");
        if screen.screen().contents().contains(what) {
            let _ = tx.send(Instant::now());
        } else {
            ws.push((what.to_string(), tx));
        }
        rx
    }

    pub(crate) fn wait_for(&self, what: &str, secs: u64) -> Instant {
        match self.watch(what).recv_timeout(Duration::from_secs(secs)) {
            Ok(t) => t,
            Err(_) => panic!(
                "screen never showed {what:?}; it shows:\n{}",
                self.contents()
            ),
        }
    }

    pub(crate) fn key(&mut self, k: &[u8]) -> Instant {
        let t = Instant::now();
        self.writer.write_all(k).expect("write key");
        self.writer.flush().expect("flush");
        t
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.process_id().expect("pid")
    }

    /// Waits until no byte has arrived for `quiet`.
    pub(crate) fn settle(&self, quiet: Duration, max: Duration) {
        let end = Instant::now() + max;
        let mut last = self.bytes();
        let mut since = Instant::now();
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
            let b = self.bytes();
            if b != last {
                (last, since) = (b, Instant::now());
            } else if since.elapsed() >= quiet {
                return;
            }
        }
    }

    pub(crate) fn endpoint(&self) -> (String, String) {
        let ep = flagtop::control::runtime::read_endpoint(&self.data)
            .expect("endpoint.json in the data dir");
        (ep.url, ep.token)
    }

    pub(crate) fn quit(mut self) {
        let _ = self.key(b"q");
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
