//! Facts about text that rules depend on (not display: that is `sanitize`).

/// Whether `s` has at least one character a person can see: not whitespace, not a control
/// character, not an invisible format character (zero-width spaces and joiners, bidi controls,
/// the byte-order mark, tag characters).
pub fn has_visible(s: &str) -> bool {
    s.chars().any(|c| !c.is_whitespace() && !c.is_control() && !is_invisible(c))
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

#[cfg(test)]
mod tests {
    use super::has_visible;

    #[test]
    fn invisible_reasons_are_not_reasons() {
        for s in ["", "   ", "\u{200B}", "\u{200B}\u{200B} \u{FEFF}", "\u{202E}\u{2066}", "\t\n", "\u{E0041}\u{E0042}", "\u{1b}"] {
            assert!(!has_visible(s), "{s:?}");
        }
        for s in ["x", " rollback ", "\u{200B}p95", "回滚"] {
            assert!(has_visible(s), "{s:?}");
        }
    }
}
