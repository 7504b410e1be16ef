//! flagtop in front of a REAL Unleash (issue 18), what is shown: selectors as they are —
//! operators, inversion, case, segments by name, variants (bugs 6, 7); `status` says when the
//! flag store cannot be reached and exits 7 (bug 8); off is not KILLED (bug 9).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::unleash::{Unleash, act, eventually, flag, serve, unique, unleash};
use common::{Http, Server};
use serde_json::{Value, json};
use std::time::Duration;

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
        json!({"type": "constraints", "segments": [segment], "constraints": [
            {"attribute": "userId", "op": "in", "values": ["u1"], "segment": segment}]}),
        "segments by name, with their own constraints"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bug6_7_a_segment_is_shown_with_its_own_constraints_and_never_named_by_an_excluded_value() {
    let Some(u) = unleash() else { return };
    let name = unique("segmented");
    let segment = unique("eu staff");
    let (s, v) = u
        .call(reqwest::Method::POST, format!("{}/api/admin/segments", u.url),
            Some(json!({"name": segment, "constraints": [
                {"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@example.com"], "caseInsensitive": true},
                {"contextName": "region", "operator": "IN", "values": ["us-east"], "inverted": true},
                {"contextName": "appVersion", "operator": "SEMVER_GT", "value": "2.1.0"}]})))
        .await;
    assert!(s == 201 || s == 200, "segment: {s} {v}");
    let seg_id = v["id"].as_u64().expect("segment id");
    let strategy = json!({"name": "flexibleRollout", "title": "", "parameters": {"rollout": "40", "stickiness": "default", "groupId": name},
        "segments": [seg_id],
        "constraints": [{"contextName": "plan", "operator": "IN", "values": ["pro"]}]});
    u.feature_with(&name, "production", &[strategy]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let snap = Http::new(&server.url)
        .get("/v1/snapshot", &admin)
        .await
        .body;
    let cohort = &flag(&snap, &name)["environments"]["production"]["cohorts"][0];
    assert_eq!(
        cohort["selector"],
        json!({"type": "constraints", "segments": [segment], "constraints": [
            {"attribute": "plan", "op": "in", "values": ["pro"]},
            {"attribute": "email", "op": "str_ends_with", "values": ["@example.com"], "case_insensitive": true, "segment": segment},
            {"attribute": "region", "op": "in", "values": ["us-east"], "inverted": true, "segment": segment},
            {"attribute": "appVersion", "op": "semver_gt", "values": ["2.1.0"], "segment": segment}]}),
        "the strategy's and the segment's own constraints, each as Unleash holds it"
    );
    let cname = cohort["name"].as_str().expect("cohort name");
    assert!(
        !cname.contains("us-east"),
        "the name never claims the region the segment excludes: {cname}"
    );
    assert!(cname.starts_with("segment-"), "{cname}");
    // `status --json` shows the same selector (what the CLI shows is what the API holds).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args([
            "status",
            "--json",
            "--env",
            "production",
            "--backend",
            &server.url,
        ])
        .env("FLAGTOP_TOKEN", &admin)
        .output()
        .expect("status");
    let status: Value = serde_json::from_slice(&out.stdout).expect("status json");
    let shown = &flag(&status, &name)["environments"]["production"]["cohorts"][0];
    assert_eq!(shown["selector"], cohort["selector"], "{shown}");
    // A change to the segment's constraints in Unleash reaches the view (the poll re-reads it).
    let (s, _) = u
        .call(
            reqwest::Method::PUT,
            format!("{}/api/admin/segments/{seg_id}", u.url),
            Some(json!({"name": segment, "constraints": [
                {"contextName": "region", "operator": "NOT_IN", "values": ["us-east"]}]})),
        )
        .await;
    assert!(s == 204 || s == 200, "segment update: {s}");
    let http = Http::new(&server.url);
    eventually(20, "the segment's new constraints are shown", || async {
        let snap = http.get("/v1/snapshot", &admin).await.body;
        let c = &flag(&snap, &name)["environments"]["production"]["cohorts"][0]["selector"]["constraints"];
        (c.as_array().map(Vec::len) == Some(2) && c[1]["op"] == "not_in").then_some(())
    })
    .await;
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
