//! PromQL template rendering (`$flag`, `$env`, `$cohort`, `$metric`, `$window`) and the reading
//! of Prometheus sample values ("NaN", "+Inf", "-Inf" included). Pure functions: no I/O.

/// The values a guardrail's templates may refer to.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    pub flag: &'a str,
    pub env: &'a str,
    pub cohort: &'a str,
    pub metric: &'a str,
    pub window_secs: u64,
}

/// A window as a PromQL duration: `90s`, `5m`, `2h`.
pub fn window(secs: u64) -> String {
    match secs {
        0 => "1s".into(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Escape text for the inside of a PromQL string literal (double or single quoted).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Render a template in one pass, so a substituted value is never substituted again. Unknown
/// `$names` are left as they are (Prometheus then answers `bad_data`, which is shown).
pub fn render(template: &str, v: &Vars<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let len = after
            .char_indices()
            .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
            .map_or(after.len(), |(i, _)| i);
        let name = &after[..len];
        match name {
            "flag" => out.push_str(&escape(v.flag)),
            "env" => out.push_str(&escape(v.env)),
            "cohort" => out.push_str(&escape(v.cohort)),
            "metric" => out.push_str(&escape(v.metric)),
            "window" => out.push_str(&window(v.window_secs)),
            other => {
                out.push('$');
                out.push_str(other);
            }
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Parse a sample value as Prometheus writes it: decimal, `NaN`, `+Inf`, `-Inf`.
pub fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        other => other.parse::<f64>().map_err(|_| {
            format!(
                "not a sample value: `{}`",
                crate::sanitize::clean(other, 40)
            )
        }),
    }
}

/// What a candidate value means for the guardrail:
/// - `NaN` (0/0: no observations in the window) → no value;
/// - `+Inf` (e.g. errors without requests) → above any limit: `f64::MAX`, so it can breach
///   (still only with enough samples);
/// - `-Inf` → no value (nonsense for a "higher is worse" metric; never healthy).
pub fn candidate_value(v: f64) -> Option<f64> {
    if v.is_nan() || v == f64::NEG_INFINITY {
        None
    } else if v == f64::INFINITY {
        Some(f64::MAX)
    } else {
        Some(v)
    }
}

/// A baseline must be finite to compare against; anything else is "no baseline".
pub fn baseline_value(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// A sample-size result as a count: rounded; NaN, infinities and negatives count as 0.
pub fn sample_count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars {
            flag: "checkout-v2",
            env: "production",
            cohort: "eu-west",
            metric: "error_rate",
            window_secs: 60,
        }
    }

    #[test]
    fn renders_every_variable_once() {
        let t = r#"sum by (cohort, variation) (rate(errors_total{flag="$flag",env="$env",cohort="$cohort",m="$metric"}[$window]))"#;
        assert_eq!(
            render(t, &vars()),
            r#"sum by (cohort, variation) (rate(errors_total{flag="checkout-v2",env="production",cohort="eu-west",m="error_rate"}[1m]))"#
        );
    }

    #[test]
    fn values_are_escaped_and_never_rendered_twice() {
        let v = Vars {
            metric: "a\"b\\$flag",
            ..vars()
        };
        assert_eq!(render(r#"x{m="$metric"}"#, &v), r#"x{m="a\"b\\$flag"}"#);
        let v = Vars {
            metric: "it's",
            ..vars()
        };
        assert_eq!(render("x{m='$metric'}", &v), r"x{m='it\'s'}");
    }

    #[test]
    fn unknown_and_partial_names_stay() {
        assert_eq!(
            render("$nope $flagx $ $flag_", &vars()),
            "$nope $flagx $ $flag_"
        );
        assert_eq!(render("a$flag$env", &vars()), "acheckout-v2production");
        assert_eq!(
            render(
                "$window)",
                &Vars {
                    window_secs: 90,
                    ..vars()
                }
            ),
            "90s)"
        );
        assert_eq!(render("ü$cohort€", &vars()), "üeu-west€");
    }

    #[test]
    fn windows() {
        assert_eq!(window(30), "30s");
        assert_eq!(window(60), "1m");
        assert_eq!(window(300), "5m");
        assert_eq!(window(7200), "2h");
        assert_eq!(window(0), "1s");
    }

    #[test]
    fn parses_prometheus_values() {
        assert_eq!(parse_value("1.5"), Ok(1.5));
        assert_eq!(parse_value("1e+06"), Ok(1e6));
        assert_eq!(parse_value("-0"), Ok(0.0));
        assert!(parse_value("NaN").is_ok_and(f64::is_nan));
        assert_eq!(parse_value("+Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_value("-Inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_value("").is_err());
        assert!(parse_value("one").is_err());
    }

    #[test]
    fn value_meanings() {
        assert_eq!(candidate_value(f64::NAN), None);
        assert_eq!(candidate_value(f64::INFINITY), Some(f64::MAX));
        assert_eq!(candidate_value(f64::NEG_INFINITY), None);
        assert_eq!(candidate_value(0.02), Some(0.02));
        assert_eq!(baseline_value(f64::INFINITY), None);
        assert_eq!(baseline_value(f64::NAN), None);
        assert_eq!(sample_count(1199.6), 1200);
        assert_eq!(sample_count(f64::NAN), 0);
        assert_eq!(sample_count(f64::INFINITY), 0);
        assert_eq!(sample_count(-3.0), 0);
    }
}
