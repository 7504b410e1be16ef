//! Typed callers: who a change comes from. A token yields a person or an agent; the engine, the
//! flag-store follower and the system are built here only, so no token can claim them.

use crate::domain::{Actor, ActorKind, ENGINE_ACTOR, Role, SYSTEM_ACTOR};

/// Where a change comes from, for policy and the audit trail.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    /// Where it came in: `tui`, `cli`, `api`, `agent`, `engine`, `unleash`, `scenario`, …
    pub source: String,
    /// Idempotency keys are scoped to this (the token's), so one token's key says nothing to another.
    pub(super) scope: String,
}

impl Caller {
    /// A token holder (person or agent, by the token's role); `scope` identifies the token.
    pub fn token(actor: Actor, source: impl Into<String>, scope: impl Into<String>) -> Caller {
        let actor = Actor::from_token(actor.name, actor.role);
        Caller {
            actor,
            source: source.into(),
            scope: scope.into(),
        }
    }

    /// The ladder engine and safeguards.
    pub fn engine() -> Caller {
        let actor = Actor {
            name: ENGINE_ACTOR.into(),
            role: Role::Operator,
            kind: ActorKind::Engine,
        };
        Caller {
            actor,
            source: "engine".into(),
            scope: "engine".into(),
        }
    }

    /// The control plane itself: seeding, expiry, housekeeping.
    pub fn system() -> Caller {
        let actor = Actor {
            name: SYSTEM_ACTOR.into(),
            role: Role::Viewer,
            kind: ActorKind::System,
        };
        Caller {
            actor,
            source: "system".into(),
            scope: "system".into(),
        }
    }

    /// The follower of an external flag store, recording a change made there by `name`.
    pub fn follower(name: &str, store: &str) -> Caller {
        let actor = Actor {
            name: crate::sanitize::clean(name, 60),
            role: Role::Viewer,
            kind: ActorKind::Follower,
        };
        Caller {
            actor,
            source: store.to_string(),
            scope: "follower".into(),
        }
    }

    /// The idempotency key as stored: scoped to the caller's token.
    pub(super) fn scoped_key(&self, key: &str) -> String {
        format!("{}\u{1f}{key}", self.scope)
    }
}
