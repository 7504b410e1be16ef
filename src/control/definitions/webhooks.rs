//! A webhook definition's checks: a name, an http(s) URL with a host and no user part, known
//! environments and flags, events, and where its secret comes from. The secret itself is
//! never handed in: `secret_env` names the control plane's environment variable holding it.

use super::invalid;
use crate::control::error::{ErrorKind, ServiceError};
use crate::domain::ids::valid_key;
use crate::domain::webhook::{MAX_HOOK_FILTERS, MAX_HOOKS, MAX_URL};
use crate::domain::{HookFormat, State, Webhook};
use crate::sanitize::clean;

/// A signing secret is at least this long (bytes), so that it cannot be guessed.
pub const MIN_SECRET: usize = 16;
/// An environment variable name, in bytes.
pub const MAX_SECRET_ENV: usize = 100;

/// Check `hook` against the live state (environments, flags, how many hooks exist).
/// `secret` looks an environment variable up (the process's own in production).
pub fn check_webhook(
    hook: &Webhook,
    state: &State,
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ServiceError> {
    let name = &hook.name;
    if !valid_key(name) {
        return Err(ServiceError::new(
            ErrorKind::Invalid,
            "invalid_name",
            "webhook names are 1–100 of A–Z a–z 0–9 - _ .",
        ));
    }
    let known = state.webhooks.iter().any(|h| &h.name == name);
    if !known && state.webhooks.len() >= MAX_HOOKS {
        return Err(invalid(format!(
            "at most {MAX_HOOKS} webhooks; remove one before adding `{name}`"
        )));
    }
    check_url(name, &hook.url)?;
    if hook.events.is_empty() {
        return Err(invalid(format!(
            "webhook {name}: `events` is empty; name at least one (see docs/webhooks.md)"
        )));
    }
    if hook.environments.len() > MAX_HOOK_FILTERS || hook.flags.len() > MAX_HOOK_FILTERS {
        return Err(invalid(format!(
            "webhook {name}: at most {MAX_HOOK_FILTERS} `environments` and {MAX_HOOK_FILTERS} `flags`"
        )));
    }
    for e in &hook.environments {
        if state.environment(e).is_none() {
            return Err(ServiceError::new(
                ErrorKind::NotFound,
                "unknown_environment",
                format!("webhook {name}: unknown environment `{}`", clean(e, 100)),
            ));
        }
    }
    for f in &hook.flags {
        if !state.flags.contains_key(f) {
            return Err(ServiceError::new(
                ErrorKind::NotFound,
                "unknown_flag",
                format!("webhook {name}: unknown flag `{}`", clean(f, 100)),
            ));
        }
    }
    match &hook.secret_env {
        None if hook.format == HookFormat::Json => Err(invalid(format!(
            "webhook {name}: a json hook is signed: add secret_env = \"VAR\", the name of the \
             control plane's environment variable holding a secret of {MIN_SECRET}+ bytes"
        ))),
        None => Ok(()),
        Some(var) => {
            let shaped = !var.is_empty()
                && var.len() <= MAX_SECRET_ENV
                && var
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                && !var.as_bytes()[0].is_ascii_digit();
            if !shaped {
                return Err(invalid(format!(
                    "webhook {name}: `secret_env` is the NAME of an environment variable \
                     (A–Z 0–9 _, 1–{MAX_SECRET_ENV}), not the secret itself"
                )));
            }
            match secret(var) {
                Some(s) if s.len() >= MIN_SECRET => Ok(()),
                Some(_) => Err(invalid(format!(
                    "webhook {name}: the secret in ${var} is shorter than {MIN_SECRET} bytes; \
                     make a longer one (e.g. `openssl rand -hex 32`)"
                ))),
                None => Err(invalid(format!(
                    "webhook {name}: the control plane has no environment variable {var}; set it \
                     where `flagtop serve` runs (on every replica), then apply again"
                ))),
            }
        }
    }
}

/// http or https, a host, no user or password, bounded.
fn check_url(name: &str, raw: &str) -> Result<(), ServiceError> {
    let bad = |why: &str| {
        Err(ServiceError::new(
            ErrorKind::Invalid,
            "invalid_url",
            format!("webhook {name}: `url` {why}"),
        ))
    };
    if raw.len() > MAX_URL {
        return bad(&format!("is longer than {MAX_URL} bytes"));
    }
    let Ok(url) = url::Url::parse(raw) else {
        return bad("is not a URL (e.g. https://hooks.example.com/flagtop)");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return bad("must start with http:// or https://");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("needs a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not carry a user or password (user@host); the body is signed instead");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
