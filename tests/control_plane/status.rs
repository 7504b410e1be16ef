//! `status --json` and the snapshot carry the contract fields agents and scripts rely on.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_carries_the_contract_fields() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["status", "--json", "--backend", &server.url])
        .env("FLAGTOP_TOKEN", &admin)
        .output()
        .expect("run status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["revision"].is_u64());
    let envs = v["environments"].as_array().expect("environments");
    assert!(
        envs.iter()
            .any(|e| e["key"] == "production" && e["protected"] == true)
    );
    let flags = v["flags"].as_array().expect("flags");
    assert_eq!(flags.len(), 5);
    let f = flags
        .iter()
        .find(|f| f["key"] == "checkout-v2")
        .expect("checkout-v2");
    assert_eq!(f["kind"], "boolean");
    let prod = &f["environments"]["production"];
    assert_eq!(prod["enabled"], true);
    let c = &prod["cohorts"][2];
    assert_eq!(
        (
            c["name"].as_str(),
            c["percent"].as_u64(),
            c["rolled_back"].as_bool()
        ),
        (Some("eu-west"), Some(25), Some(false))
    );
    assert!(prod["ladder"]["stages"].is_array());
    assert_eq!(prod["ladder"]["current"], 3);
    assert_eq!(prod["ladder"]["state"], "progressing");
    for g in prod["guardrails"].as_array().expect("guardrails") {
        for k in [
            "metric",
            "cohort",
            "value",
            "baseline",
            "threshold",
            "status",
        ] {
            assert!(g.get(k).is_some(), "guardrail lacks {k}");
        }
    }
    let a = &v["approvals"].as_array().expect("approvals")[0];
    for k in ["id", "state", "action", "reverse", "requested_by"] {
        assert!(a.get(k).is_some(), "approval lacks {k}");
    }
    assert_eq!(a["requested_by"], "ops-assistant");

    // The CLI: act --json prints outcome, audit id and a ready-to-paste reverse; exit codes.
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
            .args(args)
            .args(["--backend", &server.url])
            .env("FLAGTOP_TOKEN", &admin)
            .output()
            .expect("run")
    };
    let out = run(&[
        "act",
        "rollback",
        "checkout-v2",
        "eu-west",
        "--env",
        "production",
        "--reason",
        "p95 breach",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["outcome"], "applied");
    assert!(v["audit_id"].is_u64());
    assert_eq!(
        v["reverse_command"]
            .as_str()
            .map(|s| s
                .starts_with("flagtop act restore checkout-v2 eu-west --env production --reason")),
        Some(true)
    );
    // Undo by audit id applies the stored reverse (a restore in protected production: a request).
    let id = v["audit_id"].as_u64().expect("audit id").to_string();
    let out = run(&["act", "undo", &id, "--reason", "recovered", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let u: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (u["outcome"].as_str(), u["action"]["type"].as_str()),
        (Some("requested"), Some("restore"))
    );
    assert_eq!(u["action"]["cohort"], "eu-west");
    // An unknown audit entry is exit 5, like every other unknown name.
    let out = run(&["act", "undo", "999999", "--reason", "x"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "act",
        "rollback",
        "checkout-v2",
        "eu-west",
        "--env",
        "production",
        "--reason",
        "again",
    ]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "invalid state → exit 6: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "act",
        "set-percent",
        "checkout-v2",
        "us-east",
        "150",
        "--env",
        "production",
        "--reason",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0–100"));
    let out = run(&[
        "act",
        "rollback",
        "checkout-v2",
        "eu-west",
        "--env",
        "production",
    ]);
    assert_eq!(out.status.code(), Some(2), "reason is never optional");
    let out = run(&[
        "act",
        "kill",
        "no-such-flag",
        "--env",
        "production",
        "--reason",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(5));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["status", "--backend", "http://127.0.0.1:9"])
        .env("FLAGTOP_TOKEN", "x")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(7), "unreachable → exit 7");
}
