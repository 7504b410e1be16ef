//! The ladder engine and safeguards, run once a second on the injectable clock: feed simulated
//! traffic, judge guardrails, pause on breach and draft the narrowed rollback, advance ladders
//! that dwelt long enough on healthy evidence, expire requests. Every change goes through the
//! service's apply/request path (audited, durable, published).

use super::service::{ControlPlane, ServiceError};
use super::simulator::Simulator;
use crate::domain::{Action, AdvancePolicy, GuardrailStatus, LadderState};
use crate::wire::GuardrailReading;
use chrono::Duration;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What one tick did (for tests and logs).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TickReport {
    pub paused: Vec<String>,
    pub rolled_back: Vec<String>,
    pub requested: Vec<String>,
    pub advanced: Vec<String>,
    pub expired: usize,
    /// Evidence events recorded this tick.
    pub evidence: usize,
}

use crate::domain::guardrail::fmt_value as fmt_num;

/// One evaluation step.
pub fn tick(cp: &ControlPlane, sim: Option<&mut Simulator>) -> Result<TickReport, ServiceError> {
    let now = cp.clock.now();
    if let Some(sim) = sim {
        cp.with_inner(|inner, _| {
            let samples = sim.tick(&inner.state, now);
            for s in &samples {
                let _ = inner.metrics.push(s, now);
            }
            super::exposition::record(cp, &inner.state, &samples);
        });
    }
    let readings = cp.evaluate_guardrails(true);
    let mut by_target: HashMap<(&str, &str), Vec<&GuardrailReading>> = HashMap::new();
    for r in &readings {
        by_target.entry((r.flag.as_str(), r.env.as_str())).or_default().push(r);
    }
    let ttl = cp.approval_ttl;
    let mut report = TickReport::default();
    cp.with_inner(|inner, tx| -> Result<(), ServiceError> {
        // 1. Breach response: pause at once, then the narrowed rollback of exactly that cohort.
        let breached: Vec<&GuardrailReading> = readings.iter().filter(|r| r.status == GuardrailStatus::Breached).collect();
        inner.breach_handled.retain(|(f, e, c)| {
            breached.iter().any(|r| r.flag.as_str() == f && r.env.as_str() == e && &r.cohort == c)
        });
        for r in &breached {
            let key = (r.flag.to_string(), r.env.to_string(), r.cohort.clone());
            if inner.breach_handled.contains(&key) {
                continue;
            }
            inner.breach_handled.insert(key);
            let what = format!(
                "{} of {} breached: {} vs limit {} ({}; {} samples over {}s)",
                r.metric, r.cohort, fmt_num(r.value), fmt_num(r.threshold), r.rule, r.samples, r.window_secs
            );
            let Some(fe) = inner.state.flags.get(&r.flag).and_then(|f| f.env(&r.env)).cloned() else { continue };
            if fe.ladder.as_ref().is_some_and(|l| l.state == LadderState::Progressing) {
                let pause = Action::Pause { flag: r.flag.clone(), env: r.env.clone(), note: Some(what.clone()) };
                inner.engine_apply(tx, &pause, &format!("safeguard: {what}"), now)?;
                report.paused.push(format!("{}/{}", r.flag, r.env));
            }
            let Some(cohort) = fe.cohort(&r.cohort) else { continue };
            if cohort.rolled_back || cohort.percent == 0 {
                continue;
            }
            let rollback = Action::Rollback { flag: r.flag.clone(), env: r.env.clone(), cohort: cohort.name.clone() };
            if inner.has_pending(&rollback) {
                continue;
            }
            let evidence: Vec<_> = readings
                .iter()
                .filter(|x| x.flag == r.flag && x.env == r.env && x.cohort == r.cohort)
                .map(GuardrailReading::evidence)
                .collect();
            let gaps: Vec<String> = readings
                .iter()
                .filter(|x| x.flag == r.flag && x.env == r.env && x.cohort == r.cohort)
                .filter(|x| x.status == GuardrailStatus::Insufficient)
                .map(|x| format!("{} has too few samples ({} of {})", x.metric, x.samples, x.min_samples))
                .collect();
            let gap = (!gaps.is_empty()).then(|| gaps.join("; "));
            let reason = format!("narrowed rollback: {what}");
            let protected = inner.state.environment(&r.env).is_some_and(|e| e.protected);
            if protected {
                inner.engine_request(tx, &rollback, &reason, evidence, gap, now, ttl)?;
                report.requested.push(rollback.describe());
            } else {
                inner.engine_apply(tx, &rollback, &reason, now)?;
                report.rolled_back.push(rollback.describe());
            }
        }
        // 2. Evidence after earlier changes.
        report.evidence = inner.record_due_evidence(tx, &readings, now)?;
        // 3. Evidence-gated advances.
        let mut advance = Vec::new();
        for flag in inner.state.flags.values() {
            for (env, fe) in &flag.environments {
                let Some(l) = &fe.ladder else { continue };
                let key = (flag.key.to_string(), env.to_string());
                let rs = by_target.get(&(flag.key.as_str(), env.as_str()));
                let healthy = rs.is_none_or(|rs| rs.iter().all(|r| r.status == GuardrailStatus::Healthy));
                if !healthy {
                    inner.healthy_since.remove(&key);
                    continue;
                }
                let since = *inner.healthy_since.entry(key).or_insert(now);
                if l.state != LadderState::Progressing || l.is_last() || inner.state.is_frozen(env) || !fe.enabled {
                    continue;
                }
                let dwell = Duration::seconds(l.current_stage().map_or(0, |s| s.min_dwell_secs) as i64);
                if now - since.max(l.entered_at) >= dwell {
                    let protected = inner.state.environment(env).is_some_and(|e| e.protected);
                    advance.push((Action::Advance { flag: flag.key.clone(), env: env.clone(), exposure: None }, protected, l.policy));
                }
            }
        }
        for (action, protected, policy) in advance {
            let reason = "ladder: dwelt the minimum time with every guardrail healthy";
            match (protected, policy) {
                (_, AdvancePolicy::Manual) => {}
                (true, AdvancePolicy::RequestApproval) => {
                    if !inner.has_pending(&action) {
                        inner.engine_request(tx, &action, reason, Vec::new(), None, now, ttl)?;
                        report.requested.push(action.describe());
                    }
                }
                _ => {
                    inner.engine_apply(tx, &action, reason, now)?;
                    report.advanced.push(action.describe());
                }
            }
        }
        Ok(())
    })?;
    report.expired = cp.expire()?;
    // Once an hour (by the engine's clock): forget idempotency records past their TTL.
    let pruned = cp.with_inner(|inner, _| inner.prune_idempotency(now))?;
    if pruned > 0 {
        tracing::info!(pruned, "idempotency records past their TTL removed");
    }
    Ok(report)
}

/// Run `tick` every `period` on its own thread until `stop` is set.
pub fn spawn(cp: Arc<ControlPlane>, mut sim: Option<Simulator>, period: std::time::Duration, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("flagtop-engine".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let started = std::time::Instant::now();
                if let Err(e) = tick(&cp, sim.as_mut()) {
                    tracing::warn!(error = %e, "engine tick failed");
                }
                std::thread::sleep(period.saturating_sub(started.elapsed()));
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| tracing::error!(error = %e, "could not start the engine thread"));
}
