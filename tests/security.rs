//! Who may do what, proven against a real `flagtop serve`: every endpoint × every role, two
//! operators racing on one flag (exactly one wins), tokens stored hashed and never logged,
//! token files that others can read refused, owner-only endpoint files, and the loud warning
//! for a non-loopback listener.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::{Http, Server};
use serde_json::json;
use std::collections::BTreeMap;

const ROLES: [&str; 5] = ["viewer", "operator", "approver", "agent", "admin"];

struct Fixture {
    _dir: tempfile::TempDir,
    server: Server,
    http: Http,
    admin: String,
    tokens: BTreeMap<&'static str, String>,
}

async fn fixture() -> Fixture {
    let (dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let mut tokens = BTreeMap::new();
    for r in ROLES {
        tokens.insert(r, http.token(&admin, &format!("{r}-user"), r).await);
    }
    Fixture {
        _dir: dir,
        server,
        http,
        admin,
        tokens,
    }
}

/// A pending request made by the admin (so every other identity may decide it).
async fn pending(f: &Fixture, percent: u8) -> String {
    let r = f
        .http
        .post(
            "/v1/proposals",
            &f.admin,
            json!({"action": {"type": "set_percent", "flag": "assistant-pr-creation", "env": "production", "cohort": "payments-team", "percent": percent}, "reason": "table test"}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    r.body["approval_id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_by_every_role() {
    let f = fixture().await;
    // (endpoint, expected status for viewer, operator, approver, agent, admin)
    let mut table: Vec<(String, [u16; 5])> = Vec::new();
    let mut check = |name: String, got: [u16; 5], want: [u16; 5]| {
        assert_eq!(
            got, want,
            "{name}: got {got:?}, want {want:?} for {ROLES:?}"
        );
        table.push((name, got));
    };
    for (path, name) in [
        ("/v1/whoami", "GET /v1/whoami"),
        ("/v1/snapshot", "GET /v1/snapshot"),
        ("/v1/approvals", "GET /v1/approvals"),
        ("/v1/audit", "GET /v1/audit"),
        ("/v1/flags", "GET /v1/flags"),
        ("/v1/flags/checkout-v2", "GET /v1/flags/{key}"),
        ("/v1/webhooks", "GET /v1/webhooks"),
        ("/v1/webhooks/log", "GET /v1/webhooks/log"),
    ] {
        let mut got = [0; 5];
        for (i, r) in ROLES.iter().enumerate() {
            got[i] = f.http.get(path, &f.tokens[r]).await.status;
        }
        check(name.into(), got, [200; 5]);
        assert_eq!(
            f.http.call("GET", path, None, None, &[]).await.status,
            401,
            "{name} without a token"
        );
        assert_eq!(
            f.http
                .call("GET", path, Some("ft_wrong"), None, &[])
                .await
                .status,
            401,
            "{name} with a bad token"
        );
    }
    // The stream: the status line only.
    let mut got = [0; 5];
    for (i, r) in ROLES.iter().enumerate() {
        let resp = f
            .http
            .client
            .get(format!("{}/v1/stream", f.server.url))
            .bearer_auth(&f.tokens[r])
            .send()
            .await
            .expect("stream");
        got[i] = resp.status().as_u16();
    }
    check("GET /v1/stream".into(), got, [200; 5]);
    assert_eq!(
        f.http.call("GET", "/healthz", None, None, &[]).await.status,
        200
    );

    // Actions: a change in unprotected staging (different each time so each is valid).
    let mut got = [0; 5];
    for (i, r) in ROLES.iter().enumerate() {
        let a = json!({"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "us-east", "percent": 10 + i});
        got[i] = f
            .http
            .post(
                "/v1/actions",
                &f.tokens[r],
                json!({"action": a, "reason": "table"}),
            )
            .await
            .status;
    }
    check("POST /v1/actions".into(), got, [403, 200, 200, 403, 200]);
    // Proposals: everyone but viewers.
    let mut got = [0; 5];
    for (i, r) in ROLES.iter().enumerate() {
        let a = json!({"type": "set_percent", "flag": "assistant-pr-creation", "env": "production", "cohort": "web-team", "percent": 60 + i});
        got[i] = f
            .http
            .post(
                "/v1/proposals",
                &f.tokens[r],
                json!({"action": a, "reason": "table"}),
            )
            .await
            .status;
    }
    check("POST /v1/proposals".into(), got, [403, 202, 202, 202, 202]);
    // Decisions on someone else's request.
    for verb in ["approve", "reject"] {
        let mut got = [0; 5];
        for (i, r) in ROLES.iter().enumerate() {
            let id = pending(&f, (i * 7 + if verb == "approve" { 1 } else { 2 }) as u8).await;
            got[i] = f
                .http
                .post(
                    &format!("/v1/approvals/{id}/{verb}"),
                    &f.tokens[r],
                    json!({"reason": "table"}),
                )
                .await
                .status;
        }
        check(
            format!("POST /v1/approvals/{{id}}/{verb}"),
            got,
            [403, 403, 200, 403, 200],
        );
    }
    // Metrics: everyone who is not a viewer may push.
    let mut got = [0; 5];
    for (i, r) in ROLES.iter().enumerate() {
        let s = json!({"samples": [{"flag": "checkout-v2", "env": "production", "metric": "error_rate", "cohort": "us-east", "arm": "candidate", "value": 0.01, "count": 10}]});
        got[i] = f.http.post("/v1/metrics", &f.tokens[r], s).await.status;
    }
    check("POST /v1/metrics".into(), got, [403, 200, 200, 200, 200]);
    // Definitions and tokens: admins only.
    let flag = f
        .http
        .get("/v1/flags/search-ranking-v3", &f.admin)
        .await
        .body;
    let mut got = [0; 5];
    for (i, r) in ROLES.iter().enumerate() {
        got[i] = f
            .http
            .call(
                "PUT",
                "/v1/flags/search-ranking-v3",
                Some(&f.tokens[r]),
                Some(flag.clone()),
                &[],
            )
            .await
            .status;
    }
    check("PUT /v1/flags/{key}".into(), got, [403, 403, 403, 403, 200]);
    let mut got = [0; 5];
    for (i, r) in ROLES.iter().enumerate() {
        got[i] = f
            .http
            .call(
                "PUT",
                "/v1/environments/staging",
                Some(&f.tokens[r]),
                Some(json!({"key": "staging", "protected": false})),
                &[],
            )
            .await
            .status;
    }
    check(
        "PUT /v1/environments/{key}".into(),
        got,
        [403, 403, 403, 403, 200],
    );
    let mut got = [0; 5];
    for (i, r) in ROLES.iter().enumerate() {
        got[i] = f
            .http
            .post(
                "/v1/tokens",
                &f.tokens[r],
                json!({"name": format!("minted-{i}"), "role": "viewer"}),
            )
            .await
            .status;
    }
    check("POST /v1/tokens".into(), got, [403, 403, 403, 403, 200]);
    // Every authenticated endpoint refuses a missing token.
    for (m, p) in [
        ("POST", "/v1/actions"),
        ("POST", "/v1/proposals"),
        ("POST", "/v1/metrics"),
        ("POST", "/v1/tokens"),
        ("PUT", "/v1/flags/x"),
        ("PUT", "/v1/webhooks/x"),
        ("DELETE", "/v1/webhooks/x"),
        ("GET", "/v1/stream"),
    ] {
        assert_eq!(
            f.http.call(m, p, None, Some(json!({})), &[]).await.status,
            401,
            "{m} {p}"
        );
    }
    eprintln!("endpoint × role ({ROLES:?}):");
    for (name, got) in &table {
        eprintln!("  {name:<34} {got:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_operators_racing_exactly_one_wins_each_time() {
    let f = fixture().await;
    let alice = f.http.token(&f.admin, "alice", "operator").await;
    let bob = f.http.token(&f.admin, "bob", "operator").await;
    let percent = |flag: &serde_json::Value, cohort: &str| {
        flag["environments"]["staging"]["cohorts"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == cohort))
            .map(|c| c["percent"].clone())
    };
    for round in 0..20u8 {
        let snap = f.http.get("/v1/flags/checkout-v2", &alice).await.body;
        let rev = snap["revision"].as_u64().expect("rev");
        // Both decided on the same revision; each wants a different change of the same flag.
        let a = json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "eu-west", "percent": round}, "reason": "alice", "expected_revision": rev});
        let b = json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "us-east", "percent": round}, "reason": "bob", "expected_revision": rev});
        let (ra, rb) = tokio::join!(
            f.http.post("/v1/actions", &alice, a),
            f.http.post("/v1/actions", &bob, b)
        );
        let statuses = [ra.status, rb.status];
        assert!(
            statuses.contains(&200) && statuses.contains(&409),
            "round {round}: {statuses:?} {:?} {:?}",
            ra.body,
            rb.body
        );
        // Alice changes eu-west, Bob us-east.
        let (loser, won, lost) = if ra.status == 200 {
            (&rb, "eu-west", "us-east")
        } else {
            (&ra, "us-east", "eu-west")
        };
        assert_eq!(loser.body["error"]["code"], "conflict");
        assert!(loser.body["error"]["current_revision"].as_u64() > Some(rev));
        // Only the winner's change is in the state.
        let after = f.http.get("/v1/flags/checkout-v2", &alice).await.body;
        assert_eq!(
            percent(&after, won),
            Some(json!(round)),
            "round {round}: the winner's change applied"
        );
        assert_ne!(
            percent(&after, lost),
            Some(json!(round)),
            "round {round}: the loser's change did not"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_hashed_never_logged_and_files_are_owner_only() {
    let f = fixture().await;
    // The data dir and the endpoint file are owner-only.
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&f.server.data), 0o700);
    assert_eq!(mode(&f.server.data.join("endpoint.json")), 0o600);
    // Some traffic, so that tokens would show up if they were stored or logged in clear.
    for t in f.tokens.values() {
        assert_eq!(f.http.get("/v1/whoami", t).await.status, 200);
    }
    let mut secrets: Vec<&str> = f.tokens.values().map(String::as_str).collect();
    secrets.push(&f.admin);
    for entry in std::fs::read_dir(&f.server.data).expect("dir") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n == "endpoint.json") {
            continue; // holds only the owner's per-process token, mode 0600
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for s in &secrets {
            assert!(
                !text.contains(s),
                "{} contains a token in clear",
                path.display()
            );
            assert!(
                !text.contains(&s[3..]),
                "{} contains a token's secret",
                path.display()
            );
        }
    }
    // A token file others can read is refused; an owner-only one works.
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{}\n", f.tokens["viewer"])).expect("write");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
            .args(["status", "--json", "--backend", &f.server.url])
            .env_remove("FLAGTOP_TOKEN")
            .env("FLAGTOP_TOKEN_FILE", &file)
            .output()
            .expect("run")
    };
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    // With --json the error is JSON on stdout.
    let err: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON error");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("readable by others")),
        "{err}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_non_loopback_listener_warns_loudly() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["serve", "--listen", "0.0.0.0:0", "--no-simulate", "--data"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = child.stderr.take().expect("stderr");
    // stderr is unbuffered and the warning may arrive in pieces: read until the full line.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let mut buf = [0u8; 4096];
        while !text.contains('\n') {
            match std::io::Read::read(&mut stderr, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
        text
    });
    let text = reader.join().expect("read");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        text.contains("WARNING") && text.contains("WITHOUT TLS"),
        "{text}"
    );
}
