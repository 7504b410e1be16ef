//! Starting a control plane: open the data dir, seed a scenario, run the engine and serve the
//! API on a listener; advertise the address and an owner-only token in the data dir.

use super::clock::{Clock, SystemClock};
use super::service::ControlPlane;
use super::store::Store;
use super::flags::sync::{self, Follower};
use super::flags::unleash::Unleash;
use super::flags::FlagStore;
use super::{api, engine, scenario, simulator::Simulator};
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

/// A TCP listener that completes a TLS handshake (rustls) before handing a connection to axum.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.tcp.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            // A client that never finishes its handshake must not hold the door for long.
            match tokio::time::timeout(std::time::Duration::from_secs(5), self.acceptor.accept(stream)).await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// A rustls server configuration from PEM files, with a clear error for each way they can be wrong.
fn tls_config(files: &TlsFiles) -> color_eyre::Result<tokio_rustls::rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| color_eyre::eyre::eyre!("cannot read the TLS certificate {}: {e}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| color_eyre::eyre::eyre!("the TLS certificate {} is not valid PEM: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(color_eyre::eyre::eyre!("no certificate found in {}", files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| color_eyre::eyre::eyre!("cannot read the TLS key {}: {e}", files.key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| color_eyre::eyre::eyre!("TLS set-up failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| color_eyre::eyre::eyre!("the TLS certificate and key do not fit together: {e}"))
}

/// Where a control plane keeps flag state.
#[derive(Debug, Clone, Default)]
pub enum FlagSource {
    /// flagtop's own store (the default).
    #[default]
    Embedded,
    /// An Unleash server: flags there; ladders, guardrails, approvals and audit in flagtop's store.
    Unleash { url: String, token: String, poll: std::time::Duration },
}

/// Where a running control plane can be reached by its owner (`DATA/endpoint.json`, mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub url: String,
    pub token: String,
    pub pid: u32,
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
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), &mut self.server).await;
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
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let dir = opts.data_dir.clone();
    let source = opts.flags.clone();
    let name = opts.scenario.clone();
    let (cp, follower) = tokio::task::spawn_blocking(move || -> color_eyre::Result<_> {
        // The seed is built only for a new data dir, and on this thread, where the control
        // plane's state is then made from it: for `large` it is tens of MB, and one built
        // before loading a saved state and then dropped would leave that much free memory
        // under the loaded state, in the allocator, for the life of the process.
        let store = Store::open(&dir)?;
        match source {
            FlagSource::Embedded => {
                let seed = if store.initialised()? {
                    // Still check the name, as a new data dir would.
                    scenario::check(&name).map_err(|e| color_eyre::eyre::eyre!(e))?;
                    None
                } else {
                    Some(scenario::build(&name, now).map_err(|e| color_eyre::eyre::eyre!(e))?)
                };
                let cp = ControlPlane::open(store, clock, seed).map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
                Ok((cp, None))
            }
            FlagSource::Unleash { url, token, poll } => {
                // One client for writes and the follower: they share what was last read (the
                // compare-and-set values) and which events are flagtop's own.
                let unleash = Unleash::new(&url, &token)?;
                let store_side: Arc<dyn FlagStore> = Arc::new(unleash.clone());
                let cp = ControlPlane::open_with(store, clock, None, Some(store_side)).map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
                let mut follower = Follower::new(unleash).with_cursor(dir.join("unleash-cursor"), &url);
                follower
                    .initial(&cp)
                    .map_err(|e| color_eyre::eyre::eyre!("cannot load flags from Unleash at {url}: {e}"))?;
                Ok((cp, Some((follower, poll))))
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
    if opts.expose_metrics {
        super::exposition::attach(&cp);
    }
    if let Some(url) = &opts.prometheus {
        super::prometheus::spawn(cp.clone(), url, stop.clone()).map_err(|e| color_eyre::eyre::eyre!(e))?;
    }
    engine::spawn(cp.clone(), sim, opts.tick, stop.clone());
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| color_eyre::eyre::eyre!("cannot listen on {}: {e}", opts.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = api::router(cp.clone());
    let shutdown = async move {
        let _ = rx.await;
    };
    let (url, server) = match &opts.tls {
        None => {
            let server = tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                    tracing::error!(error = %e, "the API server stopped");
                }
            });
            (format!("http://{addr}"), server)
        }
        Some(files) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(files)?));
            let tls = TlsListener { tcp: listener, acceptor };
            let server = tokio::spawn(async move {
                if let Err(e) = axum::serve(tls, app).with_graceful_shutdown(shutdown).await {
                    tracing::error!(error = %e, "the API server stopped");
                }
            });
            (format!("https://{addr}"), server)
        }
    };
    let endpoint_file = endpoint_path(&opts.data_dir);
    let ep = Endpoint { url: url.clone(), token: token.clone(), pid: std::process::id() };
    write_private(&endpoint_file, &serde_json::to_string(&ep)?)?;
    tracing::info!(%url, data = %opts.data_dir.display(), "control plane listening");
    Ok(Running { url, token, cp, stop, shutdown: Some(tx), server, endpoint_file })
}
