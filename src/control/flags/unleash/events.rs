//! Unleash's event log, followed by id: paging back to the cursor, leaving out flagtop's own
//! writes (recognised by what was sent) and what is not flag activity (SDK registrations,
//! tokens). Summaries are cleaned where they enter.

use super::{EVENT_PAGE, MAX_EVENT_PAGES, MAX_OWN, OWN_TTL, Unleash, lock, map};
use crate::control::flags::{ExternalEvent, FlagStoreError};
use serde_json::Value;
use std::time::Instant;

/// A write flagtop sent, to recognise its event in Unleash's log.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Own {
    Strategy {
        id: String,
        rollout: Value,
        disabled: bool,
    },
    Env {
        flag: String,
        env: String,
        on: bool,
    },
    /// Archived (`feature-archived`) or revived (`feature-revived`).
    Archive {
        flag: String,
        archived: bool,
    },
}

/// One read of the event log: new events (oldest first, flagtop's own and SDK registrations
/// left out), the newest id seen, and whether the log ran further back than we read (a gap).
#[derive(Debug, Default)]
pub struct EventPage {
    pub events: Vec<ExternalEvent>,
    pub newest: u64,
    pub gap: bool,
    /// A segment was created, changed or deleted: every strategy using it selects differently,
    /// and its event names no feature.
    pub segments_changed: bool,
    /// Features archived or revived (flagtop's own writes included, which `events` leaves out):
    /// read again, since a revived feature comes back with what Unleash made of it.
    pub retired: Vec<String>,
}

/// Unleash event types that are not flag activity (SDK registrations, metrics).
fn is_noise(kind: &str) -> bool {
    kind.starts_with("application-")
        || kind.starts_with("client-")
        || kind.starts_with("api-token-")
        || kind == "user-created"
}

impl Unleash {
    pub(super) fn remember_own(&self, own: Own) {
        let mut q = lock(&self.own);
        while q.len() >= MAX_OWN || q.front().is_some_and(|(at, _)| at.elapsed() > OWN_TTL) {
            q.pop_front();
        }
        q.push_back((Instant::now(), own));
    }

    /// A write that was definitely not applied leaves no event to recognise.
    pub(super) fn forget_own(&self, own: &Own) {
        let mut q = lock(&self.own);
        if let Some(i) = q.iter().rposition(|(_, o)| o == own) {
            q.remove(i);
        }
    }

    /// Whether `e` is the event of a write flagtop made (and forget that write).
    fn is_own(&self, e: &Value) -> bool {
        let kind = e["type"].as_str().unwrap_or("");
        let probe = match kind {
            "feature-strategy-update" => Own::Strategy {
                id: e["data"]["id"].as_str().unwrap_or("").to_string(),
                rollout: e["data"]["parameters"]["rollout"].clone(),
                disabled: e["data"]["disabled"].as_bool().unwrap_or(false),
            },
            "feature-environment-enabled" | "feature-environment-disabled" => Own::Env {
                flag: e["featureName"].as_str().unwrap_or("").to_string(),
                env: e["environment"].as_str().unwrap_or("").to_string(),
                on: kind == "feature-environment-enabled",
            },
            "feature-archived" | "feature-revived" => Own::Archive {
                flag: e["featureName"].as_str().unwrap_or("").to_string(),
                archived: kind == "feature-archived",
            },
            _ => return false,
        };
        let mut q = lock(&self.own);
        match q.iter().position(|(_, o)| *o == probe) {
            Some(i) => {
                q.remove(i);
                true
            }
            None => false,
        }
    }

    /// Events newer than `after`, paging back through the log (newest first) until reaching
    /// `after`, at most `MAX_EVENT_PAGES` pages; `after == 0` reads only where the log stands.
    pub fn events_since(&self, after: u64) -> Result<EventPage, FlagStoreError> {
        let mut page = EventPage {
            newest: after,
            ..EventPage::default()
        };
        let mut raw: Vec<Value> = Vec::new();
        let mut reached = false;
        // The newest id in the log itself (first page), to notice a cursor ahead of the log.
        let mut log_newest: Option<u64> = None;
        for n in 0..MAX_EVENT_PAGES {
            let url = format!(
                "{}/api/admin/search/events?limit={EVENT_PAGE}&offset={}",
                self.base,
                n * EVENT_PAGE
            );
            let v = self.get(&url)?;
            let events = v["events"].as_array().cloned().unwrap_or_default();
            let full = events.len() >= EVENT_PAGE;
            if n == 0 {
                log_newest = Some(
                    events
                        .iter()
                        .filter_map(|e| e["id"].as_u64())
                        .max()
                        .unwrap_or(0),
                );
            }
            for e in events {
                match e["id"].as_u64() {
                    Some(id) if id > after => {
                        page.newest = page.newest.max(id);
                        if !raw.iter().any(|r| r["id"].as_u64() == Some(id)) {
                            raw.push(e);
                        }
                    }
                    Some(_) => reached = true,
                    None => {}
                }
            }
            if reached || !full || after == 0 {
                reached = true;
                break;
            }
        }
        page.gap = !reached;
        if let Some(top) = log_newest.filter(|top| after > 0 && *top < after) {
            // The cursor is ahead of the log: Unleash's database was replaced or restored. Read
            // everything again and follow the log from where it stands now.
            tracing::warn!(
                cursor = after,
                log = top,
                "the Unleash event log is behind flagtop's cursor: reading every feature again"
            );
            page.gap = true;
            page.newest = top;
        }
        if after == 0 {
            return Ok(page);
        }
        raw.sort_by_key(|e| e["id"].as_u64());
        page.segments_changed = raw.iter().any(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("segment-"))
        });
        page.retired = raw
            .iter()
            .filter(|e| {
                matches!(
                    e["type"].as_str(),
                    Some("feature-archived" | "feature-revived")
                )
            })
            .filter_map(|e| e["featureName"].as_str().map(str::to_string))
            .collect();
        page.events = raw
            .iter()
            .filter(|e| !is_noise(e["type"].as_str().unwrap_or("")) && !self.is_own(e))
            .filter_map(|e| {
                Some(ExternalEvent {
                    id: e["id"].as_u64()?,
                    at: e["createdAt"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_default(),
                    actor: crate::sanitize::clean(
                        e["createdBy"].as_str().unwrap_or("unleash"),
                        100,
                    ),
                    flag: e["featureName"]
                        .as_str()
                        .map(|f| crate::sanitize::clean(f, 100)),
                    summary: map::plain(
                        e["summary"]
                            .as_str()
                            .or(e["label"].as_str())
                            .or(e["type"].as_str())
                            .unwrap_or("event"),
                    ),
                })
            })
            .collect();
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sdk_registrations_and_tokens_are_not_flag_activity() {
        for kind in [
            "application-created",
            "client-metrics",
            "api-token-created",
            "user-created",
        ] {
            assert!(is_noise(kind), "{kind}");
        }
        for kind in [
            "feature-strategy-update",
            "feature-environment-disabled",
            "feature-archived",
            "segment-updated",
        ] {
            assert!(!is_noise(kind), "{kind}");
        }
    }

    #[test]
    fn flagtops_own_writes_are_recognised_once_in_the_event_log() {
        crate::app::init_tls();
        let u = Unleash::new("http://127.0.0.1:9", "t").unwrap_or_else(|e| panic!("{e}"));
        u.remember_own(Own::Strategy {
            id: "s1".into(),
            rollout: json!("20"),
            disabled: false,
        });
        u.remember_own(Own::Env {
            flag: "f".into(),
            env: "production".into(),
            on: false,
        });
        let ours = json!({"type": "feature-strategy-update", "data": {"id": "s1", "disabled": false, "parameters": {"rollout": "20"}}});
        let someone = json!({"type": "feature-strategy-update", "data": {"id": "s1", "disabled": false, "parameters": {"rollout": "30"}}});
        assert!(
            !u.is_own(&someone),
            "another value is someone else's change"
        );
        assert!(u.is_own(&ours));
        assert!(
            !u.is_own(&ours),
            "recognised once: the same change again is someone else's"
        );
        assert!(u.is_own(&json!({"type": "feature-environment-disabled", "featureName": "f", "environment": "production"})));
    }
}
