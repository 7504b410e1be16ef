//! The lifecycle stages on the demo flags and on planted edge cases; archive and its refusals.

use super::*;
use crate::domain::eval::{User, evaluate};
use crate::domain::{Action, Flag, State};
use crate::testkit::t0;
use chrono::{Duration, NaiveDate};

fn demo() -> State {
    crate::control::scenario::build("demo", t0())
        .map(|s| s.state)
        .unwrap_or_default()
}

fn flag<'a>(s: &'a State, key: &str) -> &'a Flag {
    s.flags.get(key).map(|f| &**f).expect("demo flag")
}

fn stage(s: &State, key: &str, rules: Rules, now: DateTime<Utc>) -> Stage {
    assess(flag(s, key), &rules, now).stage
}

#[test]
fn demo_flags_have_their_stages() {
    let s = demo();
    let r = Rules::default();
    assert_eq!(
        stage(&s, "search-ranking-v3", r, t0()),
        Stage::ReadyForCleanup
    );
    assert_eq!(stage(&s, "checkout-v2", r, t0()), Stage::RollingOut);
    assert_eq!(
        stage(&s, "legacy-billing-killswitch", r, t0()),
        Stage::Permanent
    );
    let a = assess(flag(&s, "search-ranking-v3"), &r, t0());
    assert_eq!(a.age_days, Some(21));
    assert!(a.reason.contains("21 days"), "{}", a.reason);
}

#[test]
fn ready_for_cleanup_only_once_the_clock_passes_n_days() {
    let s = demo();
    let r = Rules {
        ready_after_days: 30,
        stale_after_days: 60,
    };
    assert_eq!(stage(&s, "search-ranking-v3", r, t0()), Stage::Released);
    let almost = t0() + Duration::days(9) - Duration::seconds(1);
    assert_eq!(stage(&s, "search-ranking-v3", r, almost), Stage::Released);
    let past = t0() + Duration::days(9);
    assert_eq!(
        stage(&s, "search-ranking-v3", r, past),
        Stage::ReadyForCleanup
    );
}

#[test]
fn a_partial_rollout_left_standing_goes_stale() {
    let s = demo();
    let r = Rules::default();
    let later = t0() + Duration::days(31);
    let a = assess(flag(&s, "checkout-v2"), &r, later);
    assert_eq!(a.stage, Stage::Stale);
    assert!(a.reason.contains("unchanged for 31 days"), "{}", a.reason);
    // Permanent flags never go stale.
    assert_eq!(
        stage(&s, "legacy-billing-killswitch", r, later),
        Stage::Permanent
    );
}

#[test]
fn a_temporary_flag_past_its_review_date_is_stale() {
    let s = demo();
    let mut f = flag(&s, "checkout-v2").clone();
    f.review_by = NaiveDate::from_ymd_opt(2026, 11, 2);
    let a = assess(&f, &Rules::default(), t0());
    assert_eq!(a.stage, Stage::Stale);
    assert!(a.reason.contains("2026-11-02"), "{}", a.reason);
    f.review_by = NaiveDate::from_ymd_opt(2026, 11, 3);
    assert_eq!(assess(&f, &Rules::default(), t0()).stage, Stage::RollingOut);
}

#[test]
fn nobody_exposed_is_new_and_archived_wins() {
    let s = demo();
    let mut f = flag(&s, "checkout-v2").clone();
    for (_, fe) in f.environments.iter_mut() {
        fe.cohorts.iter_mut().for_each(|c| c.percent = 0);
    }
    assert_eq!(assess(&f, &Rules::default(), t0()).stage, Stage::New);
    f.archived = true;
    assert_eq!(assess(&f, &Rules::default(), t0()).stage, Stage::Archived);
}

fn archive(key: &str, env: &str) -> Action {
    Action::Archive {
        flag: key.into(),
        env: env.into(),
    }
}

#[test]
fn archiving_a_flag_serving_two_variations_is_refused_with_the_reason() {
    let mut s = demo();
    let before = s.clone();
    let err = archive("checkout-v2", "production").apply(&mut s, t0());
    let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("still serves off and on in"), "{msg}");
    assert_eq!(s, before, "a refusal changes nothing");
}

#[test]
fn archive_is_decided_in_the_protected_environment() {
    let mut s = demo();
    let err = archive("search-ranking-v3", "staging").apply(&mut s, t0());
    let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("--env production"), "{msg}");
}

#[test]
fn a_flag_archived_with_no_environment_left_is_unarchived_in_the_protected_one() {
    // As an external store's archived flag is followed: archived, no environment.
    let mut s = demo();
    if let Some(f) = s.flags.get_mut("search-ranking-v3") {
        let f = std::sync::Arc::make_mut(f);
        f.archived = true;
        f.environments = Default::default();
    }
    let unarchive = |env: &str| Action::Unarchive {
        flag: "search-ranking-v3".into(),
        env: env.into(),
    };
    let err = unarchive("staging").apply(&mut s, t0());
    let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("--env production"), "{msg}");
    assert_eq!(
        unarchive("production").apply(&mut s, t0()).ok(),
        Some(archive("search-ranking-v3", "production"))
    );
}

#[test]
fn archive_and_its_reverse_and_what_an_archived_flag_serves() {
    let mut s = demo();
    let later = t0() + Duration::hours(1);
    let reverse = archive("search-ranking-v3", "production").apply(&mut s, later);
    assert_eq!(
        reverse.as_ref().ok(),
        Some(&Action::Unarchive {
            flag: "search-ranking-v3".into(),
            env: "production".into()
        })
    );
    let f = flag(&s, "search-ranking-v3");
    assert!(f.archived);
    assert_eq!(f.changed_at, Some(later));
    assert_eq!(assess(f, &Rules::default(), later).stage, Stage::Archived);
    // It serves its released value to everybody, in every environment.
    for (_, fe) in f.environments.iter() {
        assert_eq!(fe.released_value(), Some("on"));
        for id in ["u1", "u2", "someone-else"] {
            let user = User {
                id: id.into(),
                ..Default::default()
            };
            assert_eq!(evaluate("search-ranking-v3", fe, &user).variation, "on");
        }
    }
    // Nothing but unarchive acts on it.
    let kill = Action::Kill {
        flag: "search-ranking-v3".into(),
        env: "production".into(),
    };
    let msg = kill.apply(&mut s, later).err().map(|e| e.to_string());
    assert_eq!(
        msg.as_deref(),
        Some("`search-ranking-v3` is archived; unarchive it first")
    );
    let again = archive("search-ranking-v3", "production").apply(&mut s, later);
    assert!(again.is_err(), "archiving twice is refused");
    let back = reverse.map(|r| r.apply(&mut s, later));
    assert!(matches!(back, Ok(Ok(Action::Archive { .. }))), "{back:?}");
    assert!(!flag(&s, "search-ranking-v3").archived);
}

#[test]
fn exposure_changes_stamp_changed_at_but_a_pause_does_not() {
    let mut s = demo();
    let later = t0() + Duration::hours(2);
    let pause = Action::Pause {
        flag: "checkout-v2".into(),
        env: "production".into(),
        note: None,
    };
    let before = flag(&s, "checkout-v2").changed_at;
    assert!(pause.apply(&mut s, later).is_ok());
    assert_eq!(flag(&s, "checkout-v2").changed_at, before);
    let rollback = Action::Rollback {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "eu-west".into(),
    };
    assert!(rollback.apply(&mut s, later).is_ok());
    assert_eq!(flag(&s, "checkout-v2").changed_at, Some(later));
}

#[derive(Debug, serde::Deserialize)]
struct Dated {
    #[serde(default, deserialize_with = "crate::domain::flag::de_date")]
    review_by: Option<NaiveDate>,
}

#[test]
fn review_by_reads_json_strings_and_toml_dates_and_names_the_field() {
    let j: Result<Dated, _> = serde_json::from_str(r#"{"review_by":"2026-12-31"}"#);
    assert_eq!(
        j.ok().and_then(|d| d.review_by),
        NaiveDate::from_ymd_opt(2026, 12, 31)
    );
    let t: Result<Dated, _> = toml::from_str("review_by = 2026-12-31\n");
    assert_eq!(
        t.ok().and_then(|d| d.review_by),
        NaiveDate::from_ymd_opt(2026, 12, 31)
    );
    let q: Result<Dated, _> = toml::from_str("review_by = \"2026-12-31\"\n");
    assert!(q.is_ok());
    let bad: Result<Dated, _> = serde_json::from_str(r#"{"review_by":"2026-13-01"}"#);
    let msg = bad.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("`review_by` must be a date"), "{msg}");
    let none: Result<Dated, _> = serde_json::from_str("{}");
    assert!(none.is_ok_and(|d| d.review_by.is_none()));
}

#[test]
fn stages_parse_from_names_and_words() {
    for st in Stage::ALL {
        assert_eq!(Stage::parse(st.as_str()), Some(st));
        assert_eq!(Stage::parse(st.words()), Some(st));
    }
    assert_eq!(Stage::parse("ready"), Some(Stage::ReadyForCleanup));
    assert_eq!(Stage::parse("nonsense"), None);
}
