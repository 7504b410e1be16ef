//! Owns neutralising untrusted text (backend data, files, user names) before it reaches a
//! terminal or a log line; it must not do I/O, styling, or width-aware layout, and must not panic.

use std::borrow::Cow;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Placeholder for characters that have no control picture (C1 controls, bidi, invisibles).
const REPLACEMENT: char = '\u{FFFD}';
/// Placeholder for a line feed in single-line output ("SYMBOL FOR NEWLINE").
const NEWLINE_SYMBOL: char = '\u{2424}';
/// Placeholder for DEL ("SYMBOL FOR DELETE").
const DEL_SYMBOL: char = '\u{2421}';
const ELLIPSIS: char = '\u{2026}';

/// Replaces terminal control characters, bidi controls and invisible characters with
/// visible, inert placeholders. Borrows when nothing needs changing.
///
/// ESC becomes '␛', so `"\x1b[2J"` renders as the harmless text `"␛[2J"`.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    neutralise(s, false)
}

/// Like [`sanitize`], but keeps '\n' and drops '\r' so callers can render several lines.
pub fn sanitize_multiline(s: &str) -> Cow<'_, str> {
    neutralise(s, true)
}

/// Cuts `s` to at most `max_chars` chars (Unicode scalar values), ending with '…' when cut.
pub fn truncate_display(s: &str, max_chars: usize) -> Cow<'_, str> {
    // Fits if there is no char at index `max_chars`.
    if s.char_indices().nth(max_chars).is_none() {
        return Cow::Borrowed(s);
    }
    if max_chars == 0 {
        return Cow::Borrowed("");
    }
    // Keep `max_chars - 1` chars and append the ellipsis.
    let cut = s
        .char_indices()
        .nth(max_chars - 1)
        .map_or(s.len(), |(i, _)| i);
    let mut out = String::with_capacity(cut + ELLIPSIS.len_utf8());
    out.push_str(&s[..cut]);
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// Sanitizes (single-line) then truncates to `max_chars`, returning an owned string.
pub fn clean(s: &str, max_chars: usize) -> String {
    let sanitized = sanitize(s);
    truncate_display(&sanitized, max_chars).into_owned()
}

/// Escapes, as `\uXXXX`, what serde_json leaves raw in JSON text but a terminal may act on or
/// hide (DEL, C1 controls such as 8-bit CSI U+009B, bidi and invisible characters). Outside
/// strings JSON is ASCII, so this only touches string contents and keeps the same value.
pub fn json_for_terminal(json: &str) -> Cow<'_, str> {
    let risky = |c: char| c.is_control() || is_bidi_or_invisible(c);
    if !json.chars().any(risky) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if risky(c) && c != '\n' {
            // JSON escapes are UTF-16 units: a code point above U+FFFF is a surrogate pair.
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What to do with one char: `None` keeps it, `Some(None)` drops it, `Some(Some(c))` replaces it.
fn replacement(c: char, multiline: bool) -> Option<Option<char>> {
    let code = u32::from(c);
    match c {
        // Plain printable ASCII: by far the common case.
        ' '..='~' => None,
        '\t' => Some(Some(' ')),
        '\n' if multiline => None,
        '\n' => Some(Some(NEWLINE_SYMBOL)),
        '\r' if multiline => Some(None),
        // Other C0 controls (includes CR in single-line mode): control pictures U+2400..U+241F.
        '\u{0}'..='\u{1f}' => Some(Some(char::from_u32(0x2400 + code).unwrap_or(REPLACEMENT))),
        '\u{7f}' => Some(Some(DEL_SYMBOL)),
        // C1 controls (includes 8-bit CSI U+009B, OSC U+009D, ST U+009C).
        '\u{80}'..='\u{9f}' => Some(Some(REPLACEMENT)),
        _ if is_bidi_or_invisible(c) => Some(Some(REPLACEMENT)),
        _ => None,
    }
}

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
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || matches!(c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0E}' | '\u{FFA0}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Bidi controls, format characters (Cf: zero-width, invisible operators, tags), line and
/// paragraph separators and other invisible code points that can disguise or carry text — by
/// Unicode category (`domain::text::is_invisible`), not by a hand-kept list.
fn is_bidi_or_invisible(c: char) -> bool {
    is_invisible(c)
}

fn neutralise(s: &str, multiline: bool) -> Cow<'_, str> {
    // Fast path: a byte scan for plain printable ASCII.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Cow::Borrowed(s);
    }
    let first = s
        .char_indices()
        .find(|&(_, c)| replacement(c, multiline).is_some());
    let Some((start, _)) = first else {
        return Cow::Borrowed(s);
    };
    // Placeholders are at most 3 bytes; controls are at least 1, so leave a little slack.
    let mut out = String::with_capacity(s.len() + s.len() / 4 + 4);
    out.push_str(&s[..start]);
    for c in s[start..].chars() {
        match replacement(c, multiline) {
            None => out.push(c),
            Some(Some(r)) => out.push(r),
            Some(None) => {}
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_inert(out: &str) {
        for c in out.chars() {
            assert!(!c.is_control(), "control char {c:?} survived in {out:?}");
            assert!(
                !is_bidi_or_invisible(c),
                "bidi/invisible {c:?} survived in {out:?}"
            );
        }
    }

    const HOSTILE: &[&str] = &[
        "\x1b[2J",
        "\x1b]0;pwned\x07",
        "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
        "\x1b[201~rm -rf ~\n",
        "\u{9b}2J",
        "\u{9d}0;title\u{9c}",
        "admin\u{202e}gnp.exe",
        "a\u{200d}b\u{200b}c\u{2060}d\u{feff}e\u{ad}f",
        "\u{2066}x\u{2069}\u{200e}\u{200f}\u{61c}",
        "del\x7fete",
        "nul\0byte",
        "cr\roverwrite\r\nline",
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x1f\x7f",
    ];

    #[test]
    fn hostile_inputs_become_inert_single_line() {
        for input in HOSTILE {
            let out = sanitize(input);
            assert!(
                matches!(out, Cow::Owned(_)),
                "{input:?} should have changed"
            );
            assert_inert(&out);
            assert!(!out.contains('\n') && !out.contains('\r'));
        }
    }

    #[test]
    fn hostile_inputs_become_inert_multiline() {
        for input in HOSTILE {
            let out = sanitize_multiline(input);
            assert!(!out.contains('\r'));
            for line in out.split('\n') {
                assert_inert(line);
            }
        }
    }

    #[test]
    fn escape_sequences_are_defanged_visibly() {
        assert_eq!(sanitize("\x1b[2J"), "\u{241b}[2J");
        assert_eq!(sanitize("\x1b]0;pwned\x07"), "\u{241b}]0;pwned\u{2407}");
        assert_eq!(sanitize("\x1b[201~"), "\u{241b}[201~");
        assert_eq!(sanitize("\u{9b}2J"), "\u{fffd}2J");
        assert_eq!(sanitize("a\u{202e}b"), "a\u{fffd}b");
        assert_eq!(sanitize("a\u{200d}b"), "a\u{fffd}b");
        assert_eq!(sanitize("a\x7fb"), "a\u{2421}b");
        assert_eq!(sanitize("a\0b"), "a\u{2400}b");
        assert_eq!(sanitize("a\tb"), "a b");
        assert_eq!(sanitize("a\nb\rc"), "a\u{2424}b\u{240d}c");
    }

    #[test]
    fn multiline_keeps_newlines_and_drops_cr() {
        assert_eq!(sanitize_multiline("a\r\nb\n\x1bc"), "a\nb\n\u{241b}c");
        assert!(matches!(sanitize_multiline("one\ntwo"), Cow::Borrowed(_)));
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(sanitize("hello, world ~!"), Cow::Borrowed(_)));
        assert!(matches!(sanitize(""), Cow::Borrowed(_)));
        assert!(matches!(sanitize("café ✓"), Cow::Borrowed(_)));
        assert!(matches!(sanitize("日本語 ␛ emoji 🚀"), Cow::Borrowed(_)));
    }

    #[test]
    fn owned_output_preserves_clean_prefix() {
        assert_eq!(sanitize("café\x1b"), "café\u{241b}");
    }

    #[test]
    fn truncation() {
        assert!(matches!(truncate_display("abc", 3), Cow::Borrowed("abc")));
        assert!(matches!(truncate_display("abc", 10), Cow::Borrowed("abc")));
        assert_eq!(truncate_display("abcd", 3), "ab…");
        assert_eq!(truncate_display("abcd", 1), "…");
        assert_eq!(truncate_display("abcd", 0), "");
        assert_eq!(truncate_display("", 0), "");
        assert_eq!(truncate_display("ééééé", 4), "ééé…");
        let long = "x".repeat(100_000);
        let out = truncate_display(&long, 80);
        assert_eq!(out.chars().count(), 80);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn json_for_terminal_escapes_what_serde_leaves_raw() {
        let v = serde_json::json!({"r": "a\x1b[2J\u{9b}1m\u{202e}\u{200b}\x7fz"});
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        let out = json_for_terminal(&pretty);
        assert_inert(&out.replace('\n', ""));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap(), v);
        assert!(matches!(
            json_for_terminal("{\"a\": \"ok ✓\"}"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn clean_sanitizes_then_truncates() {
        let long = format!("\x1b[2J{}", "y".repeat(10_000));
        let out = clean(&long, 20);
        assert_eq!(out.chars().count(), 20);
        assert!(out.starts_with("\u{241b}[2J"));
        assert!(out.ends_with('…'));
        assert_inert(&out);
        assert_eq!(clean("ok", 20), "ok");
    }

    /// Every code point of the invisible categories (Cc, Cf, Zl, Zp) and the other invisibles:
    /// neutralised on a terminal, escaped in JSON.
    #[test]
    fn every_invisible_code_point_is_neutralised_and_escaped() {
        for c in (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|&c| is_invisible(c))
        {
            let text = format!("a{c}b");
            let shown = sanitize(&text);
            assert!(
                !shown.contains(c),
                "U+{:04X} reached the terminal",
                u32::from(c)
            );
            let json = serde_json::to_string(&text).unwrap_or_default();
            let escaped = json_for_terminal(&json);
            assert!(
                !escaped.contains(c),
                "U+{:04X} stayed raw in JSON",
                u32::from(c)
            );
            assert_eq!(
                serde_json::from_str::<String>(&escaped).ok().as_deref(),
                Some(text.as_str()),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }
}

#[cfg(test)]
mod text_tests {
    use super::{has_visible, is_invisible};
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

    #[test]
    fn invisible_reasons_are_not_reasons() {
        for s in [
            "",
            "   ",
            "\u{200B}",
            "\u{200B}\u{200B} \u{FEFF}",
            "\u{202E}\u{2066}",
            "\t\n",
            "\u{E0041}\u{E0042}",
            "\u{1b}",
            "\u{2028}\u{2061}\u{034F}",
        ] {
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
            if matches!(
                cat,
                GeneralCategory::Control
                    | GeneralCategory::Format
                    | GeneralCategory::LineSeparator
                    | GeneralCategory::ParagraphSeparator
            ) {
                assert!(
                    is_invisible(c),
                    "U+{:04X} ({cat:?}) slipped through",
                    u32::from(c)
                );
                n += 1;
            }
        }
        assert!(n > 200, "only {n} code points walked");
        for c in [
            '\u{2061}',
            '\u{2064}',
            '\u{206A}',
            '\u{206F}',
            '\u{180E}',
            '\u{034F}',
            '\u{E0001}',
            '\u{E007F}',
            '\u{2028}',
            '\u{2029}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
        assert!(!is_invisible('a') && !is_invisible('€') && !is_invisible(' '));
    }
}
