//! `flagtop serve` over TLS (rustls): a client that trusts the CA works end to end, one that does
//! not is refused with a clear error, plain HTTP gets nowhere, and a non-loopback listener with
//! TLS does not raise the clear-text warning.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::Server;
use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn tls_args() -> Vec<String> {
    vec![
        "--no-simulate".into(),
        "--tls-cert".into(),
        fixture("server.crt").display().to_string(),
        "--tls-key".into(),
        fixture("server.key").display().to_string(),
    ]
}

#[test]
fn serve_over_tls() {
    let dir = tempfile::tempdir().expect("tmp");
    let args = tls_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(dir.path(), &args);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let admin = server.admin.clone().expect("admin");
    let https = server.url.replace("127.0.0.1", "localhost");
    let status = |url: &str, ca: Option<PathBuf>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_flagtop"));
        c.args(["status", "--json", "--backend", url])
            .env("FLAGTOP_TOKEN", &admin);
        match ca {
            Some(p) => c.env("FLAGTOP_CA_CERT", p),
            None => c.env_remove("FLAGTOP_CA_CERT"),
        };
        c.output().expect("run status")
    };
    // Trusting the test CA: works, by IP and by name.
    for url in [&server.url, &https] {
        let out = status(url, Some(fixture("ca.crt")));
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["flags"].as_array().map(Vec::len), Some(5));
    }
    // Not trusting it: refused, exit 7, and the message names the certificate problem.
    let out = status(&server.url, None);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // `--json`: the error is JSON on stdout.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON error");
    assert_eq!(v["error"]["code"], "unreachable", "{v}");
    let err = v["error"]["message"].as_str().unwrap_or("").to_lowercase();
    assert!(
        err.contains("certificate") || err.contains("issuer"),
        "{err}"
    );
    // Plain HTTP to the TLS port gets nowhere.
    let plain = server.url.replace("https://", "http://");
    let out = status(&plain, Some(fixture("ca.crt")));
    assert!(!out.status.success());
}

#[test]
fn a_non_loopback_listener_with_tls_does_not_warn() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut args = vec![
        "serve".to_string(),
        "--listen".into(),
        "0.0.0.0:0".into(),
        "--data".into(),
        dir.path().display().to_string(),
    ];
    args.extend(tls_args());
    let mut child = Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait for it to listen, then stop it and read what it said.
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let listening = lines
        .by_ref()
        .take(5)
        .filter_map(Result::ok)
        .any(|l| l.starts_with("flagtop control plane listening on https://"));
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait");
    assert!(listening);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("WITHOUT TLS"), "{err}");
}
