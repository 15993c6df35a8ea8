//! Editing one field of a stage's value from a chat message: the node that holds the field, and
//! the field itself, found by the subject the message names (`set Mara's clothing to …`,
//! `change Milo's hair to blue`).

use serde_json::{Value, json};
use showrunner_engine::EpisodeSnapshot;

use crate::intent::EditRequest;

/// The fields of a character, as people name them.
const CHARACTER_FIELDS: [&str; 10] = [
    "clothing",
    "clothes",
    "hair",
    "face",
    "body",
    "personality",
    "props",
    "prop",
    "voice",
    "role",
];

/// The node that holds `field`, when it is a character's and the episode has a cast to edit.
pub(crate) fn field_home(s: &EpisodeSnapshot, field: &str) -> Option<String> {
    let field = field.trim().to_lowercase();
    let cast = s
        .instances
        .iter()
        .find(|r| r.key.node == "characters" && r.current.is_some())?;
    CHARACTER_FIELDS
        .contains(&field.as_str())
        .then(|| cast.key.node.clone())
}

/// Sets the text field `edit.field` in `value`: in the list element the subject names when the
/// value is a list (or the only element), else at the top level or one object down. True when
/// a field was set.
pub(crate) fn set_field(value: &mut Value, edit: &EditRequest) -> bool {
    match value {
        Value::Array(items) => {
            let index = match edit.subject.as_deref() {
                Some(subject) => items.iter().position(|item| mentions(item, subject)),
                None if items.len() == 1 => Some(0),
                None => None,
            };
            index.is_some_and(|i| set_in_object(&mut items[i], &edit.field, &edit.value))
        }
        other => set_in_object(other, &edit.field, &edit.value),
    }
}

/// True when one of the element's text fields holds the subject (or its last word: "the old
/// detective" finds a "detective").
fn mentions(item: &Value, subject: &str) -> bool {
    let subject = subject.to_lowercase();
    let words: Vec<&str> = subject
        .split_whitespace()
        .filter(|w| !matches!(*w, "the" | "a" | "an" | "our" | "my"))
        .collect();
    let Some(last) = words.last() else { return false };
    let texts: Vec<String> = match item {
        Value::Object(fields) => fields
            .iter()
            .filter_map(|(k, v)| {
                v.as_str()
                    .filter(|_| matches!(k.as_str(), "id" | "name" | "role" | "slugline"))
            })
            .map(str::to_lowercase)
            .collect(),
        _ => Vec::new(),
    };
    texts
        .iter()
        .any(|t| t.contains(&words.join(" ")) || t.split_whitespace().any(|w| w == *last))
}

/// Sets a string field named `field` (spaces as underscores) at the top of `value` or one object
/// down (`dynamic_features.clothing`). A field that holds a list of strings gets a one-element
/// list.
fn set_in_object(value: &mut Value, field: &str, text: &str) -> bool {
    let mut field = field.trim().to_lowercase().replace([' ', '-'], "_");
    if field == "clothes" {
        field = "clothing".into();
    }
    if field == "hair" {
        return set_hair(value, text);
    }
    let Value::Object(fields) = value else { return false };
    if let Some(slot) = fields.get_mut(&field) {
        return set_text(slot, text);
    }
    fields
        .values_mut()
        .filter_map(|v| v.as_object_mut())
        .find_map(|inner| inner.get_mut(&field))
        .is_some_and(|slot| set_text(slot, text))
}

/// A character's hair lives in its face's words (`round face, dark eyes, black hair`): the words
/// before `hair` are replaced by `text` (or `text hair` is added).
fn set_hair(value: &mut Value, text: &str) -> bool {
    let Some(face) = value.pointer_mut("/static_features/face") else {
        return false;
    };
    let Some(words) = face.as_str() else { return false };
    let colour = text.trim().trim_end_matches(" hair").trim();
    let parts: Vec<String> = words.split(", ").map(str::to_owned).collect();
    let mut found = false;
    let parts: Vec<String> = parts
        .into_iter()
        .map(|p| {
            if p.ends_with("hair") {
                found = true;
                format!("{colour} hair")
            } else {
                p
            }
        })
        .collect();
    let mut joined = parts.join(", ");
    if !found {
        joined = format!("{joined}, {colour} hair");
    }
    *face = Value::String(joined);
    true
}

fn set_text(slot: &mut Value, text: &str) -> bool {
    match slot {
        Value::String(_) | Value::Null => *slot = Value::String(text.to_owned()),
        Value::Array(items) if items.iter().all(Value::is_string) => *slot = json!([text]),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(subject: Option<&str>, field: &str, value: &str) -> EditRequest {
        EditRequest {
            subject: subject.map(str::to_owned),
            field: field.to_owned(),
            value: value.to_owned(),
        }
    }

    #[test]
    fn an_edit_finds_the_named_element_and_the_nested_field() {
        let mut cast = json!([
            {"id": "mara", "name": "Mara", "role": "the detective", "dynamic_features": {"clothing": "a grey coat", "props": []}},
            {"id": "ode", "name": "Ode", "role": "the keeper", "dynamic_features": {"clothing": "a blue coat", "props": []}},
        ]);
        assert!(set_field(
            &mut cast,
            &edit(Some("the detective"), "clothing", "a red raincoat")
        ));
        assert_eq!(cast[0]["dynamic_features"]["clothing"], "a red raincoat");
        assert_eq!(cast[1]["dynamic_features"]["clothing"], "a blue coat");
        assert!(set_field(&mut cast, &edit(Some("Ode"), "props", "a lamp")));
        assert_eq!(cast[1]["dynamic_features"]["props"], json!(["a lamp"]));
        assert!(!set_field(&mut cast, &edit(Some("nobody"), "clothing", "x")));
        assert!(
            !set_field(&mut cast, &edit(None, "clothing", "x")),
            "two elements, none named"
        );
    }

    #[test]
    fn hair_is_set_in_the_face_and_clothes_are_clothing() {
        let mut cast = json!([
            {"id": "milo", "name": "Milo", "static_features": {"face": "round face, black hair", "body": "tall"},
             "dynamic_features": {"clothing": "a grey coat"}},
        ]);
        assert!(set_field(&mut cast, &edit(Some("Milo"), "hair", "blue")));
        assert_eq!(cast[0]["static_features"]["face"], "round face, blue hair");
        assert!(set_field(&mut cast, &edit(Some("Milo"), "clothes", "a red cape")));
        assert_eq!(cast[0]["dynamic_features"]["clothing"], "a red cape");
    }

    #[test]
    fn an_edit_of_a_single_value_sets_its_top_level_field() {
        let mut outline = json!({"logline": "old", "synopsis": "s", "beats": [{"id": "beat-1", "summary": "s"}]});
        assert!(set_field(
            &mut outline,
            &edit(None, "logline", "A thief steals the moon")
        ));
        assert_eq!(outline["logline"], "A thief steals the moon");
        assert!(
            !set_field(&mut outline, &edit(None, "beats", "x")),
            "not a list of strings"
        );
        assert!(!set_field(&mut outline, &edit(None, "title", "x")));
    }
}
