//! Owns `update(&mut Model, Event) -> Step`: navigation, data events, dialogs and outcomes.
//! Pure, deterministic and quick: it must not await, block, do I/O, read clocks, draw random
//! numbers (ids come in with the events) or draw.

use super::commands;
use super::confirm;
use super::dialog::Dialog;
use super::effect::{Effect, Event, Step};
use super::keymap::Lookup;
use super::keys::{Cmd, KeyPress};
use super::model::{Conn, Model, Pane, StatusLine};
use crate::client::ClientError;
use crate::client::stream::StreamEvent;
use crate::tui::text::fit;
use crossterm::event::{Event as CtEvent, KeyCode, KeyEvent, KeyEventKind};
use tui_input::Input;
use tui_input::backend::crossterm::to_input_request;

pub fn update(m: &mut Model, ev: Event) -> Step {
    let data = matches!(
        ev,
        Event::Snapshot(_) | Event::Stream(_) | Event::Readings(..)
    );
    let mut step = step(m, ev);
    // Both are asked (each remembers what it announced); one bell for both.
    if data && (m.ring_for_new_breach() | m.ring_for_new_request()) {
        step.effects.push(Effect::Bell);
    }
    step
}

fn step(m: &mut Model, ev: Event) -> Step {
    match ev {
        Event::Key { key, .. } if key.kind == KeyEventKind::Release => Step::redraw(false),
        Event::Key { key, new_idem_key } => Step::run(on_key(m, key, &new_idem_key)),
        Event::Snapshot(Ok(s)) => {
            reached(m);
            let now = m.now;
            // The control plane's lifecycle rules (its `config.toml`) judge stages here too.
            m.flags.rules = s.lifecycle_rules;
            m.data.load_snapshot(*s, now);
            m.data_changed(true);
            confirm::refresh_conflict_preview(m);
            Step::redraw(true)
        }
        Event::Snapshot(Err(e)) => {
            note_reach(m, &e);
            m.set_status(
                format!("snapshot failed: {}", fit(&e.to_string(), 120)),
                true,
            );
            Step::redraw(true)
        }
        Event::Stream(s) => on_stream(m, s),
        Event::Readings(u, arrived) => Step::redraw(apply_guardrails(m, u, arrived)),
        Event::Outcome { idem_key, result } => {
            let before = m.data.conn.clone();
            match &result {
                Err(e) => note_reach(m, e),
                Ok(_) => reached(m),
            }
            let mut step = confirm::on_outcome(m, &idem_key, result);
            // The header shows whether the plane is reachable.
            step.redraw |= m.data.conn != before;
            step
        }
        Event::Tick(now) => {
            let shown_before = age_label(m);
            m.now = now;
            Step::redraw(age_label(m) != shown_before)
        }
        Event::Resize { height, .. } => {
            m.page = usize::from(height.saturating_sub(8)).max(1);
            Step::redraw(true)
        }
    }
}

/// What the header/pane titles show about age; a change means a redraw is due.
fn age_label(m: &Model) -> (Option<i64>, i64) {
    let age = m.data_age_secs();
    (
        m.stale_secs(),
        if age >= super::model::AGE_SHOWN_AFTER_SECS {
            age
        } else {
            0
        },
    )
}

/// Merges readings; true when one is for the environment on screen (the others are kept for
/// when the operator switches to theirs, and cost no redraw).
fn apply_guardrails(
    m: &mut Model,
    u: crate::client::Clean<crate::wire::GuardrailUpdate>,
    arrived: chrono::DateTime<chrono::Utc>,
) -> bool {
    if !m.data.apply_guardrails(u, arrived, &m.env) {
        return false;
    }
    let reorder = m.flags.sort == super::model::SortBy::Attention;
    m.data_changed(reorder);
    true
}

/// A request failed: when it never got an answer, the header stops saying live (the stream
/// may still be up while this process cannot open a connection). An error the server sent
/// proves it was reached.
fn note_reach(m: &mut Model, e: &ClientError) {
    match e {
        ClientError::Unreachable { .. }
        | ClientError::Timeout { .. }
        | ClientError::Interrupted { .. } => {
            let stream_up = match &m.data.conn {
                Conn::Live => true,
                Conn::Unreachable { stream_up, .. } => *stream_up,
                // The stream's own state says more (and when it is back, the view is live).
                Conn::Connecting | Conn::Reconnecting { .. } => return,
            };
            m.data.conn = Conn::Unreachable {
                reason: fit(&e.to_string(), 120),
                stream_up,
            };
        }
        ClientError::Api { .. } | ClientError::Protocol(_) => reached(m),
    }
}

/// A request got an answer: a view that was live before the failure is live again.
fn reached(m: &mut Model) {
    if let Conn::Unreachable { stream_up, .. } = m.data.conn {
        m.data.conn = if stream_up {
            Conn::Live
        } else {
            Conn::Connecting
        };
    }
}

fn on_stream(m: &mut Model, s: StreamEvent) -> Step {
    let now = m.now;
    match s {
        StreamEvent::Connected { revision } => {
            let was_down = !matches!(m.data.conn, Conn::Live);
            let gap =
                matches!(m.data.conn, Conn::Reconnecting { .. }) || revision > m.data.revision.0;
            m.data.conn = Conn::Live;
            if was_down && matches!(&m.status, Some(s) if s.error) {
                m.set_status("reconnected", false);
            }
            Step::run(if gap {
                vec![Effect::FetchSnapshot]
            } else {
                Vec::new()
            })
        }
        StreamEvent::Change(c) => {
            let new_keys = m.data.apply_change(*c, now);
            // A change can move a flag in the attention order (paused, a new request).
            m.data_changed(new_keys || m.flags.sort == super::model::SortBy::Attention);
            confirm::refresh_conflict_preview(m);
            Step::redraw(true)
        }
        StreamEvent::Replica(url) => {
            // The header names the replica the TUI is on (`--backend A,B`).
            m.data.backend_label = crate::sanitize::sanitize(&url).into_owned();
            Step::redraw(true)
        }
        StreamEvent::Guardrails(g) => Step::redraw(apply_guardrails(m, g, now)),
        StreamEvent::Store(st) => {
            m.data.store = st.into_inner();
            Step::redraw(true)
        }
        StreamEvent::Webhooks(h) => {
            let failing = super::model::failing(&h);
            let changed = failing != m.data.webhooks_failing;
            m.data.webhooks_failing = failing;
            Step::redraw(changed)
        }
        StreamEvent::Reset { .. } => Step {
            effects: vec![Effect::FetchSnapshot],
            redraw: false,
        },
        StreamEvent::Disconnected { reason, .. } => {
            let since = match &m.data.conn {
                Conn::Reconnecting { since, .. } => *since,
                _ => now,
            };
            m.data.conn = Conn::Reconnecting {
                since,
                reason: fit(&reason, 120),
            };
            Step::redraw(true)
        }
    }
}

fn on_key(m: &mut Model, k: KeyEvent, new_idem_key: &str) -> Vec<Effect> {
    if m.dialog.is_some() {
        on_dialog_key(m, k, new_idem_key)
    } else {
        on_cmd_key(m, k, new_idem_key)
    }
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

fn on_dialog_key(m: &mut Model, k: KeyEvent, new_idem_key: &str) -> Vec<Effect> {
    let dcmd = dialog_cmd(m, &k);
    let Some(dialog) = m.dialog.as_mut() else {
        return Vec::new();
    };
    match dialog {
        Dialog::Help => {
            m.dialog = None;
            Vec::new()
        }
        Dialog::Details(_) => {
            commands::details::on_key(m, &k, dcmd);
            Vec::new()
        }
        Dialog::Filter(input) => {
            match dcmd {
                Some(Cmd::Cancel) => {
                    m.flags.filter.clear();
                    m.dialog = None;
                }
                Some(Cmd::Confirm) => m.dialog = None,
                _ => {
                    input_key(input, k);
                    m.flags.filter = input.value().to_string();
                    m.flags.sel.select_row(0, &m.flags.visible);
                }
            }
            m.refilter();
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
                commands::line::run_command(m, &line, new_idem_key)
            }
            _ => {
                input_key(input, k);
                Vec::new()
            }
        },
        Dialog::Percent {
            input,
            action_base,
            current,
        } => match dcmd {
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
                        confirm::open(m, a, String::new(), new_idem_key);
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
        Dialog::Confirm(_) => confirm::on_key(m, k, new_idem_key),
        Dialog::Choose(_) => {
            commands::on_choose_key(m, &k, dcmd, new_idem_key);
            Vec::new()
        }
    }
}

fn on_cmd_key(m: &mut Model, k: KeyEvent, new_idem_key: &str) -> Vec<Effect> {
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
    // A new command makes the last message old news: it goes (the command may set a new one).
    if !matches!(cmd, Cmd::Cancel) {
        m.status = None;
    }
    match cmd {
        Cmd::Cancel => m.status = None,
        Cmd::Confirm | Cmd::SwitchField => {}
        Cmd::Zoom => m.zoom = !m.zoom,
        Cmd::Quit => return vec![Effect::Quit],
        Cmd::Up => m.move_selection(-1),
        Cmd::Down => m.move_selection(1),
        Cmd::PageUp => m.move_selection(-(m.page as isize)),
        Cmd::PageDown => m.move_selection(m.page as isize),
        Cmd::Top => m.move_selection(isize::MIN / 2),
        Cmd::Bottom => m.move_selection(isize::MAX / 2),
        Cmd::NextPane | Cmd::PrevPane => {
            let i = Pane::ALL.iter().position(|p| *p == m.focus).unwrap_or(0);
            let n = Pane::ALL.len();
            let j = if cmd == Cmd::NextPane {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            m.focus = Pane::ALL[j];
        }
        Cmd::Details => commands::details::open(m),
        Cmd::JumpToBreach => commands::jump_to_breach(m),
        Cmd::Cleanup => {
            m.dialog = Some(Dialog::Details(super::dialog::Details {
                target: super::dialog::Target::Cleanup,
                scroll: 0,
            }))
        }
        Cmd::Filter => m.dialog = Some(Dialog::Filter(Input::new(m.flags.filter.clone()))),
        Cmd::Sort => {
            m.flags.sort = m.flags.sort.next();
            m.refilter();
            m.status = Some(StatusLine {
                text: format!("flags sorted {}", m.flags.sort.label()),
                error: false,
            });
        }
        Cmd::Command => m.dialog = Some(Dialog::Command(Input::default())),
        Cmd::Help => m.dialog = Some(Dialog::Help),
        Cmd::CycleEnv => {
            let envs = &m.data.state.environments;
            if !envs.is_empty() {
                let i = envs
                    .iter()
                    .position(|e| e.key == m.env)
                    .map_or(0, |i| (i + 1) % envs.len());
                let env = envs[i].key.clone();
                m.ladder.sel.reset();
                m.set_env(env);
            }
        }
        other => commands::run_cmd(m, other, new_idem_key),
    }
    Vec::new()
}
