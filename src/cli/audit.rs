//! `flagtop audit [--flag KEY] [--before ID] [--json]`: the audit trail, newest first, each
//! change with its before → after (`change`); says so when a search stopped at its scan limit.

mod change;

use super::Cli;
use super::session::connect;
use crate::domain::Action;
use crate::exit::{self};
use crate::sanitize::clean;
use color_eyre::eyre::Result;

pub async fn audit(
    cli: &Cli,
    flag: Option<&str>,
    before: Option<u64>,
    limit: usize,
    json: bool,
) -> Result<i32> {
    let session = connect(cli, "cli").await?;
    let result = async {
        let page = session.client.audit_page(flag, before, limit).await?;
        // A flag with no events that flagtop does not know, or an unknown environment: exit 5
        // with the names that exist (a deleted flag's history is still shown).
        let unknown_flag = flag.filter(|_| page.events.is_empty());
        if unknown_flag.is_some() || cli.env.is_some() {
            let snap = session.client.snapshot().await?;
            if let Some(f) = unknown_flag {
                super::known::flag(&snap, f)?;
            }
            if let Some(e) = cli.env.as_deref() {
                super::known::env(&snap, e)?;
            }
        }
        if json {
            println!("{}", crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&page)?));
        } else {
            for e in &page.events {
                let what = e.action.as_ref().map_or_else(|| "-".to_string(), Action::describe);
                println!(
                    "#{:<5} {}  {:<9} {:<40} by {} ({})  — {}",
                    e.id,
                    e.at.format("%Y-%m-%d %H:%M:%S"),
                    format!("{:?}", e.kind).to_lowercase(),
                    clean(&what, 40),
                    clean(&e.actor.name, 40),
                    clean(&e.source, 10),
                    clean(&e.reason, 200)
                );
                if let Some(c) = change::line(e.before.as_ref(), e.after.as_ref()) {
                    println!("       change:  {c}");
                }
                if let Some(r) = &e.reverse {
                    println!("       reverse: {}", clean(&r.describe(), 200));
                }
                for ev in &e.evidence {
                    println!("       evidence: {}", crate::status::timeline::describe_evidence(ev));
                }
            }
            if let Some(id) = page.searched_back_to {
                // Never an empty answer that only means "not searched that far".
                println!("… searched back to audit #{id} (the scan limit); older events: flagtop audit --before {id}");
            }
        }
        Ok::<i32, color_eyre::Report>(exit::OK)
    }
    .await;
    session.close().await;
    result
}
