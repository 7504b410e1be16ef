//! `flagtop webhooks log [--hook NAME] [--limit N] [--json]`: delivery attempts, newest first,
//! and each hook's health (queued, dropped, delivered, failing, the last attempt);
//! `flagtop webhooks remove NAME`.

use super::Cli;
use super::session::connect;
use crate::exit;
use crate::sanitize::clean;
use clap::Subcommand;
use color_eyre::eyre::Result;

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// Delivery attempts, newest first, and each hook's health.
    Log {
        /// Only this hook's attempts.
        #[arg(long)]
        hook: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Remove a webhook; what is still queued for it is dropped.
    Remove { name: String },
}

pub async fn run(cli: &Cli, command: &WebhooksCommand) -> Result<i32> {
    let (hook, limit, json) = match command {
        WebhooksCommand::Log { hook, limit, json } => (hook, limit, json),
        WebhooksCommand::Remove { name } => {
            let session = connect(cli, "cli").await?;
            let result = session.client.delete_webhook(name).await;
            session.close().await;
            let o = result?;
            println!(
                "webhook {} {} (revision {})",
                clean(name, 100),
                o.result,
                o.revision
            );
            return Ok(exit::OK);
        }
    };
    let session = connect(cli, "cli").await?;
    let result = session.client.webhook_log(hook.as_deref(), *limit).await;
    session.close().await;
    let log = result?;
    if *json {
        println!(
            "{}",
            crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&log)?)
        );
        return Ok(exit::OK);
    }
    for h in &log.hooks {
        println!(
            "{:<24} {:<8} queued {:<5} delivered {:<6} dropped {}",
            clean(&h.name, 24),
            if h.failing { "FAILING" } else { "ok" },
            h.queued,
            h.delivered,
            h.dropped
        );
    }
    if !log.hooks.is_empty() {
        println!();
    }
    for d in &log.deliveries {
        println!(
            "{}  {:<16} {:<22} #{:<3} {:<9} {}",
            d.at.format("%Y-%m-%d %H:%M:%S"),
            clean(&d.hook, 16),
            d.event.as_str(),
            d.attempt,
            d.outcome,
            clean(
                &match (&d.status, &d.error) {
                    (_, Some(e)) => e.clone(),
                    (Some(s), None) => format!("answered {s}"),
                    (None, None) => String::new(),
                },
                80
            )
        );
    }
    if log.deliveries.is_empty() {
        println!("no delivery attempts yet");
    }
    Ok(exit::OK)
}
