//! Owns how the details overlay shows audit entries: the one-line summary, before → after of the
//! state an entry touched (flattened, changed fields only, bounded), its evidence and the
//! evidence recorded after it. Pure; it must not draw or change the model.

use super::Row;
use crate::domain::AuditEvent;
use crate::domain::approval::Evidence;
use crate::tui::model::Model;
use crate::tui::text::{fit, num};
use serde_json::Value;
use std::collections::BTreeMap;

/// At most this many changed fields of one entry.
pub const MAX_CHANGES: usize = 24;
/// How deep a before/after summary is followed.
const MAX_DEPTH: usize = 4;

/// `#12 12:00:01 alice applied: rollback checkout-v2/eu-west in production — reason`.
pub fn line(e: &AuditEvent) -> String {
    let what = e.action.as_ref().map(|a| a.describe()).unwrap_or_default();
    let kind = format!("{:?}", e.kind).to_lowercase();
    format!(
        "  #{} {} {} {kind}: {} — {}",
        e.id,
        e.at.format("%H:%M:%S"),
        fit(&e.actor.name, 20),
        fit(&what, 70),
        fit(&e.reason, 80)
    )
}

/// The fields that differ between `before` and `after`, as `percent: 25 → 0` (`-`: absent);
/// `no change` when both are there and equal; nothing when neither is.
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    if before.is_none() && after.is_none() {
        return Vec::new();
    }
    let (mut b, mut a) = (BTreeMap::new(), BTreeMap::new());
    if let Some(v) = before {
        flatten("", v, 0, &mut b);
    }
    if let Some(v) = after {
        flatten("", v, 0, &mut a);
    }
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let dash = String::from("-");
    let mut out: Vec<String> = keys
        .into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| {
            let name = if k.is_empty() { "value" } else { k.as_str() };
            format!(
                "{}: {} → {}",
                fit(name, 40),
                fit(b.get(k).unwrap_or(&dash), 40),
                fit(a.get(k).unwrap_or(&dash), 40)
            )
        })
        .collect();
    if out.is_empty() {
        return vec!["no change".into()];
    }
    if out.len() > MAX_CHANGES {
        let cut = out.len() - MAX_CHANGES;
        out.truncate(MAX_CHANGES);
        out.push(format!("… {cut} more fields"));
    }
    out
}

fn flatten(path: &str, v: &Value, depth: usize, out: &mut BTreeMap<String, String>) {
    if out.len() > 4 * MAX_CHANGES {
        return;
    }
    match v {
        Value::Object(o) if depth < MAX_DEPTH && !o.is_empty() => {
            for (k, v) in o.iter().take(4 * MAX_CHANGES) {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(&p, v, depth + 1, out);
            }
        }
        Value::Null => {
            out.insert(path.to_string(), "none".into());
        }
        Value::String(s) => {
            out.insert(path.to_string(), fit(s, 60));
        }
        other => {
            out.insert(path.to_string(), fit(&other.to_string(), 60));
        }
    }
}

fn evidence(e: &Evidence) -> String {
    format!(
        "  {} / {}: {} vs baseline {} (limit {}) n={} over {}s{}",
        fit(&e.metric, 30),
        fit(&e.cohort, 20),
        num(e.candidate),
        num(e.baseline),
        num(e.threshold),
        e.samples,
        e.window_secs,
        e.status
            .as_deref()
            .map(|s| format!(" · {}", fit(s, 16)))
            .unwrap_or_default()
    )
}

/// The details of one audit entry.
pub fn rows(m: &Model, e: &AuditEvent) -> Vec<Row> {
    let kind = format!("{:?}", e.kind).to_lowercase();
    let mut rows = vec![
        Row::Text(format!(
            "{} {kind} by {} ({}) via {} · revision {}",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            fit(&e.actor.name, 40),
            e.actor.kind(),
            fit(&e.source, 20),
            e.revision
        )),
        Row::Text(format!(
            "action:  {}",
            e.action
                .as_ref()
                .map(|a| fit(&a.describe(), 120))
                .unwrap_or_else(|| "-".into())
        )),
        Row::Text(format!(
            "reverse: {}",
            e.reverse
                .as_ref()
                .map(|a| fit(&a.describe(), 120))
                .unwrap_or_else(|| "-".into())
        )),
        Row::Text(format!("reason:  {}", fit(&e.reason, 300))),
    ];
    if let Some(a) = &e.approval {
        rows.push(Row::Muted(format!("request {}", fit(a, 40))));
    }
    if let Some(f) = e.follows {
        rows.push(Row::Muted(format!("evidence for #{f}")));
    }
    rows.push(Row::Head("before → after".into()));
    let ch = changes(e.before.as_ref(), e.after.as_ref());
    if ch.is_empty() {
        rows.push(Row::Muted("  not recorded for this entry".into()));
    }
    rows.extend(ch.into_iter().map(|c| Row::Text(format!("  {c}"))));
    rows.push(Row::Head("evidence when it was recorded".into()));
    if e.evidence.is_empty() {
        rows.push(Row::Muted("  none recorded".into()));
    }
    rows.extend(e.evidence.iter().take(20).map(|x| Row::Text(evidence(x))));
    // What the guardrails said one window later (the loop closed: did it recover?).
    let later: Vec<&AuditEvent> = m
        .data
        .audit
        .iter()
        .filter(|x| x.follows == Some(e.id))
        .take(4)
        .collect();
    if !later.is_empty() {
        rows.push(Row::Head("evidence after it".into()));
        for x in later {
            rows.push(Row::Muted(format!(
                "  #{} {} — {}",
                x.id,
                x.at.format("%H:%M:%S"),
                fit(&x.reason, 120)
            )));
            rows.extend(x.evidence.iter().take(8).map(|v| Row::Text(evidence(v))));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_name_only_what_differs() {
        let b = json!({"cohort": "eu-west", "percent": 25, "rolled_back": false});
        let a = json!({"cohort": "eu-west", "percent": 25, "rolled_back": true});
        assert_eq!(
            changes(Some(&b), Some(&a)),
            vec!["rolled_back: false → true".to_string()]
        );
        let b = json!({"exposure": {"eu-west": 25, "us-east": 10}, "stage": "25%"});
        let a = json!({"exposure": {"eu-west": 50, "us-east": 10}, "stage": "50%"});
        assert_eq!(
            changes(Some(&b), Some(&a)),
            vec!["exposure.eu-west: 25 → 50", "stage: 25% → 50%"]
        );
        assert_eq!(
            changes(None, Some(&json!({"enabled": true}))),
            vec!["enabled: - → true"]
        );
        assert_eq!(changes(Some(&b), Some(&b)), vec!["no change"]);
        assert!(changes(None, None).is_empty());
    }

    #[test]
    fn changes_are_bounded() {
        let big: serde_json::Map<String, Value> =
            (0..500).map(|i| (format!("k{i:03}"), json!(i))).collect();
        let out = changes(None, Some(&Value::Object(big)));
        assert_eq!(out.len(), MAX_CHANGES + 1);
        assert!(out[MAX_CHANGES].contains("more fields"), "{out:?}");
        let long = json!({"x": "y".repeat(5000)});
        assert!(changes(None, Some(&long))[0].chars().count() < 100);
    }
}
