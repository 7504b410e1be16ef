//! `flagtop status [--json]`: one-shot view of flags, ladders, guardrails and approvals.

use super::Cli;
use super::session::connect;
use crate::exit;
use crate::status::{to_json, to_text};
use color_eyre::eyre::Result;

pub async fn run(cli: &Cli, json: bool) -> Result<i32> {
    let session = connect(cli, "cli").await?;
    let snap = session.client.snapshot().await;
    session.close().await;
    let snap = snap?;
    if let Some(env) = cli.env.as_deref() {
        super::known::env(&snap, env)?;
    }
    if json {
        println!(
            "{}",
            crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&to_json(&snap))?)
        );
    } else {
        print!("{}", to_text(&snap, cli.env.as_deref()));
    }
    // A flag store that cannot be reached: the view may be stale, and scripts must know.
    Ok(if snap.flag_store_error.is_some() {
        exit::UNREACHABLE
    } else {
        exit::OK
    })
}
