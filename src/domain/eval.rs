//! Evaluation of a user against a flag: which cohort they fall in and which variation they get.
//! Sticky and deterministic: the same user, flag and cohort always land in the same bucket.

use super::flag::{Cohort, Constraint, ConstraintOp, FlagEnv, Selector};
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
        Selector::Constraints {
            constraints,
            segments,
        } => {
            segments.iter().all(|s| user.segments.contains(s))
                && constraints
                    .iter()
                    .all(|c| holds(c, user.attributes.get(&c.attribute).map(String::as_str)))
        }
    }
}

/// Whether one constraint holds for a user whose attribute is `v` (None: the user lacks it).
/// A missing attribute satisfies only `not in` (and an inverted anything), as in Unleash.
pub fn holds(c: &Constraint, v: Option<&str>) -> bool {
    let fold = |s: &str| {
        if c.case_insensitive {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    let first = c.values.first().map(String::as_str).unwrap_or("");
    let num = |a: &str| a.trim().parse::<f64>().ok();
    let hit = match (c.op, v) {
        (ConstraintOp::NotIn, None) => true,
        (_, None) => false,
        (ConstraintOp::In, Some(v)) => c.values.iter().any(|x| fold(x) == fold(v)),
        (ConstraintOp::NotIn, Some(v)) => !c.values.iter().any(|x| fold(x) == fold(v)),
        (ConstraintOp::StrContains, Some(v)) => c.values.iter().any(|x| fold(v).contains(&fold(x))),
        (ConstraintOp::StrStartsWith, Some(v)) => {
            c.values.iter().any(|x| fold(v).starts_with(&fold(x)))
        }
        (ConstraintOp::StrEndsWith, Some(v)) => {
            c.values.iter().any(|x| fold(v).ends_with(&fold(x)))
        }
        (
            op @ (ConstraintOp::NumEq
            | ConstraintOp::NumGt
            | ConstraintOp::NumGte
            | ConstraintOp::NumLt
            | ConstraintOp::NumLte),
            Some(v),
        ) => match (num(v), num(first)) {
            (Some(a), Some(b)) => match op {
                ConstraintOp::NumEq => a == b,
                ConstraintOp::NumGt => a > b,
                ConstraintOp::NumGte => a >= b,
                ConstraintOp::NumLt => a < b,
                _ => a <= b,
            },
            _ => false,
        },
        (op @ (ConstraintOp::DateAfter | ConstraintOp::DateBefore), Some(v)) => {
            let date = |s: &str| chrono::DateTime::parse_from_rfc3339(s.trim()).ok();
            match (date(v), date(first)) {
                (Some(a), Some(b)) if op == ConstraintOp::DateAfter => a > b,
                (Some(a), Some(b)) => a < b,
                _ => false,
            }
        }
        (
            op @ (ConstraintOp::SemverEq | ConstraintOp::SemverGt | ConstraintOp::SemverLt),
            Some(v),
        ) => match (semver(v), semver(first)) {
            (Some(a), Some(b)) => match op {
                ConstraintOp::SemverEq => a == b,
                ConstraintOp::SemverGt => a > b,
                _ => a < b,
            },
            _ => false,
        },
    };
    hit != c.inverted
}

/// `1.2.3` (a leading `v` and a pre-release tail tolerated; the tail sorts before the release).
fn semver(s: &str) -> Option<(u64, u64, u64, bool)> {
    let s = s.trim().trim_start_matches('v');
    let (core, pre) = match s.split_once('-') {
        Some((c, _)) => (c, true),
        None => (s, false),
    };
    let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
    let (a, b, c) = (
        it.next()??,
        it.next().unwrap_or(Some(0))?,
        it.next().unwrap_or(Some(0))?,
    );
    Some((a, b, c, !pre))
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
        return Evaluation {
            cohort: None,
            exposed: false,
            variation: &env.fallthrough,
        };
    };
    let exposed = env.enabled
        && in_rollout(
            bucket(flag, c.name.as_str(), &user.id),
            c.effective_percent(),
        );
    Evaluation {
        cohort: Some(c.name.as_str()),
        exposed,
        variation: if exposed {
            variant_of(flag, c, &user.id)
        } else {
            &env.fallthrough
        },
    }
}

/// The variation an exposed member of `c` gets: its only one, or one of its weighted variants
/// (sticky per user).
fn variant_of<'a>(flag: &str, c: &'a Cohort, user_id: &str) -> &'a str {
    let total: u32 = c.variants.iter().map(|v| u32::from(v.weight)).sum();
    if total == 0 {
        return &c.variation;
    }
    let mut point = (fnv1a(&[flag, c.name.as_str(), user_id, "variant"]) % u64::from(total)) as u32;
    for v in &c.variants {
        if point < u32::from(v.weight) {
            return &v.name;
        }
        point -= u32::from(v.weight);
    }
    &c.variation
}

#[cfg(test)]
mod constraint_tests {
    use super::*;

    fn c(op: ConstraintOp, values: &[&str], inverted: bool, case_insensitive: bool) -> Constraint {
        Constraint {
            attribute: "a".into(),
            op,
            values: values.iter().map(|v| v.to_string()).collect(),
            inverted,
            case_insensitive,
            segment: None,
        }
    }

    #[test]
    fn every_operator_with_inversion_and_case() {
        use ConstraintOp::*;
        assert!(holds(&c(In, &["eu-west"], false, false), Some("eu-west")));
        assert!(
            !holds(&c(In, &["eu-west"], true, false), Some("eu-west")),
            "inverted in excludes eu-west"
        );
        assert!(holds(&c(In, &["eu-west"], true, false), Some("us-east")));
        assert!(
            holds(&c(NotIn, &["x"], false, false), None),
            "not in holds without the attribute"
        );
        assert!(!holds(&c(In, &["x"], false, false), None));
        assert!(holds(
            &c(StrStartsWith, &["VIP-"], false, true),
            Some("vip-1")
        ));
        assert!(!holds(
            &c(StrStartsWith, &["VIP-"], false, false),
            Some("vip-1")
        ));
        assert!(holds(
            &c(StrEndsWith, &["@x.io"], false, false),
            Some("a@x.io")
        ));
        assert!(holds(
            &c(StrContains, &["mid"], false, false),
            Some("amidst")
        ));
        assert!(
            holds(&c(NumGt, &["5"], false, false), Some("6"))
                && !holds(&c(NumGt, &["5"], false, false), Some("5"))
        );
        assert!(
            holds(&c(NumGte, &["5"], false, false), Some("5"))
                && holds(&c(NumLte, &["5"], false, false), Some("5"))
        );
        assert!(
            holds(&c(NumLt, &["5"], false, false), Some("4.5"))
                && holds(&c(NumEq, &["5"], false, false), Some("5.0"))
        );
        assert!(
            !holds(&c(NumEq, &["5"], false, false), Some("five")),
            "not a number never matches"
        );
        assert!(holds(
            &c(DateAfter, &["2026-01-01T00:00:00Z"], false, false),
            Some("2026-06-01T00:00:00Z")
        ));
        assert!(holds(
            &c(DateBefore, &["2026-01-01T00:00:00Z"], false, false),
            Some("2025-06-01T00:00:00Z")
        ));
        assert!(
            holds(&c(SemverGt, &["2.0.0"], false, false), Some("2.1.0"))
                && !holds(&c(SemverGt, &["2.0.0"], false, false), Some("2.0.0-beta"))
        );
        assert!(
            holds(&c(SemverLt, &["2.0.0"], false, false), Some("2.0.0-rc.1"))
                && holds(&c(SemverEq, &["2.0.0"], false, false), Some("v2.0.0"))
        );
    }
}
