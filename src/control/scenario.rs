//! Seed states for the control plane (`demo`, `calm`, `large`): flags, ladders, guardrails and
//! seeded proposals. Pure construction: no I/O, no clocks of its own (the caller passes `now`),
//! no randomness beyond a fixed-seed arithmetic generator; never assigns revisions.

mod demo;
mod large;

use demo::{demo_state, ops_assistant_proposal};

use crate::domain::flag::{Constraint, ConstraintOp};
use crate::domain::{
    Action, Actor, AdvancePolicy, Cohort, CohortName, EnvKey, Environment, Evidence, Flag, FlagEnv,
    FlagKind, GuardrailSpec, Ladder, LadderState, Lifecycle, Revision, Role, Selector, Stage,
    State, Threshold,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// The scenario names `build` accepts.
pub const NAMES: &[&str] = &["demo", "calm", "large"];

/// The name of the agent that files the demo's proposal.
pub const DEMO_AGENT: &str = "ops-assistant";

pub const STAGING: &str = "staging";
pub const PRODUCTION: &str = "production";

/// A proposal to file (as its actor) when the scenario is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalSeed {
    pub actor: Actor,
    pub action: Action,
    pub reason: String,
    pub evidence: Vec<Evidence>,
    pub evidence_gap: Option<String>,
}

/// A seed state and the proposals to file on top of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub state: State,
    pub proposals: Vec<ProposalSeed>,
}

/// Build a named scenario. Unknown name -> Err(message listing `NAMES`).
pub fn build(name: &str, now: DateTime<Utc>) -> Result<Scenario, String> {
    match name {
        "demo" => Ok(Scenario {
            state: demo_state(now),
            proposals: vec![ops_assistant_proposal()],
        }),
        "calm" => Ok(Scenario {
            state: demo_state(now),
            proposals: Vec::new(),
        }),
        "large" => Ok(Scenario {
            state: large::state(now),
            proposals: Vec::new(),
        }),
        other => Err(unknown(other)),
    }
}

/// Is `name` a scenario? Err: the same message as `build` (for a data dir that needs no seed).
pub fn check(name: &str) -> Result<(), String> {
    if NAMES.contains(&name) {
        Ok(())
    } else {
        Err(unknown(name))
    }
}

fn unknown(name: &str) -> String {
    format!(
        "unknown scenario `{}`; known scenarios: {}",
        name.escape_debug(),
        NAMES.join(", ")
    )
}

// ---- small builders (shared with `large`) ----

fn environments() -> Vec<Environment> {
    vec![
        Environment {
            key: EnvKey::from(STAGING),
            protected: false,
        },
        Environment {
            key: EnvKey::from(PRODUCTION),
            protected: true,
        },
    ]
}

fn empty_state(flags: BTreeMap<crate::domain::FlagKey, Flag>) -> State {
    State {
        revision: Revision(0),
        environments: environments(),
        frozen: Default::default(),
        env_revisions: BTreeMap::new(),
        flags: flags
            .into_iter()
            .map(|(k, f)| (k, std::sync::Arc::new(f)))
            .collect(),
        webhooks: Vec::new(),
    }
}

fn cohort(name: &str, selector: Selector, percent: u8, variation: &str) -> Cohort {
    Cohort {
        name: CohortName::from(name),
        selector,
        percent,
        variation: variation.to_string(),
        rolled_back: false,
        external_id: None,
        variants: vec![],
    }
}

fn segment(name: &str) -> Selector {
    Selector::Segment {
        segment: name.to_string(),
    }
}

fn region(value: &str) -> Selector {
    Selector::Constraints {
        constraints: vec![Constraint {
            attribute: "region".into(),
            op: ConstraintOp::In,
            values: vec![value.into()],
            inverted: false,
            case_insensitive: false,
            segment: None,
        }],
        segments: vec![],
    }
}

fn stage(name: &str, targets: &[(&str, u8)], min_dwell_secs: u64) -> Stage {
    Stage {
        name: name.to_string(),
        targets: targets
            .iter()
            .map(|(c, p)| (CohortName::from(*c), *p))
            .collect(),
        min_dwell_secs,
    }
}

fn ladder(
    stages: Vec<Stage>,
    current: usize,
    entered_at: DateTime<Utc>,
    policy: AdvancePolicy,
) -> Ladder {
    Ladder {
        stages,
        current,
        entered_at,
        state: LadderState::Progressing,
        pause_note: None,
        policy,
    }
}

fn guard(metric: &str, cohort: &str, threshold: Threshold) -> GuardrailSpec {
    GuardrailSpec {
        metric: metric.to_string(),
        cohort: CohortName::from(cohort),
        threshold,
        warning_at: 0.8,
        min_samples: 200,
        window_secs: 30,
        source: None,
        promql: None,
        samples_from: crate::domain::SampleSource::Metric,
    }
}

fn flag_env(
    cohorts: Vec<Cohort>,
    fallthrough: &str,
    ladder: Option<Ladder>,
    guardrails: Vec<GuardrailSpec>,
) -> FlagEnv {
    FlagEnv {
        enabled: true,
        off: false,
        cohorts,
        fallthrough: fallthrough.to_string(),
        ladder,
        guardrails,
    }
}

struct FlagHead<'a> {
    key: &'a str,
    kind: FlagKind,
    description: &'a str,
    owner: &'a str,
    lifecycle: Lifecycle,
    variations: &'a [&'a str],
}

fn flag(head: FlagHead<'_>, staging: FlagEnv, production: FlagEnv) -> Flag {
    let mut environments = crate::domain::SmallMap::new();
    environments.insert(EnvKey::from(STAGING), staging);
    environments.insert(EnvKey::from(PRODUCTION), production);
    // Seeded flags last changed when their ladders last stepped (unknown without a ladder).
    let changed_at = environments
        .values()
        .filter_map(|e| e.ladder.as_ref().map(|l| l.entered_at))
        .max();
    Flag {
        key: head.key.into(),
        kind: head.kind,
        description: head.description.to_string(),
        owner: head.owner.to_string(),
        lifecycle: head.lifecycle,
        variations: head.variations.iter().map(|v| v.to_string()).collect(),
        environments,
        revision: Revision(0),
        review_by: None,
        cleanup: String::new(),
        archived: false,
        store_stage: None,
        changed_at,
    }
}

#[cfg(test)]
mod tests;
