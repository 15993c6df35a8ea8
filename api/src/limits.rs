//! The bounds of every text and list a request body carries, in one place: the handlers check
//! them ([`text`], [`items`], [`value`]) and the OpenAPI document declares them ([`declare`]
//! writes `maxLength`, `maxItems` and the non-blank `pattern` into the request schemas from
//! [`DECLARED`]), so the two cannot drift apart.
//!
//! Lengths count characters (Unicode scalar values), as JSON Schema's `maxLength` does. A value
//! over its bound is `422 invalid_value` with the field's `path` and the `limit` in the details;
//! a body over [`crate::BODY_LIMIT`] bytes is `413 payload_too_large` before it is parsed.
//!
//! The bounds are generous for people and small for machines: an idea at its bound makes an
//! outline of a few kilobytes, a series at every bound a few hundred kilobytes.

use serde_json::{Value, json};
use utoipa::openapi::schema::{ArrayItems, Object, Schema};
use utoipa::openapi::{OpenApi as Document, RefOr};

use crate::code::ErrorCode;
use crate::error::ApiError;

/// An episode's idea.
pub(crate) const IDEA: usize = 4_000;
/// An episode's screenplay (Fountain): about 200 kB, a feature film's length.
pub(crate) const SCRIPT: usize = 200_000;
/// A workflow's name.
pub(crate) const WORKFLOW: usize = 64;
/// `settings.style`.
pub(crate) const STYLE: usize = 200;
/// `settings.aspect_ratio`.
pub(crate) const ASPECT_RATIO: usize = 16;
/// A series' title.
pub(crate) const TITLE: usize = 200;
/// A bible's `visual_style` and `world`.
pub(crate) const BIBLE_TEXT: usize = 4_000;
/// One rule of a bible.
pub(crate) const RULE: usize = 500;
/// The rules of a bible.
pub(crate) const RULES: usize = 100;
/// The regular characters of a series.
pub(crate) const CHARACTERS: usize = 50;
/// A character's id.
pub(crate) const CHARACTER_ID: usize = 64;
/// A character's name.
pub(crate) const NAME: usize = 100;
/// A character's role, face, body, clothing, personality and voice.
pub(crate) const CHARACTER_TEXT: usize = 1_000;
/// A character's props.
pub(crate) const PROPS: usize = 20;
/// One prop.
pub(crate) const PROP: usize = 200;
/// A chat message.
pub(crate) const MESSAGE: usize = 4_000;
/// The feedback of a regenerate.
pub(crate) const FEEDBACK: usize = 2_000;
/// Any string inside an edited value (a synopsis, a description, a line of dialogue).
pub(crate) const VALUE_TEXT: usize = 20_000;
/// Any list inside an edited value (beats, characters, scenes, shots, lines).
pub(crate) const VALUE_ITEMS: usize = 1_000;
/// How deep an edited value may nest (the stage types nest four levels).
pub(crate) const VALUE_DEPTH: usize = 16;

/// The characters that make a string blank: Rust's `char::is_whitespace` (Unicode
/// `White_Space`), as ranges of code points.
const WHITE_SPACE: &[(u32, u32)] = &[
    (0x09, 0x0d),
    (0x20, 0x20),
    (0x85, 0x85),
    (0xa0, 0xa0),
    (0x1680, 0x1680),
    (0x2000, 0x200a),
    (0x2028, 0x2029),
    (0x202f, 0x202f),
    (0x205f, 0x205f),
    (0x3000, 0x3000),
];

/// The pattern of a string that is not blank: one character, at least, that is not white space,
/// as a class of `\uXXXX` escapes that ECMA-262, Python and Rust regular expressions read alike.
pub(crate) fn non_blank_pattern() -> String {
    let class: String = WHITE_SPACE
        .iter()
        .map(|&(a, b)| match a == b {
            true => format!("\\u{a:04x}"),
            false => format!("\\u{a:04x}-\\u{b:04x}"),
        })
        .collect();
    format!("[^{class}]")
}

/// True when `s` is empty or only white space (what [`non_blank_pattern`] refuses).
pub(crate) fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// A bound the document declares on a property.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bound {
    /// `maxLength` of a string.
    Text(usize),
    /// `maxLength` of a string, and not blank (`minLength: 1` and the non-blank pattern).
    NonBlank(usize),
    /// `maxItems` of a list.
    Items(usize),
    /// `maxLength` of each string of a list.
    EachText(usize),
}

/// What the document declares: (schema, property, bound). Each is checked by a handler with the
/// same constant; `declare` fails the document's test if one names a property that is not there.
pub(crate) const DECLARED: &[(&str, &str, Bound)] = &[
    ("CreateEpisode", "workflow", Bound::NonBlank(WORKFLOW)),
    ("CreateEpisode", "idea", Bound::NonBlank(IDEA)),
    ("CreateEpisode", "script", Bound::NonBlank(SCRIPT)),
    ("Settings", "style", Bound::Text(STYLE)),
    ("Settings", "aspect_ratio", Bound::Text(ASPECT_RATIO)),
    ("CreateSeries", "title", Bound::NonBlank(TITLE)),
    ("CreateSeries", "characters", Bound::Items(CHARACTERS)),
    ("UpdateSeries", "title", Bound::NonBlank(TITLE)),
    ("UpdateSeries", "characters", Bound::Items(CHARACTERS)),
    ("Bible", "visual_style", Bound::Text(BIBLE_TEXT)),
    ("Bible", "world", Bound::Text(BIBLE_TEXT)),
    ("Bible", "rules", Bound::Items(RULES)),
    ("Bible", "rules", Bound::EachText(RULE)),
    ("CharacterInput", "id", Bound::Text(CHARACTER_ID)),
    ("CharacterInput", "name", Bound::NonBlank(NAME)),
    ("CharacterInput", "role", Bound::Text(CHARACTER_TEXT)),
    ("CharacterInput", "personality", Bound::Text(CHARACTER_TEXT)),
    ("CharacterInput", "voice", Bound::Text(CHARACTER_TEXT)),
    ("StaticFeatures", "face", Bound::Text(CHARACTER_TEXT)),
    ("StaticFeatures", "body", Bound::Text(CHARACTER_TEXT)),
    ("DynamicFeatures", "clothing", Bound::Text(CHARACTER_TEXT)),
    ("DynamicFeatures", "props", Bound::Items(PROPS)),
    ("DynamicFeatures", "props", Bound::EachText(PROP)),
    ("MessageBody", "text", Bound::NonBlank(MESSAGE)),
    ("RegenerateBody", "feedback", Bound::Text(FEEDBACK)),
];

/// `422 invalid_value` for a value over its bound.
fn over(path: &str, what: &str, limit: usize, found: usize) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidValue,
        format!("`{path}` has {found} {what}; at most {limit} are allowed"),
    )
    .with_details(json!({"path": path, "limit": limit, "found": found}))
}

/// Refuses a string over `limit` characters.
pub(crate) fn text(path: &str, value: &str, limit: usize) -> Result<(), ApiError> {
    // Bytes bound characters from above: most strings need no count.
    if value.len() <= limit {
        return Ok(());
    }
    match value.chars().count() {
        n if n > limit => Err(over(path, "characters", limit, n)),
        _ => Ok(()),
    }
}

/// Refuses a blank string, or one over `limit` characters.
pub(crate) fn non_blank(path: &str, value: &str, limit: usize) -> Result<(), ApiError> {
    if is_blank(value) {
        return Err(ApiError::invalid_value(path, format!("`{path}` is blank")));
    }
    text(path, value, limit)
}

/// Refuses a list over `limit` items.
pub(crate) fn items<T>(path: &str, list: &[T], limit: usize) -> Result<(), ApiError> {
    match list.len() {
        n if n > limit => Err(over(path, "items", limit, n)),
        _ => Ok(()),
    }
}

/// Refuses a list over `limit` items, or one of its strings over `each` characters.
pub(crate) fn texts(path: &str, list: &[String], limit: usize, each: usize) -> Result<(), ApiError> {
    items(path, list, limit)?;
    list.iter()
        .enumerate()
        .try_for_each(|(i, s)| text(&format!("{path}[{i}]"), s, each))
}

/// Refuses an edited value with a string over [`VALUE_TEXT`] characters, a list over
/// [`VALUE_ITEMS`] items, or nesting deeper than [`VALUE_DEPTH`]; `path` names it in the body.
pub(crate) fn value(path: &str, v: &Value) -> Result<(), ApiError> {
    fn walk(path: &mut String, v: &Value, depth: usize) -> Result<(), ApiError> {
        if depth > VALUE_DEPTH {
            return Err(over(path, "levels of nesting", VALUE_DEPTH, depth));
        }
        let len = path.len();
        let result = match v {
            Value::String(s) => text(path, s, VALUE_TEXT),
            Value::Array(list) => items(path, list, VALUE_ITEMS).and_then(|()| {
                list.iter().enumerate().try_for_each(|(i, item)| {
                    path.truncate(len);
                    path.push_str(&format!("[{i}]"));
                    walk(path, item, depth + 1)
                })
            }),
            Value::Object(fields) => fields.iter().try_for_each(|(name, field)| {
                path.truncate(len);
                path.push('.');
                path.push_str(name);
                walk(path, field, depth + 1)
            }),
            _ => Ok(()),
        };
        path.truncate(len);
        result
    }
    walk(&mut path.to_owned(), v, 0)
}

/// Writes [`DECLARED`] into the document's schemas. Panics (in the document's own test, since
/// the document is built there first) when a bound names a schema or property that is not there.
pub(crate) fn declare(doc: &mut Document) {
    let Some(components) = doc.components.as_mut() else {
        panic!("the document has no components");
    };
    for (schema, property, bound) in DECLARED {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*schema) else {
            panic!("no object schema {schema} to bound");
        };
        let Some(field) = object.properties.get_mut(*property) else {
            panic!("{schema} has no property {property}");
        };
        bound_property(field, *bound, schema, property);
    }
}

/// Writes `bound` into one property's schema (a string or list, perhaps nullable).
fn bound_property(field: &mut RefOr<Schema>, bound: Bound, schema: &str, property: &str) {
    let what = format!("{schema}.{property}");
    match (field, bound) {
        (RefOr::T(Schema::Object(object)), Bound::Text(n)) => object.max_length = Some(n),
        (RefOr::T(Schema::Object(object)), Bound::NonBlank(n)) => non_blank_schema(object, n),
        (RefOr::T(Schema::Array(array)), Bound::Items(n)) => array.max_items = Some(n),
        (RefOr::T(Schema::Array(array)), Bound::EachText(n)) => match &mut array.items {
            ArrayItems::RefOrSchema(items) => match items.as_mut() {
                RefOr::T(Schema::Object(item)) => item.max_length = Some(n),
                _ => panic!("{what}'s items are not inline strings"),
            },
            ArrayItems::False => panic!("{what} has no items"),
        },
        (_, bound) => panic!("{what} cannot take {bound:?}"),
    }
}

/// A string of 1 to `n` characters, not blank.
fn non_blank_schema(object: &mut Object, n: usize) {
    object.min_length = Some(1);
    object.max_length = Some(n);
    object.pattern = Some(non_blank_pattern());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blank_ranges_are_rusts_white_space() {
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            let listed = WHITE_SPACE.iter().any(|&(a, b)| (a..=b).contains(&(c as u32)));
            assert_eq!(listed, c.is_whitespace(), "U+{:04X}", c as u32);
        }
        assert_eq!(
            non_blank_pattern(),
            r"[^\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028-\u2029\u202f\u205f\u3000]"
        );
        assert!(is_blank(" \t\u{3000}\n"));
        assert!(!is_blank(" a "));
    }

    #[test]
    fn a_value_is_refused_at_the_path_of_its_long_string_or_list() {
        let long = "x".repeat(VALUE_TEXT + 1);
        let error = value("value", &json!({"beats": [{"summary": "ok"}, {"summary": long}]})).expect_err("long");
        assert!(error.to_string().contains("value.beats[1].summary"), "{error}");
        let many = vec![json!(1); VALUE_ITEMS + 1];
        value("value", &json!({"a": many})).expect_err("many");
        let at = "x".repeat(VALUE_TEXT);
        value("value", &json!({"a": [at]})).expect("at the bound");
        let mut deep = json!(1);
        for _ in 0..=VALUE_DEPTH {
            deep = json!([deep]);
        }
        value("value", &deep).expect_err("deep");
    }
}
