//! The durable stores: flag state, approvals, audit, idempotency records and tokens. `Backend`
//! is what the service uses of a store; `Store` is the embedded one (one redb file under the
//! data dir, plus the data-dir lock), `postgres::PgStore` the team one (`store/postgres.rs`).
//! Owns persistence only; no policy.
//!
//! Why redb: pure Rust (no C toolchain, ~12 s to build), ACID with an fsync on every commit
//! (so every acknowledged action survives `kill -9`), crash-safe without a recovery step, and a
//! key-value model that fits "one row per flag / approval / audit event" exactly. SQL would only
//! pay off for ad-hoc audit queries, which the audit scan below covers.

pub mod postgres;

use crate::domain::{
    ApprovalRequest, AuditEvent, AuditId, EnvKey, Environment, EvidenceDue, Flag, Revision, Role,
    State,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const FLAGS: TableDefinition<&str, &[u8]> = TableDefinition::new("flags");
const APPROVALS: TableDefinition<&str, &[u8]> = TableDefinition::new("approvals");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
const IDEM: TableDefinition<&str, &[u8]> = TableDefinition::new("idempotency");
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
/// Evidence checks still due, by the audit id of the change they follow.
const EVIDENCE: TableDefinition<u64, &[u8]> = TableDefinition::new("evidence_due");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data dir {0} is in use by another flagtop control plane (a TUI or `flagtop serve`); \
         stop it, or point this one at it with --backend, or choose another --data DIR"
    )]
    Locked(PathBuf),
    #[error("cannot use data dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    #[error("corrupt record in {table}: {source}")]
    Corrupt {
        table: &'static str,
        source: serde_json::Error,
    },
    /// The database cannot be reached (or stopped answering): nothing was written.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Another replica committed since this one staged: nothing was written; catch up, retry.
    #[error(
        "another replica changed the state (the database is at revision {db}, this replica at {staged})"
    )]
    Behind { db: Revision, staged: Revision },
    /// A database error that is not about reaching it (a refused statement, a bad schema).
    #[error("database error: {0}")]
    Sql(String),
}

/// What the service uses of a store. Every method is blocking (the service is called from
/// blocking threads); the service does not know which store it has.
pub trait Backend: Send + Sync {
    /// This store's identity: a stream resumed from another store is told to reset.
    fn epoch(&self) -> &str;
    /// Whether this store holds a state already (so a scenario seed would not be used).
    fn initialised(&self) -> Result<bool, StoreError>;
    fn load(&self) -> Result<Loaded, StoreError>;
    /// Write atomically and durably. A store shared by replicas refuses with
    /// `StoreError::Behind` when it is not at `c.base` any more.
    fn commit(&self, c: Commit<'_>) -> Result<(), StoreError>;
    fn idempotency(&self, key: &str) -> Result<Option<IdemRecord>, StoreError>;
    /// Audit events, newest first (see `Store::audit_scan`).
    fn audit_scan(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
        scan_limit: usize,
    ) -> Result<(Vec<AuditEvent>, Option<u64>), StoreError>;
    fn audit(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
        scan_limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(self.audit_scan(flag, before, limit, scan_limit)?.0)
    }
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// What other replicas committed after `revision` (a store with one writer has none).
    fn since(&self, _revision: Revision) -> Result<Option<CatchUp>, StoreError> {
        Ok(None)
    }
    /// Where it is, for logs and `status` (never a password).
    fn describe(&self) -> String;
    /// Tests: make the next commit fail as a full disk (or a lost database) would.
    #[cfg(test)]
    fn fail_next_commit(&self);
}

/// A shared store (the runtime keeps a handle for leadership and wake-ups).
impl<T: Backend + ?Sized> Backend for std::sync::Arc<T> {
    fn epoch(&self) -> &str {
        (**self).epoch()
    }
    fn initialised(&self) -> Result<bool, StoreError> {
        (**self).initialised()
    }
    fn load(&self) -> Result<Loaded, StoreError> {
        (**self).load()
    }
    fn commit(&self, c: Commit<'_>) -> Result<(), StoreError> {
        (**self).commit(c)
    }
    fn idempotency(&self, key: &str) -> Result<Option<IdemRecord>, StoreError> {
        (**self).idempotency(key)
    }
    fn audit_scan(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
        scan: usize,
    ) -> Result<(Vec<AuditEvent>, Option<u64>), StoreError> {
        (**self).audit_scan(flag, before, limit, scan)
    }
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        (**self).token(hash)
    }
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        (**self).tokens()
    }
    fn since(&self, revision: Revision) -> Result<Option<CatchUp>, StoreError> {
        (**self).since(revision)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    #[cfg(test)]
    fn fail_next_commit(&self) {
        (**self).fail_next_commit()
    }
}

/// What another replica committed: its changes in revision order, and the state they leave
/// (environments, freezes, revisions, the audit counter, evidence checks due).
pub struct CatchUp {
    pub changes: Vec<crate::wire::Change>,
    pub state: State,
    pub last_audit: u64,
    pub evidence_due: Vec<EvidenceDue>,
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.into()) }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A stored token: only the SHA-256 of the secret is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// For an `sdk` token: the environments it may evaluate in (older records: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<crate::domain::EnvKey>,
}

/// What an idempotency key was first used for, and the answer it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdemRecord {
    pub body_hash: String,
    pub status: u16,
    pub response: serde_json::Value,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Meta {
    revision: Revision,
    environments: Vec<Environment>,
    frozen: BTreeSet<EnvKey>,
    env_revisions: BTreeMap<EnvKey, Revision>,
}

/// Everything loaded at start.
pub struct Loaded {
    pub state: State,
    pub approvals: Vec<ApprovalRequest>,
    pub last_audit: u64,
    /// Evidence checks scheduled and not yet recorded, oldest first.
    pub evidence_due: Vec<EvidenceDue>,
    /// False when the store was empty (a new data dir).
    pub initialised: bool,
}

/// One atomic, durable write: everything one commit of the service's pipeline changes.
#[derive(Default)]
pub struct Commit<'a> {
    /// Write revision, environments and freezes from this state.
    pub meta: Option<&'a State>,
    /// The revision the state was at when this group was staged (what a shared store checks).
    pub base: Revision,
    /// The changes, as streams publish them (a shared store keeps them for other replicas).
    pub changes: Vec<&'a crate::wire::Change>,
    /// The newest audit id after this commit.
    pub last_audit: u64,
    pub flags: Vec<&'a Flag>,
    pub approvals: Vec<&'a ApprovalRequest>,
    pub audit: Vec<&'a AuditEvent>,
    pub idempotency: Vec<(&'a str, &'a IdemRecord)>,
    /// Tokens minted, by the hash of their secret.
    pub tokens: Vec<(&'a str, &'a TokenRecord)>,
    /// Evidence checks scheduled by this commit.
    pub evidence_due: Vec<&'a EvidenceDue>,
    /// Evidence checks this commit recorded (removed).
    pub evidence_done: Vec<AuditId>,
    /// Forget idempotency records made before this time.
    pub prune_idempotency_before: Option<chrono::DateTime<chrono::Utc>>,
}

/// redb's page cache. Its default (1 GiB) grows with every page read and stays resident; the
/// hot set (meta, the b-tree's upper pages, the newest audit pages) is far smaller than this.
/// Loading 10,000 flags reads every page once: a 24 MiB cache kept ~11 MB of them for nothing.
/// A page that is not cached is read back from the OS page cache.
const CACHE_BYTES: usize = 4 << 20;

pub struct Store {
    db: Database,
    /// This data dir's identity: a stream resumed from another data dir (a restore, another
    /// server) is told to reset instead of silently missing changes.
    epoch: String,
    _lock: File,
    pub dir: PathBuf,
    /// Tests: make the next commit fail as a full disk would.
    #[cfg(test)]
    pub(crate) fail_next_commit: std::sync::atomic::AtomicBool,
}

impl Backend for Store {
    fn epoch(&self) -> &str {
        Store::epoch(self)
    }
    fn initialised(&self) -> Result<bool, StoreError> {
        Store::initialised(self)
    }
    fn load(&self) -> Result<Loaded, StoreError> {
        Store::load(self)
    }
    fn commit(&self, c: Commit<'_>) -> Result<(), StoreError> {
        Store::commit(self, c)
    }
    fn idempotency(&self, key: &str) -> Result<Option<IdemRecord>, StoreError> {
        Store::idempotency(self, key)
    }
    fn audit_scan(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
        scan_limit: usize,
    ) -> Result<(Vec<AuditEvent>, Option<u64>), StoreError> {
        Store::audit_scan(self, flag, before, limit, scan_limit)
    }
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        Store::token(self, hash)
    }
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        Store::tokens(self)
    }
    fn describe(&self) -> String {
        format!("embedded store in {}", self.dir.display())
    }
    #[cfg(test)]
    fn fail_next_commit(&self) {
        self.fail_next_commit
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(table: &'static str) -> impl FnOnce(serde_json::Error) -> StoreError {
    move |source| StoreError::Corrupt { table, source }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising our own plain data types cannot fail (no maps with non-string keys).
    serde_json::to_vec(v).unwrap_or_default()
}

/// Create a private directory (0700) if missing.
pub fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    Ok(())
}

impl Store {
    /// Open (or create) the store in `dir`, taking the data-dir lock.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        ensure_private_dir(dir)?;
        let lock_path = dir.join("flagtop.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked(dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Io {
                    path: lock_path,
                    source: e,
                });
            }
        }
        let db_path = dir.join("flagtop.redb");
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&db_path)?;
        let store = Store {
            db,
            epoch: String::new(),
            _lock: lock,
            dir: dir.to_path_buf(),
            #[cfg(test)]
            fail_next_commit: Default::default(),
        };
        let txn = store.db.begin_write()?;
        for t in [META, FLAGS, APPROVALS, IDEM, TOKENS] {
            txn.open_table(t)?;
        }
        txn.open_table(AUDIT)?;
        txn.open_table(EVIDENCE)?;
        let epoch = {
            let mut meta = txn.open_table(META)?;
            let existing = meta
                .get("epoch")?
                .map(|v| String::from_utf8_lossy(v.value()).into_owned());
            match existing {
                Some(e) => e,
                None => {
                    let e = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
                    meta.insert("epoch", e.as_bytes())?;
                    e
                }
            }
        };
        txn.commit()?;
        Ok(Store { epoch, ..store })
    }

    /// This data dir's identity (made once, when the store was created).
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Whether this store holds a state already (so a scenario seed would not be used).
    pub fn initialised(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(META)?.get("meta")?.is_some())
    }

    pub fn load(&self) -> Result<Loaded, StoreError> {
        let txn = self.db.begin_read()?;
        let meta_t = txn.open_table(META)?;
        let meta: Option<Meta> = match meta_t.get("meta")? {
            Some(v) => Some(serde_json::from_slice(v.value()).map_err(corrupt("meta"))?),
            None => None,
        };
        let initialised = meta.is_some();
        let meta = meta.unwrap_or_default();
        let mut flags = BTreeMap::new();
        for row in txn.open_table(FLAGS)?.iter()? {
            let (_, v) = row?;
            let f: Flag = serde_json::from_slice(v.value()).map_err(corrupt("flags"))?;
            // Kept as a clone: serde grows each list by doubling (one cohort gets room for four,
            // two environments for four), a clone is exact. 10,000 flags: 4 MB less, ~10 ms more.
            flags.insert(f.key.clone(), std::sync::Arc::new(f.clone()));
        }
        let mut approvals = Vec::new();
        for row in txn.open_table(APPROVALS)?.iter()? {
            let (_, v) = row?;
            approvals.push(serde_json::from_slice(v.value()).map_err(corrupt("approvals"))?);
        }
        let last_audit = txn
            .open_table(AUDIT)?
            .last()?
            .map(|(k, _)| k.value())
            .unwrap_or(0);
        let mut evidence_due = Vec::new();
        for row in txn.open_table(EVIDENCE)?.iter()? {
            let (_, v) = row?;
            evidence_due.push(serde_json::from_slice(v.value()).map_err(corrupt("evidence_due"))?);
        }
        Ok(Loaded {
            evidence_due,
            state: State {
                revision: meta.revision,
                environments: meta.environments,
                frozen: meta.frozen,
                env_revisions: meta.env_revisions,
                flags,
            },
            approvals,
            last_audit,
            initialised,
        })
    }

    /// Write atomically and durably (fsync before returning).
    pub fn commit(&self, c: Commit<'_>) -> Result<(), StoreError> {
        #[cfg(test)]
        if self
            .fail_next_commit
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            let source = std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left (injected by a test)",
            );
            return Err(StoreError::Io {
                path: self.dir.clone(),
                source,
            });
        }
        let txn = self.db.begin_write()?;
        {
            if let Some(s) = c.meta {
                let meta = Meta {
                    revision: s.revision,
                    environments: s.environments.clone(),
                    frozen: s.frozen.clone(),
                    env_revisions: s.env_revisions.clone(),
                };
                txn.open_table(META)?
                    .insert("meta", to_json(&meta).as_slice())?;
            }
            let mut t = txn.open_table(FLAGS)?;
            for f in &c.flags {
                t.insert(f.key.as_str(), to_json(f).as_slice())?;
            }
            let mut t = txn.open_table(APPROVALS)?;
            for a in &c.approvals {
                t.insert(a.id.as_str(), to_json(a).as_slice())?;
            }
            let mut t = txn.open_table(AUDIT)?;
            for e in &c.audit {
                t.insert(e.id.0, to_json(e).as_slice())?;
            }
            let mut t = txn.open_table(IDEM)?;
            if let Some(before) = c.prune_idempotency_before {
                let mut old = Vec::new();
                for row in t.iter()? {
                    let (k, v) = row?;
                    if serde_json::from_slice::<IdemRecord>(v.value()).is_ok_and(|r| r.at < before)
                    {
                        old.push(k.value().to_string());
                    }
                }
                for k in &old {
                    t.remove(k.as_str())?;
                }
            }
            for (k, r) in &c.idempotency {
                t.insert(*k, to_json(r).as_slice())?;
            }
            let mut t = txn.open_table(TOKENS)?;
            for (hash, rec) in &c.tokens {
                t.insert(*hash, to_json(rec).as_slice())?;
            }
            let mut t = txn.open_table(EVIDENCE)?;
            for id in &c.evidence_done {
                t.remove(id.0)?;
            }
            for e in &c.evidence_due {
                t.insert(e.follows.0, to_json(e).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    pub fn idempotency(&self, key: &str) -> Result<Option<IdemRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(IDEM)?;
        let r = t.get(key)?;
        r.map(|v| serde_json::from_slice(v.value()).map_err(corrupt("idempotency")))
            .transpose()
    }

    /// Audit events, newest first: those before `before` (exclusive), matching `flag`, at most
    /// `limit`, scanning at most `scan_limit` rows.
    pub fn audit(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
        scan_limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(self.audit_scan(flag, before, limit, scan_limit)?.0)
    }

    /// As `audit`, and the id the scan stopped at when it hit `scan_limit` with rows left.
    pub fn audit_scan(
        &self,
        flag: Option<&str>,
        before: Option<u64>,
        limit: usize,
        scan_limit: usize,
    ) -> Result<(Vec<AuditEvent>, Option<u64>), StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(AUDIT)?;
        let mut out = Vec::new();
        let (mut scanned, mut last_id) = (0usize, None);
        let range = t.range(..before.unwrap_or(u64::MAX))?;
        let mut rows = range.rev();
        for row in rows.by_ref() {
            let (k, v) = row?;
            scanned += 1;
            last_id = Some(k.value());
            let e: AuditEvent = serde_json::from_slice(v.value()).map_err(corrupt("audit"))?;
            if flag.is_none_or(|f| e.flag.as_ref().is_some_and(|k| k.as_str() == f)) {
                out.push(e);
                if out.len() >= limit {
                    return Ok((out, None));
                }
            }
            if scanned >= scan_limit {
                break;
            }
        }
        let more = rows.next().is_some();
        Ok((
            out,
            if scanned >= scan_limit && more {
                last_id
            } else {
                None
            },
        ))
    }

    pub fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TOKENS)?;
        let r = t.get(hash)?;
        r.map(|v| serde_json::from_slice(v.value()).map_err(corrupt("tokens")))
            .transpose()
    }

    /// Every token with the hash it is stored under (for `flagtop migrate`).
    pub fn tokens_by_hash(&self) -> Result<Vec<(String, TokenRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(TOKENS)?.iter()? {
            let (k, v) = row?;
            out.push((
                k.value().to_string(),
                serde_json::from_slice(v.value()).map_err(corrupt("tokens"))?,
            ));
        }
        Ok(out)
    }

    /// Every idempotency record with its key (for `flagtop migrate`).
    pub fn idempotency_records(&self) -> Result<Vec<(String, IdemRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(IDEM)?.iter()? {
            let (k, v) = row?;
            out.push((
                k.value().to_string(),
                serde_json::from_slice(v.value()).map_err(corrupt("idempotency"))?,
            ));
        }
        Ok(out)
    }

    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(TOKENS)?.iter()? {
            let (_, v) = row?;
            out.push(serde_json::from_slice(v.value()).map_err(corrupt("tokens"))?);
        }
        Ok(out)
    }
}
