//! Owns the Enter details overlay: which item it shows (a flag, an audit entry, or a fixed text
//! for a reading or a request), how far it is scrolled, and its content, rebuilt from the model
//! each frame so a live flag's numbers stay current. A flag shows, per environment, its cohorts
//! with their selectors, the ladder, the guardrails with a chart of candidate against baseline
//! over the window, and the flag's recent audit with before → after; an audit entry shows its
//! before → after and evidence (`details::audit`). Every list is bounded and every string cut.
//! Opening it and its keys are `tui::commands::details`. It must not draw, do I/O, or change
//! the model.

mod audit;
pub mod cleanup;

pub use audit::changes;

pub use super::dialog::{Details, Target};

use super::model::Model;
use super::text::human_secs;
use super::text::{fit, num};
use crate::domain::{Flag, FlagEnv, GuardrailStatus, LadderState, Selector};
use crate::wire::GuardrailReading;

/// At most this many rows of content (the rest is cut with a note).
pub const MAX_ROWS: usize = 600;
/// Recent audit entries of a flag shown in its details.
pub const FLAG_AUDIT: usize = 8;
/// Lines of the screen a guardrail chart takes.
pub const CHART_HEIGHT: u16 = 7;

/// One row of content.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// A section heading.
    Head(String),
    Text(String),
    Muted(String),
    /// A line coloured by a guardrail status.
    Status(String, GuardrailStatus),
    /// Candidate against baseline (and the limit) over the window.
    Chart(Chart),
}

impl Row {
    /// Screen lines the row takes.
    pub fn height(&self) -> u16 {
        match self {
            Row::Chart(_) => CHART_HEIGHT,
            _ => 1,
        }
    }
}

/// A guardrail's recent values: the candidate's history, the baseline and limit now.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub candidate: Vec<f64>,
    pub baseline: Option<f64>,
    pub threshold: Option<f64>,
    pub window_secs: u64,
}

/// The title and rows of `d` on `m`; None when its item is gone (then the overlay says so).
pub fn content(m: &Model, d: &Details) -> (String, Vec<Row>) {
    let (title, mut rows) = match &d.target {
        Target::Flag(k) => match m.data.state.flags.get(k) {
            Some(f) => (format!("flag {}", fit(k, 60)), flag_rows(m, f)),
            None => gone(format!("flag {}", fit(k, 60))),
        },
        Target::Audit(id) => match m.data.audit.iter().find(|e| e.id == *id) {
            Some(e) => (format!("audit #{id}"), audit::rows(m, e)),
            None => gone(format!("audit #{id}")),
        },
        Target::Reading(k) => {
            let title = format!("guardrail {} / {}", fit(&k.metric, 40), fit(&k.cohort, 40));
            match m
                .data
                .guardrails
                .iter()
                .find(|r| super::readings::is_of(r, k))
            {
                Some(r) => {
                    let mut rows = Vec::new();
                    reading_rows(r, &mut rows);
                    rows.push(Row::Muted(format!(
                        "rule {} · samples {} (baseline {}, min {}) over {}s · {} / {}",
                        fit(&r.rule, 60),
                        r.samples,
                        r.baseline_samples,
                        r.min_samples,
                        r.window_secs,
                        fit(&r.flag, 40),
                        fit(&r.env, 30)
                    )));
                    (title, rows)
                }
                None => gone(title),
            }
        }
        Target::Cleanup => cleanup::cleanup(m),
        Target::Timeline(k) => cleanup::timeline(m, k),
        Target::Text { title, lines } => (
            title.clone(),
            lines.iter().map(|l| Row::Text(fit(l, 400))).collect(),
        ),
    };
    if rows.len() > MAX_ROWS {
        let cut = rows.len() - MAX_ROWS;
        rows.truncate(MAX_ROWS);
        rows.push(Row::Muted(format!("… {cut} more rows not shown")));
    }
    (title, rows)
}

fn gone(title: String) -> (String, Vec<Row>) {
    (
        title,
        vec![Row::Muted(
            "no longer in the data on screen (Esc closes)".into(),
        )],
    )
}

/// What a cohort's selector selects, in words.
pub fn selector(s: &Selector) -> String {
    match s {
        Selector::Everyone => "everyone not matched above".into(),
        Selector::Segment { segment } => format!("segment {}", fit(segment, 40)),
        Selector::Constraints {
            constraints,
            segments,
        } => {
            let mut parts: Vec<String> = constraints
                .iter()
                .take(8)
                .map(|c| fit(&c.describe(), 60))
                .collect();
            if constraints.len() > 8 {
                parts.push(format!("… {} more", constraints.len() - 8));
            }
            parts.extend(
                segments
                    .iter()
                    .take(4)
                    .map(|s| format!("in segment {}", fit(s, 30))),
            );
            if parts.is_empty() {
                "everyone".into()
            } else {
                parts.join(" and ")
            }
        }
    }
}

fn flag_rows(m: &Model, f: &Flag) -> Vec<Row> {
    let mut rows = vec![
        Row::Text(format!("description: {}", fit(&f.description, 200))),
        Row::Muted(format!(
            "owner: {} · lifecycle: {:?} · kind: {:?} · revision {} · variations: {}",
            fit(&f.owner, 40),
            f.lifecycle,
            f.kind,
            f.revision,
            f.variations
                .iter()
                .take(8)
                .map(|v| fit(v, 20))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    ];
    // flagtop's computed stage, and beside it the one the flag store keeps (Unleash's).
    let store = f.store_stage.map_or_else(String::new, |st| {
        format!(" · {}: {}", fit(&m.data.flag_store, 20), st.as_str())
    });
    rows.push(Row::Muted(format!(
        "stage: {}{store}",
        m.assess(f).stage.words()
    )));
    // The environment on screen first, then the flag's recent audit, then the other
    // environments in their order.
    let (here, others): (Vec<_>, Vec<_>) = m
        .data
        .state
        .environments
        .iter()
        .partition(|e| e.key == m.env);
    for e in here {
        env_section(m, f, e, &mut rows);
    }
    rows.push(Row::Head("recent audit of this flag".into()));
    let mut any = false;
    for e in m
        .data
        .audit
        .iter()
        .filter(|e| e.flag.as_ref() == Some(&f.key))
        .take(FLAG_AUDIT)
    {
        any = true;
        rows.push(Row::Text(audit::line(e)));
        for c in changes(e.before.as_ref(), e.after.as_ref()) {
            rows.push(Row::Muted(format!("    {c}")));
        }
    }
    if !any {
        rows.push(Row::Muted("  nothing recorded on screen yet".into()));
    }
    for e in others {
        env_section(m, f, e, &mut rows);
    }
    rows
}

fn env_section(m: &Model, f: &Flag, e: &crate::domain::Environment, rows: &mut Vec<Row>) {
    let Some(fe) = f.env(&e.key) else {
        return;
    };
    let mut head = fit(&e.key, 30);
    if e.key == m.env {
        head.push_str(" (on screen)");
    }
    if e.protected {
        head.push_str(" · protected");
    }
    if m.data.state.is_frozen(&e.key) {
        head.push_str(" · ❄ frozen");
    }
    head.push_str(match (fe.killed(), fe.enabled) {
        (true, _) => " · KILLED",
        (false, false) => " · off",
        (false, true) => " · on",
    });
    rows.push(Row::Head(head));
    env_rows(m, f, &e.key, fe, rows);
}

fn env_rows(m: &Model, f: &Flag, env: &crate::domain::EnvKey, fe: &FlagEnv, rows: &mut Vec<Row>) {
    for c in fe.cohorts.iter().take(40) {
        let pct = if c.rolled_back {
            format!("0% (rolled back, {}% kept to restore)", c.percent)
        } else {
            format!("{}%", c.percent)
        };
        rows.push(Row::Text(format!(
            "  {:<14} {pct} → {}",
            fit(&c.name, 14),
            fit(&c.variation, 20)
        )));
        rows.push(Row::Muted(format!(
            "      selector: {}",
            selector(&c.selector)
        )));
    }
    rows.push(Row::Muted(format!(
        "  everyone else → {}",
        fit(&fe.fallthrough, 20)
    )));
    if let Some(l) = &fe.ladder {
        let stages: Vec<String> = l
            .stages
            .iter()
            .take(12)
            .enumerate()
            .map(|(i, s)| {
                if i == l.current {
                    format!("[{}]", fit(&s.name, 12))
                } else {
                    fit(&s.name, 12)
                }
            })
            .collect();
        let state = l.effective_state(m.data.state.is_frozen(env));
        let mut line = format!(
            "  ladder {} · {} for {}",
            stages.join(" → "),
            state.as_str(),
            human_secs((m.now - l.entered_at).num_seconds())
        );
        if state == LadderState::Paused
            && let Some(n) = &l.pause_note
        {
            line.push_str(&format!(" ({})", fit(n, 80)));
        }
        rows.push(Row::Text(line));
    }
    if fe.guardrails.is_empty() {
        rows.push(Row::Muted("  no guardrails here".into()));
    }
    for g in fe.guardrails.iter().take(20) {
        let reading = m.data.guardrails.iter().find(|r| {
            r.flag == f.key
                && r.env == *env
                && r.metric == g.metric
                && r.cohort.as_str() == g.cohort.as_str()
        });
        match reading {
            Some(r) => reading_rows(r, rows),
            None => rows.push(Row::Muted(format!(
                "  {} / {}: no reading here (readings follow the environment on screen: e)",
                fit(&g.metric, 30),
                fit(&g.cohort, 20)
            ))),
        }
    }
}

fn reading_rows(r: &GuardrailReading, rows: &mut Vec<Row>) {
    let word = match r.status {
        GuardrailStatus::Breached => "✗ BREACHED",
        s => s.as_str(),
    };
    rows.push(Row::Status(
        format!(
            "  {} / {}: {} vs baseline {} (limit {}, {}) · {word} · n={} (min {}) over {}s",
            fit(&r.metric, 30),
            fit(&r.cohort, 20),
            num(r.value),
            num(r.baseline),
            num(r.threshold),
            fit(&r.rule, 30),
            r.samples,
            r.min_samples,
            r.window_secs
        ),
        r.status,
    ));
    if let Some(e) = &r.source_error {
        rows.push(Row::Status(
            format!("    ⚠ source: {}", fit(e, 120)),
            GuardrailStatus::Insufficient,
        ));
    }
    if r.history.iter().any(|v| v.is_finite()) {
        rows.push(Row::Chart(Chart {
            candidate: r.history.iter().rev().take(120).rev().copied().collect(),
            baseline: r.baseline,
            threshold: r.threshold,
            window_secs: r.window_secs,
        }));
    }
}
