//! Actions on flag state. Applying an action yields the new state *and* its exact reverse.
//! Pure rules; no I/O, no clocks (the caller passes `now`).

use super::flag::State;
use super::ids::{CohortName, EnvKey, FlagKey, Revision};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod apply;

/// Every change an operator, agent or the engine can make to flag state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
pub enum Action {
    SetPercent {
        flag: FlagKey,
        env: EnvKey,
        cohort: CohortName,
        percent: u8,
    },
    /// Narrowed rollback: take one cohort back to the fallthrough, keeping its percent.
    Rollback {
        flag: FlagKey,
        env: EnvKey,
        cohort: CohortName,
    },
    Restore {
        flag: FlagKey,
        env: EnvKey,
        cohort: CohortName,
    },
    /// Next ladder stage. `exposure`, when given, replaces the stage's targets (used by reverses
    /// so that undoing a step restores exactly what was there).
    Advance {
        flag: FlagKey,
        env: EnvKey,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exposure: Option<BTreeMap<CohortName, u8>>,
    },
    Retreat {
        flag: FlagKey,
        env: EnvKey,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exposure: Option<BTreeMap<CohortName, u8>>,
    },
    Pause {
        flag: FlagKey,
        env: EnvKey,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    Resume {
        flag: FlagKey,
        env: EnvKey,
    },
    Freeze {
        env: EnvKey,
    },
    Unfreeze {
        env: EnvKey,
    },
    /// The kill switch: everybody gets the fallthrough in this environment.
    Kill {
        flag: FlagKey,
        env: EnvKey,
    },
    Revive {
        flag: FlagKey,
        env: EnvKey,
    },
    /// Retire a flag that serves one variation everywhere: it keeps serving that value and
    /// takes no action but `Unarchive`. `env` is where it is decided: the flag's protected
    /// environment when it has one.
    Archive {
        flag: FlagKey,
        env: EnvKey,
    },
    Unarchive {
        flag: FlagKey,
        env: EnvKey,
    },
}

/// Whether an action widens or narrows who gets the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Stops automatic steps without changing who gets the candidate (pause, freeze).
    Hold,
    Reduce,
    Expand,
    /// The kill switch: reduces, for everybody at once.
    Global,
    /// Archive, unarchive: nobody's value changes, but the flag leaves (or rejoins) the
    /// operator's view and its controls.
    Retire,
}

impl Tier {
    pub const ALL: [Tier; 5] = [
        Tier::Hold,
        Tier::Reduce,
        Tier::Expand,
        Tier::Global,
        Tier::Retire,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Hold => "hold",
            Tier::Reduce => "reduce",
            Tier::Expand => "expand",
            Tier::Global => "global",
            Tier::Retire => "retire",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("unknown flag `{0}`")]
    UnknownFlag(String),
    #[error("unknown environment `{0}`")]
    UnknownEnv(String),
    #[error("flag `{flag}` has no cohort `{cohort}` in `{env}`")]
    UnknownCohort {
        flag: String,
        env: String,
        cohort: String,
    },
    #[error("percent must be 0–100, got {0}")]
    PercentOutOfRange(i64),
    #[error("flag `{0}` has no ladder in this environment")]
    NoLadder(String),
    #[error("{0}")]
    InvalidState(String),
}

impl DomainError {
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::UnknownFlag(_) => "unknown_flag",
            DomainError::UnknownEnv(_) => "unknown_environment",
            DomainError::UnknownCohort { .. } => "unknown_cohort",
            DomainError::PercentOutOfRange(_) => "percent_out_of_range",
            DomainError::NoLadder(_) => "no_ladder",
            DomainError::InvalidState(_) => "invalid_state",
        }
    }
}

impl Action {
    pub fn verb(&self) -> &'static str {
        match self {
            Action::SetPercent { .. } => "set-percent",
            Action::Rollback { .. } => "rollback",
            Action::Restore { .. } => "restore",
            Action::Advance { .. } => "advance",
            Action::Retreat { .. } => "retreat",
            Action::Pause { .. } => "pause",
            Action::Resume { .. } => "resume",
            Action::Freeze { .. } => "freeze",
            Action::Unfreeze { .. } => "unfreeze",
            Action::Kill { .. } => "kill",
            Action::Revive { .. } => "revive",
            Action::Archive { .. } => "archive",
            Action::Unarchive { .. } => "unarchive",
        }
    }

    pub fn flag(&self) -> Option<&FlagKey> {
        match self {
            Action::SetPercent { flag, .. }
            | Action::Rollback { flag, .. }
            | Action::Restore { flag, .. }
            | Action::Advance { flag, .. }
            | Action::Retreat { flag, .. }
            | Action::Pause { flag, .. }
            | Action::Resume { flag, .. }
            | Action::Kill { flag, .. }
            | Action::Revive { flag, .. }
            | Action::Archive { flag, .. }
            | Action::Unarchive { flag, .. } => Some(flag),
            Action::Freeze { .. } | Action::Unfreeze { .. } => None,
        }
    }

    pub fn env(&self) -> &EnvKey {
        match self {
            Action::SetPercent { env, .. }
            | Action::Rollback { env, .. }
            | Action::Restore { env, .. }
            | Action::Advance { env, .. }
            | Action::Retreat { env, .. }
            | Action::Pause { env, .. }
            | Action::Resume { env, .. }
            | Action::Kill { env, .. }
            | Action::Revive { env, .. }
            | Action::Archive { env, .. }
            | Action::Unarchive { env, .. }
            | Action::Freeze { env }
            | Action::Unfreeze { env } => env,
        }
    }

    pub fn cohort(&self) -> Option<&CohortName> {
        match self {
            Action::SetPercent { cohort, .. }
            | Action::Rollback { cohort, .. }
            | Action::Restore { cohort, .. } => Some(cohort),
            _ => None,
        }
    }

    /// Whether this action widens exposure, judged against the current state.
    pub fn tier(&self, state: &State) -> Tier {
        match self {
            Action::SetPercent {
                flag,
                env,
                cohort,
                percent,
            } => {
                let current = state
                    .flags
                    .get(flag)
                    .and_then(|f| f.env(env))
                    .and_then(|e| e.cohort(cohort))
                    .map(|c| c.effective_percent())
                    .unwrap_or(0);
                if *percent > current {
                    Tier::Expand
                } else {
                    Tier::Reduce
                }
            }
            Action::Rollback { .. } | Action::Retreat { .. } => Tier::Reduce,
            Action::Pause { .. } | Action::Freeze { .. } => Tier::Hold,
            Action::Restore { .. }
            | Action::Advance { .. }
            | Action::Resume { .. }
            | Action::Unfreeze { .. }
            | Action::Revive { .. } => Tier::Expand,
            Action::Kill { .. } => Tier::Global,
            Action::Archive { .. } | Action::Unarchive { .. } => Tier::Retire,
        }
    }

    /// The revision this action would conflict against: the flag's, or the environment's for
    /// freeze/unfreeze.
    pub fn target_revision(&self, state: &State) -> Revision {
        match self.flag() {
            Some(f) => state.flags.get(f).map(|f| f.revision).unwrap_or_default(),
            None => state
                .env_revisions
                .get(self.env())
                .copied()
                .unwrap_or_default(),
        }
    }

    /// A one-line human description, e.g. `rollback checkout-v2/eu-west in production`.
    pub fn describe(&self) -> String {
        let mut s = self.verb().to_string();
        if let Some(f) = self.flag() {
            s.push(' ');
            s.push_str(f.as_str());
            if let Some(c) = self.cohort() {
                s.push('/');
                s.push_str(c.as_str());
            }
        }
        if let Action::SetPercent { percent, .. } = self {
            s.push_str(&format!(" to {percent}%"));
        }
        s.push_str(" in ");
        s.push_str(self.env().as_str());
        s
    }

    /// The `flagtop act …` command line that performs this action (keys are validated to be
    /// shell-safe when flags are defined, so no quoting is needed for them).
    pub fn command_line(&self, reason: &str) -> String {
        let mut parts = vec!["flagtop act".to_string(), self.verb().to_string()];
        if let Some(f) = self.flag() {
            parts.push(f.to_string());
        }
        if let Some(c) = self.cohort() {
            parts.push(c.to_string());
        }
        if let Action::SetPercent { percent, .. } = self {
            parts.push(percent.to_string());
        }
        parts.push(format!("--env {}", self.env()));
        if let Action::Advance {
            exposure: Some(x), ..
        }
        | Action::Retreat {
            exposure: Some(x), ..
        } = self
        {
            let list: Vec<String> = x.iter().map(|(c, p)| format!("{c}={p}")).collect();
            parts.push(format!("--exposure {}", list.join(",")));
        }
        if let Action::Pause { note: Some(n), .. } = self {
            parts.push(format!("--note {}", shell_quote(n)));
        }
        parts.push(format!("--reason {}", shell_quote(reason)));
        parts.join(" ")
    }
}

/// Quote for a POSIX shell when needed.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
