//! The embedded store: one redb file under the data dir, plus the data-dir lock. Opening,
//! loading and committing here; point reads and scans in `embedded/reads.rs`. Owns
//! persistence only; no policy.
//!
//! Why redb: pure Rust (no C toolchain, ~12 s to build), ACID with an fsync on every commit
//! (so every acknowledged action survives `kill -9`), crash-safe without a recovery step, and a
//! key-value model that fits "one row per flag / approval / audit event" exactly. SQL would only
//! pay off for ad-hoc audit queries, which the audit scan (`embedded/reads.rs`) covers.

mod reads;
mod webhooks;

use super::{
    Backend, Commit, IdemRecord, Loaded, Meta, StoreError, TokenRecord, ensure_private_dir, io,
};
use crate::domain::{AuditEvent, Flag, State};
use crate::wire::webhook::{Delivery, HookHealth, OutboxRow};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use std::collections::BTreeMap;
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
    fn outbox_head(&self, hook: &str) -> Result<(Option<OutboxRow>, u64), StoreError> {
        Store::outbox_head(self, hook)
    }
    fn outbox_attempt(&self, row: &OutboxRow, attempt: &Delivery) -> Result<(), StoreError> {
        Store::outbox_attempt(self, row, attempt)
    }
    fn deliveries(&self, hook: Option<&str>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        Store::deliveries(self, hook, limit)
    }
    fn hook_health(&self) -> Result<Vec<HookHealth>, StoreError> {
        Store::hook_health(self)
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

fn corrupt(table: &'static str) -> impl FnOnce(serde_json::Error) -> StoreError {
    move |source| StoreError::Corrupt { table, source }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising our own plain data types cannot fail (no maps with non-string keys).
    serde_json::to_vec(v).unwrap_or_default()
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
        webhooks::open_tables(&txn)?;
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
                webhooks: meta.webhooks,
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
                let meta = Meta::of(s);
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
            webhooks::forget(&txn, &c.hooks_removed)?;
            webhooks::queue(&txn, &c.outbox)?;
        }
        txn.commit()?;
        Ok(())
    }
}
