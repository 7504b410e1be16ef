//! flagtop in front of a REAL Unleash the way teams run it (issue 18): an approval applies
//! exactly what was shown or answers "outdated"; compare-and-set on constraints too; a burst of
//! one writer's changes never conflicts with itself; the event log is followed by id with
//! catch-up after a pause or a restart; archived flags go away; selectors are shown as they
//! are (operators, inversion, case, segments, variants); `status` says when the flag store
//! cannot be reached and exits 7.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::unleash::{Unleash, act, eventually, flag, serve, unique, unleash};
use common::{Http, Server, cohort};
use serde_json::{Value, json};
use std::time::Duration;

fn set_percent(flag: &str, env: &str, cohort: &str, percent: u8) -> Value {
    json!({"type": "set_percent", "flag": flag, "env": env, "cohort": cohort, "percent": percent})
}

async fn audit(http: &Http, token: &str, flag: &str) -> Vec<Value> {
    http.get(&format!("/v1/audit?flag={flag}&limit=500"), token)
        .await
        .body["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn signal(server: &Server, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &server.child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug1_an_approval_applies_exactly_what_was_shown_or_answers_outdated() {
    let Some(u) = unleash() else { return };
    let name = unique("restore");
    let ids = u.feature(&name, &[("eu-west", 25), ("us-east", 25)]).await;
    let dir = tempfile::tempdir().expect("tmp");
    // No polling: flagtop keeps what it saw, as within a sync interval.
    let server = serve(dir.path(), &u, "3600");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let alice = http.token(&admin, "alice", "operator").await;
    let bob = http.token(&admin, "bob", "approver").await;
    let rollback =
        json!({"type": "rollback", "flag": name, "env": "production", "cohort": "eu-west"});
    assert_eq!(act(&http, &alice, rollback, "p95 breach").await.status, 200);
    let r = act(
        &http,
        &alice,
        json!({"type": "restore", "flag": name, "env": "production", "cohort": "eu-west"}),
        "recovered",
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id = r.body["approval_id"].as_str().expect("request").to_string();

    // Someone sets eu-west to 100 directly in Unleash; bob approves what he was shown (25).
    assert_eq!(
        u.patch(
            &name,
            &ids[0],
            json!([{"op": "replace", "path": "/parameters/rollout", "value": "100"}])
        )
        .await,
        200
    );
    let r = http
        .post(
            &format!("/v1/approvals/{id}/approve"),
            &bob,
            json!({"reason": "looks fine"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("outdated")),
        "{:?}",
        r.body
    );
    assert_eq!(
        u.production(&name).await.1[0],
        ("eu-west".to_string(), true, "100".to_string()),
        "nothing nobody saw was applied"
    );
    let events = audit(&http, &admin, &name).await;
    assert!(
        !events
            .iter()
            .any(|e| e["kind"] == "applied" && e["action"]["type"] == "restore"),
        "{events:#?}"
    );

    // A constraint changed underneath (IN → NOT_IN): a reduction decided on the old selector
    // is refused too, and Unleash keeps what it holds.
    let ops = json!([{"op": "replace", "path": "/constraints/0/operator", "value": "NOT_IN"}]);
    assert_eq!(u.patch(&name, &ids[1], ops).await, 200);
    let r = act(
        &http,
        &alice,
        set_percent(&name, "production", "us-east", 10),
        "slow down",
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{:?}",
        r.body
    );
    assert_eq!(u.production(&name).await.1[1].2, "25");

    // Variants added underneath: refused as well.
    let ops = json!([{"op": "replace", "path": "/constraints/0/operator", "value": "IN"},
        {"op": "add", "path": "/variants", "value": [{"name": "blue", "weight": 1000, "weightType": "variable", "stickiness": "default"}]}]);
    assert_eq!(u.patch(&name, &ids[1], ops).await, 200);
    let r = act(
        &http,
        &alice,
        set_percent(&name, "production", "us-east", 10),
        "slow down",
    )
    .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(u.production(&name).await.1[1].2, "25");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug3_one_writers_burst_of_100_set_percents_never_conflicts_with_itself() {
    let Some(u) = unleash() else { return };
    let name = unique("burst");
    u.feature_with(
        &name,
        "development",
        &[Unleash::region(&name, "eu-west", 10)],
    )
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let mut failures = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..100u8 {
        let r = act(
            &http,
            &admin,
            set_percent(&name, "development", "eu-west", 11 + i % 80),
            "burst",
        )
        .await;
        if r.status != 200 {
            failures.push((i, r.status, r.body));
        }
    }
    eprintln!(
        "100 set-percents through flagtop in {:?}",
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of 100 failed: {failures:#?}",
        failures.len()
    );
    let last = (11 + 99 % 80).to_string();
    let (_, strategies) = u
        .call(reqwest::Method::GET, u.feature_url(&name), None)
        .await;
    let dev = strategies["environments"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == "development"))
        .cloned()
        .expect("dev");
    assert_eq!(dev["strategies"][0]["parameters"]["rollout"], last.as_str());
    // The view never steps back: after the follower's polls it still shows the last write.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let snap = http.get("/v1/snapshot", &admin).await.body;
    assert_eq!(
        cohort(&snap, &name, "development", "eu-west")["percent"].to_string(),
        last
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug4_events_made_while_serve_was_paused_or_down_are_caught_up() {
    let Some(u) = unleash() else { return };
    let (a, b) = (unique("quiet"), unique("noisy"));
    let a_ids = u
        .feature_with(&a, "development", &[Unleash::region(&a, "eu-west", 10)])
        .await;
    let b_ids = u
        .feature_with(&b, "development", &[Unleash::region(&b, "eu-west", 10)])
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let op = http.token(&admin, "carol", "operator").await;
    let percent = |snap: &Value| cohort(snap, &a, "development", "eu-west")["percent"].as_u64();

    // Paused: one change to A, then 110 to B (more than one page of the event log).
    signal(&server, "-STOP");
    assert_eq!(
        u.patch_in(
            &a,
            "development",
            &a_ids[0],
            json!([{"op": "replace", "path": "/parameters/rollout", "value": "33"}])
        )
        .await,
        200
    );
    for i in 0..110 {
        let ops = json!([{"op": "replace", "path": "/parameters/rollout", "value": (20 + i % 50).to_string()}]);
        assert_eq!(u.patch_in(&b, "development", &b_ids[0], ops).await, 200);
    }
    signal(&server, "-CONT");
    eventually(15, "A's change made while serve was paused", || async {
        (percent(&http.get("/v1/snapshot", &op).await.body) == Some(33)).then_some(())
    })
    .await;
    assert!(
        audit(&http, &op, &a)
            .await
            .iter()
            .any(|e| e["kind"] == "external"),
        "A's event is in Activity"
    );
    let r = act(
        &http,
        &op,
        set_percent(&a, "development", "eu-west", 30),
        "on the fresh view",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Down: a change made while no flagtop runs is there at the next start, in Activity too.
    // (First let the follower see Unleash's event for flagtop's own write above: a write made
    // in the last poll interval before a crash is shown once more after the restart.)
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let before = audit(&http, &op, &a)
        .await
        .iter()
        .filter(|e| e["kind"] == "external")
        .count();
    drop(server);
    assert_eq!(
        u.patch_in(
            &a,
            "development",
            &a_ids[0],
            json!([{"op": "replace", "path": "/parameters/rollout", "value": "44"}])
        )
        .await,
        200
    );
    let server = serve(dir.path(), &u, "1");
    let http = Http::new(&server.url);
    assert_eq!(percent(&http.get("/v1/snapshot", &op).await.body), Some(44));
    let after = audit(&http, &op, &a)
        .await
        .iter()
        .filter(|e| e["kind"] == "external")
        .count();
    assert_eq!(
        after,
        before + 1,
        "the change made while serve was down is in Activity"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug5_archived_flags_go_away_within_a_poll_and_after_a_restart() {
    let Some(u) = unleash() else { return };
    let (live, later) = (unique("archive-live"), unique("archive-down"));
    u.feature(&live, &[("eu-west", 25)]).await;
    u.feature(&later, &[("eu-west", 25)]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let op = http.token(&admin, "dave", "operator").await;
    let archived = |snap: &Value, key: &str| {
        let f = flag(snap, key);
        f["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("[archived"))
            && f["environments"].as_object().is_some_and(|e| e.is_empty())
    };
    u.archive(&live).await;
    eventually(10, "the archived flag goes away", || async {
        archived(&http.get("/v1/snapshot", &op).await.body, &live).then_some(())
    })
    .await;
    let r = act(
        &http,
        &op,
        json!({"type": "rollback", "flag": live, "env": "production", "cohort": "eu-west"}),
        "x",
    )
    .await;
    assert_ne!(r.status, 200);
    assert_ne!(
        r.body["error"]["code"], "flag_store_refused",
        "refused by flagtop, not by Unleash's 422: {:?}",
        r.body
    );

    drop(server);
    u.archive(&later).await;
    let server = serve(dir.path(), &u, "1");
    let http = Http::new(&server.url);
    let snap = http.get("/v1/snapshot", &op).await.body;
    assert!(archived(&snap, &live), "still archived after a restart");
    assert!(archived(&snap, &later), "archived while serve was down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug6_7_selectors_operators_segments_and_variants_are_shown_as_they_are() {
    let Some(u) = unleash() else { return };
    let name = unique("selectors");
    let segment = unique("beta testers");
    let (s, v) = u
        .call(reqwest::Method::POST, format!("{}/api/admin/segments", u.url),
            Some(json!({"name": segment, "constraints": [{"contextName": "userId", "operator": "IN", "values": ["u1"]}]})))
        .await;
    assert!(s == 201 || s == 200, "segment: {s} {v}");
    let seg_id = v["id"].as_u64().expect("segment id");
    let vip = json!({"name": "flexibleRollout", "title": "", "parameters": {"rollout": "30", "stickiness": "default", "groupId": name},
        "constraints": [
            {"contextName": "userId", "operator": "STR_STARTS_WITH", "values": ["vip-"], "caseInsensitive": true},
            {"contextName": "region", "operator": "IN", "values": ["eu-west"], "inverted": true}],
        "variants": [{"name": "blue", "weight": 500, "weightType": "variable", "stickiness": "default"},
                     {"name": "green", "weight": 500, "weightType": "variable", "stickiness": "default"}]});
    let beta = json!({"name": "flexibleRollout", "title": "", "parameters": {"rollout": "50", "stickiness": "default", "groupId": name},
        "segments": [seg_id]});
    u.feature_with(&name, "production", &[vip, beta]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let snap = http.get("/v1/snapshot", &admin).await.body;
    let f = flag(&snap, &name);
    let cohorts = f["environments"]["production"]["cohorts"]
        .as_array()
        .cloned()
        .expect("cohorts");
    assert_eq!(cohorts.len(), 2, "{cohorts:#?}");
    let first = &cohorts[0];
    let cname = first["name"].as_str().expect("name");
    assert!(
        cname.contains("not-eu-west") && !cname.starts_with("eu-west"),
        "the name never claims an excluded value: {cname}"
    );
    let c = &first["selector"]["constraints"];
    assert_eq!(
        (c[0]["op"].as_str(), c[0]["case_insensitive"].as_bool()),
        (Some("str_starts_with"), Some(true)),
        "{c}"
    );
    assert_eq!(
        (c[1]["op"].as_str(), c[1]["inverted"].as_bool()),
        (Some("in"), Some(true)),
        "{c}"
    );
    assert_eq!(
        first["variants"],
        json!([{"name": "blue", "weight": 500}, {"name": "green", "weight": 500}])
    );
    assert_eq!(f["kind"], "multivariate");
    assert!(
        f["variations"]
            .as_array()
            .expect("variations")
            .iter()
            .any(|v| v == "green")
    );
    assert_eq!(
        cohorts[1]["selector"],
        json!({"type": "segment", "segment": segment}),
        "segments by name"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug8_status_shows_the_sync_state_and_exits_7_when_the_flag_store_is_unreachable() {
    let Some(u) = unleash() else { return };
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
    let status = |json: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"));
        cmd.args(["status", "--backend", &server.url])
            .env("FLAGTOP_TOKEN", &admin);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("status");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, text) = eventually(10, "a first confirmed sync", || async {
        let (code, text) = status(false);
        text.contains("flag store in sync").then_some((code, text))
    })
    .await;
    assert_eq!(code, Some(0), "{text}");
    proxy.set(common::fault::Mode::Drop);
    let (code, text) = eventually(15, "status reports the failing sync", || async {
        let (code, text) = status(false);
        text.contains("sync FAILING").then_some((code, text))
    })
    .await;
    assert_eq!(
        code,
        Some(7),
        "exit 7 for an unreachable flag store: {text}"
    );
    let (code, body) = status(true);
    assert_eq!(code, Some(7));
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["flag_store_sync"]["state"], "failing", "{v}");
    assert!(v["flag_store_sync"]["error"].is_string());
    proxy.set(common::fault::Mode::Pass);
    eventually(15, "back in sync", || async {
        (status(false).0 == Some(0)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug9_a_flag_that_is_simply_off_is_off_and_a_kill_stays_killed() {
    let Some(u) = unleash() else { return };
    let (off, killed) = (unique("plain-off"), unique("killed"));
    // Never turned on in Unleash.
    let url = format!("{}/api/admin/projects/default/features", u.url);
    let (s, v) = u
        .call(
            reqwest::Method::POST,
            url,
            Some(json!({"name": off, "type": "release"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = u
        .call(
            reqwest::Method::POST,
            format!("{}/environments/production/strategies", u.feature_url(&off)),
            Some(Unleash::region(&off, "eu-west", 25)),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    u.feature(&killed, &[("eu-west", 25)]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let r = act(
        &http,
        &admin,
        json!({"type": "kill", "flag": killed, "env": "production"}),
        "incident",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Let the follower read both back from Unleash (both are simply disabled there).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["status", "--json", "--backend", &server.url])
        .env("FLAGTOP_TOKEN", &admin)
        .output()
        .expect("status");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let state = |key: &str| flag(&v, key)["environments"]["production"]["state"].clone();
    assert_eq!(state(&off), "off", "never turned on is off, not KILLED");
    assert_eq!(
        state(&killed),
        "killed",
        "flagtop's kill stays a kill after the follower's reads"
    );
}
