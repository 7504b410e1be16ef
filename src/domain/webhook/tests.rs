//! What a hook wants, and how its URL may be shown.

use super::*;

#[test]
fn a_hook_wants_only_its_events_environments_and_flags() {
    let mut h = Webhook {
        name: "ops".into(),
        url: "https://hooks.example.com/x".into(),
        events: vec![HookEvent::Breach],
        environments: vec![],
        flags: vec![],
        secret_env: None,
        format: HookFormat::Json,
    };
    let (f, e) = (FlagKey::from("checkout"), EnvKey::from("production"));
    assert!(h.wants(HookEvent::Breach, Some(&f), Some(&e)));
    assert!(!h.wants(HookEvent::Kill, Some(&f), Some(&e)));
    h.environments = vec!["staging".into()];
    assert!(!h.wants(HookEvent::Breach, Some(&f), Some(&e)));
    h.environments = vec![e.clone()];
    h.flags = vec!["search".into()];
    assert!(!h.wants(HookEvent::Breach, Some(&f), Some(&e)));
    assert!(!h.wants(HookEvent::Breach, None, Some(&e)));
}

#[test]
fn a_shown_url_keeps_scheme_and_host_only() {
    assert_eq!(
        shown_url("https://hooks.slack.com/services/T0/B0/secret"),
        "https://hooks.slack.com/…"
    );
    assert_eq!(shown_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    assert_eq!(shown_url("http://u:p@h.example/x?y"), "http://h.example/…");
}

#[test]
fn every_event_has_a_distinct_name_that_round_trips() {
    let names: std::collections::BTreeSet<&str> =
        HookEvent::ALL.iter().map(|e| e.as_str()).collect();
    assert_eq!(names.len(), HookEvent::ALL.len());
    for e in HookEvent::ALL {
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, format!("\"{}\"", e.as_str()));
    }
}
