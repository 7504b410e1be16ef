//! Owns the process exit codes (documented in the README) and the usage error that maps to
//! code 2. Plain constants and one error type; it must not import anything of flagtop's.

pub const OK: i32 = 0;
pub const FAILURE: i32 = 1;
pub const USAGE: i32 = 2;
pub const CONFLICT: i32 = 3;
pub const DENIED: i32 = 4;
pub const NOT_FOUND: i32 = 5;
pub const INVALID: i32 = 6;
pub const UNREACHABLE: i32 = 7;
pub const SERVER: i32 = 8;
/// A check the caller asked for failed (`flagtop lifecycle --fail-on stale` found a stale flag).
pub const CHECK_FAILED: i32 = 9;

/// A usage error with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
