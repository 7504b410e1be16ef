//! OFREP end to end: a real `flagtop serve`, an `sdk` token minted by the CLI, and the official
//! OpenFeature Python SDK with its OFREP provider (tests/ofrep/drive.py, venv from
//! `scripts/pyenv ofrep`) evaluating 10,000 synthetic users — each result checked against the
//! domain's own evaluation of the same snapshot (what the TUI shows), the shares per cohort
//! against the configured percentages, before and after a narrowed rollback, and the exposure
//! the control plane counted. Then the bulk contract (ETag, 304, the event stream) and the
//! refusals (other roles, other environments, bad bodies) over raw HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod bulk;
#[path = "../common/mod.rs"]
mod common;
mod node_provider;

use common::{Http, Server};
use flagtop::domain::Flag;
use flagtop::domain::eval::{User, evaluate};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flagtop");
const USERS: usize = 10_000;
const FLAG: &str = "checkout-v2";
const ENV: &str = "production";

/// The venv's python (`scripts/pyenv ofrep`), or None with a loud message; under CI a missing
/// venv fails.
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("FLAGTOP_TEST_OFREP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/tmp/venv-ofrep/bin/python")
        });
    if path.exists() {
        return Some(path);
    }
    common::skip_loudly(&format!(
        "OPENFEATURE (OFREP) PROVIDER TEST SKIPPED: no venv at {} — run `scripts/pyenv ofrep` (scripts/test does)",
        path.display()
    ))
}

fn drive(python: &PathBuf, url: &str, token: &str, args: &[&str]) -> Vec<Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ofrep/drive.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .env("OFREP_ENDPOINT", url)
        .env("OFREP_TOKEN", token)
        .output()
        .expect("run drive.py");
    assert!(
        out.status.success(),
        "drive.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn cli(url: &str, admin: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--backend")
        .arg(url)
        .args(args)
        .env("FLAGTOP_TOKEN", admin)
        .output()
        .expect("run flagtop");
    assert!(
        out.status.success(),
        "flagtop {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A narrowed rollback of eu-west in production, through the CLI.
fn rollback_eu_west(url: &str, admin: &str, reason: &str) {
    cli(
        url,
        admin,
        &[
            "act", "rollback", FLAG, "eu-west", "--env", ENV, "--reason", reason,
        ],
    );
}

/// The flag as the snapshot (and so the TUI) holds it.
async fn flag(http: &Http, admin: &str) -> (Flag, Value) {
    let snap = http.get("/v1/snapshot", admin).await.body;
    let f = snap["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == FLAG)
        .unwrap()
        .clone();
    (serde_json::from_value(f).unwrap(), snap)
}

fn domain_user(line: &Value) -> User {
    let attrs = &line["attributes"];
    let mut u = User {
        id: line["name"].as_str().unwrap().to_string(),
        ..Default::default()
    };
    u.attributes.insert(
        "region".into(),
        attrs["region"].as_str().unwrap().to_string(),
    );
    if let Some(s) = attrs["segments"].as_array() {
        u.segments = s.iter().map(|s| s.as_str().unwrap().to_string()).collect();
    }
    u
}

/// Check every served result against the domain's evaluation; return (exposed, seen) per cohort.
fn check_against_domain(flag: &Flag, lines: &[Value]) -> BTreeMap<String, (usize, usize)> {
    assert_eq!(lines.len(), USERS);
    let fe = flag.env(ENV).unwrap();
    let mut shares: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for l in lines {
        assert_eq!(l["error"], Value::Null, "{l}");
        let e = evaluate(FLAG, fe, &domain_user(l));
        assert_eq!(l["variant"], e.variation, "served ≠ domain for {l}");
        assert_eq!(l["value"], json!(e.variation == "on"), "{l}");
        assert_eq!(l["cohort"].as_str(), e.cohort, "{l}");
        let s = shares
            .entry(e.cohort.unwrap_or("(none)").to_string())
            .or_default();
        s.0 += usize::from(e.exposed);
        s.1 += 1;
    }
    shares
}

fn share(shares: &BTreeMap<String, (usize, usize)>, cohort: &str) -> f64 {
    let (exposed, seen) = shares[cohort];
    exposed as f64 / seen as f64 * 100.0
}

/// Candidate evaluations the control plane counted for a cohort.
fn served(snap: &Value, cohort: &str, exposed: bool) -> u64 {
    snap["exposure"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter(|r| {
                    r["flag"] == FLAG
                        && r["env"] == ENV
                        && r["cohort"] == cohort
                        && r["exposed"] == exposed
                })
                .map(|r| r["total"].as_u64().unwrap())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_provider_gets_what_the_domain_says_and_a_rollback_moves_traffic() {
    let Some(python) = python() else { return };
    let (_dir, server, admin) = Server::fresh(&["--no-simulate", "--scenario", "calm"]);
    let http = Http::new(&server.url);
    let minted = cli(
        &server.url,
        &admin,
        &[
            "token",
            "add",
            "checkout-service",
            "--role",
            "sdk",
            "--env",
            ENV,
        ],
    );
    assert!(minted.contains("sdk in production"), "{minted}");
    let sdk = minted.lines().last().unwrap().trim().to_string();

    // 10,000 users through the official provider: each result is the domain's.
    let (before, _) = flag(&http, &admin).await;
    let t = Instant::now();
    let lines = drive(
        &python,
        &server.url,
        &sdk,
        &["evaluate", FLAG, &USERS.to_string(), "bearer"],
    );
    eprintln!(
        "10,000 evaluations through the Python OFREP provider in {:?}",
        t.elapsed()
    );
    let shares = check_against_domain(&before, &lines);
    let fe = before.env(ENV).unwrap();
    for c in &fe.cohorts {
        let got = share(&shares, c.name.as_str());
        let want = f64::from(c.effective_percent());
        eprintln!(
            "cohort {}: configured {want}%, served {got:.1}% of {}",
            c.name,
            shares[c.name.as_str()].1
        );
        assert!(
            (got - want).abs() <= 4.0,
            "cohort {} served {got:.1}%, configured {want}%",
            c.name
        );
    }
    let (_, snap) = flag(&http, &admin).await;
    let eu_before = served(&snap, "eu-west", true);
    assert_eq!(
        eu_before as usize, shares["eu-west"].0,
        "exposure counts what was served"
    );
    assert!(eu_before > 0);

    // A narrowed rollback of eu-west: the served share moves to 0 there and nowhere else.
    rollback_eu_west(&server.url, &admin, "ofrep test");
    let (after, _) = flag(&http, &admin).await;
    let lines = drive(
        &python,
        &server.url,
        &sdk,
        &["evaluate", FLAG, &USERS.to_string(), "apikey"],
    );
    let shares_after = check_against_domain(&after, &lines);
    assert_eq!(
        shares_after["eu-west"].0, 0,
        "eu-west still served the candidate after its rollback"
    );
    assert_eq!(
        shares_after["us-east"], shares["us-east"],
        "a narrowed rollback moved another cohort"
    );
    let (_, snap) = flag(&http, &admin).await;
    assert_eq!(
        served(&snap, "eu-west", true),
        eu_before,
        "no new candidate evaluations in eu-west"
    );
    assert_eq!(
        served(&snap, "eu-west", false) as usize,
        (shares["eu-west"].1 - shares["eu-west"].0) + shares_after["eu-west"].1
    );

    // A percent change (a reduction: applied at once in protected production) moves us-east's share.
    cli(
        &server.url,
        &admin,
        &[
            "act",
            "set-percent",
            FLAG,
            "us-east",
            "10",
            "--env",
            ENV,
            "--reason",
            "ofrep test",
        ],
    );
    let (lowered, _) = flag(&http, &admin).await;
    let lines = drive(
        &python,
        &server.url,
        &sdk,
        &["evaluate", FLAG, &USERS.to_string(), "bearer"],
    );
    let shares_lowered = check_against_domain(&lowered, &lines);
    let us = share(&shares_lowered, "us-east");
    eprintln!("us-east after set-percent 10: served {us:.1}%");
    assert!(
        (us - 10.0).abs() <= 3.0,
        "us-east served {us:.1}% after set-percent 10"
    );
    assert!(shares_lowered["us-east"].0 < shares["us-east"].0);

    // The error codes as the official provider reports them.
    let errors = drive(&python, &server.url, &sdk, &["errors", FLAG]);
    let code = |name: &str| errors.iter().find(|l| l["name"] == name).unwrap()["error"].clone();
    assert_eq!(code("unknown_flag"), "FLAG_NOT_FOUND");
    assert_eq!(code("no_targeting_key"), "TARGETING_KEY_MISSING");
    assert_eq!(code("wrong_type"), "TYPE_MISMATCH");
    let forbidden = drive(&python, &server.url, &admin, &["errors", FLAG]);
    assert_eq!(
        forbidden[0]["error"], "GENERAL",
        "an admin token does not evaluate: {}",
        forbidden[0]
    );

    // `status --json` carries the exposure too.
    let status = cli(&server.url, &admin, &["status", "--json"]);
    let status: Value = serde_json::from_str(&status).unwrap();
    assert!(
        status["exposure"].as_array().is_some_and(|e| !e.is_empty()),
        "status --json has no exposure"
    );
}
