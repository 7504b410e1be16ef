//! Property tests of the domain rules: reverses restore, percentages stay in range, bucketing
//! is stable and proportional.

use super::eval::{User, bucket, evaluate, in_rollout};
use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

use crate::testkit::t0;

const COHORTS: [&str; 3] = ["internal", "eu-west", "us-east"];

fn state_with(
    percents: [u8; 3],
    rolled: [bool; 3],
    stage: usize,
    paused: bool,
    enabled: bool,
    frozen: bool,
) -> State {
    let cohorts = COHORTS
        .iter()
        .zip(percents.iter().zip(rolled.iter()))
        .map(|(n, (p, r))| Cohort {
            name: CohortName::from(*n),
            selector: Selector::Everyone,
            percent: *p,
            variation: "on".into(),
            rolled_back: *r,
            external_id: None,
            variants: vec![],
        })
        .collect();
    let stages = [10u8, 25, 50, 100]
        .iter()
        .map(|p| Stage {
            name: format!("{p}%"),
            targets: COHORTS[1..]
                .iter()
                .map(|c| (CohortName::from(*c), *p))
                .collect(),
            min_dwell_secs: 60,
        })
        .collect();
    let ladder = Ladder {
        stages,
        current: stage,
        entered_at: t0(),
        state: if paused {
            LadderState::Paused
        } else {
            LadderState::Progressing
        },
        pause_note: paused.then(|| "breach".to_string()),
        policy: AdvancePolicy::RequestApproval,
    };
    let mut environments = crate::domain::SmallMap::new();
    environments.insert(
        EnvKey::from("production"),
        FlagEnv {
            enabled,
            off: false,
            cohorts,
            fallthrough: "off".into(),
            ladder: Some(ladder),
            guardrails: vec![],
        },
    );
    let flag = Flag {
        key: "checkout-v2".into(),
        kind: FlagKind::Boolean,
        description: String::new(),
        owner: String::new(),
        lifecycle: Lifecycle::Temporary,
        variations: vec!["off".into(), "on".into()],
        environments,
        revision: Revision(0),
        review_by: None,
        cleanup: String::new(),
        archived: false,
        store_stage: None,
        changed_at: None,
    };
    State {
        revision: Revision(1),
        environments: vec![Environment {
            key: "production".into(),
            protected: true,
        }],
        frozen: if frozen {
            [EnvKey::from("production")].into_iter().collect()
        } else {
            Default::default()
        },
        env_revisions: BTreeMap::new(),
        webhooks: Vec::new(),
        flags: [(flag.key.clone(), std::sync::Arc::new(flag))]
            .into_iter()
            .collect(),
    }
}

fn arb_state() -> impl Strategy<Value = State> {
    (
        proptest::array::uniform3(0u8..=100),
        proptest::array::uniform3(any::<bool>()),
        0usize..4,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(p, r, s, paused, en, fr)| state_with(p, r, s, paused, en, fr))
}

fn arb_action() -> impl Strategy<Value = Action> {
    let f = || FlagKey::from("checkout-v2");
    let e = || EnvKey::from("production");
    let cohort = proptest::sample::select(COHORTS.to_vec()).prop_map(CohortName::from);
    prop_oneof![
        (cohort.clone(), 0u8..=100).prop_map(move |(c, p)| Action::SetPercent {
            flag: f(),
            env: e(),
            cohort: c,
            percent: p
        }),
        cohort.clone().prop_map(move |c| Action::Rollback {
            flag: f(),
            env: e(),
            cohort: c
        }),
        cohort.prop_map(move |c| Action::Restore {
            flag: f(),
            env: e(),
            cohort: c
        }),
        Just(Action::Advance {
            flag: f(),
            env: e(),
            exposure: None
        }),
        Just(Action::Retreat {
            flag: f(),
            env: e(),
            exposure: None
        }),
        Just(Action::Pause {
            flag: f(),
            env: e(),
            note: Some("manual".into())
        }),
        Just(Action::Resume {
            flag: f(),
            env: e()
        }),
        Just(Action::Freeze { env: e() }),
        Just(Action::Unfreeze { env: e() }),
        Just(Action::Kill {
            flag: f(),
            env: e()
        }),
        Just(Action::Revive {
            flag: f(),
            env: e()
        }),
        Just(Action::Archive {
            flag: f(),
            env: e()
        }),
        Just(Action::Unarchive {
            flag: f(),
            env: e()
        }),
    ]
}

/// Timestamps of ladder entry move forward on every step; everything else must match.
fn without_clock(mut s: State) -> State {
    for f in s.flags.values_mut() {
        for (_, e) in std::sync::Arc::make_mut(f).environments.iter_mut() {
            if let Some(l) = e.ladder.as_mut() {
                l.entered_at = t0();
            }
        }
        std::sync::Arc::make_mut(f).changed_at = None;
    }
    s
}

proptest! {
    #[test]
    fn reverse_of_apply_restores_the_state(state in arb_state(), action in arb_action()) {
        let mut s = state.clone();
        match action.apply(&mut s, t0() + chrono::Duration::seconds(90)) {
            Err(_) => prop_assert_eq!(&s, &state, "a failed action must change nothing"),
            Ok(reverse) => {
                let mut back = s.clone();
                let again = reverse.apply(&mut back, t0() + chrono::Duration::seconds(120));
                prop_assert!(again.is_ok(), "reverse {:?} of {:?} failed: {:?}", reverse, action, again);
                prop_assert_eq!(without_clock(back), without_clock(state.clone()));
                // The reverse of the reverse is the original effect.
                if let Ok(rr) = again {
                    let mut fwd = state.clone();
                    let _ = rr.apply(&mut fwd, t0());
                    prop_assert_eq!(without_clock(fwd), without_clock(s));
                }
            }
        }
    }

    #[test]
    fn percentages_stay_in_range(state in arb_state(), actions in proptest::collection::vec(arb_action(), 0..30)) {
        let mut s = state;
        for a in &actions {
            let _ = a.apply(&mut s, t0());
            for f in s.flags.values() {
                for e in f.environments.values() {
                    for c in &e.cohorts {
                        prop_assert!(c.percent <= 100 && c.effective_percent() <= 100);
                    }
                }
            }
        }
    }

    #[test]
    fn set_percent_above_100_is_refused(state in arb_state(), p in 101u8..=255) {
        let mut s = state.clone();
        let a = Action::SetPercent { flag: "checkout-v2".into(), env: "production".into(), cohort: "eu-west".into(), percent: p };
        prop_assert!(matches!(a.apply(&mut s, t0()), Err(DomainError::PercentOutOfRange(_)) | Err(DomainError::InvalidState(_))));
        prop_assert_eq!(s, state);
    }

    #[test]
    fn bucketing_is_stable(user in "[a-z0-9-]{1,24}", flag in "[a-z-]{1,12}", cohort in "[a-z-]{1,12}") {
        let b = bucket(&flag, &cohort, &user);
        prop_assert!(b < 10_000);
        prop_assert_eq!(b, bucket(&flag, &cohort, &user));
    }

    #[test]
    fn exposure_is_monotonic_in_percent(user in "[a-z0-9]{1,16}", p in 0u8..=100, q in 0u8..=100) {
        let b = bucket("f", "c", &user);
        if in_rollout(b, p.min(q)) {
            prop_assert!(in_rollout(b, p.max(q)), "a user exposed at a lower percent stays exposed at a higher one");
        }
    }
}

#[test]
fn bucketing_is_proportional() {
    for percent in [1u8, 10, 25, 50, 90] {
        let n = 20_000;
        let hits = (0..n)
            .filter(|i| {
                in_rollout(
                    bucket("checkout-v2", "eu-west", &format!("user-{i}")),
                    percent,
                )
            })
            .count();
        let share = hits as f64 / n as f64 * 100.0;
        assert!(
            (share - f64::from(percent)).abs() < 1.5,
            "{percent}% gave {share:.2}%"
        );
    }
    assert!(!in_rollout(0, 0));
    assert!(in_rollout(9_999, 100));
}

#[test]
fn evaluation_serves_fallthrough_when_rolled_back_or_killed() {
    let user = User {
        id: "u1".into(),
        ..Default::default()
    };
    let s = state_with(
        [100, 100, 100],
        [false, false, false],
        3,
        false,
        true,
        false,
    );
    let fe = &s.flags["checkout-v2"].environments[&crate::domain::EnvKey::from("production")];
    let ev = evaluate("checkout-v2", fe, &user);
    assert_eq!(
        (ev.cohort, ev.exposed, ev.variation),
        (Some("internal"), true, "on")
    );
    let s = state_with([100, 100, 100], [true, false, false], 3, false, true, false);
    let ev = evaluate(
        "checkout-v2",
        &s.flags["checkout-v2"].environments[&crate::domain::EnvKey::from("production")],
        &user,
    );
    assert_eq!((ev.exposed, ev.variation), (false, "off"));
    let s = state_with(
        [100, 100, 100],
        [false, false, false],
        3,
        false,
        false,
        false,
    );
    let ev = evaluate(
        "checkout-v2",
        &s.flags["checkout-v2"].environments[&crate::domain::EnvKey::from("production")],
        &user,
    );
    assert_eq!((ev.exposed, ev.variation), (false, "off"));
}

#[test]
fn advance_sets_stage_targets_and_reverse_restores_manual_exposure() {
    let mut s = state_with([100, 30, 20], [false, false, false], 1, false, true, false);
    let a = Action::Advance {
        flag: "checkout-v2".into(),
        env: "production".into(),
        exposure: None,
    };
    let rev = a.apply(&mut s, t0()).unwrap_or_else(|e| panic!("{e}"));
    let fe = &s.flags["checkout-v2"].environments[&crate::domain::EnvKey::from("production")];
    assert_eq!(fe.cohort("eu-west").map(|c| c.percent), Some(50));
    assert_eq!(fe.ladder.as_ref().map(|l| l.current), Some(2));
    assert_eq!(
        rev.command_line("undo"),
        "flagtop act retreat checkout-v2 --env production --exposure eu-west=30,us-east=20 --reason undo"
    );
}

#[test]
fn derived_ladder_states() {
    let s = state_with([100, 100, 100], [false; 3], 3, false, true, true);
    let l = s.flags["checkout-v2"].environments[&crate::domain::EnvKey::from("production")]
        .ladder
        .clone()
        .unwrap_or_else(|| panic!());
    assert_eq!(l.effective_state(true), LadderState::Completed);
    let s = state_with([100, 10, 10], [false; 3], 0, false, true, true);
    let l = s.flags["checkout-v2"].environments[&crate::domain::EnvKey::from("production")]
        .ladder
        .clone()
        .unwrap_or_else(|| panic!());
    assert_eq!(l.effective_state(true), LadderState::Frozen);
    assert_eq!(l.effective_state(false), LadderState::Progressing);
}

#[test]
fn command_line_quotes_reasons() {
    let a = Action::Rollback {
        flag: "checkout-v2".into(),
        env: "production".into(),
        cohort: "eu-west".into(),
    };
    assert_eq!(
        a.command_line("p95 breach in eu-west; it's bad"),
        "flagtop act rollback checkout-v2 eu-west --env production --reason 'p95 breach in eu-west; it'\\''s bad'"
    );
}
