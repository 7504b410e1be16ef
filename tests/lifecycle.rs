//! The lifecycle from the shell against a real `flagtop serve`: `lifecycle` lists the demo's
//! stages, `--fail-on stale` exits 9 on a planted stale flag (0 before), `status --json`
//! carries the stage, `apply -f` wants an owner for a temporary flag, and `act archive` goes
//! through the door (approval in production, refusal while two variations are served).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::Server;

const STALE: &str = r#"
[[flags]]
key = "old-banner"
owner = "web"
review_by = 2020-01-31
cleanup = "remove once the spring campaign ends"
variations = ["off", "on"]

[flags.environments.staging]
fallthrough = "off"
cohorts = [ { name = "everyone", selector = { type = "everyone" }, percent = 50, variation = "on" } ]
"#;

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn lifecycle_lists_stages_and_fail_on_stale_exits_9_on_a_planted_stale_flag() {
    let (dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let run = |args: &[&str]| server.cli(&admin, args);
    let out = run(&["lifecycle", "--fail-on", "stale"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    let line = t
        .lines()
        .find(|l| l.starts_with("search-ranking-v3"))
        .unwrap_or_default();
    assert!(line.contains("ready for cleanup"), "{t}");
    let out = run(&["lifecycle", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["counts"]["ready_for_cleanup"], 1, "{v}");
    // A longer cleanup rule: only released.
    let out = run(&["lifecycle", "--json", "--ready-after-days", "60"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["counts"]["released"], 1, "{v}");
    assert_eq!(
        run(&["lifecycle", "--fail-on", "nonsense"]).status.code(),
        Some(2)
    );
    // The rules' bound, at its edge.
    assert_eq!(
        run(&["lifecycle", "--ready-after-days", "3650"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["lifecycle", "--ready-after-days", "3651"])
            .status
            .code(),
        Some(2)
    );

    // Without an owner a temporary flag is refused, naming the field.
    let file = dir.path().join("flags.toml");
    std::fs::write(&file, STALE.replace("owner = \"web\"\n", "")).unwrap();
    let out = run(&["apply", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("`owner` is required for a temporary flag"),
        "{}",
        text(&out)
    );
    std::fs::write(&file, STALE).unwrap();
    let out = run(&["apply", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = run(&["lifecycle", "--fail-on", "stale"]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    assert!(
        text(&out).contains("past its review date 2020-01-31"),
        "{}",
        text(&out)
    );
    let out = run(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let flag = |k: &str| {
        v["flags"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["key"] == k).cloned())
            .unwrap_or_default()
    };
    assert_eq!(flag("old-banner")["lifecycle_stage"], "stale");
    assert_eq!(flag("old-banner")["review_by"], "2020-01-31");
    assert_eq!(
        flag("search-ranking-v3")["lifecycle_stage"],
        "ready_for_cleanup"
    );
    assert_eq!(
        flag("legacy-billing-killswitch")["lifecycle_stage"],
        "permanent"
    );
}

#[test]
fn act_archive_goes_through_the_door() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let run = |args: &[&str]| server.cli(&admin, args);
    let out = run(&[
        "act",
        "archive",
        "checkout-v2",
        "--env",
        "production",
        "--reason",
        "done?",
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        text(&out).contains("still serves off and on"),
        "{}",
        text(&out)
    );
    let out = run(&[
        "act",
        "archive",
        "search-ranking-v3",
        "--env",
        "production",
        "--reason",
        "removed from code",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["outcome"], "requested", "{v}");
    assert_eq!(v["reverse"]["type"], "unarchive", "{v}");
}

const RELEASED_TODAY: &str = r#"
[[flags]]
key = "new-footer"
owner = "web"
variations = ["off", "on"]

[flags.environments.staging]
fallthrough = "off"
cohorts = [ { name = "everyone", selector = { type = "everyone" }, percent = 100, variation = "on" } ]

[flags.environments.production]
fallthrough = "off"
cohorts = [ { name = "everyone", selector = { type = "everyone" }, percent = 100, variation = "on" } ]
"#;

#[test]
fn the_control_planes_config_sets_the_rules_and_the_cli_flags_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.toml"),
        "[lifecycle]\nready_after_days = 0\nstale_after_days = 45\n",
    )
    .unwrap();
    let envs = [(
        "FLAGTOP_CONFIG_DIR",
        config.path().to_string_lossy().into_owned(),
    )];
    let server = Server::start_env(dir.path(), "127.0.0.1:0", &["--no-simulate"], &envs);
    let admin = server.admin.clone().unwrap();
    let run = |args: &[&str]| server.cli(&admin, args);
    let file = dir.path().join("flags.toml");
    std::fs::write(&file, RELEASED_TODAY).unwrap();
    let out = run(&["apply", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stage = |v: &serde_json::Value, key: &str| {
        v["flags"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["key"] == key))
            .map(|f| f["lifecycle_stage"].clone())
            .unwrap_or_default()
    };
    // Released today: ready under the plane's rule (0 days), not under the default (14).
    let out = run(&["lifecycle", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["rules"]["ready_after_days"], 0, "{v}");
    assert_eq!(v["rules"]["stale_after_days"], 45, "{v}");
    assert_eq!(stage(&v, "new-footer"), "ready_for_cleanup", "{v}");
    let out = run(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(stage(&v, "new-footer"), "ready_for_cleanup", "{v}");
    assert_eq!(v["lifecycle_rules"]["ready_after_days"], 0, "{v}");
    // The command line overrides the plane's rule.
    let out = run(&["lifecycle", "--json", "--ready-after-days", "14"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(stage(&v, "new-footer"), "released", "{v}");
    assert_eq!(
        v["rules"]["stale_after_days"], 45,
        "the other rule stays the plane's: {v}"
    );
    // The API's snapshot carries the rules for every client (the TUI judges by them).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let snap = rt.block_on(common::Http::new(&server.url).get("/v1/snapshot", &admin));
    assert_eq!(snap.status, 200);
    assert_eq!(
        snap.body["lifecycle_rules"],
        serde_json::json!({"ready_after_days": 0, "stale_after_days": 45}),
        "{}",
        snap.body
    );
}

#[test]
fn a_bad_lifecycle_rule_in_config_stops_serve_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.toml"),
        "[lifecycle]\nready_after_days = 5000\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env("FLAGTOP_CONFIG_DIR", config.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("config.toml:2:") && t.contains("`ready_after_days` must be between 0 and 3650"),
        "{t}"
    );
}
