//! Owns how Unleash's feature JSON maps to flagtop's flags: `flexibleRollout` strategies →
//! cohorts (named by title, constraint or id), constraints → selectors, and event summaries
//! (Markdown) → plain text. Pure; it must not speak HTTP (that is `unleash`).

use crate::domain::flag::{Constraint, ConstraintOp};
use crate::domain::ids::valid_key;
use crate::domain::{Cohort, CohortName, EnvKey, Environment, Flag, FlagEnv, FlagKind, Lifecycle, Selector};
use serde_json::Value;
use std::collections::BTreeSet;

/// Markdown summaries of Unleash events, as plain text: `**x**` → x, `[t](url)` → t.
pub(super) fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
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

/// A cohort name from a strategy: its title, else its constraints or segments, else its id.
fn cohort_name(s: &Value, taken: &mut BTreeSet<String>) -> String {
    let slug = |x: &str| -> String {
        let mut o: String = x.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect();
        o.truncate(60);
        o.trim_matches('-').to_string()
    };
    let title = s["title"].as_str().map(slug).filter(|t| valid_key(t));
    let from_constraints = || {
        let parts: Vec<String> = s["constraints"]
            .as_array()?
            .iter()
            .filter_map(|c| c["values"].as_array().map(|v| v.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("-")))
            .collect();
        let n = slug(&parts.join("-"));
        valid_key(&n).then_some(n)
    };
    let from_segments = || {
        let ids: Vec<String> = s["segments"].as_array()?.iter().filter_map(|x| x.as_u64().map(|n| n.to_string())).collect();
        (!ids.is_empty()).then(|| format!("segment-{}", ids.join("-")))
    };
    let base = title
        .or_else(from_constraints)
        .or_else(from_segments)
        .unwrap_or_else(|| match s["name"].as_str() {
            Some("default") => "default".to_string(),
            _ => format!("strategy-{}", s["id"].as_str().unwrap_or("x").chars().take(8).collect::<String>()),
        });
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

fn selector(s: &Value) -> Selector {
    if let Some(seg) = s["segments"].as_array().and_then(|a| a.first()).and_then(Value::as_u64) {
        return Selector::Segment { segment: seg.to_string() };
    }
    let constraints: Vec<Constraint> = s["constraints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| Constraint {
            attribute: c["contextName"].as_str().unwrap_or("").to_string(),
            op: if c["operator"].as_str() == Some("NOT_IN") { ConstraintOp::NotIn } else { ConstraintOp::In },
            values: c["values"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        })
        .collect();
    if constraints.is_empty() { Selector::Everyone } else { Selector::Constraints { constraints } }
}

/// Map one Unleash feature (Admin API JSON) to a flag.
pub fn to_flag(v: &Value, envs: &[Environment]) -> Option<Flag> {
    let key = v["name"].as_str()?;
    if !valid_key(key) {
        tracing::warn!(feature = %crate::sanitize::clean(key, 100), "skipping an Unleash feature whose name is not a valid flag key");
        return None;
    }
    let mut variations = vec!["off".to_string(), "on".to_string()];
    let mut environments = crate::domain::SmallMap::new();
    for e in v["environments"].as_array().into_iter().flatten() {
        let Some(name) = e["name"].as_str().filter(|n| envs.iter().any(|x| x.key.as_str() == *n)) else { continue };
        for var in e["variants"].as_array().into_iter().flatten() {
            if let Some(n) = var["name"].as_str().filter(|n| !variations.iter().any(|x| x == n)) {
                variations.push(n.to_string());
            }
        }
        let mut taken = BTreeSet::new();
        let cohorts = e["strategies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| matches!(s["name"].as_str(), Some("flexibleRollout" | "default")))
            .map(|s| {
                let percent = match s["name"].as_str() {
                    Some("default") => 100,
                    _ => s["parameters"]["rollout"]
                        .as_str()
                        .and_then(|r| r.trim().parse::<i64>().ok())
                        .or_else(|| s["parameters"]["rollout"].as_i64())
                        .unwrap_or(0)
                        .clamp(0, 100) as u8,
                };
                Cohort {
                    name: CohortName::from(cohort_name(s, &mut taken).as_str()),
                    selector: selector(s),
                    percent,
                    variation: "on".into(),
                    rolled_back: s["disabled"].as_bool().unwrap_or(false),
                    external_id: s["id"].as_str().map(str::to_string),
                }
            })
            .collect();
        environments.insert(
            EnvKey::from(name),
            FlagEnv { enabled: e["enabled"].as_bool().unwrap_or(false), cohorts, fallthrough: "off".into(), ladder: None, guardrails: vec![] },
        );
    }
    let kind = if variations.len() > 2 { FlagKind::Multivariate } else { FlagKind::Boolean };
    let lifecycle = match v["type"].as_str() {
        Some("kill-switch" | "permission" | "operational") => Lifecycle::Permanent,
        _ => Lifecycle::Temporary,
    };
    Some(Flag {
        key: key.into(),
        kind,
        description: crate::sanitize::clean(v["description"].as_str().unwrap_or(""), 1000),
        owner: format!("unleash:{}", v["project"].as_str().unwrap_or("default")),
        lifecycle,
        variations,
        environments,
        revision: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_strategies_to_cohorts() {
        let v = json!({"name": "checkout-v2", "type": "release", "project": "default", "environments": [
            {"name": "production", "enabled": true, "strategies": [
                {"id": "s1", "name": "flexibleRollout", "title": "eu-west", "disabled": true,
                 "parameters": {"rollout": "25"}, "constraints": [{"contextName": "region", "operator": "IN", "values": ["eu-west"]}]},
                {"id": "s2", "name": "flexibleRollout", "title": "", "disabled": false,
                 "parameters": {"rollout": "150"}, "constraints": [{"contextName": "region", "operator": "IN", "values": ["us-east"]}]},
                {"id": "s3", "name": "userWithId", "parameters": {}},
                {"id": "s4", "name": "default"}
            ]},
            {"name": "development", "enabled": false, "strategies": []}
        ]});
        let envs = vec![Environment { key: "production".into(), protected: true }];
        let f = to_flag(&v, &envs).unwrap_or_else(|| panic!("mapped"));
        let fe = &f.environments[&crate::domain::EnvKey::from("production")];
        let names: Vec<&str> = fe.cohorts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["eu-west", "us-east", "default"]);
        assert!(fe.cohorts[0].rolled_back && fe.cohorts[0].percent == 25);
        assert_eq!(fe.cohorts[1].percent, 100, "out-of-range rollouts are clamped");
        assert_eq!(fe.cohorts[1].external_id.as_deref(), Some("s2"));
        assert!(!f.environments.contains_key("development"));
    }

    #[test]
    fn event_summaries_become_plain_text() {
        assert_eq!(
            plain("**admin** enabled **[checkout-v2](http://x/y)** for the **production** environment\u{1b}[2J"),
            "admin enabled checkout-v2 for the production environment␛[2J"
        );
    }
}
