//! Process set-up around the TUI: logging to a file, the embedded control plane, and handing
//! the terminal to the TUI. Prints nothing while the TUI owns the screen.

use crate::cli::{self, Cli};
use crate::control::runtime::{self, StartOptions};
use color_eyre::eyre::Result;
use std::net::SocketAddr;
use std::path::PathBuf;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

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
    // `FLAGTOP_LOG`: a level (`debug`) or per-target levels (`info,flagtop::control=debug`).
    let filter = std::env::var("FLAGTOP_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let make = move || InertLog(writer.clone());
    let fmt = tracing_subscriber::fmt::layer().with_writer(make).with_ansi(false);
    let ok = tracing_subscriber::registry().with(fmt.with_filter(filter)).try_init().is_ok();
    ok.then(|| (dir.join("flagtop.log"), guard))
}

/// Neutralises each log event (one write = one event): tracing-subscriber escapes the message
/// but writes `%`-formatted fields raw, so a backend error or a path could carry ESC, C1, bidi
/// or a newline (a forged line) into a file people `tail -f` in a terminal.
struct InertLog<W: std::io::Write>(W);

impl<W: std::io::Write> std::io::Write for InertLog<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(b);
        let (body, end) = text.strip_suffix('\n').map_or((&*text, ""), |t| (t, "\n"));
        self.0.write_all(format!("{}{end}", crate::sanitize::sanitize(body)).as_bytes())?;
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

pub async fn run_tui(cli: &Cli) -> Result<i32> {
    // config.toml, theme and keymap: a broken file stops here with every problem, no fallback.
    let args = crate::config::UiArgs { theme: cli.theme.clone(), keymap: cli.keymap.clone(), ascii: cli.ascii, no_color: cli.no_color };
    let ui = match crate::config::load_ui(crate::config::config_dir().as_deref(), &args, &|k| std::env::var(k).ok()) {
        Ok(ui) => ui,
        Err(problems) => {
            eprint!("flagtop: invalid configuration (run `flagtop check-config`):\n{}", crate::config::render_problems(&problems));
            return Ok(cli::exit::USAGE);
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
            let token = cli::token_from_env(&token_env)?;
            (crate::client::Client::new(url, &token, "tui")?, url.clone(), None)
        }
        None => {
            let running = runtime::start(StartOptions {
                data_dir: cli::data_dir(cli)?,
                scenario: cli.scenario.clone(),
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                simulate: true,
                tick: std::time::Duration::from_secs(1),
                prometheus: cli.prometheus.clone(),
                expose_metrics: false,
                flags: cli::flag_source(cli)?,
                tls: None,
            })
            .await?;
            let client = crate::client::Client::new(&running.url, &running.token, "tui")?;
            (client, format!("embedded {}", running.url), Some(running))
        }
    };
    // The embedded control plane hands the TUI its first state directly: the same snapshot the
    // API would serve, without serialising 10,000 flags to JSON and parsing them back (tens of
    // MB of transient buffers that stay in the allocator). Reconnects still fetch over HTTP.
    let first_snapshot = match &embedded {
        Some(r) => {
            let (cp, token) = (r.cp.clone(), r.token.clone());
            tokio::task::spawn_blocking(move || cp.authenticate(&token).map(|who| Box::new(cp.snapshot(&who)))).await.ok().flatten()
        }
        None => None,
    };
    let notice = ui.warnings.first().map(|w| format!("config warning: {}:{}:{}: {}", w.file, w.line, w.col, w.msg));
    let opts = crate::tui::TuiOptions {
        backend_label: label,
        initial_env: cli.env.clone().or_else(|| ui.settings.env.clone()),
        theme: ui.theme,
        keymap: ui.keymap,
        color: ui.color,
        limits: ui.limits,
        notice,
        first_snapshot,
    };
    let result = crate::tui::run(client, opts).await;
    if let Some(r) = embedded {
        r.shutdown().await;
    }
    result.map(|()| cli::exit::OK)
}
