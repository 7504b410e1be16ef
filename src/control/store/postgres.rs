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

use super::{Backend, CatchUp, Commit, IdemRecord, Loaded, Meta, StoreError, TokenRecord};
use crate::domain::{AuditEvent, Revision, State};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls};

/// Connecting to PostgreSQL gives up after this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Every store call (a query, a whole commit transaction) gives up after this.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Worker threads of the store's own runtime (it only waits on sockets).
pub const RUNTIME_THREADS: usize = 1;
/// Changes read at most by one catch-up (the follower reads again for the rest).
pub const CATCH_UP_LIMIT: i64 = 10_000;
/// The channel a commit notifies, with the new revision as its only payload.
pub const CHANNEL: &str = "flagtop_changes";
/// Advisory lock ids: schema migrations, and the engine's leadership.
const MIGRATION_LOCK: i64 = 0x666c_6167_0001;
pub const ENGINE_LOCK: i64 = 0x666c_6167_0002;

/// The schema, one step per version; a database at a newer version than this list is refused.
const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    "CREATE TABLE flagtop_meta (id int PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL, \
       last_audit bigint NOT NULL, epoch text NOT NULL, state bytea);
     CREATE TABLE flagtop_flags (key text PRIMARY KEY, body bytea NOT NULL);
     CREATE TABLE flagtop_approvals (id text PRIMARY KEY, body bytea NOT NULL);
     CREATE TABLE flagtop_audit (id bigint PRIMARY KEY, flag text, body bytea NOT NULL);
     CREATE INDEX flagtop_audit_flag ON flagtop_audit (flag, id);
     CREATE TABLE flagtop_idempotency (key text PRIMARY KEY, at_ms bigint NOT NULL, body bytea NOT NULL);
     CREATE INDEX flagtop_idempotency_at ON flagtop_idempotency (at_ms);
     CREATE TABLE flagtop_tokens (hash text PRIMARY KEY, body bytea NOT NULL);
     CREATE TABLE flagtop_evidence_due (follows bigint PRIMARY KEY, body bytea NOT NULL);
     CREATE TABLE flagtop_changes (revision bigint PRIMARY KEY, body bytea NOT NULL);",
)];

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
    read: Mutex<Option<Arc<Client>>>,
    /// Commits, loads and catch-ups: one connection, one at a time.
    write: Arc<tokio::sync::Mutex<Option<Client>>>,
    epoch: String,
    /// Woken when another replica notifies a commit.
    wake: Arc<tokio::sync::Notify>,
    /// Tokens found, by hash: requests keep authenticating while the database is away (so a
    /// write is told 503, not 401). Tokens are never removed, so a cached one is never stale.
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
    // Every statement is bounded on the server too, and every commit waits for its fsync.
    client
        .batch_execute(&format!(
            "SET statement_timeout = {}; SET synchronous_commit = on; SET lock_timeout = {}",
            QUERY_TIMEOUT.as_millis(),
            QUERY_TIMEOUT.as_millis()
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
            &'c mut Client,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>,
        > + Send
        + 'static,
    ) -> Result<T, StoreError> {
        let (write, config) = (self.write.clone(), self.config.clone());
        self.run(async move {
            let mut guard = write.lock().await;
            if guard.as_ref().is_none_or(|c| c.is_closed()) {
                *guard = Some(connect(&config).await?);
            }
            let Some(client) = guard.as_mut() else {
                return Err(StoreError::Unavailable("no connection".into()));
            };
            let r = f(client).await;
            if matches!(r, Err(StoreError::Unavailable(_))) {
                *guard = None;
            }
            r
        })
    }

    /// The shared read connection (made again if it was lost).
    fn reader(&self) -> Result<Arc<Client>, StoreError> {
        let mut slot = self.read.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let config = self.config.clone();
        let c = Arc::new(self.run(async move { connect(&config).await })?);
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Keep a `LISTEN` connection open (made again when lost) and wake the follower on every
    /// notification.
    fn listen(&self) {
        let Some(rt) = &self.rt else { return };
        let (config, wake) = (self.config.clone(), self.wake.clone());
        rt.spawn(async move {
            loop {
                match tokio::time::timeout(CONNECT_TIMEOUT, config.connect(NoTls)).await {
                    Ok(Ok((client, mut conn))) => {
                        let driver = async {
                            loop {
                                match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                                    Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => wake.notify_one(),
                                    Some(Ok(_)) => {}
                                    Some(Err(e)) => break tracing::debug!(error = %e, "LISTEN connection ended"),
                                    None => break,
                                }
                            }
                        };
                        let listen = async {
                            if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                                tracing::debug!(error = %e, "LISTEN failed");
                            }
                            std::future::pending::<()>().await
                        };
                        tokio::select! { () = driver => {}, () = listen => {} }
                        // Changes may have been missed while it was down: the follower's poll
                        // catches them; wake it at once too.
                        wake.notify_one();
                    }
                    _ => tracing::debug!("LISTEN connection failed; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Try to become the engine's replica: an advisory lock held by a connection of its own.
    /// Dropping the `Leadership` (or losing its connection, or this process dying) lets another
    /// replica take it.
    pub fn try_lead(&self) -> Result<Option<Leadership>, StoreError> {
        let config = self.config.clone();
        let client = self.run(async move { connect(&config).await })?;
        let client = Arc::new(client);
        let c = client.clone();
        let got: bool = self.run(async move {
            let row = c
                .query_one("SELECT pg_try_advisory_lock($1)", &[&ENGINE_LOCK])
                .await
                .map_err(pg)?;
            row.try_get(0).map_err(pg)
        })?;
        Ok(got.then(|| Leadership { client }))
    }

    /// Whether a leadership's connection still answers (a bounded ping).
    pub fn still_leads(&self, l: &Leadership) -> bool {
        let c = l.client.clone();
        !c.is_closed()
            && self
                .run(async move { c.simple_query("SELECT 1").await.map(|_| ()).map_err(pg) })
                .is_ok()
    }
}

/// The engine's leadership: the connection holding the advisory lock.
pub struct Leadership {
    client: Arc<Client>,
}

async fn migrate(c: &mut Client) -> Result<String, StoreError> {
    let t = c.transaction().await.map_err(pg)?;
    t.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg)?;
    t.batch_execute("CREATE TABLE IF NOT EXISTS flagtop_schema (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        .await
        .map_err(pg)?;
    let row = t
        .query_one("SELECT coalesce(max(version), 0) FROM flagtop_schema", &[])
        .await
        .map_err(pg)?;
    let at: i32 = row.try_get(0).map_err(pg)?;
    let newest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if at > newest {
        return Err(StoreError::Sql(format!(
            "the database's schema is at version {at}, newer than this flagtop knows ({newest}); upgrade flagtop"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > at) {
        t.batch_execute(sql).await.map_err(pg)?;
        t.execute(
            "INSERT INTO flagtop_schema (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(pg)?;
        tracing::info!(version, "PostgreSQL schema migrated");
    }
    let fresh = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    t.execute(
        "INSERT INTO flagtop_meta (id, revision, last_audit, epoch, state) VALUES (1, 0, 0, $1, NULL) ON CONFLICT (id) DO NOTHING",
        &[&fresh],
    )
    .await
    .map_err(pg)?;
    let row = t
        .query_one("SELECT epoch FROM flagtop_meta WHERE id = 1", &[])
        .await
        .map_err(pg)?;
    let epoch: String = row.try_get(0).map_err(pg)?;
    t.commit().await.map_err(pg)?;
    Ok(epoch)
}

/// A commit as owned rows, ready to be sent to the store's runtime.
struct Rows {
    base: i64,
    meta: Option<(i64, Vec<u8>)>,
    last_audit: i64,
    flags: (Vec<String>, Vec<Vec<u8>>),
    approvals: (Vec<String>, Vec<Vec<u8>>),
    audit: (Vec<i64>, Vec<Option<String>>, Vec<Vec<u8>>),
    idem: (Vec<String>, Vec<i64>, Vec<Vec<u8>>),
    prune_before_ms: Option<i64>,
    tokens: (Vec<String>, Vec<Vec<u8>>),
    evidence_due: (Vec<i64>, Vec<Vec<u8>>),
    evidence_done: Vec<i64>,
    changes: (Vec<i64>, Vec<Vec<u8>>),
}

fn rows(c: &Commit<'_>) -> Rows {
    let meta = c.meta.map(|s| {
        let m = Meta {
            revision: s.revision,
            environments: s.environments.clone(),
            frozen: s.frozen.clone(),
            env_revisions: s.env_revisions.clone(),
        };
        (i64_of(s.revision.0), json(&m))
    });
    Rows {
        base: i64_of(c.base.0),
        meta,
        last_audit: i64_of(
            c.last_audit
                .max(c.audit.iter().map(|e| e.id.0).max().unwrap_or(0)),
        ),
        flags: c.flags.iter().map(|f| (f.key.to_string(), json(f))).unzip(),
        approvals: c
            .approvals
            .iter()
            .map(|a| (a.id.to_string(), json(a)))
            .unzip(),
        audit: {
            let mut out = (Vec::new(), Vec::new(), Vec::new());
            for e in &c.audit {
                out.0.push(i64_of(e.id.0));
                out.1.push(e.flag.as_ref().map(|f| f.to_string()));
                out.2.push(json(e));
            }
            out
        },
        idem: {
            let mut out = (Vec::new(), Vec::new(), Vec::new());
            for (k, r) in &c.idempotency {
                out.0.push(k.to_string());
                out.1.push(r.at.timestamp_millis());
                out.2.push(json(r));
            }
            out
        },
        prune_before_ms: c.prune_idempotency_before.map(|t| t.timestamp_millis()),
        tokens: c
            .tokens
            .iter()
            .map(|(h, r)| (h.to_string(), json(r)))
            .unzip(),
        evidence_due: c
            .evidence_due
            .iter()
            .map(|e| (i64_of(e.follows.0), json(e)))
            .unzip(),
        evidence_done: c.evidence_done.iter().map(|id| i64_of(id.0)).collect(),
        changes: c
            .changes
            .iter()
            .map(|ch| (i64_of(ch.revision.0), json(ch)))
            .unzip(),
    }
}

async fn write(c: &mut Client, r: Rows) -> Result<(), StoreError> {
    let t = c.transaction().await.map_err(pg)?;
    let row = t
        .query_one(
            "SELECT revision FROM flagtop_meta WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await
        .map_err(pg)?;
    let db: i64 = row.try_get(0).map_err(pg)?;
    if let Some((revision, meta)) = &r.meta {
        if db != r.base {
            return Err(StoreError::Behind {
                db: Revision(u64_of(db)),
                staged: Revision(u64_of(r.base)),
            });
        }
        t.execute(
            "UPDATE flagtop_meta SET revision = $1, state = $2, last_audit = greatest(last_audit, $3) WHERE id = 1",
            &[revision, meta, &r.last_audit],
        )
        .await
        .map_err(pg)?;
    }
    let upsert = |table: &str, key: &str| {
        format!(
            "INSERT INTO {table} ({key}, body) SELECT * FROM unnest($1::text[], $2::bytea[]) \
             ON CONFLICT ({key}) DO UPDATE SET body = EXCLUDED.body"
        )
    };
    if !r.flags.0.is_empty() {
        t.execute(&upsert("flagtop_flags", "key"), &[&r.flags.0, &r.flags.1])
            .await
            .map_err(pg)?;
    }
    if !r.approvals.0.is_empty() {
        t.execute(
            &upsert("flagtop_approvals", "id"),
            &[&r.approvals.0, &r.approvals.1],
        )
        .await
        .map_err(pg)?;
    }
    if !r.audit.0.is_empty() {
        t.execute(
            "INSERT INTO flagtop_audit (id, flag, body) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])",
            &[&r.audit.0, &r.audit.1, &r.audit.2],
        )
        .await
        .map_err(pg)?;
    }
    if let Some(before) = r.prune_before_ms {
        t.execute(
            "DELETE FROM flagtop_idempotency WHERE at_ms < $1",
            &[&before],
        )
        .await
        .map_err(pg)?;
    }
    if !r.idem.0.is_empty() {
        t.execute(
            "INSERT INTO flagtop_idempotency (key, at_ms, body) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) \
             ON CONFLICT (key) DO UPDATE SET at_ms = EXCLUDED.at_ms, body = EXCLUDED.body",
            &[&r.idem.0, &r.idem.1, &r.idem.2],
        )
        .await
        .map_err(pg)?;
    }
    if !r.tokens.0.is_empty() {
        t.execute(
            &upsert("flagtop_tokens", "hash"),
            &[&r.tokens.0, &r.tokens.1],
        )
        .await
        .map_err(pg)?;
    }
    if !r.evidence_done.is_empty() {
        t.execute(
            "DELETE FROM flagtop_evidence_due WHERE follows = ANY($1)",
            &[&r.evidence_done],
        )
        .await
        .map_err(pg)?;
    }
    if !r.evidence_due.0.is_empty() {
        t.execute(
            "INSERT INTO flagtop_evidence_due (follows, body) SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
             ON CONFLICT (follows) DO UPDATE SET body = EXCLUDED.body",
            &[&r.evidence_due.0, &r.evidence_due.1],
        )
        .await
        .map_err(pg)?;
    }
    if !r.changes.0.is_empty() {
        t.execute(
            "INSERT INTO flagtop_changes (revision, body) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
            &[&r.changes.0, &r.changes.1],
        )
        .await
        .map_err(pg)?;
        if let Some(rev) = r.changes.0.last() {
            t.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &rev.to_string()])
                .await
                .map_err(pg)?;
        }
    }
    t.commit().await.map_err(pg)
}

fn bodies<T: serde::de::DeserializeOwned>(
    rows: &[tokio_postgres::Row],
    table: &'static str,
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|row| {
            let b: Vec<u8> = row.try_get(0).map_err(pg)?;
            serde_json::from_slice(&b).map_err(corrupt(table))
        })
        .collect()
}

/// The meta row: revision, audit counter and the stored state (None before the first commit).
async fn meta(t: &tokio_postgres::Transaction<'_>) -> Result<(u64, u64, Option<Meta>), StoreError> {
    let row = t
        .query_one(
            "SELECT revision, last_audit, state FROM flagtop_meta WHERE id = 1",
            &[],
        )
        .await
        .map_err(pg)?;
    let (rev, last): (i64, i64) = (row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?);
    let state: Option<Vec<u8>> = row.try_get(2).map_err(pg)?;
    let m = state
        .map(|b| serde_json::from_slice::<Meta>(&b).map_err(corrupt("meta")))
        .transpose()?;
    Ok((u64_of(rev), u64_of(last), m))
}

async fn snapshot_txn(c: &mut Client) -> Result<tokio_postgres::Transaction<'_>, StoreError> {
    c.build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg)
}

async fn load(c: &mut Client) -> Result<Loaded, StoreError> {
    let t = snapshot_txn(c).await?;
    let (_, last_audit, m) = meta(&t).await?;
    let initialised = m.is_some();
    let m = m.unwrap_or_default();
    let flags: Vec<crate::domain::Flag> = bodies(
        &t.query("SELECT body FROM flagtop_flags ORDER BY key", &[])
            .await
            .map_err(pg)?,
        "flags",
    )?;
    let approvals = bodies(
        &t.query("SELECT body FROM flagtop_approvals ORDER BY id", &[])
            .await
            .map_err(pg)?,
        "approvals",
    )?;
    let evidence_due = bodies(
        &t.query(
            "SELECT body FROM flagtop_evidence_due ORDER BY follows",
            &[],
        )
        .await
        .map_err(pg)?,
        "evidence_due",
    )?;
    t.commit().await.map_err(pg)?;
    Ok(Loaded {
        state: State {
            revision: m.revision,
            environments: m.environments,
            frozen: m.frozen,
            env_revisions: m.env_revisions,
            flags: flags
                .into_iter()
                .map(|f| (f.key.clone(), Arc::new(f)))
                .collect::<BTreeMap<_, _>>(),
        },
        approvals,
        last_audit,
        evidence_due,
        initialised,
    })
}

async fn since(c: &mut Client, revision: i64) -> Result<Option<CatchUp>, StoreError> {
    let t = snapshot_txn(c).await?;
    let (rev, last_audit, m) = meta(&t).await?;
    if i64_of(rev) <= revision {
        return Ok(None);
    }
    let rows = t
        .query(
            "SELECT body FROM flagtop_changes WHERE revision > $1 ORDER BY revision LIMIT $2",
            &[&revision, &CATCH_UP_LIMIT],
        )
        .await
        .map_err(pg)?;
    let changes: Vec<crate::wire::Change> = bodies(&rows, "changes")?;
    let evidence_due = bodies(
        &t.query(
            "SELECT body FROM flagtop_evidence_due ORDER BY follows",
            &[],
        )
        .await
        .map_err(pg)?,
        "evidence_due",
    )?;
    t.commit().await.map_err(pg)?;
    let m = m.unwrap_or_default();
    let complete = changes.last().is_some_and(|ch| ch.revision.0 == rev);
    Ok(Some(CatchUp {
        // A partial read (more than CATCH_UP_LIMIT behind) leaves the revision at the last
        // change read, so the next catch-up reads on from there.
        state: State {
            revision: if complete {
                m.revision
            } else {
                changes
                    .last()
                    .map(|c| c.revision)
                    .unwrap_or(Revision(u64_of(revision)))
            },
            environments: m.environments,
            frozen: m.frozen,
            env_revisions: m.env_revisions,
            flags: BTreeMap::new(),
        },
        changes,
        last_audit,
        evidence_due,
    }))
}

impl Backend for PgStore {
    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn initialised(&self) -> Result<bool, StoreError> {
        let c = self.reader()?;
        self.run(async move {
            let row = c
                .query_one(
                    "SELECT state IS NOT NULL FROM flagtop_meta WHERE id = 1",
                    &[],
                )
                .await
                .map_err(pg)?;
            row.try_get(0).map_err(pg)
        })
    }

    fn load(&self) -> Result<Loaded, StoreError> {
        self.with_writer(|c| Box::pin(load(c)))
    }

    fn commit(&self, c: Commit<'_>) -> Result<(), StoreError> {
        #[cfg(test)]
        if self
            .fail_next
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StoreError::Unavailable(
                "the connection was lost (injected by a test)".into(),
            ));
        }
        let r = rows(&c);
        self.with_writer(move |c| Box::pin(write(c, r)))?;
        self.remember(c.tokens.iter().map(|(h, r)| (h.to_string(), (*r).clone())));
        Ok(())
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdemRecord>, StoreError> {
        let (c, key) = (self.reader()?, key.to_string());
        self.run(async move {
            let rows = c
                .query(
                    "SELECT body FROM flagtop_idempotency WHERE key = $1",
                    &[&key],
                )
                .await
                .map_err(pg)?;
            Ok(bodies(&rows, "idempotency")?.pop())
        })
    }

    fn audit_scan(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
        _scan_limit: usize,
    ) -> Result<(Vec<AuditEvent>, Option<u64>), StoreError> {
        // The (flag, id) index finds a flag's events without scanning: no scan limit is hit.
        let (c, flag) = (self.reader()?, flag.map(str::to_string));
        let before = i64_of(before.unwrap_or(u64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(async move {
            let rows = match &flag {
                Some(f) => c
                    .query("SELECT body FROM flagtop_audit WHERE flag = $1 AND id < $2 ORDER BY id DESC LIMIT $3", &[f, &before, &limit])
                    .await,
                None => c.query("SELECT body FROM flagtop_audit WHERE id < $1 ORDER BY id DESC LIMIT $2", &[&before, &limit]).await,
            }
            .map_err(pg)?;
            Ok((bodies(&rows, "audit")?, None))
        })
    }

    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let known = || {
            self.known_tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(hash)
                .cloned()
        };
        let found = self.reader().and_then(|c| {
            let hash = hash.to_string();
            self.run(async move {
                let rows = c
                    .query("SELECT body FROM flagtop_tokens WHERE hash = $1", &[&hash])
                    .await
                    .map_err(pg)?;
                Ok(bodies::<TokenRecord>(&rows, "tokens")?.pop())
            })
        });
        match found {
            Ok(Some(rec)) => {
                self.known_tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(hash.to_string(), rec.clone());
                Ok(Some(rec))
            }
            Err(StoreError::Unavailable(e)) => match known() {
                Some(rec) => Ok(Some(rec)),
                None => Err(StoreError::Unavailable(e)),
            },
            other => other,
        }
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let c = self.reader()?;
        let rows: Vec<(String, TokenRecord)> = self.run(async move {
            let rows = c
                .query("SELECT hash, body FROM flagtop_tokens ORDER BY hash", &[])
                .await
                .map_err(pg)?;
            rows.iter()
                .map(|row| {
                    let (h, b): (String, Vec<u8>) =
                        (row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?);
                    Ok((h, serde_json::from_slice(&b).map_err(corrupt("tokens"))?))
                })
                .collect()
        })?;
        self.remember(rows.iter().cloned());
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }

    fn since(&self, revision: Revision) -> Result<Option<CatchUp>, StoreError> {
        let revision = i64_of(revision.0);
        self.with_writer(move |c| Box::pin(since(c, revision)))
    }

    fn describe(&self) -> String {
        describe(&self.config)
    }

    #[cfg(test)]
    fn fail_next_commit(&self) {
        self.fail_next
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
