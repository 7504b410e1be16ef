//! Done when: a narrowed rollback in the TUI shows, within one exposure window, the cohort's
//! candidate traffic at zero — in the Ladder and in the audit's evidence. A real `flagtop serve`
//! with the demo's simulator (its users are evaluated by the same code as OFREP and counted as
//! exposure), the real TUI in a pseudo-terminal, the audit over the API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::pty::Tui;
use common::unleash::eventually;
use common::{Http, Server};
use serde_json::Value;

/// Candidate evaluations of `cohort` of checkout-v2 in production in a snapshot's exposure.
fn candidate(snap: &Value, cohort: &str) -> u64 {
    snap["exposure"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            e["flag"] == "checkout-v2"
                && e["env"] == "production"
                && e["cohort"] == cohort
                && e["exposed"] == true
        })
        .map(|e| e["total"].as_u64().unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_rollback_shows_the_cohorts_candidate_traffic_at_zero_on_screen_and_in_the_evidence()
 {
    let (_dir, server, admin) = Server::fresh(&[]);
    let http = Http::new(&server.url);
    // The simulator's eu-west users are served the candidate (25 %).
    eventually(20, "eu-west candidate exposure", || async {
        let snap = http.get("/v1/snapshot", &admin).await.body;
        (candidate(&snap, "eu-west") > 0).then_some(())
    })
    .await;
    let status = server.cli(&admin, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).expect("status --json");
    assert!(
        candidate(&status, "eu-west") > 0,
        "status --json carries exposure"
    );

    let mut tui = Tui::start(&server.url, &admin, 40, 140);
    tui.wait_for("● live", 20);
    tui.keys(":flag checkout-v2\r");
    tui.wait_for("Ladder checkout-v2", 5);
    let screen = tui.wait_for("/min on", 20);
    let eu = screen
        .lines()
        .find(|l| l.contains("eu-west") && l.contains("25%"));
    assert!(
        eu.is_some_and(|l| l.contains("/min on")),
        "eu-west's served cell:\n{screen}"
    );
    // Roll eu-west back by keys; the confirm quantifies the blast radius in evaluations.
    tui.keys("\tjj");
    tui.keys("r");
    tui.wait_for("reverse: restore checkout-v2/eu-west in production", 5);
    let screen = tui.wait_for("evaluations/min", 5);
    assert!(screen.contains("% of production"), "{screen}");
    tui.keys("\r");
    tui.wait_for("ROLLED BACK", 10);

    // Within one exposure window the Ladder says the candidate traffic stopped.
    let screen = tui.wait_for("eu-west: candidate served 0/min since", 60);
    let line = screen
        .lines()
        .find(|l| l.contains("candidate served 0/min since"))
        .unwrap_or("");
    assert!(line.contains(", was "), "what was served before: {line}");

    // And the audit's evidence for the rollback says the same, from the control plane's counts.
    let audit = http
        .get("/v1/audit?flag=checkout-v2&limit=20", &admin)
        .await
        .body;
    let rollback = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "applied" && e["action"]["type"] == "rollback")
        .unwrap_or_else(|| panic!("no applied rollback: {audit}"))["id"]
        .clone();
    let evidence = eventually(60, "evidence after the rollback", || async {
        let audit = http
            .get("/v1/audit?flag=checkout-v2&limit=20", &admin)
            .await
            .body;
        audit["events"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == "evidence" && e["follows"] == rollback)
            .cloned()
    })
    .await;
    let served = evidence["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["metric"] == "exposure")
        .unwrap_or_else(|| panic!("no exposure evidence: {evidence}"));
    assert_eq!(served["cohort"], "eu-west");
    assert_eq!(served["status"], "traffic moved", "{served}");
    assert_eq!(served["candidate"], 0.0, "{served}");
    assert!(served["baseline"].as_f64().unwrap_or(0.0) > 0.0, "{served}");
    assert!(
        evidence["reason"]
            .as_str()
            .unwrap_or("")
            .contains("eu-west: candidate served 0/min since"),
        "{evidence}"
    );
    // The simulator's eu-west users still arrive: they get the fallthrough now.
    let snap = http.get("/v1/snapshot", &admin).await.body;
    let fallthrough = snap["exposure"].as_array().unwrap().iter().any(|e| {
        e["cohort"] == "eu-west"
            && e["exposed"] == false
            && e["this_window"].as_u64().unwrap_or(0) + e["last_window"].as_u64().unwrap_or(0) > 0
    });
    assert!(
        fallthrough,
        "eu-west is still evaluated: {}",
        snap["exposure"]
    );
}
