//! Owns "is this name known?" for the client commands: a flag, an environment or a cohort
//! named on the command line is looked up in the control plane's snapshot, and an unknown one
//! (after the control plane refused it as not found) is a `NotFound` (exit 5) that names it and the names that exist (a bounded list, near
//! matches first). It must not print or change anything.

use super::fail::NotFound;
use crate::client::ClientError;
use crate::domain::Action;
use crate::sanitize::clean;
use crate::wire::Snapshot;
use color_eyre::eyre::{Result, eyre};

/// Most names listed after "known:" (the rest are counted).
pub const MAX_LISTED: usize = 10;
/// Longest name echoed back.
const MAX_NAME: usize = 60;

/// "a, b, c and 12 more": names that look like `wanted` first, then the rest in order.
pub fn listing<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> String {
    let mut all: Vec<&str> = names.collect();
    all.sort_unstable();
    all.dedup();
    if all.is_empty() {
        return "none".into();
    }
    let w = wanted.to_lowercase();
    let stem: String = w.chars().take(3).collect();
    let near = |n: &str| {
        let n = n.to_lowercase();
        !w.is_empty()
            && (n.contains(&w) || w.contains(&n) || (!stem.is_empty() && n.starts_with(&stem)))
    };
    let (mut first, rest): (Vec<&str>, Vec<&str>) = all.iter().partition(|n| near(n));
    first.extend(rest);
    let shown: Vec<String> = first
        .iter()
        .take(MAX_LISTED)
        .map(|n| clean(n, MAX_NAME))
        .collect();
    let more = first.len().saturating_sub(MAX_LISTED);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn unknown(what: &str, name: &str, known: String) -> color_eyre::Report {
    eyre!(NotFound(format!(
        "no {what} `{}`; known: {known}",
        clean(name, MAX_NAME)
    )))
}

pub fn env(snap: &Snapshot, env: &str) -> Result<()> {
    if snap.environments.iter().any(|e| e.key.as_str() == env) {
        return Ok(());
    }
    Err(unknown(
        "environment",
        env,
        listing(env, snap.environments.iter().map(|e| e.key.as_str())),
    ))
}

pub fn flag(snap: &Snapshot, flag: &str) -> Result<()> {
    if snap.flags.iter().any(|f| f.key.as_str() == flag) {
        return Ok(());
    }
    Err(unknown(
        "flag",
        flag,
        listing(flag, snap.flags.iter().map(|f| f.key.as_str())),
    ))
}

/// A refusal of `action`: when the control plane did not find something it names (404),
/// the names that exist, from a fresh snapshot (exit 5 either way); else the error as it came.
/// Looked up only after a refusal, so a good request costs no extra round trip.
pub async fn explain(
    session: &super::Session,
    e: ClientError,
    action: &Action,
) -> color_eyre::Report {
    if matches!(e, ClientError::Api { status: 404, .. })
        && let Ok(snap) = session.client.snapshot().await
        && let Err(named) = self::action(&snap, action)
    {
        return named;
    }
    e.into()
}

/// Every name the action uses: its environment, its flag (in that environment), its cohort.
pub fn action(snap: &Snapshot, a: &Action) -> Result<()> {
    env(snap, a.env().as_str())?;
    let Some(key) = a.flag() else { return Ok(()) };
    flag(snap, key.as_str())?;
    let Some(f) = snap.flags.iter().find(|f| &f.key == key) else {
        return Ok(());
    };
    let Some(fe) = f.env(a.env().as_str()) else {
        return Err(eyre!(NotFound(format!(
            "flag `{}` is not defined in environment `{}`; it is in: {}",
            clean(key.as_str(), MAX_NAME),
            clean(a.env().as_str(), MAX_NAME),
            listing(a.env().as_str(), f.environments.keys().map(|k| k.as_str()))
        ))));
    };
    if let Some(c) = a.cohort()
        && fe.cohort(c.as_str()).is_none()
    {
        return Err(eyre!(NotFound(format!(
            "no cohort `{}` of `{}` in `{}`; known: {}",
            clean(c.as_str(), MAX_NAME),
            clean(key.as_str(), MAX_NAME),
            clean(a.env().as_str(), MAX_NAME),
            listing(c.as_str(), fe.cohorts.iter().map(|c| c.name.as_str()))
        ))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_is_bounded_and_near_matches_come_first() {
        let names: Vec<String> = (0..30).map(|i| format!("flag-{i:02}")).collect();
        let l = listing("zzz", names.iter().map(String::as_str));
        assert!(l.ends_with("and 20 more"), "{l}");
        assert!(l.starts_with("flag-00, flag-01"), "{l}");
        let l = listing("checkout", ["alpha", "beta", "checkout-v2"].into_iter());
        assert!(l.starts_with("checkout-v2, alpha"), "{l}");
        assert_eq!(listing("x", std::iter::empty()), "none");
    }
}
