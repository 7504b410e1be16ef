//! The incident record of the demo incident, driven on a manual clock from `testkit::t0()`:
//! breach → engine pause and proposal → operator rollback → evidence, in order; golden files
//! pin the Markdown and JSON (`FLAGTOP_BLESS=1` rewrites them); hostile text stays inert.

use super::*;
use crate::control::clock::{Clock, ManualClock};
use crate::control::engine::Engine;
use crate::control::scenario;
use crate::control::service::{Caller, ControlPlane};
use crate::control::simulator::Simulator;
use crate::control::store::Store;
use crate::domain::{Actor, Role};
use crate::testkit::t0;
use crate::wire::ActionRequest;
use std::sync::Arc;

struct Incident {
    _dir: tempfile::TempDir,
    cp: Arc<ControlPlane>,
    clock: Arc<ManualClock>,
}

/// The demo incident: the simulator's eu-west breach pauses the ladder and drafts the narrowed
/// rollback; the operator rolls eu-west back (reason given); one window later the evidence.
fn incident(reason: &str) -> Incident {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let clock = Arc::new(ManualClock::new(t0()));
    let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario::build("demo", t0()).unwrap_or_else(|e| panic!("{e}"));
    let cp = ControlPlane::open(store, clock.clone(), Some(seed)).unwrap_or_else(|e| panic!("{e}"));
    let mut engine = Engine::default();
    let mut sim = Simulator::new("demo", t0());
    let mut paused = false;
    for _ in 0..60 {
        clock.advance(1);
        let r = engine
            .tick(&cp, Some(&mut sim))
            .unwrap_or_else(|e| panic!("{e}"));
        if !r.paused.is_empty() {
            paused = true;
            break;
        }
    }
    assert!(paused, "the demo breach never came");
    clock.advance(20);
    let op = Caller::token(Actor::from_token("dana", Role::Operator), "cli", "dana");
    let rollback = Action::Rollback {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "eu-west".into(),
    };
    let req = ActionRequest {
        action: rollback,
        reason: reason.into(),
        expected_revision: None,
        source: Some("cli".into()),
    };
    cp.submit(&op, &req, None).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..400 {
        clock.advance(1);
        engine
            .tick(&cp, Some(&mut sim))
            .unwrap_or_else(|e| panic!("{e}"));
        if cp.evidence_due().is_empty() {
            break;
        }
    }
    assert!(
        cp.evidence_due().is_empty(),
        "the evidence was never recorded"
    );
    Incident {
        _dir: dir,
        cp,
        clock,
    }
}

fn record(i: &Incident, minutes: i64) -> Timeline {
    let events = i.cp.audit(None, None, 1000).unwrap_or_default();
    let now = i.clock.now();
    let window = Window {
        since: now - chrono::Duration::minutes(minutes),
        until: now,
        flag: None,
        env: None,
    };
    build(&events, &i.cp.approvals(), window)
}

fn golden(name: &str, got: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/timeline")
        .join(name);
    if std::env::var_os("FLAGTOP_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap_or(&path)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&path, got).unwrap_or_else(|e| panic!("{e}"));
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (FLAGTOP_BLESS=1 writes it)", path.display()));
    assert_eq!(
        got,
        want,
        "{} changed (FLAGTOP_BLESS=1 rewrites it)",
        path.display()
    );
}

/// Approval ids are random: number them in order of appearance for the golden files.
fn stable_ids(t: &mut Timeline) {
    let mut seen: Vec<String> = Vec::new();
    for e in &mut t.entries {
        if let Some(id) = e.approval.as_mut() {
            let n = match seen.iter().position(|s| s == id) {
                Some(n) => n,
                None => {
                    seen.push(id.clone());
                    seen.len() - 1
                }
            };
            *id = format!("apr-{}", n + 1);
        }
    }
}

#[test]
fn the_demo_incident_reads_breach_pause_proposal_rollback_evidence_in_order() {
    let i = incident("p95 breach in eu-west");
    let t = record(&i, 10);
    let kinds: Vec<(EntryKind, &str)> = t
        .entries
        .iter()
        .map(|e| (e.kind, e.what.split(' ').next().unwrap_or("")))
        .collect();
    let pos = |k: EntryKind, w: &str| {
        kinds
            .iter()
            .position(|x| *x == (k, w))
            .unwrap_or_else(|| panic!("no {k:?} {w} in {kinds:?}"))
    };
    let signal = pos(EntryKind::Signal, "p95_latency_ms");
    let pause = pos(EntryKind::Change, "pause");
    let proposal = pos(EntryKind::Proposal, "rollback");
    let rollback = pos(EntryKind::Change, "rollback");
    let evidence = kinds
        .iter()
        .position(|x| x.0 == EntryKind::Evidence)
        .unwrap_or_else(|| panic!("no evidence in {kinds:?}"));
    assert!(
        signal < pause && pause < proposal && proposal < rollback && rollback < evidence,
        "{kinds:?}"
    );
    let rb = &t.entries[rollback];
    assert_eq!((rb.who.as_str(), rb.who_kind), ("dana", "person"));
    assert_eq!(
        rb.reverse.as_deref(),
        Some("restore checkout-v2/eu-west in production")
    );
    assert!(
        rb.before
            .as_deref()
            .is_some_and(|b| b.contains("\"rolled_back\":false"))
    );
    assert_eq!(t.entries[evidence].follows, rb.audit_id);
    assert!(
        t.entries[evidence].what.contains("recovered"),
        "{:?}",
        t.entries[evidence]
    );
    let mut t = t;
    stable_ids(&mut t);
    golden("incident.md", &to_markdown(&t));
    let json = serde_json::to_string_pretty(&to_json(&t)).unwrap_or_default() + "\n";
    golden("incident.json", &json);
}

#[test]
fn a_window_before_the_incident_is_empty_and_filters_narrow_it() {
    let i = incident("p95 breach in eu-west");
    let events = i.cp.audit(None, None, 1000).unwrap_or_default();
    let early = Window {
        since: t0() - chrono::Duration::hours(1),
        until: t0() - chrono::Duration::seconds(1),
        flag: None,
        env: None,
    };
    let t = build(&events, &i.cp.approvals(), early);
    assert!(t.entries.is_empty(), "{:?}", t.entries);
    assert!(to_markdown(&t).contains("Nothing was decided in this window."));
    let staging = Window {
        since: t0(),
        until: i.clock.now(),
        flag: Some("checkout-v2".into()),
        env: Some("staging".into()),
    };
    assert!(
        build(&events, &i.cp.approvals(), staging)
            .entries
            .is_empty()
    );
}

#[test]
fn hostile_text_is_inert_in_markdown_and_json() {
    let evil = "[click](http://x) <img src=x> **bold** # \x1b]0;pwned\x07 `tick` | pipe";
    let i = incident(evil);
    let t = record(&i, 10);
    let md = to_markdown(&t);
    assert!(!md.contains('\x1b') && !md.contains('\x07'), "{md}");
    assert!(md.contains("\\[click\\](http://x)"), "{md}");
    assert!(
        md.contains("\\<img src=x\\>") && md.contains("\\*\\*bold\\*\\*"),
        "{md}"
    );
    assert!(!md.contains("[click](") && !md.contains(" <img"), "{md}");
    assert!(md.contains("\\`tick\\` \\| pipe"), "{md}");
    let json = serde_json::to_string(&to_json(&t)).unwrap_or_default();
    assert!(
        !json.contains('\x1b') && !json.contains("\\u001b"),
        "{json}"
    );
}

#[test]
fn exposure_evidence_reads_as_evaluations_per_minute() {
    let e = Evidence {
        metric: "exposure".into(),
        cohort: "eu-west".into(),
        candidate: Some(0.0),
        baseline: Some(1443.0),
        threshold: Some(0.0),
        samples: 11700,
        window_secs: 60,
        status: Some("traffic moved".into()),
        cohort_value: None,
    };
    assert_eq!(
        describe_evidence(&e),
        "exposure eu-west traffic moved: candidate 0/min, was 1,443/min (the cohort 11,700/min, over 60 s windows)"
    );
    let unknown = Evidence {
        baseline: None,
        ..e
    };
    assert!(describe_evidence(&unknown).contains("was n/a"));
}
