//! Owns the confirm flow's transitions: opening it for an action or a decision (checking
//! locally that it applies), editing the reason and typed confirmation, sending (expected
//! revision, idempotency key); the answer is `outcome.rs`. Pure: it must not do I/O or draw.

use super::preview::{Preview, kill_word, preview};
use super::state::{Confirm, Intent, Phase};
use crate::domain::{Action, ApprovalRequest, Revision};
use crate::tui::dialog::Dialog;
use crate::tui::effect::Effect;
use crate::tui::keys::{Cmd, KeyPress};
use crate::tui::model::{Conn, Model};
use crate::tui::text::fit;
use crate::wire::ActionRequest;
use crossterm::event::{Event as CtEvent, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::to_input_request;

/// The revision the operator is looking at for `action`'s target: the flag's, or for
/// freeze/unfreeze the state revision (an environment's revision never exceeds it).
pub fn target_revision(m: &Model, action: &Action) -> Revision {
    match action.flag() {
        Some(_) => action.target_revision(&m.data.state),
        None => m.data.revision,
    }
}

/// Says why nothing may be sent now (stale view, read-only role), on the status line.
pub fn refuse_if_not_writable(m: &mut Model) -> bool {
    // After a request that could not get through, the stream still keeps the view current:
    // the operator may try again (an answer makes the header live again).
    let current = m.is_live()
        || matches!(
            m.data.conn,
            Conn::Unreachable {
                stream_up: true,
                ..
            }
        );
    if !current {
        let age = m
            .stale_secs()
            .map(|s| format!(" (stale {s}s)"))
            .unwrap_or_default();
        m.set_status(
            format!("refused: not connected{age}; the view may be out of date — wait until live"),
            true,
        );
        return true;
    }
    if !m.can_act() {
        m.set_status(
            format!(
                "refused: the {} role cannot change flags",
                m.data.identity.role.as_str()
            ),
            true,
        );
        return true;
    }
    false
}

fn new_confirm(
    intent: Intent,
    preview: Preview,
    expected: Option<Revision>,
    reason: String,
    typed: Option<String>,
    idem_key: &str,
) -> Confirm {
    let typing_focus = typed.is_some();
    Confirm {
        intent,
        preview,
        expected_revision: expected,
        idem_key: idem_key.to_string(),
        reason_selected: !reason.is_empty(),
        reason: Input::new(reason),
        typed: typed.map(|t| (t, Input::default())),
        typing_focus,
        phase: Phase::Editing,
    }
}

/// Opens the confirm dialog for `action`, checking locally that it applies.
pub fn open(m: &mut Model, action: Action, reason: String, new_idem_key: &str) {
    let p = preview(&action, &m.data.state, m.now);
    if let Some(e) = &p.error {
        return m.set_status(format!("cannot {}: {e}", action.verb()), true);
    }
    let typed = match &action {
        Action::Kill { flag, .. } => Some(kill_word(flag)),
        _ => None,
    };
    let expected = Some(target_revision(m, &action));
    m.dialog = Some(Dialog::Confirm(Box::new(new_confirm(
        Intent::Act(action),
        p,
        expected,
        reason,
        typed,
        new_idem_key,
    ))));
}

/// Opens the confirm dialog for a decision on the request `req` (its checks are the caller's:
/// pending, not one's own). The preview shows the request's action on the state on screen.
pub fn open_decision(m: &mut Model, req: &ApprovalRequest, approve: bool, new_idem_key: &str) {
    let intent = Intent::Decide {
        id: req.id.clone(),
        approve,
        action: req.action.clone(),
    };
    let mut p = preview(&req.action, &m.data.state, m.now);
    let withdraw = !approve && req.requested_by.name == m.data.identity.name;
    let verb = if approve {
        "approve"
    } else if withdraw {
        "withdraw"
    } else {
        "reject"
    };
    p.title = format!("{verb} {}: {}", fit(&req.id, 40), p.title);
    // Applying someone else's request may fail locally if state moved; the server decides.
    p.error = None;
    if approve {
        // Approving applies the change now: it does not become another request.
        p.needs_approval = false;
        p.change
            .push("approving applies this change now".to_string());
    } else {
        let closed = if withdraw {
            "your request is withdrawn"
        } else {
            "the request is closed as rejected"
        };
        p.change = vec![format!("nothing changes: {closed}; no flag is touched")];
        p.blast = "none".to_string();
        p.reverse = None;
        p.tier = crate::domain::Tier::Hold;
        p.needs_approval = false;
    }
    let reason = if approve {
        String::new()
    } else if withdraw {
        "withdrawn".to_string()
    } else {
        "rejected".to_string()
    };
    m.dialog = Some(Dialog::Confirm(Box::new(new_confirm(
        intent,
        p,
        Some(req.revision),
        reason,
        None,
        new_idem_key,
    ))));
}

/// After new data: a dialog whose flag changed while it was open says so before anything is
/// sent (Enter then re-decides on the new state), and after a conflict the dialog shows the new
/// state.
pub fn refresh_conflict_preview(m: &mut Model) {
    let now = m.now;
    let current = match m.dialog.as_ref() {
        Some(Dialog::Confirm(c)) => match &c.intent {
            Intent::Act(a) if a.flag().is_some() => Some(target_revision(m, a)),
            _ => None,
        },
        _ => None,
    };
    let mut moved = false;
    if let Some(Dialog::Confirm(c)) = m.dialog.as_mut()
        && let Intent::Act(a) = &c.intent
    {
        if c.phase == Phase::Editing
            && let (Some(now_rev), Some(seen)) = (current, c.expected_revision)
            && now_rev != seen
        {
            c.phase = Phase::Conflict(format!(
                "changed while this dialog was open (revision {seen} → {now_rev}); nothing was sent"
            ));
            moved = true;
        }
        if matches!(c.phase, Phase::Conflict(_)) {
            c.preview = preview(a, &m.data.state, now);
        }
    }
    if moved {
        m.set_status(
            "the target changed underneath: review the new state before sending",
            true,
        );
    }
}

/// A key while the confirm dialog is open.
pub fn on_key(m: &mut Model, k: KeyEvent, new_idem_key: &str) -> Vec<Effect> {
    let dcmd = m.keymap.dialog(KeyPress::from_event(&k));
    let Some(Dialog::Confirm(c)) = m.dialog.as_mut() else {
        return Vec::new();
    };
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
            let reason_field = c.typed.is_none() || !c.typing_focus;
            if reason_field && std::mem::take(&mut c.reason_selected) {
                use crossterm::event::KeyCode;
                match k.code {
                    // The selected prefill is replaced by what is typed, or cleared.
                    KeyCode::Char(_) => c.reason = Input::default(),
                    KeyCode::Backspace | KeyCode::Delete => {
                        c.reason = Input::default();
                        return Vec::new();
                    }
                    _ => {}
                }
            }
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
    let Some(Dialog::Confirm(c)) = m.dialog.as_mut() else {
        return Vec::new();
    };
    let reason = c.reason.value().trim().to_string();
    let problem = match &c.phase {
        Phase::Sending => Some("already sent; waiting for the answer".to_string()),
        _ if reason.is_empty() => Some("a reason is required".to_string()),
        _ if !c.typed_ok() => Some(format!(
            "type `{}` to confirm",
            c.typed.as_ref().map(|t| t.0.as_str()).unwrap_or("")
        )),
        _ => c
            .preview
            .error
            .as_ref()
            .map(|e| format!("cannot apply now: {e}")),
    };
    if let Some(p) = problem {
        m.set_status(p, true);
        return Vec::new();
    }
    match &c.phase {
        Phase::Conflict(_)
        | Phase::Failed {
            retry_same_key: false,
            ..
        } => {
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
            req: ActionRequest {
                action: a.clone(),
                reason,
                expected_revision: c.expected_revision,
                source: Some("tui".into()),
            },
            idem_key,
        },
        Intent::Decide { id, approve, .. } => Effect::Decide {
            id: id.clone(),
            approve: *approve,
            reason,
            idem_key,
        },
    };
    m.set_status("sending…", false);
    vec![fx]
}
