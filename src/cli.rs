//! Command-line parsing (clap) and dispatch to the TUI, the server and the one-shot commands.
//! Prints only outside the TUI; every backend string is sanitised before it is printed.

use crate::client::{Client, ClientError};
use crate::control::runtime::{self, StartOptions};
use crate::domain::{Action, ApprovalState, CohortName, EnvKey, FlagKey, Revision, Role};
use crate::sanitize::clean;
use crate::wire::{ActionRequest, OutcomeKind, TokenRequest};
use clap::{Args, Parser, Subcommand};
use color_eyre::eyre::{eyre, Result};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Exit codes (documented in the README).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const CONFLICT: i32 = 3;
    pub const DENIED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    pub const INVALID: i32 = 6;
    pub const UNREACHABLE: i32 = 7;
    pub const SERVER: i32 = 8;
}

#[derive(Parser, Debug)]
#[command(name = "flagtop", version, about = "top for feature-flag rollouts", long_about = None,
    after_help = "With no command, flagtop opens the TUI on an embedded control plane running the demo scenario.\nLogs go to flagtop.log in the state dir (see `flagtop --help` → FLAGTOP_DATA / --data).")]
pub struct Cli {
    /// A running control plane (`flagtop serve`) to use instead of the embedded one.
    #[arg(long, global = true, env = "FLAGTOP_BACKEND")]
    pub backend: Option<String>,
    /// Name of the environment variable holding the API token for --backend.
    #[arg(long, global = true, default_value = "FLAGTOP_TOKEN", env = "FLAGTOP_TOKEN_ENV")]
    pub token_env: String,
    /// Data dir of the embedded control plane.
    #[arg(long, global = true, env = "FLAGTOP_DATA")]
    pub data: Option<PathBuf>,
    /// Scenario used to seed a new data dir: demo, calm, large.
    #[arg(long, global = true, default_value = "demo")]
    pub scenario: String,
    /// Environment to start in (TUI) or to show (status).
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

/// Where flags live, from --flags / --unleash-url / the token variable.
pub fn flag_source(cli: &Cli) -> Result<runtime::FlagSource> {
    if cli.flags != "unleash" {
        return Ok(runtime::FlagSource::Embedded);
    }
    let url = cli
        .unleash_url
        .clone()
        .ok_or_else(|| eyre!(UsageError("--flags unleash needs --unleash-url URL (or FLAGTOP_UNLEASH_URL)".into())))?;
    let token = std::env::var(&cli.unleash_token_env).map_err(|_| {
        eyre!(UsageError(format!(
            "no Unleash admin token: set the environment variable {} (tokens are never accepted as arguments)",
            cli.unleash_token_env
        )))
    })?;
    Ok(runtime::FlagSource::Unleash { url, token, poll: std::time::Duration::from_secs(cli.unleash_poll_secs.max(1)) })
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
    },
    /// One-shot view of flags, ladders, guardrails and approvals.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Perform an action (always with --reason).
    Act(ActArgs),
    /// The approval queue.
    Approvals {
        #[command(subcommand)]
        command: Option<ApprovalsCommand>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// The audit trail, newest first.
    Audit {
        #[arg(long)]
        flag: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
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
        command: TokenCommand,
    },
    /// Validate config.toml, every theme and keymap; report every problem with file:line:column.
    CheckConfig,
    /// Render fixture state to an SVG (README screenshots).
    Screenshot(crate::screenshot::ScreenshotArgs),
    /// MCP server on stdio for AI assistants: read tools and `propose`; agent token only (docs/mcp.md).
    Mcp,
}

#[derive(Subcommand, Debug)]
pub enum ApprovalsCommand {
    List,
    Approve {
        id: String,
        #[arg(long)]
        reason: String,
    },
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Mint a token (shown once, stored hashed).
    Add {
        name: String,
        #[arg(long, value_parser = ["viewer", "operator", "approver", "agent", "admin"])]
        role: String,
    },
}

#[derive(Args, Debug)]
pub struct ActArgs {
    #[command(subcommand)]
    pub verb: Verb,
    /// Why (required, recorded in the audit trail).
    #[arg(long, global = true)]
    pub reason: Option<String>,
    /// Print the outcome as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Refuse if the flag changed after this revision.
    #[arg(long, global = true)]
    pub expect_revision: Option<u64>,
    /// Makes a retry safe: the same key returns the first outcome.
    #[arg(long, global = true)]
    pub idempotency_key: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    SetPercent { flag: String, cohort: String, percent: String },
    Rollback { flag: String, cohort: String },
    Restore { flag: String, cohort: String },
    Advance {
        flag: String,
        /// Exact exposure instead of the stage's targets, e.g. eu-west=25,us-east=25.
        #[arg(long)]
        exposure: Option<String>,
    },
    Retreat {
        flag: String,
        #[arg(long)]
        exposure: Option<String>,
    },
    Pause {
        flag: String,
        #[arg(long)]
        note: Option<String>,
    },
    Resume { flag: String },
    Kill { flag: String },
    Revive { flag: String },
    Freeze,
    Unfreeze,
    /// Apply the stored reverse of an audit entry.
    Undo { audit_id: u64 },
}

/// A usage error with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn exit_code(e: &color_eyre::Report) -> i32 {
    if e.downcast_ref::<UsageError>().is_some() {
        return exit::USAGE;
    }
    match e.downcast_ref::<ClientError>() {
        Some(ClientError::Api { status, .. }) => match status {
            409 => exit::CONFLICT,
            401 | 403 => exit::DENIED,
            404 => exit::NOT_FOUND,
            400 | 413 | 415 | 422 => exit::INVALID,
            _ => exit::SERVER,
        },
        Some(ClientError::Unreachable { .. } | ClientError::Timeout { .. } | ClientError::Interrupted { .. }) => exit::UNREACHABLE,
        Some(ClientError::Protocol(_)) => exit::SERVER,
        None => exit::FAILURE,
    }
}

pub fn data_dir(cli: &Cli) -> Result<PathBuf> {
    if let Some(d) = &cli.data {
        return Ok(d.clone());
    }
    directories::ProjectDirs::from("dev", "flagtop", "flagtop")
        .map(|p| p.data_dir().to_path_buf())
        .ok_or_else(|| eyre!("cannot find a home directory for the data dir; pass --data DIR"))
}

/// A client for one-shot commands, and the embedded plane it may have started.
pub struct Session {
    pub client: Client,
    embedded: Option<runtime::Running>,
}

impl Session {
    pub async fn close(self) {
        if let Some(r) = self.embedded {
            r.shutdown().await;
        }
    }
}

/// The API token: from the variable `var`, else from the file named by `FLAGTOP_TOKEN_FILE`
/// (which must be readable by its owner only). Never from the command line.
pub fn token_from_env(var: &str) -> Result<String> {
    if let Ok(t) = std::env::var(var) {
        return Ok(t);
    }
    if let Ok(path) = std::env::var("FLAGTOP_TOKEN_FILE") {
        return read_token_file(std::path::Path::new(&path));
    }
    Err(eyre!(UsageError(format!(
        "no API token: set the environment variable {var}, or FLAGTOP_TOKEN_FILE to a file only you can read (tokens are never accepted as arguments; mint one with `flagtop token add NAME --role ROLE`)"
    ))))
}

/// Read a token file, refusing one that others can read.
pub fn read_token_file(path: &std::path::Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| eyre!(UsageError(format!("cannot read token file {}: {e}", path.display()))))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(eyre!(UsageError(format!(
                "token file {} is readable by others (mode {mode:o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            ))));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| eyre!(UsageError(format!("cannot read token file {}: {e}", path.display()))))?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(eyre!(UsageError(format!("token file {} is empty", path.display()))));
    }
    Ok(token)
}

/// Connect: --backend, else the control plane advertised in the data dir, else open it here.
pub async fn connect(cli: &Cli, source: &'static str) -> Result<Session> {
    if let Some(url) = &cli.backend {
        let token = token_from_env(&cli.token_env)?;
        return Ok(Session { client: Client::new(url, &token, source)?, embedded: None });
    }
    let dir = data_dir(cli)?;
    if let Some(ep) = runtime::read_endpoint(&dir) {
        let client = Client::new(&ep.url, &ep.token, source)?;
        if client.healthz().await.is_ok() {
            return Ok(Session { client, embedded: None });
        }
    }
    let running = runtime::start(StartOptions {
        data_dir: dir,
        scenario: cli.scenario.clone(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        simulate: false,
        tick: std::time::Duration::from_secs(1),
        prometheus: cli.prometheus.clone(),
        expose_metrics: false,
        flags: flag_source(cli)?,
        tls: None,
    })
    .await?;
    let client = Client::new(&running.url, &running.token, source)?;
    Ok(Session { client, embedded: Some(running) })
}

fn parse_exposure(s: &str) -> Result<BTreeMap<CohortName, u8>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (c, p) = pair
                .split_once('=')
                .ok_or_else(|| eyre!(UsageError(format!("--exposure wants cohort=percent pairs, got `{pair}`"))))?;
            Ok((CohortName::from(c.trim()), parse_percent(p.trim())?))
        })
        .collect()
}

pub fn parse_percent(s: &str) -> Result<u8> {
    let n: i64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| eyre!(UsageError(format!("percent must be a whole number 0–100, got `{s}`"))))?;
    u8::try_from(n)
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| eyre!(UsageError(format!("percent must be 0–100, got {n}"))))
}

fn need_env(cli: &Cli) -> Result<EnvKey> {
    cli.env.as_deref().map(EnvKey::from).ok_or_else(|| eyre!(UsageError("say which environment with --env ENV".into())))
}

async fn build_action(cli: &Cli, session: &Session, verb: &Verb) -> Result<Action> {
    let f = |s: &String| FlagKey::from(s.as_str());
    let c = |s: &String| CohortName::from(s.as_str());
    if let Verb::Undo { audit_id } = verb {
        let event = session
            .client
            .audit_event(*audit_id)
            .await?
            .ok_or_else(|| eyre!(UsageError(format!("no audit entry #{audit_id}"))))?;
        return event.reverse.ok_or_else(|| eyre!(UsageError(format!("audit entry #{audit_id} has no reverse to apply"))));
    }
    let env = need_env(cli)?;
    Ok(match verb {
        Verb::SetPercent { flag, cohort, percent } => {
            Action::SetPercent { flag: f(flag), env, cohort: c(cohort), percent: parse_percent(percent)? }
        }
        Verb::Rollback { flag, cohort } => Action::Rollback { flag: f(flag), env, cohort: c(cohort) },
        Verb::Restore { flag, cohort } => Action::Restore { flag: f(flag), env, cohort: c(cohort) },
        Verb::Advance { flag, exposure } => {
            Action::Advance { flag: f(flag), env, exposure: exposure.as_deref().map(parse_exposure).transpose()? }
        }
        Verb::Retreat { flag, exposure } => {
            Action::Retreat { flag: f(flag), env, exposure: exposure.as_deref().map(parse_exposure).transpose()? }
        }
        Verb::Pause { flag, note } => Action::Pause { flag: f(flag), env, note: note.clone() },
        Verb::Resume { flag } => Action::Resume { flag: f(flag), env },
        Verb::Kill { flag } => Action::Kill { flag: f(flag), env },
        Verb::Revive { flag } => Action::Revive { flag: f(flag), env },
        Verb::Freeze => Action::Freeze { env },
        Verb::Unfreeze => Action::Unfreeze { env },
        Verb::Undo { .. } => return Err(eyre!("unreachable")),
    })
}

async fn act(cli: &Cli, args: &ActArgs) -> Result<i32> {
    let reason = args
        .reason
        .clone()
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| eyre!(UsageError("every action needs --reason \"why\"".into())))?;
    let session = connect(cli, "cli").await?;
    let result = async {
        let action = build_action(cli, &session, &args.verb).await?;
        let req = ActionRequest {
            action,
            reason,
            expected_revision: args.expect_revision.map(Revision),
            source: Some("cli".into()),
        };
        let key = args.idempotency_key.clone().unwrap_or_else(crate::client::http::idempotency_key);
        let outcome = match session.client.act(&req, &key).await {
            Ok(o) => o,
            // Sent, but no answer: it may or may not have been applied. Never re-send blindly;
            // the same key makes a retry safe.
            Err(e @ (ClientError::Timeout { .. } | ClientError::Interrupted { .. } | ClientError::Protocol(_))) => {
                return Err(eyre!(e).wrap_err(format!(
                    "no answer to the action: it may or may not have been applied. Retry safely with the same key (--idempotency-key {key} )"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if args.json {
            let mut v = serde_json::to_value(&outcome)?;
            v["idempotency_key"] = serde_json::Value::String(key);
            println!("{}", crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&v)?));
        } else {
            match outcome.outcome {
                OutcomeKind::Applied => println!(
                    "applied: {} (audit #{}, revision {})\nundo with: {}",
                    clean(&outcome.action.describe(), 300),
                    outcome.audit_id.map_or_else(String::new, |a| a.to_string()),
                    outcome.revision,
                    clean(&outcome.reverse_command, 500)
                ),
                OutcomeKind::Requested => println!(
                    "requested: {} needs another person's approval (request {}).\nan approver runs: flagtop approvals approve {} --reason \"…\"",
                    clean(&outcome.action.describe(), 300),
                    outcome.approval_id.as_ref().map_or("", |a| a.as_str()),
                    outcome.approval_id.as_ref().map_or("", |a| a.as_str()),
                ),
                OutcomeKind::Rejected => println!("rejected"),
            }
        }
        Ok::<i32, color_eyre::Report>(exit::OK)
    }
    .await;
    session.close().await;
    result
}

async fn approvals(cli: &Cli, command: &Option<ApprovalsCommand>, json: bool) -> Result<i32> {
    let session = connect(cli, "cli").await?;
    let result = async {
        match command {
            None | Some(ApprovalsCommand::List) => {
                let list = session.client.approvals().await?;
                if json {
                    println!("{}", crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&list)?));
                } else {
                    let pending: Vec<_> = list.approvals.iter().filter(|a| a.state == ApprovalState::Pending).collect();
                    if pending.is_empty() {
                        println!("no pending requests");
                    }
                    for a in pending {
                        println!(
                            "{}  {}  by {} ({})\n    reverse: {}\n    reason:  {}\n    expires: {}",
                            clean(&a.id, 60),
                            clean(&a.action.describe(), 200),
                            clean(&a.requested_by.name, 60),
                            a.requested_by.kind(),
                            clean(&a.reverse.describe(), 200),
                            clean(&a.reason, 300),
                            a.expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        );
                        if let Some(gap) = &a.evidence_gap {
                            println!("    evidence gap: {}", clean(gap, 300));
                        }
                    }
                }
            }
            Some(ApprovalsCommand::Approve { id, reason } | ApprovalsCommand::Reject { id, reason }) => {
                let approve = matches!(command, Some(ApprovalsCommand::Approve { .. }));
                let outcome = session.client.decide(id, approve, reason).await?;
                if json {
                    println!("{}", crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&outcome)?));
                } else if approve {
                    println!(
                        "approved and applied: {} (audit #{})\nundo with: {}",
                        clean(&outcome.action.describe(), 300),
                        outcome.audit_id.map_or_else(String::new, |a| a.to_string()),
                        clean(&outcome.reverse_command, 500)
                    );
                } else {
                    println!("rejected: {}", clean(&outcome.action.describe(), 300));
                }
            }
        }
        Ok::<i32, color_eyre::Report>(exit::OK)
    }
    .await;
    session.close().await;
    result
}

async fn audit(cli: &Cli, flag: Option<&str>, limit: usize, json: bool) -> Result<i32> {
    let session = connect(cli, "cli").await?;
    let result = async {
        let page = session.client.audit(flag, limit).await?;
        if json {
            println!("{}", crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&page)?));
        } else {
            for e in &page.events {
                let what = e.action.as_ref().map_or_else(|| "-".to_string(), Action::describe);
                println!(
                    "#{:<5} {}  {:<9} {:<40} by {} ({})  — {}",
                    e.id,
                    e.at.format("%Y-%m-%d %H:%M:%S"),
                    format!("{:?}", e.kind).to_lowercase(),
                    clean(&what, 40),
                    clean(&e.actor.name, 40),
                    clean(&e.source, 10),
                    clean(&e.reason, 200)
                );
                if let Some(r) = &e.reverse {
                    println!("       reverse: {}", clean(&r.describe(), 200));
                }
            }
        }
        Ok::<i32, color_eyre::Report>(exit::OK)
    }
    .await;
    session.close().await;
    result
}

async fn apply_file(cli: &Cli, file: &PathBuf, json: bool) -> Result<i32> {
    let text = std::fs::read_to_string(file).map_err(|e| eyre!(UsageError(format!("cannot read {}: {e}", file.display()))))?;
    let defs = crate::control::definitions::parse(&file.display().to_string(), &text).map_err(|e| eyre!(UsageError(e)))?;
    let session = connect(cli, "cli").await?;
    let result = async {
        let mut results = Vec::new();
        for env in &defs.environments {
            let o = session.client.put_environment(env).await?;
            results.push(serde_json::json!({"environment": env.key, "result": o.result}));
        }
        for flag in &defs.flags {
            let o = session.client.put_flag(flag).await?;
            results.push(serde_json::json!({"flag": flag.key, "result": o.result}));
        }
        if json {
            println!("{}", crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&results)?));
        } else {
            for r in &results {
                let what = r.get("flag").or_else(|| r.get("environment")).and_then(|v| v.as_str()).unwrap_or("");
                println!("{:<40} {}", clean(what, 40), r["result"].as_str().unwrap_or(""));
            }
        }
        Ok::<i32, color_eyre::Report>(exit::OK)
    }
    .await;
    session.close().await;
    result
}

async fn token_add(cli: &Cli, name: &str, role: &str) -> Result<i32> {
    let role = Role::parse(role).ok_or_else(|| eyre!(UsageError(format!("unknown role `{role}`"))))?;
    let session = connect(cli, "cli").await?;
    let result = session.client.add_token(&TokenRequest { name: name.to_string(), role }).await;
    session.close().await;
    let t = result?;
    println!("token for {} ({}), shown once — store it now:\n{}", clean(&t.name, 100), t.role.as_str(), t.token);
    Ok(exit::OK)
}

async fn serve(cli: &Cli, listen: SocketAddr, no_simulate: bool, expose_metrics: bool, tls: Option<runtime::TlsFiles>) -> Result<i32> {
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
        let t = running.cp.add_token("admin", Role::Admin).map_err(|e| eyre!("{e}"))?;
        println!("first start: minted an admin token (shown once, stored hashed):\n{t}");
    }
    println!("flagtop control plane listening on {}", running.url);
    println!("data: {}", dir.display());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = running.wait() => {}
    }
    running.shutdown().await;
    Ok(exit::OK)
}

/// `config.toml` for the one-shot client commands: backend, token variable and default
/// environment, below the command line and the environment (clap has already applied those).
fn with_config(mut cli: Cli) -> Result<Cli> {
    let mut problems = crate::config::problem::Problems::default();
    let s = crate::config::read_settings(crate::config::config_dir().as_deref(), &mut problems);
    if problems.has_errors() {
        return Err(eyre!(UsageError(format!(
            "invalid configuration (run `flagtop check-config`):\n{}",
            crate::config::render_problems(&problems)
        ))));
    }
    if cli.backend.is_none() {
        cli.backend = s.backend;
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

pub async fn run(cli: Cli) -> Result<i32> {
    let client_command = matches!(
        cli.command,
        Some(Command::Status { .. } | Command::Act(_) | Command::Approvals { .. } | Command::Audit { .. } | Command::Apply { .. } | Command::Token { .. } | Command::Mcp)
    );
    let cli = if client_command { with_config(cli)? } else { cli };
    match &cli.command {
        None => crate::app::run_tui(&cli).await,
        Some(Command::Serve { listen, no_simulate, expose_metrics, tls_cert, tls_key }) => {
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(runtime::TlsFiles { cert: cert.clone(), key: key.clone() }),
                _ => None,
            };
            serve(&cli, *listen, *no_simulate, *expose_metrics, tls).await
        }
        Some(Command::Status { json }) => crate::status::run(&cli, *json).await,
        Some(Command::Act(args)) => act(&cli, args).await,
        Some(Command::Approvals { command, json }) => approvals(&cli, command, *json).await,
        Some(Command::Audit { flag, limit, json }) => audit(&cli, flag.as_deref(), *limit, *json).await,
        Some(Command::Apply { file, json }) => apply_file(&cli, file, *json).await,
        Some(Command::Token { command: TokenCommand::Add { name, role } }) => token_add(&cli, name, role).await,
        Some(Command::CheckConfig) => Ok(crate::config::check_command()),
        Some(Command::Screenshot(args)) => crate::screenshot::run(&cli, args),
        Some(Command::Mcp) => crate::mcp::run(&cli).await,
    }
}
