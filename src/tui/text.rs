//! Owns how the TUI turns values into text for the screen: numbers of guardrail readings.
//! Pure formatting; it must not draw or read the model.

/// A reading's value, `-` when there is none.
pub fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        v => crate::domain::guardrail::fmt_value(v),
    }
}
