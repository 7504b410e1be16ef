//! Questions the views and commands ask the model: what is selected in each pane, the readings
//! of a flag, and what the operator may do. Reads only; `update` stays the only writer.

use super::*;
use crate::domain::{Assessment, LifecycleStage, lifecycle};

impl Model {
    pub fn selected_flag_key(&self) -> Option<&FlagKey> {
        self.flags.visible.get(self.flags.sel.row())
    }

    pub fn selected_flag(&self) -> Option<&Flag> {
        self.selected_flag_key()
            .and_then(|k| self.data.state.flags.get(k))
            .map(|f| &**f)
    }

    /// The selected flag's state in the current environment.
    pub fn flag_env(&self) -> Option<&FlagEnv> {
        self.selected_flag().and_then(|f| f.env(&self.env))
    }

    pub fn cohorts(&self) -> &[Cohort] {
        self.flag_env().map(|e| e.cohorts.as_slice()).unwrap_or(&[])
    }

    pub fn selected_cohort(&self) -> Option<&Cohort> {
        self.cohorts().get(self.ladder.sel.row())
    }

    /// Guardrail readings of the selected flag in the current environment.
    pub fn flag_guardrails(&self) -> Vec<&GuardrailReading> {
        match self.selected_flag_key() {
            Some(k) => self.readings_for(k),
            None => Vec::new(),
        }
    }

    pub fn selected_reading(&self) -> Option<&GuardrailReading> {
        self.flag_guardrails()
            .get(self.guardrails.sel.row())
            .copied()
    }

    pub fn readings_for(&self, flag: &FlagKey) -> Vec<&GuardrailReading> {
        self.data
            .guardrails
            .iter()
            .filter(|r| r.flag == *flag && r.env == self.env)
            .collect()
    }

    pub fn worst_status(&self, flag: &FlagKey) -> Option<GuardrailStatus> {
        self.flags.worst.get(flag).copied()
    }

    pub fn selected_approval(&self) -> Option<&ApprovalRequest> {
        self.data.approvals.get(self.approvals.sel.row())
    }

    pub fn selected_audit(&self) -> Option<&AuditEvent> {
        self.data.audit.get(self.activity.sel.row())
    }

    pub fn pending_for(&self, flag: &FlagKey) -> bool {
        self.data
            .approvals
            .iter()
            .any(|a| a.state == ApprovalState::Pending && a.action.flag() == Some(flag))
    }

    pub fn is_frozen(&self) -> bool {
        self.data.state.is_frozen(&self.env)
    }

    pub fn is_protected(&self) -> bool {
        self.data
            .state
            .environment(&self.env)
            .is_some_and(|e| e.protected)
    }

    pub fn is_live(&self) -> bool {
        self.data.conn == Conn::Live
    }

    /// Seconds since data last arrived.
    pub fn data_age_secs(&self) -> i64 {
        (self.now - self.data.data_at).num_seconds().max(0)
    }

    /// Seconds the stream has been down, if it is.
    pub fn stale_secs(&self) -> Option<i64> {
        match &self.data.conn {
            Conn::Reconnecting { since, .. } => Some((self.now - *since).num_seconds().max(0)),
            _ => None,
        }
    }

    pub fn can_act(&self) -> bool {
        self.data.identity.role.can_act()
    }

    /// A flag's lifecycle at the model's clock under the pane's rules (computed, never stored).
    pub fn assess(&self, f: &Flag) -> Assessment {
        lifecycle::assess(f, &self.flags.rules, self.now)
    }

    pub fn stage_of(&self, f: &Flag) -> LifecycleStage {
        self.assess(f).stage
    }

    pub fn is_agent(&self) -> bool {
        self.data.identity.role == Role::Agent
    }
}
