//! Evaluation of a user against a flag: which cohort they fall in and which variation they get.
//! Sticky and deterministic: the same user, flag and cohort always land in the same bucket.

use super::flag::{Cohort, ConstraintOp, FlagEnv, Selector};
use std::collections::BTreeMap;

/// What we know of a user at evaluation time.
#[derive(Debug, Clone, Default)]
pub struct User {
    pub id: String,
    pub attributes: BTreeMap<String, String>,
    pub segments: Vec<String>,
}

/// FNV-1a, 64 bit: stable across platforms and releases (unlike std's hasher).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // Final avalanche so that sequential ids spread evenly.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// The user's bucket for one flag and cohort, 0..10_000 (hundredths of a percent).
pub fn bucket(flag: &str, cohort: &str, user_id: &str) -> u32 {
    (fnv1a(&[flag, cohort, user_id]) % 10_000) as u32
}

/// Whether a bucket falls inside `percent` (0–100).
pub fn in_rollout(bucket: u32, percent: u8) -> bool {
    bucket < u32::from(percent.min(100)) * 100
}

pub fn matches(cohort: &Cohort, user: &User) -> bool {
    match &cohort.selector {
        Selector::Everyone => true,
        Selector::Segment { segment } => user.segments.iter().any(|s| s == segment),
        Selector::Constraints { constraints } => constraints.iter().all(|c| {
            let v = user.attributes.get(&c.attribute);
            let hit = v.is_some_and(|v| c.values.iter().any(|x| x == v));
            match c.op {
                ConstraintOp::In => hit,
                ConstraintOp::NotIn => !hit,
            }
        }),
    }
}

/// The outcome of evaluating one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation<'a> {
    /// The cohort the user matched, if any.
    pub cohort: Option<&'a str>,
    /// Whether they were exposed to the cohort's variation.
    pub exposed: bool,
    pub variation: &'a str,
}

/// First matching cohort decides; exposed users get its variation, all others the fallthrough.
pub fn evaluate<'a>(flag: &str, env: &'a FlagEnv, user: &User) -> Evaluation<'a> {
    let Some(c) = env.cohorts.iter().find(|c| matches(c, user)) else {
        return Evaluation { cohort: None, exposed: false, variation: &env.fallthrough };
    };
    let exposed = env.enabled && in_rollout(bucket(flag, c.name.as_str(), &user.id), c.effective_percent());
    Evaluation {
        cohort: Some(c.name.as_str()),
        exposed,
        variation: if exposed { &c.variation } else { &env.fallthrough },
    }
}
