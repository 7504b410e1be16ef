//! Owns the TUI's state: `Data` (what the control plane said), one small state per pane
//! (selection by key, filter, order), the open dialog, the status line, and what the operator
//! looks at (environment, focus, zoom). It must not do I/O, read clocks or draw. `update` is the
//! only writer; loop concerns (redraw, quit, pacing) live in the loop, not here.

mod data;
mod incident;
mod panes;
mod query;

pub use super::pane::Pane;
pub use data::{AUDIT_KEEP, Conn, Data, failing};
pub use incident::Breach;
pub use panes::{
    ActivityPane, ApprovalsPane, FlagsPane, GuardrailsPane, LadderPane, Selection, SortBy,
};

use super::dialog::Dialog;
use super::keymap::Keymap;
use super::keys::KeyPress;
use crate::client::Clean;
use crate::domain::guardrail::SeriesKey;
use crate::domain::{
    ApprovalRequest, ApprovalState, AuditEvent, AuditId, Cohort, EnvKey, Flag, FlagEnv, FlagKey,
    GuardrailStatus, Role,
};
use crate::tui::readings::series;
use crate::wire::{GuardrailReading, Snapshot};
use chrono::{DateTime, Utc};

/// Data older than this shows its age in pane titles.
pub const AGE_SHOWN_AFTER_SECS: i64 = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    pub text: String,
    pub error: bool,
}

#[derive(Debug)]
pub struct Model {
    pub data: Data,
    pub env: EnvKey,
    pub focus: Pane,
    /// The focused pane fills the screen (`z`).
    pub zoom: bool,
    pub flags: FlagsPane,
    pub ladder: LadderPane,
    pub guardrails: GuardrailsPane,
    pub approvals: ApprovalsPane,
    pub activity: ActivityPane,
    pub dialog: Option<Dialog>,
    pub status: Option<StatusLine>,
    /// Wall clock as last told by a Tick.
    pub now: DateTime<Utc>,
    /// Audit id of this operator's last applied action in this session.
    pub own_last: Option<AuditId>,
    /// Rows of the flags list that fit on screen (set on Resize; used by PgUp/PgDn).
    pub page: usize,
    /// The loaded keymap (help, footer hints and key lookup come from it).
    pub keymap: Keymap,
    /// Keys typed so far of a multi-key sequence (`g` of `g g`), shown in the footer.
    pub pending_keys: Vec<KeyPress>,
    /// Ring the bell on a new breach or a new request this user may approve (config `bell`).
    pub bell: bool,
    /// The breaches already announced by the bell (flag, env, cohort, metric).
    pub rung: Vec<(FlagKey, EnvKey, String, String)>,
    /// The pending requests already announced by the bell (the ones this user may approve).
    pub rung_requests: Vec<crate::domain::ApprovalId>,
}

impl Model {
    pub fn new(
        snap: Clean<Snapshot>,
        backend_label: &str,
        initial_env: Option<&str>,
        keymap: Keymap,
        now: DateTime<Utc>,
    ) -> Model {
        let env = initial_env
            .and_then(|e| snap.environments.iter().find(|x| x.key.as_str() == e))
            .or_else(|| snap.environments.iter().find(|x| x.protected))
            .or_else(|| snap.environments.first())
            .map(|e| e.key.clone())
            .unwrap_or_else(|| EnvKey::from(""));
        let mut m = Model {
            // The label comes from the command line or config: inert like the data.
            data: Data::new(
                snap,
                crate::sanitize::sanitize(backend_label).into_owned(),
                now,
            ),
            env,
            focus: Pane::Flags,
            zoom: false,
            flags: FlagsPane::default(),
            ladder: LadderPane::default(),
            guardrails: GuardrailsPane::default(),
            approvals: ApprovalsPane::default(),
            activity: ActivityPane::default(),
            dialog: None,
            status: None,
            now,
            own_last: None,
            page: 10,
            keymap,
            pending_keys: Vec::new(),
            bell: false,
            rung: Vec::new(),
            rung_requests: Vec::new(),
        };
        m.data_changed(true);
        m
    }

    /// After the data changed: the environment still exists, the worst statuses, the visible
    /// flags (when `rows` may have changed) and every pane's selection follow.
    pub fn data_changed(&mut self, rows: bool) {
        if self.data.state.environment(&self.env).is_none()
            && let Some(e) = self.data.state.environments.first()
        {
            self.env = e.key.clone();
        }
        self.reindex_worst();
        // Pending requests first, oldest first; decided ones below, newest decision first.
        self.data.approvals.sort_by(|a, b| {
            let pa = a.state != ApprovalState::Pending;
            let pb = b.state != ApprovalState::Pending;
            pa.cmp(&pb).then_with(|| {
                if pa {
                    b.decided_at.cmp(&a.decided_at)
                } else {
                    a.created_at.cmp(&b.created_at)
                }
            })
        });
        if rows {
            self.refilter();
        }
        self.follow();
    }

    /// Switch environment (statuses and, when sorted by health, the order follow it).
    pub fn set_env(&mut self, env: EnvKey) {
        self.env = env;
        self.reindex_worst();
        self.refilter();
    }

    pub fn reindex_worst(&mut self) {
        let worst = &mut self.flags.worst;
        worst.clear();
        for r in self.data.guardrails.iter().filter(|r| r.env == self.env) {
            let w = worst.entry(r.flag.clone()).or_insert(r.status);
            if r.status.severity() > w.severity() {
                *w = r.status;
            }
        }
    }

    /// Recomputes the visible flag list from the filter and sort; the selected flag stays
    /// selected when it still passes.
    pub fn refilter(&mut self) {
        let needle = self.flags.filter.to_lowercase();
        let mut flags: Vec<&Flag> = self
            .data
            .state
            .flags
            .values()
            .map(|f| &**f)
            .filter(|f| {
                let stage = self.flags.stage;
                let at = stage.map(|st| self.stage_of(f) == st);
                at.unwrap_or(self.flags.archived || !f.archived)
            })
            .filter(|f| {
                needle.is_empty()
                    || f.key.to_lowercase().contains(&needle)
                    || f.owner.to_lowercase().contains(&needle)
            })
            .collect();
        match self.flags.sort {
            SortBy::Key => {}
            SortBy::Recent => flags.sort_by_key(|f| std::cmp::Reverse(f.revision)),
            SortBy::Attention => {
                // Stable: ties keep key order.
                let worst = &self.flags.worst;
                let pending: std::collections::HashSet<&FlagKey> = self
                    .data
                    .approvals
                    .iter()
                    .filter(|a| a.state == ApprovalState::Pending)
                    .filter_map(|a| a.action.flag())
                    .collect();
                let env = &self.env;
                flags.sort_by_key(|f| match worst.get(&f.key) {
                    Some(GuardrailStatus::Breached) => 0u8,
                    Some(GuardrailStatus::Warning) => 1,
                    Some(GuardrailStatus::Insufficient) => 2,
                    _ if f
                        .env(env)
                        .and_then(|e| e.ladder.as_ref())
                        .is_some_and(|l| l.state == crate::domain::LadderState::Paused) =>
                    {
                        3
                    }
                    _ if pending.contains(&f.key) => 4,
                    _ => 5,
                });
            }
        }
        self.flags.visible = flags.into_iter().map(|f| f.key.clone()).collect();
        self.follow();
    }

    /// Every pane's selection finds its key again in its list as it is now.
    pub fn follow(&mut self) {
        let p = &mut self.flags;
        p.sel.follow(&p.visible);
        if p.sel.key().is_none() {
            // The flag on the first row is selected by key from now on.
            p.sel.select_row(0, &p.visible);
        }
        let cohorts: Vec<_> = self.cohorts().iter().map(|c| c.name.clone()).collect();
        self.ladder.sel.follow(&cohorts);
        let keys: Vec<SeriesKey> = self.flag_guardrails().into_iter().map(series).collect();
        self.guardrails.sel.follow(&keys);
        let ids: Vec<_> = self.data.approvals.iter().map(|a| a.id.clone()).collect();
        self.approvals.sel.follow(&ids);
        let ids: Vec<_> = self.data.audit.iter().map(|e| e.id).collect();
        self.activity.sel.follow(&ids);
    }

    pub fn set_status(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(StatusLine {
            text: text.into(),
            error,
        });
    }

    /// Moves the focused pane's selection by `delta` rows (clamped).
    pub fn move_selection(&mut self, delta: isize) {
        let step = |cur: usize, len: usize| -> usize {
            if len == 0 {
                return 0;
            }
            (cur as isize)
                .saturating_add(delta)
                .clamp(0, len as isize - 1) as usize
        };
        match self.focus {
            Pane::Flags => {
                let before = self.flags.sel.row();
                let row = step(before, self.flags.visible.len());
                self.flags.sel.select_row(row, &self.flags.visible);
                if row != before {
                    self.ladder.sel.reset();
                    self.guardrails.sel.reset();
                    self.follow();
                }
            }
            Pane::Ladder => {
                let cohorts: Vec<_> = self.cohorts().iter().map(|c| c.name.clone()).collect();
                let row = step(self.ladder.sel.row(), cohorts.len());
                self.ladder.sel.select_row(row, &cohorts);
            }
            Pane::Guardrails => {
                let keys: Vec<SeriesKey> = self.flag_guardrails().into_iter().map(series).collect();
                let row = step(self.guardrails.sel.row(), keys.len());
                self.guardrails.sel.select_row(row, &keys);
            }
            Pane::Approvals => {
                let ids: Vec<_> = self.data.approvals.iter().map(|a| a.id.clone()).collect();
                let row = step(self.approvals.sel.row(), ids.len());
                self.approvals.sel.select_row(row, &ids);
            }
            Pane::Activity => {
                let ids: Vec<_> = self.data.audit.iter().map(|e| e.id).collect();
                let row = step(self.activity.sel.row(), ids.len());
                // On the top row the cursor follows the newest entry as new ones arrive.
                if row == 0 {
                    self.activity.sel.reset()
                } else {
                    self.activity.sel.select_row(row, &ids)
                }
            }
        }
    }

    /// Selects the flag `key` (with its first cohort and series); false when it is not visible.
    pub fn select_flag(&mut self, key: &str) -> bool {
        let Some(i) = self.flags.visible.iter().position(|k| k.as_str() == key) else {
            return false;
        };
        self.flags.sel.select_row(i, &self.flags.visible);
        self.ladder.sel.reset();
        self.guardrails.sel.reset();
        self.follow();
        true
    }

    /// Selects the cohort `name` of the selected flag; false when it has none by that name.
    pub fn select_cohort(&mut self, name: &str) -> bool {
        let cohorts: Vec<_> = self.cohorts().iter().map(|c| c.name.clone()).collect();
        let Some(i) = cohorts.iter().position(|c| c.as_str() == name) else {
            return false;
        };
        self.ladder.sel.select_row(i, &cohorts);
        true
    }
}
