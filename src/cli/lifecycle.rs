//! `flagtop lifecycle [--json] [--fail-on STAGE,…]`: every flag's computed lifecycle stage for
//! scripts and CI pipelines; exit 9 (`exit::CHECK_FAILED`) when a flag stands in a `--fail-on`
//! stage. Renders through `status::lifecycle`; it must not compute stages itself.

use super::Cli;
use super::session::connect;
use crate::domain::lifecycle::{MAX_RULE_DAYS, Rules, Stage};
use crate::exit::{self, UsageError};
use crate::status::lifecycle::{count_in, to_json, to_text};
use clap::Args;
use color_eyre::eyre::{Result, eyre};

#[derive(Args, Debug)]
pub struct LifecycleArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 9 when any flag stands in one of these stages (comma-separated), e.g. `stale` or
    /// `stale,ready`.
    #[arg(long, value_name = "STAGE,…")]
    pub fail_on: Option<String>,
    /// Released this many days: ready for cleanup (default: the control plane's
    /// `[lifecycle] ready_after_days`, else 14).
    #[arg(long, value_name = "DAYS")]
    pub ready_after_days: Option<u32>,
    /// Partly exposed and unchanged this many days: stale (default: the control plane's
    /// `[lifecycle] stale_after_days`, else 30).
    #[arg(long, value_name = "DAYS")]
    pub stale_after_days: Option<u32>,
}

fn parse_stages(list: &str) -> Result<Vec<Stage>> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .take(Stage::ALL.len() + 1)
        .map(|s| {
            Stage::parse(s).ok_or_else(|| {
                let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
                eyre!(UsageError(format!(
                    "--fail-on: unknown stage `{}`; one of {}",
                    crate::sanitize::clean(s, 40),
                    names.join(", ")
                )))
            })
        })
        .collect()
}

pub async fn run(cli: &Cli, args: &LifecycleArgs) -> Result<i32> {
    let fail_on = args.fail_on.as_deref().map(parse_stages).transpose()?;
    let too_many = |d: Option<u32>| d.is_some_and(|d| d > MAX_RULE_DAYS);
    if too_many(args.ready_after_days) || too_many(args.stale_after_days) {
        return Err(eyre!(UsageError(format!(
            "--ready-after-days and --stale-after-days are at most {MAX_RULE_DAYS}"
        ))));
    }
    let session = connect(cli, "cli").await?;
    let snap = session.client.snapshot().await;
    session.close().await;
    let snap = snap?;
    // The control plane's rules (its `config.toml`), each overridden by its flag.
    let from = snap.lifecycle_rules.bounded();
    let rules = Rules {
        ready_after_days: args.ready_after_days.unwrap_or(from.ready_after_days),
        stale_after_days: args.stale_after_days.unwrap_or(from.stale_after_days),
    };
    if args.json {
        let v = to_json(&snap, &rules);
        println!(
            "{}",
            crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&v)?)
        );
    } else {
        print!("{}", to_text(&snap, &rules));
    }
    let failing = fail_on.map_or(0, |stages| count_in(&snap, &rules, &stages));
    if failing > 0 {
        if !args.json {
            eprintln!("flagtop: {failing} flag(s) in a --fail-on stage");
        }
        return Ok(exit::CHECK_FAILED);
    }
    Ok(if snap.flag_store_error.is_some() {
        exit::UNREACHABLE
    } else {
        exit::OK
    })
}
