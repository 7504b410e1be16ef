//! Process set-up around the TUI: logging to a file, the embedded control plane, and handing
//! the terminal to the TUI. Prints nothing while the TUI owns the screen.

use crate::cli::{self, Cli};
use crate::control::runtime::{self, StartOptions};
use color_eyre::eyre::Result;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where logs go: `flagtop.log` in the state dir (or the data dir given with --data).
pub fn log_dir(cli: &Cli) -> Option<PathBuf> {
    if let Some(d) = &cli.data {
        return Some(d.clone());
    }
    directories::ProjectDirs::from("dev", "flagtop", "flagtop")
        .map(|p| p.state_dir().map(PathBuf::from).unwrap_or_else(|| p.data_local_dir().to_path_buf()))
}

/// Send tracing to a file; returns its path. Never to the terminal.
pub fn init_logging(cli: &Cli) -> Option<(PathBuf, tracing_appender::non_blocking::WorkerGuard)> {
    let dir = log_dir(cli)?;
    crate::control::store::ensure_private_dir(&dir).ok()?;
    let appender = tracing_appender::rolling::never(&dir, "flagtop.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLAGTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ok = tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_env_filter(filter).try_init().is_ok();
    ok.then(|| (dir.join("flagtop.log"), guard))
}

pub async fn run_tui(cli: &Cli) -> Result<i32> {
    let (client, label, embedded) = match &cli.backend {
        Some(url) => {
            let token = cli::token_from_env(&cli.token_env)?;
            (crate::client::Client::new(url, &token, "tui")?, url.clone(), None)
        }
        None => {
            let running = runtime::start(StartOptions {
                data_dir: cli::data_dir(cli)?,
                scenario: cli.scenario.clone(),
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                simulate: true,
                tick: std::time::Duration::from_secs(1),
            })
            .await?;
            let client = crate::client::Client::new(&running.url, &running.token, "tui")?;
            (client, format!("embedded {}", running.url), Some(running))
        }
    };
    let result = crate::tui::run(client, crate::tui::TuiOptions { backend_label: label, initial_env: cli.env.clone() }).await;
    if let Some(r) = embedded {
        r.shutdown().await;
    }
    result.map(|()| cli::exit::OK)
}
