//! Who may do what, and what needs a second person. Pure decisions; no state changes.

use crate::domain::{Role, Tier};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Apply now.
    Apply,
    /// Turn into an approval request.
    Request,
    /// Refuse with this explanation.
    Deny(&'static str),
}

/// Decide an action by a caller of `role` of the given tier in an environment.
pub fn decide(role: Role, tier: Tier, protected: bool, is_engine: bool) -> Decision {
    match role {
        Role::Viewer => Decision::Deny("viewers can read but not change anything"),
        Role::Agent => Decision::Deny("agents may only propose changes: POST /v1/proposals"),
        Role::Operator | Role::Approver | Role::Admin => match tier {
            // Reducing exposure is immediate: blast radius first.
            Tier::Reduce | Tier::Global => Decision::Apply,
            Tier::Expand if protected && !is_engine => Decision::Request,
            Tier::Expand => Decision::Apply,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use Decision::*;
        let cases = [
            (Role::Viewer, Tier::Reduce, false, Deny("")),
            (Role::Agent, Tier::Reduce, false, Deny("")),
            (Role::Operator, Tier::Reduce, true, Apply),
            (Role::Operator, Tier::Global, true, Apply),
            (Role::Operator, Tier::Expand, false, Apply),
            (Role::Operator, Tier::Expand, true, Request),
            (Role::Approver, Tier::Expand, true, Request),
            (Role::Admin, Tier::Expand, true, Request),
        ];
        for (role, tier, protected, want) in cases {
            let got = decide(role, tier, protected, false);
            match (got, want) {
                (Deny(_), Deny(_)) => {}
                (g, w) => assert_eq!(g, w, "{role:?} {tier:?} protected={protected}"),
            }
        }
    }
}
