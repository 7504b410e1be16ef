//! Webhook payloads: the documented fields, commands to act, and hostile text made inert
//! (control characters dropped; Slack's `&`, `<`, `>` escaped).

use super::*;
use crate::domain::{Action, Actor, ActorKind, AuditId, AuditKind, Revision, Role};

fn requested(reason: &str) -> AuditEvent {
    AuditEvent {
        id: AuditId(42),
        at: crate::testkit::t0(),
        kind: AuditKind::Requested,
        actor: Actor {
            name: crate::domain::ENGINE_ACTOR.into(),
            role: Role::Operator,
            kind: ActorKind::Engine,
        },
        source: "engine".into(),
        reason: reason.into(),
        flag: Some("checkout-v2".into()),
        action: Some(Action::Rollback {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: "eu-west".into(),
        }),
        reverse: Some(Action::Restore {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: "eu-west".into(),
        }),
        before: None,
        after: None,
        approval: Some("req-1".into()),
        evidence: vec![],
        revision: Revision(9),
        follows: None,
        request_id: None,
    }
}

#[test]
fn a_request_payload_names_what_who_and_how_to_act() {
    let p = payload(
        "e-42-request_created",
        HookEvent::RequestCreated,
        &requested("why"),
    );
    assert_eq!(p["id"], "e-42-request_created");
    assert_eq!(p["event"], "request_created");
    assert_eq!(p["flag"], "checkout-v2");
    assert_eq!(p["environment"], "production");
    assert_eq!(p["cohort"], "eu-west");
    assert_eq!(p["who"]["kind"], "engine");
    assert_eq!(p["change"]["reverse"]["type"], "restore");
    let cmds: Vec<&str> = p["commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        cmds.contains(&"flagtop approvals approve req-1 --reason '…'"),
        "{cmds:?}"
    );
    assert!(
        cmds.contains(&"flagtop audit --flag checkout-v2"),
        "{cmds:?}"
    );
}

#[test]
fn hostile_text_is_inert_in_json_and_escaped_for_slack() {
    let p = payload(
        "x",
        HookEvent::RequestCreated,
        &requested("<!channel> & \x1b]0;pwn\x07 <https://evil|click>"),
    );
    let reason = p["reason"].as_str().unwrap_or("");
    assert!(
        !reason.contains('\x1b') && !reason.contains('\x07'),
        "{reason:?}"
    );
    let slack = body(HookFormat::Slack, &p);
    let v: serde_json::Value = serde_json::from_str(&slack).unwrap();
    let text = v["text"].as_str().unwrap();
    assert!(text.contains("&lt;!channel&gt; &amp;"), "{text}");
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
    assert!(
        text.starts_with("*flagtop: request_created* · flag `checkout-v2`"),
        "{text}"
    );
    assert_eq!(body(HookFormat::Json, &p), p.to_string());
}
