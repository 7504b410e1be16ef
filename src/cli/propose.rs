//! `flagtop propose VERB … --reason "…" [--reverse "VERB …"] [--evidence …] [--evidence-gap …]`:
//! an operation drafted for a person to decide, in the words of `flagtop act`. It goes through
//! the same door as the MCP `propose` tool (`POST /v1/proposals`), prints the request id (or
//! the outcome as JSON with `--json`), and never applies, approves or retries anything.

use super::Cli;
use super::act::{Verb, build_action};
use super::session::connect;
use crate::domain::{Action, Evidence};
use crate::exit::{self, UsageError};
use crate::mcp::limits::{MAX_EVIDENCE, MAX_PROPOSAL_TEXT};
use crate::sanitize::clean;
use crate::wire::{OutcomeKind, ProposalRequest};
use clap::{Args, Parser};
use color_eyre::eyre::{Result, eyre};

#[derive(Args, Debug)]
#[command(mut_subcommands(propose_help))]
pub struct ProposeArgs {
    #[command(subcommand)]
    pub verb: Verb,
    /// Why (required, shown to whoever decides and recorded in the audit trail).
    #[arg(long, global = true)]
    pub reason: Option<String>,
    /// The operation that undoes it, in the same words, e.g. "restore checkout-v2 eu-west".
    /// The control plane checks it is the reverse it computes; omit it to use that one.
    #[arg(long, global = true, value_name = "VERB …")]
    pub reverse: Option<String>,
    /// A guardrail fact (repeatable): metric=NAME,cohort=C,candidate=X,baseline=Y,
    /// threshold=Z,samples=N,window=SECS,status=S — or the same as a JSON object.
    #[arg(long, global = true, value_name = "FACT")]
    pub evidence: Vec<String>,
    /// What the evidence does not show (e.g. "no data for the last 5 minutes").
    #[arg(long, global = true)]
    pub evidence_gap: Option<String>,
    /// Print the outcome as JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Each verb's help under `propose`, which asks for the change instead of making it (the
/// verbs' own help is written for `act`).
const PROPOSE_HELP: [(&str, &str); 14] = [
    (
        "set-percent",
        "Propose setting a cohort's share of the candidate to PERCENT (0–100)",
    ),
    (
        "rollback",
        "Propose a narrowed rollback: one cohort back to the fallthrough",
    ),
    (
        "restore",
        "Propose giving a rolled-back cohort the candidate again",
    ),
    (
        "advance",
        "Propose moving the ladder to its next stage (or to exactly `--exposure`)",
    ),
    (
        "retreat",
        "Propose moving the ladder back a stage (or to exactly `--exposure`)",
    ),
    ("pause", "Propose pausing the ladder"),
    ("resume", "Propose resuming a paused ladder"),
    (
        "kill",
        "Propose the kill switch: everybody gets the fallthrough in this environment",
    ),
    ("revive", "Propose lifting the kill switch"),
    (
        "archive",
        "Propose retiring a flag that serves one variation everywhere",
    ),
    (
        "unarchive",
        "Propose bringing an archived flag back under control",
    ),
    (
        "freeze",
        "Propose freezing the environment's automatic advances",
    ),
    ("unfreeze", "Propose unfreezing the environment"),
    (
        "undo",
        "Propose the stored reverse of an audit entry (a person decides it)",
    ),
];

/// Rewrites a verb's help for `propose` (clap calls it for every verb).
fn propose_help(verb: clap::Command) -> clap::Command {
    match PROPOSE_HELP
        .iter()
        .find(|(name, _)| verb.get_name() == *name)
    {
        Some((_, about)) => verb.about(*about).long_about(None),
        None => verb,
    }
}

/// `--reverse` parsed with the grammar of `flagtop act`.
#[derive(Parser, Debug)]
#[command(
    name = "--reverse",
    no_binary_name = true,
    disable_help_subcommand = true
)]
struct ReverseLine {
    #[command(subcommand)]
    verb: Verb,
}

fn usage(msg: String) -> color_eyre::Report {
    eyre!(UsageError(msg))
}

fn bounded(field: &str, s: &str) -> Result<()> {
    let n = s.chars().count();
    if n > MAX_PROPOSAL_TEXT {
        return Err(usage(format!(
            "{field} has {n} characters; at most {MAX_PROPOSAL_TEXT}"
        )));
    }
    Ok(())
}

/// One `--evidence` value: a JSON object, or `key=value` pairs separated by commas.
pub fn parse_evidence(s: &str) -> Result<Evidence> {
    bounded("--evidence", s)?;
    let t = s.trim();
    if t.starts_with('{') {
        return serde_json::from_str(t).map_err(|e| {
            usage(format!(
                "--evidence is not a guardrail fact: {e} (fields: metric, cohort, candidate, baseline, threshold, samples, window_secs, status)"
            ))
        });
    }
    let mut ev = Evidence {
        metric: String::new(),
        cohort: String::new(),
        candidate: None,
        baseline: None,
        threshold: None,
        samples: 0,
        window_secs: 0,
        status: None,
        cohort_value: None,
    };
    let num = |k: &str, v: &str| {
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| {
                usage(format!(
                    "--evidence {k}= wants a number, got `{}`",
                    clean(v, 40)
                ))
            })
    };
    let count = |k: &str, v: &str| {
        v.parse::<u64>().map_err(|_| {
            usage(format!(
                "--evidence {k}= wants a whole number, got `{}`",
                clean(v, 40)
            ))
        })
    };
    for pair in t.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            usage(format!(
                "--evidence wants key=value pairs, got `{}`",
                clean(pair, 60)
            ))
        })?;
        let (k, v) = (k.trim(), v.trim());
        match k {
            "metric" => ev.metric = v.to_string(),
            "cohort" => ev.cohort = v.to_string(),
            "candidate" => ev.candidate = Some(num(k, v)?),
            "baseline" => ev.baseline = Some(num(k, v)?),
            "threshold" => ev.threshold = Some(num(k, v)?),
            "cohort_value" => ev.cohort_value = Some(num(k, v)?),
            "samples" => ev.samples = count(k, v)?,
            "window" | "window_secs" => ev.window_secs = count(k, v)?,
            "status" => ev.status = Some(v.to_string()),
            other => {
                return Err(usage(format!(
                    "--evidence has no field `{}`; known: metric, cohort, candidate, baseline, threshold, cohort_value, samples, window, status",
                    clean(other, 40)
                )));
            }
        }
    }
    if ev.metric.is_empty() {
        return Err(usage("--evidence needs metric=NAME".into()));
    }
    Ok(ev)
}

/// `--reverse "VERB …"` in the grammar of `flagtop act`, in the proposal's environment.
fn parse_reverse(s: &str) -> Result<Verb> {
    bounded("--reverse", s)?;
    let line = ReverseLine::try_parse_from(s.split_whitespace()).map_err(|e| {
        usage(format!(
            "--reverse wants an operation as `flagtop act` takes it (e.g. \"restore checkout-v2 eu-west\"): {}",
            super::fail::clap_message(&e)
        ))
    })?;
    if matches!(line.verb, Verb::Undo { .. }) {
        return Err(usage(
            "--reverse names the operation itself, not `undo AUDIT_ID`".into(),
        ));
    }
    Ok(line.verb)
}

pub async fn run(cli: &Cli, args: &ProposeArgs) -> Result<i32> {
    let reason = args
        .reason
        .clone()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| usage("every proposal needs --reason \"why\"".into()))?;
    bounded("--reason", &reason)?;
    let gap = args
        .evidence_gap
        .as_deref()
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string);
    bounded("--evidence-gap", gap.as_deref().unwrap_or(""))?;
    if args.evidence.len() > MAX_EVIDENCE {
        return Err(usage(format!(
            "at most {MAX_EVIDENCE} --evidence facts, got {}",
            args.evidence.len()
        )));
    }
    let evidence = args
        .evidence
        .iter()
        .map(|e| parse_evidence(e))
        .collect::<Result<Vec<_>>>()?;
    let reverse_verb = args.reverse.as_deref().map(parse_reverse).transpose()?;
    let session = connect(cli, "cli").await?;
    let result = async {
        let action = build_action(cli, &session, &args.verb).await?;
        let reverse: Option<Action> = match &reverse_verb {
            Some(v) => Some(build_action(cli, &session, v).await?),
            None => None,
        };
        let req = ProposalRequest {
            action,
            reverse,
            reason,
            evidence,
            evidence_gap: gap,
        };
        let outcome = match session.client.propose(&req).await {
            Ok(o) => o,
            Err(e) => return Err(super::known::explain(&session, e, &req.action).await),
        };
        if args.json {
            let v = serde_json::to_value(&outcome)?;
            println!(
                "{}",
                crate::sanitize::json_for_terminal(&serde_json::to_string_pretty(&v)?)
            );
            return Ok::<i32, color_eyre::Report>(exit::OK);
        }
        let id = outcome.approval_id.as_ref().map_or("", |a| a.as_str());
        match outcome.outcome {
            OutcomeKind::Requested => println!(
                "proposed: {} (request {id})\nreverse:  {}\nnothing has changed: a person decides. An approver runs: flagtop approvals approve {id} --reason \"…\"\nwithdraw it with: flagtop approvals withdraw {id} --reason \"…\"",
                clean(&outcome.action.describe(), 300),
                clean(&outcome.reverse.describe(), 300),
            ),
            other => println!(
                "{}: {} (request {id})",
                format!("{other:?}").to_lowercase(),
                clean(&outcome.action.describe(), 300)
            ),
        }
        Ok(exit::OK)
    }
    .await;
    session.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_reads_pairs_and_json_and_names_what_is_wrong() {
        let e = parse_evidence("metric=p95,cohort=eu-west,candidate=247,baseline=200,threshold=218,samples=1860,window=300,status=breached").unwrap();
        assert_eq!((e.metric.as_str(), e.cohort.as_str()), ("p95", "eu-west"));
        assert_eq!(
            (e.candidate, e.samples, e.window_secs),
            (Some(247.0), 1860, 300)
        );
        let j = parse_evidence(r#"{"metric":"errors","cohort":"internal","samples":3}"#).unwrap();
        assert_eq!(j.samples, 3);
        let bad = parse_evidence("metric=p95,colour=red")
            .unwrap_err()
            .to_string();
        assert!(bad.contains("`colour`") && bad.contains("known:"), "{bad}");
        assert!(parse_evidence("cohort=x").is_err());
        assert!(parse_evidence("metric=p95,candidate=NaN").is_err());
    }

    /// Every verb's one-line help, under `flagtop act` and `flagtop propose`.
    fn verb_help(command: &str) -> Vec<(String, String)> {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        let cmd = cli.find_subcommand(command).unwrap();
        cmd.get_subcommands()
            .filter(|v| v.get_name() != "help")
            .map(|v| {
                let about = v.get_about().map(|a| a.to_string()).unwrap_or_default();
                (v.get_name().to_string(), about)
            })
            .collect()
    }

    #[test]
    fn each_verb_says_what_it_does_under_act_and_under_propose() {
        let act = verb_help("act");
        let propose = verb_help("propose");
        assert_eq!(act.len(), PROPOSE_HELP.len());
        assert_eq!(propose.len(), PROPOSE_HELP.len());
        for (name, about) in &act {
            assert!(!about.is_empty(), "act {name} has no help");
            assert!(!about.starts_with("Propose"), "act {name}: {about}");
        }
        for (name, about) in &propose {
            assert!(about.starts_with("Propose"), "propose {name}: {about}");
        }
        let undo = |v: &[(String, String)]| v.iter().find(|(n, _)| n == "undo").cloned();
        assert!(undo(&act).is_some_and(|(_, a)| a.starts_with("Apply the stored reverse")));
        assert!(undo(&propose).is_some_and(|(_, a)| !a.contains("Apply")));
    }

    #[test]
    fn reverse_uses_the_act_grammar() {
        assert!(matches!(
            parse_reverse("restore checkout-v2 eu-west").unwrap(),
            Verb::Restore { .. }
        ));
        let e = parse_reverse("restore checkout-v2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--reverse wants"), "{e}");
        assert!(parse_reverse("undo 4").is_err());
    }
}
