//! No subcommand: the TUI, with config.toml, theme and keymap loaded first (a broken file stops
//! here with every problem), on `--backend` or on an embedded control plane that hands it its
//! first state directly.

use super::Cli;
use super::session::{data_dir, embedded, token_from_env};
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
    let backend = cli.backend.clone().or_else(|| ui.settings.backend.clone());
    let token_env = match (&ui.settings.token_env, cli.token_env.as_str()) {
        (Some(file), "FLAGTOP_TOKEN") => file.clone(),
        _ => cli.token_env.clone(),
    };
    let (client, label, embedded) = match &backend {
        Some(url) => {
            let token = token_from_env(&token_env)?;
            (
                crate::client::Client::new(url, &token, "tui")?,
                url.clone(),
                None,
            )
        }
        None => {
            let running = runtime::start(embedded(cli, data_dir(cli)?, true)?).await?;
            let client = crate::client::Client::new(&running.url, &running.token, "tui")?;
            // The embedded plane runs the simulator: say so, not its loopback address.
            let label = crate::tui::simulated_label(&cli.scenario);
            (client, label, Some(running))
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
