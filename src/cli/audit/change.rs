//! Owns the one-line "before → after" of an audit entry for `flagtop audit`'s text: the fields
//! of the recorded before/after summaries that differ, flattened (`exposure.eu-west: 25 → 0`),
//! each value cut, at most a few fields (the rest counted). Pure; it prints nothing.

use crate::sanitize::clean;
use serde_json::Value;
use std::collections::BTreeMap;

/// Most changed fields shown on the line.
pub const MAX_FIELDS: usize = 6;
/// Longest value shown.
const MAX_VALUE: usize = 40;
/// How deep nested objects are flattened.
const MAX_DEPTH: usize = 2;

fn flatten(prefix: &str, v: &Value, depth: usize, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if depth < MAX_DEPTH => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, depth + 1, out);
            }
        }
        _ => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "–".into(),
        Some(Value::String(s)) => clean(s, MAX_VALUE),
        Some(x) => clean(&x.to_string(), MAX_VALUE),
    }
}

/// "percent 25 → 0 · rolled_back false → true", or None when nothing recorded differs.
pub fn line(before: Option<&Value>, after: Option<&Value>) -> Option<String> {
    if before.is_none() && after.is_none() {
        return None;
    }
    let (mut b, mut a) = (BTreeMap::new(), BTreeMap::new());
    if let Some(v) = before {
        flatten("", v, 0, &mut b);
    }
    if let Some(v) = after {
        flatten("", v, 0, &mut a);
    }
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    let changed: Vec<String> = keys
        .into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| {
            let (x, y) = (show(b.get(k)), show(a.get(k)));
            if k.is_empty() {
                format!("{x} → {y}")
            } else {
                format!("{} {x} → {y}", clean(k, MAX_VALUE))
            }
        })
        .collect();
    if changed.is_empty() {
        return None;
    }
    let more = changed.len().saturating_sub(MAX_FIELDS);
    let mut s = changed
        .into_iter()
        .take(MAX_FIELDS)
        .collect::<Vec<_>>()
        .join(" · ");
    if more > 0 {
        s.push_str(&format!(" · and {more} more (--json for all)"));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_what_changed_flattened_and_bounded() {
        let b = json!({"cohort": "eu-west", "percent": 25, "rolled_back": false});
        let a = json!({"cohort": "eu-west", "percent": 25, "rolled_back": true});
        assert_eq!(
            line(Some(&b), Some(&a)).as_deref(),
            Some("rolled_back false → true")
        );
        let b = json!({"stage": "10%", "exposure": {"eu-west": 10, "us-east": 10}});
        let a = json!({"stage": "25%", "exposure": {"eu-west": 25, "us-east": 10}});
        assert_eq!(
            line(Some(&b), Some(&a)).as_deref(),
            Some("exposure.eu-west 10 → 25 · stage 10% → 25%")
        );
        assert_eq!(
            line(None, Some(&json!({"frozen": true}))).as_deref(),
            Some("frozen – → true")
        );
        assert_eq!(line(Some(&a), Some(&a)), None);
        assert_eq!(line(None, None), None);
        let many: serde_json::Map<String, Value> =
            (0..10).map(|i| (format!("k{i}"), json!(i))).collect();
        let l = line(None, Some(&Value::Object(many))).unwrap();
        assert!(l.ends_with("and 4 more (--json for all)"), "{l}");
    }
}
