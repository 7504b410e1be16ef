//! A real Prometheus scraping a live target: a breach pauses and proposes the rollback; a target that goes down is a source down.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_breach_pauses_and_proposes_the_narrowed_rollback() {
    let Some((url, at)) = prometheus() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let envs = [
        ("FLAGTOP_PROMETHEUS_TIME", at.timestamp().to_string()),
        ("FLAGTOP_PROMETHEUS_INTERVAL", "0.5".to_string()),
    ];
    let server = Server::start_env(
        dir.path(),
        "127.0.0.1:0",
        &["--no-simulate", "--prometheus", &url],
        &envs,
    );
    let admin = server.admin.clone().expect("admin token");
    let http = Http::new(&server.url);
    let stages = json!([
        {"name": "25%", "targets": {"healthy": 25, "breached": 25}, "min_dwell_secs": 3600},
        {"name": "50%", "targets": {"healthy": 50, "breached": 50}, "min_dwell_secs": 3600}
    ]);
    let ladder = json!({"stages": stages, "current": 0, "state": "progressing"});
    let flag = shop(
        &[("healthy", 25), ("breached", 25)],
        vec![error_ratio("healthy"), error_ratio("breached")],
        Some(ladder),
    );
    let r = http
        .call("PUT", "/v1/flags/shop", Some(&admin), Some(flag), &[])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Metrics are not exposed unless asked for.
    assert_eq!(
        http.call("GET", "/metrics", None, None, &[]).await.status,
        404
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let (snap, pending) = loop {
        let snap = http.get("/v1/snapshot", &admin).await.body;
        let pending: Vec<Value> = snap["approvals"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|a| a["state"] == "pending" && a["action"]["flag"] == "shop")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let paused = snap["flags"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["key"] == "shop"))
            .map(|f| f["environments"]["production"]["ladder"]["state"] == "paused");
        if paused == Some(true) && !pending.is_empty() {
            break (snap, pending);
        }
        assert!(
            Instant::now() < deadline,
            "no pause + rollback request within 30 s: {}",
            snap["guardrails"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(pending.len(), 1, "exactly one request: {pending:?}");
    assert_eq!(
        pending[0]["action"],
        json!({"type": "rollback", "flag": "shop", "env": "production", "cohort": "breached"})
    );
    assert!(
        pending[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("error_rate of breached breached")),
        "{}",
        pending[0]["reason"]
    );
    let ladder = &snap["flags"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["key"] == "shop"))
        .expect("shop")["environments"]["production"];
    assert!(
        ladder["ladder"]["pause_note"]
            .as_str()
            .is_some_and(|n| n.contains("breached")),
        "{ladder}"
    );
    // Protected production: nothing rolled back before a person approves.
    assert_eq!(
        common::cohort(&snap, "shop", "production", "breached")["rolled_back"],
        false
    );
    assert_eq!(
        common::cohort(&snap, "shop", "production", "healthy")["rolled_back"],
        false
    );
    server.kill9();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_scrape_then_source_down() {
    let Some((url, _)) = prometheus() else { return };
    let targets = std::env::var("FLAGTOP_TEST_PROMETHEUS_TARGETS")
        .expect("FLAGTOP_TEST_PROMETHEUS_TARGETS (written by scripts/prometheus)");
    let exposer_dir = tempfile::tempdir().expect("tempdir");
    let exposer = Server::start(exposer_dir.path(), &["--expose-metrics"]);
    let http = Http::new(&exposer.url);
    let page = http.call("GET", "/metrics", None, None, &[]).await;
    assert_eq!(page.status, 200);
    let text = page.body.as_str().unwrap_or("").to_string();
    assert!(
        text.contains("# TYPE flagtop_sim_requests_total counter"),
        "{text}"
    );
    let host = exposer.url.trim_start_matches("http://").to_string();
    std::fs::write(
        &targets,
        json!([{"targets": [host], "labels": {}}]).to_string(),
    )
    .expect("write targets");

    // A second control plane judges the exposer's checkout-v2 traffic through Prometheus.
    let dir = tempfile::tempdir().expect("tempdir");
    let running = in_process(dir.path()).await;
    let sel = r#"flag="checkout-v2",env="production",cohort="$cohort""#;
    let value = format!(
        "sum by (cohort, variation) (rate(flagtop_sim_errors_total{{{sel}}}[$window])) / sum by (cohort, variation) (rate(flagtop_sim_requests_total{{{sel}}}[$window]))"
    );
    let samples = format!(
        "sum by (cohort, variation) (increase(flagtop_sim_requests_total{{{sel}}}[$window]))"
    );
    let mut g = guard(
        "error_rate",
        "us-east",
        rel(20.0),
        json!({"value": value, "samples": samples, "up": "up{job=\"flagtop-live\"}"}),
    );
    g["window_secs"] = json!(30);
    g["min_samples"] = json!(10);
    let mut flag = shop(&[("us-east", 25)], vec![g], None);
    flag["key"] = json!("live");
    let r = Http::new(&running.url)
        .call(
            "PUT",
            "/v1/flags/live",
            Some(&running.token),
            Some(flag),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let prom = PromClient::new(&url).expect("client");
    let read = || async {
        poll_once(&running.cp, &prom, None).await;
        let rs = running.cp.evaluate_guardrails(false);
        rs.into_iter()
            .find(|r| r.flag.as_str() == "live")
            .expect("reading")
    };

    let started = Instant::now();
    loop {
        let r = read().await;
        if r.source_error.is_none() && r.value.is_some() && r.samples > 0 {
            eprintln!(
                "live scrape: first data after {:.1} s",
                started.elapsed().as_secs_f64()
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "no scraped data within 40 s: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    exposer.kill9();
    let killed = Instant::now();
    loop {
        let r = read().await;
        if r.source_error.as_deref() == Some(SOURCE_DOWN) {
            assert_eq!(r.status, GuardrailStatus::Insufficient);
            eprintln!(
                "live scrape: source down after {:.1} s (value still {:?})",
                killed.elapsed().as_secs_f64(),
                r.value
            );
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no `source down` within 20 s: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = std::fs::write(&targets, "[]");
    running.shutdown().await;
}
