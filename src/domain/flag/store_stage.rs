//! The lifecycle stage an external flag store keeps for a flag (Unleash 7+/8: `initial`,
//! `pre-live`, `live`, `completed`, `archived`), shown beside flagtop's computed stage. Owns the
//! names and what each means in flagtop's words; it must not compute flagtop's stage.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreStage {
    /// Created, not yet seen by any SDK.
    Initial,
    /// Seen in a non-production environment.
    PreLive,
    /// Seen in production.
    Live,
    /// Marked completed in the store (kept or discarded): its cleanup is due.
    Completed,
    Archived,
}

impl StoreStage {
    pub const ALL: [StoreStage; 5] = [
        StoreStage::Initial,
        StoreStage::PreLive,
        StoreStage::Live,
        StoreStage::Completed,
        StoreStage::Archived,
    ];

    /// The store's name (`pre-live`), as in its API and in flagtop's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreStage::Initial => "initial",
            StoreStage::PreLive => "pre-live",
            StoreStage::Live => "live",
            StoreStage::Completed => "completed",
            StoreStage::Archived => "archived",
        }
    }

    /// The store's name, or None for one flagtop does not know (never shown as another).
    pub fn parse(s: &str) -> Option<StoreStage> {
        StoreStage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// flagtop's stage that corresponds (docs/lifecycle.md has the table): `initial` → new,
    /// `pre-live` and `live` → rolling out or released, `completed` → ready for cleanup,
    /// `archived` → archived.
    pub fn means(self) -> &'static str {
        match self {
            StoreStage::Initial => "new",
            StoreStage::PreLive | StoreStage::Live => "rolling out or released",
            StoreStage::Completed => "ready for cleanup",
            StoreStage::Archived => "archived",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_an_unknown_name_is_none() {
        for st in StoreStage::ALL {
            assert_eq!(StoreStage::parse(st.as_str()), Some(st));
            let json = serde_json::to_string(&st).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
        }
        assert_eq!(StoreStage::parse("released"), None);
        assert_eq!(StoreStage::Completed.means(), "ready for cleanup");
    }
}
