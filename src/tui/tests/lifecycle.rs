//! Lifecycle in the TUI: the Flags lifecycle column (giving way by priority), `:lifecycle`
//! filtering and its error, archived flags hidden until `:archived`, archive/unarchive through
//! the confirm flow (with the refusal reason), the Cleanup view (Enter selects, scroll markers,
//! sanitised text) and the `:timeline` overlay. Tests only; no terminal, no network.

use super::super::dialog::{Dialog, Target};
use super::super::model::{Model, Pane};
use super::super::update::update;
use super::fixture::*;
use super::view::{render, text};
use crate::domain::{Action, LifecycleStage};
use crossterm::event::KeyCode;
use std::sync::Arc;

/// Changes flag `key` in the model's data, then lets the model catch up.
fn edit(m: &mut Model, key: &str, f: impl FnOnce(&mut crate::domain::Flag)) {
    let fl = m
        .data
        .state
        .flags
        .iter_mut()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v)
        .unwrap();
    f(Arc::make_mut(fl));
    m.data_changed(true);
}

/// search-ranking-v3 (released everywhere) released 40 days ago: ready for cleanup.
fn with_ready(m: &mut Model) {
    let then = m.now - chrono::Duration::days(40);
    edit(m, "search-ranking-v3", |f| f.changed_at = Some(then));
}

fn command(m: &mut Model, line: &str) {
    update(m, key(':'));
    type_str(m, line);
    update(m, code(KeyCode::Enter));
}

fn status(m: &Model) -> (String, bool) {
    let s = m.status.as_ref().unwrap();
    (s.text.clone(), s.error)
}

#[test]
fn the_flags_pane_shows_a_lifecycle_column_with_short_labels() {
    let mut m = model();
    with_ready(&mut m);
    let screen = text(&render(&m, 160, 48));
    assert!(screen.contains("life"), "no lifecycle header in\n{screen}");
    let row = |key: &str, label: &str| {
        screen
            .lines()
            .skip(1)
            .any(|l| l.contains(&format!("{key} ")) && l.contains(&format!(" {label} ")))
    };
    assert!(row("search-ranking-v3", "cleanup"), "{screen}");
    assert!(row("checkout-v2", "rolling"), "{screen}");
}

#[test]
fn the_lifecycle_column_gives_way_after_the_ladder_stage_and_before_the_name_is_cut() {
    use crate::tui::view::flags_widths as widths;
    // Room for everything: name 20, every column kept.
    let all = widths(120, 20, 3);
    assert!(all[3] > 0 && all[4] > 0 && all[0] >= 20, "{all:?}");
    // Less room: the ladder stage goes first, the lifecycle stays.
    let w = 20 + 9 + 8 + 8 + 12 + 1 + 5;
    let some = widths(w, 20, 3);
    assert_eq!((some[3], some[4] > 0, some[0]), (0, true, 20), "{some:?}");
    // Less again: the lifecycle goes before the name is cut.
    let fewer = widths(w - 9, 20, 3);
    assert_eq!((fewer[3], fewer[4], fewer[0]), (0, 0, 20), "{fewer:?}");
}

#[test]
fn lifecycle_filter_keeps_one_stage_and_an_unknown_stage_lists_the_stages() {
    let mut m = model();
    with_ready(&mut m);
    let all = m.flags.visible.len();
    command(&mut m, "lifecycle ready");
    assert_eq!(m.flags.stage, Some(LifecycleStage::ReadyForCleanup));
    let keys: Vec<&str> = m.flags.visible.iter().map(|k| k.as_str()).collect();
    assert_eq!(keys, vec!["search-ranking-v3"]);
    assert!(!status(&m).1);
    command(&mut m, "lifecycle rolling");
    assert!(!m.flags.visible.is_empty());
    assert!(
        m.flags
            .visible
            .iter()
            .all(|k| m.stage_of(&m.data.state.flags[k]) == LifecycleStage::RollingOut)
    );
    command(&mut m, "lifecycle someday\u{1b}[31m");
    let (msg, error) = status(&m);
    assert!(error, "{msg}");
    assert!(
        msg.contains("ready_for_cleanup") && msg.contains("stale"),
        "{msg}"
    );
    assert!(!msg.contains('\u{1b}'), "typed text is sanitised: {msg:?}");
    assert_eq!(m.flags.stage, Some(LifecycleStage::RollingOut), "unchanged");
    command(&mut m, "lifecycle all");
    assert_eq!((m.flags.stage, m.flags.visible.len()), (None, all));
}

#[test]
fn archived_flags_are_hidden_until_archived_is_typed() {
    let mut m = model();
    let all = m.flags.visible.len();
    edit(&mut m, "search-ranking-v3", |f| f.archived = true);
    assert_eq!(m.flags.visible.len(), all - 1);
    assert!(
        !m.flags
            .visible
            .iter()
            .any(|k| k.as_str() == "search-ranking-v3")
    );
    command(&mut m, "archived");
    assert_eq!(m.flags.visible.len(), all);
    let screen = text(&render(&m, 160, 48));
    assert!(
        screen
            .lines()
            .any(|l| l.contains("search-ranking-v3 ") && l.contains(" archived ")),
        "{screen}"
    );
    command(&mut m, "archived");
    assert_eq!(m.flags.visible.len(), all - 1);
    // Asked for by name, an archived flag comes into view.
    command(&mut m, "flag search-ranking-v3");
    assert_eq!(m.selected_flag_key().unwrap().as_str(), "search-ranking-v3");
    command(&mut m, "lifecycle archived");
    assert_eq!(m.flags.visible.len(), 1);
}

#[test]
fn archive_and_unarchive_open_the_confirm_flow_and_a_refusal_says_why() {
    let mut m = model();
    command(&mut m, "flag search-ranking-v3");
    command(&mut m, "archive");
    assert!(m.dialog.is_some(), "{:?}", m.status);
    let a = confirm_of(&m).intent.action().clone();
    assert_eq!(
        a,
        Action::Archive {
            flag: "search-ranking-v3".into(),
            env: "production".into()
        },
        "decided in the protected environment"
    );
    update(&mut m, code(KeyCode::Esc));
    m.dialog = None;
    edit(&mut m, "search-ranking-v3", |f| f.archived = true);
    command(&mut m, "flag search-ranking-v3");
    command(&mut m, "unarchive");
    assert!(matches!(
        confirm_of(&m).intent.action(),
        Action::Unarchive { .. }
    ));
    m.dialog = None;
    // Archived in Unleash, followed with no environment left: decided in production too.
    m.env = "staging".into();
    edit(&mut m, "search-ranking-v3", |f| {
        f.environments = Default::default()
    });
    command(&mut m, "flag search-ranking-v3");
    command(&mut m, "unarchive");
    assert_eq!(
        confirm_of(&m).intent.action().env().as_str(),
        "production",
        "{:?}",
        m.status
    );
    m.dialog = None;
    // A flag still rolling out: refused with the reason, nothing opens.
    command(&mut m, "flag checkout-v2");
    command(&mut m, "archive");
    assert!(m.dialog.is_none());
    let (msg, error) = status(&m);
    assert!(
        error && msg.contains("cannot archive") && msg.contains("still serves"),
        "{msg}"
    );
}

#[test]
fn the_cleanup_view_lists_ready_and_stale_flags_and_enter_selects_one() {
    let mut m = model();
    with_ready(&mut m);
    let past = m.now.date_naive() - chrono::Duration::days(3);
    edit(&mut m, "checkout-v2", |f| {
        f.review_by = Some(past);
        f.owner = "team\u{1b}]0;evil\u{7}-web".into();
    });
    update(&mut m, key('C'));
    assert!(matches!(
        m.dialog,
        Some(Dialog::Details(ref d)) if d.target == Target::Cleanup
    ));
    let screen = text(&render(&m, 160, 48));
    assert!(screen.contains("cleanup: 2 flags"), "{screen}");
    let at = |key: &str| {
        let mut rows = screen.lines().enumerate().skip(1);
        rows.find(|(_, l)| l.contains(key) && l.contains(" · "))
            .unwrap()
            .0
    };
    let (stale, ready) = (at("checkout-v2"), at("search-ranking-v3"));
    assert!(stale < ready, "stale first\n{screen}");
    let line = screen.lines().nth(stale).unwrap();
    assert!(line.contains("past its review date"), "{line}");
    assert!(
        !line.contains('\u{1b}') && !line.contains('\u{7}'),
        "{line:?}"
    );
    let line = screen.lines().nth(ready).unwrap();
    assert!(line.contains("40d") && line.contains("released"), "{line}");
    m.focus = Pane::Ladder;
    update(&mut m, key('j'));
    update(&mut m, code(KeyCode::Enter));
    assert!(m.dialog.is_none());
    assert_eq!(m.focus, Pane::Flags);
    assert_eq!(m.selected_flag_key().unwrap().as_str(), "search-ranking-v3");
    // Also from the command line; the demo's flag released 21 days ago is not due under 30-day
    // rules, so nothing is listed.
    let mut m = model();
    m.flags.rules.ready_after_days = 30;
    command(&mut m, "cleanup");
    let screen = text(&render(&m, 160, 48));
    assert!(screen.contains("nothing to clean up"), "{screen}");
}

#[test]
fn the_cleanup_view_scrolls_with_markers() {
    let mut m = model();
    let then = m.now - chrono::Duration::days(40);
    for i in 0..40 {
        let mut f = (*m.data.state.flags["search-ranking-v3"]).clone();
        f.key = format!("old-flag-{i:02}").as_str().into();
        f.changed_at = Some(then);
        m.data.state.flags.insert(f.key.clone(), Arc::new(f));
    }
    m.data_changed(true);
    command(&mut m, "cleanup");
    let screen = text(&render(&m, 100, 24));
    assert!(screen.contains("↓ "), "{screen}");
    for _ in 0..30 {
        update(&mut m, key('j'));
    }
    let screen = text(&render(&m, 100, 24));
    assert!(screen.contains("↑ "), "{screen}");
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(m.selected_flag_key().unwrap().as_str(), "old-flag-30");
}

#[test]
fn timeline_shows_the_selected_flags_record_of_the_last_hour() {
    let mut m = on_eu_west();
    command(&mut m, "timeline");
    assert!(matches!(
        m.dialog,
        Some(Dialog::Details(ref d)) if d.target == Target::Timeline("checkout-v2".into())
    ));
    let screen = text(&render(&m, 160, 48));
    assert!(screen.contains("timeline checkout-v2"), "{screen}");
    assert!(screen.contains("Incident record"), "{screen}");
    assert!(
        screen.contains("flagtop timeline --flag checkout-v2"),
        "{screen}"
    );
}

#[test]
fn a_control_plane_refusal_of_an_archive_is_shown_with_its_reason() {
    let mut m = model();
    command(&mut m, "flag search-ranking-v3");
    command(&mut m, "archive");
    type_str(&mut m, "removed from the code");
    let fx = update(&mut m, code(KeyCode::Enter)).effects;
    let (req, idem) = submit(&fx);
    assert!(matches!(req.action, Action::Archive { .. }));
    let refusal = crate::client::ClientError::Api {
        status: 422,
        code: "invalid_state".into(),
        message: "`search-ranking-v3` still serves on and off in staging: finish or roll back \
                  the rollout before archiving"
            .into(),
        current_revision: None,
    };
    let out = super::super::effect::Event::Outcome {
        idem_key: idem.to_string(),
        result: Err(refusal),
    };
    update(&mut m, out);
    let (msg, error) = status(&m);
    assert!(
        error && msg.contains("still serves on and off in staging"),
        "{msg}"
    );
    let screen = text(&render(&m, 160, 48));
    assert!(screen.contains("still serves on and off"), "{screen}");
}

#[test]
fn the_control_planes_rules_from_its_snapshot_judge_stages_here() {
    use super::super::effect::Event;
    use crate::client::Clean;
    let stage = |m: &Model| {
        let f = m.data.state.flags.get("search-ranking-v3").unwrap();
        m.stage_of(f)
    };
    let mut m = model();
    assert_eq!(stage(&m), LifecycleStage::ReadyForCleanup);
    let mut snap = snapshot();
    snap.lifecycle_rules.ready_after_days = 60;
    update(&mut m, Event::Snapshot(Ok(Box::new(Clean::new(snap)))));
    assert_eq!(m.flags.rules.ready_after_days, 60);
    assert_eq!(
        stage(&m),
        LifecycleStage::Released,
        "released 21 days ago: not due under the plane's 60-day rule"
    );
}
