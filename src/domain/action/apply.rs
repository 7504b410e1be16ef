//! Applying an action: the new state in place and its exact reverse; on error nothing changed.

use super::{Action, DomainError};
use crate::domain::flag::{Flag, State};
use crate::domain::ids::{CohortName, EnvKey, FlagKey};
use crate::domain::ladder::LadderState;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

impl Action {
    /// Apply to `state` in place and return the exact reverse. On error nothing has changed.
    pub fn apply(&self, state: &mut State, now: DateTime<Utc>) -> Result<Action, DomainError> {
        let env = self.env();
        if state.environment(env).is_none() {
            return Err(DomainError::UnknownEnv(env.to_string()));
        }
        match self {
            Action::Freeze { env } => {
                if !state.frozen.insert(env.clone()) {
                    return Err(DomainError::InvalidState(format!(
                        "{env} is already frozen"
                    )));
                }
                return Ok(Action::Unfreeze { env: env.clone() });
            }
            Action::Unfreeze { env } => {
                if !state.frozen.remove(env.as_str()) {
                    return Err(DomainError::InvalidState(format!("{env} is not frozen")));
                }
                return Ok(Action::Freeze { env: env.clone() });
            }
            _ => {}
        }
        let flag_key = self.flag().cloned().unwrap_or_else(|| FlagKey::new(""));
        let protected: Vec<EnvKey> = state
            .environments
            .iter()
            .filter(|e| e.protected)
            .map(|e| e.key.clone())
            .collect();
        let flag = state
            .flags
            .get_mut(&flag_key)
            .map(std::sync::Arc::make_mut)
            .ok_or_else(|| DomainError::UnknownFlag(flag_key.to_string()))?;
        if matches!(self, Action::Archive { .. } | Action::Unarchive { .. }) {
            return retire(self, flag, &protected, now);
        }
        if flag.archived {
            return Err(DomainError::InvalidState(format!(
                "`{flag_key}` is archived; unarchive it first"
            )));
        }
        let reverse = self.apply_in_env(flag, &flag_key, now)?;
        if !matches!(self, Action::Pause { .. } | Action::Resume { .. }) {
            flag.changed_at = Some(now);
        }
        Ok(reverse)
    }

    /// The actions on one environment of one (not archived) flag.
    fn apply_in_env(
        &self,
        flag: &mut Flag,
        flag_key: &FlagKey,
        now: DateTime<Utc>,
    ) -> Result<Action, DomainError> {
        let env = self.env();
        let fe = flag.environments.get_mut(env).ok_or_else(|| {
            DomainError::InvalidState(format!("flag `{flag_key}` is not configured in `{env}`"))
        })?;
        let unknown_cohort = |c: &CohortName| DomainError::UnknownCohort {
            flag: flag_key.to_string(),
            env: env.to_string(),
            cohort: c.to_string(),
        };
        match self {
            Action::SetPercent {
                cohort, percent, ..
            } => {
                if *percent > 100 {
                    return Err(DomainError::PercentOutOfRange(i64::from(*percent)));
                }
                let c = fe
                    .cohort_mut(cohort)
                    .ok_or_else(|| unknown_cohort(cohort))?;
                if c.rolled_back {
                    return Err(DomainError::InvalidState(format!(
                        "cohort `{cohort}` is rolled back; restore it first"
                    )));
                }
                if c.percent == *percent {
                    return Err(DomainError::InvalidState(format!(
                        "cohort `{cohort}` is already at {percent}%"
                    )));
                }
                let old = std::mem::replace(&mut c.percent, *percent);
                Ok(Action::SetPercent {
                    flag: flag_key.clone(),
                    env: env.clone(),
                    cohort: cohort.clone(),
                    percent: old,
                })
            }
            Action::Rollback { cohort, .. } | Action::Restore { cohort, .. } => {
                let back = matches!(self, Action::Rollback { .. });
                let c = fe
                    .cohort_mut(cohort)
                    .ok_or_else(|| unknown_cohort(cohort))?;
                if c.rolled_back == back {
                    let what = if back {
                        "already rolled back"
                    } else {
                        "not rolled back"
                    };
                    return Err(DomainError::InvalidState(format!(
                        "cohort `{cohort}` is {what}"
                    )));
                }
                c.rolled_back = back;
                let (flag, env, cohort) = (flag_key.clone(), env.clone(), cohort.clone());
                Ok(if back {
                    Action::Restore { flag, env, cohort }
                } else {
                    Action::Rollback { flag, env, cohort }
                })
            }
            Action::Advance { exposure, .. } | Action::Retreat { exposure, .. } => {
                let forward = matches!(self, Action::Advance { .. });
                let ladder = fe
                    .ladder
                    .as_ref()
                    .ok_or_else(|| DomainError::NoLadder(flag_key.to_string()))?;
                let target = if forward {
                    if ladder.is_last() {
                        return Err(DomainError::InvalidState(
                            "the ladder is at its last stage".into(),
                        ));
                    }
                    ladder.current + 1
                } else {
                    if ladder.current == 0 {
                        return Err(DomainError::InvalidState(
                            "the ladder is at its first stage".into(),
                        ));
                    }
                    ladder.current - 1
                };
                let targets: crate::domain::SmallMap<CohortName, u8> = match exposure {
                    Some(x) => x.iter().map(|(c, p)| (c.clone(), *p)).collect(),
                    None => ladder.stages[target].targets.clone(),
                };
                for (c, p) in &targets {
                    if fe.cohort(c).is_none() {
                        return Err(unknown_cohort(c));
                    }
                    if *p > 100 {
                        return Err(DomainError::PercentOutOfRange(i64::from(*p)));
                    }
                }
                // Record exactly what the step changes so the reverse puts it back.
                let before: BTreeMap<CohortName, u8> = targets
                    .keys()
                    .filter_map(|c| fe.cohort(c).map(|co| (c.clone(), co.percent)))
                    .collect();
                for (c, p) in &targets {
                    if let Some(co) = fe.cohort_mut(c) {
                        co.percent = *p;
                    }
                }
                if let Some(l) = fe.ladder.as_mut() {
                    l.current = target;
                    l.entered_at = now;
                }
                let (flag, env, exposure) = (flag_key.clone(), env.clone(), Some(before));
                Ok(if forward {
                    Action::Retreat {
                        flag,
                        env,
                        exposure,
                    }
                } else {
                    Action::Advance {
                        flag,
                        env,
                        exposure,
                    }
                })
            }
            Action::Pause { note, .. } => {
                let l = fe
                    .ladder
                    .as_mut()
                    .ok_or_else(|| DomainError::NoLadder(flag_key.to_string()))?;
                if l.state == LadderState::Paused {
                    return Err(DomainError::InvalidState(
                        "the ladder is already paused".into(),
                    ));
                }
                l.state = LadderState::Paused;
                l.pause_note = note.clone();
                Ok(Action::Resume {
                    flag: flag_key.clone(),
                    env: env.clone(),
                })
            }
            Action::Resume { .. } => {
                let l = fe
                    .ladder
                    .as_mut()
                    .ok_or_else(|| DomainError::NoLadder(flag_key.to_string()))?;
                if l.state != LadderState::Paused {
                    return Err(DomainError::InvalidState("the ladder is not paused".into()));
                }
                l.state = LadderState::Progressing;
                let note = l.pause_note.take();
                Ok(Action::Pause {
                    flag: flag_key.clone(),
                    env: env.clone(),
                    note,
                })
            }
            Action::Kill { .. } | Action::Revive { .. } => {
                let on = matches!(self, Action::Revive { .. });
                if fe.enabled == on {
                    let what = if on { "already on" } else { "already off" };
                    return Err(DomainError::InvalidState(format!(
                        "`{flag_key}` is {what} in {env}"
                    )));
                }
                fe.enabled = on;
                fe.off = false;
                let (flag, env) = (flag_key.clone(), env.clone());
                Ok(if on {
                    Action::Kill { flag, env }
                } else {
                    Action::Revive { flag, env }
                })
            }
            Action::Freeze { .. }
            | Action::Unfreeze { .. }
            | Action::Archive { .. }
            | Action::Unarchive { .. } => Err(DomainError::InvalidState(format!(
                "{} is not an action on one environment",
                self.verb()
            ))),
        }
    }
}

/// Archive or unarchive `flag`, deciding in `action.env()` (`protected`: the state's protected
/// environments). Archiving needs one served variation in every environment.
fn retire(
    action: &Action,
    flag: &mut Flag,
    protected: &[EnvKey],
    now: DateTime<Utc>,
) -> Result<Action, DomainError> {
    let (key, env) = (flag.key.clone(), action.env().clone());
    let archive = matches!(action, Action::Archive { .. });
    if flag.archived == archive {
        let what = if archive { "already" } else { "not" };
        return Err(DomainError::InvalidState(format!(
            "`{key}` is {what} archived"
        )));
    }
    // A flag archived in an external store follows it with no environment left: it is
    // unarchived where the state's protected environment is, as it was archived there.
    let protected_home = match flag.environments.is_empty() {
        true => protected.first(),
        false => flag.environments.keys().find(|e| protected.contains(e)),
    };
    if !protected.contains(&env)
        && let Some(p) = protected_home
    {
        return Err(DomainError::InvalidState(format!(
            "`{key}` is also in the protected environment `{p}`: {} it there (--env {p})",
            action.verb()
        )));
    }
    if archive {
        for (e, fe) in flag.environments.iter() {
            let served = fe.served_variations();
            if served.len() > 1 {
                let list: Vec<&str> = served.into_iter().collect();
                return Err(DomainError::InvalidState(format!(
                    "`{key}` still serves {} in {e}: finish or roll back the rollout before archiving",
                    list.join(" and ")
                )));
            }
        }
    }
    flag.archived = archive;
    flag.changed_at = Some(now);
    Ok(if archive {
        Action::Unarchive { flag: key, env }
    } else {
        Action::Archive { flag: key, env }
    })
}
