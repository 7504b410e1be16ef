//! Unleash features (Admin API JSON, 7.x and 8.x shapes) → flagtop flags, truthfully: every
//! constraint operator with `inverted` and `caseInsensitive`, segments by name with their own
//! constraints, strategy variants as the cohort's variations, and cohort names that never
//! claim an excluded value.
//! Pure: no I/O. Every string from Unleash is bounded and cleaned here, where it enters.

use crate::domain::flag::{Constraint, ConstraintOp, WeightedVariant};
use crate::domain::ids::valid_key;
use crate::domain::{
    Cohort, CohortName, EnvKey, Environment, Flag, FlagEnv, FlagKind, Lifecycle, Selector,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Bounds on what one strategy may bring in (Unleash itself allows more; we show a prefix and
/// the CAS still compares the whole raw value).
pub const MAX_CONSTRAINTS: usize = 64;
pub const MAX_VALUES: usize = 1000;
pub const MAX_VARIANTS: usize = 64;
pub const MAX_TEXT: usize = 200;

/// One Unleash segment: its name and its own constraints (None when one of them uses an
/// operator flagtop does not know: a strategy using it cannot be shown truthfully).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentDef {
    pub name: String,
    pub constraints: Option<Vec<Constraint>>,
}

/// Segment ids → segments (from `/api/admin/segments`).
pub type Segments = BTreeMap<u64, SegmentDef>;

/// A segment from `/api/admin/segments` (its name and constraints bounded and cleaned).
pub fn segment(v: &Value) -> Option<(u64, SegmentDef)> {
    let name = text(v["name"].as_str()?);
    let constraints = v["constraints"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_CONSTRAINTS)
        .map(|c| {
            constraint(c).map(|k| Constraint {
                segment: Some(name.clone()),
                ..k
            })
        })
        .collect();
    Some((v["id"].as_u64()?, SegmentDef { name, constraints }))
}

fn text(s: &str) -> String {
    crate::sanitize::clean(s, MAX_TEXT)
}

pub fn op_of(s: &str) -> Option<ConstraintOp> {
    Some(match s {
        "IN" => ConstraintOp::In,
        "NOT_IN" => ConstraintOp::NotIn,
        "STR_CONTAINS" => ConstraintOp::StrContains,
        "STR_STARTS_WITH" => ConstraintOp::StrStartsWith,
        "STR_ENDS_WITH" => ConstraintOp::StrEndsWith,
        "NUM_EQ" => ConstraintOp::NumEq,
        "NUM_GT" => ConstraintOp::NumGt,
        "NUM_GTE" => ConstraintOp::NumGte,
        "NUM_LT" => ConstraintOp::NumLt,
        "NUM_LTE" => ConstraintOp::NumLte,
        "DATE_AFTER" => ConstraintOp::DateAfter,
        "DATE_BEFORE" => ConstraintOp::DateBefore,
        "SEMVER_EQ" => ConstraintOp::SemverEq,
        "SEMVER_GT" => ConstraintOp::SemverGt,
        "SEMVER_LT" => ConstraintOp::SemverLt,
        _ => return None,
    })
}

/// One Unleash constraint; None for an operator flagtop does not know (the strategy then
/// cannot be shown truthfully and is skipped, loudly).
fn constraint(c: &Value) -> Option<Constraint> {
    let op = op_of(c["operator"].as_str()?)?;
    let mut values: Vec<String> = c["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .take(MAX_VALUES)
        .map(text)
        .collect();
    // Single-value operators (numbers, dates, versions) carry `value`.
    if let Some(v) = c["value"].as_str().filter(|v| !v.is_empty()) {
        values.insert(0, text(v));
    }
    Some(Constraint {
        attribute: text(c["contextName"].as_str().unwrap_or("")),
        op,
        values,
        inverted: c["inverted"].as_bool().unwrap_or(false),
        case_insensitive: c["caseInsensitive"].as_bool().unwrap_or(false),
        segment: None,
    })
}

/// The selector of a strategy; None when one of its constraints (or of its segments')
/// cannot be represented.
pub fn selector(s: &Value, segments: &Segments) -> Option<Selector> {
    let mut constraints = Vec::new();
    for c in s["constraints"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_CONSTRAINTS)
    {
        constraints.push(constraint(c)?);
    }
    // A segment's own constraints are listed with the cohort's, each naming its segment, so
    // what is shown is whom the strategy really selects.
    let mut segs = Vec::new();
    for id in s["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .take(MAX_CONSTRAINTS)
    {
        match segments.get(&id) {
            Some(def) => {
                constraints.extend(def.constraints.clone()?);
                segs.push(def.name.clone());
            }
            None => segs.push(format!("segment {id}")),
        }
    }
    Some(match (constraints.is_empty(), segs.len()) {
        (true, 0) => Selector::Everyone,
        (true, 1) => Selector::Segment {
            segment: segs.into_iter().next().unwrap_or_default(),
        },
        _ => Selector::Constraints {
            constraints,
            segments: segs,
        },
    })
}

fn slug(x: &str) -> String {
    let mut o: String = x
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    while o.contains("--") {
        o = o.replace("--", "-");
    }
    o.truncate(60);
    o.trim_matches(|c| c == '-' || c == '.' || c == '_')
        .to_string()
}

/// A name for what a selector picks that never claims an excluded value: `eu-west`,
/// `not-eu-west`, `userId-starts-with-vip`, `segment-vip-users`.
fn selector_name(sel: &Selector) -> String {
    let part = |c: &Constraint| {
        let negated = c.inverted != (c.op == ConstraintOp::NotIn);
        let vals = c.values.join("-");
        let body = match c.op {
            ConstraintOp::In | ConstraintOp::NotIn => vals,
            op => format!("{}-{}-{vals}", c.attribute, op.words()),
        };
        if negated { format!("not-{body}") } else { body }
    };
    match sel {
        Selector::Everyone => String::new(),
        Selector::Segment { segment } => format!("segment-{segment}"),
        Selector::Constraints {
            constraints,
            segments,
        } => {
            // A segment's constraints are named by their segment, never by their values.
            let mut parts: Vec<String> = segments.iter().map(|s| format!("segment-{s}")).collect();
            parts.extend(constraints.iter().filter(|c| c.segment.is_none()).map(part));
            parts.join("-")
        }
    }
}

/// A cohort name from a strategy: its title, else what it selects, else its kind and id.
fn cohort_name(s: &Value, sel: &Selector, taken: &mut BTreeSet<String>) -> String {
    let title = s["title"].as_str().map(slug).filter(|t| valid_key(t));
    let from_selector = || {
        let n = slug(&selector_name(sel));
        valid_key(&n).then_some(n)
    };
    let base = title
        .or_else(from_selector)
        .unwrap_or_else(|| match s["name"].as_str() {
            Some("default") => "default".to_string(),
            _ => format!(
                "strategy-{}",
                slug(
                    &s["id"]
                        .as_str()
                        .unwrap_or("x")
                        .chars()
                        .take(8)
                        .collect::<String>()
                )
            ),
        });
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

fn variants(s: &Value) -> Vec<WeightedVariant> {
    s["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_VARIANTS)
        .filter_map(|v| {
            let name = text(v["name"].as_str()?);
            let weight = v["weight"].as_u64().unwrap_or(0).min(1000) as u16;
            (!name.is_empty()).then_some(WeightedVariant { name, weight })
        })
        .collect()
}

/// One strategy as a cohort (None for strategy kinds flagtop cannot express as a cohort).
fn cohort(s: &Value, segments: &Segments, taken: &mut BTreeSet<String>) -> Option<Cohort> {
    let percent = match s["name"].as_str()? {
        "default" => 100,
        "flexibleRollout" => s["parameters"]["rollout"]
            .as_str()
            .and_then(|r| r.trim().parse::<i64>().ok())
            .or_else(|| s["parameters"]["rollout"].as_i64())
            .unwrap_or(0)
            .clamp(0, 100) as u8,
        _ => return None,
    };
    let Some(selector) = selector(s, segments) else {
        tracing::warn!(strategy = %text(s["id"].as_str().unwrap_or("")), "skipping an Unleash strategy with a constraint operator flagtop does not know");
        return None;
    };
    let variants = variants(s);
    Some(Cohort {
        name: CohortName::from(cohort_name(s, &selector, taken).as_str()),
        selector,
        percent,
        variation: variants
            .first()
            .map_or_else(|| "on".to_string(), |v| v.name.clone()),
        rolled_back: s["disabled"].as_bool().unwrap_or(false),
        external_id: s["id"].as_str().map(text),
        variants,
    })
}

/// Map one Unleash feature to a flag, with the raw JSON of each strategy that became a cohort
/// (by strategy id: what a compare-and-set tests).
pub fn to_flag(
    v: &Value,
    envs: &[Environment],
    segments: &Segments,
) -> Option<(Flag, Vec<(String, Value)>)> {
    let key = v["name"].as_str()?;
    if !valid_key(key) {
        tracing::warn!(feature = %crate::sanitize::clean(key, 100), "skipping an Unleash feature whose name is not a valid flag key");
        return None;
    }
    let mut variations = vec!["off".to_string(), "on".to_string()];
    let add = |n: &str, variations: &mut Vec<String>| {
        if !variations.iter().any(|x| x == n) {
            variations.push(n.to_string());
        }
    };
    let mut environments = crate::domain::SmallMap::new();
    let mut raw = Vec::new();
    for e in v["environments"].as_array().into_iter().flatten() {
        let Some(name) = e["name"]
            .as_str()
            .filter(|n| envs.iter().any(|x| x.key.as_str() == *n))
        else {
            continue;
        };
        // Environment variants (7.x; deprecated, 8.x answers 403 when setting them).
        for var in e["variants"]
            .as_array()
            .into_iter()
            .flatten()
            .take(MAX_VARIANTS)
        {
            if let Some(n) = var["name"].as_str() {
                add(&text(n), &mut variations);
            }
        }
        let mut taken = BTreeSet::new();
        let mut cohorts = Vec::new();
        for s in e["strategies"].as_array().into_iter().flatten() {
            if let Some(c) = cohort(s, segments, &mut taken) {
                for var in &c.variants {
                    add(&var.name, &mut variations);
                }
                if let Some(id) = &c.external_id {
                    raw.push((id.clone(), s.clone()));
                }
                cohorts.push(c);
            }
        }
        environments.insert(
            EnvKey::from(name),
            FlagEnv {
                enabled: e["enabled"].as_bool().unwrap_or(false),
                // Off in Unleash is plain "off"; the follower keeps a kill flagtop made.
                off: e["enabled"].as_bool() != Some(true),
                cohorts,
                fallthrough: "off".into(),
                ladder: None,
                guardrails: vec![],
            },
        );
    }
    let kind = if variations.len() > 2 {
        FlagKind::Multivariate
    } else {
        FlagKind::Boolean
    };
    let lifecycle = match v["type"].as_str() {
        Some("kill-switch" | "permission" | "operational") => Lifecycle::Permanent,
        _ => Lifecycle::Temporary,
    };
    let flag = Flag {
        key: key.into(),
        kind,
        description: crate::sanitize::clean(v["description"].as_str().unwrap_or(""), 1000),
        owner: format!(
            "unleash:{}",
            text(v["project"].as_str().unwrap_or("default"))
        ),
        lifecycle,
        variations,
        environments,
        revision: Default::default(),
        review_by: None,
        cleanup: String::new(),
        archived: false,
        changed_at: None,
        // Unleash 7+/8 keeps a lifecycle per feature; the feature's GET carries the current one.
        store_stage: v["lifecycle"]["stage"]
            .as_str()
            .and_then(crate::domain::StoreStage::parse),
    };
    Some((flag, raw))
}

/// A flag that is archived or deleted in Unleash: kept in flagtop's history, with no
/// environment left to act on, and saying so.
pub fn archived(mut f: Flag) -> Flag {
    f.environments = crate::domain::SmallMap::new();
    f.archived = true;
    if !f.description.starts_with(ARCHIVED) {
        f.description = format!("{ARCHIVED}{}", f.description);
    }
    f
}

pub const ARCHIVED: &str = "[archived or deleted in Unleash] ";

/// Markdown summaries of Unleash events, as plain text: `**x**` → x, `[t](url)` → t.
pub fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(4096));
    let mut rest = &s[..s
        .len()
        .min(s.char_indices().nth(4096).map_or(s.len(), |(i, _)| i))];
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match (after.find("]("), after.find(')')) {
            (Some(j), Some(k)) if j < k => {
                out.push_str(&after[..j]);
                rest = &after[k + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    crate::sanitize::clean(&out.replace("**", ""), 300)
}
