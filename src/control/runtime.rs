//! Starting a control plane: open the data dir, seed a scenario, run the engine and serve the
//! API on a listener; advertise the address and an owner-only token in the data dir.

use super::clock::{Clock, SystemClock};
use super::flags::FlagStore;
use super::flags::unleash::Unleash;
use super::follower::{self as sync, Follower};
use super::service::ControlPlane;
use super::store::postgres::{self, PgStore};
use super::store::{Backend, Store};
use super::{api, engine, scenario, server, simulator::Simulator};
use crate::domain::{Actor, Role};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct StartOptions {
    pub data_dir: PathBuf,
    /// Seed for a new data dir; also drives the simulator.
    pub scenario: String,
    pub listen: SocketAddr,
    /// Run the traffic simulator (demo data).
    pub simulate: bool,
    /// Engine period.
    pub tick: std::time::Duration,
    /// Read `promql` guardrails from this Prometheus (base URL).
    pub prometheus: Option<String>,
    /// Serve the simulator's traffic at `/metrics` for Prometheus to scrape.
    pub expose_metrics: bool,
    /// Where flags live.
    pub flags: FlagSource,
    /// Serve HTTPS with this certificate chain and key (PEM files).
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A rustls server configuration from PEM files, with a clear error for each way they can be wrong.
fn tls_config(files: &TlsFiles) -> color_eyre::Result<tokio_rustls::rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| {
            color_eyre::eyre::eyre!(
                "cannot read the TLS certificate {}: {e}",
                files.cert.display()
            )
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            color_eyre::eyre::eyre!(
                "the TLS certificate {} is not valid PEM: {e}",
                files.cert.display()
            )
        })?;
    if certs.is_empty() {
        return Err(color_eyre::eyre::eyre!(
            "no certificate found in {}",
            files.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        color_eyre::eyre::eyre!("cannot read the TLS key {}: {e}", files.key.display())
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| color_eyre::eyre::eyre!("TLS set-up failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            color_eyre::eyre::eyre!("the TLS certificate and key do not fit together: {e}")
        })
}

/// Which store holds flagtop's own records.
#[derive(Debug, Clone, Default)]
pub enum StoreChoice {
    /// The embedded redb store in the data dir (the default: one machine).
    #[default]
    Embedded,
    /// PostgreSQL, shared by several replicas. The password is never part of argv.
    Postgres {
        url: String,
        password: Option<String>,
    },
}

/// How often a replica's follower reads the changes table when no NOTIFY woke it.
pub const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// How often a replica tries to take the engine's lock, and the leader checks it still holds it.
pub const LEAD_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Open the control plane on `store`: seed a new store (embedded flags), or load Unleash.
type Opened = (Arc<ControlPlane>, Option<(Follower, std::time::Duration)>);
fn open_on(
    store: impl Backend + 'static,
    dir: &Path,
    source: FlagSource,
    clock: Arc<dyn Clock>,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> color_eyre::Result<Opened> {
    match source {
        FlagSource::Embedded => {
            let seed = if store.initialised()? {
                // Still check the name, as a new data dir would.
                scenario::check(name).map_err(|e| color_eyre::eyre::eyre!(e))?;
                None
            } else {
                Some(scenario::build(name, now).map_err(|e| color_eyre::eyre::eyre!(e))?)
            };
            let cp = ControlPlane::open(store, clock, seed)
                .map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
            Ok((cp, None))
        }
        FlagSource::Unleash { url, token, poll } => {
            // One client for writes and the follower: they share what was last read (the
            // compare-and-set values) and which events are flagtop's own.
            let unleash = Unleash::new(&url, &token)?;
            let store_side: Arc<dyn FlagStore> = Arc::new(unleash.clone());
            let cp = ControlPlane::open_with(store, clock, None, Some(store_side))
                .map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
            let mut follower = Follower::new(unleash).with_cursor(dir.join("unleash-cursor"), &url);
            follower.initial(&cp).map_err(|e| {
                color_eyre::eyre::eyre!("cannot load flags from Unleash at {url}: {e}")
            })?;
            Ok((cp, Some((follower, poll))))
        }
    }
}

/// Each replica's follower: woken by NOTIFY (a revision only) or every `FOLLOW_POLL`, it reads
/// what other replicas committed from the changes table and publishes it to this replica's
/// streams, in order.
fn spawn_store_follower(
    cp: Arc<ControlPlane>,
    wake: Arc<tokio::sync::Notify>,
    stop: Arc<AtomicBool>,
) {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(FOLLOW_POLL) => {}
            }
            let cp = cp.clone();
            match tokio::task::spawn_blocking(move || cp.follow_store()).await {
                Ok(Ok(n)) if n > 0 => tracing::debug!(changes = n, "caught up with other replicas"),
                Ok(Err(e)) => tracing::warn!(error = %e, "could not read other replicas' changes"),
                _ => {}
            }
        }
    });
}

/// The engine runs on exactly one replica: the one holding the advisory lock. Every replica
/// tries to take it every `LEAD_CHECK`; the leader checks it still holds it as often, and stops
/// its engine when it lost it (its connection died). When the leader's process dies, its
/// connection closes, PostgreSQL releases the lock and another replica takes over.
fn spawn_leadership(
    cp: Arc<ControlPlane>,
    pg: Arc<PgStore>,
    mut engine_start: impl FnMut(Arc<AtomicBool>) + Send + 'static,
    stop: Arc<AtomicBool>,
) {
    let spawned = std::thread::Builder::new().name("flagtop-leader".into()).spawn(move || {
        let mut leading: Option<(postgres::Leadership, Arc<AtomicBool>)> = None;
        while !stop.load(Ordering::Relaxed) {
            match &leading {
                Some((l, engine_stop)) => {
                    if !pg.still_leads(l) {
                        tracing::warn!("lost the engine's lock (database connection lost); stopping the engine here");
                        engine_stop.store(true, Ordering::Relaxed);
                        leading = None;
                    }
                }
                None => match pg.try_lead() {
                    Ok(Some(l)) => {
                        // Start from what the previous leader committed.
                        if let Err(e) = cp.follow_store() {
                            tracing::warn!(error = %e, "could not catch up before taking the engine");
                        }
                        tracing::info!("this replica runs the engine");
                        let engine_stop = Arc::new(AtomicBool::new(false));
                        engine_start(engine_stop.clone());
                        leading = Some((l, engine_stop));
                    }
                    Ok(None) => {}
                    Err(e) => tracing::debug!(error = %e, "cannot reach PostgreSQL to take the engine's lock"),
                },
            }
            std::thread::sleep(LEAD_CHECK);
        }
        if let Some((_, engine_stop)) = leading {
            engine_stop.store(true, Ordering::Relaxed);
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the leadership thread; this replica will not run the engine");
    }
}

/// Where a control plane keeps flag state.
#[derive(Debug, Clone, Default)]
pub enum FlagSource {
    /// flagtop's own store (the default).
    #[default]
    Embedded,
    /// An Unleash server: flags there; ladders, guardrails, approvals and audit in flagtop's store.
    Unleash {
        url: String,
        token: String,
        poll: std::time::Duration,
    },
}

/// Where a running control plane can be reached by its owner (`DATA/endpoint.json`, mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub url: String,
    pub token: String,
    pub pid: u32,
    /// A key made at start: the server proves it holds it (`GET /v1/hello`) before a client
    /// sends the token, so whoever binds a dead server's port gets no token. Files written by
    /// older versions have none and are not trusted.
    #[serde(default)]
    pub proof_key: Option<String>,
}

pub struct Running {
    pub url: String,
    /// The owner's token (in memory and in the 0600 endpoint file only).
    pub token: String,
    pub cp: Arc<ControlPlane>,
    stop: Arc<AtomicBool>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    endpoint_file: PathBuf,
}

impl Running {
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // The server closes its streams and gives connections `server::SHUTDOWN_GRACE`.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.server).await;
        let _ = std::fs::remove_file(&self.endpoint_file);
    }

    /// Serve until the task ends (used by `flagtop serve`).
    pub async fn wait(&mut self) {
        let _ = (&mut self.server).await;
    }
}

pub fn owner_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| crate::domain::ids::valid_key(u))
        .unwrap_or_else(|| "owner".to_string())
}

pub fn endpoint_path(data_dir: &Path) -> PathBuf {
    data_dir.join("endpoint.json")
}

pub fn read_endpoint(data_dir: &Path) -> Option<Endpoint> {
    let text = std::fs::read_to_string(endpoint_path(data_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The endpoint file if the process that wrote it still runs; a stale one (its process gone,
/// after `kill -9`) is removed and ignored, so a client never offers its token to whoever
/// binds that port next. Files from older versions (no proof key) are ignored too.
pub fn live_endpoint(data_dir: &Path) -> Option<Endpoint> {
    let ep = read_endpoint(data_dir)?;
    let alive = Path::new(&format!("/proc/{}", ep.pid)).exists();
    if !alive || ep.proof_key.is_none() {
        if !alive {
            tracing::info!(
                pid = ep.pid,
                "removing a stale endpoint file (its control plane is gone)"
            );
            let _ = std::fs::remove_file(endpoint_path(data_dir));
        }
        return None;
    }
    Some(ep)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

pub async fn start(opts: StartOptions) -> color_eyre::Result<Running> {
    start_with(opts, StoreChoice::Embedded).await
}

/// As `start`, on the chosen store.
pub async fn start_with(opts: StartOptions, choice: StoreChoice) -> color_eyre::Result<Running> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let dir = opts.data_dir.clone();
    let source = opts.flags.clone();
    let name = opts.scenario.clone();
    let (cp, follower, pg) = tokio::task::spawn_blocking(move || -> color_eyre::Result<_> {
        // The seed is built only for a new store, and on this thread, where the control
        // plane's state is then made from it: for `large` it is tens of MB, and one built
        // before loading a saved state and then dropped would leave that much free memory
        // under the loaded state, in the allocator, for the life of the process.
        match choice {
            StoreChoice::Embedded => {
                let (cp, f) = open_on(Store::open(&dir)?, &dir, source, clock, &name, now)?;
                Ok((cp, f, None))
            }
            StoreChoice::Postgres { url, password } => {
                let config = postgres::config(&url, password)?;
                let place = postgres::describe(&config);
                let pg = Arc::new(PgStore::open(config).map_err(|e| {
                    color_eyre::eyre::eyre!("cannot open the PostgreSQL store at {place}: {e}")
                })?);
                let (cp, f) = open_on(pg.clone(), &dir, source, clock, &name, now)?;
                Ok((cp, f, Some(pg)))
            }
        }
    })
    .await??;
    let token = cp
        .add_local_token(Actor::from_token(owner_name(), Role::Admin))
        .map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    if let Some((follower, poll)) = follower {
        sync::spawn(cp.clone(), follower, poll, stop.clone());
    }
    let sim = opts.simulate.then(|| Simulator::new(&opts.scenario, now));
    let exposition = opts
        .expose_metrics
        .then(|| Arc::new(super::exposition::Exposition::default()));
    if let Some(url) = &opts.prometheus {
        super::prometheus::spawn(cp.clone(), url, stop.clone())
            .map_err(|e| color_eyre::eyre::eyre!(e))?;
    }
    match pg {
        None => engine::spawn(cp.clone(), sim, exposition.clone(), opts.tick, stop.clone()),
        Some(pg) => {
            spawn_store_follower(cp.clone(), pg.wakeup(), stop.clone());
            let (engine_cp, exposition, tick, scenario, simulate) = (
                cp.clone(),
                exposition.clone(),
                opts.tick,
                opts.scenario.clone(),
                opts.simulate,
            );
            let mut sim = sim;
            // `engine_stop` is set when this replica loses the lock or the server stops.
            let start_engine = move |engine_stop: Arc<AtomicBool>| {
                let sim = sim
                    .take()
                    .or_else(|| simulate.then(|| Simulator::new(&scenario, SystemClock.now())));
                engine::spawn(
                    engine_cp.clone(),
                    sim,
                    exposition.clone(),
                    tick,
                    engine_stop,
                );
            };
            spawn_leadership(cp.clone(), pg, start_engine, stop.clone());
        }
    }
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| color_eyre::eyre::eyre!("cannot listen on {}: {e}", opts.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let limits = Arc::new(api::limits::Limits::default());
    let proof_key = super::auth::mint().map_err(|e| color_eyre::eyre::eyre!(e))?;
    let extras = api::Extras {
        limits: limits.clone(),
        closing: closing_rx,
        key: api::EndpointKey(Some(Arc::new(proof_key.clone()))),
        exposed: super::exposition::Exposed(exposition),
    };
    let app = api::router_with(cp.clone(), extras);
    let shutdown = async move {
        let _ = rx.await;
    };
    let (url, listener) = match &opts.tls {
        None => (format!("http://{addr}"), server::Listener::Tcp(listener)),
        Some(files) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(files)?));
            (
                format!("https://{addr}"),
                server::Listener::Tls(listener, acceptor),
            )
        }
    };
    let registry = Arc::new(server::Registry::default());
    let server = tokio::spawn(server::serve(listener, app, registry, closing_tx, shutdown));
    {
        // Rate-limit state of tokens not seen lately is forgotten once a minute.
        let (limits, stop) = (limits.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                limits.prune();
            }
        });
    }
    let endpoint_file = endpoint_path(&opts.data_dir);
    let ep = Endpoint {
        url: url.clone(),
        token: token.clone(),
        pid: std::process::id(),
        proof_key: Some(proof_key),
    };
    write_private(&endpoint_file, &serde_json::to_string(&ep)?)?;
    tracing::info!(%url, data = %opts.data_dir.display(), "control plane listening");
    Ok(Running {
        url,
        token,
        cp,
        stop,
        shutdown: Some(tx),
        server,
        endpoint_file,
    })
}
