//! Figures of two `flagtop serve --store postgres://…` replicas on one real PostgreSQL
//! (`scripts/postgres`, via `FLAGTOP_TEST_PG_URL` + `FLAGTOP_TEST_PG_PASSWORD`): acknowledged
//! actions/s and their p99 with writers spread over both replicas and 200 streams (half on
//! each), and the failover time from kill -9 of a client's replica until its stream is live on
//! the other (and until its next action is acknowledged there, and the engine runs there).
//! Writes its section of docs/performance.md (between the `postgres` markers), as
//! `benches/bounds.rs` does. Run by `./scripts/bench postgres`; never by tests.

use super::*;
use flagtop::client::Client;
use flagtop::client::stream::{StreamEvent, follow};

/// A new, empty database on the test server: its URL (no password) and the password.
fn fresh_db(rt: &tokio::runtime::Runtime, name: &str) -> (String, String) {
    let url = std::env::var("FLAGTOP_TEST_PG_URL").expect("FLAGTOP_TEST_PG_URL");
    let pw = std::env::var("FLAGTOP_TEST_PG_PASSWORD").expect("FLAGTOP_TEST_PG_PASSWORD");
    let db = format!("flagtop_bench_{name}_{}", std::process::id());
    let config = flagtop::control::store::postgres::config(&url, Some(pw.clone())).expect("url");
    rt.block_on(async {
        let (client, conn) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        for sql in [
            format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            format!("CREATE DATABASE {db}"),
        ] {
            client.batch_execute(&sql).await.expect("create database");
        }
    });
    let base = url
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .expect("url");
    (format!("{base}/{db}"), pw)
}

/// Two replicas of one new database: (A, its data dir), (B, its data dir). A mints the token.
fn pair(
    rt: &tokio::runtime::Runtime,
    name: &str,
    extra: &[&str],
) -> ((Server, tempfile::TempDir), (Server, tempfile::TempDir)) {
    let (url, pw) = fresh_db(rt, name);
    let env = [("FLAGTOP_STORE", url.as_str()), ("PGPASSWORD", pw.as_str())];
    let (da, db) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let a = Server::start(da.path(), extra, &env);
    let mut b = Server::replica(db.path(), extra, &env);
    b.admin = a.admin.clone();
    ((a, da), (b, db))
}

/// Throughput and p99 with writers on both replicas and `streams` followers split over them.
/// Returns (acknowledged/s, latencies ms, conflict retries, streams complete).
fn load_once(
    rt: &tokio::runtime::Runtime,
    run: usize,
    window: Duration,
    streams: usize,
    rate: f64,
) -> (f64, Vec<f64>, u64, bool) {
    let ((a, _da), (b, _db)) = pair(
        rt,
        &format!("load{run}"),
        &["--scenario", "large", "--no-simulate"],
    );
    let (urls, token) = ([a.url.clone(), b.url.clone()], a.admin.clone());
    rt.block_on(async move {
        let c = http();
        let snap: Value = c
            .get(format!("{}/v1/snapshot", urls[0]))
            .bearer_auth(&token)
            .send()
            .await
            .expect("snapshot")
            .json()
            .await
            .expect("json");
        let targets = write_targets(&snap);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let connected = Arc::new(AtomicU64::new(0));
        let followers: Vec<_> = (0..streams)
            .map(|i| {
                follower(
                    urls[i % 2].clone(),
                    token.clone(),
                    stopped.clone(),
                    connected.clone(),
                )
            })
            .collect();
        while connected.load(Ordering::SeqCst) < streams as u64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Half the offered rate on each replica, each on its own flags.
        let (ta, tb) = targets.split_at(targets.len() / 2);
        let retries = Arc::new(AtomicU64::new(0));
        let phase = |targets, tag: &str| Phase {
            targets,
            writers: 32,
            rate: Some(rate / 2.0),
            window,
            tag: format!("pg-{tag}-{run}"),
            retries: Some(retries.clone()),
        };
        let t0 = Instant::now();
        let ((mut lat, mut revs), (lb, rb)) = tokio::join!(
            write_for(&c, &urls[0], &token, phase(ta, "a")),
            write_for(&c, &urls[1], &token, phase(tb, "b")),
        );
        let acked = (revs.len() + rb.len()) as f64 / t0.elapsed().as_secs_f64();
        lat.extend(lb);
        revs.extend(rb);
        revs.sort_unstable();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _ = stop.send(true);
        let mut ok = true;
        for f in followers {
            let (ids, resets) = f.await.expect("follower");
            let in_order = ids.windows(2).all(|w| w[0] < w[1]);
            let mut seen = ids.clone();
            seen.sort_unstable();
            ok &= in_order && resets == 0 && revs.iter().all(|r| seen.binary_search(r).is_ok());
        }
        (acked, lat, retries.load(Ordering::SeqCst), ok)
    })
}

/// kill -9 of the replica a client streams from: seconds until its stream is live on the
/// other, until its next action is acknowledged there, and until the other runs the engine.
fn failover_once(rt: &tokio::runtime::Runtime, run: usize) -> (f64, f64, f64) {
    let ((mut a, da), (b, db)) = pair(rt, &format!("failover{run}"), &["--no-simulate"]);
    let runs_engine = |d: &Path| {
        std::fs::read_to_string(d.join("flagtop.log"))
            .is_ok_and(|l| l.contains("this replica runs the engine"))
    };
    let until = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    until("A to run the engine", &|| runs_engine(da.path()));
    let (urls, token) = ([a.url.clone(), b.url.clone()], a.admin.clone());
    let client = Client::replicas(&urls, &token, "cli").expect("client");
    let (live, acted) = rt.block_on(async {
        let rev = client.snapshot().await.expect("snapshot").revision.0;
        let (tx, mut rx) = tokio::sync::mpsc::channel(256);
        let stream = tokio::spawn(follow(client.clone(), Some(rev), None, tx));
        while !matches!(rx.recv().await, Some(StreamEvent::Connected { .. })) {}
        let killed = Instant::now();
        let _ = a.child.kill();
        let _ = a.child.wait();
        // Live again: the `Connected` that follows the move to B.
        let mut moved = false;
        loop {
            match rx.recv().await.expect("stream") {
                StreamEvent::Replica(r) => moved = r == urls[1],
                StreamEvent::Connected { .. } if moved => break,
                _ => {}
            }
        }
        let live = killed.elapsed().as_secs_f64();
        let req = serde_json::from_value(
            json!({"action": {"type": "freeze", "env": "staging"}, "reason": "bench"}),
        )
        .expect("request");
        client
            .act(&req, &format!("failover-{run}"))
            .await
            .expect("act on B");
        stream.abort();
        (live, killed.elapsed().as_secs_f64())
    });
    let t = Instant::now();
    until("B to run the engine", &|| runs_engine(db.path()));
    // The engine's figure counts from the kill too.
    (live, acted, acted + t.elapsed().as_secs_f64())
}

pub(crate) fn postgres(
    out: &mut Out,
    rt: &tokio::runtime::Runtime,
    runs: usize,
    window: Duration,
    streams: usize,
    rate: f64,
) {
    if std::env::var("FLAGTOP_TEST_PG_URL").is_err() {
        eprintln!(
            "postgres: skipped (no FLAGTOP_TEST_PG_URL; ./scripts/bench postgres starts one)"
        );
        return;
    }
    eprintln!(
        "two replicas on PostgreSQL ({streams} streams; {rate} actions/s offered over both; {}s)",
        window.as_secs()
    );
    let (mut rates, mut p99s, mut retries, mut ok_runs, mut all_lat) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut live, mut acted, mut engine) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let (r, lat, n, ok) = load_once(rt, run, window, streams, rate);
        rates.push(r);
        p99s.push(pct(&lat, 99.0));
        all_lat.extend(lat);
        retries.push(n as f64);
        ok_runs.push(if ok { 1.0 } else { 0.0 });
        let (l, a, e) = failover_once(rt, run);
        live.push(l);
        acted.push(a);
        engine.push(e);
    }
    let p99 = pct(&all_lat, 99.0);
    let offered = format!("{rate} actions/s offered, half to each replica");
    out.put(
        "pg_actions_per_s",
        median(&rates),
        None,
        "actions/s",
        &rates,
        &offered,
    );
    out.put(
        "pg_latency_ms",
        median(&all_lat),
        Some(p99),
        "ms",
        &p99s,
        "due → acknowledged; runs = per-run p99",
    );
    out.put(
        "pg_conflict_retries",
        median(&retries),
        None,
        "retries",
        &retries,
        "409s retried with the same key (0 expected: writers act on their own flags, and a replica that loses the race retries on the server)",
    );
    out.put(
        "pg_streams_complete",
        ok_runs.iter().sum(),
        None,
        "runs",
        &ok_runs,
        "every stream got every change, in order, no reset",
    );
    out.put(
        "pg_failover_stream_s",
        median(&live),
        Some(pct(&live, 99.0)),
        "s",
        &live,
        "kill -9 → the client's stream live on the other replica",
    );
    out.put(
        "pg_failover_action_s",
        median(&acted),
        None,
        "s",
        &acted,
        "kill -9 → the client's next action acknowledged there",
    );
    out.put(
        "pg_failover_engine_s",
        median(&engine),
        None,
        "s",
        &engine,
        "kill -9 → the engine running on the other replica",
    );
    let f = |v: f64, d: usize| format!("{v:.d$}");
    let section = format!(
        "<!-- postgres:start (written by `./scripts/bench postgres`) -->\n\
         ## Two replicas on PostgreSQL\n\n\
         Two `flagtop serve --store` replicas on one PostgreSQL 15 (`scripts/postgres`), 10,000-flag \
         store; {runs} runs of {}s, medians (individual runs in brackets).\n\n\
         | figure | goal | measured |\n|---|---|---|\n\
         | acknowledged actions/s ({offered}, {streams} streams split over both) | ≥ 500/s | {} {:.0?} |\n\
         | latency due → acknowledged, p99 | < 50 ms | {} ms (median {} ms; per-run p99 {:.1?}) |\n\
         | 409 conflicts retried with the same key (writers on their own flags) | 0 | {} {:.0?} |\n\
         | runs where every stream got every change in order | all | {}/{runs} |\n\
         | kill -9 → the client's stream live on the other replica | < 3 s | {} s {:.2?} |\n\
         | kill -9 → the client's next action acknowledged there | — | {} s {:.2?} |\n\
         | kill -9 → the engine running on the other replica | — | {} s {:.2?} |\n\
         <!-- postgres:end -->\n",
        window.as_secs(),
        f(median(&rates), 0),
        rates,
        f(p99, 1),
        f(median(&all_lat), 1),
        p99s,
        f(median(&retries), 0),
        retries,
        ok_runs.iter().sum::<f64>(),
        f(median(&live), 2),
        live,
        f(median(&acted), 2),
        acted,
        f(median(&engine), 2),
        engine,
    );
    let doc = std::env::var("BENCH_DOC").unwrap_or_else(|_| "docs/performance.md".into());
    let text = std::fs::read_to_string(&doc).unwrap_or_default();
    let (start, end) = ("<!-- postgres:start", "<!-- postgres:end -->\n");
    let text = match (text.find(start), text.find(end)) {
        (Some(a), Some(b)) if b > a => format!("{}{section}{}", &text[..a], &text[b + end.len()..]),
        _ => format!("{}\n\n{section}", text.trim_end()),
    };
    std::fs::write(&doc, text).expect("write the doc");
    eprintln!("postgres: wrote its section of {doc}");
}
