//! Who may do what, and what needs a second person: ONE table for every caller, the engine
//! included. Pure decisions; no state changes. `docs/policy.md` is the same table in words, and
//! a test checks every combination of caller kind, role, tier and environment against it.

use crate::domain::{ActorKind, Role, Tier};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Apply now.
    Apply,
    /// Turn into an approval request another person decides.
    Request,
    /// Refuse with this explanation.
    Deny(&'static str),
}

/// What is asked: an action of `tier` by a caller of `kind` and `role` in an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub kind: ActorKind,
    /// Meaningful for token holders (person, agent); the control plane's own callers ignore it.
    pub role: Role,
    pub tier: Tier,
    pub protected: bool,
    /// The flag's ladder says the engine may take its next step by itself (`automatic`), so an
    /// expansion by the engine is pre-approved by that explicit policy.
    pub automatic_ladder: bool,
}

const VIEWER: &str = "viewers can read but not change anything";
const AGENT: &str = "agents may only propose changes: POST /v1/proposals";
const RECORDER: &str =
    "the flag-store follower and the system record what happened; they submit no actions";
const SDK: &str = "sdk tokens only evaluate flags (OFREP: POST /ofrep/v1/evaluate/flags); mint another role to read or act";
const ENGINE_KILL: &str = "the engine never uses the kill switch; people do";
const ENGINE_RETIRE: &str = "the engine never archives or unarchives flags; people do";

/// Decide an action. Reducing exposure is immediate for people (blast radius first); expanding
/// it in a protected environment needs a second person; the engine's narrowed rollbacks and
/// expansions in protected environments are drafted for a person unless the ladder's own policy
/// says `automatic`; archiving (or unarchiving) in a protected environment needs a second person
/// too, and the engine never does it; agents only propose.
pub fn decide(ask: Ask) -> Decision {
    use Decision::*;
    match ask.kind {
        ActorKind::Follower | ActorKind::System => Deny(RECORDER),
        ActorKind::Agent => Deny(AGENT),
        ActorKind::Engine => match ask.tier {
            Tier::Global => Deny(ENGINE_KILL),
            Tier::Retire => Deny(ENGINE_RETIRE),
            Tier::Hold => Apply,
            Tier::Reduce if ask.protected => Request,
            Tier::Expand if ask.protected && !ask.automatic_ladder => Request,
            Tier::Reduce | Tier::Expand => Apply,
        },
        ActorKind::Person => match ask.role {
            Role::Viewer => Deny(VIEWER),
            Role::Agent => Deny(AGENT),
            Role::Sdk => Deny(SDK),
            Role::Operator | Role::Approver | Role::Admin => match ask.tier {
                Tier::Hold | Tier::Reduce | Tier::Global => Apply,
                Tier::Expand | Tier::Retire if ask.protected => Request,
                Tier::Expand | Tier::Retire => Apply,
            },
        },
    }
}

/// Requests other than actions, authorised before anything else is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Submit an action (then `decide` says apply, request or deny).
    Act,
    /// Post a recommendation: always a pending request.
    Propose,
    Approve,
    /// Reject (approvers) or withdraw (the requester: checked once the request is known).
    Reject,
    /// Close overdue requests.
    Expire,
    /// Create or replace flags and environments.
    Define,
    MintToken,
    PushMetrics,
    /// Record what an external flag store changed by itself (its own events and state).
    RecordExternal,
    /// Record the evidence after a change (did the cohort recover?).
    RecordEvidence,
    /// Evaluate flags for an application (OFREP), in the token's own environments.
    Evaluate,
    /// Read the control plane's state (snapshot, stream, approvals, audit, flags).
    Read,
}

impl Op {
    pub const ALL: [Op; 12] = [
        Op::Act,
        Op::Propose,
        Op::Approve,
        Op::Reject,
        Op::Expire,
        Op::Define,
        Op::MintToken,
        Op::PushMetrics,
        Op::RecordExternal,
        Op::RecordEvidence,
        Op::Evaluate,
        Op::Read,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Act => "act",
            Op::Propose => "propose",
            Op::Approve => "approve",
            Op::Reject => "reject",
            Op::Expire => "expire",
            Op::Define => "define",
            Op::MintToken => "mint_token",
            Op::PushMetrics => "push_metrics",
            Op::RecordExternal => "record_external",
            Op::RecordEvidence => "record_evidence",
            Op::Evaluate => "evaluate",
            Op::Read => "read",
        }
    }
}

/// May a caller of `kind` and `role` make this kind of request at all? `Err` says why not.
pub fn may(kind: ActorKind, role: Role, op: Op) -> Result<(), &'static str> {
    let person = |ok: bool, why: &'static str| if ok { Ok(()) } else { Err(why) };
    match (kind, op) {
        (ActorKind::Person, Op::Act) => person(
            role.can_act(),
            match role {
                Role::Agent => AGENT,
                Role::Sdk => SDK,
                _ => VIEWER,
            },
        ),
        (ActorKind::Person, Op::Propose | Op::Reject | Op::PushMetrics) => person(
            role.can_propose(),
            if role == Role::Sdk { SDK } else { VIEWER },
        ),
        (ActorKind::Person, Op::Evaluate) => person(
            role == Role::Sdk,
            "only sdk tokens evaluate flags: flagtop token add NAME --role sdk --env ENV",
        ),
        (ActorKind::Person, Op::Read) => person(role != Role::Sdk, SDK),
        (ActorKind::Person, Op::Approve) => person(
            role.can_approve(),
            "only approvers and admins approve requests",
        ),
        (ActorKind::Person, Op::Define) => person(
            role == Role::Admin,
            "only admins define flags and environments",
        ),
        (ActorKind::Person, Op::MintToken) => {
            person(role == Role::Admin, "only admins mint tokens")
        }
        (ActorKind::Person, Op::Expire) => {
            Err("requests expire by themselves; reject one to close it")
        }
        (ActorKind::Person | ActorKind::Agent, Op::RecordExternal | Op::RecordEvidence) => {
            Err("only the control plane records external changes and evidence")
        }
        (ActorKind::Agent, Op::Propose | Op::Reject | Op::PushMetrics | Op::Read) => Ok(()),
        (ActorKind::Agent, _) => Err(AGENT),
        (ActorKind::Engine, Op::Act | Op::Propose | Op::Expire | Op::RecordEvidence) => Ok(()),
        (ActorKind::Engine, _) => {
            Err("the engine acts and proposes; it never approves, defines or mints")
        }
        (ActorKind::System, Op::Propose | Op::Define | Op::Expire | Op::MintToken) => Ok(()),
        (ActorKind::System, _) => Err(RECORDER),
        (ActorKind::Follower, Op::RecordExternal) => Ok(()),
        (ActorKind::Follower, _) => Err(RECORDER),
    }
}

#[cfg(test)]
mod tests;
