//! `flagtop propose` and `flagtop approvals withdraw` against a real `flagtop serve`: an agent's
//! proposal goes through the door as a pending request (the id printed, JSON with `--json`)
//! and changes nothing; a reverse that does not undo it, bad evidence or a viewer are refused;
//! only the requester withdraws, and only while the request is pending.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::{Http, Server, cohort};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}; stderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

async fn request(http: &Http, token: &str, id: &str) -> Value {
    let r = http.get("/v1/approvals", token).await;
    assert_eq!(r.status, 200);
    r.body["approvals"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no request {id} in {}", r.body))
}

async fn us_east(http: &Http, token: &str) -> Value {
    let snap = http.get("/v1/snapshot", token).await.body;
    cohort(&snap, "checkout-v2", "production", "us-east").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_proposes_with_evidence_and_nothing_changes_until_a_person_decides() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let bot = http.token(&admin, "bot", "agent").await;
    let viewer = http.token(&admin, "vera", "viewer").await;
    let before = us_east(&http, &admin).await;
    let out = server.cli(
        &bot,
        &[
            "propose", "set-percent", "checkout-v2", "us-east", "50", "--env", "production",
            "--reason", "us-east healthy for an hour",
            "--reverse", "set-percent checkout-v2 us-east 25",
            "--evidence", "metric=p95_latency_ms,cohort=us-east,candidate=180,baseline=175,threshold=218,samples=1860,window=300,status=healthy",
            "--evidence", r#"{"metric":"error_rate","cohort":"us-east","candidate":0.001,"samples":1860}"#,
            "--evidence-gap", "no data from mobile clients",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = text
        .split("(request ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("the request id printed")
        .to_string();
    assert!(id.starts_with("apr-"), "{text}");
    assert!(text.contains("flagtop approvals withdraw"), "{text}");
    let req = request(&http, &admin, &id).await;
    assert_eq!(req["state"], "pending", "{req}");
    assert_eq!(req["requested_by"]["name"], "bot");
    assert_eq!(req["evidence"].as_array().map(Vec::len), Some(2), "{req}");
    assert_eq!(req["evidence"][0]["metric"], "p95_latency_ms");
    assert_eq!(req["evidence"][0]["window_secs"], 300);
    assert_eq!(req["evidence_gap"], "no data from mobile clients");
    assert_eq!(req["reverse"]["percent"], 25, "{req}");
    // Nothing changed: a person decides.
    assert_eq!(us_east(&http, &admin).await, before);

    // --json: the outcome as JSON, its request id included.
    let out = server.cli(
        &bot,
        &[
            "propose",
            "pause",
            "checkout-v2",
            "--env",
            "production",
            "--reason",
            "hold",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["outcome"], "requested", "{v}");
    assert_eq!(v["action"]["type"], "pause", "{v}");
    let jid = v["approval_id"].as_str().expect("approval_id");
    assert_eq!(request(&http, &admin, jid).await["state"], "pending");

    // Refusals: a reverse that does not undo it (6), evidence that is not a fact (2), a viewer
    // (4). None records anything.
    let count = |body: &Value| body["approvals"].as_array().map_or(0, Vec::len);
    let n = count(&http.get("/v1/approvals", &admin).await.body);
    let wrong = server.cli(
        &bot,
        &[
            "propose",
            "set-percent",
            "checkout-v2",
            "us-east",
            "75",
            "--env",
            "production",
            "--reason",
            "x",
            "--reverse",
            "set-percent checkout-v2 us-east 10",
            "--json",
        ],
    );
    assert_eq!(
        wrong.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&wrong.stdout)
    );
    assert_eq!(json(&wrong)["error"]["code"], "reverse_mismatch");
    let bad = server.cli(
        &bot,
        &[
            "propose",
            "pause",
            "search-ranking-v3",
            "--env",
            "production",
            "--reason",
            "x",
            "--evidence",
            "colour=red",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no field `colour`"));
    let denied = server.cli(
        &viewer,
        &[
            "propose",
            "pause",
            "search-ranking-v3",
            "--env",
            "production",
            "--reason",
            "x",
            "--json",
        ],
    );
    assert_eq!(denied.status.code(), Some(4));
    assert_eq!(json(&denied)["error"]["code"], "forbidden");
    let no_reason = server.cli(
        &bot,
        &[
            "propose",
            "pause",
            "search-ranking-v3",
            "--env",
            "production",
        ],
    );
    assert_eq!(no_reason.status.code(), Some(2));
    assert_eq!(count(&http.get("/v1/approvals", &admin).await.body), n);
    assert_eq!(us_east(&http, &admin).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_requester_withdraws_and_only_while_pending() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let bot = http.token(&admin, "bot", "agent").await;
    let olga = http.token(&admin, "olga", "operator").await;
    let alice = http.token(&admin, "alice", "approver").await;
    let out = server.cli(
        &bot,
        &[
            "propose",
            "set-percent",
            "checkout-v2",
            "us-east",
            "50",
            "--env",
            "production",
            "--reason",
            "ready",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let id = json(&out)["approval_id"].as_str().expect("id").to_string();
    let before = us_east(&http, &admin).await;
    // Not yours: refused (4) for an operator and for an approver alike; still pending.
    for who in [&olga, &alice] {
        let out = server.cli(
            who,
            &[
                "approvals",
                "withdraw",
                &id,
                "--reason",
                "mine now",
                "--json",
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(4),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let v = json(&out);
        assert_eq!(v["error"]["code"], "not_your_request", "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("bot"),
            "{v}"
        );
    }
    assert_eq!(request(&http, &admin, &id).await["state"], "pending");
    // The requester withdraws it: closed, by them, and nothing changed.
    let out = server.cli(
        &bot,
        &["approvals", "withdraw", &id, "--reason", "new data"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("withdrawn: set-percent checkout-v2/us-east"),
        "{text}"
    );
    let req = request(&http, &admin, &id).await;
    assert_eq!(req["state"], "rejected", "{req}");
    assert_eq!(req["decided_by"]["name"], "bot", "{req}");
    assert_eq!(us_east(&http, &admin).await, before);
    // Already decided: a conflict (3); unknown: 5.
    let again = server.cli(
        &bot,
        &["approvals", "withdraw", &id, "--reason", "again", "--json"],
    );
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(json(&again)["error"]["code"], "approval_not_pending");
    let nope = server.cli(
        &bot,
        &["approvals", "withdraw", "apr-nope", "--reason", "x"],
    );
    assert_eq!(nope.status.code(), Some(5));
    // A person withdraws their own request too (an operator's expansion in production).
    let out = server.cli(
        &olga,
        &[
            "act",
            "set-percent",
            "checkout-v2",
            "eu-west",
            "50",
            "--env",
            "production",
            "--reason",
            "next",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["outcome"], "requested", "{v}");
    let oid = v["approval_id"].as_str().expect("id").to_string();
    let out = server.cli(
        &olga,
        &[
            "approvals",
            "withdraw",
            &oid,
            "--reason",
            "too early",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(
        (v["outcome"].as_str(), v["approval_id"].as_str()),
        (Some("rejected"), Some(oid.as_str()))
    );
}
