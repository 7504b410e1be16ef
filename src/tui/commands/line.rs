//! Owns the `:` command line: `:env NAME`, `:flag KEY`, `:freeze`, `:lifecycle STAGE` (filter),
//! `:archived` (show or hide archived flags), `:archive` / `:unarchive` (the confirm flow),
//! `:cleanup` (the Cleanup view), `:timeline` (the selected flag's last hour) and `:quit`.
//! Pure: it must not do I/O or draw.

use super::super::dialog::{Details, Dialog, Target};
use super::super::effect::Effect;
use super::super::keys::Cmd;
use super::super::model::{Model, StatusLine};
use crate::domain::{Action, LifecycleStage};
use crate::tui::confirm;
use crate::tui::text::{fit, typed};

/// The stages `:lifecycle` takes, as the error lists them.
pub fn stage_names() -> String {
    let mut names: Vec<&str> = LifecycleStage::ALL.iter().map(|s| s.as_str()).collect();
    names.push("all");
    names.join(", ")
}

pub fn run_command(m: &mut Model, line: &str, new_idem_key: &str) -> Vec<Effect> {
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("q" | "quit"), _) => return vec![Effect::Quit],
        (Some("env"), Some(name)) => match m
            .data
            .state
            .environments
            .iter()
            .find(|e| e.key.as_str() == name)
        {
            Some(e) => {
                let env = e.key.clone();
                m.set_env(env);
            }
            None => m.set_status(format!("no environment `{}`", fit(&typed(name), 40)), true),
        },
        (Some("flag"), Some(key)) => {
            m.flags.filter.clear();
            m.flags.stage = None;
            // An archived flag asked for by name brings the archived ones into view.
            let archived = m
                .data
                .state
                .flags
                .iter()
                .any(|(k, f)| k.as_str() == key && f.archived);
            m.flags.archived |= archived;
            m.refilter();
            if !m.select_flag(key) {
                m.set_status(format!("no flag `{}`", fit(&typed(key), 60)), true);
            }
        }
        (Some("freeze"), _) => super::run_cmd(m, Cmd::Freeze, new_idem_key),
        (Some("lifecycle"), stage) => {
            let rest: Vec<&str> = stage.into_iter().chain(parts).collect();
            lifecycle(m, &rest.join(" "));
        }
        (Some("archived"), _) => {
            m.flags.archived = !m.flags.archived;
            m.refilter();
            let text = if m.flags.archived {
                "archived flags shown (:archived hides them)"
            } else {
                "archived flags hidden (:archived shows them)"
            };
            m.status = Some(StatusLine {
                text: text.into(),
                error: false,
            });
        }
        (Some(verb @ ("archive" | "unarchive")), _) => archive(m, verb == "archive", new_idem_key),
        (Some("cleanup"), _) => open(m, Target::Cleanup),
        (Some("timeline"), _) => match m.selected_flag_key() {
            Some(k) => open(m, Target::Timeline(k.clone())),
            None => m.set_status("select a flag first", true),
        },
        _ => m.set_status(
            format!(
                "unknown command `{}` (try :env NAME, :flag KEY, :lifecycle STAGE, :archived, \
                 :archive, :unarchive, :cleanup, :timeline, :freeze, :quit)",
                fit(&typed(line), 40)
            ),
            true,
        ),
    }
    Vec::new()
}

fn open(m: &mut Model, target: Target) {
    m.dialog = Some(Dialog::Details(Details { target, scroll: 0 }));
}

/// `:lifecycle STAGE` keeps only the flags at that stage (`all` or nothing: every stage).
fn lifecycle(m: &mut Model, word: &str) {
    let word = word.trim();
    if word.is_empty() || word == "all" {
        m.flags.stage = None;
    } else if let Some(s) = LifecycleStage::parse(word) {
        m.flags.stage = Some(s);
    } else {
        return m.set_status(
            format!(
                "no lifecycle stage `{}` (stages: {})",
                fit(&typed(word), 30),
                stage_names()
            ),
            true,
        );
    }
    m.flags.sel.select_row(0, &m.flags.visible);
    m.refilter();
    let text = match m.flags.stage {
        Some(s) => format!(
            "{} flags {} (:lifecycle all clears)",
            m.flags.visible.len(),
            s.words()
        ),
        None => "flags of every stage".to_string(),
    };
    m.status = Some(StatusLine { text, error: false });
}

/// `:archive` / `:unarchive` the selected flag through the confirm flow, decided in the flag's
/// protected environment when it has one (as the control plane asks), else the one on screen.
fn archive(m: &mut Model, on: bool, new_idem_key: &str) {
    if confirm::refuse_if_not_writable(m) {
        return;
    }
    let Some(f) = m.selected_flag() else {
        return m.set_status("select a flag first", true);
    };
    let flag = f.key.clone();
    let env = m
        .data
        .state
        .environments
        .iter()
        // A flag archived in an external store keeps no environment: the protected one.
        .find(|e| e.protected && (f.env(&e.key).is_some() || f.environments.is_empty()))
        .map(|e| e.key.clone())
        .unwrap_or_else(|| m.env.clone());
    let a = if on {
        Action::Archive { flag, env }
    } else {
        Action::Unarchive { flag, env }
    };
    confirm::open(m, a, String::new(), new_idem_key);
}
