//! Owns the terminal and the event loop: init/restore (panic hook, SIGTERM, SIGHUP, closed TTY),
//! one bounded inbox drained in batches, effects run on tokio tasks, redraw only when the model
//! is dirty; no periodic tick while live (a timer only for when a time on screen changes its
//! text, and a 1 s tick while the data is stale). Must not hold model logic or print to
//! stdout/stderr while the TUI owns the screen.

use super::color_filter::SgrFilter;
use super::effect::{Effect, Event};
use super::model::Model;
use super::readings::Readings;
use super::screen::Screen;
use super::theme::Theme;
use super::{Limits, TuiOptions, update, view};
use crate::client::http::idempotency_key;
use crate::client::stream::{StreamEvent, follow};
use crate::client::{Clean, Client};
use chrono::Utc;
use color_eyre::eyre::{WrapErr, eyre};
use crossterm::event::{Event as CtEvent, EventStream};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

mod pace;
use pace::Pace;

/// Inbox capacity: producers wait (back-pressure) rather than growing memory.
const INBOX: usize = 1024;

/// The terminal: crossterm through the colour filter (16 colours, or none for NO_COLOR).
type Term = Terminal<CrosstermBackend<SgrFilter<std::io::Stdout>>>;

/// Runs the TUI until the user quits. Owns the terminal: restores it on exit, error, panic,
/// SIGTERM, SIGHUP.
pub async fn run(client: Client, mut opts: TuiOptions) -> color_eyre::Result<()> {
    // Fetch before taking the screen so a failure prints normally.
    let snap = match opts.first_snapshot.take() {
        Some(s) => *s,
        None => client
            .snapshot_clean()
            .await
            .map_err(|e| eyre!("{e}"))
            .wrap_err("cannot load the first snapshot")?,
    };
    let mut model = Model::new(
        snap,
        &opts.backend_label,
        opts.initial_env.as_deref(),
        opts.keymap,
        Utc::now(),
    );
    model.bell = opts.bell;
    // Breaches already there at start are not news.
    let _ = model.ring_for_new_breach();
    let _ = model.ring_for_new_request();
    if let Some(n) = opts.notice {
        // Before the loop starts: part of the first state, like the snapshot.
        model.set_status(crate::sanitize::sanitize(&n), true);
    }
    let mut sigterm = signal(SignalKind::terminate()).wrap_err("cannot watch SIGTERM")?;
    let mut sighup = signal(SignalKind::hangup()).wrap_err("cannot watch SIGHUP")?;
    // Raw mode, alternate screen, and a panic hook that restores the terminal, then chains the
    // previous hook. Drawing goes through our own writer so colours can be filtered.
    drop(ratatui::try_init().wrap_err("cannot set up the terminal")?);
    let result = match Terminal::new(CrosstermBackend::new(SgrFilter::new(
        std::io::stdout(),
        opts.color,
    ))) {
        Ok(mut terminal) => {
            let r = event_loop(
                &mut terminal,
                client,
                model,
                &opts.theme,
                opts.limits,
                &mut sigterm,
                &mut sighup,
            )
            .await;
            // When the TTY is gone (SSH drop) showing the cursor fails, and ratatui's Drop would
            // then `eprintln!` to the dead terminal, which panics: skip that Drop instead.
            if terminal.show_cursor().is_err() {
                std::mem::forget(terminal);
            }
            r
        }
        Err(e) => Err(eyre!("cannot set up the terminal: {e}")),
    };
    // Not `ratatui::restore()`: it `eprintln!`s on failure, which panics on a closed TTY.
    let _ = ratatui::try_restore();
    result
}

async fn event_loop(
    terminal: &mut Term,
    client: Client,
    model: Model,
    theme: &Theme,
    limits: Limits,
    sigterm: &mut tokio::signal::unix::Signal,
    sighup: &mut tokio::signal::unix::Signal,
) -> color_eyre::Result<()> {
    let batch_max = limits.batch.max(1);
    // Redraws: a few at once, then at most `max_fps` a second: a burst of changes becomes one frame.
    let mut pace = Pace::new(limits.max_fps);
    let mut last_draw = tokio::time::Instant::now();
    let (tx, mut rx) = mpsc::channel::<Event>(INBOX);
    let (stx, mut srx) = mpsc::channel::<StreamEvent>(64);
    // The stream brings guardrail readings for the environment on screen only (`env_tx`).
    let (env_tx, env_rx) = tokio::sync::watch::channel(model.env.clone());
    let stream_task = tokio::spawn(follow(
        client.clone(),
        Some(model.data.revision.0),
        Some(env_rx),
        stx,
    ));
    // Guardrail readings wait in `readings` (merged by series) instead of the inbox: only those
    // for the environment on screen wake the loop.
    let readings = Arc::new(Readings::new(model.env.clone()));
    let (fwd_tx, fwd_readings) = (tx.clone(), readings.clone());
    let fwd_task = tokio::spawn(async move {
        while let Some(ev) = srx.recv().await {
            let ev = match ev {
                StreamEvent::Guardrails(u) => {
                    fwd_readings.put(u, Utc::now());
                    continue;
                }
                ev => Event::Stream(ev),
            };
            if fwd_tx.send(ev).await.is_err() {
                break;
            }
        }
    });
    let mut keys = EventStream::new();
    let mut tty = super::tty_watch::TtyWatch::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(limits.stale_tick_ms.max(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut batch = Vec::with_capacity(batch_max);
    let mut screen = Screen::new();
    let mut lp = Loop {
        model,
        client,
        tx,
        dirty: true,
        quit: false,
        bell: false,
    };
    if let Ok(size) = terminal.size() {
        lp.handle(Event::Resize {
            width: size.width,
            height: size.height,
        });
    }
    let mut hooks = super::test_hooks::Hooks::from_env();
    // The answer to the operator's own action is drawn at once, whatever the pacing says.
    let mut answer = false;
    let result = loop {
        let model = &lp.model;
        env_tx.send_if_modified(|e| {
            let switched = *e != model.env;
            if switched {
                e.clone_from(&model.env);
            }
            switched
        });
        if let Some((u, arrived)) = readings.take(&lp.model.env) {
            lp.handle(Event::Readings(u, arrived));
        }
        if lp.quit {
            break Ok(());
        }
        if std::mem::take(&mut lp.bell) {
            // BEL through the terminal's own writer: the one thread that owns terminal I/O.
            use std::io::Write;
            let w = terminal.backend_mut();
            let _ = w.write_all(b"\x07").and_then(|()| w.flush());
        }
        if lp.dirty
            && (answer || pace.ready_at(tokio::time::Instant::now()) <= tokio::time::Instant::now())
        {
            if let Err(e) = screen.draw(terminal, |f| view::frame(f, &lp.model, theme)) {
                tracing::info!(error = %e, "drawing failed; the TUI stops");
                break Err(eyre!("drawing failed: {e}"));
            }
            lp.dirty = false;
            answer = false;
            last_draw = tokio::time::Instant::now();
            pace.spend(last_draw);
            hooks.drawn(last_draw);
        }
        let draw_due = lp.dirty.then(|| pace.ready_at(tokio::time::Instant::now()));
        // A time on screen (an age, a countdown) changes its text then: redraw without a tick.
        let clock_due = view::next_clock_change(&lp.model).map(instant_at);
        tokio::select! {
            _ = tokio::time::sleep_until(draw_due.unwrap_or(last_draw)), if draw_due.is_some() => {}
            _ = tokio::time::sleep_until(clock_due.unwrap_or(last_draw)), if clock_due.is_some() => {
                lp.handle(Event::Tick(Utc::now()));
                lp.dirty = true;
            }
            _ = readings.shown_arrived() => {
                lp.handle(Event::Tick(Utc::now()));
            }
            _ = hooks.due(), if hooks.armed() => hooks.fire(),
            _ = sigterm.recv() => {
                tracing::info!("SIGTERM; the TUI stops");
                break Ok(());
            }
            _ = sighup.recv() => {
                tracing::info!("SIGHUP; the TUI stops");
                break Ok(());
            }
            // The terminal hung up, whether or not SIGHUP came (`nohup`): stop instead of spinning.
            () = tty.hung_up() => {
                tracing::info!("the terminal hung up; the TUI stops");
                break Ok(());
            }
            ev = keys.next() => match ev {
                Some(Ok(CtEvent::Key(key))) => {
                    lp.handle(Event::Tick(Utc::now()));
                    lp.handle(Event::Key { key, new_idem_key: idempotency_key() });
                }
                Some(Ok(CtEvent::Resize(width, height))) => {
                    terminal.autoresize().ok();
                    screen.invalidate();
                    lp.handle(Event::Resize { width, height });
                }
                Some(Ok(_)) => {}
                // The TTY is gone (e.g. an SSH drop): stop instead of spinning.
                Some(Err(e)) => {
                    tracing::info!(error = %e, "reading the terminal failed; the TUI stops");
                    break Ok(());
                }
                None => {
                    tracing::info!("the terminal's input ended; the TUI stops");
                    break Ok(());
                }
            },
            n = rx.recv_many(&mut batch, batch_max) => {
                if n == 0 {
                    break Ok(());
                }
                lp.handle(Event::Tick(Utc::now()));
                answer |= batch.iter().any(|ev| matches!(ev, Event::Outcome { .. }));
                for ev in batch.drain(..) {
                    lp.handle(ev);
                }
            }
            _ = ticker.tick(), if !lp.model.is_live() => {
                lp.handle(Event::Tick(Utc::now()));
            }
        }
    };
    stream_task.abort();
    fwd_task.abort();
    result
}

/// The loop's own state: the model, where effects go, and the loop concerns `update` must not
/// own (whether a redraw is due, whether to stop).
struct Loop {
    model: Model,
    client: Client,
    tx: mpsc::Sender<Event>,
    dirty: bool,
    quit: bool,
    /// A bell is due (rung before the next draw).
    bell: bool,
}

impl Loop {
    /// Runs `update` and starts the effects it asks for; their results come back through `tx`.
    fn handle(&mut self, ev: Event) {
        let step = update(&mut self.model, ev);
        self.dirty |= step.redraw;
        for fx in step.effects {
            let (c, tx) = (self.client.clone(), self.tx.clone());
            match fx {
                Effect::Quit => self.quit = true,
                Effect::Bell => self.bell = true,
                Effect::FetchSnapshot => {
                    tokio::spawn(async move {
                        let r = c.snapshot_clean().await.map(Box::new);
                        let _ = tx.send(Event::Snapshot(r)).await;
                    });
                }
                Effect::Submit { req, idem_key } => {
                    tokio::spawn(async move {
                        let r = c
                            .act(&req, &idem_key)
                            .await
                            .map(|o| Box::new(Clean::new(o)));
                        let _ = tx
                            .send(Event::Outcome {
                                idem_key,
                                result: r,
                            })
                            .await;
                    });
                }
                Effect::Decide {
                    id,
                    approve,
                    reason,
                    idem_key,
                } => {
                    tokio::spawn(async move {
                        let r = c
                            .decide(&id, approve, &reason)
                            .await
                            .map(|o| Box::new(Clean::new(o)));
                        let _ = tx
                            .send(Event::Outcome {
                                idem_key,
                                result: r,
                            })
                            .await;
                    });
                }
            }
        }
    }
}

/// The monotonic instant at which the wall clock reads `at` (a few ms late, never early: the
/// label due then has changed when the frame is drawn).
fn instant_at(at: chrono::DateTime<Utc>) -> tokio::time::Instant {
    let ahead = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + ahead + Duration::from_millis(5)
}
