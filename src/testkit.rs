//! Owns the fixed clock every test, benchmark and screenshot starts from (`t0()`), so fixture
//! times agree everywhere. Pure; it must not read the real clock.

use chrono::{DateTime, TimeZone, Utc};

/// The fixed clock: 2026-11-03 12:00:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, 12, 0, 0)
        .single()
        .unwrap_or_default()
}
