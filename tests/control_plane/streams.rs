//! A dashboard's stream follows the readings of the environment on screen.

use super::*;

/// A dashboard's stream carries guardrail readings for the environment on screen only. Switching
/// environment reconnects at once, resuming: the new environment's current readings arrive
/// first, no change is lost or repeated, and the switch is not reported as a reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_follows_the_readings_of_the_environment_on_screen() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No simulator: production's readings (the calm scenario guards production only) change only
    // through the samples pushed below; a series nobody pushes to never changes, so after the
    // switch only the stream's opening can bring it.
    let server = Server::start(dir.path(), &["--scenario", "calm", "--no-simulate"]);
    let admin = server.admin.clone().expect("admin token");
    let http = Http::new(&server.url);
    let alice = http.token(&admin, "alice", "operator").await;
    let start_rev = http.get("/v1/snapshot", &alice).await.body["revision"]
        .as_u64()
        .expect("revision");
    let (env_tx, env_rx) = tokio::sync::watch::channel(flagtop::domain::EnvKey::from("staging"));
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let follower = tokio::spawn(follow(
        Client::new(&server.url, &alice, "tui").expect("client"),
        Some(start_rev),
        Some(env_rx),
        tx,
    ));
    // Events for `secs` seconds (or until `until` says stop).
    async fn collect(
        rx: &mut tokio::sync::mpsc::Receiver<StreamEvent>,
        secs: u64,
        until: impl Fn(&StreamEvent) -> bool,
    ) -> Vec<StreamEvent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut out = Vec::new();
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            let stop = until(&ev);
            out.push(ev);
            if stop {
                break;
            }
        }
        out
    }
    let envs = |evs: &[StreamEvent]| -> Vec<String> {
        let mut e: Vec<String> = evs
            .iter()
            .filter_map(|ev| {
                if let StreamEvent::Guardrails(g) = ev {
                    Some(g)
                } else {
                    None
                }
            })
            .flat_map(|g| g.readings.iter().map(|r| r.env.to_string()))
            .collect();
        e.dedup();
        e
    };
    // Production's readings change (the engine judges pushes every second) while staging is shown.
    for value in [0.01, 0.02, 0.03] {
        let s = json!({"samples": [
            {"flag": "checkout-v2", "env": "production", "metric": "error_rate", "cohort": "us-east", "arm": "candidate", "value": value, "count": 50},
            {"flag": "checkout-v2", "env": "production", "metric": "error_rate", "cohort": "us-east", "arm": "baseline", "value": 0.01, "count": 50}
        ]});
        assert_eq!(http.post("/v1/metrics", &alice, s).await.status, 200);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let first = collect(&mut rx, 2, |_| false).await;
    assert!(
        matches!(first.first(), Some(StreamEvent::Connected { .. })),
        "{first:?}"
    );
    assert_eq!(
        envs(&first),
        Vec::<String>::new(),
        "production's readings must not reach a stream for staging"
    );

    env_tx
        .send(flagtop::domain::EnvKey::from("production"))
        .expect("follower alive");
    let r = http.post("/v1/actions", &alice, json!({"action": {"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "eu-west", "percent": 3}, "reason": "t"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rev = r.body["revision"].as_u64().expect("rev");
    let after = collect(&mut rx, 3, |_| false).await;
    let opening = after.iter().find_map(|ev| {
        if let StreamEvent::Guardrails(g) = ev {
            Some(g)
        } else {
            None
        }
    });
    let series = |metric: &str, cohort: &str| {
        opening.and_then(|g| {
            g.readings
                .iter()
                .find(|r| r.metric == metric && r.cohort.as_str() == cohort)
        })
    };
    assert_eq!(
        series("error_rate", "us-east").map(|r| r.samples),
        Some(150),
        "the readings pushed while staging was shown: {after:?}"
    );
    assert!(
        series("p95_latency_ms", "eu-west").is_some(),
        "an unchanged series comes only with the opening: {after:?}"
    );
    assert_eq!(envs(&after), vec!["production".to_string()]);
    let changes: Vec<u64> = after
        .iter()
        .filter_map(|ev| {
            if let StreamEvent::Change(c) = ev {
                Some(c.revision.0)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        changes,
        vec![rev],
        "the change made during the switch arrives once"
    );
    assert!(
        !after.iter().any(|ev| matches!(
            ev,
            StreamEvent::Connected { .. }
                | StreamEvent::Disconnected { .. }
                | StreamEvent::Reset { .. }
        )),
        "a switch is not a reconnect: {after:?}"
    );
    follower.abort();
}
