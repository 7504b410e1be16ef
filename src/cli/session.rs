//! Owns how a command reaches a control plane: `--backend` with a token from the environment,
//! the one advertised in the data dir, or one opened here; where flags live. It must not print.

use super::Cli;
use crate::client::{Client, Transport};
use crate::control::local_socket;
use crate::control::runtime::{self, StartOptions};
use crate::exit::UsageError;
use color_eyre::eyre::{Result, eyre};
use std::net::SocketAddr;
use std::path::PathBuf;

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
    pub(super) embedded: Option<runtime::Running>,
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
    let meta = std::fs::metadata(path).map_err(|e| {
        eyre!(UsageError(format!(
            "cannot read token file {}: {e}",
            path.display()
        )))
    })?;
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
    let text = std::fs::read_to_string(path).map_err(|e| {
        eyre!(UsageError(format!(
            "cannot read token file {}: {e}",
            path.display()
        )))
    })?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(eyre!(UsageError(format!(
            "token file {} is empty",
            path.display()
        ))));
    }
    Ok(token)
}

/// `--backend` as given (one or several replicas): a usage error beyond
/// `client::failover::MAX_BACKENDS` URLs.
pub fn check_backends(urls: &[String]) -> Result<()> {
    let max = crate::client::failover::MAX_BACKENDS;
    if urls.len() > max {
        return Err(eyre!(UsageError(format!(
            "--backend names {} control-plane URLs; at most {max} (the replicas of one control plane)",
            urls.len()
        ))));
    }
    Ok(())
}

/// Connect: --backend (one or several replicas), else the control plane advertised in the data
/// dir, else open it here.
pub async fn connect(cli: &Cli, source: &'static str) -> Result<Session> {
    if !cli.backend.is_empty() {
        check_backends(&cli.backend)?;
        let token = token_from_env(&cli.token_env)?;
        return Ok(Session {
            client: Client::replicas(&cli.backend, &token, source)?,
            embedded: None,
        });
    }
    let dir = data_dir(cli)?;
    if let Some(client) = attach(&dir, source).await? {
        return Ok(Session {
            client,
            embedded: None,
        });
    }
    let running = runtime::start(embedded(cli, dir, false)?).await?;
    let client = owner_client(&running, source)?;
    Ok(Session {
        client,
        embedded: Some(running),
    })
}

/// A client of the control plane already running on the data dir `dir` (a TUI or `serve`
/// advertises its address, its owner's socket and an owner-only token there), or None when none
/// runs or the one at the advertised address cannot prove it is that control plane (then no
/// token is sent). A socket that is not private to this user is an error, never a fallback.
pub async fn attach(dir: &std::path::Path, source: &'static str) -> Result<Option<Client>> {
    let Some(ep) = runtime::live_endpoint(dir) else {
        return Ok(None);
    };
    // Before the token goes anywhere: the owner's socket must be private and served by this
    // user, and the server must prove it holds this start's key.
    let transport = match &ep.socket {
        Some(path) => {
            local_socket::check(path).await.map_err(|e| {
                eyre!(
                    "the control plane's socket is not safe to use: {e}; not sending the token (stop the control plane on {} and start it again)",
                    dir.display()
                )
            })?;
            Transport::Unix(path.clone())
        }
        None => Transport::Tcp,
    };
    let probe = Client::with_transport(&ep.url, "", source, transport.clone())?;
    let key = ep.proof_key.clone().unwrap_or_default();
    if probe.proves(&key).await {
        return Ok(Some(Client::with_transport(
            &ep.url, &ep.token, source, transport,
        )?));
    }
    tracing::warn!(url = %ep.url, "the endpoint file's address did not prove it is this data dir's control plane; not sending the token");
    Ok(None)
}

/// A client for the plane this process started: over its socket when it has one.
pub fn owner_client(running: &runtime::Running, source: &'static str) -> Result<Client> {
    let transport = running
        .socket
        .clone()
        .map(Transport::Unix)
        .unwrap_or_default();
    Ok(Client::with_transport(
        &running.url,
        &running.token,
        source,
        transport,
    )?)
}

/// A control plane opened here on the data dir `dir`, on a loopback port, without TLS.
pub fn embedded(cli: &Cli, dir: PathBuf, simulate: bool) -> Result<StartOptions> {
    Ok(StartOptions {
        data_dir: dir,
        scenario: cli.scenario.clone(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        simulate,
        tick: std::time::Duration::from_secs(1),
        prometheus: cli.prometheus.clone(),
        expose_metrics: false,
        flags: flag_source(cli)?,
        tls: None,
        lifecycle: config_lifecycle()?,
    })
}

/// The lifecycle rules of a control plane started here: `[lifecycle]` in `config.toml`, else
/// the defaults. A broken `config.toml` is a usage error, never a silent fallback.
pub fn config_lifecycle() -> Result<crate::domain::LifecycleRules> {
    Ok(super::config_settings()?.lifecycle.unwrap_or_default())
}

/// Where flags live, from --flags / --unleash-url / the token variable.
pub fn flag_source(cli: &Cli) -> Result<runtime::FlagSource> {
    if cli.flags != "unleash" {
        return Ok(runtime::FlagSource::Embedded);
    }
    let url = cli.unleash_url.clone().ok_or_else(|| {
        eyre!(UsageError(
            "--flags unleash needs --unleash-url URL (or FLAGTOP_UNLEASH_URL)".into()
        ))
    })?;
    let token = std::env::var(&cli.unleash_token_env).map_err(|_| {
        eyre!(UsageError(format!(
            "no Unleash admin token: set the environment variable {} (tokens are never accepted as arguments)",
            cli.unleash_token_env
        )))
    })?;
    Ok(runtime::FlagSource::Unleash {
        url,
        token,
        poll: std::time::Duration::from_secs(cli.unleash_poll_secs.max(1)),
    })
}
