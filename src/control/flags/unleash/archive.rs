//! Unleash's archive as flagtop's archive: archive = `DELETE /api/admin/projects/{p}/features/{f}`
//! (202; Unleash answers 202 again for a flag already archived), unarchive = `POST
//! /api/admin/projects/{p}/revive` with `{"features": [f]}` (Unleash 5+; it answers 200 even for
//! a name it does not hold, so the revive is read back before it is called done). An archived
//! feature's GET answers 404; whether it is archived is read from the feature search with
//! `archived=IS:true` (7.5.1 and 8.2.0; `/api/admin/archive/features` is gone in both). The same
//! search carries each feature's lifecycle stage: the bulk read behind `stages`.

use super::events::Own;
use super::{STORE, Unleash, conflict, seg};
use crate::control::flags::FlagStoreError;
use crate::domain::StoreStage;
use serde_json::{Value, json};

/// Archived features read per search page when looking one up by name.
const SEARCH_PAGE: usize = 50;
/// Features per page, and pages at most, when reading every feature's lifecycle stage.
pub const STAGE_PAGE: usize = 100;
pub const MAX_STAGE_PAGES: usize = 50;

impl Unleash {
    pub(super) fn archive(&self, flag: &str) -> Result<(), FlagStoreError> {
        let own = Own::Archive {
            flag: flag.to_string(),
            archived: true,
        };
        let rb = self.http.delete(self.feature_path(flag));
        self.send_own(own, rb, "archive the flag")
    }

    pub(super) fn revive_archived(&self, flag: &str) -> Result<(), FlagStoreError> {
        let own = Own::Archive {
            flag: flag.to_string(),
            archived: false,
        };
        let url = format!(
            "{}/api/admin/projects/{}/revive",
            self.base,
            seg(&self.project)
        );
        let rb = self.http.post(url).json(&json!({ "features": [flag] }));
        self.send_own(own.clone(), rb, "unarchive the flag")?;
        // A 200 says nothing about a name Unleash does not hold: read it back.
        match self.get_opt(&self.feature_path(flag)) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => {
                self.forget_own(&own);
                Err(conflict(format!(
                    "{flag} is not in Unleash's archive (deleted for good?); nothing was revived"
                )))
            }
            Err(e) => Err(FlagStoreError::Unknown {
                store: STORE,
                detail: format!("revived, but reading {flag} back failed: {e}"),
            }),
        }
    }

    /// Every live feature's lifecycle stage (None: Unleash keeps none for it), from the feature
    /// search — one request per `STAGE_PAGE` features instead of one per feature, at most
    /// `MAX_STAGE_PAGES` pages.
    pub fn stages(&self) -> Result<Vec<(String, Option<StoreStage>)>, FlagStoreError> {
        let mut out = Vec::new();
        for n in 0..MAX_STAGE_PAGES {
            let url = format!(
                "{}/api/admin/search/features?project=IS:{}&limit={STAGE_PAGE}&offset={}",
                self.base,
                seg(&self.project),
                n * STAGE_PAGE
            );
            let v = self.get(&url)?;
            let page = v["features"].as_array().cloned().unwrap_or_default();
            let full = page.len() >= STAGE_PAGE;
            out.extend(page.iter().filter_map(|f| {
                let stage = f["lifecycle"]["stage"].as_str().and_then(StoreStage::parse);
                Some((f["name"].as_str()?.to_string(), stage))
            }));
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// Some(true): archived in Unleash; Some(false): live; None: Unleash holds no such feature.
    pub fn archived_state(&self, flag: &str) -> Result<Option<bool>, FlagStoreError> {
        if let Some(v) = self.get_opt(&self.feature_path(flag))? {
            let archived = v["archived"].as_bool() == Some(true) || v["archivedAt"].is_string();
            return Ok(Some(archived));
        }
        let url = format!(
            "{}/api/admin/search/features?project=IS:{}&archived=IS:true&query={}&limit={SEARCH_PAGE}",
            self.base,
            seg(&self.project),
            seg(flag)
        );
        let v = self.get(&url)?;
        let found = v["features"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f: &Value| f["name"].as_str() == Some(flag));
        Ok(found.then_some(true))
    }
}
