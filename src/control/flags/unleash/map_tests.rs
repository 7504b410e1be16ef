//! Tests of the Unleash → flagtop mapping (`map`).

use super::map::*;
use crate::domain::flag::ConstraintOp;
use crate::domain::{EnvKey, Environment, FlagEnv, FlagKind, Selector};
use serde_json::{Value, json};

fn prod(v: &Value, segs: &Segments) -> FlagEnv {
    let envs = vec![Environment {
        key: "production".into(),
        protected: true,
    }];
    let (f, _) = to_flag(v, &envs, segs).unwrap_or_else(|| panic!("mapped"));
    f.environments[&EnvKey::from("production")].clone()
}

#[test]
fn maps_strategies_to_cohorts() {
    let v = json!({"name": "checkout-v2", "type": "release", "project": "default", "environments": [
        {"name": "production", "enabled": true, "strategies": [
            {"id": "s1", "name": "flexibleRollout", "title": "eu-west", "disabled": true,
             "parameters": {"rollout": "25"}, "constraints": [{"contextName": "region", "operator": "IN", "values": ["eu-west"]}]},
            {"id": "s2", "name": "flexibleRollout", "title": "", "disabled": false,
             "parameters": {"rollout": "150"}, "constraints": [{"contextName": "region", "operator": "IN", "values": ["us-east"]}]},
            {"id": "s3", "name": "userWithId", "parameters": {}},
            {"id": "s4", "name": "default"}
        ]},
        {"name": "development", "enabled": false, "strategies": []}
    ]});
    let envs = vec![Environment {
        key: "production".into(),
        protected: true,
    }];
    let (f, raw) = to_flag(&v, &envs, &Segments::new()).unwrap_or_else(|| panic!("mapped"));
    let fe = &f.environments[&EnvKey::from("production")];
    let names: Vec<&str> = fe.cohorts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["eu-west", "us-east", "default"]);
    assert!(fe.cohorts[0].rolled_back && fe.cohorts[0].percent == 25);
    assert_eq!(
        fe.cohorts[1].percent, 100,
        "out-of-range rollouts are clamped"
    );
    assert_eq!(fe.cohorts[1].external_id.as_deref(), Some("s2"));
    assert!(!f.environments.contains_key("development"));
    assert_eq!(
        raw.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["s1", "s2", "s4"]
    );
}

#[test]
fn operators_inversion_case_and_segments_are_kept_and_names_never_claim_an_excluded_value() {
    let segs: Segments = [(
        2,
        SegmentDef {
            name: "vip users".into(),
            constraints: Some(vec![]),
        },
    )]
    .into();
    let v = json!({"name": "f", "environments": [{"name": "production", "enabled": true, "strategies": [
        {"id": "a", "name": "flexibleRollout", "parameters": {"rollout": "10"}, "constraints": [
            {"contextName": "userId", "operator": "STR_STARTS_WITH", "values": ["vip-"], "caseInsensitive": true},
            {"contextName": "region", "operator": "IN", "values": ["eu-west"], "inverted": true}]},
        {"id": "b", "name": "flexibleRollout", "parameters": {"rollout": "20"}, "segments": [2]},
        {"id": "c", "name": "flexibleRollout", "parameters": {"rollout": "30"}, "constraints": [
            {"contextName": "appVersion", "operator": "SEMVER_GT", "value": "2.0.0"}]},
        {"id": "d", "name": "flexibleRollout", "parameters": {"rollout": "40"}, "constraints": [
            {"contextName": "region", "operator": "WHATEVER", "values": ["x"]}]}
    ]}]});
    let fe = prod(&v, &segs);
    assert_eq!(
        fe.cohorts.len(),
        3,
        "an unknown operator is skipped, never shown as `in`"
    );
    let Selector::Constraints { constraints, .. } = &fe.cohorts[0].selector else {
        panic!("constraints")
    };
    assert_eq!(
        (constraints[0].op, constraints[0].case_insensitive),
        (ConstraintOp::StrStartsWith, true)
    );
    assert_eq!(
        (constraints[1].op, constraints[1].inverted),
        (ConstraintOp::In, true)
    );
    assert_eq!(
        fe.cohorts[0].name.as_str(),
        "userId-starts-with-vip-not-eu-west"
    );
    assert!(!fe.cohorts[0].name.as_str().starts_with("eu-west"));
    assert_eq!(
        fe.cohorts[1].selector,
        Selector::Segment {
            segment: "vip users".into()
        }
    );
    assert_eq!(fe.cohorts[1].name.as_str(), "segment-vip-users");
    let Selector::Constraints { constraints, .. } = &fe.cohorts[2].selector else {
        panic!("constraints")
    };
    assert_eq!(
        (constraints[0].op, constraints[0].values.clone()),
        (ConstraintOp::SemverGt, vec!["2.0.0".to_string()])
    );
}

#[test]
fn a_segment_is_shown_with_its_own_constraints_and_never_named_by_an_excluded_value() {
    // As `/api/admin/segments` answers.
    let listed = json!([
        {"id": 7, "name": "beta testers", "constraints": [
            {"contextName": "userId", "operator": "STR_ENDS_WITH", "values": ["@beta.example"], "caseInsensitive": true},
            {"contextName": "region", "operator": "IN", "values": ["eu-west"], "inverted": true}]},
        {"id": 8, "name": "odd", "constraints": [{"contextName": "x", "operator": "FANCY_NEW_OP", "values": ["y"]}]}
    ]);
    let segs: Segments = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(segment)
        .collect();
    let v = json!({"name": "f", "environments": [{"name": "production", "enabled": true, "strategies": [
        {"id": "a", "name": "flexibleRollout", "parameters": {"rollout": "20"}, "segments": [7]},
        {"id": "b", "name": "flexibleRollout", "parameters": {"rollout": "30"}, "segments": [7],
         "constraints": [{"contextName": "plan", "operator": "IN", "values": ["pro"]}]},
        {"id": "c", "name": "flexibleRollout", "parameters": {"rollout": "40"}, "segments": [8]}
    ]}]});
    let fe = prod(&v, &segs);
    assert_eq!(
        fe.cohorts.len(),
        2,
        "a segment with an unknown operator cannot be shown truthfully: skipped"
    );
    let Selector::Constraints {
        constraints,
        segments,
    } = &fe.cohorts[0].selector
    else {
        panic!(
            "a segment with constraints shows them: {:?}",
            fe.cohorts[0].selector
        )
    };
    assert_eq!(segments, &["beta testers"]);
    assert_eq!(constraints.len(), 2);
    assert_eq!(
        (
            constraints[0].op,
            constraints[0].case_insensitive,
            constraints[0].segment.as_deref()
        ),
        (ConstraintOp::StrEndsWith, true, Some("beta testers"))
    );
    assert_eq!(
        (constraints[1].op, constraints[1].inverted),
        (ConstraintOp::In, true)
    );
    assert_eq!(
        constraints[1].describe(),
        "not (region in eu-west) (segment beta testers)"
    );
    // Named by the segment, never by the region it excludes.
    assert_eq!(fe.cohorts[0].name.as_str(), "segment-beta-testers");
    let Selector::Constraints { constraints, .. } = &fe.cohorts[1].selector else {
        panic!("constraints")
    };
    assert_eq!(
        constraints
            .iter()
            .map(|c| (c.attribute.as_str(), c.segment.is_some()))
            .collect::<Vec<_>>(),
        [("plan", false), ("userId", true), ("region", true)]
    );
    assert_eq!(fe.cohorts[1].name.as_str(), "segment-beta-testers-pro");
}

#[test]
fn strategy_variants_become_the_cohorts_variations() {
    let v = json!({"name": "f", "environments": [{"name": "production", "enabled": true, "strategies": [
        {"id": "a", "name": "flexibleRollout", "title": "all", "parameters": {"rollout": "100"},
         "variants": [{"name": "blue", "weight": 500}, {"name": "green", "weight": 500}]}]}]});
    let envs = vec![Environment {
        key: "production".into(),
        protected: true,
    }];
    let (f, _) = to_flag(&v, &envs, &Segments::new()).unwrap_or_else(|| panic!("mapped"));
    assert_eq!(f.kind, FlagKind::Multivariate);
    assert_eq!(f.variations, ["off", "on", "blue", "green"]);
    let c = &f.environments[&EnvKey::from("production")].cohorts[0];
    assert_eq!(
        c.variants
            .iter()
            .map(|v| (v.name.as_str(), v.weight))
            .collect::<Vec<_>>(),
        [("blue", 500), ("green", 500)]
    );
}

#[test]
fn event_summaries_become_plain_text() {
    assert_eq!(
        plain(
            "**admin** enabled **[checkout-v2](http://x/y)** for the **production** environment\u{1b}[2J"
        ),
        "admin enabled checkout-v2 for the production environment␛[2J"
    );
}
