//! Synthetic traffic for the seed scenarios: users bucketed by the real evaluation code, metric
//! values that follow exposure (and the demo's scripted degradation). Owns no state and no
//! policy: it only reads `State` and returns samples; no I/O, no clocks (the caller passes `now`),
//! no randomness beyond a per-tick xorshift seeded from the tick and series.
//!
//! Simplification: a per-user latency is drawn around a mean, and an arm's `p95_latency_ms` is
//! reported as the arm's mean latency × [`P95_OVER_MEAN`] rather than a true percentile.

use crate::domain::eval::{User, evaluate};
use crate::domain::flag::ConstraintOp;
use crate::domain::{Cohort, FlagEnv, FlagKey, Selector, State};
use crate::wire::{Arm, MetricSample};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Synthetic users per (flag, environment, guarded cohort) per tick, for `demo` and `calm`.
pub const USERS_PER_TICK: usize = 300;
/// The same for `large`, to keep a tick cheap (~300 specs).
pub const USERS_PER_TICK_LARGE: usize = 24;
/// Size of the rotating user population per cohort (`{cohort}-u{n}`, n < this).
pub const POPULATION: u64 = 5_000;
/// The demo's `checkout-v2`/`eu-west` candidate starts degrading this long after start …
pub const DEGRADE_START_SECS: f64 = 8.0;
/// … and is fully degraded (p95 × [`DEGRADED_P95_FACTOR`], errors at [`DEGRADED_ERROR_RATE`]) from here on.
pub const DEGRADE_FULL_SECS: f64 = 24.0;
pub const DEGRADED_P95_FACTOR: f64 = 1.8;
pub const DEGRADED_ERROR_RATE: f64 = 0.045;
/// Reported p95 = mean latency × this (see the module note).
pub const P95_OVER_MEAN: f64 = 1.3;

const BASE_ERROR_RATE: f64 = 0.006;
const BASE_CORRECTION_RATE: f64 = 0.02;
/// Per-user mean latency, so that the reported p95 is ≈ 180 ms.
const BASE_LATENCY_MS: f64 = 140.0;
/// `support-answer-profile` is slower: reported p95 ≈ 610 ms.
const SUPPORT_LATENCY_MS: f64 = 470.0;
/// `support-answer-profile`'s reranker in the demo: ~+15 % latency (a warning, not a breach).
const SUPPORT_CANDIDATE_LATENCY: f64 = 1.15;
/// A healthy candidate: a few per cent off the baseline.
const HEALTHY_LATENCY: f64 = 1.02;
const HEALTHY_RATE: f64 = 1.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Demo,
    /// `calm`, `large` and anything else: never degrades.
    Healthy,
}

/// Generates one second of synthetic traffic per call to [`Simulator::tick`].
#[derive(Debug, Clone)]
pub struct Simulator {
    scenario: String,
    profile: Profile,
    started_at: DateTime<Utc>,
    users_per_tick: usize,
    ticks: u64,
    /// The flags whose traffic is invented: the scenario's own. A flag an operator defines
    /// later (`flagtop apply -f`) gets none — its guardrails say "insufficient", never an
    /// invented "healthy" — unless its scenario names it.
    flags: BTreeSet<FlagKey>,
    /// What the last tick's users were served (taken by the engine into exposure).
    served: Vec<SimServed>,
}

/// The flags a scenario's simulated traffic covers: those the scenario itself defines (none
/// for an unknown scenario).
pub fn simulated_flags(scenario: &str, now: DateTime<Utc>) -> BTreeSet<FlagKey> {
    crate::control::scenario::build(scenario, now)
        .map(|sc| sc.state.flags.into_keys().collect())
        .unwrap_or_default()
}

/// Users of one tick served one variation: they count as exposure like an application's
/// evaluations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimServed {
    pub flag: String,
    pub env: String,
    pub cohort: Option<String>,
    pub variation: String,
    pub exposed: bool,
    pub count: u64,
}

/// How a candidate differs from the baseline right now.
#[derive(Debug, Clone, Copy)]
struct Effect {
    latency: f64,
    /// Overrides the error-rate probability.
    error_rate: Option<f64>,
    rate: f64,
    other: f64,
}

const BASELINE: Effect = Effect {
    latency: 1.0,
    error_rate: None,
    rate: 1.0,
    other: 1.0,
};
const HEALTHY: Effect = Effect {
    latency: HEALTHY_LATENCY,
    error_rate: None,
    rate: HEALTHY_RATE,
    other: 1.01,
};

impl Simulator {
    pub fn new(scenario: &str, started_at: DateTime<Utc>) -> Self {
        let profile = if scenario == "demo" {
            Profile::Demo
        } else {
            Profile::Healthy
        };
        let users_per_tick = if scenario == "large" {
            USERS_PER_TICK_LARGE
        } else {
            USERS_PER_TICK
        };
        Simulator {
            scenario: scenario.to_string(),
            profile,
            started_at,
            users_per_tick,
            ticks: 0,
            flags: simulated_flags(scenario, started_at),
            served: Vec::new(),
        }
    }

    pub fn scenario(&self) -> &str {
        &self.scenario
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// What the users of the last tick were served (empty until the next tick).
    pub fn take_served(&mut self) -> Vec<SimServed> {
        std::mem::take(&mut self.served)
    }

    /// How many ticks have been generated.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// One second of synthetic traffic: for every flag, environment and guardrail spec in `state`,
    /// returns one aggregated MetricSample per arm (Candidate, Baseline) for that spec's metric and
    /// cohort, with `value` = mean over that arm's synthetic users this tick and `count` = how many
    /// users fell in that arm, `at` = Some(now). Arms with zero users this tick produce no sample.
    pub fn tick(&mut self, state: &State, now: DateTime<Utc>) -> Vec<MetricSample> {
        let tick = self.ticks;
        self.ticks = self.ticks.wrapping_add(1);
        let elapsed = (now - self.started_at).num_milliseconds().max(0) as f64 / 1000.0;
        let mut out = Vec::new();
        self.served.clear();
        let mut user = User::default();
        for (flag_key, flag) in &state.flags {
            if !self.flags.contains(flag_key) {
                continue;
            }
            for (env_key, fe) in &flag.environments {
                // Each guarded cohort once, with the metrics guarded on it (in spec order).
                let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
                for g in &fe.guardrails {
                    let metric = g.metric.as_str();
                    match groups.iter_mut().find(|(c, _)| *c == g.cohort.as_str()) {
                        Some((_, ms)) if !ms.contains(&metric) => ms.push(metric),
                        Some(_) => {}
                        None => groups.push((g.cohort.as_str(), vec![metric])),
                    }
                }
                for (cohort_name, metrics) in groups {
                    let Some(cohort) = fe.cohort(cohort_name) else {
                        continue;
                    };
                    let effect = self.candidate_effect(flag_key, env_key, cohort_name, elapsed);
                    let series = Series {
                        flag: flag_key,
                        fe,
                        cohort,
                        metrics: &metrics,
                    };
                    let seed = fnv(&[flag_key, env_key, cohort_name])
                        ^ tick.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    let (sums, served) = self.simulate(&series, &mut user, tick, seed, effect);
                    self.served.extend(served.into_iter().map(
                        |(cohort, variation, exposed, count)| SimServed {
                            flag: flag_key.to_string(),
                            env: env_key.to_string(),
                            cohort: cohort.map(str::to_string),
                            variation: variation.to_string(),
                            exposed,
                            count,
                        },
                    ));
                    for (metric, [cand, base]) in metrics.iter().zip(sums) {
                        for (arm, (sum, count)) in [(Arm::Candidate, cand), (Arm::Baseline, base)] {
                            if count == 0 {
                                continue;
                            }
                            let mean = sum / count as f64;
                            let value = if is_latency(metric) {
                                mean * P95_OVER_MEAN
                            } else {
                                mean
                            };
                            out.push(MetricSample {
                                flag: flag_key.clone(),
                                env: env_key.clone(),
                                metric: (*metric).to_string(),
                                cohort: cohort_name.to_string(),
                                arm,
                                value,
                                count,
                                at: Some(now),
                            });
                        }
                    }
                }
            }
        }
        out
    }

    /// Per metric: `[(candidate sum, candidate users), (baseline sum, baseline users)]`; and
    /// what the users were served: (cohort, variation, exposed, users).
    #[allow(clippy::type_complexity)]
    fn simulate<'a>(
        &self,
        s: &Series<'a>,
        user: &mut User,
        tick: u64,
        seed: u64,
        effect: Effect,
    ) -> (
        Vec<[(f64, u64); 2]>,
        Vec<(Option<&'a str>, &'a str, bool, u64)>,
    ) {
        let mut sums = vec![[(0.0, 0u64); 2]; s.metrics.len()];
        let mut served: Vec<(Option<&'a str>, &'a str, bool, u64)> = Vec::new();
        let mut rng = XorShift::new(seed);
        dress(user, s.cohort);
        let first = tick.wrapping_mul(self.users_per_tick as u64);
        for i in 0..self.users_per_tick as u64 {
            user.id.clear();
            let n = first.wrapping_add(i) % POPULATION;
            let _ = write!(user.id, "{}-u{n}", s.cohort.name);
            let ev = evaluate(s.flag, s.fe, user);
            match served
                .iter_mut()
                .find(|x| (x.0, x.1, x.2) == (ev.cohort, ev.variation, ev.exposed))
            {
                Some(x) => x.3 += 1,
                None => served.push((ev.cohort, ev.variation, ev.exposed, 1)),
            }
            let candidate = ev.exposed && ev.cohort == Some(s.cohort.name.as_str());
            let (slot, fx) = if candidate {
                (0, effect)
            } else {
                (1, BASELINE)
            };
            for (k, metric) in s.metrics.iter().enumerate() {
                let v = draw(metric, s.flag, fx, &mut rng);
                sums[k][slot].0 += v;
                sums[k][slot].1 += 1;
            }
        }
        (sums, served)
    }

    fn candidate_effect(&self, flag: &str, env: &str, cohort: &str, elapsed: f64) -> Effect {
        if self.profile != Profile::Demo {
            return HEALTHY;
        }
        match (flag, env, cohort) {
            ("checkout-v2", "production", "eu-west") => {
                let s = degradation(elapsed);
                Effect {
                    latency: HEALTHY_LATENCY + (DEGRADED_P95_FACTOR - HEALTHY_LATENCY) * s,
                    error_rate: Some(
                        BASE_ERROR_RATE * HEALTHY_RATE
                            + (DEGRADED_ERROR_RATE - BASE_ERROR_RATE * HEALTHY_RATE) * s,
                    ),
                    ..HEALTHY
                }
            }
            ("support-answer-profile", _, _) => Effect {
                latency: SUPPORT_CANDIDATE_LATENCY,
                ..HEALTHY
            },
            _ => HEALTHY,
        }
    }
}

/// How far the demo's degradation has progressed, 0 → 1, smoothly (smoothstep).
fn degradation(elapsed: f64) -> f64 {
    let s =
        ((elapsed - DEGRADE_START_SECS) / (DEGRADE_FULL_SECS - DEGRADE_START_SECS)).clamp(0.0, 1.0);
    s * s * (3.0 - 2.0 * s)
}

struct Series<'a> {
    flag: &'a str,
    fe: &'a FlagEnv,
    cohort: &'a Cohort,
    metrics: &'a [&'a str],
}

/// Give `user` the attributes and segments that make it match `cohort`'s selector.
fn dress(user: &mut User, cohort: &Cohort) {
    user.attributes.clear();
    user.segments.clear();
    match &cohort.selector {
        Selector::Everyone => {}
        Selector::Segment { segment } => user.segments.push(segment.clone()),
        Selector::Constraints {
            constraints,
            segments,
        } => {
            user.segments.extend(segments.iter().cloned());
            for c in constraints {
                // `NotIn` holds for a user without the attribute.
                if let (ConstraintOp::In, false, Some(v)) = (c.op, c.inverted, c.values.first()) {
                    user.attributes.insert(c.attribute.clone(), v.clone());
                }
            }
        }
    }
}

fn is_latency(metric: &str) -> bool {
    metric.contains("latency")
}

/// One user's observation of `metric`.
fn draw(metric: &str, flag: &str, fx: Effect, rng: &mut XorShift) -> f64 {
    let u = rng.unit();
    let spread = |pct: f64| 1.0 + pct * (2.0 * u - 1.0);
    let hit = |p: f64| if u < p { 1.0 } else { 0.0 };
    match metric {
        "error_rate" => hit(fx.error_rate.unwrap_or(BASE_ERROR_RATE * fx.rate)),
        "manual_correction_rate" => hit(BASE_CORRECTION_RATE * fx.rate),
        m if is_latency(m) => {
            let base = if flag == "support-answer-profile" {
                SUPPORT_LATENCY_MS
            } else {
                BASE_LATENCY_MS
            };
            base * fx.latency * spread(0.10)
        }
        _ => fx.other * spread(0.05),
    }
}

/// FNV-1a over parts, for stable per-series seeds.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// xorshift64*: small, fast, deterministic.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // Scramble the seed (splitmix64 step) and keep it non-zero.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        XorShift((z ^ (z >> 31)) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests;
