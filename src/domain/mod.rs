//! The vocabulary and rules of flagtop: flags, cohorts, ladders, actions and their reverses,
//! guardrails, approvals, audit, evaluation. Pure: no I/O, no async, no clocks of its own.

pub mod action;
pub mod approval;
pub mod audit;
pub mod eval;
pub mod flag;
pub mod guardrail;
pub mod hook_events;
pub mod ids;
pub mod ladder;
pub mod lifecycle;
pub mod reason;
pub mod small_map;
pub mod webhook;

#[cfg(test)]
mod tests;

pub use action::{Action, DomainError, Tier};
pub use approval::{
    Actor, ActorKind, ApprovalRequest, ApprovalState, Evidence, RESERVED_NAMES, Role,
    is_reserved_name,
};
pub use audit::{AuditEvent, AuditKind, EvidenceDue};
pub use flag::{
    Cohort, Environment, Flag, FlagEnv, FlagKind, Lifecycle, Selector, State, StoreStage,
};
pub use guardrail::{GuardrailSpec, GuardrailStatus, PromQl, SampleSource, Threshold, WindowStat};
pub use ids::{ApprovalId, AuditId, CohortName, EnvKey, FlagKey, Revision};
pub use ladder::{AdvancePolicy, Ladder, LadderState, Stage};
pub use lifecycle::{Assessment, Rules as LifecycleRules, Stage as LifecycleStage};
pub use small_map::SmallMap;
pub use webhook::{HookEvent, HookFormat, Webhook};

/// The name the control plane's own automation (ladder engine, safeguards) acts under. A name
/// only: the engine is recognised by its kind (`ActorKind::Engine`), which no token can claim.
pub const ENGINE_ACTOR: &str = "flagtop-engine";
/// The name the control plane acts under for seeding, expiry and other housekeeping.
pub const SYSTEM_ACTOR: &str = "flagtop-system";
