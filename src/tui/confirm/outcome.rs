//! The answer to what a confirm dialog sent: an outcome closes it; a conflict keeps it open on
//! the new state; a refusal is shown; an answer that leaves the outcome open (none came, or the
//! control plane's own database did not confirm it) is retried with the same key.

use super::state::Phase;
use crate::client::ClientError;
use crate::tui::dialog::Dialog;
use crate::tui::effect::{Effect, Step};
use crate::tui::model::Model;
use crate::tui::text::fit;
use crate::wire::{Outcome, OutcomeKind};

/// The control plane answered that it could not confirm its own commit (its database went
/// silent): the action may have been applied.
fn unconfirmed(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status, code, .. } if *status == 502 || code == "outcome_unknown")
}

/// The control plane's answer to what the dialog sent (matched by its idempotency key).
pub fn on_outcome(
    m: &mut Model,
    idem_key: &str,
    result: Result<Box<crate::client::Clean<Outcome>>, ClientError>,
) -> Step {
    let Some(Dialog::Confirm(c)) = m.dialog.as_mut() else {
        // The dialog was closed meanwhile: still report the outcome.
        match result {
            Ok(o) => report_success(m, &o),
            Err(e) if unconfirmed(&e) => m.set_status(
                format!(
                    "not confirmed, may have been applied: {}",
                    fit(&e.to_string(), 160)
                ),
                true,
            ),
            Err(e) => m.set_status(format!("failed: {}", fit(&e.to_string(), 160)), true),
        }
        return Step::redraw(true);
    };
    if c.idem_key != idem_key {
        return Step::redraw(false);
    }
    let mut effects = Vec::new();
    match result {
        Ok(o) => {
            m.dialog = None;
            report_success(m, &o);
        }
        Err(e) => {
            let msg = fit(&e.to_string(), 200);
            match &e {
                ClientError::Api { code, .. } if code == "conflict" => {
                    c.phase = Phase::Conflict(format!("changed since you looked — {msg}"));
                    m.set_status(
                        "conflict: changed since you looked; review the new state",
                        true,
                    );
                    // The dialog stays open; the fresh snapshot updates its preview.
                    effects.push(Effect::FetchSnapshot);
                }
                // The server could not confirm its own commit (its database went silent): it
                // may have been applied. The same key makes a retry safe.
                _ if unconfirmed(&e) => {
                    c.phase = Phase::Failed {
                        msg: format!(
                            "not confirmed: {msg} — it may have been applied; Enter retries safely"
                        ),
                        retry_same_key: true,
                    };
                    m.set_status(format!("not confirmed, may have been applied: {msg}"), true);
                }
                // Busy or out of its database: nothing was applied; the decision stands.
                ClientError::Api { status, .. } if *status == 503 || *status == 429 => {
                    c.phase = Phase::Failed {
                        msg: format!("not applied: {msg} — Enter retries"),
                        retry_same_key: true,
                    };
                    m.set_status(format!("not applied: {msg}"), true);
                }
                ClientError::Api { code, .. } => {
                    let what = if code == "forbidden" {
                        "denied"
                    } else {
                        "invalid"
                    };
                    c.phase = Phase::Failed {
                        msg: format!("{what}: {msg}"),
                        retry_same_key: false,
                    };
                    m.set_status(format!("{what}: {msg}"), true);
                }
                _ => {
                    c.phase = Phase::Failed {
                        msg: format!("not confirmed: {msg} — Enter retries safely"),
                        retry_same_key: true,
                    };
                    m.set_status(format!("not confirmed: {msg}"), true);
                }
            }
        }
    }
    Step::run(effects)
}

fn report_success(m: &mut Model, o: &Outcome) {
    let what = fit(&o.action.describe(), 80);
    let text = match o.outcome {
        OutcomeKind::Applied => {
            if let Some(id) = o.audit_id {
                m.own_last = Some(id);
            }
            let id = o
                .audit_id
                .map(|i| format!(" (audit #{i})"))
                .unwrap_or_default();
            format!(
                "applied: {what}{id} — reverse: {}",
                fit(&o.reverse.describe(), 60)
            )
        }
        OutcomeKind::Requested => {
            let id = o
                .approval_id
                .as_ref()
                .map(|i| fit(i, 40))
                .unwrap_or_default();
            format!("requested: {what} needs approval ({id})")
        }
        OutcomeKind::Rejected => format!("rejected: {what}"),
    };
    m.set_status(text, false);
}
