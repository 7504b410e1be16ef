//! Outgoing webhooks: what a hook is (name, URL, the events it wants, which environments and
//! flags, the NAME of the environment variable that holds its secret, the body format) and
//! the events it can be told about. Which events an audit event is: `domain::hook_events`.
//! Pure: no I/O. The URL is checked where a definition enters
//! (`control::definitions::check_webhook`); delivery lives in `control::webhooks`.

use super::ids::{EnvKey, FlagKey};
use serde::{Deserialize, Serialize};

/// Hooks a control plane holds at most.
pub const MAX_HOOKS: usize = 20;
/// A hook's URL, in bytes.
pub const MAX_URL: usize = 2000;
/// Environments or flags one hook may name.
pub const MAX_HOOK_FILTERS: usize = 100;

/// One outgoing webhook, as `[[webhooks]]` in `flagtop apply -f` and `PUT /v1/webhooks/{name}`
/// define it. It holds no secret: `secret_env` names the control plane's environment variable
/// that does, read when a body is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub name: String,
    pub url: String,
    pub events: Vec<HookEvent>,
    /// Only these environments (none: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<EnvKey>,
    /// Only these flags (none: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<FlagKey>,
    /// The environment variable of the control plane that holds the signing secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub format: HookFormat,
}

/// The body a hook is sent: flagtop's JSON, or Slack's (and Teams') `{"text": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HookFormat {
    #[default]
    Json,
    Slack,
}

/// What a hook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookEvent {
    RequestCreated,
    RequestApproved,
    RequestRejected,
    RequestExpired,
    /// A pending request whose flag changed since it was made (approving it would conflict).
    RequestOutdated,
    /// The safeguards answered a breached guardrail (a pause or a narrowed rollback applied).
    Breach,
    LadderPaused,
    LadderAdvanced,
    LadderCompleted,
    Kill,
    Freeze,
    EvidenceRecovered,
    EvidenceNotRecovered,
}

impl HookEvent {
    pub const ALL: [HookEvent; 13] = [
        HookEvent::RequestCreated,
        HookEvent::RequestApproved,
        HookEvent::RequestRejected,
        HookEvent::RequestExpired,
        HookEvent::RequestOutdated,
        HookEvent::Breach,
        HookEvent::LadderPaused,
        HookEvent::LadderAdvanced,
        HookEvent::LadderCompleted,
        HookEvent::Kill,
        HookEvent::Freeze,
        HookEvent::EvidenceRecovered,
        HookEvent::EvidenceNotRecovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::RequestCreated => "request_created",
            HookEvent::RequestApproved => "request_approved",
            HookEvent::RequestRejected => "request_rejected",
            HookEvent::RequestExpired => "request_expired",
            HookEvent::RequestOutdated => "request_outdated",
            HookEvent::Breach => "breach",
            HookEvent::LadderPaused => "ladder_paused",
            HookEvent::LadderAdvanced => "ladder_advanced",
            HookEvent::LadderCompleted => "ladder_completed",
            HookEvent::Kill => "kill",
            HookEvent::Freeze => "freeze",
            HookEvent::EvidenceRecovered => "evidence_recovered",
            HookEvent::EvidenceNotRecovered => "evidence_not_recovered",
        }
    }
}

impl Webhook {
    /// Whether this hook wants `event` about (`flag`, `env`).
    pub fn wants(&self, event: HookEvent, flag: Option<&FlagKey>, env: Option<&EnvKey>) -> bool {
        self.events.contains(&event)
            && (self.flags.is_empty() || flag.is_some_and(|f| self.flags.contains(f)))
            && (self.environments.is_empty() || env.is_some_and(|e| self.environments.contains(e)))
    }

    /// The URL as it may be shown (status, audit, API answers): scheme and host only. The path
    /// and query of an incoming-webhook URL are often its secret (Slack's are).
    pub fn shown_url(&self) -> String {
        shown_url(&self.url)
    }
}

/// `scheme://host[:port]/…` of a URL, never its path, query or user part.
pub fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    let tail = if rest.len() > host.len() { "/…" } else { "" };
    format!("{scheme}://{host}{tail}")
}

#[cfg(test)]
mod tests;
