//! Owns the per-pane view state: what each pane has selected (by key, never by bare index), its
//! filter and order. Plain data kept in step by `update`; it must not read the control-plane
//! data on its own or draw.

use crate::domain::guardrail::SeriesKey;
use crate::domain::{
    ApprovalId, AuditId, CohortName, FlagKey, GuardrailStatus, LifecycleRules, LifecycleStage,
};
use std::collections::HashMap;

/// A selection by key. `row` is where the key sits in the pane's list; `update` keeps it in
/// step whenever the list changes (`follow`), so views read `row` without searching. A key of
/// `None` means "the first row", whatever is there (the Activity pane follows the newest entry
/// that way).
#[derive(Debug, Clone, PartialEq)]
pub struct Selection<K> {
    key: Option<K>,
    row: usize,
}

impl<K> Default for Selection<K> {
    fn default() -> Self {
        Selection { key: None, row: 0 }
    }
}

impl<K: PartialEq + Clone> Selection<K> {
    pub fn row(&self) -> usize {
        self.row
    }

    pub fn key(&self) -> Option<&K> {
        self.key.as_ref()
    }

    /// Finds the selected key in `keys` (the list as it is now). When it is gone the row stays
    /// where it was (clamped) and selects what is there now.
    pub fn follow(&mut self, keys: &[K]) {
        let Some(k) = &self.key else {
            self.row = 0;
            return;
        };
        if keys.get(self.row) == Some(k) {
            return;
        }
        match keys.iter().position(|x| x == k) {
            Some(i) => self.row = i,
            None => {
                self.row = self.row.min(keys.len().saturating_sub(1));
                self.key = keys.get(self.row).cloned();
            }
        }
    }

    /// Selects the item at `row` of `keys` (clamped).
    pub fn select_row(&mut self, row: usize, keys: &[K]) {
        self.row = row.min(keys.len().saturating_sub(1));
        self.key = keys.get(self.row).cloned();
    }

    /// Back to the first row, following whatever is there.
    pub fn reset(&mut self) {
        *self = Selection::default();
    }
}

/// Orders of the Flags pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// What needs the operator first: breached, warning, insufficient, a paused ladder, a
    /// pending approval, then the rest; by key within each.
    #[default]
    Attention,
    /// Alphabetical by key.
    Key,
    /// Most recently changed first.
    Recent,
}

impl SortBy {
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Attention => SortBy::Key,
            SortBy::Key => SortBy::Recent,
            SortBy::Recent => SortBy::Attention,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Key => "by key",
            SortBy::Attention => "attention first",
            SortBy::Recent => "recent first",
        }
    }
}

/// The Flags pane: filter, order, the rows that pass, the selected flag.
#[derive(Debug, Default)]
pub struct FlagsPane {
    pub filter: String,
    pub sort: SortBy,
    /// Only flags at this lifecycle stage (`:lifecycle ready`); `None`: every stage.
    pub stage: Option<LifecycleStage>,
    /// Archived flags are listed too (`:archived`); hidden by default.
    pub archived: bool,
    /// How many days make "ready for cleanup" and "stale".
    pub rules: LifecycleRules,
    /// Flag keys passing the filter, in `sort` order.
    pub visible: Vec<FlagKey>,
    pub sel: Selection<FlagKey>,
    /// Worst guardrail status per flag in the environment on screen, rebuilt when readings or
    /// the environment change (not on every frame).
    pub worst: HashMap<FlagKey, GuardrailStatus>,
}

/// The Ladder pane: the selected cohort of the selected flag.
#[derive(Debug, Default)]
pub struct LadderPane {
    pub sel: Selection<CohortName>,
}

/// The Guardrails pane: the selected series of the selected flag.
#[derive(Debug, Default)]
pub struct GuardrailsPane {
    pub sel: Selection<SeriesKey>,
}

/// The Approvals pane: the selected request.
#[derive(Debug, Default)]
pub struct ApprovalsPane {
    pub sel: Selection<ApprovalId>,
}

/// The Activity pane: the selected audit entry (`None`: the newest, following new ones).
#[derive(Debug, Default)]
pub struct ActivityPane {
    pub sel: Selection<AuditId>,
}

#[cfg(test)]
mod tests {
    use super::Selection;

    #[test]
    fn a_selection_follows_its_key_and_falls_back_to_its_row() {
        let mut s = Selection::default();
        s.select_row(1, &["a", "b", "c"]);
        assert_eq!((s.row(), s.key()), (1, Some(&"b")));
        s.follow(&["x", "a", "b", "c"]);
        assert_eq!(s.row(), 2, "the key moved down with an insert above it");
        s.follow(&["x", "a"]);
        assert_eq!(
            (s.row(), s.key()),
            (1, Some(&"a")),
            "gone: the row stays (clamped) and selects what is there"
        );
        s.follow(&[]);
        assert_eq!((s.row(), s.key()), (0, None));
        s.reset();
        s.follow(&["n", "m"]);
        assert_eq!(
            (s.row(), s.key()),
            (0, None),
            "no key: the first row, whatever is there"
        );
    }
}
