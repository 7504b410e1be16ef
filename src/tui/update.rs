//! Owns `update(&mut Model, Event) -> Vec<Effect>`: navigation, data events, dialogs and
//! outcomes. Pure and quick: it must not await, block, do I/O or draw.

use super::actions;
use super::dialog::{Dialog, Phase};
use super::effect::{Effect, Event};
use super::keymap::Lookup;
use super::keys::{Cmd, KeyPress};
use super::model::{Conn, Model, Pane, StatusLine};
use crate::client::ClientError;
use crate::client::stream::StreamEvent;
use crate::sanitize::clean;
use crate::wire::{Outcome, OutcomeKind};
use crossterm::event::{Event as CtEvent, KeyCode, KeyEvent, KeyEventKind};
use tui_input::Input;
use tui_input::backend::crossterm::to_input_request;

pub fn update(m: &mut Model, ev: Event) -> Vec<Effect> {
    match ev {
        Event::Key(k) if k.kind == KeyEventKind::Release => Vec::new(),
        Event::Key(k) => on_key(m, k),
        Event::Snapshot(Ok(s)) => {
            let now = m.now;
            m.load_snapshot(*s, now);
            actions::refresh_conflict_preview(m);
            Vec::new()
        }
        Event::Snapshot(Err(e)) => {
            m.set_status(format!("snapshot failed: {}", clean(&e.to_string(), 120)), true);
            Vec::new()
        }
        Event::Stream(s) => on_stream(m, s),
        Event::Readings(u, arrived) => {
            m.apply_guardrails(u, arrived);
            Vec::new()
        }
        Event::Outcome { idem, result } => {
            on_outcome(m, &idem, result);
            std::mem::take(&mut m.pending_effects)
        }
        Event::Tick(now) => {
            let shown_before = age_label(m);
            m.now = now;
            if age_label(m) != shown_before {
                m.dirty = true;
            }
            Vec::new()
        }
        Event::Resize { height, .. } => {
            m.page = usize::from(height.saturating_sub(8)).max(1);
            m.dirty = true;
            Vec::new()
        }
    }
}

/// What the header/pane titles show about age; a change means a redraw is due.
fn age_label(m: &Model) -> (Option<i64>, i64) {
    let age = m.data_age_secs();
    (m.stale_secs(), if age >= super::model::AGE_SHOWN_AFTER_SECS { age } else { 0 })
}

fn on_stream(m: &mut Model, s: StreamEvent) -> Vec<Effect> {
    let now = m.now;
    match s {
        StreamEvent::Connected { revision } => {
            let was_down = !matches!(m.conn, Conn::Live);
            let gap = matches!(m.conn, Conn::Reconnecting { .. }) || revision > m.revision.0;
            m.conn = Conn::Live;
            m.dirty = true;
            if was_down && matches!(&m.status, Some(s) if s.error) {
                m.set_status("reconnected", false);
            }
            if gap { vec![Effect::FetchSnapshot] } else { Vec::new() }
        }
        StreamEvent::Change(c) => {
            m.apply_change(*c, now);
            actions::refresh_conflict_preview(m);
            Vec::new()
        }
        StreamEvent::Guardrails(g) => {
            m.apply_guardrails(g, now);
            Vec::new()
        }
        StreamEvent::Store(st) => {
            m.store = st;
            m.dirty = true;
            Vec::new()
        }
        StreamEvent::Reset { .. } => vec![Effect::FetchSnapshot],
        StreamEvent::Disconnected { reason, .. } => {
            let since = match &m.conn {
                Conn::Reconnecting { since, .. } => *since,
                _ => now,
            };
            m.conn = Conn::Reconnecting { since, reason: clean(&reason, 120) };
            m.dirty = true;
            Vec::new()
        }
    }
}

fn on_outcome(m: &mut Model, idem: &str, result: Result<Box<Outcome>, ClientError>) {
    let Some(Dialog::Confirm(c)) = m.dialog.as_mut() else {
        // The dialog was closed meanwhile: still report the outcome.
        match result {
            Ok(o) => report_success(m, &o),
            Err(e) => m.set_status(format!("failed: {}", clean(&e.to_string(), 160)), true),
        }
        return;
    };
    if c.idem_key != idem {
        return;
    }
    m.dirty = true;
    match result {
        Ok(o) => {
            m.dialog = None;
            report_success(m, &o);
        }
        Err(e) => {
            let msg = clean(&e.to_string(), 200);
            match &e {
                ClientError::Api { code, .. } if code == "conflict" => {
                    c.phase = Phase::Conflict(format!("changed since you looked — {msg}"));
                    m.set_status("conflict: changed since you looked; review the new state", true);
                    // The dialog stays open; the fresh snapshot updates its preview.
                    m.pending_effects.push(Effect::FetchSnapshot);
                }
                ClientError::Api { code, .. } => {
                    let what = if code == "forbidden" { "denied" } else { "invalid" };
                    c.phase = Phase::Failed { msg: format!("{what}: {msg}"), retry_same_key: false };
                    m.set_status(format!("{what}: {msg}"), true);
                }
                _ => {
                    c.phase = Phase::Failed { msg: format!("not confirmed: {msg} — Enter retries safely"), retry_same_key: true };
                    m.set_status(format!("not confirmed: {msg}"), true);
                }
            }
        }
    }
}

fn report_success(m: &mut Model, o: &Outcome) {
    let what = clean(&o.action.describe(), 80);
    let text = match o.outcome {
        OutcomeKind::Applied => {
            if let Some(id) = o.audit_id {
                m.own_last = Some(id);
            }
            let id = o.audit_id.map(|i| format!(" (audit #{i})")).unwrap_or_default();
            format!("applied: {what}{id} — reverse: {}", clean(&o.reverse.describe(), 60))
        }
        OutcomeKind::Requested => {
            let id = o.approval_id.as_ref().map(|i| clean(i, 40)).unwrap_or_default();
            format!("requested: {what} needs approval ({id})")
        }
        OutcomeKind::Rejected => format!("rejected: {what}"),
    };
    m.set_status(text, false);
}

fn on_key(m: &mut Model, k: KeyEvent) -> Vec<Effect> {
    m.dirty = true;
    let mut fx = if m.dialog.is_some() { on_dialog_key(m, k) } else { on_cmd_key(m, k) };
    fx.append(&mut m.pending_effects);
    fx
}

fn input_key(input: &mut Input, k: KeyEvent) {
    if let Some(req) = to_input_request(&CtEvent::Key(k)) {
        input.handle(req);
    }
}

/// What a key means in a dialog per the keymap's [dialog] context.
pub(crate) fn dialog_cmd(m: &Model, k: &KeyEvent) -> Option<Cmd> {
    m.keymap.dialog(KeyPress::from_event(k))
}

fn on_dialog_key(m: &mut Model, k: KeyEvent) -> Vec<Effect> {
    let dcmd = dialog_cmd(m, &k);
    let Some(dialog) = m.dialog.as_mut() else { return Vec::new() };
    match dialog {
        Dialog::Help | Dialog::Details { .. } => {
            m.dialog = None;
            Vec::new()
        }
        Dialog::Filter(input) => {
            match dcmd {
                Some(Cmd::Cancel) => {
                    m.filter.clear();
                    m.dialog = None;
                }
                Some(Cmd::Confirm) => m.dialog = None,
                _ => {
                    input_key(input, k);
                    m.filter = input.value().to_string();
                    m.flag_sel = 0;
                }
            }
            let keep = m.selected_flag_key().cloned();
            m.refilter(keep);
            Vec::new()
        }
        Dialog::Command(input) => match dcmd {
            Some(Cmd::Cancel) => {
                m.dialog = None;
                Vec::new()
            }
            Some(Cmd::Confirm) => {
                let line = input.value().to_string();
                m.dialog = None;
                run_command(m, &line)
            }
            _ => {
                input_key(input, k);
                Vec::new()
            }
        },
        Dialog::Percent { input, action_base, current } => match dcmd {
            Some(Cmd::Cancel) => {
                m.dialog = None;
                Vec::new()
            }
            Some(Cmd::Confirm) => {
                let text = input.value().trim().trim_end_matches('%').to_string();
                match text.parse::<u8>() {
                    Ok(p) if p <= 100 && p != *current => {
                        let mut a = action_base.clone();
                        if let crate::domain::Action::SetPercent { percent, .. } = &mut a {
                            *percent = p;
                        }
                        m.dialog = None;
                        actions::open_confirm(m, a, String::new());
                    }
                    Ok(p) if p == *current => m.set_status(format!("already at {p}%"), true),
                    _ => m.set_status("enter a whole percent 0–100", true),
                }
                Vec::new()
            }
            _ => {
                input_key(input, k);
                Vec::new()
            }
        },
        Dialog::Confirm(_) => actions::confirm_key(m, k),
    }
}

fn run_command(m: &mut Model, line: &str) -> Vec<Effect> {
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("q" | "quit"), _) => {
            m.quit = true;
            vec![Effect::Quit]
        }
        (Some("env"), Some(name)) => {
            match m.state.environments.iter().find(|e| e.key.as_str() == name) {
                Some(e) => {
                    let env = e.key.clone();
                    m.set_env(env);
                }
                None => m.set_status(format!("no environment `{}`", clean(name, 40)), true),
            }
            Vec::new()
        }
        (Some("flag"), Some(key)) => {
            m.filter.clear();
            m.refilter(None);
            match m.visible.iter().position(|f| f.as_str() == key) {
                Some(i) => {
                    m.flag_sel = i;
                    m.cohort_sel = 0;
                    m.clamp();
                }
                None => m.set_status(format!("no flag `{}`", clean(key, 60)), true),
            }
            Vec::new()
        }
        (Some("freeze"), _) => {
            actions::run_cmd(m, Cmd::Freeze);
            Vec::new()
        }
        _ => {
            m.set_status(format!("unknown command `{}` (try :env NAME, :flag KEY, :freeze, :quit)", clean(line, 40)), true);
            Vec::new()
        }
    }
}

fn on_cmd_key(m: &mut Model, k: KeyEvent) -> Vec<Effect> {
    let mut seq = std::mem::take(&mut m.pending_keys);
    seq.push(KeyPress::from_event(&k));
    let cmd = match m.keymap.lookup(m.focus, &seq) {
        Lookup::Exact(c) => c,
        Lookup::Prefix => {
            m.pending_keys = seq;
            return Vec::new();
        }
        // An unbound key after a prefix drops the sequence; a bare Esc still clears.
        Lookup::None if seq.len() > 1 || k.code == KeyCode::Esc => Cmd::Cancel,
        Lookup::None => return Vec::new(),
    };
    match cmd {
        Cmd::Cancel => m.status = None,
        Cmd::Confirm | Cmd::SwitchField => {}
        Cmd::Zoom => m.zoom = !m.zoom,
        Cmd::Quit => {
            m.quit = true;
            return vec![Effect::Quit];
        }
        Cmd::Up => move_sel(m, -1),
        Cmd::Down => move_sel(m, 1),
        Cmd::PageUp => move_sel(m, -(m.page as isize)),
        Cmd::PageDown => move_sel(m, m.page as isize),
        Cmd::Top => move_sel(m, isize::MIN / 2),
        Cmd::Bottom => move_sel(m, isize::MAX / 2),
        Cmd::NextPane | Cmd::PrevPane => {
            let i = Pane::ALL.iter().position(|p| *p == m.focus).unwrap_or(0);
            let n = Pane::ALL.len();
            let j = if cmd == Cmd::NextPane { (i + 1) % n } else { (i + n - 1) % n };
            m.focus = Pane::ALL[j];
        }
        Cmd::Details => actions::open_details(m),
        Cmd::Filter => m.dialog = Some(Dialog::Filter(Input::new(m.filter.clone()))),
        Cmd::Sort => {
            m.sort = m.sort.next();
            let keep = m.selected_flag_key().cloned();
            m.refilter(keep);
            m.status = Some(StatusLine { text: format!("flags sorted {}", m.sort.label()), error: false });
            m.dirty = true;
        }
        Cmd::Command => m.dialog = Some(Dialog::Command(Input::default())),
        Cmd::Help => m.dialog = Some(Dialog::Help),
        Cmd::CycleEnv => {
            let envs = &m.state.environments;
            if !envs.is_empty() {
                let i = envs.iter().position(|e| e.key == m.env).map_or(0, |i| (i + 1) % envs.len());
                let env = envs[i].key.clone();
                m.cohort_sel = 0;
                m.set_env(env);
            }
        }
        other => actions::run_cmd(m, other),
    }
    Vec::new()
}

fn step(cur: usize, len: usize, delta: isize) -> usize {
    if len == 0 {
        return 0;
    }
    let next = (cur as isize).saturating_add(delta).clamp(0, len as isize - 1);
    next as usize
}

fn move_sel(m: &mut Model, delta: isize) {
    match m.focus {
        Pane::Flags => {
            let before = m.flag_sel;
            m.flag_sel = step(m.flag_sel, m.visible.len(), delta);
            if before != m.flag_sel {
                m.cohort_sel = 0;
                m.guard_sel = 0;
            }
        }
        Pane::Ladder => m.cohort_sel = step(m.cohort_sel, m.cohorts().len(), delta),
        Pane::Guardrails => m.guard_sel = step(m.guard_sel, m.flag_guardrails().len(), delta),
        Pane::Approvals => m.approval_sel = step(m.approval_sel, m.approvals.len(), delta),
        Pane::Activity => m.audit_sel = step(m.audit_sel, m.audit.len(), delta),
    }
}
