//! Figures of two `flagtop serve --store postgres://…` replicas on one real PostgreSQL
//! (`scripts/postgres`, via `FLAGTOP_TEST_PG_URL` + `FLAGTOP_TEST_PG_PASSWORD`): acknowledged
//! actions/s and their p99 with writers spread over both replicas and 200 streams (half on
//! each), and the failover time from kill -9 of a client's replica until its stream is live on
//! the other (and until its next action is acknowledged there, and the engine runs there).
//! Writes its section of docs/performance.md (between the `postgres` markers), as
//! `benches/bounds.rs` does. Run by `./scripts/bench postgres`; never by tests.

mod failover;
mod runs;

use super::*;
use failover::failover_once;
use runs::load_once;

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
    let (mut live, mut acted, mut engine, mut measured) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let l = load_once(rt, run, window, streams, rate);
        let (ok, n) = l.complete;
        let line = format!(
            "run {run}: {} + {} actions acknowledged by A + B in {:.1} s ({:.0}/s), p99 {:.1} ms, {} 409 retries, {ok}/{n} streams complete, streams caught up {}",
            l.acked.0,
            l.acked.1,
            l.secs,
            l.rate(),
            pct(&l.lat, 99.0),
            l.retries,
            l.drained
                .map(|d| format!("{} ms after the last ack", d.as_millis()))
                .unwrap_or_else(|| format!("not within {DRAIN_LIMIT:?}")),
        );
        eprintln!("  {line}");
        rates.push(l.rate());
        p99s.push(pct(&l.lat, 99.0));
        all_lat.extend(l.lat);
        retries.push(l.retries as f64);
        ok_runs.push(if ok == n { 1.0 } else { 0.0 });
        let (s, a, e) = failover_once(rt, run);
        let line = format!("{line}; failover: stream {s:.2} s, action {a:.2} s, engine {e:.2} s");
        eprintln!(
            "  run {run}: failover: stream live on B {s:.2} s, action acknowledged on B {a:.2} s, engine on B {e:.2} s after kill -9 of A"
        );
        measured.push(line);
        live.push(s);
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
    // The bench is built with the binary's profile: a debug build's numbers are not the figures.
    let build = if cfg!(debug_assertions) {
        "a DEBUG build (`--profile dev`: these numbers show that the run completes, they are not the figures)"
    } else {
        "the optimised `bench` build"
    };
    let section = format!(
        "<!-- postgres:start (written by `./scripts/bench postgres`) -->\n\
         ## Two replicas on PostgreSQL\n\n\
         Two `flagtop serve --store` replicas on one PostgreSQL 15 (`scripts/postgres`), 10,000-flag \
         store, {build}; {runs} runs of {}s, medians (individual runs in brackets). Each run: a new \
         database; {streams} SSE streams, alternately on A and B ({STREAMS_PER_TOKEN} per viewer \
         token); 32 writers on each replica (on {WRITER_TOKENS} admin tokens), each on its own staging cohorts, taking actions as \
         they fall due at half the offered rate; latency counts from when an action was due. \
         Then a client streaming from A (`Client::replicas`), kill -9 of A.\n\n\
         | figure | goal | measured |\n|---|---|---|\n\
         | acknowledged actions/s ({offered}, {streams} streams split over both) | ≥ 500/s | {} {:.0?} |\n\
         | latency due → acknowledged, p99 | < 50 ms | {} ms (median {} ms; per-run p99 {:.1?}) |\n\
         | 409 conflicts retried with the same key (writers on their own flags) | 0 | {} {:.0?} |\n\
         | runs where every stream got every change in order | all | {}/{runs} |\n\
         | kill -9 → the client's stream live on the other replica | < 3 s | {} s {:.2?} |\n\
         | kill -9 → the client's next action acknowledged there | — | {} s {:.2?} |\n\
         | kill -9 → the engine running on the other replica | — | {} s {:.2?} |\n\
         \nPer run: {}.\n\
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
        measured.join("; "),
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
