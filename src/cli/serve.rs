//! `flagtop serve`: the control plane as a server for a team; prints its URL.

use super::Cli;
use super::session::{config_lifecycle, data_dir, flag_source};
use crate::control::runtime::{self, StartOptions, StoreChoice};
use crate::domain::Role;
use crate::exit::{self};
use color_eyre::eyre::{Result, eyre};
use std::net::SocketAddr;

/// The store to serve on: `--store URL` (no password in it: other users see argv), else
/// `FLAGTOP_STORE` (which may carry one), else the embedded store. The password, when not in
/// `FLAGTOP_STORE`, comes from `PGPASSWORD` or the 0600 file `FLAGTOP_STORE_PASSWORD_FILE`.
pub fn store_choice(arg: Option<&str>) -> Result<StoreChoice> {
    let env = std::env::var("FLAGTOP_STORE")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let (url, from_argv) = match (arg, env) {
        (Some(a), _) => (a.to_string(), true),
        (None, Some(e)) => (e, false),
        (None, None) => return Ok(StoreChoice::Embedded),
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(eyre!(
            "--store takes a PostgreSQL URL (postgres://USER@HOST:PORT/DB); the embedded store is the default (choose its directory with --data)"
        ));
    }
    let config = crate::control::store::postgres::config(&url, None).map_err(|e| eyre!("{e}"))?;
    if from_argv && config.get_password().is_some() {
        return Err(eyre!(
            "the --store URL carries a password, which every user of this machine can read in the process list; \
             remove it and pass it in PGPASSWORD, in a 0600 file named by FLAGTOP_STORE_PASSWORD_FILE, or put the whole URL in FLAGTOP_STORE"
        ));
    }
    let password = match std::env::var("FLAGTOP_STORE_PASSWORD_FILE")
        .ok()
        .filter(|p| !p.is_empty())
    {
        Some(path) => Some(read_password_file(std::path::Path::new(&path))?),
        None => std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()),
    };
    Ok(StoreChoice::Postgres { url, password })
}

/// A password file: readable by its owner only, first line.
fn read_password_file(path: &std::path::Path) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        eyre!(
            "cannot read the store password file {}: {e}",
            path.display()
        )
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(eyre!(
            "the store password file {} is readable by other users; chmod 600 it",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        eyre!(
            "cannot read the store password file {}: {e}",
            path.display()
        )
    })?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

pub async fn serve(
    cli: &Cli,
    listen: SocketAddr,
    no_simulate: bool,
    expose_metrics: bool,
    tls: Option<runtime::TlsFiles>,
    store: StoreChoice,
) -> Result<i32> {
    // Before the plane starts (and writes its endpoint file): a SIGTERM or SIGHUP that comes
    // while it starts must end it cleanly too, not kill it with the file left behind.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // A hang-up (the SSH session that started it is gone) ends the server like SIGTERM: it
    // removes its endpoint file instead of leaving it behind for a squatter.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let with_tls = tls.is_some();
    let dir = data_dir(cli)?;
    let mut running = runtime::start_with(
        StartOptions {
            data_dir: dir.clone(),
            scenario: cli.scenario.clone(),
            listen,
            simulate: !no_simulate,
            tick: std::time::Duration::from_secs(1),
            prometheus: cli.prometheus.clone(),
            expose_metrics,
            flags: flag_source(cli)?,
            tls,
            lifecycle: config_lifecycle()?,
        },
        store,
    )
    .await?;
    if !listen.ip().is_loopback() && !with_tls {
        eprintln!(
            "WARNING: listening on {listen}, reachable from other machines, WITHOUT TLS: tokens and changes cross the network in clear text. Put it behind a TLS proxy or listen on 127.0.0.1."
        );
    }
    if !running.cp.has_tokens() {
        let t = running
            .cp
            .add_token(
                &crate::control::service::Caller::system(),
                "admin",
                Role::Admin,
            )
            .map_err(|e| eyre!("{e}"))?;
        println!("first start: minted an admin token (shown once, stored hashed):\n{t}");
    }
    println!("flagtop control plane listening on {}", running.url);
    println!("data: {}", dir.display());
    println!("store: {}", running.cp.store_description());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
        _ = running.wait() => {}
    }
    running.shutdown().await;
    Ok(exit::OK)
}
