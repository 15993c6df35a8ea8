//! What the model is asked for each text stage: the chat messages, the JSON Schema its answer
//! is constrained to, and the draft types the answer deserialises into.
//!
//! The schemas are the stages' own, instantiated per request: the cast's names are fixed keys
//! (names, and so ids, stay stable across regenerates), scene and shot counts come from the
//! target duration, and who appears or speaks is an `enum` of the cast. What is not the model's
//! to choose (ids, durations, seeds) is not in the schema.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use showrunner_story::facts::Facts;
use showrunner_story::model::{Angle, Brief, Character, Movement, Outline, Scene, ShotType};

/// The system message of every stage.
const SYSTEM: &str = "You are a screenwriter for short animated episodes. You answer with JSON only: \
                      short, vivid, concrete sentences.";

/// A string of `min` to `max` characters: the minimum keeps a small model from answering a
/// description with one word.
fn text(min: usize, max: usize) -> Value {
    json!({"type": "string", "minLength": min, "maxLength": max})
}

/// One of `values`.
fn one_of<S: AsRef<str>>(values: &[S]) -> Value {
    json!({"type": "string", "enum": values.iter().map(AsRef::as_ref).collect::<Vec<_>>()})
}

/// An object of `properties`, all required, in this order.
fn object(properties: Vec<(String, Value)>) -> Value {
    let order: Vec<&String> = properties.iter().map(|(k, _)| k).collect();
    json!({
        "type": "object",
        "required": order,
        "additionalProperties": false,
        "properties": properties.iter().cloned().collect::<serde_json::Map<_, _>>(),
    })
}

fn fields(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

/// The wire names of a serde enum's values.
fn names<T: serde::Serialize>(values: &[T]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| serde_json::to_value(v).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The user message's common head: the idea, the series, the regenerate's note.
fn brief_lines(brief: &Brief, premise: &str, feedback: Option<&str>) -> String {
    let mut lines = format!("Idea: {premise}\n");
    if let Some(series) = &brief.series {
        if !series.bible.world.trim().is_empty() {
            lines.push_str(&format!("World: {}\n", series.bible.world.trim()));
        }
        if !series.bible.visual_style.trim().is_empty() {
            lines.push_str(&format!("Style: {}\n", series.bible.visual_style.trim()));
        }
        for rule in &series.bible.rules {
            lines.push_str(&format!("Rule: {}\n", rule.trim()));
        }
    }
    if !brief.settings.style.trim().is_empty() {
        lines.push_str(&format!("Look: {}\n", brief.settings.style.trim()));
    }
    if let Some(note) = feedback.map(str::trim).filter(|n| !n.is_empty()) {
        lines.push_str(&format!("The director's note on the last draft, follow it: {note}\n"));
    }
    // What the idea and the note state, for the model to keep.
    lines.push_str(&Facts::of_brief(brief).with_note(feedback).prompt_lines());
    lines
}

/// The chat and schema of one stage call.
pub struct Ask {
    /// System and user messages.
    pub messages: Vec<super::Message>,
    /// The answer's schema.
    pub schema: Value,
}

fn ask(user: String, schema: Value) -> Ask {
    Ask {
        messages: vec![super::Message::system(SYSTEM), super::Message::user(user)],
        schema,
    }
}

/// The outline the model writes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlineDraft {
    /// One sentence.
    pub logline: String,
    /// A short paragraph.
    pub synopsis: String,
    /// The story's turns.
    pub beats: Vec<String>,
}

/// The outline's request.
pub fn outline(brief: &Brief, premise: &str, feedback: Option<&str>) -> Ask {
    let user = format!(
        "{}Outline this episode.\n- logline: the story in one sentence, who wants what and what stands in the way.\n\
         - synopsis: what happens, in two or three sentences.\n- beats: three to five events in story order, each a \
         short sentence, like \"The keeper finds the lamp broken.\"",
        brief_lines(brief, premise, feedback)
    );
    let schema = object(fields(&[
        ("logline", text(30, 160)),
        ("synopsis", text(80, 360)),
        (
            "beats",
            json!({"type": "array", "items": text(20, 120), "minItems": 3, "maxItems": 5}),
        ),
    ]));
    ask(user, schema)
}

/// A character as the model describes them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharacterDraft {
    /// Their part in the story.
    pub role: String,
    /// Face and hair.
    pub face: String,
    /// Build and bearing.
    pub body: String,
    /// What they wear.
    pub clothing: String,
    /// What they carry.
    pub prop: String,
    /// Temperament.
    pub personality: String,
}

fn outline_lines(outline: &Outline) -> String {
    let beats: Vec<&str> = outline.beats.iter().map(|b| b.summary.as_str()).collect();
    format!(
        "Logline: {}\nSynopsis: {}\nBeats: {}\n",
        outline.logline,
        outline.synopsis,
        beats.join(" / ")
    )
}

/// The cast's request: one description per name, keyed by name.
pub fn characters(brief: &Brief, premise: &str, outline: &Outline, names: &[String], feedback: Option<&str>) -> Ask {
    let user = format!(
        "{}{}Describe each character of this episode so that an artist draws them the same way in every shot: \
         {}.\n- role: their part in the story, like \"the keeper's daughter, who goes looking for him\".\n\
         - face: face and hair, like \"a narrow face, grey eyes, short black hair\".\n- body: build and height, \
         like \"tall and wiry\".\n- clothing: what they wear, with colours, like \"a yellow oilskin coat over a \
         blue jumper\".\n- prop: one thing they carry, like \"a brass lantern\".\n- personality: two or three \
         traits, like \"stubborn, kind, quick to laugh\".",
        brief_lines(brief, premise, feedback),
        outline_lines(outline),
        names.join(", ")
    );
    let one = object(fields(&[
        ("role", text(12, 80)),
        ("face", text(20, 100)),
        ("body", text(8, 80)),
        ("clothing", text(15, 100)),
        ("prop", text(4, 40)),
        ("personality", text(12, 100)),
    ]));
    let schema = object(names.iter().map(|n| (n.clone(), one.clone())).collect());
    ask(user, schema)
}

/// The cast's answer.
pub type CharactersDraft = BTreeMap<String, CharacterDraft>;

/// A line of dialogue as the model writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineDraft {
    /// Who says it, by name.
    pub speaker: String,
    /// What they say.
    pub line: String,
}

/// A scene as the model writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneDraft {
    /// Where.
    pub place: String,
    /// `INT` or `EXT`.
    pub setting: String,
    /// `DAY`, `NIGHT`, `DAWN` or `DUSK`.
    pub time: String,
    /// What happens.
    pub description: String,
    /// Who is there, by name.
    pub characters: Vec<String>,
    /// What is said.
    pub script: Vec<LineDraft>,
}

/// The times of day a scene can have.
pub const TIMES: [&str; 4] = ["DAY", "NIGHT", "DAWN", "DUSK"];

fn cast_lines(characters: &[Character]) -> String {
    let mut lines = String::from("Characters:\n");
    for c in characters {
        lines.push_str(&format!(
            "- {} ({}): {}, {}.\n",
            c.name, c.role, c.static_features.face, c.dynamic_features.clothing
        ));
    }
    lines
}

/// The scenes' request: `ids` in order, each with the beat it covers.
pub fn scenes(
    brief: &Brief,
    premise: &str,
    outline: &Outline,
    characters: &[Character],
    ids: &[(String, String)],
    feedback: Option<&str>,
) -> Ask {
    let plan: Vec<String> = ids.iter().map(|(id, beat)| format!("{id}: {beat}")).collect();
    let user = format!(
        "{}{}{}Write the {} scenes of the episode, one per beat:\n{}\nFor each scene: the place (a few words, like \
         \"the lighthouse gallery\"), inside (INT) or outside (EXT), the time of day, what happens (one or two \
         sentences), who is there, and one to three lines of dialogue, each said by one of them.",
        brief_lines(brief, premise, feedback),
        outline_lines(outline),
        cast_lines(characters),
        ids.len(),
        plan.join("\n")
    );
    let names: Vec<&str> = characters.iter().map(|c| c.name.as_str()).collect();
    let line = object(fields(&[("speaker", one_of(&names)), ("line", text(8, 120))]));
    let one = object(fields(&[
        ("place", text(4, 40)),
        ("setting", one_of(&["INT", "EXT"])),
        ("time", one_of(&TIMES)),
        ("description", text(40, 240)),
        (
            "characters",
            json!({"type": "array", "items": one_of(&names), "minItems": 1, "maxItems": names.len().min(3)}),
        ),
        (
            "script",
            json!({"type": "array", "items": line, "minItems": 1, "maxItems": 3}),
        ),
    ]));
    let schema = object(ids.iter().map(|(id, _)| (id.clone(), one.clone())).collect());
    ask(user, schema)
}

/// The scenes' answer, by scene id.
pub type ScenesDraft = BTreeMap<String, SceneDraft>;

/// A shot as the model writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShotDraft {
    /// Framing.
    pub framing: ShotType,
    /// Camera height.
    pub angle: Angle,
    /// Camera movement.
    pub movement: Movement,
    /// What the shot shows.
    pub visual: String,
    /// Its first frame.
    pub first_frame: String,
    /// What moves.
    pub motion: String,
    /// Who is in it, by name.
    pub characters: Vec<String>,
}

/// The storyboard's request: for each scene, its shot count.
pub fn storyboard(
    brief: &Brief,
    premise: &str,
    scenes: &[Scene],
    characters: &[Character],
    counts: &[usize],
    feedback: Option<&str>,
) -> Ask {
    let name_of = |id: &String| characters.iter().find(|c| &c.id == id).map(|c| c.name.clone());
    let mut plan = String::new();
    let mut properties = Vec::with_capacity(scenes.len());
    for (scene, &count) in scenes.iter().zip(counts) {
        let cast: Vec<String> = scene.character_ids.iter().filter_map(name_of).collect();
        plan.push_str(&format!(
            "{} ({}, {} shot{}): {} With: {}.\n",
            scene.id,
            scene.slugline,
            count,
            if count == 1 { "" } else { "s" },
            scene.description,
            if cast.is_empty() {
                "no one".to_owned()
            } else {
                cast.join(", ")
            }
        ));
        let who = if cast.is_empty() {
            json!({"type": "array", "items": {"type": "string", "enum": [""]}, "maxItems": 0})
        } else {
            json!({"type": "array", "items": one_of(&cast), "minItems": 1, "maxItems": cast.len()})
        };
        let shot = object(fields(&[
            (
                "framing",
                one_of(&names(&[ShotType::Wide, ShotType::Medium, ShotType::CloseUp])),
            ),
            ("angle", one_of(&names(&[Angle::EyeLevel, Angle::Low, Angle::High]))),
            (
                "movement",
                one_of(&names(&[
                    Movement::Static,
                    Movement::PanLeft,
                    Movement::PanRight,
                    Movement::ZoomIn,
                    Movement::ZoomOut,
                ])),
            ),
            ("visual", text(25, 140)),
            ("first_frame", text(20, 100)),
            ("motion", text(10, 80)),
            ("characters", who),
        ]));
        properties.push((
            scene.id.clone(),
            json!({"type": "array", "items": shot, "minItems": count, "maxItems": count}),
        ));
    }
    let user = format!(
        "{}{}Storyboard the scenes, shot by shot, for the camera:\n{}For each shot: framing, camera angle, camera \
         movement; visual: what we see, in one sentence, like \"Mara climbs the spiral stairs, lantern raised\"; \
         first_frame: the opening image, like \"Mara's hand on the iron rail\"; motion: what moves, like \"rain \
         streams down the glass\"; and who is in it.",
        brief_lines(brief, premise, feedback),
        cast_lines(characters),
        plan
    );
    ask(user, object(properties))
}

/// The storyboard's answer, by scene id.
pub type StoryboardDraft = BTreeMap<String, Vec<ShotDraft>>;

#[cfg(test)]
mod tests {
    use super::*;

    use showrunner_story::model::{Generator, Settings};

    fn brief() -> Brief {
        Brief {
            idea: Some("a storm".into()),
            script: None,
            settings: Settings::default(),
            series: None,
        }
    }

    #[test]
    fn schemas_keep_their_order_and_cast() {
        let ask = outline(&brief(), "a storm", Some("darker"));
        assert_eq!(ask.schema["required"], json!(["logline", "synopsis", "beats"]));
        assert!(ask.messages[1].content.contains("follow it: darker"));
        let names = vec!["Mara".to_owned(), "Ilya".to_owned()];
        let outline = Outline {
            logline: "A storm.".into(),
            synopsis: "It rains.".into(),
            beats: Vec::new(),
            generated_by: Generator {
                backend: "test".into(),
                model: "none".into(),
                seed: 0,
            },
        };
        let cast = characters(&brief(), "a storm", &outline, &names, None);
        assert_eq!(cast.schema["required"], json!(["Mara", "Ilya"]));
        assert_eq!(cast.schema["properties"]["Ilya"]["required"][4], "prop");
    }
}
