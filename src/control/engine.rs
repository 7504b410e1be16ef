//! The ladder engine and safeguards, run once a second on the injectable clock: feed simulated
//! traffic, judge guardrails, pause on breach and draft the narrowed rollback, advance ladders
//! that dwelt long enough on healthy evidence, expire requests. Every change goes through the
//! service's apply/request path (audited, durable, published).

use super::exposure::Served;
use super::service::{Caller, ControlPlane, ErrorKind, ServiceError};
use super::simulator::Simulator;
use crate::domain::{
    Action, AdvancePolicy, CohortName, EnvKey, FlagKey, GuardrailStatus, LadderState, Revision,
};
use crate::wire::{ActionRequest, GuardrailReading, OutcomeKind};
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, HashSet};
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

/// The pause note and the request's reason for a breach: value and limit with enough digits
/// that they never read equal when one breaches the other ("218.4 vs limit 218").
pub(crate) fn breach_note(r: &GuardrailReading) -> String {
    let (value, limit) = crate::domain::guardrail::fmt_apart(r.value, r.threshold);
    format!(
        "{} of {} breached: {value} vs limit {limit} ({}; {} samples over {}s)",
        r.metric, r.cohort, r.rule, r.samples, r.window_secs
    )
}

/// The engine's own memory (not the control plane's): what it has answered and what it has
/// seen. Evidence still due is the control plane's (it is durable with the change).
#[derive(Debug, Default)]
pub struct Engine {
    /// Where the simulator's samples are also counted for `/metrics` (`--expose-metrics`).
    pub exposition: Option<Arc<super::exposition::Exposition>>,
    /// Since when every guardrail of (flag, env) has been healthy with enough data.
    healthy_since: HashMap<(FlagKey, EnvKey), DateTime<Utc>>,
    /// Breaches (flag, env, cohort) already answered; forgotten when the breach ends.
    breach_handled: HashSet<(FlagKey, EnvKey, CohortName)>,
    /// When the exposure that changed was last published to the streams.
    exposure_published: Option<DateTime<Utc>>,
    /// Exposure totals per (flag, env, cohort, candidate) as last fed to the guardrails that
    /// count samples from exposure.
    served_totals: HashMap<(FlagKey, EnvKey, CohortName, bool), u64>,
}

/// How often the engine publishes the exposure counts that changed (dashboards' cells).
pub const EXPOSURE_PUBLISH_SECS: i64 = 5;

/// What the engine does with a refusal: a store failure ends the tick; anything else (the flag
/// changed meanwhile, a write in flight) is logged and tried again on a later tick.
fn tolerate(e: ServiceError, what: &str) -> Result<(), ServiceError> {
    if e.kind == ErrorKind::Internal {
        return Err(e);
    }
    tracing::info!(error = %e, what, "engine step not taken; will look again");
    Ok(())
}

impl Engine {
    /// One evaluation step. Every change goes through the control plane's front door as the
    /// engine caller; policy says whether it is applied or becomes a request.
    pub fn tick(
        &mut self,
        cp: &ControlPlane,
        sim: Option<&mut Simulator>,
    ) -> Result<TickReport, ServiceError> {
        let now = cp.clock.now();
        if let Some(sim) = sim {
            let exposition = self.exposition.clone();
            cp.with_metrics(|metrics, state| {
                let samples = sim.tick(state, now);
                for s in &samples {
                    let _ = metrics.push(s, now);
                }
                if let Some(e) = &exposition {
                    e.record(state, &samples);
                }
            });
            // The simulator's users were evaluated by the same code as OFREP: what they were
            // served is exposure like an application's.
            let served = sim.take_served();
            cp.exposure.record_counted(
                now,
                served.iter().map(|s| {
                    (
                        Served {
                            flag: &s.flag,
                            env: &s.env,
                            cohort: s.cohort.as_deref(),
                            variation: &s.variation,
                            exposed: s.exposed,
                        },
                        s.count,
                    )
                }),
            );
        }
        self.feed_served_counts(cp, now);
        if self
            .exposure_published
            .is_none_or(|t| now - t >= Duration::seconds(EXPOSURE_PUBLISH_SECS))
        {
            self.exposure_published = Some(now);
            cp.publish_exposure();
        }
        let readings = cp.evaluate_guardrails(true);
        let mut report = TickReport::default();
        self.answer_breaches(cp, &readings, &mut report)?;
        report.evidence = cp.record_due_evidence(&Caller::engine(), &readings)?;
        self.advance_ladders(cp, &readings, now, &mut report)?;
        report.expired = cp.expire()?;
        // Once an hour (by the engine's clock): forget idempotency records past their TTL.
        if cp.prune_idempotency()? {
            tracing::debug!("idempotency records past their TTL pruned");
        }
        Ok(report)
    }

    /// Guardrails with `samples_from = "exposure"` count the evaluations served since the last
    /// tick (OFREP and the simulator), candidate against fallthrough, per cohort.
    fn feed_served_counts(&mut self, cp: &ControlPlane, now: DateTime<Utc>) {
        let wanted = cp.with_metrics(|_, state| {
            state.flags.values().any(|f| {
                f.environments.values().any(|fe| {
                    fe.guardrails
                        .iter()
                        .any(|g| g.samples_from == crate::domain::SampleSource::Exposure)
                })
            })
        });
        if !wanted {
            self.served_totals.clear();
            return;
        }
        let mut delta: HashMap<(FlagKey, EnvKey, CohortName), (u64, u64)> = HashMap::new();
        for (flag, env, cohort, exposed, total) in cp.exposure.totals() {
            let key = (flag, env, cohort, exposed);
            let before = self.served_totals.insert(key.clone(), total).unwrap_or(0);
            let n = total.saturating_sub(before);
            if n > 0 {
                let d = delta.entry((key.0, key.1, key.2)).or_default();
                if exposed { d.0 += n } else { d.1 += n }
            }
        }
        cp.with_metrics(|metrics, _| {
            for ((flag, env, cohort), (yes, no)) in &delta {
                metrics.record_served(flag, env, cohort, *yes, *no, now);
            }
        });
    }

    /// Breach response: pause at once, then the narrowed rollback of exactly that cohort.
    fn answer_breaches(
        &mut self,
        cp: &ControlPlane,
        readings: &[GuardrailReading],
        report: &mut TickReport,
    ) -> Result<(), ServiceError> {
        let engine = Caller::engine();
        let breached: Vec<&GuardrailReading> = readings
            .iter()
            .filter(|r| r.status == GuardrailStatus::Breached)
            .collect();
        self.breach_handled.retain(|(f, e, c)| {
            breached
                .iter()
                .any(|r| &r.flag == f && &r.env == e && &r.cohort == c)
        });
        for r in &breached {
            let key = (r.flag.clone(), r.env.clone(), r.cohort.clone());
            if self.breach_handled.contains(&key) {
                continue;
            }
            let what = breach_note(r);
            let state = cp.state();
            let Some(flag) = state.flags.get(&r.flag) else {
                continue;
            };
            let Some(fe) = flag.env(&r.env) else { continue };
            let mut answered = true;
            if fe
                .ladder
                .as_ref()
                .is_some_and(|l| l.state == LadderState::Progressing)
            {
                let pause = Action::Pause {
                    flag: r.flag.clone(),
                    env: r.env.clone(),
                    note: Some(what.clone()),
                };
                match cp.submit(
                    &engine,
                    &request(pause, format!("safeguard: {what}"), Some(flag.revision)),
                    None,
                ) {
                    Ok(_) => report.paused.push(format!("{}/{}", r.flag, r.env)),
                    Err(e) => {
                        answered = false;
                        tolerate(e, "pause on breach")?;
                    }
                }
            }
            if let Some(cohort) = fe.cohort(&r.cohort)
                && !cohort.rolled_back
                && cohort.percent > 0
            {
                let rollback = Action::Rollback {
                    flag: r.flag.clone(),
                    env: r.env.clone(),
                    cohort: cohort.name.clone(),
                };
                if !cp.has_pending(&rollback) {
                    let gaps: Vec<String> = readings
                        .iter()
                        .filter(|x| x.flag == r.flag && x.env == r.env && x.cohort == r.cohort)
                        .filter(|x| x.status == GuardrailStatus::Insufficient)
                        .map(|x| {
                            format!(
                                "{} has too few samples ({} of {})",
                                x.metric, x.samples, x.min_samples
                            )
                        })
                        .collect();
                    let gap = (!gaps.is_empty()).then(|| gaps.join("; "));
                    let described = rollback.describe();
                    match cp.submit_with_gap(
                        &engine,
                        &request(rollback, format!("narrowed rollback: {what}"), None),
                        None,
                        gap,
                    ) {
                        Ok(o) if o.outcome == OutcomeKind::Requested => {
                            report.requested.push(described)
                        }
                        Ok(_) => report.rolled_back.push(described),
                        Err(e) => {
                            answered = false;
                            tolerate(e, "narrowed rollback on breach")?;
                        }
                    }
                }
            }
            if answered {
                self.breach_handled.insert(key);
            }
        }
        Ok(())
    }

    /// Evidence-gated advances: a ladder that dwelt long enough with every guardrail healthy
    /// takes its next step (applied or requested, as policy says).
    fn advance_ladders(
        &mut self,
        cp: &ControlPlane,
        readings: &[GuardrailReading],
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), ServiceError> {
        let mut by_target: HashMap<(&FlagKey, &EnvKey), Vec<&GuardrailReading>> = HashMap::new();
        for r in readings {
            by_target.entry((&r.flag, &r.env)).or_default().push(r);
        }
        let state = cp.state();
        let mut advance = Vec::new();
        // An archived flag takes no step (the domain would refuse it anyway).
        for flag in state.flags.values().filter(|f| !f.archived) {
            for (env, fe) in &flag.environments {
                let Some(l) = &fe.ladder else { continue };
                let key = (flag.key.clone(), env.clone());
                let healthy = by_target
                    .get(&(&flag.key, env))
                    .is_none_or(|rs| rs.iter().all(|r| r.status == GuardrailStatus::Healthy));
                if !healthy {
                    self.healthy_since.remove(&key);
                    continue;
                }
                let since = *self.healthy_since.entry(key).or_insert(now);
                if l.state != LadderState::Progressing
                    || l.is_last()
                    || state.is_frozen(env)
                    || !fe.enabled
                    || l.policy == AdvancePolicy::Manual
                {
                    continue;
                }
                let dwell =
                    Duration::seconds(l.current_stage().map_or(0, |s| s.min_dwell_secs) as i64);
                if now - since.max(l.entered_at) >= dwell {
                    advance.push((
                        Action::Advance {
                            flag: flag.key.clone(),
                            env: env.clone(),
                            exposure: None,
                        },
                        flag.revision,
                    ));
                }
            }
        }
        let engine = Caller::engine();
        for (action, seen) in advance {
            if cp.has_pending(&action) {
                continue;
            }
            let described = action.describe();
            let reason = "ladder: dwelt the minimum time with every guardrail healthy".to_string();
            match cp.submit(&engine, &request(action, reason, Some(seen)), None) {
                Ok(o) if o.outcome == OutcomeKind::Requested => report.requested.push(described),
                Ok(_) => report.advanced.push(described),
                Err(e) => tolerate(e, "ladder advance")?,
            }
        }
        Ok(())
    }
}

fn request(action: Action, reason: String, expected_revision: Option<Revision>) -> ActionRequest {
    ActionRequest {
        action,
        reason,
        expected_revision,
        source: None,
    }
}

/// Run `tick` every `period` on its own thread until `stop` is set.
pub fn spawn(
    cp: Arc<ControlPlane>,
    mut sim: Option<Simulator>,
    exposition: Option<Arc<super::exposition::Exposition>>,
    period: std::time::Duration,
    stop: Arc<AtomicBool>,
) {
    std::thread::Builder::new()
        .name("flagtop-engine".into())
        .spawn(move || {
            let mut engine = Engine {
                exposition,
                ..Engine::default()
            };
            while !stop.load(Ordering::Relaxed) {
                let started = std::time::Instant::now();
                if let Err(e) = engine.tick(&cp, sim.as_mut()) {
                    tracing::warn!(error = %e, "engine tick failed");
                }
                std::thread::sleep(period.saturating_sub(started.elapsed()));
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| tracing::error!(error = %e, "could not start the engine thread"));
}
