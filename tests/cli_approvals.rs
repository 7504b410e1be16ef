//! `flagtop approvals list --env ENV` against a real `flagtop serve`: the environment typed on
//! the command line filters the queue; the configured default environment does not (a request
//! elsewhere is never hidden by config); an unknown environment exits 5.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::{Http, Server};
use serde_json::Value;
use std::process::Command;

fn envs(out: &std::process::Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut e: Vec<String> = v["approvals"]
        .as_array()
        .expect("approvals")
        .iter()
        .map(|a| a["action"]["env"].as_str().expect("env").to_string())
        .collect();
    e.sort();
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_list_filters_by_the_environment_typed_not_the_configured_one() {
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let bot = http.token(&admin, "bot", "agent").await;
    for (verb, env) in [
        (&["pause", "checkout-v2"][..], "staging"),
        (
            &["set-percent", "checkout-v2", "us-east", "50"][..],
            "production",
        ),
    ] {
        let mut args = vec!["propose"];
        args.extend_from_slice(verb);
        args.extend_from_slice(&["--env", env, "--reason", "a request", "--json"]);
        let out = server.cli(&bot, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list = |args: &[&str]| server.cli(&admin, &[&["approvals", "list"], args].concat());
    // The demo seeds a pending request in production too.
    let all = envs(&list(&["--json"]));
    assert!(
        all.contains(&"staging".into()) && all.contains(&"production".into()),
        "{all:?}"
    );
    assert_eq!(envs(&list(&["--env", "staging", "--json"])), ["staging"]);
    let production = envs(&list(&["--env", "production", "--json"]));
    assert_eq!(production.len(), all.len() - 1, "{production:?}");
    assert!(
        production.iter().all(|e| e == "production"),
        "{production:?}"
    );
    let text = list(&["--env", "production"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("set-percent checkout-v2/us-east"), "{text}");
    assert!(!text.contains("pause"), "{text}");
    let out = list(&["--env", "nope"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // config.toml's default environment is not a filter: every request is listed.
    let conf = tempfile::tempdir().expect("tmp");
    std::fs::write(conf.path().join("config.toml"), "env = \"staging\"\n").expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_flagtop"))
        .args(["approvals", "list", "--json", "--backend", &server.url])
        .env("FLAGTOP_CONFIG_DIR", conf.path())
        .env("FLAGTOP_TOKEN", &admin)
        .output()
        .expect("run flagtop");
    assert_eq!(envs(&out), all);
}
