//! `flagtop mcp`: finds the control plane and proves the token is an agent's — `--backend` (or
//! the control plane advertised in the data dir) with a token from the environment or a 0600
//! file — then serves MCP (`crate::mcp`). Never opens a data dir itself and never uses the
//! owner's local token.

use super::{Cli, UsageError, data_dir, token_from_env};
use crate::client::{Client, ClientError};
use crate::control::runtime;
use crate::domain::{Actor, Role};
use color_eyre::eyre::{Result, eyre};

use crate::mcp::SOURCE;

/// Serve MCP on stdin/stdout with an agent's client until the MCP client closes stdin.
pub async fn run(cli: &Cli) -> Result<i32> {
    let (client, me) = agent_client(cli).await?;
    crate::mcp::serve(client, me).await
}

/// The control plane's URLs: `--backend` (one or several replicas), else the one running on
/// the data dir.
async fn backend_urls(cli: &Cli) -> Result<Vec<String>> {
    if !cli.backend.is_empty() {
        super::session::check_backends(&cli.backend)?;
        return Ok(cli.backend.clone());
    }
    let dir = data_dir(cli)?;
    let Some(ep) = runtime::live_endpoint(&dir) else {
        return Err(eyre!(UsageError(format!(
            "no control plane runs on {}: start one (`flagtop serve` or `flagtop`) or pass --backend URL",
            dir.display()
        ))));
    };
    // Only the address is taken from the endpoint file: its token is the owner's admin token.
    Ok(vec![ep.url])
}

/// A client with an agent token, and who the control plane says it is.
pub async fn agent_client(cli: &Cli) -> Result<(Client, Actor)> {
    let urls = backend_urls(cli).await?;
    let token = token_from_env(&cli.token_env)?;
    let client = Client::replicas(&urls, &token, SOURCE)?;
    let me = client.whoami().await?;
    if me.role != Role::Agent {
        return Err(eyre!(ClientError::Api {
            status: 403,
            code: "not_an_agent".into(),
            message: format!(
                "the token belongs to `{}` with the `{}` role; `flagtop mcp` runs only with an agent token, so an assistant can read and propose but never apply or approve. Mint one with `flagtop token add NAME --role agent`",
                crate::sanitize::clean(&me.name, 100),
                me.role.as_str()
            ),
            current_revision: None,
        }));
    }
    Ok((client, me))
}
