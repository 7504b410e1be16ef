//! Owns strict reading of a TOML document with positions: syntax errors (all of them), unknown
//! keys with "did you mean" hints, and typed getters that report a wrong type where it stands.
//! It must not know what any key means.

use super::problem::{Problems, Source, choices_hint};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub type Value<'i> = Spanned<DeValue<'i>>;

/// Parses `src`; every syntax error becomes a problem. `None` when there were syntax errors
/// (their positions are reliable; anything after them would only add noise).
pub fn parse<'i>(src: &'i Source, p: &mut Problems) -> Option<DeTable<'i>> {
    let (table, errors) = DeTable::parse_recoverable(&src.text);
    for e in &errors {
        let at = e.span().map_or(0, |s| s.start);
        p.error(
            src,
            at,
            format!("invalid TOML: {}", e.message().trim()),
            None,
        );
    }
    errors.is_empty().then(|| table.into_inner())
}

/// Reports every key of `table` not in `allowed` (`what` names the table in messages).
pub fn check_keys(
    src: &Source,
    table: &DeTable<'_>,
    allowed: &[&str],
    what: &str,
    p: &mut Problems,
) {
    for (k, _) in table.iter() {
        let name: &str = k.get_ref();
        if !allowed.contains(&name) {
            p.error(
                src,
                k.span().start,
                format!("unknown key `{}` in {what}", name.escape_debug()),
                Some(choices_hint(name, allowed)),
            );
        }
    }
}

pub fn get<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Value<'i>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

/// Start offset of the key `key` in `table` (for problems about the key itself).
pub fn key_at(table: &DeTable<'_>, key: &str) -> Option<usize> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(k, _)| k.span().start)
}

fn wrong_type(src: &Source, v: &Value<'_>, key: &str, want: &str, p: &mut Problems) {
    p.error(
        src,
        v.span().start,
        format!("`{key}` must be {want}, found {}", v.get_ref().type_str()),
        None,
    );
}

pub fn string<'a>(
    src: &Source,
    table: &'a DeTable<'_>,
    key: &str,
    p: &mut Problems,
) -> Option<(&'a str, usize)> {
    let v = get(table, key)?;
    match v.get_ref().as_str() {
        Some(s) => Some((s, v.span().start)),
        None => {
            wrong_type(src, v, key, "a string", p);
            None
        }
    }
}

pub fn boolean(src: &Source, table: &DeTable<'_>, key: &str, p: &mut Problems) -> Option<bool> {
    let v = get(table, key)?;
    match v.get_ref().as_bool() {
        Some(b) => Some(b),
        None => {
            wrong_type(src, v, key, "true or false", p);
            None
        }
    }
}

/// An integer within `lo..=hi`.
pub fn integer(
    src: &Source,
    table: &DeTable<'_>,
    key: &str,
    lo: i64,
    hi: i64,
    p: &mut Problems,
) -> Option<i64> {
    let v = get(table, key)?;
    let Some(i) = v.get_ref().as_integer() else {
        wrong_type(src, v, key, "a whole number", p);
        return None;
    };
    match i64::from_str_radix(i.as_str(), i.radix())
        .ok()
        .filter(|n| (lo..=hi).contains(n))
    {
        Some(n) => Some(n),
        None => {
            p.error(
                src,
                v.span().start,
                format!(
                    "`{key}` must be between {lo} and {hi}, found {}",
                    i.as_str()
                ),
                None,
            );
            None
        }
    }
}

pub fn table<'a, 'i>(
    src: &Source,
    parent: &'a DeTable<'i>,
    key: &str,
    p: &mut Problems,
) -> Option<&'a DeTable<'i>> {
    let v = get(parent, key)?;
    match v.get_ref().as_table() {
        Some(t) => Some(t),
        None => {
            wrong_type(src, v, key, "a table", p);
            None
        }
    }
}

pub fn array<'a, 'i>(
    src: &Source,
    parent: &'a DeTable<'i>,
    key: &str,
    p: &mut Problems,
) -> Option<&'a [Value<'i>]> {
    let v = get(parent, key)?;
    match v.get_ref().as_array() {
        Some(a) => Some(a.as_ref()),
        None => {
            wrong_type(src, v, key, "an array", p);
            None
        }
    }
}
