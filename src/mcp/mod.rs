//! `flagtop mcp`: an MCP server on stdio (rmcp) for AI assistants, with read tools and one
//! `propose` tool; it runs only with an agent token and reaches the control plane only through
//! the HTTP client, so it can never apply, approve or define anything.
//!
//! (Finding the backend and checking the agent token is the CLI's: `cli::mcp`.)
//! - [`server`]: the MCP handler and its tools; every result escaped and bounded.
//! - [`view`]: the read tools' JSON views of a snapshot.
//! - [`propose`]: the draft → `POST /v1/proposals` path.
//! - [`args`], [`limits`], [`inert`]: tool arguments, every bound, escaping of others' text.

pub mod args;
pub mod inert;
pub mod limits;
pub mod propose;
pub mod server;
pub mod view;

#[cfg(test)]
mod tests;

use crate::client::Client;
use crate::domain::Actor;
use crate::exit;
use color_eyre::eyre::{Result, eyre};
use rmcp::ServiceExt;
use rmcp::transport::async_rw::AsyncRwTransport;

/// Where requests say they come from (`X-Flagtop-Source`); the audit trail records it.
pub const SOURCE: &str = "mcp";

/// Serve MCP on stdin/stdout until the client closes stdin.
pub async fn serve(client: Client, me: Actor) -> Result<i32> {
    tracing::info!(agent = %me.name, backend = %client.base(), "mcp: serving on stdio");
    // stdout carries JSON-RPC only; one line on stderr, which MCP clients keep as the log.
    eprintln!(
        "flagtop mcp: agent `{}` on {} (read tools + propose; nothing is ever applied from here)",
        crate::sanitize::clean(&me.name, 100),
        crate::sanitize::clean(client.base(), 200)
    );
    let transport = AsyncRwTransport::new_server(tokio::io::stdin(), tokio::io::stdout())
        .with_max_line_length(limits::MAX_MESSAGE_BYTES);
    let running = server::FlagtopMcp::new(client)
        .serve(transport)
        .await
        .map_err(|e| eyre!("the MCP client did not complete the handshake: {e}"))?;
    let reason = running
        .waiting()
        .await
        .map_err(|e| eyre!("the MCP session ended abnormally: {e}"))?;
    tracing::info!(?reason, "mcp: session ended");
    Ok(exit::OK)
}
