//! A flag's lifecycle, computed: a pure function of its state, its definition and `now` (never
//! stored). Owns the stages and the rules (how many days make "ready for cleanup" and "stale");
//! it must not read a clock or the configuration itself.

use super::flag::{Flag, Lifecycle};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a flag stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Nobody is served a cohort's variation in any environment.
    New,
    /// Partly exposed somewhere.
    RollingOut,
    /// Everybody gets one variation in every environment, for less than `ready_after_days`.
    Released,
    /// Released for at least `ready_after_days`: remove it from the code, then archive it.
    ReadyForCleanup,
    /// Temporary and past its review date, or partly exposed and unchanged for `stale_after_days`.
    Stale,
    /// Operational or kill switch: meant to stay.
    Permanent,
    /// Retired: serves its released value, takes no action but unarchive.
    Archived,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::New,
        Stage::RollingOut,
        Stage::Released,
        Stage::ReadyForCleanup,
        Stage::Stale,
        Stage::Permanent,
        Stage::Archived,
    ];

    /// The machine name (`ready_for_cleanup`), as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::RollingOut => "rolling_out",
            Stage::Released => "released",
            Stage::ReadyForCleanup => "ready_for_cleanup",
            Stage::Stale => "stale",
            Stage::Permanent => "permanent",
            Stage::Archived => "archived",
        }
    }

    /// How people read it (`ready for cleanup`).
    pub fn words(self) -> &'static str {
        match self {
            Stage::RollingOut => "rolling out",
            Stage::ReadyForCleanup => "ready for cleanup",
            s => s.as_str(),
        }
    }

    /// Parse the machine name or the words (`ready`, `ready_for_cleanup`, `ready for cleanup`).
    pub fn parse(s: &str) -> Option<Stage> {
        let s = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        if s == "ready" {
            return Some(Stage::ReadyForCleanup);
        }
        if s == "rolling" {
            return Some(Stage::RollingOut);
        }
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// How long "released" lasts before cleanup is due, and how long a partial rollout may stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub ready_after_days: u32,
    pub stale_after_days: u32,
}

/// The most days either rule may name (about ten years).
pub const MAX_RULE_DAYS: u32 = 3650;

impl Rules {
    /// Each rule at most `MAX_RULE_DAYS` (rules from another process are bounded like input).
    pub fn bounded(self) -> Rules {
        Rules {
            ready_after_days: self.ready_after_days.min(MAX_RULE_DAYS),
            stale_after_days: self.stale_after_days.min(MAX_RULE_DAYS),
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            ready_after_days: 14,
            stale_after_days: 30,
        }
    }
}

/// A flag's stage with the reason in words and how long it has stood unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub stage: Stage,
    pub reason: String,
    /// Whole days since who-gets-what last changed (None: unknown).
    pub age_days: Option<i64>,
}

/// Compute the stage of `flag` at `now` under `rules`.
pub fn assess(flag: &Flag, rules: &Rules, now: DateTime<Utc>) -> Assessment {
    let age_days = flag.changed_at.map(|t| (now - t).num_days().max(0));
    let at = |stage: Stage, reason: String| Assessment {
        stage,
        reason,
        age_days,
    };
    if flag.archived {
        return at(
            Stage::Archived,
            "archived; serves its released value".into(),
        );
    }
    if flag.lifecycle == Lifecycle::Permanent {
        return at(Stage::Permanent, "operational flag, meant to stay".into());
    }
    if let Some(due) = flag.review_by
        && now.date_naive() > due
    {
        return at(Stage::Stale, format!("past its review date {due}"));
    }
    let envs: Vec<_> = flag.environments.iter().collect();
    let exposed: Vec<_> = envs.iter().filter(|(_, fe)| fe.exposed()).collect();
    if exposed.is_empty() {
        return at(Stage::New, "nobody is exposed yet".into());
    }
    let partial = envs
        .iter()
        .find(|(_, fe)| !fe.exposed() || fe.released_value().is_none());
    let days = age_days.unwrap_or(0);
    match partial {
        Some((env, _)) => {
            if age_days.is_some() && days >= i64::from(rules.stale_after_days) {
                at(
                    Stage::Stale,
                    format!("partly exposed in {env} and unchanged for {days} days"),
                )
            } else {
                at(Stage::RollingOut, format!("partly exposed in {env}"))
            }
        }
        None if age_days.is_some() && days >= i64::from(rules.ready_after_days) => at(
            Stage::ReadyForCleanup,
            format!(
                "released everywhere for {days} days (cleanup due after {})",
                rules.ready_after_days
            ),
        ),
        None => at(
            Stage::Released,
            format!("released everywhere for {days} days"),
        ),
    }
}

#[cfg(test)]
#[path = "lifecycle/tests.rs"]
mod tests;
