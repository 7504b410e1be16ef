//! Facts about text that rules depend on (not display: that is `sanitize`, which uses these).

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `s` has at least one character a person can see: not whitespace and not invisible.
pub fn has_visible(s: &str) -> bool {
    s.chars().any(|c| !c.is_whitespace() && !is_invisible(c))
}

/// Characters a terminal may act on or that show nothing while carrying meaning: controls (Cc),
/// format characters (Cf: zero-width spaces and joiners, bidi controls, invisible operators,
/// the byte-order mark, tag characters), line and paragraph separators (Zl, Zp), and other
/// code points that render as nothing (Hangul fillers, the combining grapheme joiner, Mongolian
/// and other variation selectors, Khmer inherent vowels).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control | GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    ) || matches!(c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0E}' | '\u{FFA0}' | '\u{E0000}'..='\u{E0FFF}')
}

#[cfg(test)]
mod tests {
    use super::{has_visible, is_invisible};
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

    #[test]
    fn invisible_reasons_are_not_reasons() {
        for s in ["", "   ", "\u{200B}", "\u{200B}\u{200B} \u{FEFF}", "\u{202E}\u{2066}", "\t\n", "\u{E0041}\u{E0042}", "\u{1b}", "\u{2028}\u{2061}\u{034F}"] {
            assert!(!has_visible(s), "{s:?}");
        }
        for s in ["x", " rollback ", "\u{200B}p95", "回滚"] {
            assert!(has_visible(s), "{s:?}");
        }
    }

    #[test]
    fn every_code_point_of_the_invisible_categories_is_caught() {
        let mut n = 0;
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let cat = c.general_category();
            if matches!(cat, GeneralCategory::Control | GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator) {
                assert!(is_invisible(c), "U+{:04X} ({cat:?}) slipped through", u32::from(c));
                n += 1;
            }
        }
        assert!(n > 200, "only {n} code points walked");
        for c in ['\u{2061}', '\u{2064}', '\u{206A}', '\u{206F}', '\u{180E}', '\u{034F}', '\u{E0001}', '\u{E007F}', '\u{2028}', '\u{2029}'] {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
        assert!(!is_invisible('a') && !is_invisible('€') && !is_invisible(' '));
    }
}
