//! Shared by the benches: the `large` scenario as a live TUI model with 300 guardrail series.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use flagtop::control::metrics::Metrics;
use flagtop::domain::State;
use flagtop::tui::Model;
use flagtop::wire::{Arm, GuardrailReading, MetricSample};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub use flagtop::testkit::t0;

/// 60 s of samples on both arms of every guardrail of `state`, candidate slightly worse.
pub fn metrics_for(state: &State, now: DateTime<Utc>) -> Metrics {
    let mut m = Metrics::default();
    for f in state.flags.values() {
        for (env, fe) in &f.environments {
            for g in &fe.guardrails {
                for s in 0..60i64 {
                    for (arm, v) in [(Arm::Candidate, 1.1), (Arm::Baseline, 1.0)] {
                        let sample = MetricSample {
                            flag: f.key.clone(),
                            env: env.clone(),
                            metric: g.metric.clone(),
                            cohort: g.cohort.to_string(),
                            arm,
                            value: v * (100.0 + (s % 7) as f64),
                            count: 20,
                            at: Some(now - Duration::seconds(60 - s)),
                        };
                        let _ = m.push(&sample, now);
                    }
                }
            }
        }
    }
    m
}

/// The `large` scenario as a live TUI model with readings (and sparkline history) for every
/// guardrail series; `flags` keeps only the first N flags.
pub fn large_model(flags: usize) -> (Model, usize) {
    let mut snap = flagtop::screenshot::fixture::snapshot("large").expect("large scenario");
    snap.flags.truncate(flags);
    let state = State {
        flags: snap
            .flags
            .iter()
            .map(|f| (f.key.clone(), f.clone()))
            .collect(),
        ..State::default()
    };
    let mut metrics = metrics_for(&state, t0());
    let mut readings: Vec<GuardrailReading> = Vec::new();
    for i in 0..60 {
        readings = metrics.evaluate(&state, t0() - Duration::seconds(60 - i), true);
    }
    let series = readings.len();
    snap.guardrails = readings;
    let mut m = Model::new(
        flagtop::client::Clean::new(snap),
        "embedded (bench)",
        Some("production"),
        flagtop::config::keymap::builtin_default(),
        t0(),
    );
    let _ = flagtop::tui::update(
        &mut m,
        flagtop::tui::Event::Stream(flagtop::client::stream::StreamEvent::Connected {
            revision: 42,
        }),
    );
    // Put a guarded flag under the cursor so the Guardrails pane has rows and sparklines.
    let guarded = m
        .flags
        .visible
        .iter()
        .find(|k| {
            m.data
                .guardrails
                .iter()
                .any(|r| r.flag == **k && r.env.as_str() == "production")
        })
        .cloned();
    if let Some(k) = guarded {
        m.select_flag(&k);
    }
    (m, series)
}

/// A writer that only counts the bytes a real terminal would receive.
pub struct Count(pub std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl std::io::Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .fetch_add(b.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub type Term = Terminal<CrosstermBackend<Count>>;

/// One frame of the TUI the way the app sends it: `view::frame` into ratatui's buffer, then
/// `Screen` (diff against what the terminal shows, scroll regions, cursor only when it changes).
pub fn draw(
    term: &mut Term,
    screen: &mut flagtop::tui::screen::Screen,
    m: &Model,
    theme: &flagtop::tui::Theme,
) {
    screen
        .draw(term, |f| flagtop::tui::view::frame(f, m, theme))
        .expect("draw");
}

/// A 200×50 terminal whose real escape sequences are counted (the counter is returned too).
pub fn terminal() -> (Term, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let backend = CrosstermBackend::new(Count(n.clone()));
    let mut t = Terminal::with_options(
        backend,
        ratatui::TerminalOptions {
            viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, 200, 50)),
        },
    )
    .expect("terminal");
    t.clear().ok();
    (t, n)
}

/// Replace the section of `doc` between `<!-- NAME:start` and `<!-- NAME:end -->` with `body`
/// (markers added around it), or append it when the doc has none: how a bench that runs on
/// its own writes its part of docs/performance.md.
pub fn write_section(doc: &str, name: &str, body: &str) {
    let (start, end) = (format!("<!-- {name}:start"), format!("<!-- {name}:end -->"));
    let section = format!(
        "{start} (written by `./scripts/bench {name}`) -->\n{}\n{end}\n",
        body.trim_end()
    );
    let text = std::fs::read_to_string(doc).unwrap_or_default();
    let new = match (text.find(&start), text.find(&end)) {
        (Some(a), Some(b)) if a < b => {
            let after = (b + end.len() + 1).min(text.len());
            format!("{}{section}{}", &text[..a], &text[after..])
        }
        _ => format!("{}\n\n{section}", text.trim_end()),
    };
    std::fs::write(doc, new).expect("write the doc");
}
