//! Seed states for the control plane (`demo`, `calm`, `large`): flags, ladders, guardrails and
//! seeded proposals. Pure construction: no I/O, no clocks of its own (the caller passes `now`),
//! no randomness beyond a fixed-seed arithmetic generator; never assigns revisions.

mod large;

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
        changed_at,
    }
}

// ---- the demo (and calm) flags ----

fn demo_state(now: DateTime<Utc>) -> State {
    let flags = [
        checkout_v2(now),
        support_answer_profile(now),
        assistant_pr_creation(now),
        search_ranking_v3(now),
        legacy_billing(),
    ];
    empty_state(flags.into_iter().map(|f| (f.key.clone(), f)).collect())
}

fn checkout_cohorts(regional: u8) -> Vec<Cohort> {
    vec![
        cohort("internal", segment("internal"), 100, "on"),
        cohort("beta-accounts", segment("beta"), 100, "on"),
        cohort("eu-west", region("eu-west"), regional, "on"),
        cohort("us-east", region("us-east"), regional, "on"),
    ]
}

fn checkout_ladder(current: usize, entered_at: DateTime<Utc>, policy: AdvancePolicy) -> Ladder {
    let dwell = 600;
    let regional = |name: &str, p: u8| stage(name, &[("eu-west", p), ("us-east", p)], dwell);
    let stages = vec![
        stage("internal", &[("internal", 100)], dwell),
        stage("beta", &[("beta-accounts", 100)], dwell),
        regional("10%", 10),
        regional("25%", 25),
        regional("50%", 50),
        regional("100%", 100),
    ];
    ladder(stages, current, entered_at, policy)
}

fn checkout_v2(now: DateTime<Utc>) -> Flag {
    let mut guardrails = Vec::new();
    for c in ["eu-west", "us-east"] {
        guardrails.push(guard("error_rate", c, Threshold::Absolute { max: 0.02 }));
        guardrails.push(guard(
            "p95_latency_ms",
            c,
            Threshold::Relative {
                max_increase_pct: 20.0,
            },
        ));
    }
    let staging = flag_env(
        checkout_cohorts(100),
        "off",
        Some(checkout_ladder(
            5,
            now - Duration::days(2),
            AdvancePolicy::Automatic,
        )),
        Vec::new(),
    );
    let production = flag_env(
        checkout_cohorts(25),
        "off",
        Some(checkout_ladder(
            3,
            now - Duration::minutes(2),
            AdvancePolicy::RequestApproval,
        )),
        guardrails,
    );
    let head = FlagHead {
        key: "checkout-v2",
        kind: FlagKind::Boolean,
        description: "New checkout flow (payment sheet v2), rolled out region by region",
        owner: "payments-web",
        lifecycle: Lifecycle::Temporary,
        variations: &["off", "on"],
    };
    flag(head, staging, production)
}

fn support_answer_profile(now: DateTime<Utc>) -> Flag {
    let cohorts = |everyone: u8| {
        vec![
            cohort("internal", segment("internal"), 100, "reranker_v2"),
            cohort("everyone", Selector::Everyone, everyone, "reranker_v2"),
        ]
    };
    let dwell = 3600;
    let stages = vec![
        stage(
            "internal only",
            &[("internal", 100), ("everyone", 0)],
            dwell,
        ),
        stage("10%", &[("everyone", 10)], dwell),
        stage("50%", &[("everyone", 50)], dwell),
        stage("100%", &[("everyone", 100)], dwell),
    ];
    // The latency guardrail warns from half-way to its limit, so the reranker's ~+15 % shows
    // as a warning without breaching.
    let mut p95 = guard(
        "p95_latency_ms",
        "everyone",
        Threshold::Relative {
            max_increase_pct: 25.0,
        },
    );
    p95.warning_at = 0.5;
    let guardrails = vec![
        p95,
        guard(
            "manual_correction_rate",
            "everyone",
            Threshold::Absolute { max: 0.05 },
        ),
    ];
    let staging = flag_env(cohorts(100), "baseline", None, Vec::new());
    let production = flag_env(
        cohorts(10),
        "baseline",
        Some(ladder(
            stages,
            1,
            now - Duration::minutes(25),
            AdvancePolicy::RequestApproval,
        )),
        guardrails,
    );
    let head = FlagHead {
        key: "support-answer-profile",
        kind: FlagKind::Multivariate,
        description: "Answer profile of the support assistant: baseline retrieval or the reranker_v2 profile",
        owner: "support-ml",
        lifecycle: Lifecycle::Temporary,
        variations: &["baseline", "reranker_v2"],
    };
    flag(head, staging, production)
}

fn assistant_pr_creation(now: DateTime<Utc>) -> Flag {
    let cohorts = |payments: u8, web: u8| {
        vec![
            cohort("platform-team", segment("platform-team"), 100, "on"),
            cohort("payments-team", segment("payments-team"), payments, "on"),
            cohort("web-team", segment("web-team"), web, "on"),
        ]
    };
    let dwell = 86_400;
    let stages = vec![
        stage(
            "read-only pilot",
            &[
                ("platform-team", 100),
                ("payments-team", 0),
                ("web-team", 0),
            ],
            dwell,
        ),
        stage("scoped edits pilot", &[("web-team", 50)], dwell),
        stage(
            "scoped edits",
            &[("payments-team", 100), ("web-team", 100)],
            dwell,
        ),
    ];
    let staging = flag_env(cohorts(100, 100), "off", None, Vec::new());
    let production = flag_env(
        cohorts(0, 50),
        "off",
        Some(ladder(
            stages,
            1,
            now - Duration::days(3),
            AdvancePolicy::Manual,
        )),
        Vec::new(),
    );
    let head = FlagHead {
        key: "assistant-pr-creation",
        kind: FlagKind::Boolean,
        description: "AI-assistant capability: lets the coding assistant open pull requests; rolled out team by team",
        owner: "dev-productivity",
        lifecycle: Lifecycle::Temporary,
        variations: &["off", "on"],
    };
    flag(head, staging, production)
}

fn search_ranking_v3(now: DateTime<Utc>) -> Flag {
    let env = |entered: DateTime<Utc>| {
        let stages = vec![
            stage("10%", &[("everyone", 10)], 600),
            stage("50%", &[("everyone", 50)], 600),
            stage("100%", &[("everyone", 100)], 600),
        ];
        flag_env(
            vec![cohort("everyone", Selector::Everyone, 100, "on")],
            "off",
            Some(ladder(stages, 2, entered, AdvancePolicy::RequestApproval)),
            Vec::new(),
        )
    };
    let head = FlagHead {
        key: "search-ranking-v3",
        kind: FlagKind::Boolean,
        description: "Search ranking v3: fully released; ready for cleanup",
        owner: "search-relevance",
        lifecycle: Lifecycle::Temporary,
        variations: &["off", "on"],
    };
    flag(
        head,
        env(now - Duration::days(30)),
        env(now - Duration::days(21)),
    )
}

fn legacy_billing() -> Flag {
    let env = || {
        flag_env(
            vec![cohort("everyone", Selector::Everyone, 100, "on")],
            "off",
            None,
            Vec::new(),
        )
    };
    let head = FlagHead {
        key: "legacy-billing-killswitch",
        kind: FlagKind::Boolean,
        description: "Operational kill switch: turning it off stops the legacy billing jobs",
        owner: "billing-platform",
        lifecycle: Lifecycle::Permanent,
        variations: &["off", "on"],
    };
    flag(head, env(), env())
}

fn ops_assistant_proposal() -> ProposalSeed {
    let evidence = vec![
        Evidence {
            metric: "p95_latency_ms".into(),
            cohort: "everyone".into(),
            candidate: Some(702.0),
            baseline: Some(610.0),
            threshold: Some(762.5),
            samples: 1200,
            window_secs: 300,
            status: Some("warning".into()),
            cohort_value: None,
        },
        Evidence {
            metric: "manual_correction_rate".into(),
            cohort: "everyone".into(),
            candidate: Some(0.021),
            baseline: Some(0.020),
            threshold: Some(0.05),
            samples: 1200,
            window_secs: 300,
            status: Some("healthy".into()),
            cohort_value: None,
        },
    ];
    ProposalSeed {
        actor: Actor::from_token(DEMO_AGENT, Role::Agent),
        action: Action::SetPercent {
            flag: "support-answer-profile".into(),
            env: PRODUCTION.into(),
            cohort: "everyone".into(),
            percent: 0,
        },
        reason:
            "p95 latency of reranker_v2 trending up; reduce to internal only while investigating"
                .into(),
        evidence,
        evidence_gap: Some("citation_failure_rate not joined to flag variation yet".into()),
    }
}

#[cfg(test)]
mod tests;
