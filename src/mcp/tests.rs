//! Unit tests of the read views and the proposal scope on the deterministic demo snapshot
//! (breached eu-west guardrail, the ops-assistant proposal pending). Tests only.

use super::limits::Page;
use super::view;
use crate::domain::Action;
use crate::wire::Snapshot;
use serde_json::json;

fn demo() -> Snapshot {
    crate::screenshot::fixture::snapshot("demo").unwrap_or_else(|e| panic!("{e}"))
}

fn first() -> Page {
    Page {
        offset: 0,
        limit: 50,
    }
}

#[test]
fn breaches_carry_evidence_and_the_exact_narrowed_rollback() {
    let v = view::breaches(&demo(), Some("production"), false, first())
        .unwrap_or_else(|e| panic!("{e}"));
    let b = v["breaches"]
        .as_array()
        .and_then(|bs| {
            bs.iter()
                .find(|b| b["flag"] == "checkout-v2" && b["reading"]["cohort"] == "eu-west")
        })
        .unwrap_or_else(|| panic!("no eu-west breach in {v}"));
    assert_eq!(b["reading"]["status"], "breached");
    assert_eq!(b["evidence"]["cohort"], "eu-west");
    let rollback = json!({"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": "eu-west"});
    assert_eq!(b["narrowed_rollback"]["action"], rollback);
    assert_eq!(b["narrowed_rollback"]["reverse"]["type"], "restore");
    assert_eq!(b["narrowed_rollback"]["reverse"]["cohort"], "eu-west");
    for field in ["value", "baseline", "threshold"] {
        assert!(b["reading"][field].is_number(), "{field} in {b}");
    }
    assert_eq!(b["reading"]["sufficiency"]["sufficient"], true);
}

#[test]
fn unknown_environments_and_flags_say_what_exists() {
    let s = demo();
    let e = view::flags_in_env(&s, "moon", first())
        .err()
        .unwrap_or_default();
    assert!(
        e.contains("unknown environment `moon`") && e.contains("production"),
        "{e}"
    );
    let e = view::flag_detail(&s, "nope", None)
        .err()
        .unwrap_or_default();
    assert!(e.contains("unknown flag `nope`"), "{e}");
    assert!(view::breaches(&s, Some("moon"), true, first()).is_err());
}

#[test]
fn a_flag_in_detail_has_ladder_guardrails_and_exposure() {
    let v = view::flag_detail(&demo(), "checkout-v2", Some("production"))
        .unwrap_or_else(|e| panic!("{e}"));
    let prod = &v["flag"]["environments"]["production"];
    assert_eq!(prod["ladder"]["current_stage"], "25%");
    assert!(
        prod["guardrails"].as_array().is_some_and(|g| !g.is_empty()),
        "{prod}"
    );
    let eu = prod["exposure"]
        .as_array()
        .and_then(|x| x.iter().find(|c| c["cohort"] == "eu-west"))
        .cloned();
    assert_eq!(
        eu.as_ref().map(|c| c["configured_percent"].clone()),
        Some(json!(25)),
        "{prod}"
    );
    assert_eq!(
        v["flag"]["environments"].as_object().map(|m| m.len()),
        Some(1)
    );
}

#[test]
fn lists_are_paged_and_approvals_say_who_decides() {
    let s = demo();
    let v = view::flags_in_env(
        &s,
        "production",
        Page {
            offset: 0,
            limit: 2,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["flags"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["next_cursor"], "2");
    let a = view::approvals(&s.approvals, false, first());
    let first = &a["approvals"][0];
    assert_eq!(first["requested_by"]["kind"], "agent");
    let who = first["who_must_approve"].as_str().unwrap_or("");
    assert!(
        who.contains("approver") && who.contains("ops-assistant"),
        "{who}"
    );
}

#[test]
fn the_domain_computes_reverses_on_the_snapshot() {
    let s = demo();
    let kill = Action::Kill {
        flag: "checkout-v2".into(),
        env: "production".into(),
    };
    assert_eq!(
        view::reverse_on(&s, &kill),
        Some(Action::Revive {
            flag: "checkout-v2".into(),
            env: "production".into()
        })
    );
    let impossible = Action::Restore {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "eu-west".into(),
    };
    assert_eq!(
        view::reverse_on(&s, &impossible),
        None,
        "eu-west is not rolled back"
    );
}
