//! Which hook events an audit event is (`domain::webhook` defines hooks and their events).
//! Pure: no I/O.

use super::audit::{AuditEvent, AuditKind};
use super::webhook::HookEvent;
use super::{Action, ActorKind};

/// The hook events an audit event is (most are none or one; pausing on a breach is both
/// `breach` and `ladder_paused`). `request_outdated` is not here: it follows from a change to a
/// flag with a pending request, which the commit pipeline sees.
pub fn events_of(e: &AuditEvent) -> Vec<HookEvent> {
    let mut out = Vec::new();
    match e.kind {
        AuditKind::Requested => out.push(HookEvent::RequestCreated),
        AuditKind::Approved => {
            out.push(HookEvent::RequestApproved);
            action_events(e, &mut out);
        }
        AuditKind::Rejected => out.push(HookEvent::RequestRejected),
        AuditKind::Expired => out.push(HookEvent::RequestExpired),
        AuditKind::Evidence => out.push(match evidence_recovered(e) {
            true => HookEvent::EvidenceRecovered,
            false => HookEvent::EvidenceNotRecovered,
        }),
        AuditKind::Applied => {
            let breached = e
                .evidence
                .iter()
                .any(|x| x.status.as_deref() == Some("breached"));
            let safeguard = e.actor.kind == ActorKind::Engine
                && breached
                && matches!(
                    e.action,
                    Some(Action::Pause { .. }) | Some(Action::Rollback { .. })
                );
            if safeguard {
                out.push(HookEvent::Breach);
            }
            action_events(e, &mut out);
        }
        _ => {}
    }
    out
}

/// What an applied action is to a hook: a pause, a kill, a freeze, a ladder step.
fn action_events(e: &AuditEvent, out: &mut Vec<HookEvent>) {
    match &e.action {
        Some(Action::Pause { .. }) => out.push(HookEvent::LadderPaused),
        Some(Action::Kill { .. }) => out.push(HookEvent::Kill),
        Some(Action::Freeze { .. }) => out.push(HookEvent::Freeze),
        Some(Action::Advance { .. }) => {
            let completed = e
                .after
                .as_ref()
                .and_then(|a| a.get("state"))
                .and_then(|s| s.as_str())
                == Some("completed");
            out.push(match completed {
                true => HookEvent::LadderCompleted,
                false => HookEvent::LadderAdvanced,
            });
        }
        _ => {}
    }
}

/// Evidence says "recovered" when no guardrail it reports is still breached.
fn evidence_recovered(e: &AuditEvent) -> bool {
    !e.evidence
        .iter()
        .any(|x| x.status.as_deref() == Some("breached"))
}

#[cfg(test)]
mod tests;
