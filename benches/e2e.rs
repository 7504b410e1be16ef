//! End-to-end performance figures of the REAL binary (benchmarks, not tests: nothing here fails
//! on a slow number). The TUI runs in a pseudo-terminal (portable-pty) whose output is parsed by
//! vt100, against a real control plane (embedded, or `flagtop serve`), and optionally a real
//! Unleash. Writes the figures as JSON lines to `$BENCH_OUT` (default
//! `target/bench/e2e.jsonl`); `scripts/bench` turns them into docs/performance.md.
//!
//! Run: `cargo bench --bench e2e` (or `./scripts/bench`). Knobs: `BENCH_RUNS` (default 3),
//! `BENCH_QUICK=1` (shorter windows), `BENCH_LOAD_RATE` / `BENCH_LOAD_STREAMS` /
//! `BENCH_LOAD_WRITERS` (the `load` section's offered 600 actions/s, 200 streams and 32
//! saturating writers), Unleash via
//! `FLAGTOP_TEST_UNLEASH_URL` + `UNLEASH_ADMIN_TOKEN` (as written by `scripts/unleash start`).

mod common;

use flagtop::client::sse::{SseItem, SseParser};
use flagtop::tui::Theme;
use flagtop::tui::screen::Screen;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flagtop");

// ---------- statistics and output ----------

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let i = ((p / 100.0) * (s.len() - 1) as f64).round() as usize;
    s[i.min(s.len() - 1)]
}

fn median(v: &[f64]) -> f64 {
    pct(v, 50.0)
}

struct Out {
    file: std::fs::File,
}

impl Out {
    /// One figure: `key`, a value (median over runs), optional p99, unit, the individual runs.
    fn put(&mut self, key: &str, value: f64, p99: Option<f64>, unit: &str, runs: &[f64], note: &str) {
        let line = json!({"key": key, "value": value, "p99": p99, "unit": unit, "runs": runs, "note": note});
        eprintln!("  {key}: {value:.3} {unit}{}  runs={runs:?} {note}", p99.map(|p| format!(" (p99 {p:.3})")).unwrap_or_default());
        writeln!(self.file, "{line}").expect("write results");
    }
}

// ---------- the TUI in a pseudo-terminal ----------

type Watch = (String, std::sync::mpsc::Sender<Instant>);

struct Tui {
    screen: Arc<Mutex<vt100::Parser>>,
    bytes: Arc<AtomicU64>,
    watches: Arc<Mutex<Vec<Watch>>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    started: Instant,
    data: PathBuf,
}

impl Tui {
    /// The real binary in a `cols`×`rows` PTY: `flagtop --data DATA ARGS…` (embedded control plane).
    fn start(data: &Path, args: &[&str], rows: u16, cols: u16) -> Tui {
        let pty = native_pty_system();
        let pair = pty.openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).expect("openpty");
        let mut cmd = CommandBuilder::new(BIN);
        cmd.arg("--data");
        cmd.arg(data);
        cmd.args(args);
        cmd.env("FLAGTOP_CONFIG_DIR", data.join("config"));
        for k in ["NO_COLOR", "COLORTERM", "FLAGTOP_THEME", "FLAGTOP_ASCII", "LC_ALL", "LC_CTYPE", "FLAGTOP_BACKEND", "FLAGTOP_DATA"] {
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
        Tui { screen, bytes, watches, writer, child, started, data: data.to_path_buf() }
    }

    fn contents(&self) -> String {
        self.screen.lock().expect("lock").screen().contents()
    }

    fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::SeqCst)
    }

    /// Registers interest in `what` appearing on screen (checked after every chunk of output).
    /// Returns a receiver of the instant the chunk that made it appear was read.
    fn watch(&self, what: &str) -> std::sync::mpsc::Receiver<Instant> {
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

    fn wait_for(&self, what: &str, secs: u64) -> Instant {
        match self.watch(what).recv_timeout(Duration::from_secs(secs)) {
            Ok(t) => t,
            Err(_) => panic!("screen never showed {what:?}; it shows:\n{}", self.contents()),
        }
    }

    fn key(&mut self, k: &[u8]) -> Instant {
        let t = Instant::now();
        self.writer.write_all(k).expect("write key");
        self.writer.flush().expect("flush");
        t
    }

    fn pid(&self) -> u32 {
        self.child.process_id().expect("pid")
    }

    /// Waits until no byte has arrived for `quiet`.
    fn settle(&self, quiet: Duration, max: Duration) {
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

    fn endpoint(&self) -> (String, String) {
        let ep = flagtop::control::runtime::read_endpoint(&self.data).expect("endpoint.json in the data dir");
        (ep.url, ep.token)
    }

    fn quit(mut self) {
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

// ---------- /proc ----------

/// Per thread: (CPU time in ns from schedstat, context switches).
type Tasks = std::collections::HashMap<String, (u64, u64)>;

fn proc_tasks(pid: u32) -> Tasks {
    let mut out = Tasks::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let p = t.path();
            let cpu = std::fs::read_to_string(p.join("schedstat")).ok().and_then(|s| s.split_whitespace().next().and_then(|x| x.parse::<u64>().ok())).unwrap_or(0);
            let mut sw = 0;
            if let Ok(s) = std::fs::read_to_string(p.join("status")) {
                for l in s.lines() {
                    if l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches") {
                        sw += l.split_whitespace().nth(1).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
                    }
                }
            }
            out.insert(t.file_name().to_string_lossy().into_owned(), (cpu, sw));
        }
    }
    out
}

/// CPU ns and context switches between two samples, summed over threads: a thread born in
/// between counts in full; one that exited in between drops out (threads come and go, e.g.
/// tokio's blocking pool, so whole-process sums can go backwards).
fn task_delta(before: &Tasks, after: &Tasks) -> (u64, u64) {
    after.iter().fold((0, 0), |(c, s), (tid, (c1, s1))| {
        let (c0, s0) = before.get(tid).copied().unwrap_or((0, 0));
        (c + c1.saturating_sub(c0), s + s1.saturating_sub(s0))
    })
}

/// utime+stime in clock ticks from /proc/PID/stat (a cross-check of schedstat).
fn proc_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // fields after ')': state(0) … utime(11) stime(12)
    f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0) + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
}

fn proc_status_kb(pid: u32, field: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

// ---------- HTTP ----------

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(20)).pool_max_idle_per_host(64).build().expect("client")
}

async fn act(c: &reqwest::Client, url: &str, token: &str, action: Value, idem: &str) -> (u16, Value) {
    let r = c
        .post(format!("{url}/v1/actions"))
        .bearer_auth(token)
        .header("idempotency-key", idem)
        .json(&json!({"action": action, "reason": "bench"}))
        .send()
        .await
        .expect("POST /v1/actions");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// `flagtop serve` on a free loopback port.
struct Server {
    child: Child,
    url: String,
    admin: String,
}

impl Server {
    fn start(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(data).args(extra);
        cmd.env("FLAGTOP_CONFIG_DIR", data.join("config"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start flagtop serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut url, mut admin, mut expect) = (None, None, false);
        while url.is_none() {
            let Some(Ok(line)) = lines.next() else { break };
            if expect {
                admin = Some(line.trim().to_string());
                expect = false;
            } else if line.starts_with("first start: minted an admin token") {
                expect = true;
            } else if let Some(u) = line.strip_prefix("flagtop control plane listening on ") {
                url = Some(u.trim().to_string());
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Server { child, url: url.expect("server URL"), admin: admin.expect("admin token") }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------- the figures ----------

/// Involuntary context switches of this thread so far (`/proc/thread-self/status`): a frame
/// during which it grew was cut by the scheduler, and its wall time says more about the
/// machine's load than about the frame.
fn preemptions() -> u64 {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("nonvoluntary_ctxt_switches")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// In-process render of the `large` scenario at 200×50: per-frame time and bytes.
fn render(out: &mut Out, runs: usize) {
    eprintln!("render (in-process, 200×50, large)");
    let theme = Theme::dark();
    let frames = 2000;
    let (mut p50s, mut p99s, mut small_p50) = (Vec::new(), Vec::new(), Vec::new());
    let (mut calm_p99s, mut cut) = (Vec::new(), Vec::new());
    let (mut idle_bytes, mut move_bytes) = (0usize, 0usize);
    for _ in 0..runs {
        for flags in [1_000usize, 10_000] {
            let (mut m, _) = common::large_model(flags);
            let (mut term, written) = common::terminal();
            let mut screen = Screen::new();
            common::draw(&mut term, &mut screen, &m, &theme);
            let base = m.flag_sel;
            let mut times = Vec::with_capacity(frames);
            let mut calm = Vec::with_capacity(frames);
            let mut preempted = 0usize;
            for k in 0..frames {
                // Alternate: an unchanged frame, then one with the cursor moved.
                m.flag_sel = base + ((k / 2) & 1);
                written.store(0, std::sync::atomic::Ordering::Relaxed);
                let p = preemptions();
                let t = Instant::now();
                common::draw(&mut term, &mut screen, &m, &theme);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                times.push(ms);
                if preemptions() == p {
                    calm.push(ms);
                } else {
                    preempted += 1;
                }
                let n = written.load(Ordering::Relaxed);
                if flags == 10_000 {
                    if k % 2 == 1 {
                        idle_bytes = n;
                    } else if k > 0 {
                        move_bytes = n;
                    }
                }
            }
            if flags == 10_000 {
                p50s.push(median(&times));
                p99s.push(pct(&times, 99.0));
                calm_p99s.push(pct(&calm, 99.0));
                cut.push(preempted as f64);
            } else {
                small_p50.push(median(&times));
            }
        }
    }
    out.put("render_large_ms", median(&p50s), Some(median(&p99s)), "ms", &p50s, "10,000 flags, 300 series; p99 over 2,000 frames per run");
    out.put("render_large_unpreempted_p99_ms", median(&calm_p99s), None, "ms", &calm_p99s, "p99 of the same frames, leaving out those during which the scheduler preempted the thread");
    out.put("render_large_preempted_frames", median(&cut), None, "frames", &cut, "of 2,000 per run: frames during which the thread was preempted (machine load)");
    out.put("render_1k_ms", median(&small_p50), None, "ms", &small_p50, "first 1,000 flags of the same scenario");
    out.put("render_bytes_unchanged", idle_bytes as f64, None, "B", &[idle_bytes as f64], "an unchanged frame through ratatui+crossterm (in memory)");
    out.put("render_bytes_cursor", move_bytes as f64, None, "B", &[move_bytes as f64], "cursor moved one row");
}

/// Start → first frame with data, warm (the data dir exists).
fn startup(out: &mut Out, runs: usize) {
    eprintln!("start → first frame with data (embedded, warm)");
    let dir = tempfile::tempdir().expect("tmp");
    // Cold start once to seed the data dir.
    let t = Tui::start(dir.path(), &["--scenario", "calm", "--env", "staging"], 50, 200);
    t.wait_for("checkout-v2", 30);
    let cold = t.started.elapsed();
    t.settle(Duration::from_millis(300), Duration::from_secs(3));
    t.quit();
    let mut warm = Vec::new();
    for _ in 0..runs.max(5) {
        let t = Tui::start(dir.path(), &["--scenario", "calm", "--env", "staging"], 50, 200);
        let at = t.wait_for("checkout-v2", 30);
        warm.push((at - t.started).as_secs_f64() * 1e3);
        t.settle(Duration::from_millis(200), Duration::from_secs(2));
        t.quit();
    }
    out.put("start_warm_ms", median(&warm), Some(pct(&warm, 99.0)), "ms", &warm, "spawn → a flag row on screen");
    out.put("start_cold_ms", cold.as_secs_f64() * 1e3, None, "ms", &[cold.as_secs_f64() * 1e3], "first start: creates and seeds the data dir");
}

/// Idle: bytes, CPU and wakeups of the TUI (with its embedded control plane) over a window.
fn idle(out: &mut Out, runs: usize, window: Duration) {
    eprintln!("idle ({}s windows, calm scenario, 200×50)", window.as_secs());
    let (mut bps, mut cpu, mut wake, mut ticks_cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tmp");
        let t = Tui::start(dir.path(), &["--scenario", "calm", "--env", "staging"], 50, 200);
        t.wait_for("● live", 30);
        t.settle(Duration::from_millis(1500), Duration::from_secs(10));
        let pid = t.pid();
        let (b0, tasks0, k0, at) = (t.bytes(), proc_tasks(pid), proc_ticks(pid), Instant::now());
        std::thread::sleep(window);
        let (b1, (dc, ds), k1) = (t.bytes(), task_delta(&tasks0, &proc_tasks(pid)), proc_ticks(pid));
        let secs = at.elapsed().as_secs_f64();
        bps.push((b1 - b0) as f64 / secs);
        cpu.push(dc as f64 / 1e9 / secs * 100.0);
        ticks_cpu.push(k1.saturating_sub(k0) as f64 / 100.0 / secs * 100.0);
        wake.push(ds as f64 / secs);
        t.quit();
    }
    out.put("idle_bytes_per_s", median(&bps), None, "B/s", &bps, "calm scenario, nothing changing on screen");
    out.put("idle_cpu_pct", median(&cpu), None, "% of a core", &cpu, "schedstat, all threads (TUI + embedded control plane)");
    out.put("idle_cpu_ticks_pct", median(&ticks_cpu), None, "% of a core", &ticks_cpu, "utime+stime from /proc/PID/stat (10 ms ticks)");
    out.put("idle_wakeups_per_s", median(&wake), None, "/s", &wake, "voluntary+nonvoluntary context switches, all threads");
}

/// Steady state with live metrics: the demo at 200×50.
fn steady(out: &mut Out, runs: usize, window: Duration) {
    eprintln!("steady (demo, live metrics, 200×50)");
    let (mut bps, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tmp");
        let t = Tui::start(dir.path(), &["--scenario", "demo"], 50, 200);
        t.wait_for("● live", 30);
        // Put checkout-v2 (two guardrails with sparklines) under the cursor.
        t.wait_for("checkout-v2", 10);
        std::thread::sleep(Duration::from_secs(2));
        let pid = t.pid();
        let (b0, tasks0, at) = (t.bytes(), proc_tasks(pid), Instant::now());
        std::thread::sleep(window);
        let (b1, (dc, _)) = (t.bytes(), task_delta(&tasks0, &proc_tasks(pid)));
        let secs = at.elapsed().as_secs_f64();
        bps.push((b1 - b0) as f64 / secs);
        cpu.push(dc as f64 / 1e9 / secs * 100.0);
        t.quit();
    }
    out.put("steady_bytes_per_s", median(&bps), None, "B/s", &bps, "demo scenario, simulator on, guardrails updating every second");
    out.put("steady_cpu_pct", median(&cpu), None, "% of a core", &cpu, "TUI + embedded control plane + simulator");
}

/// Changes made through the API → visible on the TUI's screen; bytes for one flag's change;
/// key → fsynced → confirmed on screen.
fn latency(out: &mut Out, rt: &tokio::runtime::Runtime, runs: usize, changes: usize) {
    eprintln!("change → screen, bytes per change, key → confirmed (embedded, calm, 200×50)");
    let c = http();
    let (mut lat_all, mut p50s, mut p99s, mut bytes_per_change) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut key_all, mut key_p99s) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let dir = tempfile::tempdir().expect("tmp");
        let mut t = Tui::start(dir.path(), &["--scenario", "calm", "--env", "staging"], 50, 200);
        t.wait_for("● live", 30);
        t.settle(Duration::from_millis(500), Duration::from_secs(10));
        let (url, token) = t.endpoint();
        // A flag that is on screen but not under the cursor: search-ranking-v3, first staging cohort.
        let snap: Value = rt.block_on(async {
            c.get(format!("{url}/v1/snapshot")).bearer_auth(&token).send().await.expect("snapshot").json().await.expect("json")
        });
        let flag = "search-ranking-v3";
        let f = snap["flags"].as_array().and_then(|fs| fs.iter().find(|f| f["key"] == flag)).expect("flag").clone();
        let cohort = f["environments"]["staging"]["cohorts"][0]["name"].as_str().expect("cohort").to_string();
        let mut lat = Vec::new();
        for i in 0..changes {
            let p = 1 + ((i * 37 + run * 11) % 98) as u8; // never twice in a row, unique within any 98
            let what = format!("{flag}/{cohort} to {p}% in staging");
            let rx = t.watch(&what);
            let b0 = t.bytes();
            let sent = Instant::now();
            let action = json!({"type": "set_percent", "flag": flag, "env": "staging", "cohort": cohort, "percent": p});
            let (s, body) = rt.block_on(act(&c, &url, &token, action, &format!("lat-{run}-{i}")));
            assert_eq!(s, 200, "{body}");
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(seen) => lat.push(seen.saturating_duration_since(sent).as_secs_f64() * 1e3),
                Err(_) => panic!("change {what} never showed; screen:\n{}", t.contents()),
            }
            if i < 10 {
                // Bytes for this one change: everything written until the screen is quiet.
                t.settle(Duration::from_millis(300), Duration::from_secs(3));
                bytes_per_change.push((t.bytes() - b0) as f64);
            } else {
                // Past the redraw cap (30 fps) so each change is its own frame.
                std::thread::sleep(Duration::from_millis(40 + (i % 5) as u64 * 7));
            }
        }
        p50s.push(median(&lat));
        p99s.push(pct(&lat, 99.0));
        lat_all.extend(lat);

        // Key → applied (fsynced) → confirmed on screen: `r` opens the rollback/restore confirm
        // (reason prefilled), Enter sends; the status line confirms.
        t.key(b"g");
        t.key(b"j"); // checkout-v2
        t.wait_for("Ladder checkout-v2", 5);
        t.key(b"\t");
        std::thread::sleep(Duration::from_millis(200));
        let first = snap["flags"].as_array().and_then(|fs| fs.iter().find(|f| f["key"] == "checkout-v2")).expect("checkout-v2")["environments"]["staging"]["cohorts"][0]["name"]
            .as_str()
            .expect("cohort")
            .to_string();
        let mut keys = Vec::new();
        for i in 0..30 {
            let verb = if i % 2 == 0 { "rollback" } else { "restore" };
            t.key(b"r");
            t.wait_for("Enter: send", 5);
            std::thread::sleep(Duration::from_millis(30));
            // The status line only (the Activity pane has no "(audit #").
            let rx = t.watch(&format!("applied: {verb} checkout-v2/{first} in staging (audit #"));
            let pressed = t.key(b"\r");
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(seen) => keys.push(seen.saturating_duration_since(pressed).as_secs_f64() * 1e3),
                Err(_) => panic!("{verb} never confirmed; screen:\n{}", t.contents()),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        key_p99s.push(pct(&keys, 99.0));
        key_all.extend(keys);
        t.quit();
    }
    out.put("change_to_screen_ms", median(&lat_all), Some(pct(&lat_all, 99.0)), "ms", &p50s, "API request sent → text on the vt100 screen; runs = per-run p50");
    out.put("change_to_screen_p99_runs", median(&p99s), None, "ms", &p99s, "per-run p99");
    out.put("bytes_per_flag_change", median(&bytes_per_change), Some(pct(&bytes_per_change, 99.0)), "B", &bytes_per_change, "one set-percent: flag row, ladder, activity line");
    out.put("key_to_confirmed_ms", median(&key_all), Some(pct(&key_all, 99.0)), "ms", &key_p99s, "Enter in the confirm dialog → `applied:` on screen (fsynced before the reply); runs = per-run p99");
}

/// RSS of the TUI + embedded control plane on the `large` scenario.
fn memory(out: &mut Out, runs: usize) {
    eprintln!("memory (large, 200×50)");
    let (mut rss, mut hwm, mut first, mut warm) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tmp");
        // First start (seeds the data dir), then a second start that loads what the first saved.
        for start in 0..2 {
            let t = Tui::start(dir.path(), &["--scenario", "large"], 50, 200);
            let at = t.wait_for("● live", 60);
            if start == 0 {
                first.push((at - t.started).as_secs_f64() * 1e3);
            }
            std::thread::sleep(Duration::from_secs(3));
            // Scroll a little: a realistic session touches the list.
            let mut t = t;
            for _ in 0..20 {
                t.key(b"j");
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_secs(2));
            let kb = proc_status_kb(t.pid(), "VmRSS:") / 1024.0;
            if start == 0 {
                rss.push(kb);
                hwm.push(proc_status_kb(t.pid(), "VmHWM:") / 1024.0);
            } else {
                warm.push(kb);
            }
            t.quit();
        }
    }
    out.put("rss_large_mb", median(&rss), None, "MB", &rss, "VmRSS after the first start + scrolling, one process");
    out.put("rss_large_warm_mb", median(&warm), None, "MB", &warm, "VmRSS after a second start on the same data dir (loads the saved state)");
    out.put("rss_peak_large_mb", median(&hwm), None, "MB", &hwm, "VmHWM (peak, includes seeding 10,000 flags on first start)");
    out.put("start_large_cold_ms", median(&first), None, "ms", &first, "first start on `large`: seed 10,000 flags, snapshot, first live frame");
}

/// One load phase: its flags (flag, cohort, starting percent), writers, offered rate (None:
/// back to back), length, and a tag for idempotency keys.
struct Phase<'a> {
    targets: &'a [(String, String, u8)],
    writers: usize,
    rate: Option<f64>,
    window: Duration,
    tag: String,
}

/// One load phase's writers. With `rate`, a sustained stream: action `i` is due at
/// `t0 + i / rate`, taken by whichever writer is free, and its latency counts from when it was
/// due (so a server that falls behind shows as latency, not as a lower offered rate). Without,
/// each writer sends its next action as soon as the previous one is acknowledged (saturation).
/// Each writer owns its flags and alternates their percents. Returns (latencies ms, revisions).
async fn write_for(c: &reqwest::Client, url: &str, token: &str, phase: Phase<'_>) -> (Vec<f64>, Vec<u64>) {
    let Phase { targets, writers, rate, window, tag } = phase;
    let t0 = Instant::now();
    let end = t0 + window;
    let slot = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let mine: Vec<_> = targets.iter().skip(w).step_by(writers).cloned().collect();
        let (c, url, token, slot, tag) = (c.clone(), url.to_string(), token.to_string(), slot.clone(), tag.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut revs) = (Vec::new(), Vec::new());
            let mut i = 0usize;
            loop {
                let due = match rate {
                    Some(r) => t0 + Duration::from_secs_f64(slot.fetch_add(1, Ordering::SeqCst) as f64 / r),
                    None => Instant::now(),
                };
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let (flag, cohort, p0) = &mine[i % mine.len()];
                let p = if (i / mine.len()).is_multiple_of(2) { if *p0 == 50 { 51 } else { 50 } } else { *p0 };
                let action = json!({"type": "set_percent", "flag": flag, "env": "staging", "cohort": cohort, "percent": p});
                let (st, body) = act(&c, &url, &token, action, &format!("{tag}-{w}-{i}")).await;
                lat.push(due.elapsed().as_secs_f64() * 1e3);
                assert_eq!(st, 200, "{body}");
                revs.push(body["revision"].as_u64().expect("revision"));
                i += 1;
            }
            (lat, revs)
        }));
    }
    let (mut lat, mut revs) = (Vec::new(), Vec::new());
    for t in tasks {
        let (l, r) = t.await.expect("writer");
        lat.extend(l);
        revs.extend(r);
    }
    (lat, revs)
}

/// `flagtop serve` with 200 SSE streams and a sustained stream of actions: first `rate`
/// actions/s offered for the window (throughput = acknowledged / s, latency from when each
/// was due), then the same streams under saturation (`writers` back-to-back writers: the
/// capacity). Every stream must receive every change of both phases, in order.
fn load(out: &mut Out, rt: &tokio::runtime::Runtime, runs: usize, window: Duration, streams: usize, writers: usize, rate: f64) {
    eprintln!("control plane under load ({streams} streams; {rate} actions/s offered, then {writers} writers back to back; {}s each)", window.as_secs());
    let (mut rates, mut p99s, mut ok_runs, mut caps, mut cap_p99s) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut all_lat = Vec::new();
    for run in 0..runs {
        let dir = tempfile::tempdir().expect("tmp");
        let srv = Server::start(dir.path(), &["--scenario", "large", "--no-simulate"], &[]);
        let (url, token) = (srv.url.clone(), srv.admin.clone());
        let (rate, lat, cap, cap_lat, ok) = rt.block_on(async move {
            let c = http();
            // Targets: staging cohorts of many flags (no approvals needed, no contention on one flag).
            let snap: Value = c.get(format!("{url}/v1/snapshot")).bearer_auth(&token).send().await.expect("snap").json().await.expect("json");
            let targets: Vec<(String, String, u8)> = snap["flags"]
                .as_array()
                .expect("flags")
                .iter()
                .filter_map(|f| {
                    let co = f["environments"]["staging"]["cohorts"].as_array()?.first()?.clone();
                    Some((f["key"].as_str()?.to_string(), co["name"].as_str()?.to_string(), co["percent"].as_u64()? as u8))
                })
                .take(2048)
                .collect();
            // Each phase its own flags: a writer alternates percents from the state it knows.
            let (sustained, saturated) = targets.split_at(targets.len() / 2);
            // 200 followers, each recording every change id in arrival order.
            // Told to stop through a watch channel: a timer per chunk (a select with a sleep) was
            // measurable client CPU at 120,000 events/s.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let mut followers = Vec::new();
            let connected = Arc::new(AtomicU64::new(0));
            for _ in 0..streams {
                let (c, url, token, mut stopped, connected) = (c.clone(), url.clone(), token.clone(), stopped.clone(), connected.clone());
                followers.push(tokio::spawn(async move {
                    let sc = reqwest::Client::builder().build().expect("client");
                    let _ = c;
                    let mut resp = sc.get(format!("{url}/v1/stream")).bearer_auth(&token).send().await.expect("stream");
                    let mut p = SseParser::new(1 << 20, 8 << 20);
                    let (mut ids, mut resets, mut items) = (Vec::<u64>::new(), 0usize, Vec::new());
                    let mut hello = false;
                    loop {
                        let chunk = tokio::select! {
                            c = resp.chunk() => c,
                            _ = stopped.changed() => break,
                        };
                        let Ok(Some(chunk)) = chunk else { break };
                        p.push(&chunk, &mut items).expect("sse");
                        for it in items.drain(..) {
                            if let SseItem::Event(e) = it {
                                match e.event.as_str() {
                                    "hello" if !hello => {
                                        hello = true;
                                        connected.fetch_add(1, Ordering::SeqCst);
                                    }
                                    "reset" => resets += 1,
                                    "change" => ids.push(e.id.as_deref().and_then(|x| x.parse().ok()).unwrap_or(0)),
                                    _ => {}
                                }
                            }
                        }
                    }
                    (ids, resets)
                }));
            }
            while connected.load(Ordering::SeqCst) < streams as u64 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // The sustained stream: 64 writers are enough to keep `rate` flowing while some wait.
            let t0 = Instant::now();
            let (lat, mut revs) = write_for(&c, &url, &token, Phase { targets: sustained, writers: 64, rate: Some(rate), window, tag: format!("load-{run}") }).await;
            let rate = revs.len() as f64 / t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let (cap_lat, cap_revs) = write_for(&c, &url, &token, Phase { targets: saturated, writers, rate: None, window, tag: format!("cap-{run}") }).await;
            let cap = cap_revs.len() as f64 / t1.elapsed().as_secs_f64();
            revs.extend(cap_revs);
            revs.sort_unstable();
            // Let the streams drain, then check every stream got every change, in order.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = stop.send(true);
            let mut ok = true;
            for f in followers {
                let (ids, resets) = f.await.expect("follower");
                let in_order = ids.windows(2).all(|w| w[0] < w[1]);
                let mut seen = ids.clone();
                seen.sort_unstable();
                let all = revs.iter().all(|r| seen.binary_search(r).is_ok());
                if !(in_order && all && resets == 0) {
                    eprintln!("    stream: {} ids, in order {in_order}, has all {all}, resets {resets}", ids.len());
                    ok = false;
                }
            }
            (rate, lat, cap, cap_lat, ok)
        });
        rates.push(rate);
        p99s.push(pct(&lat, 99.0));
        all_lat.extend(lat);
        caps.push(cap);
        cap_p99s.push(pct(&cap_lat, 99.0));
        ok_runs.push(if ok { 1.0 } else { 0.0 });
    }
    let offered = format!("{rate} actions/s offered");
    out.put("load_actions_per_s", median(&rates), None, "actions/s", &rates, &format!("acknowledged (200, durable) set-percent actions, {offered}; 10,000-flag store"));
    out.put("load_latency_ms", median(&all_lat), Some(pct(&all_lat, 99.0)), "ms", &p99s, &format!("due → acknowledged at {offered}; runs = per-run p99"));
    out.put("load_capacity_per_s", median(&caps), None, "actions/s", &caps, &format!("acknowledged / s with {writers} writers back to back; per-run p99 latency {cap_p99s:.1?} ms"));
    out.put("load_streams_complete", ok_runs.iter().sum::<f64>(), None, "runs", &ok_runs, "runs in which every stream received every change, in order, with no reset");
}

/// flagtop's Unleash-backed action vs the same change through Unleash's Admin API directly.
fn unleash(out: &mut Out, rt: &tokio::runtime::Runtime, n: usize) {
    let (Ok(uurl), Ok(utoken)) = (std::env::var("FLAGTOP_TEST_UNLEASH_URL"), std::env::var("UNLEASH_ADMIN_TOKEN")) else {
        eprintln!("unleash: skipped (no FLAGTOP_TEST_UNLEASH_URL / UNLEASH_ADMIN_TOKEN; scripts/bench starts one)");
        return;
    };
    eprintln!("Unleash: flagtop action vs Admin API directly");
    let dir = tempfile::tempdir().expect("tmp");
    let name = format!("bench-{}", std::process::id());
    let c = http();
    let strategy = rt.block_on(async {
        let feat = format!("{uurl}/api/admin/projects/default/features");
        let r = c.post(&feat).header("authorization", &utoken).json(&json!({"name": name, "type": "release"})).send().await.expect("create");
        assert!(r.status().is_success(), "create feature: {}", r.status());
        let mut ids = Vec::new();
        for region in ["eu-west", "us-east"] {
            let body = json!({"name": "flexibleRollout", "title": region,
                "constraints": [{"contextName": "region", "operator": "IN", "values": [region]}],
                "parameters": {"rollout": "10", "stickiness": "default", "groupId": name}});
            let v: Value = c
                .post(format!("{feat}/{name}/environments/development/strategies"))
                .header("authorization", &utoken)
                .json(&body)
                .send()
                .await
                .expect("strategy")
                .json()
                .await
                .expect("json");
            ids.push(v["id"].as_str().expect("id").to_string());
        }
        c.post(format!("{feat}/{name}/environments/development/on")).header("authorization", &utoken).send().await.expect("on");
        ids
    });
    let srv = Server::start(
        dir.path(),
        &["--no-simulate", "--flags", "unleash", "--unleash-url", &uurl, "--unleash-poll-secs", "3600"],
        &[("UNLEASH_ADMIN_TOKEN", &utoken)],
    );
    let (furl, ftoken) = (srv.url.clone(), srv.admin.clone());
    let (via, direct) = rt.block_on(async {
        let (mut via, mut direct) = (Vec::new(), Vec::new());
        let mut cur = 10u8;
        for i in 0..n {
            // flagtop: eu-west (its own compare-and-set JSON Patch, audit, fsync, publish).
            let p = if cur == 10 { 20 } else { 10 };
            let s = Instant::now();
            let (st, body) = act(&c, &furl, &ftoken, json!({"type": "set_percent", "flag": name, "env": "development", "cohort": "eu-west", "percent": p}), &format!("u-{i}")).await;
            via.push(s.elapsed().as_secs_f64() * 1e3);
            assert_eq!(st, 200, "{body}");
            cur = p;
            // Directly: the same kind of change (test + replace of rollout) on us-east.
            let (from, to) = if i % 2 == 0 { ("10", "20") } else { ("20", "10") };
            let ops = json!([{"op": "test", "path": "/parameters/rollout", "value": from}, {"op": "replace", "path": "/parameters/rollout", "value": to}]);
            let s = Instant::now();
            let r = c
                .patch(format!("{uurl}/api/admin/projects/default/features/{name}/environments/development/strategies/{}", strategy[1]))
                .header("authorization", &utoken)
                .json(&ops)
                .send()
                .await
                .expect("patch");
            let ok = r.status().is_success();
            let _ = r.bytes().await;
            direct.push(s.elapsed().as_secs_f64() * 1e3);
            assert!(ok, "direct patch failed");
        }
        (via, direct)
    });
    let (mv, md) = (median(&via), median(&direct));
    out.put("unleash_via_flagtop_ms", mv, Some(pct(&via, 99.0)), "ms", &[mv], "flagtop serve --flags unleash: POST /v1/actions set_percent");
    out.put("unleash_direct_ms", md, Some(pct(&direct, 99.0)), "ms", &[md], "PATCH …/strategies/{id} (test + replace) on Unleash directly");
    out.put("unleash_ratio", mv / md, None, "×", &[mv / md], "median via flagtop / median direct");
}

fn binary(out: &mut Out) {
    let size = std::fs::metadata(BIN).map(|m| m.len() as f64 / 1e6).unwrap_or(f64::NAN);
    out.put("binary_mb", size, None, "MB", &[size], "target/release/flagtop (stripped, thin LTO, cold crates at opt-level s)");
}


// ---------- docs/performance.md ----------

fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|x| x.1.trim().to_string()).unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = mem.lines().find(|l| l.starts_with("MemTotal")).and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok()).map(|k| format!("{:.1} GiB", k / 1024.0 / 1024.0)).unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let rustc = Command::new("rustc").arg("--version").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    vec![
        ("CPUs (`nproc`)".into(), nproc.to_string()),
        ("CPU model".into(), model),
        ("memory".into(), mem),
        ("kernel".into(), kernel),
        ("compiler".into(), rustc),
    ]
}

/// Criterion medians (ns) by benchmark path, from `<criterion>/**/new/estimates.json`.
fn criterion(dir: &Path) -> Vec<(String, f64)> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<(String, f64)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") {
                    if let Ok(t) = std::fs::read_to_string(p.join("estimates.json"))
                        && let Ok(v) = serde_json::from_str::<Value>(&t)
                        && let Some(ns) = v["median"]["point_estimate"].as_f64()
                    {
                        let name = d.strip_prefix(base).unwrap_or(d).display().to_string();
                        out.push((name, ns));
                    }
                } else if p.file_name().is_some_and(|n| n != "base" && n != "change" && n != "report") {
                    walk(base, &p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn report() {
    let path = std::env::var("BENCH_OUT").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target/bench/e2e.jsonl"));
    let doc = std::env::var("BENCH_DOC").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("docs/performance.md"));
    let crit = std::env::var("BENCH_CRITERION").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target/criterion"));
    let text = std::fs::read_to_string(&path).expect("e2e results (run the e2e bench first)");
    let figs: std::collections::HashMap<String, Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["key"].as_str()?.to_string(), v)))
        .collect();
    let get = |k: &str| figs.get(k).and_then(|v| v["value"].as_f64());
    let p99 = |k: &str| figs.get(k).and_then(|v| v["p99"].as_f64());
    let runs = |k: &str| {
        figs.get(k)
            .and_then(|v| v["runs"].as_array().cloned())
            .map(|r| r.iter().filter_map(|x| x.as_f64()).map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let f = |v: Option<f64>, d: usize| v.map(|x| format!("{x:.d$}")).unwrap_or_else(|| "not measured".into());
    let ok = |b: Option<bool>| match b {
        Some(true) => "✅ met",
        Some(false) => "❌ missed",
        None => "—",
    };
    let both = |a: Option<f64>, b: Option<f64>, t: &dyn Fn(f64, f64) -> bool| match (a, b) {
        (Some(a), Some(b)) => Some(t(a, b)),
        _ => None,
    };
    let r1k = get("render_1k_ms");
    let r10k = get("render_large_ms");
    let rows: Vec<(String, String, String, Option<bool>)> = vec![
        (
            "render one frame, 200×50, `large` (10,000 flags, 300 series)".into(),
            "p99 < 1 ms; cost independent of the number of flags".into(),
            format!("p50 {} ms, p99 {} ms; 1,000 flags: p50 {} ms", f(r10k, 3), f(p99("render_large_ms"), 3), f(r1k, 3)),
            both(p99("render_large_ms"), r1k.zip(r10k).map(|(a, b)| b / a), &|p, ratio| p < 1.0 && ratio < 1.25),
        ),
        ("bytes to the terminal, idle".into(), "0 B/s".into(), format!("{} B/s", f(get("idle_bytes_per_s"), 1)), get("idle_bytes_per_s").map(|v| v == 0.0)),
        (
            "bytes for one flag's state change".into(),
            "< 300 B".into(),
            format!("median {} B, max {} B", f(get("bytes_per_flag_change"), 0), f(p99("bytes_per_flag_change"), 0)),
            get("bytes_per_flag_change").map(|v| v < 300.0),
        ),
        (
            "bytes, steady with live metrics, 200×50 (demo)".into(),
            "< 2 KB/s".into(),
            format!("{} B/s", f(get("steady_bytes_per_s"), 0)),
            get("steady_bytes_per_s").map(|v| v < 2048.0),
        ),
        (
            "idle CPU of the TUI (+ embedded control plane)".into(),
            "< 0.1 % of a core".into(),
            format!("{} % (schedstat); {} % (utime+stime)", f(get("idle_cpu_pct"), 3), f(get("idle_cpu_ticks_pct"), 3)),
            get("idle_cpu_pct").map(|v| v < 0.1),
        ),
        ("idle wakeups".into(), "≤ 2 /s".into(), format!("{} /s", f(get("idle_wakeups_per_s"), 2)), get("idle_wakeups_per_s").map(|v| v <= 2.0)),
        (
            "change on the control plane → visible on screen".into(),
            "p50 < 10 ms, p99 < 50 ms".into(),
            format!("p50 {} ms, p99 {} ms", f(get("change_to_screen_ms"), 2), f(p99("change_to_screen_ms"), 2)),
            both(get("change_to_screen_ms"), p99("change_to_screen_ms"), &|a, b| a < 10.0 && b < 50.0),
        ),
        (
            "key press → applied (fsynced) → confirmed on screen".into(),
            "p99 < 20 ms".into(),
            format!("p50 {} ms, p99 {} ms", f(get("key_to_confirmed_ms"), 2), f(p99("key_to_confirmed_ms"), 2)),
            p99("key_to_confirmed_ms").map(|v| v < 20.0),
        ),
        (
            "start → first frame with data (embedded, warm)".into(),
            "< 150 ms".into(),
            format!("median {} ms, max {} ms", f(get("start_warm_ms"), 1), f(p99("start_warm_ms"), 1)),
            get("start_warm_ms").map(|v| v < 150.0),
        ),
        (
            "RSS, TUI + embedded control plane, `large`".into(),
            "< 60 MB".into(),
            format!(
                "first start {} MB (peak {} MB); restart on the saved state {} MB",
                f(get("rss_large_mb"), 1),
                f(get("rss_peak_large_mb"), 1),
                f(get("rss_large_warm_mb"), 1)
            ),
            both(get("rss_large_mb"), get("rss_large_warm_mb"), &|a, b| a < 60.0 && b < 60.0),
        ),
        (
            "control plane: 200 streams + sustained actions".into(),
            "≥ 500 acknowledged actions/s, p99 < 25 ms, every stream gets every change in order".into(),
            format!(
                "{} actions/s, p50 {} ms, p99 {} ms (capacity {} actions/s); complete and in order in {} of {} runs",
                f(get("load_actions_per_s"), 0),
                f(get("load_latency_ms"), 2),
                f(p99("load_latency_ms"), 2),
                f(get("load_capacity_per_s"), 0),
                f(get("load_streams_complete"), 0),
                figs.get("load_streams_complete").and_then(|v| v["runs"].as_array().map(|a| a.len())).unwrap_or(0)
            ),
            match (get("load_actions_per_s"), p99("load_latency_ms"), get("load_streams_complete"), figs.get("load_streams_complete").and_then(|v| v["runs"].as_array().map(|a| a.len() as f64))) {
                (Some(r), Some(p), Some(c), Some(n)) => Some(r >= 500.0 && p < 25.0 && c == n),
                _ => None,
            },
        ),
        ("release binary".into(), "one file < 15 MB".into(), format!("{} MB", f(get("binary_mb"), 2)), get("binary_mb").map(|v| v < 15.0)),
        (
            "Unleash-backed action vs Unleash Admin API directly".into(),
            "report the ratio".into(),
            match get("unleash_ratio") {
                Some(r) => format!(
                    "{r:.2}× ({} ms via flagtop vs {} ms direct, medians; p99 {} vs {} ms)",
                    f(get("unleash_via_flagtop_ms"), 2),
                    f(get("unleash_direct_ms"), 2),
                    f(p99("unleash_via_flagtop_ms"), 2),
                    f(p99("unleash_direct_ms"), 2)
                ),
                None => "not measured (no Unleash running)".into(),
            },
            None,
        ),
    ];
    let mut md = String::new();
    md.push_str("# flagtop performance\n\n");
    md.push_str("<!-- Generated by ./scripts/bench (benches/e2e.rs `report`); edit the generator, not this file. -->\n\n");
    md.push_str("Every figure below comes from one command, **`./scripts/bench`**, run on the machine described\nhere. Benchmarks are not tests: nothing fails on a slow number and CI does not run them.\n\n");
    md.push_str("## Machine\n\n| | |\n|---|---|\n");
    for (k, v) in machine() {
        md.push_str(&format!("| {k} | {v} |\n"));
    }
    md.push_str(&format!("| date | {} |\n| runs per figure | {} |\n\n", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"), std::env::var("BENCH_RUNS").unwrap_or_else(|_| "3".into())));
    md.push_str("## Figures against the targets\n\n| figure | target | measured | |\n|---|---|---|---|\n");
    for (a, b, c, d) in &rows {
        md.push_str(&format!("| {a} | {b} | {c} | {} |\n", ok(*d)));
    }
    md.push_str("\n### Individual runs\n\n| key | unit | median (p99) | runs | note |\n|---|---|---|---|---|\n");
    let mut keys: Vec<_> = figs.keys().cloned().collect();
    keys.sort();
    for k in keys {
        let v = &figs[&k];
        md.push_str(&format!(
            "| `{k}` | {} | {}{} | {} | {} |\n",
            v["unit"].as_str().unwrap_or(""),
            f(v["value"].as_f64(), 3),
            v["p99"].as_f64().map(|p| format!(" ({p:.3})")).unwrap_or_default(),
            runs(&k),
            v["note"].as_str().unwrap_or("")
        ));
    }
    let crit = criterion(&crit);
    md.push_str("\n## Micro-benchmarks (criterion, `cargo bench --bench core`)\n\n| benchmark | median time |\n|---|---|\n");
    for (k, ns) in &crit {
        md.push_str(&format!("| `{k}` | {} |\n", fmt_ns(*ns)));
    }
    if crit.is_empty() {
        md.push_str("| (no criterion results found) | |\n");
    }
    md.push_str(METHOD);
    if let Some(p) = doc.parent() {
        let _ = std::fs::create_dir_all(p);
    }
    std::fs::write(&doc, md).expect("write docs/performance.md");
    eprintln!("wrote {}", doc.display());
}

/// The method and the analysis (kept with the generator so the doc is regenerated whole).
const METHOD: &str = include_str!("performance_method.md");

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects sections (e.g. `load`).
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if filter.iter().any(|f| f == "report") {
        return report();
    }
    // `cargo test --all-targets` builds and runs bench targets too (without `--bench`): the
    // end-to-end benchmark takes minutes, so it only runs under `cargo bench` / scripts/bench.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("flagtop e2e bench: skipped (run `cargo bench --bench e2e` or ./scripts/bench)");
        return;
    }
    let on = |s: &str| filter.is_empty() || filter.iter().any(|f| s.contains(f.as_str()));
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
    let window = Duration::from_secs(if quick { 3 } else { 10 });
    let path = std::env::var("BENCH_OUT").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target/bench/e2e.jsonl"));
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("output dir");
    }
    // A full run starts the results afresh; a run of some sections adds to them (the report
    // takes the last line of each key).
    let file = if filter.is_empty() {
        std::fs::File::create(&path)
    } else {
        std::fs::OpenOptions::new().create(true).append(true).open(&path)
    };
    let mut out = Out { file: file.expect("output file") };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    eprintln!("flagtop e2e bench: {BIN}, {runs} runs → {}", path.display());
    if on("binary") {
        binary(&mut out);
    }
    if on("render") {
        render(&mut out, runs);
    }
    if on("startup") {
        startup(&mut out, runs);
    }
    if on("idle") {
        idle(&mut out, runs, window);
    }
    if on("steady") {
        steady(&mut out, runs, window);
    }
    if on("latency") {
        latency(&mut out, &rt, runs, if quick { 60 } else { 200 });
    }
    if on("memory") {
        memory(&mut out, runs);
    }
    if on("load") {
        let knob = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
        let rate = knob("BENCH_LOAD_RATE", 600) as f64;
        load(&mut out, &rt, runs, window, knob("BENCH_LOAD_STREAMS", 200), knob("BENCH_LOAD_WRITERS", 32), rate);
    }
    if on("unleash") {
        unleash(&mut out, &rt, if quick { 20 } else { 100 });
    }
}
