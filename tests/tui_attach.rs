//! The TUI without `--backend` on a data dir whose control plane already runs (`flagtop
//! serve`): it attaches to that control plane, as the one-shot commands do, instead of
//! refusing to start; quitting it leaves the server running.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::pty::Tui;
use common::{Http, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_flagtop_on_a_running_data_dir_attaches() {
    let (dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let mut tui = Tui::on_data_dir(dir.path(), 30, 160);
    // The header names the server it attached to: the same control plane, not a second one.
    let screen = tui.wait_for(&format!("attached {}", server.url), 30);
    assert!(!screen.contains("in use by another"), "{screen}");
    tui.wait_for("checkout-v2", 20);
    tui.wait_for("● live", 20);
    // A change made through the server shows in the attached TUI.
    let out = server.cli(
        &admin,
        &[
            "act",
            "freeze",
            "--env",
            "production",
            "--reason",
            "attach test",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tui.wait_for("attach test", 20);
    tui.keys("q");
    let status = tui.wait_exit(20).expect("the TUI quits on q");
    assert!(status.success(), "{status:?}: {}", tui.tail(2000));
    // The server still runs and answers.
    let r = http.get("/v1/whoami", &admin).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}
