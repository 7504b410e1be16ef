//! Tests of the stream's frames: they parse back to the same events, a batch is one chunk in order,
//! and a `guardrails` event keeps only the environment a stream asked for.

use super::*;
use crate::client::sse::{SseEvent, SseItem, SseParser};

#[test]
fn frames_parse_back_to_the_same_event() {
    let mut f = String::new();
    push_frame(&mut f, "change", Some((Revision(7), "e1")), r#"{"a":1}"#);
    assert_eq!(f, "event: change\nid: 7@e1\ndata: {\"a\":1}\n\n");
    push_frame(&mut f, "odd", None, "two\nlines");
    let mut out = Vec::new();
    let mut p = SseParser::new(1 << 20, 1 << 20);
    p.push(f.as_bytes(), &mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    let event = |id: Option<&str>, event: &str, data: &str| {
        SseItem::Event(SseEvent {
            id: id.map(str::to_string),
            event: event.into(),
            data: data.into(),
            retry: None,
        })
    };
    // The id stays in force until the stream sets another (SSE rules).
    assert_eq!(
        out,
        vec![
            event(Some("7@e1"), "change", r#"{"a":1}"#),
            event(Some("7@e1"), "odd", "two\nlines")
        ]
    );
}

/// Messages batched into one chunk parse back as separate events, in order; a change at or
/// below the last revision sent is skipped; a closed channel ends the stream.
#[test]
fn a_batch_of_messages_is_one_chunk_of_frames_in_order() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = crate::control::store::Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let clock = Arc::new(crate::control::clock::ManualClock::new(chrono::Utc::now()));
    let cp = ControlPlane::open(store, clock, None).unwrap_or_else(|e| panic!("{e}"));
    let change = |rev: u64| {
        let c = crate::wire::Change {
            revision: Revision(rev),
            at: chrono::Utc::now(),
            flags: vec![],
            frozen: None,
            approvals: vec![],
            audit: vec![],
        };
        Ok(StreamMsg::Change(Arc::new(
            crate::control::service::Published::new(&c),
        )))
    };
    let (mut chunk, mut last) = (String::new(), 2);
    for m in [change(3), change(2), change(5), change(4)] {
        assert_eq!(push_msg(&mut chunk, m, &mut last, None, &cp), Ok(()));
    }
    assert_eq!(
        push_msg(&mut chunk, Err(RecvError::Closed), &mut last, None, &cp),
        Err(())
    );
    let mut out = Vec::new();
    let mut p = SseParser::new(1 << 20, 1 << 20);
    p.push(chunk.as_bytes(), &mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<Option<String>> = out
        .iter()
        .map(|i| {
            if let SseItem::Event(e) = i {
                e.id.clone()
            } else {
                None
            }
        })
        .collect();
    let at = |r: u64| Some(format!("{r}@{}", cp.epoch()));
    assert_eq!(ids, vec![at(3), at(5)]);
    assert_eq!(last, 5);
}

#[test]
fn a_guardrails_event_for_one_environment_keeps_only_its_exposure() {
    let count = |env: &str| ExposureCount {
        flag: "checkout-v2".into(),
        env: env.into(),
        cohort: Some("eu-west".into()),
        variation: "on".into(),
        exposed: true,
        total: 5,
        last_window: 5,
        this_window: 0,
        earlier_window: 0,
        last_at: None,
    };
    let g = GuardrailUpdate {
        at: crate::testkit::t0(),
        readings: Vec::new(),
        exposure: vec![count("production"), count("staging")],
    };
    let json = guardrails_json(&g, Some("staging")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(v["exposure"].as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(v["exposure"][0]["env"], "staging");
    // Nothing for an environment with neither readings nor exposure: no frame at all.
    assert_eq!(guardrails_json(&g, Some("qa")), None);
}
