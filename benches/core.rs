//! Criterion micro-benchmarks of the hot paths (benchmarks, not tests: no assertions on time).
//!
//! - `render/*`: one full frame at 200×50 through ratatui's real diffing and crossterm's real
//!   escape-sequence writer into memory, on the `large` scenario (10,000 flags, 300 guardrail
//!   series) and on its first 1,000 flags — the two must cost the same (work follows what is
//!   visible, not the number of flags).
//! - `domain/apply_reverse`: one action applied to a 10,000-flag state, then its reverse.
//! - `guardrails/evaluate_300`: judging every guardrail of the `large` scenario (300 series
//!   with 60 s of buckets on both arms).
//! - `sse/parse`: the bounded SSE parser on a realistic stream of `change` events.
//!
//! Run: `cargo bench --bench core` (or `./scripts/bench`, which also records the figures).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::{draw, large_model, metrics_for, t0, terminal};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flagtop::client::sse::{SseItem, SseParser};
use flagtop::domain::Action;
use flagtop::tui::screen::Screen;
use std::hint::black_box;

fn render(c: &mut Criterion) {
    let theme = flagtop::config::theme::builtin("dark");
    let mut g = c.benchmark_group("render_200x50");
    for flags in [1_000usize, 10_000] {
        let (mut m, _) = large_model(flags);
        let (mut term, written) = terminal();
        let mut screen = Screen::new();
        draw(&mut term, &mut screen, &m, &theme);
        // Nothing changed: the view is built, diffed, and (almost) nothing is written.
        g.bench_with_input(BenchmarkId::new("unchanged", flags), &flags, |b, _| {
            b.iter(|| {
                written.store(0, std::sync::atomic::Ordering::Relaxed);
                draw(&mut term, &mut screen, &m, &theme);
                black_box(written.load(std::sync::atomic::Ordering::Relaxed))
            })
        });
        // The cursor moves one row each frame: a small diff is written.
        let base = m.flags.sel.row();
        let mut k = 0usize;
        g.bench_with_input(BenchmarkId::new("cursor_move", flags), &flags, |b, _| {
            b.iter(|| {
                k += 1;
                m.flags.sel.select_row(base + (k & 1), &m.flags.visible);
                written.store(0, std::sync::atomic::Ordering::Relaxed);
                draw(&mut term, &mut screen, &m, &theme);
                black_box(written.load(std::sync::atomic::Ordering::Relaxed))
            })
        });
    }
    g.finish();
}

fn domain(c: &mut Criterion) {
    let sc = flagtop::control::scenario::build("large", t0()).expect("large");
    let mut state = sc.state;
    let (flag, cohort, percent) = state
        .flags
        .values()
        .find_map(|f| {
            let fe = f.environments.get("staging")?;
            let c = fe.cohorts.first()?;
            Some((f.key.clone(), c.name.clone(), c.percent))
        })
        .expect("a staging cohort");
    let action = Action::SetPercent {
        flag,
        env: "staging".into(),
        cohort,
        percent: if percent == 40 { 41 } else { 40 },
    };
    let now = t0();
    c.bench_function("domain/apply_reverse", |b| {
        b.iter(|| {
            let reverse = action.apply(&mut state, now).expect("apply");
            black_box(reverse.apply(&mut state, now).expect("reverse"))
        })
    });
}

fn guardrails(c: &mut Criterion) {
    let sc = flagtop::control::scenario::build("large", t0()).expect("large");
    let mut metrics = metrics_for(&sc.state, t0());
    let n = metrics.evaluate(&sc.state, t0(), false).len();
    let mut g = c.benchmark_group("guardrails");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("evaluate", n), |b| {
        b.iter(|| black_box(metrics.evaluate(&sc.state, t0(), true).len()))
    });
    g.finish();
}

fn sse(c: &mut Criterion) {
    // A realistic stream: 1,000 `change` events as the control plane writes them, plus heartbeats.
    let snap = flagtop::screenshot::fixture::snapshot("demo").expect("demo");
    let change = flagtop::wire::Change {
        revision: flagtop::domain::Revision(43),
        at: t0(),
        flags: snap.flags[..1].to_vec(),
        frozen: None,
        approvals: Vec::new(),
        audit: snap.audit.clone(),
    };
    let data = serde_json::to_string(&change).expect("json");
    let mut stream = Vec::new();
    for i in 0..1000 {
        stream.extend_from_slice(
            format!("event: change\nid: {}\ndata: {data}\n\n", 43 + i).as_bytes(),
        );
        if i % 50 == 0 {
            stream.extend_from_slice(b":heartbeat\n\n");
        }
    }
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("parse_1000_changes", |b| {
        b.iter(|| {
            let mut p = SseParser::new(1 << 20, 4 << 20);
            let mut out: Vec<SseItem> = Vec::with_capacity(1100);
            // Network-sized chunks that split lines anywhere.
            for chunk in stream.chunks(1460) {
                p.push(chunk, &mut out).expect("parse");
            }
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = render, domain, guardrails, sse
}
criterion_main!(benches);
