//! Flag definitions: validation of a flag against the environments, and the declarative
//! `flags.toml` file read by `flagtop apply -f`. No I/O beyond parsing text handed in.

use super::error::{ErrorKind, ServiceError};
use crate::domain::ids::valid_key;
use crate::domain::{Environment, Flag, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

mod webhooks;
pub use webhooks::{MIN_SECRET, check_webhook};

/// The file format of `flagtop apply -f flags.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsFile {
    #[serde(default)]
    pub environments: Vec<Environment>,
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// Outgoing webhooks (`[[webhooks]]`, see docs/webhooks.md).
    #[serde(default)]
    pub webhooks: Vec<crate::domain::Webhook>,
}

/// Parse a definitions file; errors carry line and column.
pub fn parse(file_name: &str, text: &str) -> Result<FlagsFile, String> {
    toml::from_str::<FlagsFile>(text).map_err(|e| {
        let (line, col) = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                (line, col)
            })
            .unwrap_or((1, 1));
        format!("{file_name}:{line}:{col}: {}", e.message())
    })
}

/// What a definitions file must say beyond a valid flag: an owner for every temporary flag
/// (someone has to clean it up). Errors name the flag and the field.
pub fn check_file(file_name: &str, file: &FlagsFile) -> Result<(), String> {
    for f in &file.flags {
        if f.lifecycle == crate::domain::Lifecycle::Temporary && f.owner.trim().is_empty() {
            return Err(format!(
                "{file_name}: flag {}: `owner` is required for a temporary flag (who cleans it up?); \
                 add owner = \"team\" or mark it lifecycle = \"permanent\"",
                crate::sanitize::clean(&f.key, 100)
            ));
        }
    }
    Ok(())
}

/// Bounds on a definition (every one named in `docs/reliability.md`).
pub const MAX_VARIATIONS: usize = 20;
pub const MAX_VARIATION_NAME: usize = 100;
pub const MAX_COHORTS: usize = 100;
pub const MAX_STAGES: usize = 20;
pub const MAX_GUARDRAILS: usize = 20;
pub const MAX_DESCRIPTION: usize = 4000;
pub const MAX_OWNER: usize = 200;
pub const MAX_CLEANUP: usize = 500;

fn invalid(msg: String) -> ServiceError {
    ServiceError::new(ErrorKind::Invalid, "invalid_definition", msg)
}

/// Check a flag definition for shape and consistency with the known environments.
pub fn validate(flag: &Flag, state: &State) -> Result<(), ServiceError> {
    let key = &flag.key;
    if !valid_key(key) {
        return Err(ServiceError::new(
            ErrorKind::Invalid,
            "invalid_key",
            "flag keys are 1–100 of A–Z a–z 0–9 - _ .",
        ));
    }
    if flag.variations.len() < 2 {
        return Err(invalid(format!(
            "flag {key}: at least two variations are needed (e.g. [\"off\", \"on\"])"
        )));
    }
    let variations: BTreeSet<&str> = flag.variations.iter().map(String::as_str).collect();
    if variations.len() != flag.variations.len() {
        return Err(invalid(format!(
            "flag {key}: variation names must be unique"
        )));
    }
    if flag.description.len() > MAX_DESCRIPTION {
        return Err(invalid(format!(
            "flag {key}: `description` is too long (at most {MAX_DESCRIPTION} bytes)"
        )));
    }
    if flag.owner.len() > MAX_OWNER {
        return Err(invalid(format!(
            "flag {key}: `owner` is too long (at most {MAX_OWNER} bytes)"
        )));
    }
    if flag.cleanup.len() > MAX_CLEANUP {
        return Err(invalid(format!(
            "flag {key}: `cleanup` is too long (at most {MAX_CLEANUP} bytes)"
        )));
    }
    if flag.cleanup.chars().any(char::is_control) {
        return Err(invalid(format!(
            "flag {key}: `cleanup` must be one line of plain text (no control characters)"
        )));
    }
    if flag.variations.len() > MAX_VARIATIONS
        || flag
            .variations
            .iter()
            .any(|v| v.is_empty() || v.len() > MAX_VARIATION_NAME)
    {
        return Err(invalid(format!(
            "flag {key}: at most {MAX_VARIATIONS} `variations`, each 1–{MAX_VARIATION_NAME} bytes"
        )));
    }
    for (env, fe) in &flag.environments {
        let stages = fe.ladder.as_ref().map_or(0, |l| l.stages.len());
        if fe.cohorts.len() > MAX_COHORTS
            || stages > MAX_STAGES
            || fe.guardrails.len() > MAX_GUARDRAILS
        {
            return Err(invalid(format!(
                "flag {key} in {env}: at most {MAX_COHORTS} `cohorts`, {MAX_STAGES} ladder `stages` and {MAX_GUARDRAILS} `guardrails`"
            )));
        }
    }
    for (env, fe) in &flag.environments {
        if state.environment(env).is_none() {
            return Err(ServiceError::new(
                ErrorKind::NotFound,
                "unknown_environment",
                format!("flag {key}: unknown environment `{env}`"),
            ));
        }
        if !variations.contains(fe.fallthrough.as_str()) {
            return Err(invalid(format!(
                "flag {key} in {env}: fallthrough `{}` is not a variation",
                fe.fallthrough
            )));
        }
        let mut names = BTreeSet::new();
        for c in &fe.cohorts {
            if !valid_key(&c.name) {
                return Err(invalid(format!(
                    "flag {key} in {env}: cohort names are 1–100 of A–Z a–z 0–9 - _ ."
                )));
            }
            if !names.insert(c.name.as_str()) {
                return Err(invalid(format!(
                    "flag {key} in {env}: cohort `{}` appears twice",
                    c.name
                )));
            }
            if c.percent > 100 {
                return Err(ServiceError::new(
                    ErrorKind::Invalid,
                    "percent_out_of_range",
                    format!(
                        "flag {key} in {env}: cohort `{}` percent must be 0–100",
                        c.name
                    ),
                ));
            }
            if !variations.contains(c.variation.as_str()) {
                return Err(invalid(format!(
                    "flag {key} in {env}: cohort `{}` serves unknown variation `{}`",
                    c.name, c.variation
                )));
            }
        }
        if let Some(l) = &fe.ladder {
            if l.stages.is_empty() || l.current >= l.stages.len() {
                return Err(invalid(format!(
                    "flag {key} in {env}: the ladder needs stages and `current` must index one"
                )));
            }
            for s in &l.stages {
                for (c, p) in &s.targets {
                    if !names.contains(c.as_str()) || *p > 100 {
                        return Err(invalid(format!(
                            "flag {key} in {env}: stage `{}` targets unknown cohort `{c}` or a percent over 100",
                            s.name
                        )));
                    }
                }
            }
        }
        for g in &fe.guardrails {
            if !names.contains(g.cohort.as_str()) {
                return Err(invalid(format!(
                    "flag {key} in {env}: guardrail `{}` watches unknown cohort `{}`",
                    g.metric, g.cohort
                )));
            }
            if g.window_secs == 0 || g.window_secs > super::metrics::MAX_WINDOW_SECS as u64 {
                return Err(invalid(format!(
                    "flag {key} in {env}: guardrail window must be 1–3600 s"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_line_and_column() {
        let err = parse("flags.toml", "[[flags]]\nkey = \"x\"\nvariations = 3\n")
            .err()
            .unwrap_or_default();
        assert!(err.starts_with("flags.toml:3:14:"), "{err}");
    }

    #[test]
    fn minimal_file_parses_with_defaults() {
        let text = r#"
[[environments]]
key = "production"
protected = true

[[flags]]
key = "new-search"
variations = ["off", "on"]

[flags.environments.production]
fallthrough = "off"
cohorts = [
  { name = "internal", selector = { type = "segment", segment = "internal" }, percent = 100, variation = "on" },
]
[flags.environments.production.ladder]
stages = [ { name = "internal", targets = { internal = 100 } } ]
"#;
        let f = parse("f.toml", text).unwrap_or_else(|e| panic!("{e}"));
        let fe = &f.flags[0].environments[&crate::domain::EnvKey::from("production")];
        assert!(fe.enabled);
        assert_eq!(
            fe.ladder.as_ref().map(|l| l.stages[0].min_dwell_secs),
            Some(300)
        );
        let state = State {
            environments: f.environments.clone(),
            ..Default::default()
        };
        assert!(validate(&f.flags[0], &state).is_ok());
    }

    const TEMPORARY: &str = r#"
[[environments]]
key = "production"

[[flags]]
key = "new-search"
variations = ["off", "on"]
OWNER
[flags.environments.production]
fallthrough = "off"
cohorts = []
"#;

    fn file(extra: &str) -> Result<FlagsFile, String> {
        let f = parse("flags.toml", &TEMPORARY.replace("OWNER", extra))?;
        check_file("flags.toml", &f)?;
        Ok(f)
    }

    #[test]
    fn a_temporary_flag_needs_an_owner_and_a_permanent_one_does_not() {
        let err = file("").err().unwrap_or_default();
        assert!(
            err.contains("flag new-search: `owner` is required for a temporary flag"),
            "{err}"
        );
        assert!(file("lifecycle = \"permanent\"").is_ok());
        let f =
            file("owner = \"search\"\nreview_by = 2026-12-31\ncleanup = \"remove once v3 ships\"");
        let f = f.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            f.flags[0].review_by,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 31)
        );
        assert_eq!(f.flags[0].cleanup, "remove once v3 ships");
    }

    #[test]
    fn a_bad_review_date_names_the_field_line_and_column() {
        let err = file("owner = \"s\"\nreview_by = \"31/12/2026\"")
            .err()
            .unwrap_or_default();
        assert!(err.starts_with("flags.toml:9:"), "{err}");
        assert!(err.contains("`review_by` must be a date"), "{err}");
    }

    #[test]
    fn cleanup_text_is_bounded_and_plain() {
        let f = file("owner = \"s\"").unwrap_or_else(|e| panic!("{e}"));
        let state = State {
            environments: f.environments.clone(),
            ..Default::default()
        };
        let mut flag = f.flags[0].clone();
        flag.cleanup = "x".repeat(MAX_CLEANUP);
        assert!(validate(&flag, &state).is_ok());
        flag.cleanup.push('x');
        let e = validate(&flag, &state).err().map(|e| e.message);
        assert!(e.is_some_and(|m| m.contains("`cleanup` is too long")));
        flag.cleanup = "drop it\x1b]0;pwned\x07".into();
        let e = validate(&flag, &state).err().map(|e| e.message);
        assert!(e.is_some_and(|m| m.contains("`cleanup` must be one line")));
    }
}
