//! `flagtop audit [--flag KEY] [--before ID] [--json]`: the audit trail, newest first; says so
//! when a search stopped at its scan limit.

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
        if let Some(f) = flag
            && page.events.is_empty()
            && !session.client.snapshot().await?.flags.iter().any(|x| x.key.as_str() == f)
        {
            return Ok(super::not_found(json, &format!("no flag `{}`", clean(f, 60))));
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
                if let Some(r) = &e.reverse {
                    println!("       reverse: {}", clean(&r.describe(), 200));
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
