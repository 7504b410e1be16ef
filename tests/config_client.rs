//! `config.toml` reaches the one-shot commands too: its backend, token variable and default
//! environment are used by `status`/`act`, below the command line; a broken file stops them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::Server;
use std::process::Command;

#[test]
fn status_and_act_use_the_configured_backend_token_variable_and_environment() {
    let (_data, server, admin) = Server::fresh(&["--no-simulate"]);
    let conf = tempfile::tempdir().expect("tmp");
    std::fs::write(
        conf.path().join("config.toml"),
        format!(
            "backend = \"{}\"\ntoken_env = \"MY_FLAGTOP_TOKEN\"\nenv = \"staging\"\n",
            server.url
        ),
    )
    .expect("write config");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_flagtop"))
            .args(args)
            .env("FLAGTOP_CONFIG_DIR", conf.path())
            .env("MY_FLAGTOP_TOKEN", &admin)
            .env_remove("FLAGTOP_TOKEN")
            .env_remove("FLAGTOP_BACKEND")
            // A data dir of its own: without the config this would open an embedded plane.
            .env("FLAGTOP_DATA", tempfile::tempdir().expect("tmp").keep())
            .output()
            .expect("run flagtop")
    };
    // `act` with no --backend and no --env: the configured server and environment.
    let out = run(&[
        "act",
        "pause",
        "checkout-v2",
        "--reason",
        "configured",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["action"]["env"], "staging");
    // The change is on that server.
    let out = run(&["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let f = v["flags"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["key"] == "checkout-v2"))
        .cloned()
        .expect("flag");
    assert_eq!(f["environments"]["staging"]["ladder"]["state"], "paused");
    // The command line still wins: --env production.
    let out = run(&[
        "act",
        "pause",
        "checkout-v2",
        "--env",
        "production",
        "--reason",
        "cli wins",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["action"]["env"], "production");
    // A broken config stops the command with the position.
    std::fs::write(conf.path().join("config.toml"), "backend = 3\n").expect("write");
    let out = run(&["status"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.toml:1:"), "{err}");
}
