//! Lifecycle through the door: the demo's released flag becomes ready for cleanup on the clock,
//! archive and unarchive pass the one policy table, a flag still rolling out is refused.

use super::*;
use crate::control::clock::Clock;
use crate::domain::lifecycle::{Rules, Stage, assess};

fn archive(flag: &str, env: &str) -> Action {
    Action::Archive {
        flag: flag.into(),
        env: env.into(),
    }
}

#[test]
fn search_ranking_v3_becomes_ready_for_cleanup_once_the_clock_passes_n_days() {
    let (_d, cp, clock) = plane("demo");
    let rules = Rules {
        ready_after_days: 30,
        stale_after_days: 60,
    };
    let stage =
        |cp: &ControlPlane, now| assess(&cp.state().flags["search-ranking-v3"], &rules, now).stage;
    assert_eq!(stage(&cp, clock.now()), Stage::Released);
    clock.advance(9 * 86_400);
    assert_eq!(stage(&cp, clock.now()), Stage::ReadyForCleanup);
}

#[test]
fn archive_in_a_protected_environment_needs_approval_and_has_its_reverse() {
    let (_d, cp, clock) = plane("demo");
    let (op, approver) = (person("op", Role::Operator), person("ic", Role::Approver));
    let o = cp
        .submit(&op, &req(archive("search-ranking-v3", "production")), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.outcome, OutcomeKind::Requested);
    assert!(!cp.state().flags["search-ranking-v3"].archived);
    let id = o.approval_id.unwrap_or_else(|| panic!("no request"));
    assert_eq!(
        cp.approve(&op, id.as_str(), "mine").map_err(|e| e.kind),
        Err(ErrorKind::Forbidden),
        "nobody approves their own request"
    );
    let done = cp
        .approve(&approver, id.as_str(), "cleanup done in code")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.outcome, OutcomeKind::Applied);
    let f = cp.state().flags["search-ranking-v3"].clone();
    assert!(f.archived);
    assert_eq!(
        assess(&f, &Rules::default(), clock.now()).stage,
        Stage::Archived
    );
    assert_eq!(
        done.reverse,
        Action::Unarchive {
            flag: "search-ranking-v3".into(),
            env: "production".into()
        }
    );
    // Actions on an archived flag are refused; its reverse needs approval in production too.
    let kill = Action::Kill {
        flag: "search-ranking-v3".into(),
        env: "production".into(),
    };
    let err = cp.submit(&op, &req(kill), None).err();
    assert!(err.is_some_and(|e| e.message.contains("is archived; unarchive it first")));
    let back = cp
        .submit(&approver, &req(done.reverse.clone()), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.outcome, OutcomeKind::Requested);
    let audit = cp
        .audit(Some("search-ranking-v3"), None, 10)
        .unwrap_or_default();
    assert!(
        audit.iter().any(|e| e.kind == AuditKind::Approved
            && e.after.as_ref().is_some_and(|a| a["archived"] == true)),
        "the audit records the archive with before and after"
    );
}

#[test]
fn archiving_a_flag_still_rolling_out_is_refused_with_the_reason() {
    let (_d, cp, _clock) = plane("demo");
    let op = person("op", Role::Operator);
    let rev = cp.revision();
    let err = cp
        .submit(&op, &req(archive("checkout-v2", "production")), None)
        .err()
        .unwrap_or_else(|| panic!("archived a flag serving two variations"));
    assert_eq!(err.kind, ErrorKind::Invalid);
    assert!(
        err.message.contains("still serves off and on in"),
        "{}",
        err.message
    );
    assert_eq!(cp.revision(), rev, "nothing changed");
    // Staging only is not where a flag that also lives in production is archived.
    let err = cp
        .submit(&op, &req(archive("search-ranking-v3", "staging")), None)
        .err()
        .map(|e| e.message);
    assert!(err.is_some_and(|m| m.contains("--env production")));
}

#[test]
fn in_an_unprotected_environment_an_operator_archives_at_once() {
    let (_d, cp, _clock) = plane("demo");
    let admin = person("root", Role::Admin);
    let mut f = cp.state().flags["search-ranking-v3"].as_ref().clone();
    f.key = "search-staging-only".into();
    f.environments.remove(&EnvKey::from("production"));
    cp.define_flag(&admin, f).unwrap_or_else(|e| panic!("{e}"));
    let o = cp
        .submit(
            &person("op", Role::Operator),
            &req(archive("search-staging-only", "staging")),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.outcome, OutcomeKind::Applied);
    assert!(cp.state().flags["search-staging-only"].archived);
}
