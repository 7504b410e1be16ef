//! The durable stores: flag state, approvals, audit, idempotency records and tokens. `Backend`
//! is what the service uses of a store, with the records it reads and writes (this file);
//! `Store` is the embedded one (one redb file under the data dir, plus the data-dir lock,
//! `store/embedded.rs`), `postgres::PgStore` the team one (`store/postgres.rs`).
//! Owns persistence only; no policy.

mod embedded;
pub mod postgres;

pub use embedded::Store;

use crate::domain::{
    ApprovalRequest, AuditEvent, AuditId, EnvKey, Environment, EvidenceDue, Flag, Revision, Role,
    State,
};
use crate::wire::webhook::{Delivery, HookHealth, OutboxRow};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Deliveries queued per hook at most; beyond it the oldest is dropped (counted, logged).
pub const MAX_QUEUED_PER_HOOK: u64 = 1000;
/// Delivery attempts the log keeps (the oldest go first).
pub const MAX_DELIVERY_LOG: u64 = 10_000;
use std::path::{Path, PathBuf};

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
    /// The commit was sent and no answer came back, and whether it was applied could not be
    /// found out (the database stayed out of reach): it may have been. Never "nothing changed".
    #[error(
        "the commit was sent but the database did not confirm it ({0}); it may have been applied"
    )]
    Unsure(String),
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
    /// The records of those of `keys` that have one (a group's keys at once).
    fn idempotency_many(
        &self,
        keys: &[&str],
    ) -> Result<std::collections::HashMap<String, IdemRecord>, StoreError> {
        let mut found = std::collections::HashMap::new();
        for k in keys {
            if let Some(r) = self.idempotency(k)? {
                found.insert(k.to_string(), r);
            }
        }
        Ok(found)
    }
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
    /// Replicas: after losing the race for a revision, hold the commit turn — every other
    /// replica's commit waits until `end_turn` — so catching up, re-staging and committing
    /// again cannot lose again (no starvation against a busy replica). One writer: no-op.
    fn take_turn(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Give the commit turn back (also given back when the connection is lost).
    fn end_turn(&self) {}
    /// The oldest queued delivery of `hook`, and how many are queued for it.
    fn outbox_head(&self, hook: &str) -> Result<(Option<OutboxRow>, u64), StoreError>;
    /// Record an attempt durably: the delivery log, the hook's health, and the row — removed
    /// when `attempt.outcome` is `delivered` or `dropped`, else kept with its next try.
    fn outbox_attempt(&self, row: &OutboxRow, attempt: &Delivery) -> Result<(), StoreError>;
    /// The delivery log, newest first (one hook's, or all), at most `limit`.
    fn deliveries(&self, hook: Option<&str>, limit: usize) -> Result<Vec<Delivery>, StoreError>;
    /// Every hook's health as recorded (queued counts are filled in by `outbox_head`).
    fn hook_health(&self) -> Result<Vec<HookHealth>, StoreError>;
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
    fn idempotency_many(
        &self,
        keys: &[&str],
    ) -> Result<std::collections::HashMap<String, IdemRecord>, StoreError> {
        (**self).idempotency_many(keys)
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
    fn take_turn(&self) -> Result<(), StoreError> {
        (**self).take_turn()
    }
    fn end_turn(&self) {
        (**self).end_turn()
    }
    fn outbox_head(&self, hook: &str) -> Result<(Option<OutboxRow>, u64), StoreError> {
        (**self).outbox_head(hook)
    }
    fn outbox_attempt(&self, row: &OutboxRow, attempt: &Delivery) -> Result<(), StoreError> {
        (**self).outbox_attempt(row, attempt)
    }
    fn deliveries(&self, hook: Option<&str>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        (**self).deliveries(hook, limit)
    }
    fn hook_health(&self) -> Result<Vec<HookHealth>, StoreError> {
        (**self).hook_health()
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
    /// Outgoing webhooks (no secrets: each names the environment variable holding its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    webhooks: Vec<crate::domain::Webhook>,
}

impl Meta {
    /// What a commit writes of the live state besides flags.
    pub(crate) fn of(s: &State) -> Meta {
        Meta {
            revision: s.revision,
            environments: s.environments.clone(),
            frozen: s.frozen.clone(),
            env_revisions: s.env_revisions.clone(),
            webhooks: s.webhooks.clone(),
        }
    }
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
    /// Webhook deliveries this commit queues (the outbox: durable with the change itself).
    pub outbox: Vec<&'a crate::wire::webhook::OutboxRow>,
    /// Webhooks removed by this commit: their queued deliveries and health are dropped.
    pub hooks_removed: Vec<&'a str>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
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
