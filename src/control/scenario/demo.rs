//! The demo (and calm) flags: checkout-v2 and its regional ladder, support-answer-profile with
//! the agent's pending proposal, assistant-pr-creation, search-ranking-v3 (released three weeks
//! ago: ready for cleanup) and the permanent legacy billing kill switch. Pure data.

use super::*;

pub(super) fn demo_state(now: DateTime<Utc>) -> State {
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

pub(super) fn ops_assistant_proposal() -> ProposalSeed {
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
