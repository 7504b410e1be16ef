//! Reading a definition's dates (`review_by`) from JSON strings and TOML dates; the error names
//! the field. Pure parsing.

use chrono::NaiveDate;
use serde::Deserializer;

/// `review_by` from JSON (`"2026-12-31"`) or TOML (a bare date `2026-12-31`, or a string); the
/// error names the field.
pub fn de_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<NaiveDate>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("`review_by` as a date like 2026-12-31")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    let shown: String = s.chars().filter(|c| !c.is_control()).take(40).collect();
                    E::custom(format!(
                        "`review_by` must be a date like 2026-12-31, got `{shown}`"
                    ))
                })
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
        // TOML hands a bare date over as a one-entry map holding its text.
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            match m.next_entry::<String, String>()? {
                Some((_, text)) => self.visit_str(&text),
                None => Err(serde::de::Error::custom(
                    "`review_by` must be a date like 2026-12-31",
                )),
            }
        }
    }
    d.deserialize_any(V)
}
