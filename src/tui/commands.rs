//! Owns the key commands outside dialogs: the mutating ones (`+ - % r ] [ space F K u a x`)
//! each open the confirm flow (`tui::confirm`) for the action they mean, or say on the status
//! line why not; Enter opens the details of the selected item. Pure: it must not do I/O or draw.

pub mod details;
pub mod line;

use super::confirm;
use super::dialog::{Choose, Dialog};
use super::keys::Cmd;
use super::model::{Model, Pane};
use crate::domain::{Action, ApprovalState, AuditKind, CohortName, EnvKey, FlagKey, LadderState};
use crate::tui::text::fit;
use tui_input::Input;

/// Exposure steps for `+` / `-`.
pub const STEPS: [u8; 7] = [0, 1, 5, 10, 25, 50, 100];

/// Handles a mutating command (outside dialogs).
pub fn run_cmd(m: &mut Model, cmd: Cmd, new_idem_key: &str) {
    if confirm::refuse_if_not_writable(m) {
        return;
    }
    let env = m.env.clone();
    let flag = m.selected_flag_key().cloned();
    let cohort = m.selected_cohort().cloned();
    let ladder = m.flag_env().and_then(|e| e.ladder.clone());
    let need_flag = |m: &mut Model| m.set_status("select a flag first", true);
    match cmd {
        Cmd::Rollback => {
            let Some(flag) = flag else {
                return need_flag(m);
            };
            rollback(m, flag, new_idem_key);
        }
        Cmd::StepUp | Cmd::StepDown | Cmd::Percent => {
            let (Some(flag), Some(c)) = (flag, cohort) else {
                m.set_status("select a cohort in the Ladder pane first", true);
                return;
            };
            let base = |percent| Action::SetPercent {
                flag: flag.clone(),
                env: env.clone(),
                cohort: c.name.clone(),
                percent,
            };
            match cmd {
                _ if c.rolled_back => m.set_status(
                    format!("{} is rolled back; `r` restores it first", fit(&c.name, 40)),
                    true,
                ),
                Cmd::Percent => {
                    m.dialog = Some(Dialog::Percent {
                        input: Input::new(c.percent.to_string()),
                        action_base: base(c.percent),
                        current: c.percent,
                    })
                }
                _ => {
                    let next = if cmd == Cmd::StepUp {
                        STEPS.iter().copied().find(|s| *s > c.percent)
                    } else {
                        STEPS.iter().rev().copied().find(|s| *s < c.percent)
                    };
                    match next {
                        Some(p) => confirm::open(m, base(p), String::new(), new_idem_key),
                        None => m.set_status(
                            format!("{} is already at {}%", fit(&c.name, 40), c.percent),
                            true,
                        ),
                    }
                }
            }
        }
        Cmd::Advance | Cmd::Retreat | Cmd::PauseResume | Cmd::Kill => {
            let Some(flag) = flag else {
                return need_flag(m);
            };
            let a = match cmd {
                Cmd::Advance => Action::Advance {
                    flag,
                    env,
                    exposure: None,
                },
                Cmd::Retreat => Action::Retreat {
                    flag,
                    env,
                    exposure: None,
                },
                Cmd::PauseResume => match ladder {
                    None => return m.set_status("this flag has no ladder here", true),
                    Some(l) if l.state == LadderState::Paused => Action::Resume { flag, env },
                    Some(_) => Action::Pause {
                        flag,
                        env,
                        note: None,
                    },
                },
                _ => {
                    if m.flag_env().is_some_and(|e| e.enabled) {
                        Action::Kill { flag, env }
                    } else {
                        Action::Revive { flag, env }
                    }
                }
            };
            confirm::open(m, a, String::new(), new_idem_key);
        }
        Cmd::Freeze => {
            let frozen = m.is_frozen();
            let reason = freeze_reason(m, frozen);
            let a = if frozen {
                Action::Unfreeze { env }
            } else {
                Action::Freeze { env }
            };
            confirm::open(m, a, reason, new_idem_key);
        }
        Cmd::Undo => undo(m, new_idem_key),
        Cmd::Approve | Cmd::Reject => decide(m, cmd == Cmd::Approve, new_idem_key),
        _ => {}
    }
}

/// `r`: the narrowed rollback of the breached cohort when the selected flag has one (from any
/// pane); with several, the operator chooses among them; with none, the cohort the operator
/// chose in the Ladder pane, else a list to choose from — never silently the first cohort.
fn rollback(m: &mut Model, flag: FlagKey, new_idem_key: &str) {
    let env = m.env.clone();
    let chosen = if m.focus == Pane::Ladder {
        m.ladder.sel.key().cloned()
    } else {
        None
    };
    let breached = m.breached_cohorts(&flag);
    if let Some(c) = chosen
        .as_ref()
        .filter(|c| breached.is_empty() || breached.contains(c))
    {
        return rollback_cohort(m, &flag, &env, c, new_idem_key);
    }
    match breached.as_slice() {
        [one] => rollback_cohort(m, &flag, &env, &one.clone(), new_idem_key),
        [] => {
            let options: Vec<CohortName> = m.cohorts().iter().map(|c| c.name.clone()).collect();
            if options.is_empty() {
                return m.set_status(
                    format!("{} has no cohorts in {}", fit(&flag, 40), fit(&env, 20)),
                    true,
                );
            }
            let title = format!("no breach on {}: which cohort?", fit(&flag, 40));
            m.dialog = Some(Dialog::Choose(Choose {
                title,
                flag,
                env,
                options,
                row: 0,
            }));
        }
        several => {
            let title = format!(
                "{} cohorts of {} breached: which one?",
                several.len(),
                fit(&flag, 40)
            );
            m.dialog = Some(Dialog::Choose(Choose {
                title,
                flag,
                env,
                options: several.to_vec(),
                row: 0,
            }));
        }
    }
}

/// Opens the confirm flow for rolling back `cohort` (restoring it when it is rolled back), with
/// the breach it answers as the prefilled reason.
pub fn rollback_cohort(
    m: &mut Model,
    flag: &FlagKey,
    env: &EnvKey,
    cohort: &CohortName,
    new_idem_key: &str,
) {
    let Some(c) = m
        .data
        .state
        .flags
        .get(flag)
        .and_then(|f| f.env(env))
        .and_then(|fe| fe.cohorts.iter().find(|c| c.name == *cohort))
    else {
        return m.set_status(
            format!(
                "{} has no cohort {} in {}",
                fit(flag, 40),
                fit(cohort, 40),
                fit(env, 20)
            ),
            true,
        );
    };
    let (f, e, co) = (flag.clone(), env.clone(), cohort.clone());
    let a = if c.rolled_back {
        Action::Restore {
            flag: f,
            env: e,
            cohort: co,
        }
    } else {
        Action::Rollback {
            flag: f,
            env: e,
            cohort: co,
        }
    };
    let readings: Vec<_> = m
        .data
        .guardrails
        .iter()
        .filter(|r| r.flag == *flag && r.env == *env)
        .collect();
    let reason = confirm::default_reason(&a, &readings);
    confirm::open(m, a, reason, new_idem_key);
}

/// A key in the cohort chooser of `r`: move, pick (Enter), or close (Esc).
pub fn on_choose_key(
    m: &mut Model,
    k: &crossterm::event::KeyEvent,
    dcmd: Option<Cmd>,
    new_idem_key: &str,
) {
    use crossterm::event::KeyCode;
    let Some(Dialog::Choose(ch)) = m.dialog.as_mut() else {
        return;
    };
    let last = ch.options.len().saturating_sub(1);
    match (dcmd, k.code) {
        (Some(Cmd::Cancel), _) => m.dialog = None,
        (Some(Cmd::Confirm), _) => {
            let Some(Dialog::Choose(ch)) = m.dialog.take() else {
                return;
            };
            if let Some(c) = ch.options.get(ch.row) {
                rollback_cohort(m, &ch.flag, &ch.env, c, new_idem_key);
            }
        }
        (_, KeyCode::Up | KeyCode::Char('k')) => ch.row = ch.row.saturating_sub(1),
        (_, KeyCode::Down | KeyCode::Char('j')) => ch.row = (ch.row + 1).min(last),
        (_, KeyCode::Char(d @ '1'..='9')) => {
            let i = (d as usize) - ('1' as usize);
            if i <= last {
                ch.row = i;
            }
        }
        _ => {}
    }
}

/// `!`: selects the worst breach — its environment, flag and cohort — and focuses the Ladder
/// on it, so `r` Enter rolls it back.
pub fn jump_to_breach(m: &mut Model) {
    let Some((flag, env, cohort)) = m
        .breaches()
        .first()
        .map(|b| (b.flag().clone(), b.env().clone(), b.cohort().to_string()))
    else {
        return m.set_status("no breached guardrail", false);
    };
    if env != m.env {
        m.set_env(env.clone());
    }
    if !m.flags.visible.contains(&flag) {
        m.flags.filter.clear();
        m.refilter();
    }
    m.select_flag(&flag);
    m.select_cohort(&cohort);
    m.focus = Pane::Ladder;
    m.zoom = false;
    m.set_status(
        format!(
            "breach: {}/{} in {} — r rolls it back",
            fit(&flag, 40),
            fit(&cohort, 30),
            fit(&env, 20)
        ),
        true,
    );
}

/// The prefilled reason of `F`: the breach it answers when there is one, so `F` Enter is enough.
fn freeze_reason(m: &Model, frozen: bool) -> String {
    let env = fit(&m.env, 30);
    if frozen {
        return format!("unfreeze {env}");
    }
    match m.breaches_here().first() {
        Some(b) => format!(
            "freeze {env} during incident: {}/{} {} breach",
            fit(b.flag(), 40),
            fit(b.cohort(), 30),
            fit(&b.reading.metric, 30)
        ),
        None => format!("freeze automatic advances in {env}"),
    }
}

fn undo(m: &mut Model, new_idem_key: &str) {
    let own = m.data.identity.name.clone();
    let pick = if m.focus == Pane::Activity {
        m.selected_audit()
    } else {
        m.own_last
            .and_then(|id| m.data.audit.iter().find(|e| e.id == id))
            .or_else(|| {
                m.data.audit.iter().find(|e| {
                    e.actor.name == own && e.kind == AuditKind::Applied && e.reverse.is_some()
                })
            })
    };
    let Some(ev) = pick else {
        return m.set_status("nothing to undo (select an entry in Activity)", true);
    };
    let Some(rev) = ev.reverse.clone() else {
        return m.set_status(format!("audit #{} has no stored reverse", ev.id), true);
    };
    let reason = format!("undo #{}", ev.id);
    confirm::open(m, rev, reason, new_idem_key);
}

fn decide(m: &mut Model, approve: bool, new_idem_key: &str) {
    let Some(req) = m.selected_approval() else {
        return m.set_status("no request selected (Approvals pane)", true);
    };
    if req.state != ApprovalState::Pending {
        return m.set_status(
            format!("request {} is {}", fit(&req.id, 40), req.state.as_str()),
            true,
        );
    }
    let own = req.requested_by.name == m.data.identity.name;
    let role = m.data.identity.role;
    if approve && own {
        return m.set_status("you cannot approve your own request", true);
    }
    if !role.can_approve() && (approve || !own) {
        let what = if approve { "approve" } else { "reject" };
        return m.set_status(format!("refused: the {} role cannot {what} requests (approvers and admins do; a requester may withdraw)", role.as_str()), true);
    }
    if approve && let Some((seen, now)) = m.outdated(req) {
        return m.set_status(format!("outdated (revision {seen} → {now}): the flag changed since this request; reject it or ask for a new one"), true);
    }
    let req = req.clone();
    confirm::open_decision(m, &req, approve, new_idem_key);
}
