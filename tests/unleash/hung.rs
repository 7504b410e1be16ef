//! A hung Unleash stalls nothing else; the write ends recorded as it really went.

use super::*;

/// The audit kinds flagtop recorded for `flag`, newest first.
async fn audit_kinds(http: &Http, token: &str, flag: &str) -> Vec<String> {
    let audit = http
        .get(&format!("/v1/audit?flag={flag}"), token)
        .await
        .body;
    audit["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_audit(http: &Http, token: &str, flag: &str, kind: &str) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    loop {
        let kinds = audit_kinds(http, token, flag).await;
        if kinds.iter().any(|k| k == kind) {
            return kinds;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no `{kind}` in the audit of {flag}: {kinds:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_unleash_stalls_nothing_else_and_the_write_ends_recorded_as_it_really_went() {
    let Some(u) = unleash() else { return };
    let name = unique("stall");
    u.feature(&name, &[("eu-west", 25), ("us-east", 25)]).await;
    let upstream: std::net::SocketAddr = u
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("unleash address");
    let proxy = common::fault::FaultProxy::start(upstream).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(
        dir.path(),
        &[
            "--no-simulate",
            "--flags",
            "unleash",
            "--unleash-url",
            &proxy.url,
            "--unleash-poll-secs",
            "1",
        ],
    );
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let rollback =
        json!({"type": "rollback", "flag": name, "env": "production", "cohort": "eu-west"});

    // 1. Unleash hangs and never sees the request: while the write waits, the control plane
    //    answers; the write ends "outcome unknown" (never "nothing was changed"), and once
    //    Unleash answers again the read-back records that it was NOT applied.
    proxy.set(common::fault::Mode::Stall);
    // The write waits for Unleash's timeout twice (the write, then the read-back): give it time.
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("client");
    let (url, a, r) = (
        format!("{}/v1/actions", server.url),
        admin.clone(),
        rollback.clone(),
    );
    let hung = tokio::spawn(async move {
        let resp = patient
            .post(url)
            .bearer_auth(a)
            .json(&json!({"action": r, "reason": "rollback while unleash hangs"}))
            .send()
            .await
            .expect("answer");
        let status = resp.status().as_u16();
        common::Reply {
            status,
            body: resp.json().await.unwrap_or(Value::Null),
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    for path in ["/v1/snapshot", "/v1/approvals", "/v1/audit?limit=5"] {
        let started = std::time::Instant::now();
        let r = quick
            .get(format!("{}{path}", server.url))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("answers while Unleash hangs");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert!(
            !hung.is_finished(),
            "the write should still be waiting for Unleash ({path} after {:?})",
            started.elapsed()
        );
    }
    let reply = hung.await.expect("task");
    assert_eq!(reply.status, 502, "{:?}", reply.body);
    assert_eq!(
        reply.body["error"]["code"], "outcome_unknown",
        "{:?}",
        reply.body
    );
    assert!(
        !reply.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nothing was changed")
    );
    proxy.set(common::fault::Mode::Pass);
    let kinds = wait_audit(&http, &admin, &name, "not_applied").await;
    assert!(kinds.contains(&"outcome_unknown".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"applied".to_string()), "{kinds:?}");
    assert_eq!(
        u.production(&name).await.1[0],
        ("eu-west".to_string(), false, "25".to_string()),
        "Unleash untouched"
    );

    // 2. Unleash applies it but the answer is lost (and so is the read-back): recorded as
    //    unknown, then as applied once Unleash answers, with flagtop's view following.
    proxy.set(common::fault::Mode::LoseResponse);
    let patient = Http {
        url: server.url.clone(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .expect("client"),
    };
    let reply = act(&patient, &admin, rollback.clone(), "rollback, answer lost").await;
    assert_eq!(
        (reply.status, reply.body["error"]["code"].as_str()),
        (502, Some("outcome_unknown")),
        "{:?}",
        reply.body
    );
    proxy.set(common::fault::Mode::Pass);
    wait_audit(&http, &admin, &name, "applied").await;
    assert!(
        u.production(&name).await.1[0].1,
        "Unleash has eu-west disabled"
    );
    let snap = http.get("/v1/snapshot", &admin).await.body;
    assert_eq!(
        cohort(&snap, &name, "production", "eu-west")["rolled_back"],
        true
    );
    assert_eq!(
        cohort(&snap, &name, "production", "us-east")["rolled_back"],
        false
    );
    assert!(
        snap.get("unsettled").is_none(),
        "{:?}",
        snap.get("unsettled")
    );
}
