//! `flagtop serve`: the control plane as a server for a team; prints its URL.

use crate::control::runtime::{self, StartOptions};
use crate::domain::Role;
use crate::exit::{self};
use color_eyre::eyre::{eyre, Result};
use std::net::SocketAddr;
use super::session::{data_dir, flag_source};
use super::Cli;

pub async fn serve(cli: &Cli, listen: SocketAddr, no_simulate: bool, expose_metrics: bool, tls: Option<runtime::TlsFiles>) -> Result<i32> {
    let with_tls = tls.is_some();
    let dir = data_dir(cli)?;
    let mut running = runtime::start(StartOptions {
        data_dir: dir.clone(),
        scenario: cli.scenario.clone(),
        listen,
        simulate: !no_simulate,
        tick: std::time::Duration::from_secs(1),
        prometheus: cli.prometheus.clone(),
        expose_metrics,
        flags: flag_source(cli)?,
        tls,
    })
    .await?;
    if !listen.ip().is_loopback() && !with_tls {
        eprintln!(
            "WARNING: listening on {listen}, reachable from other machines, WITHOUT TLS: tokens and changes cross the network in clear text. Put it behind a TLS proxy or listen on 127.0.0.1."
        );
    }
    if !running.cp.has_tokens() {
        let t = running.cp.add_token(&crate::control::service::Caller::system(), "admin", Role::Admin).map_err(|e| eyre!("{e}"))?;
        println!("first start: minted an admin token (shown once, stored hashed):\n{t}");
    }
    println!("flagtop control plane listening on {}", running.url);
    println!("data: {}", dir.display());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // A hang-up (the SSH session that started it is gone) ends the server like SIGTERM: it
    // removes its endpoint file instead of leaving it behind for a squatter.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
        _ = running.wait() => {}
    }
    running.shutdown().await;
    Ok(exit::OK)
}
