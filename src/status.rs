//! The one-shot status view for scripts and runbooks (`flagtop status`, see `cli::status`): a
//! snapshot as text or JSON. The JSON shape is a contract (PRODUCT.md): fields may be added, never
//! removed. Pure rendering; it must not connect or print.

pub mod lifecycle;
/// The incident record lives in `wire::timeline` (the TUI shows it too); re-exported here.
pub use crate::wire::timeline;

use crate::domain::{ApprovalState, GuardrailStatus};
use crate::sanitize::clean;
use crate::wire::Snapshot;
use serde_json::{Value, json};

pub fn to_json(s: &Snapshot) -> Value {
    let flags: Vec<Value> = s
        .flags
        .iter()
        .map(|f| {
            let envs: serde_json::Map<String, Value> = f
                .environments
                .iter()
                .map(|(env, fe)| {
                    let ladder = fe.ladder.as_ref().map(|l| {
                        json!({
                            "stages": l.stages.iter().map(|st| json!({"name": st.name, "targets": st.targets, "min_dwell_secs": st.min_dwell_secs})).collect::<Vec<_>>(),
                            "current": l.current,
                            "current_stage": l.current_stage().map(|st| st.name.clone()),
                            "state": l.effective_state(s.frozen.contains(env)).as_str(),
                            "entered_at": l.entered_at,
                            "pause_note": l.pause_note,
                            "policy": l.policy,
                        })
                    });
                    let guardrails: Vec<Value> = s
                        .guardrails
                        .iter()
                        .filter(|r| r.flag == f.key && &r.env == env)
                        .map(|r| {
                            json!({
                                "metric": r.metric, "cohort": r.cohort, "value": r.value, "baseline": r.baseline,
                                "threshold": r.threshold, "rule": r.rule, "status": r.status.as_str(),
                                "samples": r.samples, "min_samples": r.min_samples, "window_secs": r.window_secs,
                                "source_error": r.source_error,
                            })
                        })
                        .collect();
                    let v = json!({
                        "enabled": fe.enabled,
                        "state": if fe.enabled { "on" } else if fe.killed() { "killed" } else { "off" },
                        "fallthrough": fe.fallthrough,
                        "cohorts": fe.cohorts.iter().map(|c| json!({
                            "name": c.name, "percent": c.percent, "effective_percent": c.effective_percent(),
                            "rolled_back": c.rolled_back, "variation": c.variation, "selector": c.selector,
                        })).collect::<Vec<_>>(),
                        "ladder": ladder,
                        "guardrails": guardrails,
                    });
                    (env.to_string(), v)
                })
                .collect();
            let mut v = json!({
                "key": f.key, "kind": f.kind, "owner": f.owner, "description": f.description,
                "lifecycle": f.lifecycle, "variations": f.variations, "revision": f.revision,
                "environments": envs,
            });
            // The computed stage at the control plane's clock, under its rules.
            let row = lifecycle::Row {
                flag: f,
                assessment: crate::domain::lifecycle::assess(f, &s.lifecycle_rules, s.server_time),
            };
            if let Value::Object(m) = &mut v {
                m.extend(lifecycle::fields(&row));
            }
            v
        })
        .collect();
    json!({
        "revision": s.revision,
        "server_time": s.server_time,
        "flag_store": s.flag_store,
        "simulated": s.simulated,
        "warnings": s.warnings,
        "unsettled_writes": s.unsettled,
        "webhooks": s.webhooks,
        "flag_store_sync": sync_state(s),
        "lifecycle_rules": s.lifecycle_rules,
        "environments": s.environments.iter().map(|e| json!({"key": e.key, "protected": e.protected, "frozen": s.frozen.contains(&e.key)})).collect::<Vec<_>>(),
        "flags": flags,
        "exposure": s.exposure,
        "approvals": s.approvals.iter().map(|a| json!({
            "id": a.id, "state": a.state.as_str(), "action": a.action, "reverse": a.reverse,
            "requested_by": a.requested_by.name, "requester_kind": a.requested_by.kind(),
            "reason": a.reason, "evidence": a.evidence, "evidence_gap": a.evidence_gap,
            "created_at": a.created_at, "expires_at": a.expires_at,
        })).collect::<Vec<_>>(),
    })
}

/// One line per webhook: failing (with its last attempt and what went wrong) or ok.
fn webhook_line(h: &crate::wire::webhook::HookHealth) -> String {
    let counts = format!(
        "queued {}, delivered {}, dropped {}",
        h.queued, h.delivered, h.dropped
    );
    match (&h.last_attempt, h.failing) {
        (Some(a), true) => format!(
            "WARNING: webhook {} FAILING: attempt {} at {}: {} ({counts}); see `flagtop webhooks log --hook {}`\n",
            clean(&h.name, 100),
            a.attempt,
            a.at.to_rfc3339(),
            clean(a.error.as_deref().unwrap_or(""), 200),
            clean(&h.name, 100)
        ),
        (Some(a), false) => format!(
            "webhook {} ok: last delivered {} ({counts})\n",
            clean(&h.name, 100),
            a.at.to_rfc3339()
        ),
        (None, _) => format!(
            "webhook {}: no attempt yet ({counts})\n",
            clean(&h.name, 100)
        ),
    }
}

pub fn to_text(s: &Snapshot, only_env: Option<&str>) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "revision {}  ·  flag store {}\n",
        s.revision,
        clean(&s.flag_store, 20)
    ));
    if s.simulated {
        out.push_str("simulated traffic: the control plane's simulator makes up the readings\n");
    }
    if s.flag_store != "embedded" {
        match (&s.flag_store_error, s.flag_store_synced_at) {
            (Some(e), at) => out.push_str(&format!(
                "WARNING: flag store sync FAILING: {} (last synced {}); what is shown may be stale\n",
                clean(e, 300),
                at.map_or("never".to_string(), |t| t.to_rfc3339())
            )),
            (None, Some(at)) => out.push_str(&format!("flag store in sync (last confirmed {})\n", at.to_rfc3339())),
            (None, None) => out.push_str("flag store: not synced yet\n"),
        }
    }
    for w in &s.warnings {
        out.push_str(&format!("WARNING: {}\n", clean(w, 300)));
    }
    if s.unsettled > 0 {
        out.push_str(&format!("WARNING: {} write(s) to the flag store with an outcome not known yet; flagtop is reading them back\n", s.unsettled));
    }
    for h in &s.webhooks {
        out.push_str(&webhook_line(h));
    }
    for env in &s.environments {
        if only_env.is_some_and(|e| e != env.key.as_str()) {
            continue;
        }
        let frozen = if s.frozen.contains(&env.key) {
            "  FROZEN"
        } else {
            ""
        };
        let protected = if env.protected { " (protected)" } else { "" };
        out.push_str(&format!(
            "\n== {}{protected}{frozen}\n",
            clean(&env.key, 40)
        ));
        for f in &s.flags {
            let Some(fe) = f.env(&env.key) else { continue };
            let cohorts: Vec<String> = fe
                .cohorts
                .iter()
                .map(|c| {
                    if c.rolled_back {
                        format!("{} {}% ROLLED BACK", clean(&c.name, 30), c.percent)
                    } else {
                        format!("{} {}%", clean(&c.name, 30), c.percent)
                    }
                })
                .collect();
            let ladder = fe.ladder.as_ref().map_or_else(String::new, |l| {
                format!(
                    "  ladder {} [{}]",
                    clean(l.current_stage().map_or("?", |st| st.name.as_str()), 30),
                    l.effective_state(s.frozen.contains(&env.key)).as_str()
                )
            });
            let worst = crate::control::metrics::worst(
                s.guardrails
                    .iter()
                    .filter(|r| r.flag == f.key && r.env == env.key),
            );
            let guard = worst.map_or_else(String::new, |w| {
                format!("  guardrails {}", w.as_str().to_uppercase())
            });
            out.push_str(&format!(
                "{:<28} {:<4} {}{ladder}{guard}\n",
                clean(&f.key, 28),
                if fe.enabled {
                    "on"
                } else if fe.killed() {
                    "KILLED"
                } else {
                    "off"
                },
                cohorts.join(" · ")
            ));
            if let Some(line) = served_line(s, f.key.as_str(), env.key.as_str(), fe) {
                out.push_str(&line);
            }
            for r in s.guardrails.iter().filter(|r| {
                r.flag == f.key && r.env == env.key && r.status != GuardrailStatus::Healthy
            }) {
                out.push_str(&format!(
                    "    {:<12} {:<22} {:<14} value {} baseline {} limit {} ({} samples)\n",
                    r.status.as_str(),
                    clean(&r.metric, 22),
                    clean(&r.cohort, 14),
                    num(r.value),
                    num(r.baseline),
                    num(r.threshold),
                    r.samples
                ));
            }
        }
    }
    let pending: Vec<_> = s
        .approvals
        .iter()
        .filter(|a| a.state == ApprovalState::Pending)
        .collect();
    out.push_str(&format!("\n== approvals: {} pending\n", pending.len()));
    for a in pending {
        out.push_str(&format!(
            "{}  {}  by {} ({})  reverse: {}\n",
            clean(&a.id, 40),
            clean(&a.action.describe(), 100),
            clean(&a.requested_by.name, 40),
            a.requested_by.kind(),
            clean(&a.reverse.describe(), 100)
        ));
    }
    out
}

use crate::domain::guardrail::fmt_value as num;

/// The external flag store's sync state: `ok`, `failing` (with the error) or `never`.
fn sync_state(s: &Snapshot) -> Value {
    let state = match (
        &s.flag_store_error,
        s.flag_store_synced_at,
        s.flag_store.as_str(),
    ) {
        (_, _, "embedded") => "embedded",
        (Some(_), _, _) => "failing",
        (None, Some(_), _) => "ok",
        (None, None, _) => "never",
    };
    json!({"state": state, "synced_at": s.flag_store_synced_at, "error": s.flag_store_error})
}

/// What applications were served (OFREP exposure), one line per flag and environment:
/// `served  eu-west 812/3267 candidate (0/min)` per cohort that was evaluated.
fn served_line(s: &Snapshot, flag: &str, env: &str, fe: &crate::domain::FlagEnv) -> Option<String> {
    let parts: Vec<String> = fe
        .cohorts
        .iter()
        .filter_map(|c| {
            let rows: Vec<_> = s
                .exposure
                .iter()
                .filter(|e| {
                    e.flag.as_str() == flag
                        && e.env.as_str() == env
                        && e.cohort.as_ref() == Some(&c.name)
                })
                .collect();
            if rows.is_empty() {
                return None;
            }
            let all: u64 = rows.iter().map(|e| e.total).sum();
            let cand: u64 = rows.iter().filter(|e| e.exposed).map(|e| e.total).sum();
            let per_min: u64 = rows
                .iter()
                .filter(|e| e.exposed)
                .map(|e| e.last_window)
                .sum();
            Some(format!(
                "{} {cand}/{all} candidate ({per_min}/min)",
                clean(&c.name, 30)
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("    served  {}\n", parts.join(" · ")))
}
