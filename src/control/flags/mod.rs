//! Where flag state lives when it is not in flagtop's own store: the `FlagStore` seam and its
//! adapters (Unleash). The service calls `apply` outside its lock, before it commits its own
//! audit, so a change the external store refuses is never recorded as applied; an answer that
//! never came is `Unknown`, and the service reads the flag back (`read`) to learn the truth.

pub mod unleash;
pub mod usage;

use crate::domain::{Action, Environment, Flag};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlagStoreError {
    /// The value the operator saw is no longer there (compare-and-set failed).
    #[error("changed in {store} since you looked: {detail}")]
    Conflict { store: &'static str, detail: String },
    #[error("{store} refused the change: {detail}")]
    Refused { store: &'static str, detail: String },
    /// The request never reached the store (connection refused, DNS): nothing changed there.
    #[error("{store} is unreachable or failed: {detail}")]
    Unavailable { store: &'static str, detail: String },
    /// The request was sent but no answer came (timeout, connection dropped, a 5xx): the store
    /// may or may not have applied it.
    #[error("{store} did not answer after the change was sent: {detail}")]
    Unknown { store: &'static str, detail: String },
}

/// What an external flag store holds, as flagtop's domain sees it.
#[derive(Debug, Clone, Default)]
pub struct ExternalState {
    pub environments: Vec<Environment>,
    pub flags: Vec<Flag>,
}

/// An event from the external store's own log, shown in Activity beside flagtop's audit.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalEvent {
    pub id: u64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub flag: Option<String>,
    pub summary: String,
}

/// What one poll of the follower read, for the control plane to merge.
#[derive(Debug, Clone, Default)]
pub struct ExternalSync {
    /// The control plane's revision when the reads began: a flag flagtop changed after that
    /// (its own write, above all) is not overwritten by this older read — it is read again.
    pub stamp: Option<crate::domain::Revision>,
    pub environments: Option<Vec<Environment>>,
    pub flags: Vec<Flag>,
    /// Flags gone from the store (archived or deleted).
    pub gone: Vec<crate::domain::FlagKey>,
    /// A full read: every flag not in `flags` is gone.
    pub complete: bool,
    pub events: Vec<ExternalEvent>,
}

pub trait FlagStore: Send + Sync {
    fn name(&self) -> &'static str;
    /// How long until applications see a change (e.g. SDK poll interval), for the TUI.
    fn propagation_secs(&self) -> u32;
    /// Write the effect of `action`; `before` is the flag as the operator saw it, `after` as it
    /// should be. Must fail with `Conflict` when the store no longer holds `before`'s values.
    fn apply(&self, action: &Action, before: &Flag, after: &Flag) -> Result<(), FlagStoreError>;
    /// The flag as the store holds it now (None: it no longer exists there).
    fn read(&self, flag: &crate::domain::FlagKey) -> Result<Option<Flag>, FlagStoreError>;
    /// Whether the store holds the flag archived (Some(true)), live (Some(false)) or not at all
    /// (None): how an archive or unarchive with an unknown outcome is read back.
    fn archived(&self, flag: &crate::domain::FlagKey) -> Result<Option<bool>, FlagStoreError> {
        Ok(self.read(flag)?.map(|f| f.archived))
    }
}

/// Whether an action changes state held by the flag store (the rest is flagtop's own:
/// ladders' pause state, environment freezes).
pub fn touches_store(action: &Action) -> bool {
    !matches!(
        action,
        Action::Pause { .. }
            | Action::Resume { .. }
            | Action::Freeze { .. }
            | Action::Unfreeze { .. }
    )
}
