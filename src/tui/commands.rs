//! Owns the key commands outside dialogs: the mutating ones (`+ - % r ] [ space F K u a x`)
//! each open the confirm flow (`tui::confirm`) for the action they mean, or say on the status
//! line why not; Enter opens the details of the selected item. Pure: it must not do I/O or draw.

use super::confirm;
use super::dialog::Dialog;
use super::keys::Cmd;
use super::model::{Model, Pane};
use super::text::num;
use crate::domain::{Action, ApprovalState, AuditKind, LadderState};
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
        Cmd::StepUp | Cmd::StepDown | Cmd::Percent | Cmd::Rollback => {
            let (Some(flag), Some(c)) = (flag, cohort) else {
                m.set_status("select a cohort in the Ladder pane first", true);
                return;
            };
            let base = |percent| Action::SetPercent { flag: flag.clone(), env: env.clone(), cohort: c.name.clone(), percent };
            match cmd {
                Cmd::Rollback => {
                    // Narrowed rollback in 2 keys after selecting the cohort: `r` opens the
                    // confirm with a prefilled reason, `Enter` sends (≤ 4 required).
                    let (flag, env, cohort) = (flag.clone(), env.clone(), c.name.clone());
                    let a = if c.rolled_back { Action::Restore { flag, env, cohort } } else { Action::Rollback { flag, env, cohort } };
                    let reason = confirm::default_reason(&a, &m.flag_guardrails());
                    confirm::open(m, a, reason, new_idem_key);
                }
                _ if c.rolled_back => m.set_status(format!("{} is rolled back; `r` restores it first", fit(&c.name, 40)), true),
                Cmd::Percent => {
                    m.dialog = Some(Dialog::Percent { input: Input::new(c.percent.to_string()), action_base: base(c.percent), current: c.percent })
                }
                _ => {
                    let next = if cmd == Cmd::StepUp {
                        STEPS.iter().copied().find(|s| *s > c.percent)
                    } else {
                        STEPS.iter().rev().copied().find(|s| *s < c.percent)
                    };
                    match next {
                        Some(p) => confirm::open(m, base(p), String::new(), new_idem_key),
                        None => m.set_status(format!("{} is already at {}%", fit(&c.name, 40), c.percent), true),
                    }
                }
            }
        }
        Cmd::Advance | Cmd::Retreat | Cmd::PauseResume | Cmd::Kill => {
            let Some(flag) = flag else { return need_flag(m) };
            let a = match cmd {
                Cmd::Advance => Action::Advance { flag, env, exposure: None },
                Cmd::Retreat => Action::Retreat { flag, env, exposure: None },
                Cmd::PauseResume => match ladder {
                    None => return m.set_status("this flag has no ladder here", true),
                    Some(l) if l.state == LadderState::Paused => Action::Resume { flag, env },
                    Some(_) => Action::Pause { flag, env, note: None },
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
            let a = if m.is_frozen() { Action::Unfreeze { env } } else { Action::Freeze { env } };
            confirm::open(m, a, String::new(), new_idem_key);
        }
        Cmd::Undo => undo(m, new_idem_key),
        Cmd::Approve | Cmd::Reject => decide(m, cmd == Cmd::Approve, new_idem_key),
        _ => {}
    }
}

fn undo(m: &mut Model, new_idem_key: &str) {
    let own = m.data.identity.name.clone();
    let pick = if m.focus == Pane::Activity {
        m.selected_audit()
    } else {
        m.own_last
            .and_then(|id| m.data.audit.iter().find(|e| e.id == id))
            .or_else(|| m.data.audit.iter().find(|e| e.actor.name == own && e.kind == AuditKind::Applied && e.reverse.is_some()))
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
        return m.set_status(format!("request {} is {}", fit(&req.id, 40), req.state.as_str()), true);
    }
    if approve && req.requested_by.name == m.data.identity.name {
        return m.set_status("you cannot approve your own request", true);
    }
    let req = req.clone();
    confirm::open_decision(m, &req, approve, new_idem_key);
}

/// Enter outside dialogs: details of the selected item.
pub fn open_details(m: &mut Model) {
    let (title, lines) = match m.focus {
        Pane::Flags | Pane::Ladder => match m.selected_flag() {
            Some(f) => (
                format!("flag {}", fit(&f.key, 60)),
                vec![
                    format!("description: {}", fit(&f.description, 200)),
                    format!("owner: {}   lifecycle: {:?}   kind: {:?}", fit(&f.owner, 40), f.lifecycle, f.kind),
                    format!("variations: {}", f.variations.iter().map(|v| fit(v, 30)).collect::<Vec<_>>().join(", ")),
                    format!("revision: {}", f.revision),
                ],
            ),
            None => return,
        },
        Pane::Guardrails => match m.selected_reading() {
            Some(r) => (
                format!("guardrail {} / {}", fit(&r.metric, 40), fit(&r.cohort, 40)),
                vec![
                    format!("rule: {}", fit(&r.rule, 80)),
                    format!("samples: {} (baseline {}, min {}) over {}s", r.samples, r.baseline_samples, r.min_samples, r.window_secs),
                    format!("source error: {}", r.source_error.as_deref().map(|s| fit(s, 120)).unwrap_or_else(|| "-".into())),
                ],
            ),
            None => return,
        },
        Pane::Approvals => match m.selected_approval() {
            Some(a) => {
                let mut lines = vec![
                    format!("action:  {}", fit(&a.action.describe(), 100)),
                    format!("reverse: {}", fit(&a.reverse.describe(), 100)),
                    format!("reason:  {}", fit(&a.reason, 200)),
                    format!("by: {} ({})   state: {}", fit(&a.requested_by.name, 40), a.requested_by.kind(), a.state.as_str()),
                    format!("created {}   expires {}", a.created_at.format("%H:%M:%S"), a.expires_at.format("%H:%M:%S")),
                ];
                for e in &a.evidence {
                    lines.push(format!(
                        "evidence: {} {} value {} vs {} (n={})",
                        fit(&e.metric, 30),
                        fit(&e.cohort, 30),
                        num(e.candidate),
                        num(e.baseline),
                        e.samples
                    ));
                }
                if let Some(g) = &a.evidence_gap {
                    lines.push(format!("evidence gap: {}", fit(g, 200)));
                }
                (format!("request {}", fit(&a.id, 40)), lines)
            }
            None => return,
        },
        Pane::Activity => match m.selected_audit() {
            Some(e) => (
                format!("audit #{}", e.id),
                vec![
                    format!("{} by {} via {}", e.at.format("%Y-%m-%d %H:%M:%S"), fit(&e.actor.name, 40), fit(&e.source, 20)),
                    format!("action:  {}", e.action.as_ref().map(|a| fit(&a.describe(), 100)).unwrap_or_default()),
                    format!("reverse: {}", e.reverse.as_ref().map(|a| fit(&a.describe(), 100)).unwrap_or_default()),
                    format!("reason:  {}", fit(&e.reason, 200)),
                ],
            ),
            None => return,
        },
    };
    m.dialog = Some(Dialog::Details { title, lines });
}
