//! Owns how the TUI turns values into text for the screen: the one truncation (`fit`, with `…`)
//! every width goes through, the one place operator input is made inert (`typed`), numbers of
//! guardrail readings, ages (`human_secs`). Backend text needs no cleaning here: it came in
//! `client::Clean`. Pure formatting; it must not draw or read the model.

use std::borrow::Cow;

/// At most `width` characters of `s`, the last one `…` when it is cut.
pub fn fit(s: &str, width: usize) -> String {
    crate::sanitize::truncate_display(s, width).into_owned()
}

/// What the operator typed (a filter, a reason, a command line), inert: a paste can carry
/// control characters like any backend string.
pub fn typed(s: &str) -> Cow<'_, str> {
    crate::sanitize::sanitize(s)
}

/// A reading's value, `-` when there is none.
pub fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        v => crate::domain::guardrail::fmt_value(v),
    }
}

/// Human age: `42s`, `12m`, `3h`, `2d`.
pub fn human_secs(s: i64) -> String {
    let s = s.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// The lifecycle column's short label.
pub fn life_label(s: crate::domain::LifecycleStage) -> &'static str {
    match s {
        crate::domain::LifecycleStage::New => "new",
        crate::domain::LifecycleStage::RollingOut => "rolling",
        crate::domain::LifecycleStage::Released => "released",
        crate::domain::LifecycleStage::ReadyForCleanup => "cleanup",
        crate::domain::LifecycleStage::Stale => "stale",
        crate::domain::LifecycleStage::Permanent => "perm",
        crate::domain::LifecycleStage::Archived => "archived",
    }
}
