//! The exhaustive check: every combination against the tables in `docs/policy.md`.

use super::*;

const DOC: &str = include_str!("../../../docs/policy.md");

/// The rows of the markdown table under `heading`, cells trimmed.
fn table(heading: &str) -> Vec<Vec<String>> {
    let start = DOC
        .find(heading)
        .unwrap_or_else(|| panic!("docs/policy.md lost the heading {heading}"));
    DOC[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn matches(cell: &str, value: &str) -> bool {
    cell == "*" || cell.split(',').any(|v| v.trim() == value)
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

#[test]
fn every_action_combination_matches_the_written_table() {
    let rows = table("## Actions");
    assert!(rows.len() >= 10, "the actions table is missing rows");
    let mut checked = 0;
    for kind in ActorKind::ALL {
        for role in Role::ALL {
            for tier in Tier::ALL {
                for protected in [false, true] {
                    for automatic_ladder in [false, true] {
                        let vals = [
                            kind.as_str(),
                            role.as_str(),
                            tier.as_str(),
                            yes_no(protected),
                            yes_no(automatic_ladder),
                        ];
                        let row = rows
                            .iter()
                            .find(|r| r.iter().zip(vals).all(|(c, v)| matches(c, v)))
                            .unwrap_or_else(|| panic!("no row in docs/policy.md for {vals:?}"));
                        let got = decide(Ask {
                            kind,
                            role,
                            tier,
                            protected,
                            automatic_ladder,
                        });
                        let got = match got {
                            Decision::Apply => "apply",
                            Decision::Request => "request",
                            Decision::Deny(why) => {
                                assert!(!why.is_empty());
                                "deny"
                            }
                        };
                        assert_eq!(got, row[5], "{vals:?}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(
        checked,
        ActorKind::ALL.len() * Role::ALL.len() * Tier::ALL.len() * 2 * 2
    );
}

#[test]
fn every_request_combination_matches_the_written_table() {
    let rows = table("## Requests");
    for kind in ActorKind::ALL {
        for role in Role::ALL {
            for op in Op::ALL {
                let vals = [kind.as_str(), role.as_str(), op.as_str()];
                let row = rows
                    .iter()
                    .find(|r| r.iter().zip(vals).all(|(c, v)| matches(c, v)))
                    .unwrap_or_else(|| panic!("no row in docs/policy.md for {vals:?}"));
                let got = if may(kind, role, op).is_ok() {
                    "allow"
                } else {
                    "deny"
                };
                assert_eq!(got, row[3], "{vals:?}");
            }
        }
    }
}

#[test]
fn a_token_can_never_be_the_engine() {
    // Whatever a token's name or role, it yields a person or an agent.
    for role in Role::ALL {
        for name in ["flagtop-engine", "alice"] {
            let a = crate::domain::Actor::from_token(name, role);
            assert!(matches!(a.kind, ActorKind::Person | ActorKind::Agent));
            assert_ne!(a.kind(), "automation");
        }
    }
    // And a person is held to the two-person rule where the engine's automatic ladder is not.
    let ask = |kind| Ask {
        kind,
        role: Role::Admin,
        tier: Tier::Expand,
        protected: true,
        automatic_ladder: true,
    };
    assert_eq!(decide(ask(ActorKind::Person)), Decision::Request);
    assert_eq!(decide(ask(ActorKind::Engine)), Decision::Apply);
}
