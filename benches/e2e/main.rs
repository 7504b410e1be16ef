//! End-to-end performance figures of the REAL binary (benchmarks, not tests: nothing here fails
//! on a slow number). The TUI runs in a pseudo-terminal (portable-pty) whose output is parsed by
//! vt100, against a real control plane (embedded, or `flagtop serve`), and optionally a real
//! Unleash. Writes the figures as JSON lines to `$BENCH_OUT` (default
//! `target/bench/e2e.jsonl`); `scripts/bench` turns them into docs/performance.md.
//!
//! Run: `cargo bench --bench e2e` (or `./scripts/bench`). Knobs: `BENCH_RUNS` (default 3),
//! `BENCH_QUICK=1` (shorter windows), `BENCH_LOAD_RATE` / `BENCH_LOAD_STREAMS` /
//! `BENCH_LOAD_WRITERS` (the `load` section's offered 600 actions/s, 200 streams and 32
//! saturating writers), `BENCH_OFREP_SECS` (seconds per OFREP load; `ofrep` runs only when
//! named), Unleash via
//! `FLAGTOP_TEST_UNLEASH_URL` + `UNLEASH_ADMIN_TOKEN` (as written by `scripts/unleash start`).
//! The `postgres` section (two replicas on PostgreSQL, `replicas.rs`) runs only when named
//! (`./scripts/bench postgres`) and writes its own section of the doc.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code may fail loudly

#[path = "../common/mod.rs"]
mod common;
mod followers;
mod load;
mod ofrep;
mod pty;
mod replicas;
mod report;
mod screen;
mod support;

use flagtop::client::sse::{SseItem, SseParser};
use flagtop::tui::screen::Screen;
use followers::*;
use load::*;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use pty::*;
use report::*;
use screen::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_flagtop");

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects sections (e.g. `load`).
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if filter.iter().any(|f| f == "report") {
        return report();
    }
    // `cargo test --all-targets` builds and runs bench targets too (without `--bench`): the
    // end-to-end benchmark takes minutes, so it only runs under `cargo bench` / scripts/bench.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("flagtop e2e bench: skipped (run `cargo bench --bench e2e` or ./scripts/bench)");
        return;
    }
    let on = |s: &str| filter.is_empty() || filter.iter().any(|f| s.contains(f.as_str()));
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
    let window = Duration::from_secs(if quick { 3 } else { 10 });
    let path = std::env::var("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target/bench/e2e.jsonl"));
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("output dir");
    }
    // A full run starts the results afresh; a run of some sections adds to them (the report
    // takes the last line of each key).
    let file = if filter.is_empty() {
        std::fs::File::create(&path)
    } else {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
    };
    let mut out = Out {
        file: file.expect("output file"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    eprintln!("flagtop e2e bench: {BIN}, {runs} runs → {}", path.display());
    if on("binary") {
        binary(&mut out);
    }
    if on("render") {
        render(&mut out, runs);
    }
    if on("startup") {
        startup(&mut out, runs);
    }
    if on("idle") {
        idle(&mut out, runs, window);
    }
    if on("steady") {
        steady(&mut out, runs, window);
    }
    if on("latency") {
        latency(&mut out, &rt, runs, if quick { 60 } else { 200 });
    }
    if on("memory") {
        memory(&mut out, runs);
    }
    if on("load") {
        let knob = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let rate = knob("BENCH_LOAD_RATE", 600) as f64;
        load(
            &mut out,
            &rt,
            runs,
            window,
            knob("BENCH_LOAD_STREAMS", 200),
            knob("BENCH_LOAD_WRITERS", 32),
            rate,
        );
    }
    // Only when named: it needs PostgreSQL, and writes its own section of the doc.
    if filter.iter().any(|f| f == "postgres") {
        let knob = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        replicas::postgres(
            &mut out,
            &rt,
            runs,
            window,
            knob("BENCH_LOAD_STREAMS", 200),
            knob("BENCH_LOAD_RATE", 600) as f64,
        );
        return;
    }
    if on("unleash") {
        unleash(&mut out, &rt, if quick { 20 } else { 100 });
    }
    // Only when asked (`./scripts/bench ofrep`, run after the report): it writes its own section.
    if filter.iter().any(|f| f == "ofrep") {
        let secs = std::env::var("BENCH_OFREP_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { 2.0 } else { 10.0 });
        ofrep::ofrep(&mut out, &rt, secs, if quick { 20 } else { 200 });
    }
}
