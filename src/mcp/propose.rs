//! The one tool that can lead to a change: `propose` drafts an operation with its reverse and
//! evidence and sends it through `POST /v1/proposals`, where the control plane validates it as
//! it validates every proposal. It never applies, approves or retries blindly.

use super::args::ProposeArgs;
use super::limits::{MAX_EVIDENCE, MAX_PROPOSAL_TEXT};
use super::view;
use crate::client::{Client, ClientError};
use crate::domain::{Action, Evidence};
use crate::wire::ProposalRequest;
use serde_json::{Map, Value, json};

/// Why a proposal was not recorded: a stable code and a sentence for the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

fn refuse(code: &str, message: impl Into<String>) -> Refusal {
    Refusal {
        code: code.to_string(),
        message: message.into(),
    }
}

fn text(field: &str, s: &str) -> Result<(), Refusal> {
    let n = s.chars().count();
    if n > MAX_PROPOSAL_TEXT {
        return Err(refuse(
            "too_long",
            format!("`{field}` has {n} characters; at most {MAX_PROPOSAL_TEXT}"),
        ));
    }
    Ok(())
}

fn action(field: &str, m: Map<String, Value>) -> Result<Action, Refusal> {
    serde_json::from_value(Value::Object(m)).map_err(|e| {
        refuse(
            "invalid_action",
            format!("`{field}` is not a flagtop action: {e}"),
        )
    })
}

fn from_client(e: ClientError) -> Refusal {
    match e {
        ClientError::Api { code, message, .. } => Refusal { code, message },
        e @ (ClientError::Timeout { .. } | ClientError::Interrupted { .. }) => refuse(
            e.code(),
            format!(
                "{e}. The proposal may or may not have been recorded: look at `pending_approvals` before proposing again (a repeat of a pending proposal is merged, not stacked)"
            ),
        ),
        e => refuse(e.code(), format!("{e}. Nothing was recorded")),
    }
}

/// Check the draft, send it, and say what happened and who must decide.
pub async fn propose(client: &Client, args: ProposeArgs) -> Result<Value, Refusal> {
    if args.reason.trim().is_empty() {
        return Err(refuse(
            "reason_required",
            "every proposal needs a `reason`: say why in a few words",
        ));
    }
    text("reason", &args.reason)?;
    text("evidence_gap", args.evidence_gap.as_deref().unwrap_or(""))?;
    text(
        "affected_scope",
        args.affected_scope.as_deref().unwrap_or(""),
    )?;
    if args.evidence.len() > MAX_EVIDENCE {
        return Err(refuse(
            "too_much_evidence",
            format!(
                "at most {MAX_EVIDENCE} evidence items, got {}",
                args.evidence.len()
            ),
        ));
    }
    let act = action("action", args.action)?;
    let reverse = action("reverse", args.reverse)?;
    let evidence = args
        .evidence
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::from_value::<Evidence>(Value::Object(m)).map_err(|e| {
                refuse(
                    "invalid_evidence",
                    format!("evidence[{i}] is not a guardrail fact: {e}"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let snap = client.snapshot().await.map_err(from_client)?;
    let scope = scope(&snap, &act);
    let reason = match args
        .affected_scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => format!("{} (affected scope: {s})", args.reason.trim()),
        None => args.reason.trim().to_string(),
    };
    let gap = args
        .evidence_gap
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty());
    let req = ProposalRequest {
        action: act,
        reverse: Some(reverse),
        reason,
        evidence,
        evidence_gap: gap,
    };
    let outcome = client.propose(&req).await.map_err(from_client)?;
    // The request as recorded (it may have been merged into an identical pending one).
    let recorded = match &outcome.approval_id {
        Some(id) => client
            .approvals()
            .await
            .ok()
            .and_then(|l| l.approvals.into_iter().find(|a| &a.id == id)),
        None => None,
    };
    let merged = recorded
        .as_ref()
        .is_some_and(|a| a.requested_by.name != snap.identity.name || a.merged > 0);
    Ok(json!({
        "outcome": outcome.outcome,
        "approval_id": outcome.approval_id,
        "action": outcome.action,
        "reverse": outcome.reverse,
        "revision": outcome.revision,
        "affected_scope": scope,
        "merged_into_existing_request": merged,
        "request": recorded.as_ref().map(view::approval),
        "who_must_approve": recorded.as_ref().map_or_else(
            || format!("a person with the {} role (agents never approve)", view::approver_roles()),
            view::who_must_approve,
        ),
        "applied": false,
        "note": "Nothing has changed yet: the request waits for a person's decision. Do not propose it again; follow it with `pending_approvals`.",
    }))
}

/// What the action touches, as the control plane's state says now.
fn scope(snap: &crate::wire::Snapshot, act: &Action) -> Value {
    let env = snap.environments.iter().find(|e| &e.key == act.env());
    let fe = act
        .flag()
        .and_then(|k| snap.flags.iter().find(|f| &f.key == k))
        .and_then(|f| f.env(act.env()));
    let cohort = act.cohort().and_then(|c| fe.and_then(|fe| fe.cohort(c)));
    let state = crate::domain::State {
        environments: snap.environments.clone(),
        flags: snap
            .flags
            .iter()
            .map(|f| (f.key.clone(), f.clone()))
            .filter(|(k, _)| act.flag() == Some(k))
            .collect(),
        ..Default::default()
    };
    json!({
        "summary": act.describe(),
        "flag": act.flag(),
        "environment": act.env(),
        "protected_environment": env.map(|e| e.protected),
        "cohort": act.cohort(),
        "cohort_now": cohort.map(|c| json!({"percent": c.percent, "effective_percent": c.effective_percent(), "rolled_back": c.rolled_back})),
        "whole_flag": act.cohort().is_none() && act.flag().is_some(),
        "tier": act.tier(&state),
    })
}
