//! `SmallMap`: the map for the handful of entries a flag holds per environment or a ladder stage
//! per cohort. A `BTreeMap` allocates a whole node (11 slots) for even one entry: with 10,000
//! flags that was about 2 KB per flag for `environments` and 300 B per stage for `targets`.
//! `litemap` keeps the entries in one sorted `Vec` with the same ordered iteration and lookups.

use serde::{Serialize, Serializer};

pub type SmallMap<K, V> = litemap::LiteMap<K, V>;

/// Serialise as a JSON object always. (`LiteMap` writes an empty map as `[]` for human-readable
/// formats; our API and store documents promise an object.) Reading accepts both.
pub fn as_object<K: Serialize, V: Serialize, S: Serializer>(
    m: &SmallMap<K, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(m.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Holder {
        #[serde(serialize_with = "as_object")]
        m: SmallMap<String, u8>,
    }

    #[test]
    fn empty_and_full_maps_are_json_objects_and_read_back_sorted() {
        let empty = Holder { m: SmallMap::new() };
        assert_eq!(
            serde_json::to_string(&empty).ok().as_deref(),
            Some(r#"{"m":{}}"#)
        );
        let parsed: Result<Holder, _> = serde_json::from_str(r#"{"m":{"b":2,"a":1,"b":3}}"#);
        let Ok(parsed) = parsed else {
            panic!("{parsed:?}")
        };
        // Sorted by key; a repeated key keeps its last value, as with BTreeMap.
        assert_eq!(
            parsed
                .m
                .iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect::<Vec<_>>(),
            vec![("a", 1), ("b", 3)]
        );
        assert_eq!(
            serde_json::to_string(&parsed).ok().as_deref(),
            Some(r#"{"m":{"a":1,"b":3}}"#)
        );
        let empty_back: Result<Holder, _> = serde_json::from_str(r#"{"m":{}}"#);
        assert_eq!(empty_back.ok(), Some(empty));
    }
}
