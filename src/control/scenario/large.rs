//! The `large` scenario: 10,000 synthetic flags for load and rendering tests. Pure and
//! deterministic (a fixed-seed splitmix64 sequence); no I/O, no clocks, no real randomness.

use super::{FlagHead, cohort, empty_state, flag, flag_env, guard, ladder, region, segment, stage};
use crate::domain::{AdvancePolicy, Cohort, FlagKind, Lifecycle, Selector, State, Threshold};
use chrono::{DateTime, Duration, Utc};

/// How many flags the scenario holds: `SERVICES` services × `FEATURES` features.
pub const FLAGS: usize = SERVICES * FEATURES;
const SERVICES: usize = 2000;
const FEATURES: usize = 5;
/// Every `GUARDED_EVERY`-th flag carries two production guardrails on one cohort
/// (10,000 / 67 → 150 flags, 300 guardrail specs).
const GUARDED_EVERY: usize = 67;
/// Long enough that nothing advances on its own during a session.
const DWELL_SECS: u64 = 86_400;
const STAGE_PERCENTS: [u8; 4] = [10, 25, 50, 100];
const PERCENT_CHOICES: [u8; 6] = [0, 5, 10, 25, 50, 100];

/// The cohort pool: a flag takes 1–4 of these, in this order (`everyone` last, since it
/// matches every user and would shadow later cohorts).
const POOL: [&str; 5] = ["internal", "beta", "eu-west", "us-east", "everyone"];

fn selector(pool_index: usize) -> Selector {
    match pool_index {
        0 => segment("internal"),
        1 => segment("beta"),
        2 => region("eu-west"),
        3 => region("us-east"),
        _ => Selector::Everyone,
    }
}

/// splitmix64: a tiny fixed-seed generator, one value per flag index.
fn mix(i: u64) -> u64 {
    let mut z = i
        .wrapping_add(0x9e37_79b9_7f4a_7c15)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn pick(r: u64, shift: u32, n: usize) -> usize {
    ((r >> shift) % n as u64) as usize
}

pub(super) fn state(now: DateTime<Utc>) -> State {
    let mut flags = std::collections::BTreeMap::new();
    for i in 0..FLAGS {
        let f = synthetic_flag(i, now);
        flags.insert(f.key.clone(), f);
    }
    empty_state(flags)
}

fn synthetic_flag(i: usize, now: DateTime<Utc>) -> crate::domain::Flag {
    let r = mix(i as u64);
    let (service, feature) = (i / FEATURES, i % FEATURES);
    let guarded = i.is_multiple_of(GUARDED_EVERY);
    let laddered = guarded || pick(r, 16, 2) == 0;

    // 1–4 consecutive pool entries (wrapping), kept in pool order.
    let count = 1 + pick(r, 0, 4);
    let start = pick(r, 8, POOL.len());
    let mut members: Vec<usize> = (0..count).map(|k| (start + k) % POOL.len()).collect();
    members.sort_unstable();
    let target = members.last().copied().unwrap_or(4);
    let target_name = POOL[target.min(POOL.len() - 1)];

    // The target cohort's production exposure; guarded ones sit at 25 or 50 % so both arms see traffic.
    let current = if guarded {
        1 + pick(r, 20, 2)
    } else {
        pick(r, 20, STAGE_PERCENTS.len())
    };
    let target_percent = if laddered {
        STAGE_PERCENTS[current]
    } else {
        PERCENT_CHOICES[pick(r, 24, 6)]
    };

    let cohorts = |production: bool| -> Vec<Cohort> {
        members
            .iter()
            .enumerate()
            .map(|(k, &m)| {
                let percent = if !production {
                    100
                } else if m == target {
                    target_percent
                } else if m == 0 {
                    100
                } else {
                    PERCENT_CHOICES[pick(r, 28 + 3 * k as u32, 6)]
                };
                cohort(POOL[m], selector(m), percent, "on")
            })
            .collect()
    };

    let prod_ladder = laddered.then(|| {
        let stages = STAGE_PERCENTS
            .iter()
            .map(|p| stage(&format!("{p}%"), &[(target_name, *p)], DWELL_SECS))
            .collect();
        let entered = now - Duration::seconds((r >> 40) as i64 % 3600);
        ladder(stages, current, entered, AdvancePolicy::RequestApproval)
    });
    let guardrails = if guarded {
        vec![
            guard("error_rate", target_name, Threshold::Absolute { max: 0.02 }),
            guard(
                "p95_latency_ms",
                target_name,
                Threshold::Relative {
                    max_increase_pct: 20.0,
                },
            ),
        ]
    } else {
        Vec::new()
    };

    let key = format!("svc-{service:04}-feature-{feature}");
    let description = format!("Synthetic feature {feature} of service {service:04}");
    let owner = format!("team-{:02}", service % 40);
    let head = FlagHead {
        key: &key,
        kind: FlagKind::Boolean,
        description: &description,
        owner: &owner,
        lifecycle: Lifecycle::Temporary,
        variations: &["off", "on"],
    };
    flag(
        head,
        flag_env(cohorts(false), "off", None, Vec::new()),
        flag_env(cohorts(true), "off", prod_ladder, guardrails),
    )
}
