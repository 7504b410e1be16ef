//! `flagtop token add NAME --role ROLE`: mint an API token (shown once, stored hashed).

use crate::domain::Role;
use crate::exit::{self, UsageError};
use crate::sanitize::clean;
use crate::wire::TokenRequest;
use clap::Subcommand;
use color_eyre::eyre::{eyre, Result};
use super::session::connect;
use super::Cli;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Mint a token (shown once, stored hashed).
    Add {
        name: String,
        #[arg(long, value_parser = ["viewer", "operator", "approver", "agent", "admin"])]
        role: String,
    },
}


pub async fn token_add(cli: &Cli, name: &str, role: &str) -> Result<i32> {
    let role = Role::parse(role).ok_or_else(|| eyre!(UsageError(format!("unknown role `{role}`"))))?;
    let session = connect(cli, "cli").await?;
    let result = session.client.add_token(&TokenRequest { name: name.to_string(), role }).await;
    session.close().await;
    let t = result?;
    println!("token for {} ({}), shown once — store it now:\n{}", clean(&t.name, 100), t.role.as_str(), t.token);
    Ok(exit::OK)
}
