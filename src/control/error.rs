//! The control plane's refusals: a kind (what went wrong, for the API to map to a status), a
//! machine-readable code and a sentence that says what to do. No HTTP here: `api` maps kinds.

use crate::control::store::StoreError;
use crate::domain::{DomainError, Revision};

/// The code of "another replica took the revision first; nothing was applied, retry" (503 with
/// `Retry-After`). The group commit retries on it by itself; other write paths pass it on.
pub const STORE_BUSY: &str = "store_busy";

/// What kind of refusal; the API turns each into one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (syntax, a token in the URL, a bad query).
    BadRequest,
    Unauthenticated,
    /// The caller may not make this request at all (checked before anything else).
    Forbidden,
    NotFound,
    /// The state changed since the caller looked, or the request is no longer open.
    Conflict,
    /// The request is well-formed but invalid (unknown field, bad value, missing reason).
    Invalid,
    TooLarge,
    /// The client was too slow to send its request.
    Timeout,
    UnsupportedMedia,
    /// A bound was reached (open requests); try again later.
    TooMany,
    /// A dependency (the external flag store) is unreachable and nothing was changed.
    Unavailable,
    /// A dependency got the change but did not answer; flagtop could not read back what it did.
    /// Nothing is reported as "unchanged": the outcome is reconciled and recorded later.
    OutcomeUnknown,
    /// A failure inside flagtop (the store could not save).
    Internal,
}

/// A precise refusal: kind, machine-readable code and a sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    pub current_revision: Option<Revision>,
}

impl ServiceError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        ServiceError {
            kind,
            code,
            message: message.into(),
            current_revision: None,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, "forbidden", message)
    }

    /// "Changed since you looked", with the revision the target is at now.
    pub fn conflict(message: impl Into<String>, current: Option<Revision>) -> Self {
        ServiceError {
            kind: ErrorKind::Conflict,
            code: "conflict",
            message: message.into(),
            current_revision: current,
        }
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl From<DomainError> for ServiceError {
    fn from(e: DomainError) -> Self {
        let kind = match e {
            DomainError::UnknownFlag(_)
            | DomainError::UnknownEnv(_)
            | DomainError::UnknownCohort { .. } => ErrorKind::NotFound,
            _ => ErrorKind::Invalid,
        };
        ServiceError::new(kind, e.code(), e.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        match &e {
            StoreError::Unavailable(_) => {
                return ServiceError::new(
                    ErrorKind::Unavailable,
                    "store_unavailable",
                    format!(
                        "the change was not saved (nothing was applied): {e}; retry when the database is back"
                    ),
                );
            }
            StoreError::Unsure(_) => {
                return ServiceError::new(
                    ErrorKind::OutcomeUnknown,
                    "outcome_unknown",
                    format!(
                        "{e}. What the database holds reaches the screen once it answers again: \
                         look before acting again (a retry with the same idempotency key is safe)"
                    ),
                );
            }
            StoreError::Behind { .. } => {
                // Not a conflict: nothing the caller decided on need have changed.
                return ServiceError::new(
                    ErrorKind::Unavailable,
                    STORE_BUSY,
                    format!("nothing was applied: {e}; retry"),
                );
            }
            _ => {}
        }
        ServiceError::new(
            ErrorKind::Internal,
            "store_failed",
            format!("the change was not saved: {e}"),
        )
    }
}
