//! Webhooks through the door: definitions (admin only, idempotent, audited without the URL's
//! path, durable), and the outbox the commit pipeline fills in the same transaction.

use super::*;

fn admin() -> Caller {
    person("root", Role::Admin)
}

fn slack(events: Vec<HookEvent>) -> Webhook {
    Webhook {
        name: "ops".into(),
        url: "https://hooks.slack.com/services/T0/B0/very-secret-path".into(),
        events,
        environments: vec![],
        flags: vec![],
        secret_env: None,
        format: HookFormat::Slack,
    }
}

#[test]
fn a_webhook_is_defined_by_an_admin_once_audited_without_its_url_path_and_kept() {
    let (dir, cp, clock) = plane("demo");
    let hook = slack(vec![HookEvent::RequestCreated, HookEvent::Breach]);
    let e = cp.define_webhook(&person("op", Role::Operator), hook.clone());
    assert_eq!(e.err().map(|e| e.kind), Some(ErrorKind::Forbidden));
    let o = cp
        .define_webhook(&admin(), hook.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.result, "created");
    let again = cp
        .define_webhook(&admin(), hook.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (again.result.as_str(), again.revision),
        ("unchanged", o.revision)
    );
    let audit = cp.audit(None, None, 5).unwrap_or_else(|e| panic!("{e}"));
    let text = serde_json::to_string(&audit[0]).unwrap_or_default();
    assert!(audit[0].reason.contains("webhook ops created"), "{text}");
    assert!(text.contains("https://hooks.slack.com/…"), "{text}");
    assert!(!text.contains("very-secret-path"), "{text}");
    let mut bad = hook.clone();
    bad.url = "https://user:pw@example.com/".into();
    let e = cp.define_webhook(&admin(), bad).err().map(|e| e.code);
    assert_eq!(e, Some("invalid_url"));
    drop(cp);
    let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cp = ControlPlane::open(store, clock, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cp.webhooks(), vec![hook]);
}
