//! Rollout ladders: ordered stages of target exposure per cohort. Pure data and rules; no I/O.

use super::ids::CohortName;
use super::small_map::SmallMap;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    /// Target exposure per cohort at this stage; cohorts not named keep their exposure.
    #[serde(serialize_with = "super::small_map::as_object")]
    pub targets: SmallMap<CohortName, u8>,
    /// Minimum time at this stage before an automatic advance, in seconds.
    #[serde(default = "default_dwell")]
    pub min_dwell_secs: u64,
}

fn default_dwell() -> u64 {
    300
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LadderState {
    Progressing,
    Paused,
    /// Shown when the environment is frozen; derived, never stored.
    Frozen,
    /// Shown when the ladder stands at its last stage; derived, never stored.
    Completed,
}

impl LadderState {
    pub fn as_str(self) -> &'static str {
        match self {
            LadderState::Progressing => "progressing",
            LadderState::Paused => "paused",
            LadderState::Frozen => "frozen",
            LadderState::Completed => "completed",
        }
    }
}

/// Who may take the next automatic step in a protected environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AdvancePolicy {
    /// The engine files an approval request (the default).
    #[default]
    RequestApproval,
    /// The engine advances by itself even in a protected environment.
    Automatic,
    /// Only people advance this ladder.
    Manual,
}

fn progressing() -> LadderState {
    LadderState::Progressing
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ladder {
    pub stages: Vec<Stage>,
    /// Index into `stages`.
    #[serde(default)]
    pub current: usize,
    /// When the current stage was entered (in a definition file: omit, and it is kept or set now).
    #[serde(default)]
    pub entered_at: DateTime<Utc>,
    /// Stored state: `progressing` or `paused` (frozen and completed are derived).
    #[serde(default = "progressing")]
    pub state: LadderState,
    /// Why the ladder is paused (set by the engine on a breach, or by an operator's pause).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_note: Option<String>,
    #[serde(default)]
    pub policy: AdvancePolicy,
}

impl Ladder {
    pub fn current_stage(&self) -> Option<&Stage> {
        self.stages.get(self.current)
    }
    pub fn is_last(&self) -> bool {
        self.current + 1 >= self.stages.len()
    }
    /// The state to show: a frozen environment overrides progressing.
    pub fn effective_state(&self, env_frozen: bool) -> LadderState {
        match self.state {
            LadderState::Paused => LadderState::Paused,
            _ if self.is_last() => LadderState::Completed,
            _ if env_frozen => LadderState::Frozen,
            _ => LadderState::Progressing,
        }
    }
}
