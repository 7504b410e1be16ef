//! Webhooks on the wire: the payload a hook receives (built once, when the event is queued,
//! so every retry sends the same body), its Slack rendering, an outbox row, a delivery
//! attempt and a hook's health (`GET /v1/webhooks/log`, `status`). Serde types and pure
//! builders only; no I/O. Documented in `docs/webhooks.md`.

use crate::domain::action::shell_quote;
use crate::domain::{AuditEvent, HookEvent, HookFormat};
use crate::sanitize::clean;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A free-text field of a payload (a reason, a note), in characters.
pub const MAX_PAYLOAD_TEXT: usize = 500;
/// An error or answer kept in the delivery log, in characters.
pub const MAX_ATTEMPT_TEXT: usize = 200;

/// One queued delivery: an event for one hook, durable from the commit that caused it until
/// it is delivered (or dropped by the per-hook cap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxRow {
    /// The event's id: the idempotency id receivers deduplicate by (stable across retries
    /// and restarts; the same for every hook told about the event).
    pub id: String,
    pub hook: String,
    pub event: HookEvent,
    /// The audit id of the change: the order a hook's deliveries go out in.
    pub seq: u64,
    pub queued_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    #[serde(default)]
    pub attempts: u32,
    /// Not before this time (the backoff after a failed attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<DateTime<Utc>>,
}

impl OutboxRow {
    /// The store key: a hook's rows sort by the change that caused them.
    pub fn key(&self) -> String {
        format!(
            "{}\u{1}{:020}\u{1}{}",
            self.hook,
            self.seq,
            self.event.as_str()
        )
    }
}

/// One attempt to deliver, as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub hook: String,
    pub id: String,
    pub event: HookEvent,
    pub attempt: u32,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong (connection refused, timeout, a non-2xx answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `delivered`, `retrying` (with the next try), or `dropped` (the hook's queue was full or
    /// the hook is gone).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<DateTime<Utc>>,
}

/// A hook's health: what is queued, dropped, and how the last attempt went.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HookHealth {
    pub name: String,
    #[serde(default)]
    pub queued: u64,
    /// Deliveries dropped because the hook's queue was full (oldest first).
    #[serde(default)]
    pub dropped: u64,
    #[serde(default)]
    pub delivered: u64,
    /// The last attempt failed.
    #[serde(default)]
    pub failing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<Delivery>,
}

/// `GET /v1/webhooks/log`: attempts, newest first, and every hook's health.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeliveryLog {
    pub deliveries: Vec<Delivery>,
    pub hooks: Vec<HookHealth>,
}

/// The JSON a hook receives for `event`, made from the audit event that caused it.
pub fn payload(id: &str, event: HookEvent, a: &AuditEvent) -> serde_json::Value {
    let env = a.action.as_ref().map(|x| x.env().to_string());
    let cohort = a
        .action
        .as_ref()
        .and_then(|x| x.cohort())
        .map(|c| c.to_string());
    let reason = clean(&a.reason, MAX_PAYLOAD_TEXT);
    let mut commands = Vec::new();
    if let Some(id) = &a.approval {
        let id = clean(id, 100);
        if event == HookEvent::RequestCreated {
            commands.push(format!(
                "flagtop approvals approve {id} --reason {}",
                shell_quote("…")
            ));
            commands.push(format!(
                "flagtop approvals reject {id} --reason {}",
                shell_quote("…")
            ));
        }
    }
    if let Some(r) = &a.reverse
        && matches!(
            a.kind,
            crate::domain::AuditKind::Applied | crate::domain::AuditKind::Approved
        )
    {
        commands.push(clean(&r.command_line("undo"), MAX_PAYLOAD_TEXT));
    }
    if let Some(f) = &a.flag {
        commands.push(format!("flagtop audit --flag {}", clean(f, 100)));
    }
    serde_json::json!({
        "id": id,
        "event": event.as_str(),
        "time": a.at,
        "audit_id": a.id,
        "revision": a.revision,
        "flag": a.flag.as_ref().map(|f| clean(f, 100)),
        "environment": env.map(|e| clean(&e, 100)),
        "cohort": cohort.map(|c| clean(&c, 100)),
        "summary": a.action.as_ref().map(|x| clean(&x.describe(), MAX_PAYLOAD_TEXT)),
        "reason": reason,
        "who": { "name": clean(&a.actor.name, 100), "kind": a.actor.kind, "role": a.actor.role },
        "change": {
            "action": a.action,
            "reverse": a.reverse,
            "before": a.before,
            "after": a.after,
        },
        "approval": a.approval.as_ref().map(|x| clean(x, 100)),
        "evidence": a.evidence,
        "commands": commands,
    })
}

/// The body a hook is sent, in its format.
pub fn body(format: HookFormat, payload: &serde_json::Value) -> String {
    match format {
        HookFormat::Json => payload.to_string(),
        HookFormat::Slack => serde_json::json!({ "text": slack_text(payload) }).to_string(),
    }
}

/// One or a few lines for Slack or Teams, every piece of text escaped as Slack requires
/// (`&`, `<`, `>`), so that a flag name or a reason cannot make a link or a mention.
pub fn slack_text(p: &serde_json::Value) -> String {
    let s = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let mut head = format!("*flagtop: {}*", slack_escape(s("event")));
    for (label, k) in [
        ("flag", "flag"),
        ("env", "environment"),
        ("cohort", "cohort"),
    ] {
        if !s(k).is_empty() {
            head.push_str(&format!(" · {label} `{}`", slack_escape(s(k))));
        }
    }
    let who = p
        .pointer("/who/name")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let mut lines = vec![head];
    if !s("summary").is_empty() {
        lines.push(slack_escape(s("summary")));
    }
    lines.push(format!(
        "{} — {}",
        slack_escape(who),
        slack_escape(s("reason"))
    ));
    if let Some(cmds) = p.get("commands").and_then(|v| v.as_array()) {
        for c in cmds.iter().filter_map(|c| c.as_str()) {
            lines.push(format!("`{}`", slack_escape(c).replace('`', "'")));
        }
    }
    lines.join("\n")
}

/// Slack's escaping of message text.
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests;
