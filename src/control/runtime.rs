//! Starting a control plane: open the data dir, seed a scenario, run the engine and serve the
//! API on a TCP listener and on the owner's Unix socket (`local_socket`); advertise both and
//! an owner-only token in the data dir.

use super::clock::{Clock, SystemClock};
use super::flags::FlagStore;
use super::flags::unleash::Unleash;
use super::follower::{self as sync, Follower};
use super::service::ControlPlane;
use super::store::postgres::{self, PgStore};
use super::store::{Backend, Store};
use super::{api, engine, local_socket, scenario, server, simulator::Simulator};
use crate::domain::{Actor, Role};
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
    /// The lifecycle rules (`[lifecycle]` in `config.toml`), carried by every snapshot.
    pub lifecycle: crate::domain::LifecycleRules,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
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

pub struct Running {
    pub url: String,
    /// The owner's Unix socket, when one is served (the TUI and local CLI use it).
    pub socket: Option<PathBuf>,
    /// The owner's token (in memory and in the 0600 endpoint file only).
    pub token: String,
    pub cp: Arc<ControlPlane>,
    stop: Arc<AtomicBool>,
    shutdown: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    endpoint_file: PathBuf,
}

impl Running {
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
        // The server closes its streams and gives connections `server::SHUTDOWN_GRACE`.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.server).await;
        let _ = std::fs::remove_file(&self.endpoint_file);
        if let Some(socket) = &self.socket {
            let _ = std::fs::remove_file(socket);
        }
    }

    /// Serve until the task ends (used by `flagtop serve`).
    pub async fn wait(&mut self) {
        let _ = (&mut self.server).await;
    }
}

mod endpoint;
mod replicas;
mod tls;
use endpoint::write_private;
pub use endpoint::{Endpoint, endpoint_path, live_endpoint, owner_name, read_endpoint};
use replicas::{spawn_leadership, spawn_store_follower};

/// The owner's socket for `data_dir`, bound; None (TCP only, with a warning) when the path is
/// too long or it cannot be made private.
fn bound_socket(data_dir: &Path) -> Option<(PathBuf, server::Listener)> {
    let Some(path) = local_socket::socket_path(data_dir) else {
        tracing::warn!(data = %data_dir.display(), "the data dir's path is too long for a Unix socket and XDG_RUNTIME_DIR is not set: the local CLI and TUI use TCP");
        return None;
    };
    match local_socket::bind(&path) {
        Ok((listener, owner_uid)) => Some((
            path,
            server::Listener::Unix {
                listener,
                owner_uid,
            },
        )),
        Err(e) => {
            tracing::warn!(error = %e, "no owner socket: the local CLI and TUI use TCP");
            None
        }
    }
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
    cp.set_simulated(opts.simulate);
    cp.set_lifecycle_rules(opts.lifecycle.bounded());
    let exposition = opts
        .expose_metrics
        .then(|| Arc::new(super::exposition::Exposition::default()));
    if let Some(url) = &opts.prometheus {
        super::prometheus::spawn(cp.clone(), url, stop.clone())
            .map_err(|e| color_eyre::eyre::eyre!(e))?;
    }
    super::webhooks::spawn_health(&tokio::runtime::Handle::current(), cp.clone(), stop.clone());
    match pg {
        None => {
            engine::spawn(cp.clone(), sim, exposition.clone(), opts.tick, stop.clone());
            super::webhooks::spawn(&tokio::runtime::Handle::current(), cp.clone(), stop.clone());
        }
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
            let rt = tokio::runtime::Handle::current();
            // `engine_stop` is set when this replica loses the lock or the server stops.
            let start_engine = move |engine_stop: Arc<AtomicBool>| {
                let sim = sim
                    .take()
                    .or_else(|| simulate.then(|| Simulator::new(&scenario, SystemClock.now())));
                // Webhooks are delivered where the engine runs: one replica at a time.
                super::webhooks::spawn(&rt, engine_cp.clone(), engine_stop.clone());
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
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
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
    let (url, listener) = match &opts.tls {
        None => (format!("http://{addr}"), server::Listener::Tcp(listener)),
        Some(files) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls::tls_config(files)?));
            (
                format!("https://{addr}"),
                server::Listener::Tls(listener, acceptor),
            )
        }
    };
    // The owner's socket has its own connection registry: however many TCP connections others
    // hold, none of them can evict or crowd out the owner's.
    let socket = bound_socket(&opts.data_dir);
    // Stopped by `Running::shutdown`, or when `Running` is dropped.
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                break;
            }
        }
    };
    let tcp_cap = server::public_cap(server::open_files_limit());
    let tcp = server::serve(
        listener,
        app.clone(),
        Arc::new(server::Registry::with_cap(tcp_cap)),
        closing_tx.clone(),
        until_stopped(stop_rx.clone()),
    );
    let (socket, local) = match socket {
        Some((path, l)) => (Some(path), Some(l)),
        None => (None, None),
    };
    let local = local.map(|l| {
        server::serve(
            l,
            app,
            Arc::new(server::Registry::default()),
            closing_tx,
            until_stopped(stop_rx),
        )
    });
    let server = tokio::spawn(async move {
        match local {
            Some(local) => {
                tokio::join!(tcp, local);
            }
            None => tcp.await,
        }
    });
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
        socket: socket.clone(),
    };
    write_private(&endpoint_file, &serde_json::to_string(&ep)?)?;
    tracing::info!(%url, data = %opts.data_dir.display(), "control plane listening");
    Ok(Running {
        url,
        socket,
        token,
        cp,
        stop,
        shutdown: stop_tx,
        server,
        endpoint_file,
    })
}
