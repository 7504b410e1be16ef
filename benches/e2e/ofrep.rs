//! OFREP figures (`./scripts/bench ofrep`; benchmarks, not tests): single-flag evaluations/s and
//! p99 over keep-alive connections, a bulk of 50 flags, the 304 path, Unleash's frontend API
//! (frontend token) in the same run as a ratio, and change → an OFREP client sees it on the event
//! stream (p50/p99) beside Unleash's SDK poll interval. Writes the figures as JSON lines and its
//! section of docs/performance.md (between the `ofrep` markers, like `benches/bounds.rs`).

use super::*;

/// Concurrent keep-alive clients per load (two cores: more only queue).
const CLIENTS: usize = 8;
/// Flags in the bulk answer (the demo's 5 and 45 copies of checkout-v2).
const BULK_FLAGS: usize = 50;
/// Unleash SDKs' default refresh interval (`refreshInterval`, seconds): how long an Unleash
/// application may take to see a change.
const UNLEASH_POLL_SECS: u64 = 15;

/// Throughput and latency of one load.
#[derive(Debug, Clone, Copy, Default)]
struct Load {
    per_sec: f64,
    p50: f64,
    p99: f64,
    n: usize,
}

/// `CLIENTS` tasks sending `req(client, i)` back to back for `secs`: a request counts when it
/// answers `ok` statuses.
async fn hammer<F>(secs: f64, ok: &'static [u16], req: F) -> Load
where
    F: Fn(usize, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let req = Arc::new(req);
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let req = req.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0u64;
            while Instant::now() < until {
                let t = Instant::now();
                let Ok(r) = req(c, i).send().await else {
                    continue;
                };
                let good = ok.contains(&r.status().as_u16());
                let _ = r.bytes().await;
                if good {
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                }
                i += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("load task"));
    }
    let wall = started.elapsed().as_secs_f64();
    Load {
        per_sec: all.len() as f64 / wall,
        p50: pct(&all, 50.0),
        p99: pct(&all, 99.0),
        n: all.len(),
    }
}

/// The demo plus copies of checkout-v2 up to `BULK_FLAGS` flags, defined through the API.
async fn define_bulk(c: &reqwest::Client, srv: &Server) {
    let base: Value = c
        .get(format!("{}/v1/flags/checkout-v2", srv.url))
        .bearer_auth(&srv.admin)
        .send()
        .await
        .expect("GET flag")
        .json()
        .await
        .expect("flag json");
    for i in 5..BULK_FLAGS {
        let key = format!("bench-flag-{i:02}");
        let mut f = base.clone();
        if f.get("key").is_some() {
            f["key"] = json!(key);
        }
        let r = c
            .put(format!("{}/v1/flags/{key}", srv.url))
            .bearer_auth(&srv.admin)
            .json(&f)
            .send()
            .await
            .expect("PUT flag");
        assert!(r.status().is_success(), "define {key}: {}", r.status());
    }
}

async fn sdk_token(c: &reqwest::Client, srv: &Server, env: &str) -> String {
    let v: Value = c
        .post(format!("{}/v1/tokens", srv.url))
        .bearer_auth(&srv.admin)
        .json(&json!({"name": format!("bench-sdk-{env}"), "role": "sdk", "environments": [env]}))
        .send()
        .await
        .expect("mint sdk token")
        .json()
        .await
        .expect("token json");
    v["token"].as_str().expect("token").to_string()
}

fn context(c: usize, i: u64) -> Value {
    json!({"context": {"targetingKey": format!("bench-{c}-{i}"), "region": "eu-west"}})
}

/// change → `refetchEvaluation` on the OFREP event stream, `n` times (ms).
async fn propagation(c: &reqwest::Client, srv: &Server, n: usize) -> Vec<f64> {
    let token = sdk_token(c, srv, "staging").await;
    let mut resp = c
        .get(format!("{}/ofrep/v1/events", srv.url))
        .header("x-api-key", &token)
        .timeout(Duration::from_secs(3600))
        .send()
        .await
        .expect("event stream");
    assert_eq!(resp.status().as_u16(), 200, "event stream");
    let mut p = SseParser::new(1 << 16, 1 << 20);
    let mut items = Vec::new();
    let mut lat = Vec::new();
    for i in 0..n {
        let percent = if i % 2 == 0 { 21 } else { 11 };
        let action = json!({"type": "set_percent", "flag": "checkout-v2", "env": "staging", "cohort": "eu-west", "percent": percent});
        let t = Instant::now();
        let (st, body) = act(c, &srv.url, &srv.admin, action, &format!("ofrep-prop-{i}")).await;
        assert_eq!(st, 200, "{body}");
        'seen: loop {
            let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
                .await
                .expect("an event within 5 s")
                .expect("stream")
                .expect("stream open");
            p.push(&chunk, &mut items).expect("sse");
            for it in items.drain(..) {
                if let SseItem::Event(e) = it
                    && e.data.contains("refetchEvaluation")
                {
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                    break 'seen;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lat
}

/// Unleash's frontend API on the same machine: a feature like checkout-v2 and a frontend token,
/// then the same single-flag load. None (with why) when no Unleash is running.
async fn unleash_frontend(c: &reqwest::Client, secs: f64) -> Result<Load, String> {
    let (Ok(uurl), Ok(admin)) = (
        std::env::var("FLAGTOP_TEST_UNLEASH_URL"),
        std::env::var("UNLEASH_ADMIN_TOKEN"),
    ) else {
        return Err(
            "no Unleash (scripts/bench ofrep starts one with scripts/unleash start 8)".into(),
        );
    };
    let name = format!("bench-ofrep-{}", std::process::id());
    let feat = format!("{uurl}/api/admin/projects/default/features");
    let post = |url: String, body: Value| {
        c.post(url)
            .header("authorization", &admin)
            .json(&body)
            .send()
    };
    let r = post(feat.clone(), json!({"name": name, "type": "release"}))
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("create feature: {}", r.status()));
    }
    let strategy = json!({"name": "flexibleRollout", "constraints": [{"contextName": "region", "operator": "IN", "values": ["eu-west"]}],
        "parameters": {"rollout": "25", "stickiness": "default", "groupId": name}});
    let r = post(
        format!("{feat}/{name}/environments/development/strategies"),
        strategy,
    )
    .await
    .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("add strategy: {}", r.status()));
    }
    let _ = post(
        format!("{feat}/{name}/environments/development/on"),
        json!({}),
    )
    .await;
    let token: Value = post(
        format!("{uurl}/api/admin/api-tokens"),
        json!({"tokenName": "bench-frontend", "type": "frontend", "environment": "development", "projects": ["*"]}),
    )
    .await
    .map_err(|e| e.to_string())?
    .json()
    .await
    .map_err(|e| e.to_string())?;
    let secret = token["secret"]
        .as_str()
        .ok_or(format!("no frontend token: {token}"))?
        .to_string();
    // OSS Unleash 8 has no single-feature frontend route (404 "path not available"): the
    // frontend API evaluates every flag of the token's environment for the context, once the
    // token is known.
    let url = format!("{uurl}/api/frontend");
    let ready = Instant::now();
    loop {
        let r = c
            .get(format!(
                "{url}?userId=warm-up&properties%5Bregion%5D=eu-west"
            ))
            .header("authorization", &secret)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() == 200 {
            break;
        }
        if ready.elapsed() > Duration::from_secs(15) {
            return Err(format!("frontend API answers {}", r.status()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let c = c.clone();
    Ok(hammer(secs, &[200], move |cl, i| {
        c.get(format!(
            "{url}?userId=bench-{cl}-{i}&properties%5Bregion%5D=eu-west"
        ))
        .header("authorization", &secret)
    })
    .await)
}

/// Every OFREP figure; `secs` per load, `n` changes for propagation.
pub(crate) fn ofrep(out: &mut Out, rt: &tokio::runtime::Runtime, secs: f64, n: usize) {
    eprintln!("OFREP: single flag, bulk of {BULK_FLAGS}, 304, Unleash frontend API, propagation");
    let dir = tempfile::tempdir().expect("tmp");
    let srv = Server::start(dir.path(), &["--no-simulate"], &[]);
    let c = http();
    let figures = rt.block_on(async {
        define_bulk(&c, &srv).await;
        let token = sdk_token(&c, &srv, "production").await;
        let url = srv.url.clone();
        let (cl, tk, u) = (c.clone(), token.clone(), url.clone());
        let single = hammer(secs, &[200], move |c, i| {
            cl.post(format!("{u}/ofrep/v1/evaluate/flags/checkout-v2"))
                .header("x-api-key", &tk)
                .json(&context(c, i))
        })
        .await;
        let (cl, tk, u) = (c.clone(), token.clone(), url.clone());
        let bulk = hammer(secs, &[200], move |c, i| {
            cl.post(format!("{u}/ofrep/v1/evaluate/flags"))
                .header("x-api-key", &tk)
                .json(&context(c, i))
        })
        .await;
        let fixed = context(0, 0);
        let first = c
            .post(format!("{url}/ofrep/v1/evaluate/flags"))
            .header("x-api-key", &token)
            .json(&fixed)
            .send()
            .await
            .expect("bulk");
        let etag = first.headers()["etag"].to_str().expect("etag").to_string();
        let flags = first.json::<Value>().await.expect("bulk json")["flags"]
            .as_array()
            .map_or(0, Vec::len);
        let (cl, tk, u) = (c.clone(), token.clone(), url.clone());
        let not_modified = hammer(secs, &[304], move |_, _| {
            cl.post(format!("{u}/ofrep/v1/evaluate/flags"))
                .header("x-api-key", &tk)
                .header("if-none-match", &etag)
                .json(&fixed)
        })
        .await;
        let unleash = unleash_frontend(&c, secs).await;
        let prop = propagation(&c, &srv, n).await;
        (single, bulk, flags, not_modified, unleash, prop)
    });
    let (single, bulk, flags, not_modified, unleash, prop) = figures;
    let put = |out: &mut Out, key: &str, l: Load, note: &str| {
        out.put(key, l.per_sec, None, "req/s", &[l.per_sec], note);
        out.put(
            &format!("{key}_ms"),
            l.p50,
            Some(l.p99),
            "ms",
            &[l.p50],
            note,
        );
    };
    put(out, "ofrep_single", single, "POST …/evaluate/flags/{key}");
    put(out, "ofrep_bulk", bulk, "POST …/evaluate/flags (bulk)");
    put(out, "ofrep_304", not_modified, "bulk, If-None-Match → 304");
    let (p50, p99) = (pct(&prop, 50.0), pct(&prop, 99.0));
    let note = "change → refetchEvaluation";
    out.put("ofrep_propagation_ms", p50, Some(p99), "ms", &[p50], note);
    match &unleash {
        Ok(u) => {
            put(
                out,
                "unleash_frontend",
                *u,
                "GET /api/frontend (every flag of the environment)",
            );
            let r = single.per_sec / u.per_sec;
            out.put("ofrep_unleash_ratio", r, None, "×", &[r], "");
        }
        Err(e) => eprintln!("  Unleash frontend API skipped: {e}"),
    }
    let figures = (single, bulk, flags, not_modified);
    let section = section(figures, &unleash, (p50, p99, prop.len()), secs);
    let doc = std::env::var("BENCH_DOC").unwrap_or_else(|_| "docs/performance.md".into());
    common::write_section(&doc, "ofrep", &section);
    eprintln!("ofrep: wrote its section of {doc}");
}

fn section(
    (single, bulk, flags, nm): (Load, Load, usize, Load),
    unleash: &Result<Load, String>,
    (p50, p99, n): (f64, f64, usize),
    secs: f64,
) -> String {
    let met = |b: bool| if b { "✅ met" } else { "❌ missed" };
    let (unleash_row, ratio_row) = match unleash {
        Ok(u) => {
            let r = single.per_sec / u.per_sec;
            (
                format!(
                    "{:.0} evaluations/s, p50 {:.2} ms, p99 {:.2} ms ({} requests)",
                    u.per_sec, u.p50, u.p99, u.n
                ),
                format!("{r:.1}× | {}", met(r >= 3.0)),
            )
        }
        Err(e) => (format!("not measured: {e}"), "not measured | –".into()),
    };
    format!(
        "## OpenFeature (OFREP) (`./scripts/bench ofrep`, `benches/e2e/ofrep.rs`)\n\n\
         | figure | goal | measured | |\n|---|---|---|---|\n\
         | single-flag `POST /ofrep/v1/evaluate/flags/{{key}}`, {CLIENTS} keep-alive clients | p99 < 2 ms | {:.0} evaluations/s, p50 {:.2} ms, p99 {:.2} ms ({} requests) | {} |\n\
         | Unleash's frontend API on the same machine, same run, same clients (`GET /api/frontend?userId=…`, frontend token; OSS has no single-flag route, so it evaluates every flag of `development`) | – | {unleash_row} | |\n\
         | flagtop ÷ Unleash evaluations/s | ≥ 3× | {ratio_row} |\n\
         | bulk of {flags} flags `POST /ofrep/v1/evaluate/flags` | – | {:.0} answers/s ({:.0} flag evaluations/s), p50 {:.2} ms, p99 {:.2} ms | |\n\
         | bulk with a matching `If-None-Match` (the 304 path) | – | {:.0} answers/s, p50 {:.2} ms, p99 {:.2} ms | |\n\
         | change (`POST /v1/actions`) → an OFREP client sees `refetchEvaluation` on the event stream ({n} changes) | p99 < 100 ms | p50 {p50:.2} ms, p99 {p99:.2} ms; Unleash SDKs poll every {UNLEASH_POLL_SECS} s by default | {} |\n\n\
         Method: one `flagtop serve` (demo scenario, no simulator) on loopback, {secs:.0} s per load, every request with a new `targetingKey`; latencies are client-side round trips. Take these figures while nothing else runs on the machine.\n",
        single.per_sec,
        single.p50,
        single.p99,
        single.n,
        met(single.p99 < 2.0),
        bulk.per_sec,
        bulk.per_sec * flags as f64,
        bulk.p50,
        bulk.p99,
        nm.per_sec,
        nm.p50,
        nm.p99,
        met(p99 < 100.0),
    )
}
