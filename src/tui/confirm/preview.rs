//! Owns the preview of an action: the domain's `Action::apply` run on a copy of the affected
//! flag gives before → after, the blast radius and the reverse. Pure; it must not touch the
//! state it is given, do I/O or draw.

use crate::domain::{Action, FlagKey, LadderState, State, Tier};
use crate::tui::text::fit;
use chrono::{DateTime, Utc};

/// What an action would do, computed against the state the operator is looking at.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub title: String,
    /// `before → after` lines.
    pub change: Vec<String>,
    pub blast: String,
    pub reverse: Option<Action>,
    pub tier: Tier,
    /// Set when the action cannot apply to the current state.
    pub error: Option<String>,
    /// Expands exposure in a protected environment: becomes an approval request.
    pub needs_approval: bool,
}

/// Previews `action` against `state` without touching it (only the affected flag is cloned).
pub fn preview(action: &Action, state: &State, now: DateTime<Utc>) -> Preview {
    let env = action.env();
    let mut mini = State {
        revision: state.revision,
        environments: state.environments.clone(),
        frozen: state.frozen.clone(),
        env_revisions: state.env_revisions.clone(),
        flags: Default::default(),
        webhooks: Vec::new(),
    };
    let flag = action.flag().and_then(|k| state.flags.get(k));
    if let Some(f) = flag {
        mini.flags.insert(f.key.clone(), f.clone());
    }
    let tier = action.tier(state);
    let (reverse, error) = match action.apply(&mut mini, now) {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(fit(&e.to_string(), 200))),
    };
    let protected = state.environment(env).is_some_and(|e| e.protected);
    let fe_before = flag.and_then(|f| f.env(env));
    let fe_after = action
        .flag()
        .and_then(|k| mini.flags.get(k))
        .and_then(|f| f.env(env));
    let envs = fit(env, 40);
    let mut change = Vec::new();
    let blast = match action {
        Action::SetPercent { cohort, .. }
        | Action::Rollback { cohort, .. }
        | Action::Restore { cohort, .. } => {
            let show = |fe: Option<&crate::domain::FlagEnv>| match fe.and_then(|e| e.cohort(cohort))
            {
                Some(c) if c.rolled_back => {
                    format!("rolled back (0% exposed, keeps {}%)", c.percent)
                }
                Some(c) => format!("{}% exposed", c.percent),
                None => "?".into(),
            };
            let name = fit(cohort, 40);
            change.push(format!("{name}: {} → {}", show(fe_before), show(fe_after)));
            let share = fe_before
                .and_then(|e| e.cohort(cohort))
                .map(|c| c.effective_percent())
                .unwrap_or(0);
            if fe_before.is_some_and(|e| !e.enabled) {
                // Killed: nobody gets the candidate now, whatever the cohort's percent says.
                format!(
                    "cohort {name} in {envs} only (the flag is killed here: nobody exposed now); other cohorts unchanged"
                )
            } else {
                format!(
                    "cohort {name} in {envs} only (now {share}% of it exposed); other cohorts unchanged"
                )
            }
        }
        Action::Advance { .. } | Action::Retreat { .. } => {
            let stage = |fe: Option<&crate::domain::FlagEnv>| {
                fe.and_then(|e| e.ladder.as_ref())
                    .and_then(|l| l.current_stage())
                    .map(|s| fit(&s.name, 30))
                    .unwrap_or_default()
            };
            change.push(format!("stage: {} → {}", stage(fe_before), stage(fe_after)));
            let mut touched = Vec::new();
            if let (Some(b), Some(a)) = (fe_before, fe_after) {
                for (cb, ca) in b.cohorts.iter().zip(&a.cohorts) {
                    if cb.percent != ca.percent {
                        touched.push(fit(&cb.name, 30));
                        change.push(format!(
                            "{}: {}% → {}%",
                            fit(&cb.name, 30),
                            cb.percent,
                            ca.percent
                        ));
                    }
                }
            }
            format!(
                "cohorts {} in {envs}",
                if touched.is_empty() {
                    "-".into()
                } else {
                    touched.join(", ")
                }
            )
        }
        Action::Pause { .. } | Action::Resume { .. } => {
            let st = |fe: Option<&crate::domain::FlagEnv>| {
                fe.and_then(|e| e.ladder.as_ref())
                    .map(|l| l.state.as_str())
                    .unwrap_or(LadderState::Progressing.as_str())
            };
            change.push(format!("ladder: {} → {}", st(fe_before), st(fe_after)));
            "no exposure change; automatic steps of this ladder only".into()
        }
        Action::Freeze { .. } | Action::Unfreeze { .. } => {
            let fr = |s: &State| {
                if s.is_frozen(env) {
                    "frozen"
                } else {
                    "auto-advance on"
                }
            };
            change.push(format!("{envs}: {} → {}", fr(state), fr(&mini)));
            format!("every ladder's automatic advance in {envs}; no exposure change")
        }
        Action::Kill { .. } | Action::Revive { .. } => {
            let on = |fe: Option<&crate::domain::FlagEnv>| {
                if fe.is_some_and(|e| e.enabled) {
                    "on"
                } else {
                    "OFF (killed)"
                }
            };
            change.push(format!("flag: {} → {}", on(fe_before), on(fe_after)));
            let fall = fe_before
                .map(|e| fit(&e.fallthrough, 30))
                .unwrap_or_default();
            format!("EVERY user in {envs} (all cohorts get `{fall}`)")
        }
        Action::Archive { .. } | Action::Unarchive { .. } => {
            let was = |f: Option<&crate::domain::Flag>| {
                if f.is_some_and(|f| f.archived) {
                    "archived"
                } else {
                    "active"
                }
            };
            let after = action.flag().and_then(|k| mini.flags.get(k));
            change.push(format!(
                "flag: {} → {}",
                was(flag.map(|f| &**f)),
                was(after.map(|f| &**f))
            ));
            "nobody's value changes; the flag leaves or rejoins the operator's controls".into()
        }
    };
    Preview {
        title: fit(&action.describe(), 80),
        change,
        blast,
        reverse,
        tier,
        error,
        needs_approval: protected && matches!(tier, Tier::Expand | Tier::Retire),
    }
}

/// The default reason for a rollback/restore of `cohort`, built from its worst guardrail.
pub fn default_reason(action: &Action, readings: &[&crate::wire::GuardrailReading]) -> String {
    let verb = action.verb();
    let Some(cohort) = action.cohort() else {
        return String::new();
    };
    let bad = readings
        .iter()
        .filter(|r| r.cohort.as_str() == cohort.as_str())
        .filter(|r| r.status == crate::domain::GuardrailStatus::Breached)
        .map(|r| fit(&r.metric, 30))
        .collect::<Vec<_>>();
    let c = fit(cohort, 40);
    if bad.is_empty() {
        format!("{verb} {c}")
    } else {
        format!("{verb} {c}: {} breach", bad.join("+"))
    }
}

/// The blast radius in evaluations, from the last exposure window: `~1,240 evaluations/min,
/// 8 % of production` (the candidate traffic the action takes back or moves); None for actions
/// that change no exposure.
pub fn served(action: &Action, data: &crate::tui::model::Data) -> Option<String> {
    let flag = action.flag()?;
    let env = action.env();
    let cohort = match action {
        Action::Pause { .. } | Action::Resume { .. } => return None,
        a => a.cohort().map(|c| c.as_str()),
    };
    let s = data.served(flag, env, cohort);
    Some(s.blast_radius(&fit(env, 40)))
}

/// Flag key to type for the kill switch.
pub fn kill_word(flag: &FlagKey) -> String {
    flag.to_string()
}
