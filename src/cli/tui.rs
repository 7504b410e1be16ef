//! No subcommand: the TUI, with config.toml, theme and keymap loaded first (a broken file stops
//! here with every problem), on `--backend`, on the control plane already running on the data
//! dir (attached, as the one-shot commands do), or on an embedded control plane that hands it
//! its first state directly.

use super::Cli;
use super::session::{attach, data_dir, embedded, owner_client, token_from_env};
use crate::control::runtime;
use crate::exit;
use color_eyre::eyre::Result;

/// No subcommand: the TUI, on `--backend` or an embedded control plane.
pub async fn run(cli: &Cli) -> Result<i32> {
    // config.toml, theme and keymap: a broken file stops here with every problem, no fallback.
    let args = crate::config::UiArgs {
        theme: cli.theme.clone(),
        keymap: cli.keymap.clone(),
        ascii: cli.ascii,
        no_color: cli.no_color,
    };
    let ui = match crate::config::load_ui(crate::config::config_dir().as_deref(), &args, &|k| {
        std::env::var(k).ok()
    }) {
        Ok(ui) => ui,
        Err(problems) => {
            eprint!(
                "flagtop: invalid configuration (run `flagtop check-config`):\n{}",
                crate::config::render_problems(&problems)
            );
            return Ok(exit::USAGE);
        }
    };
    // Precedence for these three: the command line / environment (clap) > config.toml.
    let backend = match cli.backend.is_empty() {
        false => Some(cli.backend.clone()),
        true => ui.settings.backend.clone(),
    };
    let token_env = match (&ui.settings.token_env, cli.token_env.as_str()) {
        (Some(file), "FLAGTOP_TOKEN") => file.clone(),
        _ => cli.token_env.clone(),
    };
    let (client, label, embedded) = match &backend {
        Some(urls) => {
            super::session::check_backends(urls)?;
            let token = token_from_env(&token_env)?;
            let client = crate::client::Client::replicas(urls, &token, "tui")?;
            // The header names the replica in use; the stream updates it on a failover.
            let label = client.base().to_string();
            (client, label, None)
        }
        None => {
            let dir = data_dir(cli)?;
            match attach(&dir, "tui").await? {
                // Another TUI or `flagtop serve` runs on this data dir: use it, never a second
                // control plane (the lock would refuse one).
                Some(client) => {
                    let label = format!("attached {}", client.base());
                    (client, label, None)
                }
                None => {
                    let running = runtime::start(embedded(cli, dir, true)?).await?;
                    // The TUI talks to its own plane over the owner's socket: other local users
                    // can reach the TCP port (OFREP, MCP) but cannot crowd the TUI out of it.
                    let client = owner_client(&running, "tui")?;
                    // The embedded plane runs the simulator: say so, not its loopback address.
                    let label = crate::tui::simulated_label(&cli.scenario);
                    (client, label, Some(running))
                }
            }
        }
    };
    // The embedded control plane hands the TUI its first state directly: the same snapshot the
    // API would serve, without serialising 10,000 flags to JSON and parsing them back (tens of
    // MB of transient buffers that stay in the allocator). Reconnects still fetch over HTTP.
    let first_snapshot = match &embedded {
        Some(r) => {
            let (cp, token) = (r.cp.clone(), r.token.clone());
            tokio::task::spawn_blocking(move || {
                cp.authenticate(&token)
                    .map(|who| Box::new(crate::client::Clean::new(cp.snapshot(&who))))
            })
            .await
            .ok()
            .flatten()
        }
        None => None,
    };
    let notice = ui
        .warnings
        .first()
        .map(|w| format!("config warning: {}:{}:{}: {}", w.file, w.line, w.col, w.msg));
    let opts = crate::tui::TuiOptions {
        backend_label: label,
        initial_env: cli.env.clone().or_else(|| ui.settings.env.clone()),
        theme: ui.theme,
        keymap: ui.keymap,
        color: ui.color,
        limits: ui.limits,
        bell: ui.settings.bell.unwrap_or(false),
        notice,
        first_snapshot,
    };
    let result = crate::tui::run(client, opts).await;
    if let Some(r) = embedded {
        r.shutdown().await;
    }
    result.map(|()| exit::OK)
}
