//! Owns turning mutating keys into confirm dialogs and confirmed dialogs into effects
//! (expected revision, idempotency key, reason). Pure: it must not do I/O or draw.

use super::dialog::{self, Confirm, Dialog, Intent, Phase};
use super::effect::Effect;
use super::keys::Cmd;
use super::model::{Model, Pane};
use crate::domain::{Action, ApprovalState, AuditKind, LadderState, Revision};
use crate::sanitize::clean;
use crate::wire::ActionRequest;
use crossterm::event::{Event as CtEvent, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::to_input_request;

/// Exposure steps for `+` / `-`.
pub const STEPS: [u8; 7] = [0, 1, 5, 10, 25, 50, 100];

/// The revision the operator is looking at for `action`'s target: the flag's, or for
/// freeze/unfreeze the state revision (an environment's revision never exceeds it).
pub fn target_revision(m: &Model, action: &Action) -> Revision {
    match action.flag() {
        Some(_) => action.target_revision(&m.data.state),
        None => m.data.revision,
    }
}

fn refuse_if_not_writable(m: &mut Model) -> bool {
    if !m.is_live() {
        let age = m.stale_secs().map(|s| format!(" (stale {s}s)")).unwrap_or_default();
        m.set_status(format!("refused: not connected{age}; the view may be out of date — wait until live"), true);
        return true;
    }
    if !m.can_act() {
        m.set_status(format!("refused: the {} role cannot change flags", m.data.identity.role.as_str()), true);
        return true;
    }
    false
}

/// Handles a mutating command (outside dialogs).
pub fn run_cmd(m: &mut Model, cmd: Cmd, new_idem_key: &str) {
    if refuse_if_not_writable(m) {
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
                    let reason = dialog::default_reason(&a, &m.flag_guardrails());
                    open_confirm(m, a, reason, new_idem_key);
                }
                _ if c.rolled_back => m.set_status(format!("{} is rolled back; `r` restores it first", clean(&c.name, 40)), true),
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
                        Some(p) => open_confirm(m, base(p), String::new(), new_idem_key),
                        None => m.set_status(format!("{} is already at {}%", clean(&c.name, 40), c.percent), true),
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
            open_confirm(m, a, String::new(), new_idem_key);
        }
        Cmd::Freeze => {
            let a = if m.is_frozen() { Action::Unfreeze { env } } else { Action::Freeze { env } };
            open_confirm(m, a, String::new(), new_idem_key);
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
    open_confirm(m, rev, reason, new_idem_key);
}

fn decide(m: &mut Model, approve: bool, new_idem_key: &str) {
    let Some(req) = m.selected_approval() else {
        return m.set_status("no request selected (Approvals pane)", true);
    };
    if req.state != ApprovalState::Pending {
        return m.set_status(format!("request {} is {}", clean(&req.id, 40), req.state.as_str()), true);
    }
    if approve && req.requested_by.name == m.data.identity.name {
        return m.set_status("you cannot approve your own request", true);
    }
    let intent = Intent::Decide { id: req.id.clone(), approve, action: req.action.clone() };
    let expected = Some(req.revision);
    let mut preview = dialog::preview(&req.action, &m.data.state, m.now);
    let verb = if approve { "approve" } else { "reject" };
    preview.title = format!("{verb} {}: {}", clean(&req.id, 40), preview.title);
    // Applying someone else's request may fail locally if state moved; the server decides.
    preview.error = None;
    let reason = if approve { String::new() } else { "rejected".to_string() };
    m.dialog = Some(Dialog::Confirm(Box::new(new_confirm(intent, preview, expected, reason, None, new_idem_key))));
}

fn new_confirm(intent: Intent, preview: dialog::Preview, expected: Option<Revision>, reason: String, typed: Option<String>, idem_key: &str) -> Confirm {
    let typing_focus = typed.is_some();
    Confirm {
        intent,
        preview,
        expected_revision: expected,
        idem_key: idem_key.to_string(),
        reason: Input::new(reason),
        typed: typed.map(|t| (t, Input::default())),
        typing_focus,
        phase: Phase::Editing,
    }
}

/// Opens the confirm dialog for `action`, checking locally that it applies.
pub fn open_confirm(m: &mut Model, action: Action, reason: String, new_idem_key: &str) {
    let p = dialog::preview(&action, &m.data.state, m.now);
    if let Some(e) = &p.error {
        return m.set_status(format!("cannot {}: {e}", action.verb()), true);
    }
    let typed = match &action {
        Action::Kill { flag, .. } => Some(dialog::kill_word(flag)),
        _ => None,
    };
    let expected = Some(target_revision(m, &action));
    m.dialog = Some(Dialog::Confirm(Box::new(new_confirm(Intent::Act(action), p, expected, reason, typed, new_idem_key))));
}

/// After a conflict, show the new state in the open dialog.
pub fn refresh_conflict_preview(m: &mut Model) {
    let now = m.now;
    if let Some(Dialog::Confirm(c)) = m.dialog.as_mut()
        && matches!(c.phase, Phase::Conflict(_))
        && let Intent::Act(a) = &c.intent
    {
        c.preview = dialog::preview(a, &m.data.state, now);
    }
}

pub fn confirm_key(m: &mut Model, k: KeyEvent, new_idem_key: &str) -> Vec<Effect> {
    let dcmd = super::update::dialog_cmd(m, &k);
    let Some(Dialog::Confirm(c)) = m.dialog.as_mut() else { return Vec::new() };
    match dcmd {
        Some(Cmd::Cancel) => {
            m.dialog = None;
            Vec::new()
        }
        Some(Cmd::SwitchField) => {
            if c.typed.is_some() {
                c.typing_focus = !c.typing_focus;
            }
            Vec::new()
        }
        Some(Cmd::Confirm) => send(m, new_idem_key),
        _ => {
            if let Some(req) = to_input_request(&CtEvent::Key(k)) {
                match (&mut c.typed, c.typing_focus) {
                    (Some((_, input)), true) => input.handle(req),
                    _ => c.reason.handle(req),
                };
            }
            Vec::new()
        }
    }
}

fn send(m: &mut Model, new_idem_key: &str) -> Vec<Effect> {
    if refuse_if_not_writable(m) {
        return Vec::new();
    }
    let new_rev = match m.dialog.as_ref() {
        Some(Dialog::Confirm(c)) => target_revision(m, c.intent.action()),
        _ => return Vec::new(),
    };
    let Some(Dialog::Confirm(c)) = m.dialog.as_mut() else { return Vec::new() };
    let reason = c.reason.value().trim().to_string();
    let problem = match &c.phase {
        Phase::Sending => Some("already sent; waiting for the answer".to_string()),
        _ if reason.is_empty() => Some("a reason is required".to_string()),
        _ if !c.typed_ok() => Some(format!("type `{}` to confirm", c.typed.as_ref().map(|t| t.0.as_str()).unwrap_or(""))),
        _ => c.preview.error.as_ref().map(|e| format!("cannot apply now: {e}")),
    };
    if let Some(p) = problem {
        m.set_status(p, true);
        return Vec::new();
    }
    match &c.phase {
        Phase::Conflict(_) | Phase::Failed { retry_same_key: false, .. } => {
            // A new decision: new key, and the revision now on screen.
            c.idem_key = new_idem_key.to_string();
            if let Intent::Act(_) = c.intent {
                c.expected_revision = Some(new_rev);
            }
        }
        _ => {}
    }
    c.phase = Phase::Sending;
    let idem_key = c.idem_key.clone();
    let fx = match &c.intent {
        Intent::Act(a) => Effect::Submit {
            req: ActionRequest { action: a.clone(), reason, expected_revision: c.expected_revision, source: Some("tui".into()) },
            idem_key,
        },
        Intent::Decide { id, approve, .. } => Effect::Decide { id: id.clone(), approve: *approve, reason, idem_key },
    };
    m.set_status("sending…", false);
    vec![fx]
}

/// Enter outside dialogs: details of the selected item.
pub fn open_details(m: &mut Model) {
    let (title, lines) = match m.focus {
        Pane::Flags | Pane::Ladder => match m.selected_flag() {
            Some(f) => (
                format!("flag {}", clean(&f.key, 60)),
                vec![
                    format!("description: {}", clean(&f.description, 200)),
                    format!("owner: {}   lifecycle: {:?}   kind: {:?}", clean(&f.owner, 40), f.lifecycle, f.kind),
                    format!("variations: {}", f.variations.iter().map(|v| clean(v, 30)).collect::<Vec<_>>().join(", ")),
                    format!("revision: {}", f.revision),
                ],
            ),
            None => return,
        },
        Pane::Guardrails => match m.selected_reading() {
            Some(r) => (
                format!("guardrail {} / {}", clean(&r.metric, 40), clean(&r.cohort, 40)),
                vec![
                    format!("rule: {}", clean(&r.rule, 80)),
                    format!("samples: {} (baseline {}, min {}) over {}s", r.samples, r.baseline_samples, r.min_samples, r.window_secs),
                    format!("source error: {}", r.source_error.as_deref().map(|s| clean(s, 120)).unwrap_or_else(|| "-".into())),
                ],
            ),
            None => return,
        },
        Pane::Approvals => match m.selected_approval() {
            Some(a) => {
                let mut lines = vec![
                    format!("action:  {}", clean(&a.action.describe(), 100)),
                    format!("reverse: {}", clean(&a.reverse.describe(), 100)),
                    format!("reason:  {}", clean(&a.reason, 200)),
                    format!("by: {} ({})   state: {}", clean(&a.requested_by.name, 40), a.requested_by.kind(), a.state.as_str()),
                    format!("created {}   expires {}", a.created_at.format("%H:%M:%S"), a.expires_at.format("%H:%M:%S")),
                ];
                for e in &a.evidence {
                    lines.push(format!(
                        "evidence: {} {} value {} vs {} (n={})",
                        clean(&e.metric, 30),
                        clean(&e.cohort, 30),
                        num(e.candidate),
                        num(e.baseline),
                        e.samples
                    ));
                }
                if let Some(g) = &a.evidence_gap {
                    lines.push(format!("evidence gap: {}", clean(g, 200)));
                }
                (format!("request {}", clean(&a.id, 40)), lines)
            }
            None => return,
        },
        Pane::Activity => match m.selected_audit() {
            Some(e) => (
                format!("audit #{}", e.id),
                vec![
                    format!("{} by {} via {}", e.at.format("%Y-%m-%d %H:%M:%S"), clean(&e.actor.name, 40), clean(&e.source, 20)),
                    format!("action:  {}", e.action.as_ref().map(|a| clean(&a.describe(), 100)).unwrap_or_default()),
                    format!("reverse: {}", e.reverse.as_ref().map(|a| clean(&a.describe(), 100)).unwrap_or_default()),
                    format!("reason:  {}", clean(&e.reason, 200)),
                ],
            ),
            None => return,
        },
    };
    m.dialog = Some(Dialog::Details { title, lines });
}

pub fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        v => crate::domain::guardrail::fmt_value(v),
    }
}
