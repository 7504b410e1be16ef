//! Approval requests and the people, agents and automation that make and decide them. Pure data.

use super::action::Action;
use super::ids::{ApprovalId, Revision};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a caller may do. Ordered loosely by power; policy decides the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Acts: reductions are immediate, expansions in protected environments become requests.
    Operator,
    /// An operator who may also approve other people's requests.
    Approver,
    /// An AI agent or automation: may only propose.
    Agent,
    /// Everything, including tokens and flag definitions.
    Admin,
    /// An application's OpenFeature (OFREP) client: evaluates flags, only in the environments
    /// its token was minted for; reads and changes nothing else.
    Sdk,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Viewer,
        Role::Operator,
        Role::Approver,
        Role::Agent,
        Role::Admin,
        Role::Sdk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Agent => "agent",
            Role::Admin => "admin",
            Role::Sdk => "sdk",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "viewer" => Role::Viewer,
            "operator" => Role::Operator,
            "approver" => Role::Approver,
            "agent" => Role::Agent,
            "admin" => Role::Admin,
            "sdk" => Role::Sdk,
            _ => return None,
        })
    }
    pub fn can_act(self) -> bool {
        matches!(self, Role::Operator | Role::Approver | Role::Admin)
    }
    pub fn can_approve(self) -> bool {
        matches!(self, Role::Approver | Role::Admin)
    }
    pub fn can_propose(self) -> bool {
        !matches!(self, Role::Viewer | Role::Sdk)
    }
}

/// What kind of caller something came from. Only `Person` and `Agent` can come from a token;
/// the others are built by the control plane itself, so no token can claim them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// Someone with a token (TUI, CLI, API).
    #[default]
    Person,
    /// An AI agent or automation with an agent token: proposes only.
    Agent,
    /// The control plane's ladder engine and safeguards.
    Engine,
    /// The follower of an external flag store (changes made there, recorded here).
    Follower,
    /// The control plane itself: seeding, migrations, housekeeping.
    System,
}

impl ActorKind {
    pub const ALL: [ActorKind; 5] = [
        ActorKind::Person,
        ActorKind::Agent,
        ActorKind::Engine,
        ActorKind::Follower,
        ActorKind::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Person => "person",
            ActorKind::Agent => "agent",
            ActorKind::Engine => "engine",
            ActorKind::Follower => "follower",
            ActorKind::System => "system",
        }
    }
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    pub role: Role,
    /// Records written before kinds existed read as `person` (agents are still told by role).
    #[serde(default)]
    pub kind: ActorKind,
}

impl Actor {
    /// A token holder: an agent when the token's role is `agent`, else a person.
    pub fn from_token(name: impl Into<String>, role: Role) -> Actor {
        let kind = if role == Role::Agent {
            ActorKind::Agent
        } else {
            ActorKind::Person
        };
        Actor {
            name: name.into(),
            role,
            kind,
        }
    }

    /// The label people read: from the kind, never from the name.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            ActorKind::Person if self.role == Role::Agent => "agent",
            ActorKind::Person => "person",
            ActorKind::Agent => "agent",
            ActorKind::Engine => "automation",
            ActorKind::Follower => "flag store",
            ActorKind::System => "system",
        }
    }
}

/// Names the control plane acts under itself; no token may carry one.
pub const RESERVED_NAMES: [&str; 7] = [
    "flagtop",
    "flagtop-engine",
    "flagtop-system",
    "flagtop-follower",
    "engine",
    "system",
    "automation",
];

/// Whether `name` is reserved for the control plane's own callers (any `flagtop-…` name too).
pub fn is_reserved_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    RESERVED_NAMES.contains(&n.as_str())
        || n.starts_with("flagtop-")
        || n.starts_with("flagtop_")
        || n.starts_with("flagtop.")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Pending,
    /// Approved and applied.
    Applied,
    Rejected,
    Expired,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Applied => "applied",
            ApprovalState::Rejected => "rejected",
            ApprovalState::Expired => "expired",
        }
    }
}

/// One fact offered in support of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub metric: String,
    #[serde(default)]
    pub cohort: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub samples: u64,
    #[serde(default)]
    pub window_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The cohort as a whole (candidate and baseline users together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort_value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub id: ApprovalId,
    pub action: Action,
    pub reverse: Action,
    pub reason: String,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_gap: Option<String>,
    pub requested_by: Actor,
    pub state: ApprovalState,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The revision of the target (flag or environment) the request was made on.
    pub revision: Revision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    /// Times the same proposal was posted again while pending (merged, not stacked).
    #[serde(default)]
    pub merged: u32,
}

impl ApprovalRequest {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.state == ApprovalState::Pending && now >= self.expires_at
    }
}
