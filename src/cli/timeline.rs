//! `flagtop timeline --since 2h [--flag KEY] [--env ENV] [--format md|json]`: the incident
//! record of a window, read from the audit trail (paged back, bounded) and the approval queue,
//! rendered by `wire::timeline`. The window ends at the control plane's clock.

use super::Cli;
use super::session::connect;
use crate::domain::{EnvKey, FlagKey};
use crate::exit::{self, UsageError};
use crate::wire::timeline::{MAX_EVENTS, Window, build, to_json, to_markdown};
use clap::{Args, ValueEnum};
use color_eyre::eyre::{Result, eyre};

/// The longest window: 30 days.
pub const MAX_SINCE_SECS: i64 = 30 * 86_400;
const PAGE: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Md,
    Json,
}

#[derive(Args, Debug)]
pub struct TimelineArgs {
    /// How far back: 90s, 10m, 2h, 1d (at most 30d).
    #[arg(long, default_value = "2h")]
    pub since: String,
    #[arg(long)]
    pub flag: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Md)]
    pub format: Format,
}

/// `10m` → 600 seconds; a plain number is seconds.
pub fn parse_since(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().map_err(|_| {
        format!(
            "--since `{}`: a number and a unit, e.g. 10m or 2h",
            crate::sanitize::clean(s, 20)
        )
    })?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "--since: unknown unit `{}`; use s, m, h or d",
                crate::sanitize::clean(unit, 10)
            ));
        }
    };
    let secs = n.saturating_mul(mult);
    if secs <= 0 || secs > MAX_SINCE_SECS {
        return Err("--since must be between 1s and 30d".into());
    }
    Ok(secs)
}

pub async fn run(cli: &Cli, args: &TimelineArgs) -> Result<i32> {
    let secs = parse_since(&args.since).map_err(|e| eyre!(UsageError(e)))?;
    let session = connect(cli, "cli").await?;
    let result = async {
        let snap = session.client.snapshot().await?;
        if let Some(f) = &args.flag
            && !snap.flags.iter().any(|x| x.key.as_str() == f)
        {
            return Err(eyre!(super::fail::NotFound(format!(
                "no flag `{}`",
                crate::sanitize::clean(f, 60)
            ))));
        }
        if let Some(env) = cli.env.as_deref()
            && !snap.environments.iter().any(|e| e.key.as_str() == env)
        {
            return Err(eyre!(super::fail::NotFound(format!(
                "no environment `{}`",
                crate::sanitize::clean(env, 60)
            ))));
        }
        let until = snap.server_time;
        let since = until - chrono::Duration::seconds(secs);
        // Newest first, page by page, until older than the window (or the bound).
        let mut events = Vec::new();
        let mut before = None;
        loop {
            let page = session
                .client
                .audit_page(args.flag.as_deref(), before, PAGE)
                .await?;
            let oldest = page.events.last().map(|e| (e.id.0, e.at));
            let next = page.searched_back_to.or(oldest.map(|o| o.0));
            let done = page.events.is_empty()
                || oldest.is_some_and(|(_, at)| at < since)
                || events.len() + page.events.len() >= MAX_EVENTS;
            events.extend(page.events);
            if done || next.is_none() || next == before {
                break;
            }
            before = next;
        }
        events.truncate(MAX_EVENTS);
        let approvals = session.client.approvals().await?.approvals;
        let window = Window {
            since,
            until,
            flag: args.flag.as_deref().map(FlagKey::from),
            env: cli.env.as_deref().map(EnvKey::from),
        };
        let t = build(&events, &approvals, window);
        match args.format {
            Format::Md => print!("{}", to_markdown(&t)),
            Format::Json => println!(
                "{}",
                crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&to_json(&t))?)
            ),
        }
        Ok::<i32, color_eyre::Report>(exit::OK)
    }
    .await;
    session.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_units_and_is_bounded() {
        assert_eq!(parse_since("10m"), Ok(600));
        assert_eq!(parse_since("2h"), Ok(7200));
        assert_eq!(parse_since("90"), Ok(90));
        assert_eq!(parse_since("30d"), Ok(MAX_SINCE_SECS));
        assert!(parse_since("31d").is_err());
        assert!(parse_since("0m").is_err());
        assert!(parse_since("2w").is_err_and(|e| e.contains("unknown unit")));
        assert!(parse_since("h").is_err());
        assert!(parse_since("99999999999999999999d").is_err());
    }
}
