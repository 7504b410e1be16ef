//! Makes text written by others inert before it reaches an agent: control, bidi, invisible,
//! tag and variation-selector characters become visible escapes (`\u{202e}`), backslashes are
//! doubled so an escape cannot be forged, and long strings are cut. No I/O; never panics.

use serde_json::Value;
use std::borrow::Cow;

/// Longest string (in chars, after escaping) handed to an agent; longer ones are cut.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// How deep a JSON value from the control plane is walked; deeper parts are replaced.
pub const MAX_DEPTH: usize = 32;

/// Characters an agent (or the person reading its transcript) could not see or that change
/// how surrounding text reads: they are shown as `\u{…}` escapes instead.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // bidi embeddings, overrides, isolates and marks
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
            // zero-width and invisible formatting
            | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}'
            | '\u{180E}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
            // line and paragraph separators, interlinear annotations
            | '\u{2028}' | '\u{2029}' | '\u{FFF9}'..='\u{FFFB}'
            // variation selectors (can smuggle bytes after a visible character)
            | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}'
            // Unicode tag characters (invisible "ASCII smuggling")
            | '\u{E0000}'..='\u{E007F}'
        )
}

/// Escapes one string: hidden characters as `\u{hex}`, `\` as `\\`; cut to [`MAX_TEXT_CHARS`].
/// Borrows when there is nothing to change.
pub fn escape(s: &str) -> Cow<'_, str> {
    let needs_escape = s.chars().any(|c| c == '\\' || is_hidden(c));
    let too_long = s.chars().nth(MAX_TEXT_CHARS).is_some();
    if !needs_escape && !too_long {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(MAX_TEXT_CHARS * 4) + 16);
    let mut chars = 0usize;
    let total = s.chars().count();
    for (i, c) in s.chars().enumerate() {
        let piece: Cow<'_, str> = if c == '\\' {
            Cow::Borrowed("\\\\")
        } else if is_hidden(c) {
            Cow::Owned(format!("\\u{{{:x}}}", u32::from(c)))
        } else {
            let mut b = [0u8; 4];
            Cow::Owned(c.encode_utf8(&mut b).to_string())
        };
        let n = piece.chars().count();
        if chars + n > MAX_TEXT_CHARS {
            out.push_str(&format!("…[cut: {} more chars]", total - i));
            break;
        }
        chars += n;
        out.push_str(&piece);
    }
    Cow::Owned(out)
}

/// Escapes every string and object key in a JSON value (numbers, booleans, null stay).
pub fn escape_value(v: Value) -> Value {
    walk(v, 0)
}

fn walk(v: Value, depth: usize) -> Value {
    if depth >= MAX_DEPTH {
        return Value::String(format!("…[cut: nested deeper than {MAX_DEPTH}]"));
    }
    match v {
        Value::String(s) => match escape(&s) {
            Cow::Borrowed(_) => Value::String(s),
            Cow::Owned(e) => Value::String(e),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|x| walk(x, depth + 1)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, x)| (escape(&k).into_owned(), walk(x, depth + 1)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_become_visible_escapes() {
        assert_eq!(escape("admin\u{202e}gnp.exe"), "admin\\u{202e}gnp.exe");
        assert_eq!(escape("\x1b[2Jhi"), "\\u{1b}[2Jhi");
        assert_eq!(escape("a\nb\tc\rd"), "a\\u{a}b\\u{9}c\\u{d}d");
        assert_eq!(escape("x\u{E0049}\u{E0047}y"), "x\\u{e0049}\\u{e0047}y");
        assert_eq!(
            escape("z\u{200b}w\u{feff}\u{fe0f}"),
            "z\\u{200b}w\\u{feff}\\u{fe0f}"
        );
        assert_eq!(escape("\u{9b}2J\u{7f}"), "\\u{9b}2J\\u{7f}");
    }

    #[test]
    fn an_escape_cannot_be_forged() {
        // A literal backslash-u in the source stays distinguishable from a real escape.
        assert_eq!(escape("\\u{202e}"), "\\\\u{202e}");
    }

    #[test]
    fn clean_text_is_borrowed_and_unicode_kept() {
        assert!(matches!(
            escape("checkout-v2 café ✓ 日本"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn long_text_is_cut_with_a_marker() {
        let s = "y".repeat(MAX_TEXT_CHARS + 50);
        let out = escape(&s);
        assert!(out.starts_with(&"y".repeat(MAX_TEXT_CHARS)));
        assert!(out.ends_with("…[cut: 50 more chars]"));
        let hostile = "\u{202e}".repeat(MAX_TEXT_CHARS);
        assert!(escape(&hostile).chars().count() < MAX_TEXT_CHARS + 40);
    }

    #[test]
    fn values_are_walked_keys_included() {
        let v = serde_json::json!({"k\u{202e}": ["\x07", 1, null, {"d": "ok"}]});
        let out = escape_value(v);
        assert_eq!(
            out,
            serde_json::json!({"k\\u{202e}": ["\\u{7}", 1, null, {"d": "ok"}]})
        );
        let mut deep = serde_json::json!("leaf");
        for _ in 0..(MAX_DEPTH + 5) {
            deep = serde_json::json!([deep]);
        }
        assert!(escape_value(deep).to_string().contains("nested deeper"));
    }
}
