//! Owns how a command's failure reaches its caller: the exit code (README "Exit codes"), a
//! stable error code, and the form — with `--json`, `{"error":{"code","message"}}` on stdout;
//! without, a sentence on stderr. It decides nothing about what failed.

use crate::client::ClientError;
use crate::exit::{self, UsageError};

/// An unknown flag, cohort, environment, request or audit entry named on the command line:
/// exit 5.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

/// The control plane's codes for a name it does not know.
const UNKNOWN_NAMES: [&str; 4] = [
    "unknown_flag",
    "unknown_cohort",
    "unknown_environment",
    "unknown_approval",
];

/// The process exit code for an error (documented in the README).
pub fn exit_code(e: &color_eyre::Report) -> i32 {
    if e.downcast_ref::<UsageError>().is_some() {
        return exit::USAGE;
    }
    if e.downcast_ref::<NotFound>().is_some() {
        return exit::NOT_FOUND;
    }
    match e.downcast_ref::<ClientError>() {
        // A name the control plane does not know is exit 5 whatever the status it came with
        // (an sdk token's environments are checked as a body, 422).
        Some(ClientError::Api { code, .. }) if UNKNOWN_NAMES.contains(&code.as_str()) => {
            exit::NOT_FOUND
        }
        Some(ClientError::Api { status, code, .. }) => match status {
            // The flag store behind the control plane is unreachable: as unreachable as the
            // control plane itself would be, for scripts. An unknown outcome is not that.
            503 if code == "flag_store_unavailable" => exit::UNREACHABLE,
            409 => exit::CONFLICT,
            401 | 403 => exit::DENIED,
            404 => exit::NOT_FOUND,
            400 | 413 | 415 | 422 => exit::INVALID,
            _ => exit::SERVER,
        },
        Some(
            ClientError::Unreachable { .. }
            | ClientError::Timeout { .. }
            | ClientError::Interrupted { .. },
        ) => exit::UNREACHABLE,
        Some(ClientError::Protocol(_)) => exit::SERVER,
        None => exit::FAILURE,
    }
}

/// A stable, machine-readable name for an error: the control plane's own code for its
/// refusals, else `usage`, `not_found`, `unreachable`, `timeout`, `interrupted`, `protocol` or
/// `failure`.
pub fn error_code(e: &color_eyre::Report) -> String {
    if e.downcast_ref::<UsageError>().is_some() {
        return "usage".into();
    }
    if e.downcast_ref::<NotFound>().is_some() {
        return "not_found".into();
    }
    match e.downcast_ref::<ClientError>() {
        Some(c) => crate::sanitize::clean(c.code(), 100),
        None => "failure".into(),
    }
}

/// The error as one JSON line for programs.
pub fn json_error(code: &str, message: &str) -> String {
    serde_json::json!({"error": {"code": code, "message": message}}).to_string()
}

/// Print `e` in the form the caller asked for; returns its exit code.
pub fn report(e: &color_eyre::Report, json: bool) -> i32 {
    let message = crate::sanitize::clean(&format!("{e:#}"), 2000);
    if json {
        // Not `println!`: stdout may be gone (a closed pipe, a dead terminal); the code tells.
        use std::io::Write;
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            json_error(&error_code(e), &message)
        );
    } else {
        crate::app::report_line(&format!("flagtop: {message}"));
    }
    exit_code(e)
}

/// Whether the raw command line asks for JSON (for errors found before it is parsed).
pub fn argv_wants_json<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(args: I) -> bool {
    args.into_iter()
        .take_while(|a| a.as_ref() != "--")
        .any(|a| a.as_ref() == "--json")
}

/// A clap error in one line: what is wrong, without the usage and help lines.
pub fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let words: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let line = words.join(" ");
    let line = line.trim_start_matches("error: ");
    crate::sanitize::clean(
        if line.is_empty() {
            "invalid command line"
        } else {
            line
        },
        500,
    )
}

/// Parse the command line; a usage error with `--json` is JSON on stdout (exit 2), help and
/// version print as usual.
pub fn parse<P: clap::Parser>() -> P {
    match P::try_parse() {
        Ok(p) => p,
        Err(e) => {
            use clap::error::ErrorKind as K;
            let informational = matches!(e.kind(), K::DisplayHelp | K::DisplayVersion)
                || e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand;
            if !informational && argv_wants_json(std::env::args_os()) {
                let message = clap_message(&e);
                println!("{}", json_error("usage", &message));
                std::process::exit(exit::USAGE);
            }
            e.exit()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use color_eyre::eyre::eyre;

    #[test]
    fn codes_follow_the_readme() {
        let usage = eyre!(UsageError("x".into()));
        assert_eq!(
            (exit_code(&usage), error_code(&usage).as_str()),
            (2, "usage")
        );
        let nf = eyre!(NotFound("no flag `x`".into()));
        assert_eq!((exit_code(&nf), error_code(&nf).as_str()), (5, "not_found"));
        let api = eyre!(ClientError::Api {
            status: 409,
            code: "approval_not_pending".into(),
            message: "m".into(),
            current_revision: None,
        })
        .wrap_err("context");
        assert_eq!(exit_code(&api), 3);
        assert_eq!(error_code(&api), "approval_not_pending");
        let env = eyre!(ClientError::Api {
            status: 422,
            code: "unknown_environment".into(),
            message: "m".into(),
            current_revision: None,
        });
        assert_eq!(exit_code(&env), 5);
        let field = eyre!(ClientError::Api {
            status: 422,
            code: "unknown_field".into(),
            message: "m".into(),
            current_revision: None,
        });
        assert_eq!(exit_code(&field), 6);
        let other = eyre!("boom");
        assert_eq!(
            (exit_code(&other), error_code(&other).as_str()),
            (1, "failure")
        );
    }

    #[test]
    fn json_is_seen_before_a_double_dash_only() {
        assert!(argv_wants_json(["flagtop", "status", "--json"]));
        assert!(!argv_wants_json(["flagtop", "act", "--", "--json"]));
        let v: serde_json::Value = serde_json::from_str(&json_error("usage", "a \"q\"")).unwrap();
        assert_eq!(v["error"]["message"], "a \"q\"");
    }
}
