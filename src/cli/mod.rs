//! Command-line parsing (clap) and dispatch, one file per subcommand: the TUI (no subcommand,
//! `tui`), `serve`, `status`, `act`, `propose`, `approvals`, `audit`, `apply`, `token`,
//! `screenshot`; `session` is how the client commands reach a control plane, `known` checks the
//! names a command uses, `fail` reports errors (JSON on stdout with `--json`). Prints only
//! outside the TUI; every backend string is sanitised before it is printed.

mod act;
mod apply;
mod approvals;
mod audit;
mod fail;
mod known;
mod lifecycle;
mod mcp;
mod migrate;
mod propose;
mod screenshot;
mod serve;
mod session;
mod status;
mod timeline;
mod token;
mod tui;
mod webhooks;

pub use crate::exit::{self, UsageError};
pub use act::parse_percent;
pub use fail::{NotFound, exit_code, parse};
pub use session::{Session, connect, data_dir, flag_source, read_token_file, token_from_env};

use crate::control::runtime::{self};
use clap::{Parser, Subcommand};
use color_eyre::eyre::{Result, eyre};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "flagtop", version, about = "top for feature-flag rollouts", long_about = None,
    after_help = "With no command, flagtop opens the TUI on an embedded control plane running the demo scenario.\nLogs go to flagtop.log in the state dir (see `flagtop --help` → FLAGTOP_DATA / --data).")]
pub struct Cli {
    /// A running control plane (`flagtop serve`) to use instead of the embedded one. Replicas
    /// of one: repeat it or separate URLs with commas; the next is used on connection loss.
    #[arg(
        long,
        global = true,
        env = "FLAGTOP_BACKEND",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub backend: Vec<String>,
    /// Name of the environment variable holding the API token for --backend.
    #[arg(
        long,
        global = true,
        default_value = "FLAGTOP_TOKEN",
        env = "FLAGTOP_TOKEN_ENV"
    )]
    pub token_env: String,
    /// Data dir of the embedded control plane.
    #[arg(long, global = true, env = "FLAGTOP_DATA")]
    pub data: Option<PathBuf>,
    /// Scenario used to seed a new data dir: demo, calm, large.
    #[arg(long, global = true, default_value = "demo")]
    pub scenario: String,
    /// Environment to start in (TUI), to show (status) or to act in; `approvals list` shows
    /// only its requests when it is given here (not from config).
    #[arg(long, global = true)]
    pub env: Option<String>,
    /// Theme: dark, light, high-contrast, ansi16, mono, or a file in the config dir's themes/.
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// Keymap: default, vim, or a file in the config dir's keymaps/.
    #[arg(long, global = true)]
    pub keymap: Option<String>,
    /// ASCII only: no box-drawing, block, braille or symbol glyphs.
    #[arg(long, global = true)]
    pub ascii: bool,
    /// No colour at all (as NO_COLOR=1 does): the mono theme.
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Read `promql` guardrails from this Prometheus (base URL, e.g. http://127.0.0.1:9090).
    #[arg(long, global = true, env = "FLAGTOP_PROMETHEUS")]
    pub prometheus: Option<String>,
    /// Where flags live: `embedded` (flagtop's own store) or `unleash`.
    #[arg(long, global = true, default_value = "embedded", value_parser = ["embedded", "unleash"], env = "FLAGTOP_FLAGS")]
    pub flags: String,
    /// Unleash base URL (with --flags unleash), e.g. http://127.0.0.1:4242.
    #[arg(long, global = true, env = "FLAGTOP_UNLEASH_URL")]
    pub unleash_url: Option<String>,
    /// Name of the environment variable holding the Unleash admin token.
    #[arg(long, global = true, default_value = "UNLEASH_ADMIN_TOKEN")]
    pub unleash_token_env: String,
    /// How often to look for changes made directly in Unleash, in seconds.
    #[arg(long, global = true, default_value_t = 2)]
    pub unleash_poll_secs: u64,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the control plane as a server for a team; prints its URL.
    Serve {
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: SocketAddr,
        /// Do not run the traffic simulator.
        #[arg(long)]
        no_simulate: bool,
        /// Serve HTTPS: PEM certificate chain (with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// Serve HTTPS: PEM private key (with --tls-cert).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve the simulator's traffic at /metrics (Prometheus text format, no token needed).
        #[arg(long)]
        expose_metrics: bool,
        /// Keep flagtop's records in PostgreSQL (postgres://USER@HOST:PORT/DB; several replicas
        /// may share it) instead of the embedded store. Or FLAGTOP_STORE. Never put the
        /// password here: PGPASSWORD, FLAGTOP_STORE_PASSWORD_FILE (0600) or FLAGTOP_STORE.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// One-shot view of flags, ladders, guardrails and approvals.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Perform an action (always with --reason).
    Act(act::ActArgs),
    /// Propose an action for a person to decide (agents: this, not `act`); prints the request id.
    Propose(propose::ProposeArgs),
    /// The approval queue.
    Approvals {
        #[command(subcommand)]
        command: Option<approvals::ApprovalsCommand>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// The audit trail, newest first.
    Audit {
        #[arg(long)]
        flag: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Only events older than this audit id (to page back past a search's scan limit).
        #[arg(long)]
        before: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Every flag's lifecycle stage (ready for cleanup, stale, …); `--fail-on stale` exits 9.
    Lifecycle(lifecycle::LifecycleArgs),
    /// The incident record of a window: signal → proposal → approval → change → evidence
    /// (`--env` narrows it to one environment).
    Timeline(timeline::TimelineArgs),
    /// Create or update environments and flags from a definitions file (idempotent).
    Apply {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Outgoing webhooks: `webhooks log` shows delivery attempts and each hook's health.
    Webhooks {
        #[command(subcommand)]
        command: webhooks::WebhooksCommand,
    },
    /// Validate config.toml, every theme and keymap; report every problem with file:line:column.
    CheckConfig,
    /// Render fixture state to an SVG (README screenshots).
    Screenshot(screenshot::ScreenshotArgs),
    /// MCP server on stdio for AI assistants: read tools and `propose`; agent token only (docs/mcp.md).
    Mcp,
    /// Copy an embedded store (a data dir) into an empty PostgreSQL database and verify it.
    /// The password: PGPASSWORD, FLAGTOP_STORE_PASSWORD_FILE (0600), never in --to.
    Migrate {
        /// The data dir to copy (no control plane may be running on it).
        #[arg(long, value_name = "DATA_DIR")]
        from: PathBuf,
        /// postgres://USER@HOST:PORT/DB
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// `config.toml` as settings; a broken file is a usage error, never a silent fallback.
pub(crate) fn config_settings() -> Result<crate::config::settings::Settings> {
    let mut problems = crate::config::problem::Problems::default();
    let s = crate::config::read_settings(crate::config::config_dir().as_deref(), &mut problems);
    if problems.has_errors() {
        return Err(eyre!(UsageError(format!(
            "invalid configuration (run `flagtop check-config`):\n{}",
            crate::config::render_problems(&problems)
        ))));
    }
    Ok(s)
}

/// `config.toml` for the one-shot client commands: backend, token variable and default
/// environment, below the command line and the environment (clap has already applied those).
fn with_config(mut cli: Cli) -> Result<Cli> {
    let s = config_settings()?;
    if cli.backend.is_empty() {
        cli.backend = s.backend.unwrap_or_default();
    }
    if cli.token_env == "FLAGTOP_TOKEN"
        && let Some(t) = s.token_env
    {
        cli.token_env = t;
    }
    if cli.env.is_none() {
        cli.env = s.env;
    }
    Ok(cli)
}

impl Cli {
    /// Whether the command was asked for JSON: its errors are JSON on stdout then.
    pub fn wants_json(&self) -> bool {
        match &self.command {
            Some(
                Command::Status { json }
                | Command::Approvals { json, .. }
                | Command::Audit { json, .. }
                | Command::Apply { json, .. },
            ) => *json,
            Some(Command::Act(a)) => a.json,
            Some(Command::Propose(p)) => p.json,
            Some(Command::Lifecycle(l)) => l.json,
            Some(Command::Timeline(t)) => t.format == timeline::Format::Json,
            Some(Command::Token {
                command: token::TokenCommand::Add { json, .. },
            }) => *json,
            Some(Command::Webhooks {
                command: webhooks::WebhooksCommand::Log { json, .. },
            }) => *json,
            _ => false,
        }
    }
}

/// Run the command. With `--json`, a failure is printed here as JSON on stdout and its exit
/// code returned; without, it is returned for `main` to print on stderr.
pub async fn run(cli: Cli) -> Result<i32> {
    let json = cli.wants_json();
    match dispatch(cli).await {
        Err(e) if json => Ok(fail::report(&e, true)),
        other => other,
    }
}

async fn dispatch(mut cli: Cli) -> Result<i32> {
    // `FLAGTOP_BACKEND=` (or a stray comma) names no control plane: as if not given.
    cli.backend.retain(|u| !u.trim().is_empty());
    let client_command = matches!(
        cli.command,
        Some(
            Command::Status { .. }
                | Command::Act(_)
                | Command::Propose(_)
                | Command::Approvals { .. }
                | Command::Audit { .. }
                | Command::Lifecycle(_)
                | Command::Timeline(_)
                | Command::Apply { .. }
                | Command::Token { .. }
                | Command::Webhooks { .. }
                | Command::Mcp
        )
    );
    // `approvals list --env` filters only when typed, not by the configured default.
    let env_given = cli.env.clone();
    let cli = if client_command {
        with_config(cli)?
    } else {
        cli
    };
    match &cli.command {
        None => tui::run(&cli).await,
        Some(Command::Serve {
            listen,
            no_simulate,
            expose_metrics,
            tls_cert,
            tls_key,
            store,
        }) => {
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(runtime::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            };
            let store = serve::store_choice(store.as_deref())?;
            serve::serve(&cli, *listen, *no_simulate, *expose_metrics, tls, store).await
        }
        Some(Command::Status { json }) => status::run(&cli, *json).await,
        Some(Command::Act(args)) => act::act(&cli, args).await,
        Some(Command::Propose(args)) => propose::run(&cli, args).await,
        Some(Command::Approvals { command, json }) => {
            approvals::approvals(&cli, command, env_given.as_deref(), *json).await
        }
        Some(Command::Audit {
            flag,
            limit,
            before,
            json,
        }) => audit::audit(&cli, flag.as_deref(), *before, *limit, *json).await,
        Some(Command::Lifecycle(args)) => lifecycle::run(&cli, args).await,
        Some(Command::Timeline(args)) => timeline::run(&cli, args).await,
        Some(Command::Apply { file, json }) => apply::apply_file(&cli, file, *json).await,
        Some(Command::Token {
            command: token::TokenCommand::Add { name, role, json },
        }) => token::token_add(&cli, name, role, *json).await,
        Some(Command::Webhooks { command }) => webhooks::run(&cli, command).await,
        Some(Command::CheckConfig) => Ok(crate::config::check_command()),
        Some(Command::Screenshot(args)) => screenshot::run(&cli, args),
        Some(Command::Mcp) => mcp::run(&cli).await,
        Some(Command::Migrate { from, to }) => migrate::run(from, to),
    }
}
