//! Bounds on everything the control plane stores or echoes: each a named constant (listed in
//! `docs/reliability.md`), each refusal naming the field and its bound.

use super::{ErrorKind, ServiceError};
use crate::domain::{Action, Evidence, State};
use crate::wire::MetricSample;

/// Bytes in a pause note.
pub const MAX_NOTE: usize = 500;
/// Evidence items on one request, and bytes in each of their text fields.
pub const MAX_EVIDENCE: usize = 32;
pub const MAX_EVIDENCE_TEXT: usize = 200;
/// Bytes in an evidence gap.
pub const MAX_EVIDENCE_GAP: usize = 2000;
/// Open requests one requester may have (agents included); beyond it, 429.
pub const MAX_PENDING_PER_REQUESTER: usize = 50;
/// Largest sample count (sums stay exact in an f64 and cannot overflow).
pub const MAX_SAMPLE_COUNT: u64 = 1 << 53;
/// Largest magnitude of a sample value.
pub const MAX_SAMPLE_VALUE: f64 = 1e15;

fn too_long(field: &str, max: usize) -> ServiceError {
    ServiceError::new(
        ErrorKind::Invalid,
        "field_too_long",
        format!("`{field}` is too long (at most {max} bytes)"),
    )
}

/// A pause note within its bound.
pub fn check_action(action: &Action) -> Result<(), ServiceError> {
    if let Action::Pause { note: Some(n), .. } = action
        && n.len() > MAX_NOTE
    {
        return Err(too_long("action.note", MAX_NOTE));
    }
    Ok(())
}

/// Evidence and its gap within their bounds; numbers finite.
pub fn check_evidence(evidence: &[Evidence], gap: Option<&str>) -> Result<(), ServiceError> {
    if evidence.len() > MAX_EVIDENCE {
        return Err(ServiceError::new(
            ErrorKind::Invalid,
            "too_much_evidence",
            format!(
                "`evidence` has {} items; at most {MAX_EVIDENCE}",
                evidence.len()
            ),
        ));
    }
    for (i, e) in evidence.iter().enumerate() {
        for (name, text) in [
            ("metric", e.metric.as_str()),
            ("cohort", e.cohort.as_str()),
            ("status", e.status.as_deref().unwrap_or("")),
        ] {
            if text.len() > MAX_EVIDENCE_TEXT {
                return Err(too_long(
                    &format!("evidence[{i}].{name}"),
                    MAX_EVIDENCE_TEXT,
                ));
            }
        }
        let numbers = [e.candidate, e.baseline, e.threshold, e.cohort_value];
        if numbers.iter().flatten().any(|v| !v.is_finite()) || e.samples > MAX_SAMPLE_COUNT {
            return Err(ServiceError::new(
                ErrorKind::Invalid,
                "invalid_evidence",
                format!("evidence[{i}]: values must be finite and samples at most 2^53"),
            ));
        }
    }
    if let Some(g) = gap
        && g.len() > MAX_EVIDENCE_GAP
    {
        return Err(too_long("evidence_gap", MAX_EVIDENCE_GAP));
    }
    Ok(())
}

/// Series of metrics that no guardrail reads yet (pushed before their guardrail is defined):
/// beyond this many, such samples are refused; guarded metrics are always kept (up to the
/// metrics store's own `MAX_SERIES`).
pub const MAX_UNGUARDED_SERIES: usize = 1000;
/// Bytes in a metric name and in a sample's cohort name.
pub const MAX_METRIC_NAME: usize = 100;

/// Whether `name` fits a metric or cohort name: 1–100 of A–Z a–z 0–9 `_ . : -`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_METRIC_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
}

/// A pushed sample the control plane will keep: for a configured flag and environment, with
/// names of bounded length and charset, a finite value and a count of at most 2^53. Returns
/// whether a guardrail reads its metric.
pub fn check_sample(i: usize, s: &MetricSample, state: &State) -> Result<bool, ServiceError> {
    let Some(fe) = state.flags.get(&s.flag).and_then(|f| f.env(&s.env)) else {
        return Err(ServiceError::new(
            ErrorKind::NotFound,
            "unknown_flag",
            format!(
                "sample {i}: flag `{}` is not configured in `{}`",
                s.flag, s.env
            ),
        ));
    };
    if !valid_name(&s.metric) {
        return Err(ServiceError::new(
            ErrorKind::Invalid,
            "invalid_metric_name",
            format!("sample {i}: `metric` must be 1–{MAX_METRIC_NAME} of A–Z a–z 0–9 _ . : -"),
        ));
    }
    if !s.cohort.is_empty() && !valid_name(&s.cohort) {
        return Err(ServiceError::new(
            ErrorKind::Invalid,
            "invalid_cohort_name",
            format!("sample {i}: `cohort` must be 1–{MAX_METRIC_NAME} of A–Z a–z 0–9 _ . : -"),
        ));
    }
    if s.count > MAX_SAMPLE_COUNT || !s.value.is_finite() || s.value.abs() > MAX_SAMPLE_VALUE {
        return Err(ServiceError::new(
            ErrorKind::Invalid,
            "invalid_sample",
            format!("sample {i}: `count` must be at most 2^53 and `value` finite within ±1e15"),
        ));
    }
    Ok(fe.guardrails.iter().any(|g| g.metric == s.metric))
}
