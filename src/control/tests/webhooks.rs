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

fn queued(cp: &ControlPlane, hook: &str) -> Vec<crate::wire::webhook::OutboxRow> {
    let store = cp.with_inner(|i| i.store.clone());
    let mut out = Vec::new();
    // Walk the queue by recording each head as delivered (a copy of the store is not needed:
    // the test owns it).
    while let (Some(row), _) = store.outbox_head(hook).unwrap_or_else(|e| panic!("{e}")) {
        let done = crate::wire::webhook::Delivery {
            hook: hook.into(),
            id: row.id.clone(),
            event: row.event,
            attempt: 1,
            at: t0(),
            status: Some(200),
            error: None,
            outcome: "delivered".into(),
            next_at: None,
        };
        store
            .outbox_attempt(&row, &done)
            .unwrap_or_else(|e| panic!("{e}"));
        out.push(row);
    }
    out
}

#[test]
fn a_demo_breach_queues_breach_and_request_created_in_the_commit_that_made_them() {
    let (_d, cp, clock) = plane("demo");
    let hook = slack(vec![HookEvent::RequestCreated, HookEvent::Breach]);
    cp.define_webhook(&admin(), hook)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut engine = Engine::default();
    let mut sim = Simulator::new("demo", t0());
    for _ in 1..=40 {
        clock.advance(1);
        let report = engine
            .tick(&cp, Some(&mut sim))
            .unwrap_or_else(|e| panic!("{e}"));
        if !report.paused.is_empty() {
            break;
        }
    }
    let rows = queued(&cp, "ops");
    let events: Vec<HookEvent> = rows.iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        vec![HookEvent::Breach, HookEvent::RequestCreated],
        "{rows:?}"
    );
    let audit = cp.audit(None, None, 10).unwrap_or_else(|e| panic!("{e}"));
    for r in &rows {
        assert!(audit.iter().any(|a| a.id.0 == r.seq), "{r:?}");
        assert_eq!(r.payload["id"], r.id.as_str());
        assert_eq!(r.payload["flag"], "checkout-v2");
        assert_eq!(
            r.payload["cohort"].is_string(),
            r.event == HookEvent::RequestCreated
        );
    }
    let store = cp.with_inner(|i| i.store.clone());
    let log = store
        .deliveries(Some("ops"), 10)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(log.len(), 2);
    let health = store.hook_health().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((health[0].delivered, health[0].failing), (2, false));
}

#[test]
fn a_failed_commit_queues_nothing_and_the_queue_is_capped_oldest_dropped() {
    let (_d, cp, _clock) = plane("demo");
    cp.define_webhook(&admin(), slack(vec![HookEvent::Freeze]))
        .unwrap_or_else(|e| panic!("{e}"));
    let store = cp.with_inner(|i| i.store.clone());
    let freeze = |on: bool| {
        let action = match on {
            true => Action::Freeze {
                env: "staging".into(),
            },
            false => Action::Unfreeze {
                env: "staging".into(),
            },
        };
        cp.submit(&admin(), &req(action), None)
    };
    store.fail_next_commit();
    assert!(freeze(true).is_err());
    assert_eq!(store.outbox_head("ops").map(|h| h.1).ok(), Some(0));
    let cap = crate::control::store::MAX_QUEUED_PER_HOOK;
    let mut freezes = Vec::new();
    for _ in 0..=cap {
        let o = freeze(true).unwrap_or_else(|e| panic!("{e}"));
        freezes.push(o.audit_id.map(|a| a.0).unwrap_or_default());
        freeze(false).unwrap_or_else(|e| panic!("{e}"));
    }
    let (head, n) = store.outbox_head("ops").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, cap);
    let health = store.hook_health().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(health[0].dropped, 1);
    // The oldest went: the head is the second freeze.
    assert_eq!(head.map(|h| h.seq), Some(freezes[1]));
}

#[test]
fn a_change_to_a_flag_with_a_pending_request_queues_request_outdated_once() {
    let (_d, cp, _clock) = plane("demo");
    cp.define_webhook(&admin(), slack(vec![HookEvent::RequestOutdated]))
        .unwrap_or_else(|e| panic!("{e}"));
    let pending = cp
        .approvals()
        .into_iter()
        .find(|a| a.state == ApprovalState::Pending)
        .unwrap_or_else(|| panic!("the demo seeds a pending request"));
    let key = pending
        .action
        .flag()
        .cloned()
        .unwrap_or_else(|| panic!("on a flag"));
    let define = |text: &str| {
        let mut f = (*cp.state().flags[&key]).clone();
        f.description = text.into();
        cp.define_flag(&admin(), f)
            .unwrap_or_else(|e| panic!("{e}"));
    };
    define("changed once");
    define("changed twice");
    let rows = queued(&cp, "ops");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].event, HookEvent::RequestOutdated);
    assert_eq!(rows[0].payload["approval"], pending.id.as_str());
    assert!(
        rows[0]
            .id
            .ends_with(&format!("request_outdated-{}", pending.id)),
        "{}",
        rows[0].id
    );
}

#[test]
fn removing_a_webhook_drops_what_is_queued_for_it_in_the_same_commit() {
    let (dir, cp, clock) = plane("demo");
    cp.define_webhook(&admin(), slack(vec![HookEvent::Freeze]))
        .unwrap_or_else(|e| panic!("{e}"));
    let freeze = Action::Freeze {
        env: "staging".into(),
    };
    cp.submit(&admin(), &req(freeze), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let store = cp.with_inner(|i| i.store.clone());
    assert_eq!(store.outbox_head("ops").map(|h| h.1).ok(), Some(1));
    let e = cp.remove_webhook(&person("op", Role::Operator), "ops");
    assert_eq!(e.err().map(|e| e.kind), Some(ErrorKind::Forbidden));
    let o = cp
        .remove_webhook(&admin(), "ops")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.result, "removed");
    assert_eq!(store.outbox_head("ops").map(|h| h.1).ok(), Some(0));
    assert!(cp.webhooks().is_empty());
    let audit = cp.audit(None, None, 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(audit[0].reason, "webhook ops removed");
    let e = cp.remove_webhook(&admin(), "ops").err().map(|e| e.code);
    assert_eq!(e, Some("unknown_webhook"));
    drop((cp, store));
    let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let cp = ControlPlane::open(store, clock, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(cp.webhooks().is_empty());
}
