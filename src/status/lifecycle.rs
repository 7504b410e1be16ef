//! The lifecycle view for scripts (`flagtop lifecycle`, see `cli::lifecycle`): every flag's
//! computed stage, with owner, age and reason, as text or JSON. Pure rendering over a snapshot
//! and the rules; it must not connect or print.

use crate::domain::lifecycle::{Assessment, Rules, Stage, assess};
use crate::domain::{Flag, Lifecycle};
use crate::sanitize::clean;
use crate::wire::Snapshot;
use serde_json::{Value, json};

/// One flag's row: the flag and its assessment at the snapshot's server time.
pub struct Row<'a> {
    pub flag: &'a Flag,
    pub assessment: Assessment,
}

/// Every flag's stage at the control plane's clock (`server_time`), in key order.
pub fn rows<'a>(s: &'a Snapshot, rules: &Rules) -> Vec<Row<'a>> {
    let mut rows: Vec<Row<'a>> = s
        .flags
        .iter()
        .map(|f| Row {
            flag: f,
            assessment: assess(f, rules, s.server_time),
        })
        .collect();
    rows.sort_by(|a, b| a.flag.key.cmp(&b.flag.key));
    rows
}

/// The fields a flag's lifecycle adds to a JSON object (`status --json` and `lifecycle --json`).
pub fn fields(row: &Row<'_>) -> serde_json::Map<String, Value> {
    let f = row.flag;
    let a = &row.assessment;
    let mut m = serde_json::Map::new();
    m.insert("lifecycle_stage".into(), json!(a.stage.as_str()));
    m.insert("lifecycle_reason".into(), json!(a.reason));
    m.insert("age_days".into(), json!(a.age_days));
    m.insert("changed_at".into(), json!(f.changed_at));
    m.insert("review_by".into(), json!(f.review_by));
    m.insert("cleanup".into(), json!(f.cleanup));
    m.insert("archived".into(), json!(f.archived));
    // The stage the flag store keeps (Unleash's lifecycle), beside flagtop's; null without one.
    m.insert("store_stage".into(), json!(f.store_stage));
    m
}

pub fn to_json(s: &Snapshot, rules: &Rules) -> Value {
    let rows = rows(s, rules);
    let mut counts = serde_json::Map::new();
    for st in Stage::ALL {
        let n = rows.iter().filter(|r| r.assessment.stage == st).count();
        counts.insert(st.as_str().into(), json!(n));
    }
    let flags: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut m = fields(r);
            m.insert("key".into(), json!(r.flag.key));
            m.insert("owner".into(), json!(r.flag.owner));
            m.insert("lifecycle".into(), json!(r.flag.lifecycle));
            Value::Object(m)
        })
        .collect();
    json!({
        "server_time": s.server_time,
        "rules": rules,
        "counts": counts,
        "flags": flags,
    })
}

pub fn to_text(s: &Snapshot, rules: &Rules) -> String {
    let mut out = format!(
        "{:<32} {:<18} {:<22} {:>5}  reason\n",
        "flag", "stage", "owner", "age"
    );
    for r in rows(s, rules) {
        let a = &r.assessment;
        let age = a.age_days.map_or_else(|| "-".into(), |d| format!("{d}d"));
        let mut reason = clean(&a.reason, 100);
        if r.flag.lifecycle == Lifecycle::Temporary && !r.flag.cleanup.is_empty() {
            reason.push_str(&format!("; cleanup: {}", clean(&r.flag.cleanup, 120)));
        }
        if let Some(st) = r.flag.store_stage {
            reason.push_str(&format!(
                "; {}: {} ({})",
                clean(&s.flag_store, 20),
                st.as_str(),
                st.means()
            ));
        }
        out.push_str(&format!(
            "{:<32} {:<18} {:<22} {:>5}  {reason}\n",
            clean(&r.flag.key, 32),
            a.stage.words(),
            clean(&r.flag.owner, 22),
            age,
        ));
    }
    out
}

/// How many flags stand in any of `stages`.
pub fn count_in(s: &Snapshot, rules: &Rules, stages: &[Stage]) -> usize {
    rows(s, rules)
        .iter()
        .filter(|r| stages.contains(&r.assessment.stage))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> Snapshot {
        crate::screenshot::fixture::snapshot("demo").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_demo_lists_ready_for_cleanup_and_permanent_with_owner_and_age() {
        let s = snap();
        let text = to_text(&s, &Rules::default());
        let line = text
            .lines()
            .find(|l| l.starts_with("search-ranking-v3"))
            .unwrap_or_default();
        assert!(line.contains("ready for cleanup"), "{text}");
        assert!(
            line.contains("search-relevance") && line.contains("21d"),
            "{line}"
        );
        let v = to_json(&s, &Rules::default());
        assert_eq!(v["counts"]["ready_for_cleanup"], 1, "{v}");
        assert_eq!(v["counts"]["permanent"], 1, "{v}");
        assert_eq!(v["counts"]["stale"], 0, "{v}");
        let f = v["flags"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["key"] == "legacy-billing-killswitch"));
        assert_eq!(
            f.map(|f| f["lifecycle_stage"].clone()),
            Some(json!("permanent"))
        );
    }

    #[test]
    fn a_planted_stale_flag_is_counted_and_its_text_is_inert() {
        let mut s = snap();
        let mut f = (*s.flags[0]).clone();
        f.review_by = chrono::NaiveDate::from_ymd_opt(2026, 1, 1);
        f.cleanup = "remove \x1b[2J after v3".into();
        s.flags[0] = std::sync::Arc::new(f);
        assert_eq!(count_in(&s, &Rules::default(), &[Stage::Stale]), 1);
        let text = to_text(&s, &Rules::default());
        assert!(text.contains("past its review date 2026-01-01"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
    }

    #[test]
    fn the_flag_stores_stage_is_shown_beside_flagtops() {
        let mut s = snap();
        s.flag_store = "unleash".into();
        let i = s
            .flags
            .iter()
            .position(|f| f.key.as_str() == "search-ranking-v3")
            .unwrap_or_default();
        let mut f = (*s.flags[i]).clone();
        f.store_stage = Some(crate::domain::StoreStage::Completed);
        s.flags[i] = std::sync::Arc::new(f);
        let text = to_text(&s, &Rules::default());
        let line = text
            .lines()
            .find(|l| l.starts_with("search-ranking-v3"))
            .unwrap_or_default();
        assert!(
            line.contains("ready for cleanup")
                && line.contains("unleash: completed (ready for cleanup)"),
            "{line}"
        );
        let v = to_json(&s, &Rules::default());
        let f = v["flags"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["key"] == "search-ranking-v3"));
        assert_eq!(
            f.map(|f| f["store_stage"].clone()),
            Some(json!("completed"))
        );
        let f = v["flags"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["key"] == "checkout-v2"));
        assert_eq!(f.map(|f| f["store_stage"].clone()), Some(Value::Null));
    }
}
