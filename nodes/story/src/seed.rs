//! Seeds in JSON. A seed is any 64-bit unsigned integer, and JSON numbers past 2^53 lose digits
//! in browsers and `jq` (16157121518725781294 reads back as 16157121518725782000), so every seed
//! is **written as a decimal string**; a number is still read, so a request or a stored value that
//! has one keeps working. Use it as `#[serde(with = "showrunner_story::seed")]`, with
//! [`json_schema`] as the field's JSON Schema and, for the HTTP API's document, [`Seed`].

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// The decimal strings of 0 to 18446744073709551615 (`u64::MAX`), without leading zeros.
pub const PATTERN: &str = "^(0|[1-9][0-9]{0,18}|1[0-7][0-9]{18}|18[0-3][0-9]{17}|184[0-3][0-9]{16}|\
                           1844[0-5][0-9]{15}|18446[0-6][0-9]{14}|184467[0-3][0-9]{13}|1844674[0-3][0-9]{12}|\
                           184467440[0-6][0-9]{10}|1844674407[0-2][0-9]{9}|18446744073[0-6][0-9]{8}|\
                           1844674407370[0-8][0-9]{6}|18446744073709[0-4][0-9]{5}|184467440737095[0-4][0-9]{4}|\
                           18446744073709550[0-9]{3}|18446744073709551[0-5][0-9]{2}|1844674407370955160[0-9]|\
                           1844674407370955161[0-4]|18446744073709551615)$";

/// What a seed must be, for error messages and schema descriptions.
const WHAT: &str = "a seed: a whole number from 0 to 18446744073709551615, as a decimal string or a number";

/// Writes a seed as a decimal string.
///
/// # Errors
///
/// The serializer's.
pub fn serialize<S: Serializer>(seed: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(seed)
}

/// Reads a seed from a decimal string or a non-negative whole number.
///
/// # Errors
///
/// Anything else: a negative or fractional number, a string that is not a decimal number in
/// range (leading zeros and signs included), another type.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(SeedVisitor)
}

/// Reads a seed the way [`deserialize`] does, from text.
pub fn parse(text: &str) -> Option<u64> {
    let digits = text.as_bytes();
    let canonical =
        !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) && (digits[0] != b'0' || digits.len() == 1);
    if canonical { text.parse().ok() } else { None }
}

struct SeedVisitor;

impl Visitor<'_> for SeedVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(WHAT)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        Err(E::invalid_value(de::Unexpected::Float(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// The JSON Schema of a seed (for `#[schemars(schema_with = …)]`): a decimal string of
/// [`PATTERN`], or a whole number in range.
pub fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": WHAT,
        "anyOf": [
            {"type": "string", "pattern": PATTERN},
            {"type": "integer", "minimum": 0, "maximum": u64::MAX},
        ],
    })
}

/// A seed in the HTTP API's OpenAPI document: written as a decimal string, read as one or as a
/// number.
#[cfg(feature = "openapi")]
pub struct Seed;

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Seed {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let string = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(PATTERN))
            .examples(["16157121518725781294"]);
        let number = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u64::MAX as f64));
        OneOfBuilder::new()
            .description(Some(
                "A 64-bit seed. Written as a decimal string (JSON numbers past 2^53 lose digits in browsers and \
                 `jq`); a whole number is accepted on input.",
            ))
            .item(string)
            .item(number)
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Seed {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Seed")
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        seed: u64,
    }

    #[test]
    fn seeds_are_written_as_strings_and_read_from_either() {
        let big = Holder {
            seed: 16_157_121_518_725_781_294,
        };
        let json = serde_json::to_string(&big).expect("json");
        assert_eq!(json, r#"{"seed":"16157121518725781294"}"#);
        assert_eq!(serde_json::from_str::<Holder>(&json).expect("back"), big);
        let number: Holder = serde_json::from_str(r#"{"seed":16157121518725781294}"#).expect("a number");
        assert_eq!(number, big);
        let max: Holder = serde_json::from_str(r#"{"seed":"18446744073709551615"}"#).expect("max");
        assert_eq!(max.seed, u64::MAX);
        for bad in [
            r#"{"seed":"18446744073709551616"}"#,
            r#"{"seed":"-1"}"#,
            r#"{"seed":-1}"#,
            r#"{"seed":1.5}"#,
            r#"{"seed":"007"}"#,
            r#"{"seed":"+7"}"#,
            r#"{"seed":""}"#,
            r#"{"seed":null}"#,
        ] {
            let error = serde_json::from_str::<Holder>(bad).expect_err(bad).to_string();
            assert!(error.contains("a whole number from 0 to"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_pattern_matches_exactly_the_seeds() {
        let pattern = regex_lite(super::PATTERN);
        for n in [
            0u64,
            7,
            9_007_199_254_740_993,
            16_157_121_518_725_781_294,
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert!(pattern(&n.to_string()), "{n}");
        }
        for s in ["18446744073709551616", "99999999999999999999", "01", "-1", "", "1e5"] {
            assert!(!pattern(s), "{s}");
        }
    }

    /// The pattern as `jsonschema` checks it.
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
        let schema = serde_json::json!({"type": "string", "pattern": pattern});
        move |s: &str| jsonschema::is_valid(&schema, &serde_json::json!(s))
    }
}
