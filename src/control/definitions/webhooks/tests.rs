//! Webhook definitions: URLs, filters and where the secret comes from.

use super::*;
use crate::domain::{Environment, HookEvent};

fn state() -> State {
    State {
        environments: vec![Environment {
            key: "production".into(),
            protected: true,
        }],
        ..Default::default()
    }
}

fn hook(url: &str) -> Webhook {
    Webhook {
        name: "ops".into(),
        url: url.into(),
        events: vec![HookEvent::Breach],
        environments: vec!["production".into()],
        flags: vec![],
        secret_env: Some("OPS_HOOK_SECRET".into()),
        format: HookFormat::Json,
    }
}

fn secret(var: &str) -> Option<String> {
    (var == "OPS_HOOK_SECRET").then(|| "0123456789abcdef0123".into())
}

fn code(h: &Webhook) -> String {
    check_webhook(h, &state(), &secret)
        .err()
        .map(|e| format!("{} {}", e.code, e.message))
        .unwrap_or_default()
}

#[test]
fn a_good_hook_passes() {
    assert_eq!(code(&hook("https://hooks.example.com/flagtop")), "");
    assert_eq!(code(&hook("http://127.0.0.1:9000/h")), "");
}

#[test]
fn urls_need_http_a_host_and_no_user() {
    for (url, why) in [
        ("ftp://example.com/x", "must start with http"),
        ("file:///etc/passwd", "must start with http"),
        ("https://user:pw@example.com/x", "must not carry a user"),
        ("https://user@example.com/x", "must not carry a user"),
        ("example.com/x", "is not a URL"),
        ("https://", "is not a URL"),
    ] {
        let c = code(&hook(url));
        assert!(c.starts_with("invalid_url"), "{url}: {c}");
        assert!(c.contains(why), "{url}: {c}");
    }
    let long = format!("https://example.com/{}", "x".repeat(MAX_URL));
    assert!(code(&hook(&long)).contains("longer than"));
}

#[test]
fn the_secret_comes_from_a_named_variable_that_is_set_and_long_enough() {
    let mut h = hook("https://example.com/x");
    h.secret_env = None;
    assert!(code(&h).contains("a json hook is signed"));
    h.format = HookFormat::Slack;
    assert_eq!(code(&h), "");
    h.secret_env = Some("s3cr3t-value".into());
    assert!(code(&h).contains("NAME of an environment variable"));
    h.secret_env = Some("NOT_SET".into());
    assert!(code(&h).contains("no environment variable NOT_SET"));
    let short = |_: &str| Some("short".to_string());
    h.secret_env = Some("OPS_HOOK_SECRET".into());
    let e = check_webhook(&h, &state(), &short).err().map(|e| e.message);
    assert!(e.is_some_and(|m| m.contains("shorter than 16") && !m.contains("short\"")));
}

#[test]
fn filters_name_what_exists_and_events_are_required() {
    let mut h = hook("https://example.com/x");
    h.environments = vec!["staging".into()];
    assert!(code(&h).starts_with("unknown_environment"));
    h.environments = vec![];
    h.flags = vec!["nope".into()];
    assert!(code(&h).starts_with("unknown_flag"));
    h.flags = vec![];
    h.events = vec![];
    assert!(code(&h).contains("`events` is empty"));
    h.events = vec![HookEvent::Kill];
    h.name = "bad name".into();
    assert!(code(&h).starts_with("invalid_name"));
}

#[test]
fn a_definitions_file_carries_webhooks_strictly() {
    let text = r#"
[[webhooks]]
name = "ops"
url = "https://hooks.example.com/flagtop"
events = ["breach", "request_created"]
environments = ["production"]
secret_env = "OPS_HOOK_SECRET"
"#;
    let f = crate::control::definitions::parse("f.toml", text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.webhooks.len(), 1);
    assert_eq!(code(&f.webhooks[0]), "");
    let typo = text.replace("secret_env", "secret");
    let e = crate::control::definitions::parse("f.toml", &typo)
        .err()
        .unwrap_or_default();
    assert!(e.starts_with("f.toml:7:"), "{e}");
    let bad = text.replace("\"breach\"", "\"breech\"");
    assert!(crate::control::definitions::parse("f.toml", &bad).is_err());
}
