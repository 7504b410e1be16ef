//! The team store: the same records as the embedded store, in PostgreSQL, shared by several
//! `flagtop serve` replicas. The changes table is the source of truth for other replicas: each
//! committed group is ONE transaction (synchronous commit on) that locks the single meta row,
//! checks the database is still at the revision this replica staged on (else `Behind`: nothing
//! written, the replica catches up and the caller is told "changed since you looked"), and
//! appends its changes, audit rows, approvals, idempotency records, tokens and evidence checks.
//! A `NOTIFY` carrying only the new revision wakes the other replicas' followers.
//!
//! Why `tokio-postgres` directly: it is the well-kept async client (sqlx would bring macros and
//! a larger tree; `deadpool-postgres` does not pay here: the service commits under its own lock,
//! so one writer connection is all a replica ever uses for writes, and point reads share one
//! pipelined connection — `tokio_postgres::Client` runs concurrent queries on one connection).
//!
//! Why this blocking bridge: the service is synchronous (a std mutex, called from blocking
//! threads). The store owns a small tokio runtime of its own; each call is spawned there and
//! awaited over a std channel with a deadline. Unlike `block_on` (or the sync `postgres` crate,
//! which is `block_on` inside), waiting on a channel cannot panic if it is ever reached from an
//! async context, and every call is bounded by `QUERY_TIMEOUT`.
//!
//! The parts: `schema.rs` (versioned migrations), `commit.rs` (one group, one transaction),
//! `settle.rs` (what became of a commit cut off), `reads.rs` (loading, catching up),
//! `follow.rs` (LISTEN wake-ups and the engine's lock), `backend.rs` (the `Backend` trait).

mod backend;
mod commit;
mod conn;
mod follow;
mod reads;
mod schema;
mod settle;
mod webhooks;

use conn::{Conn, Reader};
use schema::migrate;

pub use follow::Leadership;

use super::{StoreError, TokenRecord};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls};

/// Connecting to PostgreSQL gives up after this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Every store call (a query, a whole commit transaction) gives up after this.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// TCP keepalives on every store connection, both ends: probed after this much silence ...
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
/// ... then every this often ...
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// ... and given up after this many unanswered probes (a dead link fails in about 25 s).
pub const KEEPALIVE_RETRIES: u32 = 3;
/// Worker threads of the store's own runtime (it only waits on sockets).
pub const RUNTIME_THREADS: usize = 1;
/// Changes read at most by one catch-up (the follower reads again for the rest).
pub const CATCH_UP_LIMIT: i64 = 10_000;
/// The channel a commit notifies, with the new revision as its only payload.
pub const CHANNEL: &str = "flagtop_changes";
/// Advisory lock ids: schema migrations, and the engine's leadership.
const MIGRATION_LOCK: i64 = 0x666c_6167_0001;
pub const ENGINE_LOCK: i64 = 0x666c_6167_0002;
/// The commit turn: every commit takes it shared (before the meta row); a replica that lost
/// the race for a revision holds it exclusively until it has caught up and committed again.
pub const TURN_LOCK: i64 = 0x666c_6167_0003;

fn pg(e: tokio_postgres::Error) -> StoreError {
    // Connection trouble (refused, reset, the server shutting down) is "unavailable": the
    // caller may retry later. Anything else is a statement the database refused.
    let code = e.code().map(|c| c.code().to_string());
    match code.as_deref() {
        None => StoreError::Unavailable(e.to_string()),
        Some(c) if c.starts_with("08") || c.starts_with("57P") || c == "53300" => {
            StoreError::Unavailable(e.to_string())
        }
        Some(_) => StoreError::Sql(e.to_string()),
    }
}

fn corrupt(table: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |source| StoreError::Corrupt { table, source }
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Where to connect: a `postgres://` URL (or key=value string) and, separately, its password.
/// The password comes from the URL only when it was read from the environment (`FLAGTOP_STORE`),
/// else from `PGPASSWORD` or a 0600 file (`FLAGTOP_STORE_PASSWORD_FILE`).
pub fn config(url: &str, password: Option<String>) -> Result<Config, StoreError> {
    let mut config: Config = url.parse().map_err(|e| {
        StoreError::Sql(format!(
            "the store URL is not a PostgreSQL URL ({e}); use postgres://USER@HOST:PORT/DB"
        ))
    })?;
    if let Some(p) = password {
        config.password(p);
    }
    config.connect_timeout(CONNECT_TIMEOUT);
    // A link that went silent (a half-open connection: the `LISTEN` one would wait on it for
    // ever) fails after about KEEPALIVE_IDLE + KEEPALIVE_RETRIES × KEEPALIVE_INTERVAL, and is
    // made again.
    config.keepalives(true);
    config.keepalives_idle(KEEPALIVE_IDLE);
    config.keepalives_interval(KEEPALIVE_INTERVAL);
    config.keepalives_retries(KEEPALIVE_RETRIES);
    config.application_name("flagtop");
    Ok(config)
}

/// Host, port, database and user of `config`, for logs (never the password).
pub fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or("?"),
        config.get_dbname().unwrap_or("?")
    )
}

/// The PostgreSQL store.
pub struct PgStore {
    rt: Option<tokio::runtime::Runtime>,
    config: Config,
    /// Point reads (tokens, idempotency, audit): one pipelined connection, made again when lost.
    read: Mutex<Option<Arc<Reader>>>,
    /// Commits, loads and catch-ups: one connection, one at a time.
    write: Arc<tokio::sync::Mutex<Option<Conn>>>,
    epoch: String,
    /// Woken when another replica notifies a commit.
    wake: Arc<tokio::sync::Notify>,
    /// Tokens found, by hash, answered from memory from then on: no round trip per request, and
    /// requests keep authenticating while the database is away (so a write is told 503, not
    /// 401). Tokens are never removed or changed, so a cached one is never stale.
    known_tokens: Mutex<std::collections::HashMap<String, TokenRecord>>,
    #[cfg(test)]
    fail_next: std::sync::atomic::AtomicBool,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Safe from any context (a plain drop of a runtime panics inside an async one).
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The writer connection while a call uses it: dropped with it (the session closed) unless the
/// call got its answer and took the guard out.
struct Discard<'a>(Option<tokio::sync::MutexGuard<'a, Option<Conn>>>);

impl Drop for Discard<'_> {
    fn drop(&mut self) {
        let Some(guard) = self.0.as_mut() else { return };
        // Stop the statement it may have left waiting on the server (the session ends anyway
        // once that statement answers and the connection sees its client gone).
        if let (Some(c), Ok(rt)) = (guard.take(), tokio::runtime::Handle::try_current()) {
            let cancel = c.cancel_token();
            rt.spawn(async move {
                let _ = tokio::time::timeout(CONNECT_TIMEOUT, cancel.cancel_query(NoTls)).await;
            });
        }
    }
}

async fn connect(config: &Config) -> Result<Client, StoreError> {
    let (client, conn) = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!(
                "no answer from PostgreSQL within {CONNECT_TIMEOUT:?}"
            ))
        })?
        .map_err(pg)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "PostgreSQL connection ended");
        }
    });
    // Every statement is bounded on the server too, and every commit waits for its fsync. A
    // session left inside a transaction (its replica lost mid-commit, the link half-open: no
    // one left to end it) is ended by the server once it has been idle for as long as the
    // replica itself would have waited — it holds the meta row every commit needs. And the
    // server probes a silent link as the client does (`config`), instead of after 2 hours.
    let ms = QUERY_TIMEOUT.as_millis();
    client
        .batch_execute(&format!(
            "SET statement_timeout = {ms}; SET synchronous_commit = on; SET lock_timeout = {ms}; \
             SET idle_in_transaction_session_timeout = {ms}; \
             SET tcp_keepalives_idle = {}; SET tcp_keepalives_interval = {}; \
             SET tcp_keepalives_count = {KEEPALIVE_RETRIES}",
            KEEPALIVE_IDLE.as_secs(),
            KEEPALIVE_INTERVAL.as_secs(),
        ))
        .await
        .map_err(pg)?;
    Ok(client)
}

impl PgStore {
    /// Connect, migrate the schema to this version and read (or make) the shared epoch.
    pub fn open(config: Config) -> Result<PgStore, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("flagtop-pg")
            .enable_all()
            .build()
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the store's runtime: {e}"))
            })?;
        let mut store = PgStore {
            rt: Some(rt),
            config,
            read: Mutex::new(None),
            write: Arc::new(tokio::sync::Mutex::new(None)),
            epoch: String::new(),
            wake: Arc::new(tokio::sync::Notify::new()),
            known_tokens: Mutex::new(Default::default()),
            #[cfg(test)]
            fail_next: Default::default(),
        };
        let epoch = store.with_writer(|c| Box::pin(migrate(c)))?;
        store.epoch = epoch;
        store.listen();
        Ok(store)
    }

    fn remember(&self, tokens: impl Iterator<Item = (String, TokenRecord)>) {
        self.known_tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(tokens);
    }

    /// Notified when another replica commits (a wake-up only; read `since` for what changed).
    pub fn wakeup(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// Run `fut` on the store's runtime and wait for it, at most `QUERY_TIMEOUT`.
    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Some(rt) = &self.rt else {
            return Err(StoreError::Unavailable("the store is closed".into()));
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let r = match tokio::time::timeout(QUERY_TIMEOUT, fut).await {
                Ok(r) => r,
                Err(_) => Err(StoreError::Unavailable(format!(
                    "PostgreSQL did not answer within {QUERY_TIMEOUT:?}"
                ))),
            };
            let _ = tx.send(r);
        });
        rx.recv_timeout(QUERY_TIMEOUT + Duration::from_secs(1))
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "PostgreSQL did not answer within {QUERY_TIMEOUT:?}"
                )))
            })
    }

    /// Run `f` with the writer connection (made again if it was lost).
    fn with_writer<T: Send + 'static>(
        &self,
        f: impl for<'c> FnOnce(
            &'c mut Conn,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>,
        > + Send
        + 'static,
    ) -> Result<T, StoreError> {
        let (write, config) = (self.write.clone(), self.config.clone());
        self.run(async move {
            // Until the call has its answer, the connection is one to throw away: a call cut
            // off by its deadline leaves its statement running on the server, where a lock it
            // waited for (the commit turn) could still be granted to this session and never be
            // given back. Closing the session gives back whatever it holds.
            let mut slot = Discard(Some(write.lock().await));
            let Some(guard) = slot.0.as_mut() else {
                return Err(StoreError::Unavailable("no connection".into()));
            };
            if guard.as_ref().is_none_or(|c| c.is_closed()) {
                **guard = Some(Conn::open(connect(&config).await?).await?);
            }
            let Some(client) = guard.as_mut() else {
                return Err(StoreError::Unavailable("no connection".into()));
            };
            let r = f(client).await;
            if !matches!(r, Err(StoreError::Unavailable(_))) {
                // Answered: keep the connection.
                slot.0.take();
            }
            r
        })
    }

    /// The shared read connection (made again if it was lost).
    fn reader(&self) -> Result<Arc<Reader>, StoreError> {
        let mut slot = self.read.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let config = self.config.clone();
        let c = Arc::new(Reader::new(
            self.run(async move { connect(&config).await })?,
        ));
        *slot = Some(c.clone());
        Ok(c)
    }
}
