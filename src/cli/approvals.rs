//! `flagtop approvals [list|approve ID|reject ID|withdraw ID]`: the approval queue from the
//! shell; `withdraw` is the requester taking back their own pending request.

use super::Cli;
use super::session::connect;
use crate::domain::ApprovalState;
use crate::exit::{self};
use crate::sanitize::clean;
use clap::Subcommand;
use color_eyre::eyre::Result;

#[derive(Subcommand, Debug)]
pub enum ApprovalsCommand {
    /// The pending requests (all of them with `--json`, decided ones too). `--env ENV` on the
    /// command line shows that environment's only; the configured default environment does not
    /// filter, so a request elsewhere is never hidden by config.
    List,
    Approve {
        id: String,
        #[arg(long)]
        reason: String,
    },
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Take back your own pending request (nothing changes; it closes as rejected, by you).
    Withdraw {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

/// `env_given` is `--env` as typed on the command line (not the configured default): the
/// list's filter.
pub async fn approvals(
    cli: &Cli,
    command: &Option<ApprovalsCommand>,
    env_given: Option<&str>,
    json: bool,
) -> Result<i32> {
    let session = connect(cli, "cli").await?;
    let result = async {
        match command {
            None | Some(ApprovalsCommand::List) => {
                let mut list = session.client.approvals().await?;
                if let Some(env) = env_given {
                    super::known::env(&session.client.snapshot().await?, env)?;
                    list.approvals.retain(|a| a.action.env().as_str() == env);
                }
                if json {
                    println!(
                        "{}",
                        crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&list)?)
                    );
                } else {
                    let pending: Vec<_> = list
                        .approvals
                        .iter()
                        .filter(|a| a.state == ApprovalState::Pending)
                        .collect();
                    if pending.is_empty() {
                        println!("no pending requests");
                    }
                    for a in pending {
                        println!(
                            "{}  {}  by {} ({})\n    reverse: {}\n    reason:  {}\n    expires: {}",
                            clean(&a.id, 60),
                            clean(&a.action.describe(), 200),
                            clean(&a.requested_by.name, 60),
                            a.requested_by.kind(),
                            clean(&a.reverse.describe(), 200),
                            clean(&a.reason, 300),
                            a.expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        );
                        if let Some(gap) = &a.evidence_gap {
                            println!("    evidence gap: {}", clean(gap, 300));
                        }
                    }
                }
            }
            Some(ApprovalsCommand::Withdraw { id, reason }) => {
                let outcome = session.client.withdraw(id, reason).await?;
                if json {
                    println!(
                        "{}",
                        crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(
                            &outcome
                        )?)
                    );
                } else {
                    println!(
                        "withdrawn: {} (request {}); nothing changed",
                        clean(&outcome.action.describe(), 300),
                        outcome.approval_id.as_ref().map_or("", |a| a.as_str()),
                    );
                }
            }
            Some(
                ApprovalsCommand::Approve { id, reason } | ApprovalsCommand::Reject { id, reason },
            ) => {
                let approve = matches!(command, Some(ApprovalsCommand::Approve { .. }));
                let outcome = session.client.decide(id, approve, reason).await?;
                if json {
                    println!(
                        "{}",
                        crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(
                            &outcome
                        )?)
                    );
                } else if approve {
                    println!(
                        "approved and applied: {} (audit #{})\nundo with: {}",
                        clean(&outcome.action.describe(), 300),
                        outcome.audit_id.map_or_else(String::new, |a| a.to_string()),
                        clean(&outcome.reverse_command, 500)
                    );
                } else {
                    println!("rejected: {}", clean(&outcome.action.describe(), 300));
                }
            }
        }
        Ok::<i32, color_eyre::Report>(exit::OK)
    }
    .await;
    session.close().await;
    result
}
