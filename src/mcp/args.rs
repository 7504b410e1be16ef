//! The arguments of each tool, as strict JSON objects (unknown fields refused) with a JSON
//! Schema the client sees in `tools/list`. Types only; no I/O, no rules beyond shape.

use rmcp::schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ListFlagsArgs {
    /// Environment key, e.g. `production` (see `overview` for the list).
    pub env: String,
    /// `next_cursor` of the previous page; omit for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Items per page, 1–50 (default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct GetFlagArgs {
    /// Flag key, e.g. `checkout-v2`.
    pub flag: String,
    /// Only this environment; omit for every environment of the flag.
    #[serde(default)]
    pub env: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct BreachesArgs {
    /// Only this environment; omit for all.
    #[serde(default)]
    pub env: Option<String>,
    /// Also list guardrails at `warning` (default: only `breached`).
    #[serde(default)]
    pub include_warnings: bool,
    /// `next_cursor` of the previous page; omit for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Items per page, 1–50 (default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct AuditArgs {
    /// Only events about this flag.
    #[serde(default)]
    pub flag: Option<String>,
    /// `next_cursor` of the previous page (older events); omit for the newest.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Items per page, 1–50 (default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ApprovalsArgs {
    /// Also list recently decided requests (applied, rejected, expired).
    #[serde(default)]
    pub include_decided: bool,
    /// `next_cursor` of the previous page; omit for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Items per page, 1–50 (default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ProposeArgs {
    /// The operation, as a flagtop action object, e.g.
    /// `{"type":"rollback","flag":"checkout-v2","env":"production","cohort":"eu-west"}`.
    /// Types: set_percent (flag, env, cohort, percent), rollback / restore (flag, env, cohort),
    /// advance / retreat (flag, env), pause (flag, env, note?), resume, kill, revive (flag, env),
    /// freeze / unfreeze (env).
    pub action: Map<String, Value>,
    /// Its exact reverse, in the same form (for a rollback: the restore of the same cohort).
    /// The control plane computes the reverse itself and refuses the proposal if this differs.
    pub reverse: Map<String, Value>,
    /// Why, in a few words (recorded in the audit trail; at most 2,000 characters).
    pub reason: String,
    /// Guardrail facts supporting it: objects with `metric`, `cohort`, `candidate`, `baseline`,
    /// `threshold`, `samples`, `window_secs`, `status` (copy `evidence` from `list_breaches`).
    #[serde(default)]
    pub evidence: Vec<Map<String, Value>>,
    /// What the evidence does not show yet (e.g. a metric not joined to the flag variation).
    #[serde(default)]
    pub evidence_gap: Option<String>,
    /// Who or what the change affects, in your words (added to the reason). The result also
    /// states the scope the control plane derives from the action.
    #[serde(default)]
    pub affected_scope: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_state_the_page_bound_and_refuse_unknown_fields() {
        let schema =
            serde_json::to_value(rmcp::schemars::schema_for!(ListFlagsArgs)).unwrap_or_default();
        let limit = &schema["properties"]["limit"];
        assert_eq!(limit["maximum"], super::super::limits::MAX_PAGE, "{schema}");
        assert_eq!(limit["minimum"], 1, "{schema}");
        assert_eq!(schema["additionalProperties"], false, "{schema}");
        assert_eq!(schema["required"], serde_json::json!(["env"]), "{schema}");
    }
}
