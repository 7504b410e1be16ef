//! Owns the TUI's state: the last known control-plane data (built from a Snapshot, patched by
//! stream changes), connection state, selection, filter, focus, environment and open dialog.
//! It must not do I/O, read clocks or draw; `update` is the only writer.

use super::dialog::Dialog;
use crate::domain::{
    Actor, ApprovalRequest, ApprovalState, AuditEvent, AuditId, Cohort, EnvKey, Flag, FlagEnv, FlagKey, GuardrailStatus,
    Revision, Role, State,
};
use crate::wire::{Change, GuardrailReading, GuardrailUpdate, Snapshot};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// How many audit events the Activity pane keeps.
pub const AUDIT_KEEP: usize = 500;
/// Data older than this shows its age in pane titles.
pub const AGE_SHOWN_AFTER_SECS: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Flags,
    Ladder,
    Guardrails,
    Approvals,
    Activity,
}

impl Pane {
    pub const ALL: [Pane; 5] = [Pane::Flags, Pane::Ladder, Pane::Guardrails, Pane::Approvals, Pane::Activity];
    pub fn title(self) -> &'static str {
        match self {
            Pane::Flags => "Flags",
            Pane::Ladder => "Ladder",
            Pane::Guardrails => "Guardrails",
            Pane::Approvals => "Approvals",
            Pane::Activity => "Activity",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    /// Snapshot loaded, stream not yet confirmed.
    Connecting,
    Live,
    /// The stream is down since `since`.
    Reconnecting { since: DateTime<Utc>, reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    pub text: String,
    pub error: bool,
}

#[derive(Debug)]
pub struct Model {
    pub backend_label: String,
    pub identity: Actor,
    pub flag_store: String,
    /// An external flag store's sync state and how long applications take to see a change.
    pub store: crate::wire::StoreStatus,
    pub propagation_secs: Option<u32>,
    pub revision: Revision,
    pub state: State,
    pub guardrails: Vec<GuardrailReading>,
    pub approvals: Vec<ApprovalRequest>,
    pub audit: Vec<AuditEvent>,
    pub env: EnvKey,
    pub focus: Pane,
    pub filter: String,
    /// How the Flags pane is ordered (`s` cycles).
    pub sort: SortBy,
    /// Worst guardrail status per flag in the current environment, rebuilt when readings or
    /// the environment change (not on every frame).
    worst: std::collections::HashMap<FlagKey, GuardrailStatus>,
    /// Flag keys passing the filter, in `sort` order.
    pub visible: Vec<FlagKey>,
    pub flag_sel: usize,
    pub cohort_sel: usize,
    pub guard_sel: usize,
    pub approval_sel: usize,
    pub audit_sel: usize,
    pub dialog: Option<Dialog>,
    pub status: Option<StatusLine>,
    pub conn: Conn,
    /// Wall clock as last told by a Tick.
    pub now: DateTime<Utc>,
    /// When data last arrived from the control plane.
    pub data_at: DateTime<Utc>,
    /// Audit id of this operator's last applied action in this session.
    pub own_last: Option<AuditId>,
    /// Something changed since the last draw.
    pub dirty: bool,
    pub quit: bool,
    /// Rows of the flags list that fit on screen (set on Resize; used by PgUp/PgDn).
    pub page: usize,
    /// Effects produced while handling an event that is not a key (drained by `update`).
    pub pending_effects: Vec<super::effect::Effect>,
    /// The loaded keymap (help, footer hints and key lookup come from it).
    pub keymap: super::keymap::Keymap,
    /// Keys typed so far of a multi-key sequence (`g` of `g g`), shown in the footer.
    pub pending_keys: Vec<super::keys::KeyPress>,
    /// The focused pane fills the screen (`z`).
    pub zoom: bool,
}

impl Model {
    pub fn from_snapshot(snap: Snapshot, backend_label: String, initial_env: Option<&str>, now: DateTime<Utc>) -> Model {
        let env = initial_env
            .and_then(|e| snap.environments.iter().find(|x| x.key.as_str() == e))
            .or_else(|| snap.environments.iter().find(|x| x.protected))
            .or_else(|| snap.environments.first())
            .map(|e| e.key.clone())
            .unwrap_or_else(|| EnvKey::from(""));
        let mut m = Model {
            backend_label,
            identity: snap.identity.clone(),
            flag_store: String::new(),
            store: crate::wire::StoreStatus { synced_at: None, error: None },
            propagation_secs: None,
            revision: Revision(0),
            state: State::default(),
            guardrails: Vec::new(),
            approvals: Vec::new(),
            audit: Vec::new(),
            env,
            focus: Pane::Flags,
            filter: String::new(),
            sort: SortBy::Key,
            worst: Default::default(),
            visible: Vec::new(),
            flag_sel: 0,
            cohort_sel: 0,
            guard_sel: 0,
            approval_sel: 0,
            audit_sel: 0,
            dialog: None,
            status: None,
            conn: Conn::Connecting,
            now,
            data_at: now,
            own_last: None,
            dirty: true,
            quit: false,
            page: 10,
            pending_effects: Vec::new(),
            keymap: super::keymap::Keymap::builtin(),
            pending_keys: Vec::new(),
            zoom: false,
        };
        m.load_snapshot(snap, now);
        m
    }

    /// Replaces all data with a snapshot, keeping selection by key where possible.
    pub fn load_snapshot(&mut self, snap: Snapshot, now: DateTime<Utc>) {
        let keep = self.selected_flag_key().cloned();
        self.identity = snap.identity;
        self.flag_store = snap.flag_store;
        self.store = crate::wire::StoreStatus { synced_at: snap.flag_store_synced_at, error: snap.flag_store_error };
        self.propagation_secs = snap.propagation_secs;
        self.revision = snap.revision;
        self.state = State {
            revision: snap.revision,
            environments: snap.environments,
            frozen: snap.frozen,
            env_revisions: BTreeMap::new(),
            flags: snap.flags.into_iter().map(|f| (f.key.clone(), f)).collect(),
        };
        if self.state.environment(&self.env).is_none()
            && let Some(e) = self.state.environments.first()
        {
            self.env = e.key.clone();
        }
        self.guardrails = snap.guardrails;
        self.reindex_worst();
        self.approvals = snap.approvals;
        self.audit = snap.audit;
        self.audit.truncate(AUDIT_KEEP);
        self.data_at = now;
        self.refilter(keep);
        self.clamp();
        self.dirty = true;
    }

    pub fn apply_change(&mut self, c: Change, now: DateTime<Utc>) {
        let keep = self.selected_flag_key().cloned();
        let new_keys = c.flags.iter().any(|f| !self.state.flags.contains_key(&f.key));
        for f in c.flags {
            self.state.flags.insert(f.key.clone(), f);
        }
        if let Some(fr) = c.frozen {
            self.state.frozen = fr;
        }
        for a in c.approvals {
            match self.approvals.iter_mut().find(|x| x.id == a.id) {
                Some(x) => *x = a,
                None => self.approvals.push(a),
            }
        }
        let mut fresh: Vec<AuditEvent> = c.audit.into_iter().filter(|e| !self.audit.iter().any(|x| x.id == e.id)).collect();
        if !fresh.is_empty() {
            fresh.sort_by_key(|e| std::cmp::Reverse(e.id));
            let n = fresh.len();
            fresh.append(&mut self.audit);
            self.audit = fresh;
            self.audit.truncate(AUDIT_KEEP);
            // Keep the Activity cursor on the same entry.
            if self.audit_sel > 0 {
                self.audit_sel = (self.audit_sel + n).min(self.audit.len().saturating_sub(1));
            }
        }
        self.revision = self.revision.max(c.revision);
        self.state.revision = self.revision;
        self.data_at = now;
        if new_keys {
            self.refilter(keep);
        }
        self.clamp();
        self.dirty = true;
    }

    /// Merges readings that arrived at `arrived`; redraws only when one is for the environment
    /// on screen (the others are kept for when the operator switches to theirs).
    pub fn apply_guardrails(&mut self, u: GuardrailUpdate, arrived: DateTime<Utc>) {
        let shown = u.readings.iter().any(|r| r.env == self.env);
        for r in u.readings {
            let same = |x: &GuardrailReading| x.flag == r.flag && x.env == r.env && x.metric == r.metric && x.cohort == r.cohort;
            match self.guardrails.iter_mut().find(|x| same(x)) {
                Some(x) => *x = r,
                None => self.guardrails.push(r),
            }
        }
        self.data_at = self.data_at.max(arrived);
        if !shown {
            return;
        }
        self.reindex_worst();
        if self.sort == SortBy::Health {
            let keep = self.selected_flag_key().cloned();
            self.refilter(keep);
        }
        self.dirty = true;
    }

    /// Switch environment (statuses and, when sorted by health, the order follow it).
    pub fn set_env(&mut self, env: EnvKey) {
        self.env = env;
        self.reindex_worst();
        let keep = self.selected_flag_key().cloned();
        self.refilter(keep);
    }

    pub(crate) fn reindex_worst(&mut self) {
        self.worst.clear();
        for r in self.guardrails.iter().filter(|r| r.env == self.env) {
            let w = self.worst.entry(r.flag.clone()).or_insert(r.status);
            if r.status.severity() > w.severity() {
                *w = r.status;
            }
        }
    }

    /// Recomputes the visible flag list from the filter and sort, keeping `keep` selected if present.
    pub fn refilter(&mut self, keep: Option<FlagKey>) {
        let needle = self.filter.to_lowercase();
        let mut flags: Vec<&crate::domain::Flag> = self
            .state
            .flags
            .values()
            .map(|f| &**f)
            .filter(|f| needle.is_empty() || f.key.to_lowercase().contains(&needle) || f.owner.to_lowercase().contains(&needle))
            .collect();
        match self.sort {
            SortBy::Key => {}
            SortBy::Recent => flags.sort_by_key(|f| std::cmp::Reverse(f.revision)),
            SortBy::Health => {
                // Stable: ties keep key order; flags without guardrails last.
                flags.sort_by_key(|f| std::cmp::Reverse(self.worst.get(&f.key).map_or(0, |s| s.severity() + 1)));
            }
        }
        self.visible = flags.into_iter().map(|f| f.key.clone()).collect();
        if let Some(k) = keep
            && let Some(i) = self.visible.iter().position(|x| *x == k)
        {
            self.flag_sel = i;
        }
        self.clamp();
    }

    pub fn clamp(&mut self) {
        self.flag_sel = self.flag_sel.min(self.visible.len().saturating_sub(1));
        self.cohort_sel = self.cohort_sel.min(self.cohorts().len().saturating_sub(1));
        self.guard_sel = self.guard_sel.min(self.flag_guardrails().len().saturating_sub(1));
        self.approval_sel = self.approval_sel.min(self.approvals.len().saturating_sub(1));
        self.audit_sel = self.audit_sel.min(self.audit.len().saturating_sub(1));
    }

    pub fn selected_flag_key(&self) -> Option<&FlagKey> {
        self.visible.get(self.flag_sel)
    }

    pub fn selected_flag(&self) -> Option<&Flag> {
        self.selected_flag_key().and_then(|k| self.state.flags.get(k)).map(|f| &**f)
    }

    /// The selected flag's state in the current environment.
    pub fn flag_env(&self) -> Option<&FlagEnv> {
        self.selected_flag().and_then(|f| f.env(&self.env))
    }

    pub fn cohorts(&self) -> &[Cohort] {
        self.flag_env().map(|e| e.cohorts.as_slice()).unwrap_or(&[])
    }

    pub fn selected_cohort(&self) -> Option<&Cohort> {
        self.cohorts().get(self.cohort_sel)
    }

    /// Guardrail readings of the selected flag in the current environment.
    pub fn flag_guardrails(&self) -> Vec<&GuardrailReading> {
        match self.selected_flag_key() {
            Some(k) => self.readings_for(k),
            None => Vec::new(),
        }
    }

    pub fn readings_for(&self, flag: &FlagKey) -> Vec<&GuardrailReading> {
        self.guardrails.iter().filter(|r| r.flag == *flag && r.env == self.env).collect()
    }

    pub fn worst_status(&self, flag: &FlagKey) -> Option<GuardrailStatus> {
        self.worst.get(flag).copied()
    }

    pub fn selected_approval(&self) -> Option<&ApprovalRequest> {
        self.approvals.get(self.approval_sel)
    }

    pub fn pending_for(&self, flag: &FlagKey) -> bool {
        self.approvals.iter().any(|a| a.state == ApprovalState::Pending && a.action.flag() == Some(flag))
    }

    pub fn is_frozen(&self) -> bool {
        self.state.is_frozen(&self.env)
    }

    pub fn is_protected(&self) -> bool {
        self.state.environment(&self.env).is_some_and(|e| e.protected)
    }

    pub fn is_live(&self) -> bool {
        self.conn == Conn::Live
    }

    /// Seconds since data last arrived.
    pub fn data_age_secs(&self) -> i64 {
        (self.now - self.data_at).num_seconds().max(0)
    }

    /// Seconds the stream has been down, if it is.
    pub fn stale_secs(&self) -> Option<i64> {
        match &self.conn {
            Conn::Reconnecting { since, .. } => Some((self.now - *since).num_seconds().max(0)),
            _ => None,
        }
    }

    pub fn can_act(&self) -> bool {
        self.identity.role.can_act()
    }

    pub fn is_agent(&self) -> bool {
        self.identity.role == Role::Agent
    }

    pub fn set_status(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(StatusLine { text: text.into(), error });
        self.dirty = true;
    }
}

/// Orders of the Flags pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// Alphabetical by key.
    Key,
    /// Worst guardrail status first (breached, warning, insufficient, healthy, none).
    Health,
    /// Most recently changed first.
    Recent,
}

impl SortBy {
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Key => SortBy::Health,
            SortBy::Health => SortBy::Recent,
            SortBy::Recent => SortBy::Key,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Key => "by key",
            SortBy::Health => "worst first",
            SortBy::Recent => "recent first",
        }
    }
}
