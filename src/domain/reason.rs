//! Why an evaluation came out as it did, in OpenFeature's words (OFREP reasons). Pure: derived
//! from the flag's environment and the domain's own evaluation (`eval::evaluate`).

use super::eval::Evaluation;
use super::flag::{FlagEnv, Selector};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Everyone gets the same value here: no cohort selects by attribute and none splits.
    Static,
    /// The user's attributes or segments decided (a cohort matched fully, or none matched).
    TargetingMatch,
    /// The user's sticky bucket decided: the matched cohort is partly rolled out.
    Split,
    /// The kill switch is on: everyone gets the fallthrough.
    Disabled,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Static => "STATIC",
            Reason::TargetingMatch => "TARGETING_MATCH",
            Reason::Split => "SPLIT",
            Reason::Disabled => "DISABLED",
        }
    }
}

fn partial(percent: u8) -> bool {
    percent > 0 && percent < 100
}

/// The reason for `eval`, an evaluation of `env`.
pub fn reason(env: &FlagEnv, eval: &Evaluation<'_>) -> Reason {
    if !env.enabled {
        return Reason::Disabled;
    }
    let cohort = eval.cohort.and_then(|c| env.cohort(c));
    if cohort.is_some_and(|c| partial(c.effective_percent())) {
        return Reason::Split;
    }
    let targets = env
        .cohorts
        .iter()
        .any(|c| !matches!(c.selector, Selector::Everyone) || partial(c.effective_percent()));
    if targets {
        Reason::TargetingMatch
    } else {
        Reason::Static
    }
}
