//! Guardrail sample counts from Unleash client metrics, and what happens without them.

use super::*;

/// The guardrail reading of (flag, production, cohort) once it satisfies `want` (readings are
/// refreshed by the engine's tick; Unleash flushes client metrics about every 5 s).
async fn wait_reading(
    http: &Http,
    token: &str,
    flag: &str,
    cohort: &str,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let snap = http.get("/v1/snapshot", token).await.body;
        let r = snap["guardrails"]
            .as_array()
            .and_then(|rs| {
                rs.iter().find(|r| {
                    r["flag"] == flag && r["env"] == "production" && r["cohort"] == cohort
                })
            })
            .cloned()
            .unwrap_or(Value::Null);
        if want(&r) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the guardrail reading of {flag}/{cohort} never got there: {r}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardrail_sample_counts_come_from_unleash_client_metrics() {
    let Some(u) = unleash() else { return };
    let name = unique("counted");
    u.feature(&name, &[("eu-west", 50)]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);

    // flagtop's guardrail on the Unleash flag: values pushed by the application, sample counts
    // from the SDKs' evaluations as Unleash reports them.
    let snap = http.get("/v1/snapshot", &admin).await.body;
    let mut flag = snap["flags"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["key"] == name.as_str()))
        .cloned()
        .expect("flag");
    flag["environments"]["production"]["guardrails"] = json!([{"metric": "error_rate", "cohort": "eu-west",
        "threshold": {"type": "absolute", "max": 0.05}, "min_samples": 30, "window_secs": 600, "samples_from": "unleash"}]);
    let r = http
        .call(
            "PUT",
            &format!("/v1/flags/{name}"),
            Some(&admin),
            Some(flag),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let arms = ["candidate", "baseline"].map(|arm| {
        json!({"flag": name, "env": "production",
        "metric": "error_rate", "cohort": "eu-west", "arm": arm, "value": 0.01, "count": 3})
    });
    let samples = json!({ "samples": arms });
    assert_eq!(http.post("/v1/metrics", &admin, samples).await.status, 200);
    let r = wait_reading(&http, &admin, &name, "eu-west", |r| {
        r["samples"].as_u64() == Some(0)
    })
    .await;
    assert_eq!(
        (r["status"].as_str(), r["source_error"].as_str()),
        (Some("insufficient"), None),
        "{r}"
    );
    // Let the follower take its first read (the starting point) before any evaluation exists.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let counts = |yes: u64, no: u64| {
        move |r: &Value| {
            r["samples"].as_u64() == Some(yes) && r["baseline_samples"].as_u64() == Some(no)
        }
    };
    u.report_evaluations(&name, 25, 10).await;
    let r = wait_reading(&http, &admin, &name, "eu-west", counts(25, 10)).await;
    assert_eq!(
        r["status"], "insufficient",
        "25 evaluations are fewer than min_samples 30: {r}"
    );
    u.report_evaluations(&name, 15, 5).await;
    let r = wait_reading(&http, &admin, &name, "eu-west", counts(40, 15)).await;
    assert_eq!(
        (r["status"].as_str(), r["source_error"].as_str()),
        (Some("healthy"), None),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unleash_sample_counts_without_unleash_say_so() {
    // No Unleash needed: the embedded store cannot supply Unleash counts, and the reading says why.
    let (_dir, server, admin) = Server::fresh(&["--no-simulate"]);
    let http = Http::new(&server.url);
    let snap = http.get("/v1/snapshot", &admin).await.body;
    let mut flag = snap["flags"]
        .as_array()
        .and_then(|f| f.first())
        .cloned()
        .expect("a flag");
    let key = flag["key"].as_str().expect("key").to_string();
    let cohort = flag["environments"]["production"]["cohorts"][0]["name"]
        .as_str()
        .expect("cohort")
        .to_string();
    flag["environments"]["production"]["guardrails"] = json!([{"metric": "error_rate", "cohort": cohort,
        "threshold": {"type": "absolute", "max": 0.05}, "samples_from": "unleash"}]);
    let r = http
        .call(
            "PUT",
            &format!("/v1/flags/{key}"),
            Some(&admin),
            Some(flag),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = wait_reading(&http, &admin, &key, &cohort, |r| {
        r["source_error"].is_string()
    })
    .await;
    assert_eq!(r["status"], "insufficient");
    assert!(
        r["source_error"]
            .as_str()
            .unwrap_or("")
            .contains("--flags unleash"),
        "{r}"
    );
}
