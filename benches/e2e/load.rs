//! Figures of the control plane: throughput and latency under load, and against Unleash.

use super::*;

/// A writer retries one action at most this often on `409 conflict` (replicas only).
const MAX_CONFLICT_RETRIES: usize = 50;
/// How long after its window a phase's writers have to finish their last actions (each
/// request is bounded by the HTTP client's timeout too) before the run ends, naming them.
const WRITE_GRACE: Duration = Duration::from_secs(60);
/// Admin tokens the writers share: the server allows `api::limits::WRITES_PER_SEC` (1,000) per
/// token, and the capacity phase must measure the server, not that limit.
pub(crate) const WRITER_TOKENS: usize = 4;
/// How long the streams have, after the last acknowledgement, to receive every change.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// One load phase: its flags (flag, cohort, starting percent), writers, offered rate (None:
/// back to back), length, and a tag for idempotency keys.
pub(crate) struct Phase<'a> {
    pub(crate) targets: &'a [(String, String, u8)],
    pub(crate) writers: usize,
    pub(crate) rate: Option<f64>,
    pub(crate) window: Duration,
    pub(crate) tag: String,
    /// None: every action must be acknowledged at once. Some: a `409 conflict` (another replica
    /// committed first) is retried with the same key, counted here; latency runs to the ack.
    pub(crate) retries: Option<Arc<AtomicU64>>,
}

/// One load phase's writers. With `rate`, a sustained stream: action `i` is due at
/// `t0 + i / rate`, taken by whichever writer is free, and its latency counts from when it was
/// due (so a server that falls behind shows as latency, not as a lower offered rate). Without,
/// each writer sends its next action as soon as the previous one is acknowledged (saturation).
/// Each writer owns its flags and alternates their percents; writer `w` sends with
/// `tokens[w % tokens.len()]` (the server limits writes per token). Returns (latencies ms,
/// revisions).
pub(crate) async fn write_for(
    c: &reqwest::Client,
    url: &str,
    tokens: &[String],
    phase: Phase<'_>,
) -> (Vec<f64>, Vec<u64>) {
    let Phase {
        targets,
        writers,
        rate,
        window,
        tag,
        retries,
    } = phase;
    let t0 = Instant::now();
    let end = t0 + window;
    let slot = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let mine: Vec<_> = targets.iter().skip(w).step_by(writers).cloned().collect();
        let (c, url, token, slot, tag, retries) = (
            c.clone(),
            url.to_string(),
            tokens[w % tokens.len()].clone(),
            slot.clone(),
            tag.clone(),
            retries.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut revs) = (Vec::new(), Vec::new());
            let mut i = 0usize;
            loop {
                let due = match rate {
                    Some(r) => t0 + Duration::from_secs_f64(slot.fetch_add(1, Ordering::SeqCst) as f64 / r),
                    None => Instant::now(),
                };
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let (flag, cohort, p0) = &mine[i % mine.len()];
                let p = if (i / mine.len()).is_multiple_of(2) { if *p0 == 50 { 51 } else { 50 } } else { *p0 };
                let action = json!({"type": "set_percent", "flag": flag, "env": "staging", "cohort": cohort, "percent": p});
                let key = format!("{tag}-{w}-{i}");
                let (mut st, mut body) = act(&c, &url, &token, action.clone(), &key).await;
                if let Some(n) = &retries {
                    for _ in 0..MAX_CONFLICT_RETRIES {
                        if st != 409 {
                            break;
                        }
                        n.fetch_add(1, Ordering::SeqCst);
                        (st, body) = act(&c, &url, &token, action.clone(), &key).await;
                    }
                }
                lat.push(due.elapsed().as_secs_f64() * 1e3);
                assert_eq!(st, 200, "action {key} on {url}: {body}");
                revs.push(body["revision"].as_u64().expect("revision"));
                i += 1;
            }
            (lat, revs)
        }));
    }
    let (mut lat, mut revs) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::from_std(end + WRITE_GRACE);
    for (k, t) in tasks.into_iter().enumerate() {
        let Ok(done) = tokio::time::timeout_at(deadline, t).await else {
            panic!(
                "timed out {WRITE_GRACE:?} after the {window:?} window waiting for the writers of {tag} on {url}: {k} of {writers} finished"
            );
        };
        let (l, r) = done.expect("writer");
        lat.extend(l);
        revs.extend(r);
    }
    (lat, revs)
}

/// `flagtop serve` with 200 SSE streams and a sustained stream of actions: first `rate`
/// actions/s offered for the window (throughput = acknowledged / s, latency from when each
/// was due), then the same streams under saturation (`writers` back-to-back writers: the
/// capacity). Every stream must receive every change of both phases, in order.
pub(crate) fn load(
    out: &mut Out,
    rt: &tokio::runtime::Runtime,
    runs: usize,
    window: Duration,
    streams: usize,
    writers: usize,
    rate: f64,
) {
    eprintln!(
        "control plane under load ({streams} streams; {rate} actions/s offered, then {writers} writers back to back; {}s each)",
        window.as_secs()
    );
    let (mut rates, mut p99s, mut ok_runs, mut caps, mut cap_p99s) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut all_lat = Vec::new();
    for run in 0..runs {
        let dir = tempfile::tempdir().expect("tmp");
        let srv = Server::start(dir.path(), &["--scenario", "large", "--no-simulate"], &[]);
        let (url, token) = (srv.url.clone(), srv.admin.clone());
        let (rate, lat, cap, cap_lat, ok) = rt.block_on(async move {
            let c = http();
            // Targets: staging cohorts of many flags (no approvals needed, no contention on one flag).
            let snap: Value = c
                .get(format!("{url}/v1/snapshot"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("snap")
                .json()
                .await
                .expect("json");
            let targets = write_targets(&snap);
            // Each phase its own flags: a writer alternates percents from the state it knows.
            let (sustained, saturated) = targets.split_at(targets.len() / 2);
            // 200 followers, each recording every change id in arrival order (viewer tokens:
            // the server caps streams per token).
            let tokens = stream_tokens(&c, &url, &token, streams).await;
            let mut followers = Followers::open(
                (0..streams).map(|i| (url.clone(), tokens[i / STREAMS_PER_TOKEN].clone())),
            );
            followers.connected().await;
            let writer_tokens =
                mint_tokens(&c, &url, &token, "admin", WRITER_TOKENS, "bench-writers").await;
            // The sustained stream: 64 writers are enough to keep `rate` flowing while some wait.
            let t0 = Instant::now();
            let (lat, mut revs) = write_for(
                &c,
                &url,
                &writer_tokens,
                Phase {
                    targets: sustained,
                    writers: 64,
                    rate: Some(rate),
                    window,
                    tag: format!("load-{run}"),
                    retries: None,
                },
            )
            .await;
            let rate = revs.len() as f64 / t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let (cap_lat, cap_revs) = write_for(
                &c,
                &url,
                &writer_tokens,
                Phase {
                    targets: saturated,
                    writers,
                    rate: None,
                    window,
                    tag: format!("cap-{run}"),
                    retries: None,
                },
            )
            .await;
            let cap = cap_revs.len() as f64 / t1.elapsed().as_secs_f64();
            revs.extend(cap_revs);
            revs.sort_unstable();
            // Let the streams drain, then check every stream got every change, in order.
            let newest = revs.last().copied().unwrap_or(0);
            let _ = followers.drained(newest, DRAIN_LIMIT).await;
            let mut ok = true;
            for f in followers.finish().await {
                if let Err(e) = f.check(&revs) {
                    eprintln!("    {e}");
                    ok = false;
                }
            }
            (rate, lat, cap, cap_lat, ok)
        });
        rates.push(rate);
        p99s.push(pct(&lat, 99.0));
        all_lat.extend(lat);
        caps.push(cap);
        cap_p99s.push(pct(&cap_lat, 99.0));
        ok_runs.push(if ok { 1.0 } else { 0.0 });
    }
    let offered = format!("{rate} actions/s offered");
    out.put(
        "load_actions_per_s",
        median(&rates),
        None,
        "actions/s",
        &rates,
        &format!("acknowledged (200, durable) set-percent actions, {offered}; 10,000-flag store"),
    );
    out.put(
        "load_latency_ms",
        median(&all_lat),
        Some(pct(&all_lat, 99.0)),
        "ms",
        &p99s,
        &format!("due → acknowledged at {offered}; runs = per-run p99"),
    );
    out.put("load_capacity_per_s", median(&caps), None, "actions/s", &caps, &format!("acknowledged / s with {writers} writers back to back; per-run p99 latency {cap_p99s:.1?} ms"));
    out.put(
        "load_streams_complete",
        ok_runs.iter().sum::<f64>(),
        None,
        "runs",
        &ok_runs,
        "runs in which every stream received every change, in order, with no reset",
    );
}

/// flagtop's Unleash-backed action vs the same change through Unleash's Admin API directly.
pub(crate) fn unleash(out: &mut Out, rt: &tokio::runtime::Runtime, n: usize) {
    let (Ok(uurl), Ok(utoken)) = (
        std::env::var("FLAGTOP_TEST_UNLEASH_URL"),
        std::env::var("UNLEASH_ADMIN_TOKEN"),
    ) else {
        eprintln!(
            "unleash: skipped (no FLAGTOP_TEST_UNLEASH_URL / UNLEASH_ADMIN_TOKEN; scripts/bench starts one)"
        );
        return;
    };
    eprintln!("Unleash: flagtop action vs Admin API directly");
    let dir = tempfile::tempdir().expect("tmp");
    let name = format!("bench-{}", std::process::id());
    let c = http();
    let strategy = rt.block_on(async {
        let feat = format!("{uurl}/api/admin/projects/default/features");
        let r = c
            .post(&feat)
            .header("authorization", &utoken)
            .json(&json!({"name": name, "type": "release"}))
            .send()
            .await
            .expect("create");
        assert!(r.status().is_success(), "create feature: {}", r.status());
        let mut ids = Vec::new();
        for region in ["eu-west", "us-east"] {
            let body = json!({"name": "flexibleRollout", "title": region,
                "constraints": [{"contextName": "region", "operator": "IN", "values": [region]}],
                "parameters": {"rollout": "10", "stickiness": "default", "groupId": name}});
            let v: Value = c
                .post(format!("{feat}/{name}/environments/development/strategies"))
                .header("authorization", &utoken)
                .json(&body)
                .send()
                .await
                .expect("strategy")
                .json()
                .await
                .expect("json");
            ids.push(v["id"].as_str().expect("id").to_string());
        }
        c.post(format!("{feat}/{name}/environments/development/on"))
            .header("authorization", &utoken)
            .send()
            .await
            .expect("on");
        ids
    });
    let srv = Server::start(
        dir.path(),
        &[
            "--no-simulate",
            "--flags",
            "unleash",
            "--unleash-url",
            &uurl,
            "--unleash-poll-secs",
            "3600",
        ],
        &[("UNLEASH_ADMIN_TOKEN", &utoken)],
    );
    let (furl, ftoken) = (srv.url.clone(), srv.admin.clone());
    let (via, direct) = rt.block_on(async {
        let (mut via, mut direct) = (Vec::new(), Vec::new());
        let mut cur = 10u8;
        for i in 0..n {
            // flagtop: eu-west (its own compare-and-set JSON Patch, audit, fsync, publish).
            let p = if cur == 10 { 20 } else { 10 };
            let s = Instant::now();
            let (st, body) = act(&c, &furl, &ftoken, json!({"type": "set_percent", "flag": name, "env": "development", "cohort": "eu-west", "percent": p}), &format!("u-{i}")).await;
            via.push(s.elapsed().as_secs_f64() * 1e3);
            assert_eq!(st, 200, "{body}");
            cur = p;
            // Directly: the same kind of change (test + replace of rollout) on us-east.
            let (from, to) = if i % 2 == 0 { ("10", "20") } else { ("20", "10") };
            let ops = json!([{"op": "test", "path": "/parameters/rollout", "value": from}, {"op": "replace", "path": "/parameters/rollout", "value": to}]);
            let s = Instant::now();
            let r = c
                .patch(format!("{uurl}/api/admin/projects/default/features/{name}/environments/development/strategies/{}", strategy[1]))
                .header("authorization", &utoken)
                .json(&ops)
                .send()
                .await
                .expect("patch");
            let ok = r.status().is_success();
            let _ = r.bytes().await;
            direct.push(s.elapsed().as_secs_f64() * 1e3);
            assert!(ok, "direct patch failed");
        }
        (via, direct)
    });
    let (mv, md) = (median(&via), median(&direct));
    out.put(
        "unleash_via_flagtop_ms",
        mv,
        Some(pct(&via, 99.0)),
        "ms",
        &[mv],
        "flagtop serve --flags unleash: POST /v1/actions set_percent",
    );
    out.put(
        "unleash_direct_ms",
        md,
        Some(pct(&direct, 99.0)),
        "ms",
        &[md],
        "PATCH …/strategies/{id} (test + replace) on Unleash directly",
    );
    out.put(
        "unleash_ratio",
        mv / md,
        None,
        "×",
        &[mv / md],
        "median via flagtop / median direct",
    );
}
