//! What the read tools show: bounded JSON views of a snapshot (flags in an environment, one
//! flag in detail, breaches with evidence, pending approvals). Pure: no I/O, no escaping (the
//! server escapes every result once, in `server`).

use super::limits::Page;
use crate::domain::{
    Action, ApprovalRequest, ApprovalState, Flag, FlagEnv, GuardrailStatus, Role, State,
};
use crate::wire::{GuardrailReading, Snapshot};
use serde_json::{Value, json};
use std::sync::Arc;

/// How many recent guardrail values a reading carries in a tool result.
pub const HISTORY_TAIL: usize = 10;

/// The roles that may approve, as the domain says (`Role::can_approve`).
pub fn approver_roles() -> String {
    let all = [
        Role::Viewer,
        Role::Operator,
        Role::Approver,
        Role::Agent,
        Role::Admin,
    ];
    let names: Vec<String> = all
        .into_iter()
        .filter(|r| r.can_approve())
        .map(|r| format!("`{}`", r.as_str()))
        .collect();
    names.join(" or ")
}

/// Who decides a request in flagtop: said in every approval and proposal result.
pub fn who_must_approve(a: &ApprovalRequest) -> String {
    format!(
        "one person with the {} role other than the requester `{}`, before {} (agents never approve; nobody approves their own request)",
        approver_roles(),
        a.requested_by.name,
        a.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

fn env_or_err<'a>(s: &'a Snapshot, env: &str) -> Result<&'a crate::domain::Environment, String> {
    s.environments
        .iter()
        .find(|e| e.key.as_str() == env)
        .ok_or_else(|| {
            let known: Vec<&str> = s.environments.iter().map(|e| e.key.as_str()).collect();
            format!("unknown environment `{env}`; known: {}", known.join(", "))
        })
}

fn readings<'a>(
    s: &'a Snapshot,
    flag: &'a str,
    env: &'a str,
) -> impl Iterator<Item = &'a GuardrailReading> + 'a {
    s.guardrails
        .iter()
        .filter(move |r| r.flag.as_str() == flag && r.env.as_str() == env)
}

fn worst(rs: &[&GuardrailReading]) -> Option<&'static str> {
    rs.iter()
        .map(|r| r.status)
        .max_by_key(|st| st.severity())
        .map(GuardrailStatus::as_str)
}

pub fn overview(s: &Snapshot) -> Value {
    let count = |st: GuardrailStatus| s.guardrails.iter().filter(|r| r.status == st).count();
    let envs: Vec<Value> = s
        .environments
        .iter()
        .map(|e| {
            json!({
                "key": e.key, "protected": e.protected, "frozen": s.frozen.contains(&e.key),
                "flags": s.flags.iter().filter(|f| f.env(&e.key).is_some()).count(),
            })
        })
        .collect();
    json!({
        "revision": s.revision,
        "server_time": s.server_time,
        "you": {"name": s.identity.name, "role": s.identity.role},
        "flag_store": s.flag_store,
        "flag_store_synced_at": s.flag_store_synced_at,
        "flag_store_error": s.flag_store_error,
        "environments": envs,
        "flags": s.flags.len(),
        "guardrails": {
            "breached": count(GuardrailStatus::Breached), "warning": count(GuardrailStatus::Warning),
            "insufficient": count(GuardrailStatus::Insufficient), "healthy": count(GuardrailStatus::Healthy),
        },
        "pending_approvals": s.approvals.iter().filter(|a| a.state == ApprovalState::Pending).count(),
    })
}

fn cohorts(fe: &FlagEnv) -> Vec<Value> {
    fe.cohorts
        .iter()
        .map(|c| {
            json!({
                "name": c.name, "percent": c.percent, "effective_percent": if fe.enabled { c.effective_percent() } else { 0 },
                "rolled_back": c.rolled_back, "variation": c.variation, "selector": c.selector,
            })
        })
        .collect()
}

/// Flags in one environment, one summary each.
pub fn flags_in_env(s: &Snapshot, env: &str, page: Page) -> Result<Value, String> {
    let e = env_or_err(s, env)?;
    let items: Vec<Value> = s
        .flags
        .iter()
        .filter_map(|f| f.env(env).map(|fe| (f, fe)))
        .map(|(f, fe)| {
            let rs: Vec<&GuardrailReading> = readings(s, &f.key, env).collect();
            json!({
                "key": f.key, "kind": f.kind, "lifecycle": f.lifecycle, "description": f.description, "owner": f.owner,
                "revision": f.revision, "enabled": fe.enabled, "fallthrough": fe.fallthrough, "cohorts": cohorts(fe),
                "ladder": fe.ladder.as_ref().map(|l| json!({
                    "current_stage": l.current_stage().map(|st| st.name.clone()),
                    "state": l.effective_state(s.frozen.contains(env)).as_str(), "pause_note": l.pause_note,
                })),
                "guardrails": {"worst": worst(&rs), "breached": rs.iter().filter(|r| r.status == GuardrailStatus::Breached).count()},
            })
        })
        .collect();
    let (items, next, total) = page.cut(items);
    Ok(json!({
        "revision": s.revision, "environment": {"key": e.key, "protected": e.protected, "frozen": s.frozen.contains(env)},
        "flags": items, "next_cursor": next, "total": total,
    }))
}

pub fn reading(r: &GuardrailReading) -> Value {
    let tail = r.history.len().saturating_sub(HISTORY_TAIL);
    json!({
        "metric": r.metric, "cohort": r.cohort, "value": r.value, "baseline": r.baseline, "threshold": r.threshold,
        "rule": r.rule, "status": r.status.as_str(),
        "sufficiency": {
            "sufficient": r.status != GuardrailStatus::Insufficient, "samples": r.samples,
            "baseline_samples": r.baseline_samples, "min_samples": r.min_samples, "window_secs": r.window_secs,
        },
        "cohort_value": r.cohort_value, "source_error": r.source_error, "recent_values": &r.history[tail..],
    })
}

fn flag_env(s: &Snapshot, f: &Flag, env: &str, fe: &FlagEnv) -> Value {
    let protected = s
        .environments
        .iter()
        .find(|e| e.key.as_str() == env)
        .is_some_and(|e| e.protected);
    let rs: Vec<&GuardrailReading> = readings(s, &f.key, env).collect();
    let exposure: Vec<Value> = fe
        .cohorts
        .iter()
        .map(|c| {
            let seen: Vec<&&GuardrailReading> = rs.iter().filter(|r| r.cohort == c.name).collect();
            json!({
                "cohort": c.name,
                "configured_percent": c.percent,
                "effective_percent": if fe.enabled { c.effective_percent() } else { 0 },
                "observed": seen.iter().map(|r| json!({
                    "metric": r.metric, "candidate_samples": r.samples, "baseline_samples": r.baseline_samples,
                    "window_secs": r.window_secs,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "protected": protected, "frozen": s.frozen.contains(env), "enabled": fe.enabled, "fallthrough": fe.fallthrough,
        "cohorts": cohorts(fe),
        "ladder": fe.ladder.as_ref().map(|l| json!({
            "stages": l.stages.iter().map(|st| json!({"name": st.name, "targets": st.targets, "min_dwell_secs": st.min_dwell_secs})).collect::<Vec<_>>(),
            "current": l.current, "current_stage": l.current_stage().map(|st| st.name.clone()),
            "state": l.effective_state(s.frozen.contains(env)).as_str(), "entered_at": l.entered_at,
            "pause_note": l.pause_note, "policy": l.policy,
        })),
        "guardrails": rs.iter().map(|r| reading(r)).collect::<Vec<_>>(),
        "exposure": exposure,
    })
}

/// One flag in detail, in one environment or all of them.
pub fn flag_detail(s: &Snapshot, key: &str, env: Option<&str>) -> Result<Value, String> {
    let f = s
        .flags
        .iter()
        .find(|f| f.key.as_str() == key)
        .ok_or_else(|| format!("unknown flag `{key}`; list them with `list_flags`"))?;
    if let Some(env) = env {
        env_or_err(s, env)?;
        if f.env(env).is_none() {
            return Err(format!("flag `{key}` is not configured in `{env}`"));
        }
    }
    let envs: serde_json::Map<String, Value> = f
        .environments
        .iter()
        .filter(|(k, _)| env.is_none_or(|e| k.as_str() == e))
        .map(|(k, fe)| (k.to_string(), flag_env(s, f, k, fe)))
        .collect();
    let pending: Vec<Value> = s
        .approvals
        .iter()
        .filter(|a| {
            a.state == ApprovalState::Pending && a.action.flag().is_some_and(|k| k.as_str() == key)
        })
        .map(|a| json!({"id": a.id, "action": a.action, "requested_by": a.requested_by.name}))
        .collect();
    Ok(json!({
        "revision": s.revision,
        "flag": {
            "key": f.key, "kind": f.kind, "description": f.description, "owner": f.owner, "lifecycle": f.lifecycle,
            "variations": f.variations, "revision": f.revision, "environments": envs,
        },
        "pending_approvals": pending,
    }))
}

/// The action's reverse as the domain computes it on this snapshot (None: it would not apply).
pub fn reverse_on(s: &Snapshot, action: &Action) -> Option<Action> {
    let flags = action
        .flag()
        .and_then(|k| s.flags.iter().find(|f| &f.key == k))
        .map(|f| (f.key.clone(), Arc::clone(f)))
        .into_iter()
        .collect();
    let mut scratch = State {
        revision: s.revision,
        environments: s.environments.clone(),
        frozen: s.frozen.clone(),
        env_revisions: Default::default(),
        flags,
        webhooks: Vec::new(),
    };
    action.apply(&mut scratch, s.server_time).ok()
}

/// Breached guardrails (and warnings when asked) with their evidence and the narrowed rollback
/// that would answer each.
pub fn breaches(
    s: &Snapshot,
    env: Option<&str>,
    include_warnings: bool,
    page: Page,
) -> Result<Value, String> {
    if let Some(env) = env {
        env_or_err(s, env)?;
    }
    let wanted = |st: GuardrailStatus| {
        st == GuardrailStatus::Breached || (include_warnings && st == GuardrailStatus::Warning)
    };
    let mut hits: Vec<&GuardrailReading> = s
        .guardrails
        .iter()
        .filter(|r| wanted(r.status) && env.is_none_or(|e| r.env.as_str() == e))
        .collect();
    hits.sort_by_key(|r| std::cmp::Reverse(r.status.severity()));
    let items: Vec<Value> = hits
        .into_iter()
        .map(|r| {
            let cohort = s.flags.iter().find(|f| f.key == r.flag).and_then(|f| f.env(&r.env)).and_then(|fe| fe.cohort(&r.cohort));
            let rollback = cohort.map(|c| Action::Rollback { flag: r.flag.clone(), env: r.env.clone(), cohort: c.name.clone() });
            let reverse = rollback.as_ref().and_then(|a| reverse_on(s, a));
            let pending = rollback
                .as_ref()
                .and_then(|a| s.approvals.iter().find(|p| p.state == ApprovalState::Pending && &p.action == a))
                .map(|p| json!({"id": p.id, "requested_by": p.requested_by.name}));
            json!({
                "flag": r.flag, "env": r.env, "reading": reading(r), "evidence": r.evidence(),
                "cohort_state": cohort.map(|c| json!({"percent": c.percent, "rolled_back": c.rolled_back})),
                "narrowed_rollback": match (&rollback, &reverse) {
                    (Some(a), Some(rev)) => json!({"action": a, "reverse": rev}),
                    _ => Value::Null,
                },
                "pending_request": pending,
            })
        })
        .collect();
    let (items, next, total) = page.cut(items);
    Ok(
        json!({"revision": s.revision, "server_time": s.server_time, "breaches": items, "next_cursor": next, "total": total}),
    )
}

pub fn approval(a: &ApprovalRequest) -> Value {
    json!({
        "id": a.id, "state": a.state.as_str(), "action": a.action, "reverse": a.reverse, "reason": a.reason,
        "evidence": a.evidence, "evidence_gap": a.evidence_gap,
        "requested_by": {"name": a.requested_by.name, "role": a.requested_by.role, "kind": a.requested_by.kind()},
        "created_at": a.created_at, "expires_at": a.expires_at, "revision": a.revision, "merged": a.merged,
        "decided_by": a.decided_by.as_ref().map(|d| d.name.clone()), "decision_reason": a.decision_reason,
        "who_must_approve": (a.state == ApprovalState::Pending).then(|| who_must_approve(a)),
    })
}

/// Approval requests, newest first: pending ones, or every recent one.
pub fn approvals(list: &[ApprovalRequest], include_decided: bool, page: Page) -> Value {
    let mut list: Vec<&ApprovalRequest> = list
        .iter()
        .filter(|a| include_decided || a.state == ApprovalState::Pending)
        .collect();
    list.sort_by_key(|a| std::cmp::Reverse(a.created_at));
    let (items, next, total) = page.cut(list.into_iter().map(approval).collect());
    json!({"approvals": items, "next_cursor": next, "total": total})
}
