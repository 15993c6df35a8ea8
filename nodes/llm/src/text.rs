//! [`LlmText`]: the text stages written by a GGUF model under JSON-constrained decoding.
//!
//! The model writes what is creative (loglines, descriptions, dialogue, camera choices); the
//! structure around it is the procedural backend's: the cast's names and ids (from the premise,
//! so they survive regenerates), scene and shot counts, durations from the target duration,
//! shot seeds, and how a scene's dialogue spreads over its shots.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use showrunner_story::slug;

use super::json;
use super::prompt::{self, Ask};
use super::sampler::Sampling;
use super::{Llm, LlmError};
use showrunner_backend::{BackendError, BackendResult, TextModel, TextRequest};
use showrunner_story::facts::Facts;
use showrunner_story::model::{
    Beat, Brief, Camera, Character, DynamicFeatures, Generator, Outline, Scene, ScriptLine, Shot, ShotType,
    StaticFeatures,
};
use showrunner_story::notes;
use showrunner_story::plan::{capitalised, cast_names, cast_size, premise, scene_plan, shot_plan, show_speakers};
use showrunner_story::rng::Rng;

/// The registry name of SmolLM2-135M-Instruct.
pub const SMOLLM2_MODEL: &str = "smollm2-135m";

/// How often streamed text becomes a progress report.
const REPORT_EVERY: Duration = Duration::from_millis(250);

/// The text stages on a GGUF model.
#[derive(Debug, Clone)]
pub struct LlmText {
    llm: Arc<Llm>,
    sampling: Sampling,
}

impl LlmText {
    /// The text stages on `llm`, with the default sampling.
    pub fn new(llm: Arc<Llm>) -> Self {
        Self {
            llm,
            sampling: Sampling::default(),
        }
    }

    /// The same backend sampling with `sampling`.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// The model's JSON answer to `ask`, as `T`, streaming progress labelled `stage`.
    async fn answer<T: DeserializeOwned>(
        &self,
        stage: &'static str,
        ask: Ask,
        request: &TextRequest,
    ) -> BackendResult<T> {
        let llm = self.llm.clone();
        let sampling = self.sampling;
        let seed = Rng::derive(request.seed, stage).next_u64();
        let progress = request.progress.clone();
        let cancel = request.cancel.clone();
        let value = tokio::task::spawn_blocking(move || {
            let mut session = llm.session(&ask.messages, sampling, seed, cancel)?;
            let scale = json::max_chars(&ask.schema).max(1) as f32;
            let mut written = String::new();
            let mut last = Instant::now();
            progress.report(0.0, format!("writing the {stage}"));
            let mut on_text = |piece: &str| {
                written.push_str(piece);
                if last.elapsed() >= REPORT_EVERY {
                    last = Instant::now();
                    let tail: String = written
                        .chars()
                        .rev()
                        .take(80)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    progress.report(written.len() as f32 / scale, format!("writing the {stage}: …{tail}"));
                }
            };
            let value = json::write(&mut session, &ask.schema, &mut on_text)?;
            progress.report(1.0, format!("wrote the {stage}"));
            Ok::<_, LlmError>(value)
        })
        .await
        .map_err(|e| BackendError::Failed(format!("the {stage} generation stopped: {e}")))??;
        serde_json::from_value(value)
            .map_err(|e| BackendError::Failed(format!("the {stage} answer does not fit its type: {e}")))
    }
}

/// A character id for a name the schema allowed.
fn id_of<'a>(characters: &'a [Character], name: &str) -> Option<&'a str> {
    characters.iter().find(|c| c.name == name).map(|c| c.id.as_str())
}

/// `names` as ids, first occurrence only.
fn ids_of(characters: &[Character], names: &[String]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::with_capacity(names.len());
    for id in names.iter().filter_map(|n| id_of(characters, n)) {
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }
    ids
}

/// Whitespace collapsed; a text cut off by its length limit loses its unfinished last
/// sentence when at least one whole sentence is left.
fn tidy(s: &str) -> String {
    let text = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = text.trim_end_matches([',', ';', ':', '-']).trim_end();
    if text.ends_with(['.', '!', '?', '"', '\'']) {
        return text.to_owned();
    }
    match text.rfind(['.', '!', '?']) {
        Some(end) if end >= text.len() / 3 => text[..=end].to_owned(),
        _ => text.to_owned(),
    }
}

#[async_trait]
impl TextModel for LlmText {
    fn generator(&self, seed: u64) -> Generator {
        Generator {
            backend: "candle".into(),
            model: self.llm.name().to_owned(),
            seed,
        }
    }

    async fn outline(&self, brief: &Brief, request: &TextRequest) -> BackendResult<Outline> {
        let premise = premise(brief);
        let draft: prompt::OutlineDraft = self
            .answer("outline", prompt::outline(brief, &premise, request.feedback()), request)
            .await?;
        Ok(Outline {
            logline: tidy(&draft.logline),
            synopsis: tidy(&draft.synopsis),
            beats: draft
                .beats
                .iter()
                .enumerate()
                .map(|(i, summary)| Beat {
                    id: format!("beat-{}", i + 1),
                    summary: tidy(summary),
                })
                .collect(),
            generated_by: self.generator(request.seed),
        })
    }

    async fn characters(
        &self,
        brief: &Brief,
        outline: &Outline,
        request: &TextRequest,
    ) -> BackendResult<Vec<Character>> {
        let premise = premise(brief);
        let regulars = brief.regulars();
        let names: Vec<String> = cast_names(brief, cast_size(brief))
            .into_iter()
            .filter(|n| regulars.iter().all(|r| &r.name != n))
            .collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let ask = prompt::characters(brief, &premise, outline, &names, request.feedback());
        let mut drafts: prompt::CharactersDraft = self.answer("characters", ask, request).await?;
        let mut cast = names
            .iter()
            .map(|name| {
                let d = drafts
                    .remove(name)
                    .ok_or_else(|| BackendError::Failed(format!("the model left out {name}")))?;
                Ok(Character {
                    id: slug(name),
                    name: name.clone(),
                    role: tidy(&d.role),
                    static_features: StaticFeatures {
                        face: tidy(&d.face),
                        body: tidy(&d.body),
                    },
                    dynamic_features: DynamicFeatures {
                        clothing: tidy(&d.clothing),
                        props: vec![tidy(&d.prop)],
                    },
                    personality: tidy(&d.personality),
                    voice: None,
                    reference_images: Vec::new(),
                    generated_by: self.generator(request.seed),
                })
            })
            .collect::<BackendResult<Vec<Character>>>()?;
        // What the idea and the note state wins over what the model wrote.
        Facts::of_brief(brief)
            .with_note(request.feedback())
            .apply_cast(&mut cast);
        Ok(cast)
    }

    async fn scenes(
        &self,
        brief: &Brief,
        outline: &Outline,
        characters: &[Character],
        request: &TextRequest,
    ) -> BackendResult<Vec<Scene>> {
        let plan = scene_plan(brief, outline, characters)?;
        let ask = prompt::scenes(brief, &premise(brief), outline, characters, &plan, request.feedback());
        let mut drafts: prompt::ScenesDraft = self.answer("scenes", ask, request).await?;
        let mut scenes = plan
            .iter()
            .map(|(id, _)| {
                let d = drafts
                    .remove(id)
                    .ok_or_else(|| BackendError::Failed(format!("the model left out {id}")))?;
                let place = tidy(&d.place);
                Ok(Scene {
                    id: id.clone(),
                    slugline: format!("{}. {} - {}", d.setting, place.to_uppercase(), d.time),
                    location: capitalised(&place),
                    time_of_day: d.time.to_lowercase(),
                    description: tidy(&d.description),
                    character_ids: ids_of(characters, &d.characters),
                    script: d
                        .script
                        .iter()
                        .filter_map(|l| {
                            id_of(characters, &l.speaker).map(|id| ScriptLine {
                                character_id: id.to_owned(),
                                line: tidy(&l.line),
                            })
                        })
                        .collect(),
                    transition: None,
                    generated_by: self.generator(request.seed),
                })
            })
            .collect::<BackendResult<Vec<Scene>>>()?;
        Facts::of_brief(brief)
            .with_note(request.feedback())
            .apply_scenes(&mut scenes);
        Ok(scenes)
    }

    async fn storyboard(
        &self,
        brief: &Brief,
        scenes: &[Scene],
        characters: &[Character],
        request: &TextRequest,
    ) -> BackendResult<Vec<Shot>> {
        let plan = shot_plan(brief, scenes, request.feedback())?;
        let fps = f64::from(brief.settings.fps);
        let ask = prompt::storyboard(
            brief,
            &premise(brief),
            scenes,
            characters,
            &plan.per_scene,
            request.feedback(),
        );
        let mut drafts: prompt::StoryboardDraft = self.answer("storyboard", ask, request).await?;
        let asked = request.feedback().and_then(notes::shot_type);
        let mut rng = Rng::derive(request.seed, "storyboard");
        let mut shots = Vec::with_capacity(plan.shots.len());
        let mut planned = plan.shots.into_iter();
        for (scene, &count) in scenes.iter().zip(&plan.per_scene) {
            let drafted = drafts.remove(&scene.id).unwrap_or_default();
            if drafted.len() != count {
                return Err(BackendError::Failed(format!(
                    "the model wrote {} shots for {}, not {count}",
                    drafted.len(),
                    scene.id
                )));
            }
            for (d, p) in drafted.into_iter().zip(planned.by_ref()) {
                // The shot type a note asks for, after each scene's opening shot (every shot,
                // for wide shots), whatever the model framed.
                let framing = match asked {
                    Some(asked) if p.index_in_scene > 0 || asked == ShotType::Wide => asked,
                    _ => d.framing,
                };
                let known = |id: &str| characters.iter().any(|c| c.id == id);
                let mut character_ids = ids_of(characters, &d.characters);
                if framing == ShotType::CloseUp {
                    // A close-up is of whoever speaks first, else of the model's first choice.
                    match p.dialogue.first().filter(|l| known(&l.character_id)) {
                        Some(line) => character_ids = vec![line.character_id.clone()],
                        None => character_ids.truncate(1),
                    }
                }
                // Whoever speaks is seen, whatever the model framed.
                let (shot_type, character_ids) = show_speakers(framing, character_ids, &p.dialogue, known);
                shots.push(Shot {
                    id: format!("{}-shot-{}", scene.id, p.index_in_scene + 1),
                    scene_id: scene.id.clone(),
                    camera: Camera {
                        shot_type,
                        angle: d.angle,
                        movement: d.movement,
                    },
                    duration_s: p.frames as f64 / fps,
                    visual_desc: tidy(&d.visual),
                    dialogue: p.dialogue,
                    first_frame_desc: tidy(&d.first_frame),
                    last_frame_desc: None,
                    motion_desc: tidy(&d.motion),
                    character_ids,
                    seed: rng.next_u64() >> 11,
                    transition: p.transition,
                    generated_by: self.generator(request.seed),
                });
            }
        }
        Ok(shots)
    }
}

#[cfg(test)]
mod tests {
    use super::tidy;

    #[test]
    fn tidy_drops_a_cut_off_sentence() {
        assert_eq!(tidy("  The storm  hits.\nThe keeper runs to the,"), "The storm hits.");
        assert_eq!(tidy("A short one,"), "A short one");
        assert_eq!(
            tidy("Done. And then the keeper, who had waited all night for a sign"),
            "Done. And then the keeper, who had waited all night for a sign"
        );
        assert_eq!(tidy("A lamp on the shelf"), "A lamp on the shelf");
    }
}
