//! Tests of `Clean`: every string of a value made inert, nothing else changed.

use super::*;

#[test]
fn every_shown_string_of_a_snapshot_is_inert_and_nothing_else_changes() {
    let evil = "x\x1b]0;pwned\x07\x1b[2J\u{9b}1m\u{202e}y\nz";
    let mut snap = crate::screenshot::fixture::snapshot("demo").unwrap_or_else(|e| panic!("{e}"));
    let mut f = (*snap.flags[0]).clone();
    (f.description, f.owner, f.cleanup) = (evil.into(), evil.into(), evil.into());
    snap.flags[0] = Arc::new(f);
    snap.identity.name = evil.into();
    snap.approvals[0].reason = evil.into();
    snap.audit[0].reason = evil.into();
    snap.guardrails[0].source_error = Some(evil.into());
    let revision = snap.revision;
    let clean = Clean::new(snap);
    let text = format!("{:?}", *clean);
    for bad in ['\x1b', '\x07', '\u{9b}', '\u{202e}', '\n'] {
        assert!(
            !clean.flags[0].description.contains(bad)
                && !clean.flags[0].cleanup.contains(bad)
                && !clean.identity.name.contains(bad),
            "{bad:?} left"
        );
    }
    assert!(
        !text.contains("\\u{1b}") && !text.contains("\\u{9b}"),
        "{text}"
    );
    assert!(
        clean.flags[0].description.contains("␛]0;pwned"),
        "{}",
        clean.flags[0].description
    );
    assert_eq!(clean.revision, revision);
}

#[test]
fn a_clean_shared_flag_is_not_copied_and_a_dirty_one_is() {
    let snap = crate::screenshot::fixture::snapshot("demo").unwrap_or_else(|e| panic!("{e}"));
    let shared = snap.flags[0].clone();
    let mut f = shared.clone();
    f.neutralise();
    assert!(
        Arc::ptr_eq(&f, &shared),
        "nothing to neutralise: the shared flag is kept"
    );
    let mut evil = (*shared).clone();
    evil.environments
        .iter_mut()
        .for_each(|(_, e)| e.fallthrough = "a\x1bb".into());
    let mut f = Arc::new(evil);
    let other = f.clone();
    f.neutralise();
    assert!(!Arc::ptr_eq(&f, &other) && f.environments.iter().all(|(_, e)| e.fallthrough == "a␛b"));
}

#[test]
fn exposure_on_the_stream_is_made_inert_too() {
    let u = GuardrailUpdate {
        at: crate::testkit::t0(),
        readings: Vec::new(),
        exposure: vec![ExposureCount {
            flag: "checkout-v2".into(),
            env: "production".into(),
            cohort: Some("eu-west".into()),
            variation: "on\u{1b}[2J\u{202e}".into(),
            exposed: true,
            total: 1,
            last_window: 1,
            this_window: 0,
            earlier_window: 0,
            last_at: None,
        }],
    };
    let c = Clean::new(u);
    let v = &c.exposure[0].variation;
    assert!(!v.contains('\u{1b}') && !v.contains('\u{202e}'), "{v:?}");
    assert!(v.starts_with("on"), "{v:?}");
    assert_eq!(c.exposure[0].total, 1);
}
