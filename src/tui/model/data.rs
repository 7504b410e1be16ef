//! Owns `Data`: what the control plane said — the state from the last snapshot patched by stream
//! changes, guardrail readings, approvals, audit, who we are, and the connection with its age.
//! Only `Clean` data comes in (every string already inert, see `client::clean`), so what the
//! views print from here needs no cleaning. Merging only; it must not know about panes, selection
//! or the screen, do I/O or read clocks.

use crate::client::Clean;
use crate::domain::{Actor, ApprovalRequest, AuditEvent, EnvKey, Revision, State};
use crate::tui::readings::{is_of, series};
use crate::wire::exposure::{MAX_EXPOSURE_SERIES, Served, served};
use crate::wire::{
    Change, ExposureCount, GuardrailReading, GuardrailUpdate, Snapshot, StoreStatus,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// How many audit events the Activity pane keeps.
pub const AUDIT_KEEP: usize = 500;

/// One exposure series: flag, environment, cohort, variation, candidate or not.
pub type ExposureKey = (String, String, Option<String>, String, bool);

fn exposure_key(e: &ExposureCount) -> ExposureKey {
    (
        e.flag.to_string(),
        e.env.to_string(),
        e.cohort.as_ref().map(|c| c.to_string()),
        e.variation.clone(),
        e.exposed,
    )
}

#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    /// Snapshot loaded, stream not yet confirmed.
    Connecting,
    Live,
    /// The stream is down since `since`.
    Reconnecting {
        since: DateTime<Utc>,
        reason: String,
    },
    /// A request could not reach the control plane (refused, out of file descriptors, timed
    /// out, cut off), whatever the stream says; ends when a request or the stream gets through.
    /// `stream_up`: the stream was live before, so a good answer makes the view live again.
    Unreachable {
        reason: String,
        stream_up: bool,
    },
}

#[derive(Debug)]
pub struct Data {
    /// Where the data comes from: the backend URL, or `demo · simulated traffic`.
    pub backend_label: String,
    pub identity: Actor,
    pub flag_store: String,
    /// An external flag store's sync state.
    pub store: StoreStatus,
    /// Webhooks whose last delivery attempt failed (the header says `⚠ webhook failing`).
    pub webhooks_failing: Vec<String>,
    /// How long applications take to see a change in the external store.
    pub propagation_secs: Option<u32>,
    /// The control plane says its simulator makes up the traffic.
    pub simulated: bool,
    pub revision: Revision,
    pub state: State,
    pub guardrails: Vec<GuardrailReading>,
    pub approvals: Vec<ApprovalRequest>,
    /// Newest first, at most `AUDIT_KEEP`.
    pub audit: Vec<AuditEvent>,
    /// What applications were served, by series (at most `MAX_EXPOSURE_SERIES`), as of
    /// `exposure_at` (the control plane's time when it counted them).
    pub exposure: BTreeMap<ExposureKey, ExposureCount>,
    pub exposure_at: DateTime<Utc>,
    pub conn: Conn,
    /// When data last arrived from the control plane.
    pub data_at: DateTime<Utc>,
}

/// The names of the hooks whose last attempt failed.
pub fn failing(hooks: &[crate::wire::webhook::HookHealth]) -> Vec<String> {
    hooks
        .iter()
        .filter(|h| h.failing)
        .map(|h| h.name.clone())
        .collect()
}

impl Data {
    pub fn new(snap: Clean<Snapshot>, backend_label: String, now: DateTime<Utc>) -> Data {
        let mut d = Data {
            backend_label,
            identity: snap.identity.clone(),
            flag_store: String::new(),
            store: StoreStatus {
                synced_at: None,
                error: None,
            },
            propagation_secs: None,
            webhooks_failing: Vec::new(),
            simulated: false,
            revision: Revision(0),
            state: State::default(),
            guardrails: Vec::new(),
            approvals: Vec::new(),
            audit: Vec::new(),
            exposure: BTreeMap::new(),
            exposure_at: now,
            conn: Conn::Connecting,
            data_at: now,
        };
        d.load_snapshot(snap, now);
        d
    }

    /// Replaces everything with a snapshot.
    pub fn load_snapshot(&mut self, snap: Clean<Snapshot>, now: DateTime<Utc>) {
        let snap = snap.into_inner();
        self.identity = snap.identity;
        self.flag_store = snap.flag_store;
        self.store = StoreStatus {
            synced_at: snap.flag_store_synced_at,
            error: snap.flag_store_error,
        };
        self.propagation_secs = snap.propagation_secs;
        self.webhooks_failing = failing(&snap.webhooks);
        self.simulated = snap.simulated;
        self.revision = snap.revision;
        self.state = State {
            revision: snap.revision,
            environments: snap.environments,
            frozen: snap.frozen,
            env_revisions: BTreeMap::new(),
            flags: snap.flags.into_iter().map(|f| (f.key.clone(), f)).collect(),
            webhooks: Vec::new(),
        };
        self.guardrails = snap.guardrails;
        self.approvals = snap.approvals;
        self.audit = snap.audit;
        self.audit.truncate(AUDIT_KEEP);
        self.exposure.clear();
        self.merge_exposure(snap.exposure);
        self.exposure_at = snap.server_time;
        self.data_at = now;
    }

    /// The header's source: the backend label, and `· simulated traffic` when the control
    /// plane says so and the label does not already (the embedded demo's).
    pub fn source_label(&self, width: usize) -> String {
        let label = crate::tui::text::fit(&self.backend_label, width);
        if self.simulated && !self.backend_label.ends_with(crate::tui::SIMULATED) {
            format!("{label} · {}", crate::tui::SIMULATED)
        } else {
            label
        }
    }

    /// Exposure series as they are now, replacing the same series (bounded).
    fn merge_exposure(&mut self, rows: Vec<ExposureCount>) {
        for e in rows {
            let key = exposure_key(&e);
            if self.exposure.len() < MAX_EXPOSURE_SERIES || self.exposure.contains_key(&key) {
                self.exposure.insert(key, e);
            }
        }
    }

    /// What one cohort (None: the whole flag) of a flag was served in `env`.
    pub fn served(&self, flag: &str, env: &str, cohort: Option<&str>) -> Served {
        served(self.exposure.values(), flag, env, cohort)
    }

    /// Merges a stream change; says whether it brought a flag not seen before.
    pub fn apply_change(&mut self, c: Clean<Change>, now: DateTime<Utc>) -> bool {
        let c = c.into_inner();
        let new_keys = c
            .flags
            .iter()
            .any(|f| !self.state.flags.contains_key(&f.key));
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
        let mut fresh: Vec<AuditEvent> = c
            .audit
            .into_iter()
            .filter(|e| !self.audit.iter().any(|x| x.id == e.id))
            .collect();
        if !fresh.is_empty() {
            fresh.sort_by_key(|e| std::cmp::Reverse(e.id));
            fresh.append(&mut self.audit);
            self.audit = fresh;
            self.audit.truncate(AUDIT_KEEP);
        }
        self.revision = self.revision.max(c.revision);
        self.state.revision = self.revision;
        self.data_at = now;
        new_keys
    }

    /// Merges readings that arrived at `arrived` (by series); says whether one is for `shown`.
    pub fn apply_guardrails(
        &mut self,
        u: Clean<GuardrailUpdate>,
        arrived: DateTime<Utc>,
        shown: &EnvKey,
    ) -> bool {
        let u: GuardrailUpdate = u.into_inner();
        let on_screen = u.readings.iter().any(|r| r.env == *shown)
            || u.exposure.iter().any(|e| e.env == *shown);
        if !u.exposure.is_empty() {
            self.exposure_at = self.exposure_at.max(u.at);
            self.merge_exposure(u.exposure);
        }
        for r in u.readings {
            let key = series(&r);
            match self.guardrails.iter_mut().find(|x| is_of(x, &key)) {
                Some(x) => *x = r,
                None => self.guardrails.push(r),
            }
        }
        self.data_at = self.data_at.max(arrived);
        on_screen
    }
}
