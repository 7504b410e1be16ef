//! The OFREP request body and its evaluation context, read strictly within bounds and turned
//! into the domain's `User`. Never echoes the context back: errors name the problem only.

use crate::domain::eval::User;
use serde_json::Value;

/// Top-level attributes in one evaluation context (besides `targetingKey`).
pub const MAX_CONTEXT_KEYS: usize = 64;
/// Nesting of objects and arrays inside a context.
pub const MAX_CONTEXT_DEPTH: usize = 4;
/// Bytes of a `targetingKey`.
pub const MAX_TARGETING_KEY: usize = 256;
/// Bytes of one attribute name or string value (segments included).
pub const MAX_ATTRIBUTE_BYTES: usize = 1024;
/// Segments in a context's `segments` array.
pub const MAX_SEGMENTS: usize = 64;

/// Why a body cannot be evaluated: the OFREP error code and its details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    pub code: &'static str,
    pub details: String,
}

fn bad(code: &'static str, details: impl Into<String>) -> Bad {
    Bad {
        code,
        details: details.into(),
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The context of an OFREP body (`{"context": {…}}`), as the domain's user.
pub fn parse(bytes: &[u8]) -> Result<(User, Value), Bad> {
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| bad("PARSE_ERROR", format!("the body is not valid JSON ({e})")))?;
    let Value::Object(mut body) = body else {
        return Err(bad(
            "INVALID_CONTEXT",
            "the body must be a JSON object: {\"context\": {\"targetingKey\": …}}",
        ));
    };
    let context = match body.remove("context") {
        Some(Value::Object(c)) => c,
        Some(_) => return Err(bad("INVALID_CONTEXT", "`context` must be a JSON object")),
        None => {
            return Err(bad(
                "TARGETING_KEY_MISSING",
                "the body has no `context`; send {\"context\": {\"targetingKey\": …}}",
            ));
        }
    };
    let user = user(&context)?;
    Ok((user, Value::Object(context)))
}

fn user(context: &serde_json::Map<String, Value>) -> Result<User, Bad> {
    if context.len() > MAX_CONTEXT_KEYS + 1 {
        return Err(bad(
            "INVALID_CONTEXT",
            format!("a context has at most {MAX_CONTEXT_KEYS} attributes besides targetingKey"),
        ));
    }
    let id = match context.get("targetingKey") {
        None | Some(Value::Null) => {
            return Err(bad(
                "TARGETING_KEY_MISSING",
                "the context has no `targetingKey`: flagtop buckets users by it",
            ));
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(bad("TARGETING_KEY_MISSING", "`targetingKey` is empty"));
        }
        Some(Value::String(s)) if s.len() > MAX_TARGETING_KEY => {
            return Err(bad(
                "INVALID_CONTEXT",
                format!("`targetingKey` is longer than {MAX_TARGETING_KEY} bytes"),
            ));
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("INVALID_CONTEXT", "`targetingKey` must be a string")),
    };
    let mut u = User {
        id,
        ..Default::default()
    };
    for (k, v) in context {
        if k == "targetingKey" {
            continue;
        }
        if k.len() > MAX_ATTRIBUTE_BYTES {
            return Err(bad(
                "INVALID_CONTEXT",
                format!("attribute names are at most {MAX_ATTRIBUTE_BYTES} bytes"),
            ));
        }
        if depth(v) > MAX_CONTEXT_DEPTH {
            return Err(bad(
                "INVALID_CONTEXT",
                format!("attribute values nest at most {MAX_CONTEXT_DEPTH} levels"),
            ));
        }
        match v {
            Value::String(s) if s.len() > MAX_ATTRIBUTE_BYTES => {
                return Err(bad(
                    "INVALID_CONTEXT",
                    format!("attribute values are at most {MAX_ATTRIBUTE_BYTES} bytes"),
                ));
            }
            Value::String(s) => {
                u.attributes.insert(k.clone(), s.clone());
            }
            Value::Number(n) => {
                u.attributes.insert(k.clone(), n.to_string());
            }
            Value::Bool(b) => {
                u.attributes.insert(k.clone(), b.to_string());
            }
            Value::Array(items) if k == "segments" => {
                if items.len() > MAX_SEGMENTS {
                    return Err(bad(
                        "INVALID_CONTEXT",
                        format!("at most {MAX_SEGMENTS} segments"),
                    ));
                }
                for s in items {
                    match s {
                        Value::String(s) if s.len() <= MAX_ATTRIBUTE_BYTES => {
                            u.segments.push(s.clone())
                        }
                        _ => {
                            return Err(bad(
                                "INVALID_CONTEXT",
                                "`segments` is an array of strings",
                            ));
                        }
                    }
                }
            }
            // Other shapes are accepted (within bounds) but select nothing.
            _ => {}
        }
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> &'static str {
        parse(body.as_bytes()).err().map_or("ok", |b| b.code)
    }

    #[test]
    fn bad_bodies_get_their_codes() {
        assert_eq!(code("{"), "PARSE_ERROR");
        assert_eq!(code("[1]"), "INVALID_CONTEXT");
        assert_eq!(code(r#"{"context": 3}"#), "INVALID_CONTEXT");
        assert_eq!(code(r#"{}"#), "TARGETING_KEY_MISSING");
        assert_eq!(code(r#"{"context": {}}"#), "TARGETING_KEY_MISSING");
        assert_eq!(
            code(r#"{"context": {"targetingKey": 7}}"#),
            "INVALID_CONTEXT"
        );
        assert_eq!(
            code(r#"{"context": {"targetingKey": "u", "a": [[[[[1]]]]]}}"#),
            "INVALID_CONTEXT"
        );
        assert_eq!(
            code(r#"{"context": {"targetingKey": "u", "a": [[[[1]]]]}}"#),
            "ok"
        );
        let long = "x".repeat(MAX_TARGETING_KEY + 1);
        assert_eq!(
            code(&format!(r#"{{"context": {{"targetingKey": "{long}"}}}}"#)),
            "INVALID_CONTEXT"
        );
        let many: Vec<String> = (0..=MAX_CONTEXT_KEYS)
            .map(|i| format!(r#""k{i}": 1"#))
            .collect();
        assert_eq!(
            code(&format!(
                r#"{{"context": {{"targetingKey": "u", {}}}}}"#,
                many.join(",")
            )),
            "INVALID_CONTEXT"
        );
    }

    #[test]
    fn attributes_and_segments_become_the_user() {
        let (u, _) = parse(br#"{"context": {"targetingKey": "u1", "region": "eu-west", "n": 3, "segments": ["beta"]}}"#)
            .unwrap_or_else(|b| panic!("{b:?}"));
        assert_eq!(u.id, "u1");
        assert_eq!(
            u.attributes.get("region").map(String::as_str),
            Some("eu-west")
        );
        assert_eq!(u.attributes.get("n").map(String::as_str), Some("3"));
        assert_eq!(u.segments, vec!["beta".to_string()]);
    }
}
