//! `flagtop act VERB …`: every TUI action from the shell, always with a reason; `--json` prints
//! the outcome, the audit id and the reverse command.

use super::Cli;
use super::session::{Session, connect};
use crate::client::ClientError;
use crate::domain::{Action, CohortName, EnvKey, FlagKey, Revision};
use crate::exit::{self, UsageError};
use crate::sanitize::clean;
use crate::wire::{ActionRequest, OutcomeKind};
use clap::{Args, Subcommand};
use color_eyre::eyre::{Result, eyre};
use std::collections::BTreeMap;

#[derive(Args, Debug)]
pub struct ActArgs {
    #[command(subcommand)]
    pub verb: Verb,
    /// Why (required, recorded in the audit trail).
    #[arg(long, global = true)]
    pub reason: Option<String>,
    /// Print the outcome as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Refuse if the flag changed after this revision.
    #[arg(long, global = true)]
    pub expect_revision: Option<u64>,
    /// Makes a retry safe: the same key returns the first outcome.
    #[arg(long, global = true)]
    pub idempotency_key: Option<String>,
}

/// The verbs of `flagtop act` and `flagtop propose`. Their help is written for `act` (it
/// applies); `propose::propose_help` rewrites each one for `propose` (it asks).
#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Set a cohort's share of the candidate to PERCENT (0–100).
    SetPercent {
        flag: String,
        cohort: String,
        percent: String,
    },
    /// Narrowed rollback: take one cohort back to the fallthrough, keeping its percent.
    Rollback { flag: String, cohort: String },
    /// Give a rolled-back cohort the candidate again at its kept percent.
    Restore { flag: String, cohort: String },
    /// Move the ladder to its next stage (or to exactly `--exposure`).
    Advance {
        flag: String,
        /// Exact exposure instead of the stage's targets, e.g. eu-west=25,us-east=25.
        #[arg(long)]
        exposure: Option<String>,
    },
    /// Move the ladder back a stage (or to exactly `--exposure`).
    Retreat {
        flag: String,
        #[arg(long)]
        exposure: Option<String>,
    },
    /// Pause the ladder: no automatic step until it is resumed.
    Pause {
        flag: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Resume a paused ladder.
    Resume { flag: String },
    /// The kill switch: everybody gets the fallthrough in this environment.
    Kill { flag: String },
    /// Lift the kill switch: the flag serves as it did before.
    Revive { flag: String },
    /// Retire a flag that serves one variation everywhere (decide it in its protected
    /// environment: `--env production`); it keeps serving that value.
    Archive { flag: String },
    /// Bring an archived flag back under control.
    Unarchive { flag: String },
    /// Freeze the environment: no automatic advance until it is unfrozen.
    Freeze,
    /// Unfreeze the environment: automatic advances resume.
    Unfreeze,
    /// Apply the stored reverse of an audit entry.
    Undo { audit_id: u64 },
}

fn parse_exposure(s: &str) -> Result<BTreeMap<CohortName, u8>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (c, p) = pair.split_once('=').ok_or_else(|| {
                eyre!(UsageError(format!(
                    "--exposure wants cohort=percent pairs, got `{pair}`"
                )))
            })?;
            Ok((CohortName::from(c.trim()), parse_percent(p.trim())?))
        })
        .collect()
}

pub fn parse_percent(s: &str) -> Result<u8> {
    let n: i64 = s.trim().trim_end_matches('%').parse().map_err(|_| {
        eyre!(UsageError(format!(
            "percent must be a whole number 0–100, got `{s}`"
        )))
    })?;
    u8::try_from(n)
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| eyre!(UsageError(format!("percent must be 0–100, got {n}"))))
}

fn need_env(cli: &Cli) -> Result<EnvKey> {
    cli.env
        .as_deref()
        .map(EnvKey::from)
        .ok_or_else(|| eyre!(UsageError("say which environment with --env ENV".into())))
}

pub(super) async fn build_action(cli: &Cli, session: &Session, verb: &Verb) -> Result<Action> {
    let f = |s: &String| FlagKey::from(s.as_str());
    let c = |s: &String| CohortName::from(s.as_str());
    if let Verb::Undo { audit_id } = verb {
        let event = session
            .client
            .audit_event(*audit_id)
            .await?
            .ok_or_else(|| {
                eyre!(super::fail::NotFound(format!(
                    "no audit entry #{audit_id} (see `flagtop audit` for the ids that exist)"
                )))
            })?;
        return event.reverse.ok_or_else(|| {
            eyre!(UsageError(format!(
                "audit entry #{audit_id} has no reverse to apply"
            )))
        });
    }
    let env = need_env(cli)?;
    Ok(match verb {
        Verb::SetPercent {
            flag,
            cohort,
            percent,
        } => Action::SetPercent {
            flag: f(flag),
            env,
            cohort: c(cohort),
            percent: parse_percent(percent)?,
        },
        Verb::Rollback { flag, cohort } => Action::Rollback {
            flag: f(flag),
            env,
            cohort: c(cohort),
        },
        Verb::Restore { flag, cohort } => Action::Restore {
            flag: f(flag),
            env,
            cohort: c(cohort),
        },
        Verb::Advance { flag, exposure } => Action::Advance {
            flag: f(flag),
            env,
            exposure: exposure.as_deref().map(parse_exposure).transpose()?,
        },
        Verb::Retreat { flag, exposure } => Action::Retreat {
            flag: f(flag),
            env,
            exposure: exposure.as_deref().map(parse_exposure).transpose()?,
        },
        Verb::Pause { flag, note } => Action::Pause {
            flag: f(flag),
            env,
            note: note.clone(),
        },
        Verb::Resume { flag } => Action::Resume { flag: f(flag), env },
        Verb::Kill { flag } => Action::Kill { flag: f(flag), env },
        Verb::Revive { flag } => Action::Revive { flag: f(flag), env },
        Verb::Archive { flag } => Action::Archive { flag: f(flag), env },
        Verb::Unarchive { flag } => Action::Unarchive { flag: f(flag), env },
        Verb::Freeze => Action::Freeze { env },
        Verb::Unfreeze => Action::Unfreeze { env },
        Verb::Undo { .. } => return Err(eyre!("unreachable")),
    })
}

pub async fn act(cli: &Cli, args: &ActArgs) -> Result<i32> {
    let reason = args
        .reason
        .clone()
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| eyre!(UsageError("every action needs --reason \"why\"".into())))?;
    let session = connect(cli, "cli").await?;
    let result = async {
        let action = build_action(cli, &session, &args.verb).await?;
        let req = ActionRequest {
            action,
            reason,
            expected_revision: args.expect_revision.map(Revision),
            source: Some("cli".into()),
        };
        let key = args.idempotency_key.clone().unwrap_or_else(crate::client::http::idempotency_key);
        let outcome = match session.client.act(&req, &key).await {
            Ok(o) => o,
            // Sent, but no answer — or the control plane's own database did not confirm the
            // commit (502 outcome_unknown): it may or may not have been applied. Never re-send
            // blindly; the same key makes a retry safe.
            Err(
                e @ (ClientError::Timeout { .. }
                | ClientError::Interrupted { .. }
                | ClientError::Protocol(_)
                | ClientError::Api { status: 502, .. }),
            ) => {
                return Err(eyre!(e).wrap_err(format!(
                    "the action was not confirmed: it may or may not have been applied. Retry safely with the same key (--idempotency-key {key} )"
                )));
            }
            // Not found: say which name is unknown and which exist.
            Err(e) => return Err(super::known::explain(&session, e, &req.action).await),
        };
        if args.json {
            let mut v = serde_json::to_value(&outcome)?;
            v["idempotency_key"] = serde_json::Value::String(key);
            println!("{}", crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&v)?));
        } else {
            match outcome.outcome {
                OutcomeKind::Applied => println!(
                    "applied: {} (audit #{}, revision {})\nundo with: {}",
                    clean(&outcome.action.describe(), 300),
                    outcome.audit_id.map_or_else(String::new, |a| a.to_string()),
                    outcome.revision,
                    clean(&outcome.reverse_command, 500)
                ),
                OutcomeKind::Requested => println!(
                    "requested: {} needs another person's approval (request {}).\nan approver runs: flagtop approvals approve {} --reason \"…\"",
                    clean(&outcome.action.describe(), 300),
                    outcome.approval_id.as_ref().map_or("", |a| a.as_str()),
                    outcome.approval_id.as_ref().map_or("", |a| a.as_str()),
                ),
                OutcomeKind::Rejected => println!("rejected"),
            }
        }
        Ok::<i32, color_eyre::Report>(exit::OK)
    }
    .await;
    session.close().await;
    result
}
