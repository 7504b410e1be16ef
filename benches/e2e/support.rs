//! Statistics and JSON-lines output, /proc readings, HTTP to a `flagtop serve` on a free port.

use super::*;

// ---------- statistics and output ----------

pub(crate) fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let i = ((p / 100.0) * (s.len() - 1) as f64).round() as usize;
    s[i.min(s.len() - 1)]
}

pub(crate) fn median(v: &[f64]) -> f64 {
    pct(v, 50.0)
}

pub(crate) struct Out {
    pub(crate) file: std::fs::File,
}

impl Out {
    /// One figure: `key`, a value (median over runs), optional p99, unit, the individual runs.
    pub(crate) fn put(
        &mut self,
        key: &str,
        value: f64,
        p99: Option<f64>,
        unit: &str,
        runs: &[f64],
        note: &str,
    ) {
        let line = json!({"key": key, "value": value, "p99": p99, "unit": unit, "runs": runs, "note": note});
        eprintln!(
            "  {key}: {value:.3} {unit}{}  runs={runs:?} {note}",
            p99.map(|p| format!(" (p99 {p:.3})")).unwrap_or_default()
        );
        writeln!(self.file, "{line}").expect("write results");
    }
}

// ---------- /proc ----------

/// Per thread: (CPU time in ns from schedstat, context switches).
pub(crate) type Tasks = std::collections::HashMap<String, (u64, u64)>;

pub(crate) fn proc_tasks(pid: u32) -> Tasks {
    let mut out = Tasks::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let p = t.path();
            let cpu = std::fs::read_to_string(p.join("schedstat"))
                .ok()
                .and_then(|s| {
                    s.split_whitespace()
                        .next()
                        .and_then(|x| x.parse::<u64>().ok())
                })
                .unwrap_or(0);
            let mut sw = 0;
            if let Ok(s) = std::fs::read_to_string(p.join("status")) {
                for l in s.lines() {
                    if l.starts_with("voluntary_ctxt_switches")
                        || l.starts_with("nonvoluntary_ctxt_switches")
                    {
                        sw += l
                            .split_whitespace()
                            .nth(1)
                            .and_then(|x| x.parse::<u64>().ok())
                            .unwrap_or(0);
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
pub(crate) fn task_delta(before: &Tasks, after: &Tasks) -> (u64, u64) {
    after.iter().fold((0, 0), |(c, s), (tid, (c1, s1))| {
        let (c0, s0) = before.get(tid).copied().unwrap_or((0, 0));
        (c + c1.saturating_sub(c0), s + s1.saturating_sub(s0))
    })
}

/// utime+stime in clock ticks from /proc/PID/stat (a cross-check of schedstat).
pub(crate) fn proc_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // fields after ')': state(0) … utime(11) stime(12)
    f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
}

pub(crate) fn proc_status_kb(pid: u32, field: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

// ---------- HTTP ----------

pub(crate) fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client")
}

pub(crate) async fn act(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    action: Value,
    idem: &str,
) -> (u16, Value) {
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

/// How long `flagtop serve` may take to print its URL (seeding 10,000 flags into PostgreSQL in a
/// debug build is the slow case).
const SERVE_START_LIMIT: Duration = Duration::from_secs(120);

/// `flagtop serve` on a free loopback port.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) admin: String,
}

impl Server {
    pub(crate) fn start(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let s = Server::replica(data, extra, env);
        assert!(!s.admin.is_empty(), "admin token");
        s
    }

    /// As `start`, for a replica of a store another server already set up: it mints no admin
    /// token (`admin` is empty).
    pub(crate) fn replica(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra);
        cmd.env("FLAGTOP_CONFIG_DIR", data.join("config"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start flagtop serve");
        // Its stdout is read on a thread of its own, so waiting for the URL is bounded.
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + SERVE_START_LIMIT;
        let (mut url, mut admin, mut expect) = (None, None, false);
        while url.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    match e {
                        std::sync::mpsc::RecvTimeoutError::Timeout => panic!(
                            "timed out after {SERVE_START_LIMIT:?} waiting for `flagtop serve` on {} to print its URL (see its flagtop.log)",
                            data.display()
                        ),
                        std::sync::mpsc::RecvTimeoutError::Disconnected => panic!(
                            "`flagtop serve` on {} exited before printing its URL (see its flagtop.log)",
                            data.display()
                        ),
                    }
                }
            };
            if expect {
                admin = Some(line.trim().to_string());
                expect = false;
            } else if line.starts_with("first start: minted an admin token") {
                expect = true;
            } else if let Some(u) = line.strip_prefix("flagtop control plane listening on ") {
                url = Some(u.trim().to_string());
            }
        }
        Server {
            child,
            url: url.unwrap_or_default(),
            admin: admin.unwrap_or_default(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
