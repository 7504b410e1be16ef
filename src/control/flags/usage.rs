//! Guardrail sample counts from Unleash's client metrics. SDKs report how often they evaluated
//! each flag (`yes` / `no`) per environment; Unleash keeps running totals per hour, application
//! and environment (`GET /api/admin/client-metrics/features/{name}/raw`, flushed about every 5 s).
//! flagtop turns successive reads into increments and files them at the time it saw them, so a
//! guardrail's window counts the evaluations that arrived within it (to within one poll plus
//! Unleash's flush). `yes` counts as the candidate arm, `no` as the baseline.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One running total: evaluations of a flag in one environment, by one application, in one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub env: String,
    pub app: String,
    /// The hour the total belongs to, as Unleash writes it (e.g. `2026-11-22T06:00:00.000Z`).
    pub hour: String,
    pub yes: u64,
    pub no: u64,
}

/// The totals in an answer of the `raw` endpoint (`{"data": [{environment, appName, timestamp,
/// yes, no}, …]}`); entries missing a field are skipped, never guessed.
pub fn parse(v: &Value) -> Vec<Usage> {
    v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some(Usage {
                env: d["environment"].as_str()?.to_string(),
                app: d["appName"].as_str().unwrap_or_default().to_string(),
                hour: d["timestamp"].as_str()?.to_string(),
                yes: d["yes"].as_u64()?,
                no: d["no"].as_u64()?,
            })
        })
        .collect()
}

type TotalKey = (String, String, String);

/// Running totals last seen per flag, turned into increments read by read.
#[derive(Debug, Default)]
pub struct Counter {
    totals: HashMap<String, HashMap<TotalKey, (u64, u64)>>,
}

impl Counter {
    /// Feed a fresh read of `flag`'s totals; returns the new evaluations per environment,
    /// `(yes, no)`, since the previous read. The first read of a flag only sets the starting
    /// point: evaluations from before flagtop looked cannot be placed in time. A total that
    /// appears later (a new hour, a new application) counts in full.
    pub fn delta(&mut self, flag: &str, read: Vec<Usage>) -> BTreeMap<String, (u64, u64)> {
        let first = !self.totals.contains_key(flag);
        let previous = self.totals.remove(flag).unwrap_or_default();
        let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut now = HashMap::with_capacity(read.len());
        for u in read {
            let key = (u.env.clone(), u.app, u.hour);
            if !first {
                let (py, pn) = previous.get(&key).copied().unwrap_or((0, 0));
                let (dy, dn) = (u.yes.saturating_sub(py), u.no.saturating_sub(pn));
                if dy > 0 || dn > 0 {
                    let e = out.entry(u.env).or_default();
                    e.0 += dy;
                    e.1 += dn;
                }
            }
            // Only the totals of this read are kept: an hour that left the window is forgotten.
            now.insert(key, (u.yes, u.no));
        }
        self.totals.insert(flag.to_string(), now);
        out
    }

    /// Forget flags no longer watched (their next read starts afresh).
    pub fn retain(&mut self, watched: &HashSet<String>) {
        self.totals.retain(|f, _| watched.contains(f));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn u(env: &str, app: &str, hour: &str, yes: u64, no: u64) -> Usage {
        Usage {
            env: env.into(),
            app: app.into(),
            hour: hour.into(),
            yes,
            no,
        }
    }

    #[test]
    fn parses_the_raw_endpoint_and_skips_incomplete_entries() {
        let v = json!({"version": 1, "data": [
            {"featureName": "f", "appName": "web", "environment": "production", "timestamp": "2026-11-22T06:00:00.000Z", "yes": 27, "no": 8, "variants": {}},
            {"featureName": "f", "appName": "web", "environment": "production", "timestamp": "2026-11-22T05:00:00.000Z", "yes": "x", "no": 1},
            {"featureName": "f", "environment": "development", "timestamp": "2026-11-22T06:00:00.000Z", "yes": 1, "no": 0}
        ]});
        assert_eq!(
            parse(&v),
            vec![
                u("production", "web", "2026-11-22T06:00:00.000Z", 27, 8),
                u("development", "", "2026-11-22T06:00:00.000Z", 1, 0)
            ]
        );
        assert!(parse(&json!({"error": "nope"})).is_empty());
    }

    #[test]
    fn increments_between_reads_per_environment() {
        let mut c = Counter::default();
        let h6 = "2026-11-22T06:00:00.000Z";
        // The first read is only the starting point.
        assert!(
            c.delta("f", vec![u("production", "web", h6, 100, 40)])
                .is_empty()
        );
        // Growth of one total, a second application, another environment.
        let d = c.delta(
            "f",
            vec![
                u("production", "web", h6, 130, 50),
                u("production", "api", h6, 5, 0),
                u("development", "web", h6, 2, 2),
            ],
        );
        assert_eq!(d.get("production"), Some(&(35, 10)));
        assert_eq!(d.get("development"), Some(&(2, 2)));
        // Nothing new → nothing; a total that went down (Unleash pruned it) adds nothing.
        assert!(
            c.delta(
                "f",
                vec![
                    u("production", "web", h6, 130, 50),
                    u("production", "api", h6, 5, 0),
                    u("development", "web", h6, 1, 2)
                ]
            )
            .is_empty()
        );
    }

    #[test]
    fn a_new_hour_counts_in_full_and_old_hours_are_forgotten() {
        let mut c = Counter::default();
        let (h6, h7) = ("2026-11-22T06:00:00.000Z", "2026-11-22T07:00:00.000Z");
        c.delta("f", vec![u("production", "web", h6, 10, 10)]);
        let d = c.delta(
            "f",
            vec![
                u("production", "web", h6, 12, 10),
                u("production", "web", h7, 3, 1),
            ],
        );
        assert_eq!(d.get("production"), Some(&(5, 1)));
        c.delta("f", vec![u("production", "web", h7, 3, 1)]);
        assert_eq!(c.totals.get("f").map(HashMap::len), Some(1));
        // A flag no longer watched starts afresh when it is watched again.
        c.retain(&HashSet::new());
        assert!(
            c.delta("f", vec![u("production", "web", h7, 9, 9)])
                .is_empty()
        );
    }
}
