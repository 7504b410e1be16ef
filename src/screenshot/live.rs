//! Owns the README gallery's state: the live demo's own code path at a fixed clock — a control
//! plane on a scratch data dir seeded with the scenario, the simulator and the engine ticked
//! once a second by a hand-moved clock (breach, safeguard pause, the engine's proposal all happen
//! as they do in `flagtop`), its snapshot handed to the TUI model, keys pressed through `update`.
//! Nothing here is made up: a screenshot shows what the demo shows at that second. It must not
//! touch a terminal or the network, and it removes its scratch dir.

use crate::client::Clean;
use crate::client::stream::StreamEvent;
use crate::control::clock::ManualClock;
use crate::control::engine::Engine;
use crate::control::service::ControlPlane;
use crate::control::simulator::Simulator;
use crate::control::store::Store;
use crate::domain::{Actor, ApprovalId, Role};
use crate::tui::effect::Event;
use crate::tui::model::Model;
use crate::tui::update::update;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Seconds after start at which the dashboard shots are taken (healthy, traffic flowing).
pub const DASHBOARD_SECS: i64 = 6;
/// Seconds after start at which the incident shots are taken (eu-west breached, the ladder
/// paused by the safeguard, the engine's narrowed-rollback request pending).
pub const INCIDENT_SECS: i64 = 30;
/// The most seconds a state may be ticked to.
pub const MAX_SECS: i64 = 600;

/// When the demo starts: so that the incident is at `testkit::t0()`.
pub fn start() -> DateTime<Utc> {
    crate::testkit::t0() - Duration::seconds(INCIDENT_SECS)
}

/// A scratch data dir, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> Result<Scratch, String> {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "flagtop-screenshot-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot make a scratch data dir {}: {e}", dir.display()))?;
    Ok(Scratch(dir))
}

/// The demo `scenario` run for `secs` seconds from [`start`], seen as alice (approver): the
/// model the TUI would show then, connected and live.
pub fn model_at(scenario: &str, secs: i64) -> Result<Model, String> {
    let secs = secs.clamp(0, MAX_SECS);
    let dir = scratch()?;
    let store = Store::open(&dir.0).map_err(|e| format!("scratch store: {e}"))?;
    let clock = Arc::new(ManualClock::new(start()));
    let seed = crate::control::scenario::build(scenario, start())?;
    let cp = ControlPlane::open(store, clock.clone(), Some(seed))
        .map_err(|e| format!("control plane: {e}"))?;
    let mut engine = Engine::default();
    let mut sim = Simulator::new(scenario, start());
    for _ in 0..secs {
        clock.advance(1);
        engine
            .tick(&cp, Some(&mut sim))
            .map_err(|e| format!("engine tick: {e}"))?;
    }
    let who = Actor::from_token("alice", Role::Approver);
    let mut snap = cp.snapshot(&who);
    number_requests(&mut snap);
    let revision = snap.revision.0;
    let mut m = Model::new(
        Clean::new(snap),
        &crate::tui::simulated_label(scenario),
        None,
        crate::config::keymap::builtin_default(),
        clock_now(&cp),
    );
    let _ = update(&mut m, Event::Stream(StreamEvent::Connected { revision }));
    Ok(m)
}

/// Request ids end in random digits (`apr-` + part of a UUID v7): number them `apr-1`, `apr-2`
/// … in the order they were filed, everywhere they appear, so that a screenshot is the same on
/// every run. Nothing else is changed.
fn number_requests(snap: &mut crate::wire::Snapshot) {
    let mut order: Vec<(DateTime<Utc>, String)> = snap
        .approvals
        .iter()
        .map(|a| (a.created_at, a.id.to_string()))
        .collect();
    order.sort();
    let names: std::collections::HashMap<String, ApprovalId> = order
        .into_iter()
        .enumerate()
        .map(|(i, (_, id))| (id, ApprovalId::new(format!("apr-{}", i + 1))))
        .collect();
    for a in &mut snap.approvals {
        if let Some(n) = names.get(a.id.as_str()) {
            a.id = n.clone();
        }
    }
    for e in &mut snap.audit {
        if let Some(n) = e.approval.as_ref().and_then(|id| names.get(id.as_str())) {
            e.approval = Some(n.clone());
        }
    }
}

fn clock_now(cp: &ControlPlane) -> DateTime<Utc> {
    cp.clock.now()
}

/// Presses `keys` (plain characters) as the operator would.
pub fn press(m: &mut Model, keys: &str) {
    for (i, c) in keys.chars().enumerate() {
        let key = crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        );
        let _ = update(
            m,
            Event::Key {
                key,
                new_idem_key: format!("screenshot-{i}"),
            },
        );
    }
}

/// Presses Enter (details of the selected item, outside dialogs).
pub fn enter(m: &mut Model) {
    let key = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    );
    let _ = update(
        m,
        Event::Key {
            key,
            new_idem_key: "screenshot-enter".into(),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_demo_breaches_eu_west_by_the_incident_second() {
        let m = model_at("demo", INCIDENT_SECS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.now, crate::testkit::t0());
        let here = m.breaches_here();
        assert!(
            here.iter().any(|b| b.reading.flag.as_str() == "checkout-v2"
                && b.reading.cohort.as_str() == "eu-west"),
            "no eu-west breach at {INCIDENT_SECS}s"
        );
        let calm = model_at("demo", DASHBOARD_SECS).unwrap_or_else(|e| panic!("{e}"));
        assert!(calm.breaches_here().is_empty());
        // Deterministic: the same second twice gives the same readings.
        let again = model_at("demo", INCIDENT_SECS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.data.guardrails, again.data.guardrails);
        assert_eq!(m.data.approvals, again.data.approvals);
        assert!(m.data.approvals.iter().any(|a| a.id.as_str() == "apr-2"));
    }
}
