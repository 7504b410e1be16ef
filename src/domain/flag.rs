//! Flags, environments, cohorts and the whole flag state. Pure data; no I/O.

mod date;
mod store_stage;
pub use date::de_date;
pub use store_stage::StoreStage;

use super::guardrail::GuardrailSpec;
use super::ids::{CohortName, EnvKey, FlagKey, Revision};
use super::ladder::Ladder;
use super::small_map::SmallMap;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub key: EnvKey,
    #[serde(default)]
    pub protected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    #[default]
    Boolean,
    Multivariate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    #[default]
    Temporary,
    Permanent,
}

/// How a cohort picks its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Selector {
    /// Everybody not matched by an earlier cohort.
    Everyone,
    /// Members of a named segment.
    Segment { segment: String },
    /// All constraints must hold (and the user be in every named segment, when any).
    Constraints {
        constraints: Vec<Constraint>,
        /// Segments (by name) the user must also be in: an external store's shared groups of
        /// constraints (Unleash segments).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        segments: Vec<String>,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub attribute: String,
    #[serde(default)]
    pub op: ConstraintOp,
    /// The values compared with; operators that take one value (numbers, dates, versions) use
    /// the first.
    pub values: Vec<String>,
    /// The result of the comparison is negated.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inverted: bool,
    /// String comparisons ignore case.
    #[serde(default, skip_serializing_if = "is_false")]
    pub case_insensitive: bool,
    /// The segment (by name) this constraint is part of, when it is one of a segment's own
    /// constraints (an Unleash segment); None for the cohort's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
}

/// How a constraint compares the user's attribute with its values (Unleash's operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintOp {
    #[default]
    In,
    NotIn,
    StrContains,
    StrStartsWith,
    StrEndsWith,
    NumEq,
    NumGt,
    NumGte,
    NumLt,
    NumLte,
    DateAfter,
    DateBefore,
    SemverEq,
    SemverGt,
    SemverLt,
}

impl ConstraintOp {
    /// How it reads in a cohort's description ("region in eu-west", "userId starts with vip-").
    pub fn words(self) -> &'static str {
        match self {
            ConstraintOp::In => "in",
            ConstraintOp::NotIn => "not in",
            ConstraintOp::StrContains => "contains",
            ConstraintOp::StrStartsWith => "starts with",
            ConstraintOp::StrEndsWith => "ends with",
            ConstraintOp::NumEq => "=",
            ConstraintOp::NumGt => ">",
            ConstraintOp::NumGte => ">=",
            ConstraintOp::NumLt => "<",
            ConstraintOp::NumLte => "<=",
            ConstraintOp::DateAfter => "after",
            ConstraintOp::DateBefore => "before",
            ConstraintOp::SemverEq => "version =",
            ConstraintOp::SemverGt => "version >",
            ConstraintOp::SemverLt => "version <",
        }
    }
}

impl Constraint {
    /// `region in eu-west`, `not (userId starts with vip-)`, `userId in u1 (segment beta)`:
    /// what the constraint really selects, and the segment it belongs to.
    pub fn describe(&self) -> String {
        let case = if self.case_insensitive {
            " (any case)"
        } else {
            ""
        };
        let plain = format!(
            "{} {} {}{case}",
            self.attribute,
            self.op.words(),
            self.values.join(",")
        );
        let shown = if self.inverted {
            format!("not ({plain})")
        } else {
            plain
        };
        match &self.segment {
            Some(seg) => format!("{shown} (segment {seg})"),
            None => shown,
        }
    }
}

/// A weighted variant an exposed member of a cohort may get (Unleash strategy variants).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedVariant {
    pub name: String,
    /// Share among the cohort's variants, out of 1000 (Unleash's scale).
    pub weight: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cohort {
    pub name: CohortName,
    pub selector: Selector,
    /// Share of the cohort exposed to `variation`, 0–100.
    pub percent: u8,
    /// The variation served to the exposed share.
    pub variation: String,
    /// A narrowed rollback is in force: the cohort is served the fallthrough, `percent` is kept
    /// so that restoring brings the exact exposure back.
    #[serde(default)]
    pub rolled_back: bool,
    /// The id of what backs this cohort in an external flag store (an Unleash strategy id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When exposed members are split between several variations (Unleash strategy variants):
    /// each with its weight; `variation` is then the first of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<WeightedVariant>,
}

impl Cohort {
    /// The exposure actually in force.
    pub fn effective_percent(&self) -> u8 {
        if self.rolled_back { 0 } else { self.percent }
    }
}

fn yes() -> bool {
    true
}

/// A flag's state in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagEnv {
    /// The kill switch: false means everybody gets the fallthrough.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Off without a kill: not on in the external flag store (never turned on, or turned off
    /// there), as opposed to killed by flagtop's kill switch. Shown "off", not "KILLED".
    #[serde(default, skip_serializing_if = "is_false")]
    pub off: bool,
    pub cohorts: Vec<Cohort>,
    /// Variation for everyone not exposed by a cohort.
    pub fallthrough: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ladder: Option<Ladder>,
    #[serde(default)]
    pub guardrails: Vec<GuardrailSpec>,
}

impl FlagEnv {
    /// The kill switch is thrown (not merely off in the external store).
    pub fn killed(&self) -> bool {
        !self.enabled && !self.off
    }

    pub fn cohort(&self, name: &str) -> Option<&Cohort> {
        self.cohorts.iter().find(|c| c.name.as_str() == name)
    }
    pub fn cohort_mut(&mut self, name: &str) -> Option<&mut Cohort> {
        self.cohorts.iter_mut().find(|c| c.name.as_str() == name)
    }

    /// Every variation someone in this environment can be served (sorted, deduplicated).
    pub fn served_variations(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        if !self.enabled {
            out.insert(self.fallthrough.as_str());
            return out;
        }
        let mut everyone_covered = false;
        for c in &self.cohorts {
            let p = c.effective_percent();
            if p > 0 {
                if c.variants.iter().any(|v| v.weight > 0) {
                    out.extend(
                        c.variants
                            .iter()
                            .filter(|v| v.weight > 0)
                            .map(|v| v.name.as_str()),
                    );
                } else {
                    out.insert(c.variation.as_str());
                }
            }
            if p < 100 {
                out.insert(self.fallthrough.as_str());
            }
            if c.selector == Selector::Everyone {
                everyone_covered = true;
                break;
            }
        }
        if !everyone_covered {
            out.insert(self.fallthrough.as_str());
        }
        out
    }

    /// The one variation everybody here is served, when there is exactly one.
    pub fn released_value(&self) -> Option<&str> {
        let served = self.served_variations();
        if served.len() == 1 {
            served.into_iter().next()
        } else {
            None
        }
    }

    /// Somebody here is served a cohort's variation (not only the fallthrough).
    pub fn exposed(&self) -> bool {
        self.enabled
            && self
                .cohorts
                .iter()
                .any(|c| c.effective_percent() > 0 && c.variation != self.fallthrough)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub key: FlagKey,
    #[serde(default)]
    pub kind: FlagKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// Variation names; for a boolean flag `["off", "on"]`.
    pub variations: Vec<String>,
    #[serde(serialize_with = "super::small_map::as_object")]
    pub environments: SmallMap<EnvKey, FlagEnv>,
    /// The revision at which this flag last changed (set by the control plane).
    #[serde(default)]
    pub revision: Revision,
    /// Temporary flags: the date by which someone decides its fate (stale after it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "date::de_date"
    )]
    pub review_by: Option<NaiveDate>,
    /// When the flag may be removed from the code, in words (bounded, no control characters).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cleanup: String,
    /// Retired (`Action::Archive`): serves its released value, takes no action but unarchive.
    /// State, not definition: a definition file never sets it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub archived: bool,
    /// When who-gets-what last changed (set by `Action::apply` and definitions; None: unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
    /// The stage an external flag store keeps for it (Unleash's lifecycle), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_stage: Option<StoreStage>,
}

impl Flag {
    pub fn env(&self, env: &str) -> Option<&FlagEnv> {
        self.environments.get(env)
    }
}

/// Everything the control plane holds about flags, with its revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct State {
    pub revision: Revision,
    pub environments: Vec<Environment>,
    /// Environments where every automatic ladder advance is stopped.
    #[serde(default)]
    pub frozen: BTreeSet<EnvKey>,
    /// Revision at which each environment's freeze state last changed.
    #[serde(default)]
    pub env_revisions: BTreeMap<EnvKey, Revision>,
    /// Shared, copy-on-write (`Arc::make_mut`): a snapshot, the embedded TUI's model and a
    /// group commit's undo log hold the same flags instead of copies of 10,000 of them.
    pub flags: BTreeMap<FlagKey, Arc<Flag>>,
    /// Outgoing webhooks (definitions only: no secret is held, see `domain::webhook`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<super::webhook::Webhook>,
}

impl State {
    pub fn environment(&self, key: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.key.as_str() == key)
    }
    pub fn is_frozen(&self, env: &str) -> bool {
        self.frozen.contains(env)
    }
}
