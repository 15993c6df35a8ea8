//! The stage data model (DESIGN §4): what each stage of an episode produces, with stable ids
//! everywhere, and a JSON Schema for each type (a person's edit must fit it).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use showrunner_engine::BlobRef;

use crate::series::SeriesContent;

pub use crate::settings::{Settings, SettingsError, review_variant};
pub use crate::transition::{Colour, Transition};

/// Which backend and model made an output, with the seed: every output names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Generator {
    /// The backend: `procedural`, `candle`, `onnx`, or `user` for a series' characters.
    pub backend: String,
    /// The model within the backend.
    pub model: String,
    /// The seed it ran with (a decimal string in JSON: [`crate::seed`]).
    #[serde(with = "crate::seed")]
    #[schemars(schema_with = "crate::seed::json_schema")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::seed::Seed))]
    pub seed: u64,
}

/// What an episode starts from: an idea or a screenplay (Fountain), and its settings. This is
/// the episode input every node receives under `"episode"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Brief {
    /// The idea, for idea2video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idea: Option<String>,
    /// The screenplay in Fountain, for script2video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// The settings.
    #[serde(default)]
    pub settings: Settings,
    /// The series the episode belongs to, as it stood when the episode was made (the engine
    /// copies it in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesBrief>,
}

/// A series' bible: what every episode of it keeps to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bible {
    /// The look, in words ("ink and watercolour, muted greens").
    pub visual_style: String,
    /// The world the stories happen in.
    pub world: String,
    /// Rules the stories keep ("no one ever leaves the island").
    pub rules: Vec<String>,
}

/// What a series shares with its episodes: its bible and its regular characters. Episodes read
/// it under `episode.series`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeriesBrief {
    /// The series' id (set by the engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The title.
    #[serde(default)]
    pub title: String,
    /// The bible.
    #[serde(default)]
    pub bible: Bible,
    /// The regular characters, who appear in every episode as they are here.
    #[serde(default)]
    pub characters: Vec<Character>,
}

/// The most reference images a character may have.
pub const MAX_REFERENCE_IMAGES: usize = 3;

/// A character as a person writes it into a series: the fields of [`Character`], with the id
/// derived from the name when missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = CharacterInput))]
pub struct CharacterSheet {
    /// Stable id: letters, digits, `-` and `_`; a slug of the name when missing.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]+$"))]
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Role in the story.
    #[serde(default)]
    pub role: String,
    /// Face and body.
    #[serde(default)]
    pub static_features: StaticFeatures,
    /// Clothing and props.
    #[serde(default)]
    pub dynamic_features: DynamicFeatures,
    /// Personality, in words.
    #[serde(default)]
    pub personality: String,
    /// A voice description, for speech.
    #[serde(default)]
    pub voice: Option<String>,
    /// Uploaded reference images (at most 3), as `blob:<hash>`.
    #[serde(default)]
    #[schemars(length(max = 3), with = "Vec<String>")]
    #[cfg_attr(feature = "openapi", schema(max_items = 3))]
    pub reference_images: Vec<BlobRef>,
}

/// Content of a series as people write it: a bible and characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesSheet {
    /// The bible.
    #[serde(default)]
    pub bible: Bible,
    /// The regular characters.
    #[serde(default)]
    pub characters: Vec<CharacterSheet>,
}

/// Why a series sheet was refused: the path of the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct SheetError {
    /// Where, as a path (`characters[1].reference_images`).
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl Brief {
    /// The series' regular characters (none outside a series).
    pub fn regulars(&self) -> &[Character] {
        self.series.as_ref().map_or(&[], |s| &s.characters)
    }
}

impl SeriesSheet {
    /// The bible and the characters as episodes see them; refuses characters without a name, two
    /// characters with one id, and more than [`MAX_REFERENCE_IMAGES`] reference images.
    pub fn into_content(self) -> Result<SeriesContent, SheetError> {
        let mut characters: Vec<Character> = Vec::with_capacity(self.characters.len());
        for (i, sheet) in self.characters.into_iter().enumerate() {
            let error = |field: &str, reason: String| SheetError {
                path: format!("characters[{i}]{field}"),
                reason,
            };
            if sheet.name.trim().is_empty() {
                return Err(error(".name", "a character needs a name".into()));
            }
            if sheet.reference_images.len() > MAX_REFERENCE_IMAGES {
                return Err(error(
                    ".reference_images",
                    format!(
                        "at most {MAX_REFERENCE_IMAGES} reference images per character, not {}",
                        sheet.reference_images.len()
                    ),
                ));
            }
            let id = sheet.id.unwrap_or_else(|| crate::slug(&sheet.name));
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(error(
                    ".id",
                    format!("`{id}` is not an id: use letters, digits, `-` and `_`"),
                ));
            }
            if characters.iter().any(|c| c.id == id) {
                return Err(error(".id", format!("two characters have the id `{id}`")));
            }
            characters.push(Character {
                id,
                name: sheet.name.trim().to_owned(),
                role: sheet.role,
                static_features: sheet.static_features,
                dynamic_features: sheet.dynamic_features,
                personality: sheet.personality,
                voice: sheet.voice,
                reference_images: sheet.reference_images,
                generated_by: Generator {
                    backend: "user".into(),
                    model: "series".into(),
                    seed: 0,
                },
            });
        }
        Ok(SeriesContent {
            bible: self.bible,
            characters,
        })
    }
}

/// A story beat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Beat {
    /// Stable id.
    pub id: String,
    /// What happens.
    pub summary: String,
}

/// The outline of an episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Outline {
    /// One sentence.
    pub logline: String,
    /// A paragraph.
    pub synopsis: String,
    /// The beats, in order.
    pub beats: Vec<Beat>,
    /// Who made it.
    pub generated_by: Generator,
}

/// What does not change about a character.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaticFeatures {
    /// The face.
    pub face: String,
    /// The body.
    pub body: String,
}

/// What may change about a character from scene to scene.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DynamicFeatures {
    /// What they wear.
    pub clothing: String,
    /// What they carry.
    pub props: Vec<String>,
}

/// A character.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Character {
    /// Stable id (a slug of the name), never a position.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role in the story.
    pub role: String,
    /// Face and body.
    pub static_features: StaticFeatures,
    /// Clothing and props.
    pub dynamic_features: DynamicFeatures,
    /// Personality, in words.
    pub personality: String,
    /// A voice description, for speech.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub voice: Option<String>,
    /// Uploaded reference images (at most 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 3), with = "Vec<String>")]
    #[cfg_attr(feature = "openapi", schema(max_items = 3))]
    pub reference_images: Vec<BlobRef>,
    /// Who made it.
    pub generated_by: Generator,
}

/// A character's portrait sheet: front, side and back views (PNG blobs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Portrait {
    /// The character, as drawn (keyframes compose it from here).
    pub character: Character,
    /// Front view.
    #[schemars(with = "String")]
    pub front: BlobRef,
    /// Side view.
    #[schemars(with = "String")]
    pub side: BlobRef,
    /// Back view.
    #[schemars(with = "String")]
    pub back: BlobRef,
    /// Who made it.
    pub generated_by: Generator,
}

/// A line of dialogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScriptLine {
    /// Who speaks.
    pub character_id: String,
    /// What they say.
    pub line: String,
}

/// A scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Scene {
    /// Stable id.
    pub id: String,
    /// The heading, e.g. `EXT. HARBOUR - NIGHT`.
    pub slugline: String,
    /// Where.
    pub location: String,
    /// When.
    pub time_of_day: String,
    /// What we see.
    pub description: String,
    /// Who is in it.
    pub character_ids: Vec<String>,
    /// The dialogue, in order.
    pub script: Vec<ScriptLine>,
    /// How the scene gives way to the next one, where the screenplay says (`CUT TO:`); none
    /// leaves it to the film (a dissolve between scenes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
    /// Who made it.
    pub generated_by: Generator,
}

/// A scene's background image (PNG blob).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SceneImage {
    /// The scene.
    pub scene_id: String,
    /// The image.
    #[schemars(with = "String")]
    pub image: BlobRef,
    /// Who made it.
    pub generated_by: Generator,
}

/// How a shot frames its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShotType {
    /// The whole scene.
    Wide,
    /// Waist up.
    Medium,
    /// A face.
    CloseUp,
}

/// The camera's height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Angle {
    /// At eye level.
    EyeLevel,
    /// From below.
    Low,
    /// From above.
    High,
}

/// How the camera moves during the shot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Movement {
    /// Still.
    Static,
    /// Pans to the left.
    PanLeft,
    /// Pans to the right.
    PanRight,
    /// Pushes in.
    ZoomIn,
    /// Pulls out.
    ZoomOut,
}

/// A shot's camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Camera {
    /// Framing.
    pub shot_type: ShotType,
    /// Height.
    pub angle: Angle,
    /// Movement.
    pub movement: Movement,
}

/// A shot of the storyboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Shot {
    /// Stable id.
    pub id: String,
    /// The scene it belongs to.
    pub scene_id: String,
    /// The camera.
    pub camera: Camera,
    /// Length in seconds.
    pub duration_s: f64,
    /// What we see.
    pub visual_desc: String,
    /// What is said during the shot.
    pub dialogue: Vec<ScriptLine>,
    /// The first frame, in words.
    pub first_frame_desc: String,
    /// The last frame, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame_desc: Option<String>,
    /// The motion, in words.
    pub motion_desc: String,
    /// Who is in the shot.
    pub character_ids: Vec<String>,
    /// The shot's own seed (a decimal string in JSON: [`crate::seed`]).
    #[serde(with = "crate::seed")]
    #[schemars(schema_with = "crate::seed::json_schema")]
    pub seed: u64,
    /// How the shot gives way to the next one; none leaves it to the film (a cut within a
    /// scene, a dissolve between scenes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
    /// Who made it.
    pub generated_by: Generator,
}

/// A shot's keyframe (PNG blob), with the shot it was made for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Keyframe {
    /// The shot.
    pub shot: Shot,
    /// The image.
    #[schemars(with = "String")]
    pub image: BlobRef,
    /// The quality gate's score, in `[0, 1]`: the mean of the image and the text scores below
    /// (`showrunner_nodes::consistency::combined`); on a keyframe stored before those were kept apart, how
    /// well its characters match their portraits.
    pub consistency: f64,
    /// How well the characters drawn in it match their portraits, in `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_consistency: Option<f64>,
    /// How well the shot's description matches its characters' descriptions, in `[0, 1]`; none
    /// when the shot shows nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_consistency: Option<f64>,
    /// Who made it.
    pub generated_by: Generator,
}

/// A shot's clip: an MP4 (H.264) and its raw Annex-B stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Clip {
    /// The shot.
    pub shot_id: String,
    /// The MP4 file.
    #[schemars(with = "String")]
    pub video: BlobRef,
    /// The H.264 Annex-B stream of the same frames, for joining without demuxing.
    #[schemars(with = "String")]
    pub stream: BlobRef,
    /// Frames in the clip.
    pub frames: u32,
    /// Frames per second.
    pub fps: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The shot's dialogue, for subtitles.
    pub dialogue: Vec<ScriptLine>,
    /// When each line of the dialogue with words in it is heard, in order, when a voice speaks
    /// them (the subtitles follow the speech); empty for a silent clip.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heard: Vec<Heard>,
    /// Who made it.
    pub generated_by: Generator,
}

/// When a line of a clip's dialogue is heard, in seconds from the clip's start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Heard {
    /// When the voice starts the line.
    pub start_s: f64,
    /// When it ends it (or the clip does, when the line is cut there).
    pub end_s: f64,
}

/// The finished video with its subtitles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Video {
    /// The MP4 file.
    #[schemars(with = "String")]
    pub video: BlobRef,
    /// WebVTT subtitles.
    #[schemars(with = "String")]
    pub subtitles_vtt: BlobRef,
    /// SRT subtitles.
    #[schemars(with = "String")]
    pub subtitles_srt: BlobRef,
    /// Frames in the video.
    pub frames: u32,
    /// Length in seconds.
    pub duration_s: f64,
    /// The shots, in order.
    pub shot_ids: Vec<String>,
    /// Where each shot lies in the video, in order (empty in videos made before it was kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shots: Vec<VideoShot>,
    /// Who made it.
    pub generated_by: Generator,
}

/// A shot's place in a final video, as it was cut: the player's shot list comes from here, not
/// from a storyboard that may have changed since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VideoShot {
    /// The shot's id.
    pub id: String,
    /// Where it starts, in seconds from the video's start.
    pub start_s: f64,
    /// How long it lasts, in seconds.
    pub duration_s: f64,
    /// Its dialogue's lines, joined, as heard in this cut.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dialogue: String,
}

/// The JSON Schema of what each stage of the stock workflows produces, by node key: an edit of
/// that node must fit it, and a model that writes the stage can be constrained by it.
pub fn stage_schemas() -> std::collections::BTreeMap<&'static str, serde_json::Value> {
    fn schema<T: JsonSchema>() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default()
    }
    std::collections::BTreeMap::from([
        ("outline", schema::<Outline>()),
        ("characters", schema::<Vec<Character>>()),
        ("portraits", schema::<Portrait>()),
        ("scenes", schema::<Vec<Scene>>()),
        ("scene_images", schema::<SceneImage>()),
        ("storyboard", schema::<Vec<Shot>>()),
        ("keyframes", schema::<Keyframe>()),
        ("clips", schema::<Clip>()),
        ("final", schema::<Video>()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_has_a_schema_naming_its_required_fields() {
        let schemas = stage_schemas();
        assert_eq!(schemas.len(), 9);
        let characters = &schemas["characters"];
        assert_eq!(characters["type"], "array");
        let text = characters.to_string();
        for field in ["static_features", "dynamic_features", "clothing", "generated_by"] {
            assert!(text.contains(field), "{field} in {text}");
        }
        assert!(schemas["storyboard"].to_string().contains("close_up"));
    }
}
