//! `flagtop token add NAME --role ROLE [--env ENV] [--json]`: mint an API token (shown once,
//! stored hashed).

use super::Cli;
use super::session::connect;
use crate::domain::Role;
use crate::exit::{self, UsageError};
use crate::sanitize::clean;
use crate::wire::TokenRequest;
use clap::Subcommand;
use color_eyre::eyre::{Result, eyre};

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Mint a token (shown once, stored hashed).
    Add {
        name: String,
        #[arg(long, value_parser = ["viewer", "operator", "approver", "agent", "admin", "sdk"])]
        role: String,
        /// Print the token as JSON (`name`, `role`, `environments`, `token`).
        #[arg(long)]
        json: bool,
    },
}

/// An `sdk` token evaluates in the environments of the global `--env` (comma-separated for
/// several); other roles are not bound to environments.
pub async fn token_add(cli: &Cli, name: &str, role: &str, json: bool) -> Result<i32> {
    let role =
        Role::parse(role).ok_or_else(|| eyre!(UsageError(format!("unknown role `{role}`"))))?;
    let envs: Vec<&str> = match (role, cli.env.as_deref()) {
        (Role::Sdk, Some(e)) => e.split(',').map(str::trim).filter(|e| !e.is_empty()).collect(),
        (Role::Sdk, None) => return Err(eyre!(UsageError("an sdk token evaluates in named environments: add --env ENV (comma-separated for several)".into()))),
        _ => Vec::new(),
    };
    let session = connect(cli, "cli").await?;
    let result = session
        .client
        .add_token(&TokenRequest {
            name: name.to_string(),
            role,
            environments: envs.into_iter().map(crate::domain::EnvKey::from).collect(),
        })
        .await;
    session.close().await;
    let t = result?;
    if json {
        let v = serde_json::json!({
            "name": t.name,
            "role": t.role.as_str(),
            "environments": t.environments,
            "token": t.token,
        });
        println!(
            "{}",
            crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&v)?)
        );
        return Ok(exit::OK);
    }
    let envs: Vec<String> = t.environments.iter().map(|e| clean(e, 100)).collect();
    let scope = if envs.is_empty() {
        String::new()
    } else {
        format!(" in {}", envs.join(", "))
    };
    println!(
        "token for {} ({}{scope}), shown once — store it now:\n{}",
        clean(&t.name, 100),
        t.role.as_str(),
        t.token
    );
    Ok(exit::OK)
}
