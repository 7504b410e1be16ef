//! `flagtop apply -f FILE`: environments, flags and webhooks from a definitions file (idempotent).

use super::Cli;
use super::session::connect;
use crate::exit::{self, UsageError};
use crate::sanitize::clean;
use color_eyre::eyre::{Result, eyre};
use std::path::PathBuf;

pub async fn apply_file(cli: &Cli, file: &PathBuf, json: bool) -> Result<i32> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| eyre!(UsageError(format!("cannot read {}: {e}", file.display()))))?;
    let defs = crate::control::definitions::parse(&file.display().to_string(), &text)
        .map_err(|e| eyre!(UsageError(e)))?;
    crate::control::definitions::check_file(&file.display().to_string(), &defs)
        .map_err(|e| eyre!(UsageError(e)))?;
    let session = connect(cli, "cli").await?;
    let result = async {
        let mut results = Vec::new();
        for env in &defs.environments {
            let o = session.client.put_environment(env).await?;
            results.push(serde_json::json!({"environment": env.key, "result": o.result}));
        }
        for flag in &defs.flags {
            let o = session.client.put_flag(flag).await?;
            results.push(serde_json::json!({"flag": flag.key, "result": o.result}));
        }
        for hook in &defs.webhooks {
            let o = session.client.put_webhook(hook).await?;
            results.push(serde_json::json!({"webhook": hook.name, "result": o.result}));
        }
        if json {
            println!(
                "{}",
                crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&results)?)
            );
        } else {
            for r in &results {
                let what = r
                    .get("flag")
                    .or_else(|| r.get("environment"))
                    .or_else(|| r.get("webhook"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                println!(
                    "{:<40} {}",
                    clean(what, 40),
                    r["result"].as_str().unwrap_or("")
                );
            }
        }
        Ok::<i32, color_eyre::Report>(exit::OK)
    }
    .await;
    session.close().await;
    result
}
