//! Guardrails read from a REAL Prometheus, started by `scripts/prometheus start` (via
//! scripts/test) with the deterministic data of tests/fixtures/prometheus/shop.om backfilled
//! and queried at its fixed time; plus one live scrape of `flagtop serve --expose-metrics`.
//! Without `FLAGTOP_TEST_PROMETHEUS_URL` the tests are skipped loudly — or fail under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

#[path = "../common/mod.rs"]
mod common;
mod live;

use chrono::{DateTime, TimeZone, Utc};
use common::{Http, Server};
use flagtop::control::prometheus::{PromClient, SOURCE_DOWN, poll_once};
use flagtop::control::runtime::{self, Running, StartOptions};
use flagtop::domain::GuardrailStatus;
use flagtop::wire::GuardrailReading;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The fixture's fixed query time (tests/fixtures/prometheus/README.md).
const FIXED_TIME: i64 = 1_780_000_000;

const ERROR_RATIO: &str = r#"sum by (cohort, variation) (rate(shop_errors_total{flag="$flag",env="$env"}[$window])) / sum by (cohort, variation) (rate(shop_requests_total{flag="$flag",env="$env"}[$window]))"#;
const SAMPLES: &str = r#"sum by (cohort, variation) (increase(shop_requests_total{flag="$flag",env="$env"}[$window]))"#;
const P95: &str = r#"histogram_quantile(0.95, sum by (cohort, variation, le) (rate(shop_latency_ms_bucket{flag="$flag",cohort="$cohort"}[$window])))"#;

fn prometheus() -> Option<(String, DateTime<Utc>)> {
    match std::env::var("FLAGTOP_TEST_PROMETHEUS_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let t = std::env::var("FLAGTOP_TEST_PROMETHEUS_TIME")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(FIXED_TIME);
            Some((url, Utc.timestamp_opt(t, 0).single().expect("fixed time")))
        }
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "FLAGTOP_TEST_PROMETHEUS_URL is not set under CI=true: run the tests through ./scripts/test, which starts Prometheus (scripts/prometheus start)"
            )
        }
        _ => {
            // Straight to fd 2: the test harness captures `eprintln!`.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"\n*** SKIPPED: Prometheus not running \xe2\x80\x94 run ./scripts/test (or: scripts/prometheus start && . .ci/tmp/prometheus/env) ***\n",
            );
            None
        }
    }
}

fn guard(metric: &str, cohort: &str, threshold: Value, promql: Value) -> Value {
    json!({"metric": metric, "cohort": cohort, "threshold": threshold, "min_samples": 100, "window_secs": 60, "promql": promql})
}

fn rel(pct: f64) -> Value {
    json!({"type": "relative", "max_increase_pct": pct})
}

fn error_ratio(cohort: &str) -> Value {
    guard(
        "error_rate",
        cohort,
        rel(20.0),
        json!({"value": ERROR_RATIO, "samples": SAMPLES, "up": "up{job=\"shop\"}"}),
    )
}

/// Flag `shop` in production with one cohort per fixture case and the given guardrails.
fn shop(cohorts: &[(&str, u8)], guardrails: Vec<Value>, ladder: Option<Value>) -> Value {
    let cohorts: Vec<Value> = cohorts
        .iter()
        .map(|(c, p)| json!({"name": c, "selector": {"type": "segment", "segment": c}, "percent": p, "variation": "on"}))
        .collect();
    let mut env = json!({"fallthrough": "off", "cohorts": cohorts, "guardrails": guardrails});
    if let Some(l) = ladder {
        env["ladder"] = l;
    }
    json!({"key": "shop", "variations": ["off", "on"], "environments": {"production": env}})
}

async fn in_process(dir: &std::path::Path) -> Running {
    runtime::start(StartOptions {
        data_dir: dir.to_path_buf(),
        scenario: "demo".into(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        simulate: false,
        tick: Duration::from_secs(1),
        prometheus: None,
        expose_metrics: false,
        flags: Default::default(),
        tls: None,
        lifecycle: Default::default(),
    })
    .await
    .expect("start an in-process control plane")
}

fn reading<'a>(rs: &'a [GuardrailReading], metric: &str, cohort: &str) -> &'a GuardrailReading {
    rs.iter()
        .find(|r| r.flag.as_str() == "shop" && r.metric == metric && r.cohort.as_str() == cohort)
        .unwrap_or_else(|| panic!("reading {metric}/{cohort}"))
}

fn near(v: Option<f64>, want: f64) -> bool {
    v.is_some_and(|v| (v - want).abs() < want.abs() * 1e-6 + 1e-9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfilled_series_judged_at_a_fixed_time() {
    let Some((url, at)) = prometheus() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let running = in_process(dir.path()).await;
    let http = Http::new(&running.url);
    let abs = |max: f64| json!({"type": "absolute", "max": max});
    let gauge = json!({"value": "shop_p95_ms{flag=\"$flag\",env=\"$env\"}", "samples": SAMPLES});
    let mut gone = error_ratio("gone");
    gone["window_secs"] = json!(120);
    gone["promql"]["up"] = json!("up{job=\"shop-gone\"}");
    let guardrails = vec![
        error_ratio("healthy"),
        error_ratio("breached"),
        error_ratio("sparse"),
        error_ratio("idle"),
        error_ratio("empty"),
        gone,
        guard(
            "p95_latency_ms",
            "healthy",
            rel(25.0),
            json!({"value": P95, "samples": SAMPLES}),
        ),
        guard(
            "p95_latency_ms",
            "breached",
            rel(25.0),
            json!({"value": P95, "samples": SAMPLES}),
        ),
        guard("p95_gauge", "inf", abs(500.0), gauge.clone()),
        guard("p95_gauge", "neginf", abs(500.0), gauge.clone()),
        guard("p95_gauge", "nan", abs(500.0), gauge),
        guard(
            "bad_query",
            "healthy",
            abs(1.0),
            json!({"value": "sum(rate(shop_errors_total{flag=\"$flag\"}[$window])"}),
        ),
        guard(
            "exec_error",
            "healthy",
            abs(1.0),
            json!({"value": "shop_requests_total{flag=\"$flag\"} / on(flag) shop_errors_total{flag=\"$flag\"}"}),
        ),
        guard(
            "unsplit",
            "healthy",
            abs(1.0),
            json!({"value": "sum(rate(shop_requests_total{flag=\"$flag\"}[$window]))"}),
        ),
    ];
    let cohorts = [
        "healthy", "breached", "sparse", "idle", "empty", "gone", "inf", "neginf", "nan",
    ]
    .map(|c| (c, 50));
    let r = http
        .call(
            "PUT",
            "/v1/flags/shop",
            Some(&running.token),
            Some(shop(&cohorts, guardrails, None)),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let prom = PromClient::new(&url).expect("client");
    let report = poll_once(&running.cp, &prom, Some(at)).await;
    assert_eq!(report.guardrails, 14);
    assert!(
        report.queries < 2 * 14,
        "identical queries are asked once per poll: {report:?}"
    );
    let rs = running.cp.evaluate_guardrails(false);

    let healthy = reading(&rs, "error_rate", "healthy");
    assert_eq!(
        (healthy.status, healthy.source_error.as_deref()),
        (GuardrailStatus::Healthy, None),
        "{healthy:?}"
    );
    assert!(
        near(healthy.value, 0.011) && near(healthy.baseline, 0.01),
        "{healthy:?}"
    );
    assert_eq!((healthy.samples, healthy.baseline_samples), (1200, 1200));
    let p95 = reading(&rs, "p95_latency_ms", "healthy");
    assert_eq!(p95.status, GuardrailStatus::Healthy, "{p95:?}");
    assert!(near(p95.value, 400.0), "{p95:?}");

    let breached = reading(&rs, "error_rate", "breached");
    assert_eq!(breached.status, GuardrailStatus::Breached, "{breached:?}");
    assert!(
        near(breached.value, 0.05) && near(breached.threshold, 0.012),
        "{breached:?}"
    );
    assert_eq!(
        reading(&rs, "p95_latency_ms", "breached").status,
        GuardrailStatus::Breached
    );
    // Sparkline from query_range: the candidate's gap leaves steps out, matched by timestamp.
    assert!(
        !healthy.history.is_empty() && healthy.history.iter().all(|v| near(Some(*v), 0.011)),
        "{:?}",
        healthy.history
    );
    assert!(
        breached.history.len() < healthy.history.len(),
        "{} vs {}",
        breached.history.len(),
        healthy.history.len()
    );
    assert!(
        breached
            .history
            .last()
            .is_some_and(|v| near(Some(*v), 0.05))
    );

    let sparse = reading(&rs, "error_rate", "sparse");
    assert_eq!(
        (
            sparse.status,
            sparse.samples,
            sparse.source_error.as_deref()
        ),
        (GuardrailStatus::Insufficient, 12, None),
        "{sparse:?}"
    );
    assert_eq!(sparse.value, Some(0.0));
    // 0/0 = NaN: no value (and no traffic in the window).
    let idle = reading(&rs, "error_rate", "idle");
    assert_eq!(
        (
            idle.status,
            idle.value,
            idle.samples,
            idle.source_error.as_deref()
        ),
        (GuardrailStatus::Insufficient, None, 0, None),
        "{idle:?}"
    );
    assert!(near(idle.baseline, 0.01));
    // No series at all: no traffic, which is not an error.
    let empty = reading(&rs, "error_rate", "empty");
    assert_eq!(
        (empty.status, empty.value, empty.baseline, empty.samples),
        (GuardrailStatus::Insufficient, None, None, 0),
        "{empty:?}"
    );
    assert_eq!(empty.source_error, None);
    // A NaN gauge with traffic: still no value, never healthy.
    let nan = reading(&rs, "p95_gauge", "nan");
    assert_eq!(
        (nan.status, nan.value, nan.samples),
        (GuardrailStatus::Insufficient, None, 1200),
        "{nan:?}"
    );
    let inf = reading(&rs, "p95_gauge", "inf");
    assert_eq!(
        (inf.status, inf.value),
        (GuardrailStatus::Breached, Some(f64::MAX)),
        "+Inf is above any limit: {inf:?}"
    );
    let neginf = reading(&rs, "p95_gauge", "neginf");
    assert_eq!(
        (neginf.status, neginf.value),
        (GuardrailStatus::Insufficient, None),
        "{neginf:?}"
    );

    // The target is down while rate() still answers: "source down", never healthy.
    let gone = reading(&rs, "error_rate", "gone");
    assert_eq!(
        (gone.status, gone.source_error.as_deref()),
        (GuardrailStatus::Insufficient, Some(SOURCE_DOWN)),
        "{gone:?}"
    );
    assert!(
        gone.value.is_some() && gone.samples >= 100,
        "rate() still answers: {gone:?}"
    );

    let bad = reading(&rs, "bad_query", "healthy");
    assert_eq!(bad.status, GuardrailStatus::Insufficient);
    let msg = bad.source_error.as_deref().unwrap_or("");
    assert!(
        msg.starts_with("prometheus: bad_data: ") && msg.contains("parse error"),
        "{msg}"
    );
    let exec = reading(&rs, "exec_error", "healthy")
        .source_error
        .clone()
        .unwrap_or_default();
    assert!(
        exec.starts_with("prometheus: execution: ") && exec.contains("duplicate series"),
        "{exec}"
    );
    let unsplit = reading(&rs, "unsplit", "healthy")
        .source_error
        .clone()
        .unwrap_or_default();
    assert!(unsplit.contains("no `variation` label"), "{unsplit}");

    // The same readings reach clients (the TUI's guardrails pane) through the snapshot.
    let snap = http.get("/v1/snapshot", &running.token).await;
    assert_eq!(snap.status, 200);
    let row = |metric: &str, cohort: &str| -> Value {
        snap.body["guardrails"]
            .as_array()
            .and_then(|g| {
                g.iter()
                    .find(|r| r["flag"] == "shop" && r["metric"] == metric && r["cohort"] == cohort)
                    .cloned()
            })
            .unwrap_or(Value::Null)
    };
    let bad = row("bad_query", "healthy");
    assert_eq!(bad["status"], "insufficient");
    assert!(
        bad["source_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("prometheus: bad_data: ")),
        "{bad}"
    );
    assert_eq!(row("error_rate", "gone")["source_error"], SOURCE_DOWN);
    assert_eq!(row("error_rate", "breached")["status"], "breached");
    assert!(row("error_rate", "healthy").get("source_error").is_none());

    // Unreachable: every guardrail says so, after a single attempt.
    let dead = PromClient::new("http://127.0.0.1:9").expect("client");
    let report = poll_once(&running.cp, &dead, Some(at)).await;
    assert_eq!((report.queries, report.errors), (1, 14), "{report:?}");
    let rs = running.cp.evaluate_guardrails(false);
    let h = reading(&rs, "error_rate", "healthy");
    assert_eq!(h.status, GuardrailStatus::Insufficient);
    assert!(
        h.source_error
            .as_deref()
            .is_some_and(|e| e.starts_with("prometheus unreachable: ")),
        "{h:?}"
    );
    running.shutdown().await;
}
