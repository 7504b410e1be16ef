//! The official Node provider gets what the domain says; a kill serves everyone off.

use super::*;

/// The Node install (`scripts/nodeenv-ofrep`), or None with a loud message; under CI a missing
/// install fails.
fn node_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/tmp/ofrep-node");
    let ok = dir
        .join("node_modules/@openfeature/ofrep-provider")
        .exists()
        && Command::new("node").arg("--version").output().is_ok();
    if ok {
        return Some(dir);
    }
    super::common::skip_loudly(
        "OPENFEATURE NODE PROVIDER TEST SKIPPED: no node or no .ci/tmp/ofrep-node — run scripts/nodeenv-ofrep (scripts/test does)",
    )
}

fn drive_node(dir: &std::path::Path, url: &str, token: &str) -> Vec<Value> {
    // The driver sits beside the installed node_modules so that its imports resolve.
    let script = dir.join("drive.mjs");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ofrep/node/drive.mjs"),
        &script,
    )
    .unwrap();
    let out = Command::new("node")
        .arg(&script)
        .args(["evaluate", FLAG, &USERS.to_string()])
        .env("OFREP_ENDPOINT", url)
        .env("OFREP_TOKEN", token)
        .output()
        .expect("run node drive.mjs");
    assert!(
        out.status.success(),
        "drive.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_node_provider_gets_what_the_domain_says_and_a_kill_serves_everyone_off() {
    let Some(dir) = node_dir() else { return };
    let (_dir, server, admin) = Server::fresh(&["--no-simulate", "--scenario", "calm"]);
    let http = Http::new(&server.url);
    let sdk = http
        .post(
            "/v1/tokens",
            &admin,
            json!({"name": "node-app", "role": "sdk", "environments": [ENV]}),
        )
        .await;
    let sdk = sdk.body["token"].as_str().unwrap().to_string();
    let (before, _) = flag(&http, &admin).await;
    let t = Instant::now();
    let lines = drive_node(&dir, &server.url, &sdk);
    eprintln!(
        "10,000 evaluations through the Node OFREP provider in {:?}",
        t.elapsed()
    );
    let shares = check_against_domain(&before, &lines);
    assert!((share(&shares, "eu-west") - 25.0).abs() <= 4.0);
    assert!(lines.iter().any(|l| l["reason"] == "SPLIT"));

    cli(
        &server.url,
        &admin,
        &[
            "act",
            "kill",
            FLAG,
            "--env",
            ENV,
            "--reason",
            "ofrep node test",
        ],
    );
    let (after, _) = flag(&http, &admin).await;
    let lines = drive_node(&dir, &server.url, &sdk);
    let shares = check_against_domain(&after, &lines);
    assert!(
        shares.values().all(|(exposed, _)| *exposed == 0),
        "a killed flag still served the candidate"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["reason"] == "DISABLED" && l["value"] == false),
        "{}",
        lines[0]
    );
}
