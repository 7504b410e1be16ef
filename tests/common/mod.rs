//! Helpers for end-to-end tests: run the real `flagtop` binary as a server and talk HTTP to it.
#![allow(dead_code)]

pub mod fault;
pub mod pg;
pub mod pg_cut;
pub mod pty;
pub mod raw;
pub mod receiver;
pub mod unleash;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub url: String,
    /// The admin token minted on first start (None on a restart).
    pub admin: Option<String>,
    pub data: PathBuf,
}

impl Server {
    /// `flagtop serve` on a free loopback port; waits for it to print its URL.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Server::start_on(data, "127.0.0.1:0", extra)
    }

    /// `flagtop serve` on `listen`.
    pub fn start_on(data: &Path, listen: &str, extra: &[&str]) -> Server {
        Server::start_env(data, listen, extra, &[])
    }

    /// `flagtop serve` on a new data dir (kept while the `TempDir` lives), with the admin token
    /// it mints on first start: the set-up most tests begin with.
    pub fn fresh(extra: &[&str]) -> (tempfile::TempDir, Server, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Server::start(dir.path(), extra);
        let admin = server.admin.clone().expect("admin token on first start");
        (dir, server, admin)
    }

    /// `flagtop serve` on `listen` with extra environment variables.
    pub fn start_env(data: &Path, listen: &str, extra: &[&str], envs: &[(&str, String)]) -> Server {
        Server::start_cmd(
            Command::new(env!("CARGO_BIN_EXE_flagtop")),
            data,
            listen,
            extra,
            envs,
        )
    }

    /// `flagtop serve` that may open at most `files` files (run under `prlimit`).
    pub fn start_limited(data: &Path, files: u32, extra: &[&str]) -> Server {
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={files}:{files}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_flagtop"));
        Server::start_cmd(cmd, data, "127.0.0.1:0", extra, &[])
    }

    fn start_cmd(
        mut cmd: Command,
        data: &Path,
        listen: &str,
        extra: &[&str],
        envs: &[(&str, String)],
    ) -> Server {
        // Tests build clients (ours, Prometheus') once a server runs: TLS set up, as `main` does.
        flagtop::app::init_tls();
        let mut child = cmd
            .args(["serve", "--listen", listen, "--data"])
            .arg(data)
            .args(extra)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start flagtop serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut url, mut admin, mut expect_token) = (None, None, false);
        let deadline = Instant::now() + Duration::from_secs(30);
        while url.is_none() && Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            if expect_token {
                admin = Some(line.trim().to_string());
                expect_token = false;
            } else if line.starts_with("first start: minted an admin token") {
                expect_token = true;
            } else if let Some(u) = line.strip_prefix("flagtop control plane listening on ") {
                url = Some(u.trim().to_string());
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            url: url.expect("server printed its URL"),
            admin,
            data: data.to_path_buf(),
        }
    }

    /// Runs `flagtop ARGS --backend URL` with `token` in `FLAGTOP_TOKEN`.
    pub fn cli(&self, token: &str, args: &[&str]) -> std::process::Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_flagtop"));
        c.args(args)
            .args(["--backend", &self.url])
            .env("FLAGTOP_TOKEN", token);
        c.output().expect("run flagtop")
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill(); // SIGKILL on Unix
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Http {
    pub url: String,
    pub client: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Http {
    pub fn new(url: &str) -> Http {
        // The process's TLS set-up, as `main` does it: every HTTP client of a test needs it.
        flagtop::app::init_tls();
        Http {
            url: url.to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.client.request(m, format!("{}{path}", self.url));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(
            String::from_utf8_lossy(&bytes).into(),
        ));
        Reply { status, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: serde_json::Value) -> Reply {
        self.call("POST", path, Some(token), Some(body), &[]).await
    }

    pub async fn token(&self, admin: &str, name: &str, role: &str) -> String {
        let r = self
            .post(
                "/v1/tokens",
                admin,
                serde_json::json!({"name": name, "role": role}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["token"].as_str().expect("token").to_string()
    }
}

/// The cohort `name` of `flag` in `env` from a snapshot body.
pub fn cohort<'a>(
    snap: &'a serde_json::Value,
    flag: &str,
    env: &str,
    name: &str,
) -> &'a serde_json::Value {
    let f = snap["flags"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["key"] == flag))
        .expect("flag in snapshot");
    f["environments"][env]["cohorts"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .expect("cohort")
}

pub fn flag_revision(snap: &serde_json::Value, flag: &str) -> u64 {
    snap["flags"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["key"] == flag))
        .and_then(|f| f["revision"].as_u64())
        .expect("revision")
}

/// A test whose real client or server is missing: a loud skip locally, a failure under CI=true
/// (where the project's scripts install everything). Returns None for the caller to return.
pub fn skip_loudly<T>(msg: &str) -> Option<T> {
    let banner = format!("\n\n!!!!!!!! {msg} !!!!!!!!\n\n");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{banner}under CI=true a skipped test is a failure");
    }
    eprintln!("{banner}");
    None
}
