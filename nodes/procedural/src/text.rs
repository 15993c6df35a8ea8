//! The procedural text backend: outlines, casts, scenes and storyboards from templates over the
//! brief. Deterministic for a seed; names and ids depend on the idea alone, so a regenerate
//! keeps every character's and scene's id while it changes the words.

use async_trait::async_trait;
use showrunner_backend::{BackendResult, TextModel, TextRequest};
use showrunner_story::facts::Facts;
use showrunner_story::model::{
    Angle, Beat, Brief, Camera, Character, DynamicFeatures, Generator, Movement, Outline, Scene, ScriptLine, Shot,
    ShotType, StaticFeatures,
};
use showrunner_story::notes::{self, Reader, Stage, introductions};
use showrunner_story::plan::{
    NAMES, capitalised, cast_names, cast_size, premise, scene_plan, shot_plan, show_speakers,
};
use showrunner_story::rng::{Rng, hash_str};
use showrunner_story::slug;

/// The model name in every output's metadata.
pub const MODEL: &str = "procedural-text-1";

/// Text from templates: no weights, instant, deterministic.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProceduralText;

pub(crate) const ROLES: [&str; 4] = ["the protagonist", "the ally", "the antagonist", "the witness"];
const FACES: [&str; 6] = [
    "round face, freckles, dark eyes",
    "narrow face, high cheekbones, grey eyes",
    "square jaw, thick brows, brown eyes",
    "heart-shaped face, dimples, green eyes",
    "long face, sharp nose, blue eyes",
    "broad face, laugh lines, hazel eyes",
];
const BODIES: [&str; 5] = [
    "tall and wiry",
    "short and sturdy",
    "lanky",
    "broad-shouldered",
    "slight and quick",
];
const HAIR: [&str; 6] = [
    "black hair",
    "red hair",
    "blond hair",
    "brown hair",
    "grey hair",
    "white hair",
];
const COLOURS: [&str; 8] = ["red", "blue", "yellow", "green", "grey", "black", "brown", "purple"];
const GARMENTS: [&str; 6] = ["coat", "raincoat", "jumper", "jacket", "overalls", "dress"];
const PROPS: [&str; 7] = [
    "a lantern",
    "a notebook",
    "a satchel",
    "a pocket watch",
    "a camera",
    "a map",
    "a key",
];
const PERSONALITIES: [&str; 6] = [
    "stubborn and kind",
    "curious, a little reckless",
    "calm, secretive",
    "funny under pressure",
    "proud and anxious",
    "patient, watchful",
];
const GOALS: [&str; 5] = [
    "find out what really happened",
    "bring everyone home",
    "keep a promise",
    "expose the truth",
    "win back what was lost",
];
const DEADLINES: [&str; 4] = [
    "the tide turns",
    "the night is over",
    "the storm arrives",
    "the last train leaves",
];
const LOCATIONS: [(&str, bool); 10] = [
    ("HARBOUR", false),
    ("LIGHTHOUSE", true),
    ("CITY STREET", false),
    ("KITCHEN", true),
    ("FOREST", false),
    ("WORKSHOP", true),
    ("BEACH", false),
    ("LIBRARY", true),
    ("PARK", false),
    ("TRAIN STATION", true),
];
const TIMES: [&str; 4] = ["DAY", "NIGHT", "DUSK", "DAWN"];

/// The tone of a text: what the note asks for, else bittersweet.
fn tone(feedback: Option<&str>) -> &'static str {
    feedback.and_then(notes::tone).unwrap_or("bittersweet")
}

/// A character's description, drawn from the seed and the name; `feedback` may age them, or
/// change the colour of their clothes when it names them (or names no one).
pub fn describe(name: &str, role: &str, feedback: Option<&str>, seed: u64, generator: Generator) -> Character {
    let mut rng = Rng::derive(seed, name);
    let mut face = format!("{}, {}", rng.pick(&FACES), rng.pick(&HAIR));
    let mut colour = *rng.pick(&COLOURS);
    let garment = *rng.pick(&GARMENTS);
    let prop = *rng.pick(&PROPS);
    let body = rng.pick(&BODIES).to_string();
    let personality = rng.pick(&PERSONALITIES).to_string();
    if let Some(f) = feedback.map(str::to_lowercase) {
        let named = NAMES.iter().any(|n| f.contains(&n.to_lowercase()));
        if !named || f.contains(&name.to_lowercase()) {
            if f.contains("older") {
                face = format!("older, lined {face}");
            } else if f.contains("younger") {
                face = format!("youthful {face}");
            }
            if let Some(c) = COLOURS.iter().find(|c| f.contains(*c)) {
                colour = c;
            }
        }
    }
    Character {
        id: slug(name),
        name: name.to_owned(),
        role: role.to_owned(),
        static_features: StaticFeatures { face, body },
        dynamic_features: DynamicFeatures {
            // Overalls are a pair: "green overalls", not "a green overalls".
            clothing: if garment == "overalls" {
                format!("{colour} {garment}")
            } else {
                format!("a {colour} {garment}")
            },
            props: vec![prop.to_owned()],
        },
        personality,
        voice: Some(format!("{} voice", if rng.below(2) == 0 { "low" } else { "bright" })),
        reference_images: Vec::new(),
        generated_by: generator,
    }
}

/// `text` as a sentence: capitalised, with a full stop unless it ends with one, `!` or `?`.
fn sentence(text: &str) -> String {
    let text = capitalised(text);
    if text.ends_with(['.', '!', '?']) {
        text
    } else {
        format!("{text}.")
    }
}

/// `a` or `an` before `word` ("a unicorn": a vowel that sounds as "you" takes `a`).
fn article(word: &str) -> &'static str {
    let you = word.starts_with("uni") || word.starts_with("eu") || word.starts_with("use");
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) && !you {
        "an"
    } else {
        "a"
    }
}

#[async_trait]
impl TextModel for ProceduralText {
    fn generator(&self, seed: u64) -> Generator {
        Generator {
            backend: "procedural".into(),
            model: MODEL.into(),
            seed,
        }
    }

    /// The rules of [`notes`] are all this backend reads of a note.
    fn unread(&self, stage: Stage, note: &str) -> Vec<String> {
        notes::unread(note, stage, Reader::Rules)
    }

    async fn outline(&self, brief: &Brief, request: &TextRequest) -> BackendResult<Outline> {
        let (feedback, seed) = (request.feedback(), request.seed);
        let idea = premise(brief);
        let names = cast_names(brief, cast_size(brief));
        let hero = names.first().map_or("Someone", String::as_str);
        let mut rng = Rng::derive(seed, "outline");
        let (goal, deadline, tone) = (rng.pick(&GOALS), rng.pick(&DEADLINES), tone(feedback));
        let logline = format!("{}: {hero} must {goal} before {deadline}.", capitalised(&idea));
        let mut synopsis = format!(
            "A {tone} tale. {} When {}, {hero} sets out to {goal}. Nothing goes to plan, and by the time {deadline}, \
             {hero} has to choose what matters most.",
            sentence(&idea),
            idea.trim().trim_end_matches('.'),
        );
        if let Some(world) = brief
            .series
            .as_ref()
            .map(|s| s.bible.world.trim())
            .filter(|w| !w.is_empty())
        {
            synopsis.push_str(&format!(" Set in {}.", world.trim_end_matches('.')));
        }
        // Someone the note names joins the story, as the note introduces them.
        let joining: Vec<String> = feedback
            .map(introductions)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                let name = p.name.as_deref()?;
                (!names.iter().any(|n| slug(n) == slug(name))).then(|| match &p.kind {
                    Some(kind) => format!("{} {kind} named {name}", article(kind)),
                    None => format!("someone named {name}"),
                })
            })
            .collect();
        // A sentence each, so each is read with what the note says of them.
        for met in &joining {
            synopsis.push_str(&format!(" {hero} meets {met} on the way."));
        }
        let discovery = match joining.first() {
            None => format!("A {tone} discovery changes everything"),
            Some(met) => format!("{hero} meets {met}, and everything changes"),
        };
        let beats = [
            format!("{hero} is pulled into it: {idea}"),
            discovery,
            format!("{hero} tries to {goal} and fails"),
            format!("Everything comes to a head as {deadline}"),
            format!("{hero} lives with the choice, {tone} to the end"),
        ];
        Ok(Outline {
            logline,
            synopsis,
            beats: beats
                .into_iter()
                .enumerate()
                .map(|(i, summary)| Beat {
                    id: format!("beat-{}", i + 1),
                    summary,
                })
                .collect(),
            generated_by: self.generator(seed),
        })
    }

    async fn characters(
        &self,
        brief: &Brief,
        _outline: &Outline,
        request: &TextRequest,
    ) -> BackendResult<Vec<Character>> {
        let (feedback, seed) = (request.feedback(), request.seed);
        let names = cast_names(brief, cast_size(brief));
        let mut cast: Vec<Character> = names
            .iter()
            .enumerate()
            .map(|(i, name)| describe(name, ROLES[i % ROLES.len()], feedback, seed, self.generator(seed)))
            .collect();
        Facts::of_brief(brief).with_note(feedback).apply_cast(&mut cast);
        Ok(cast)
    }

    async fn scenes(
        &self,
        brief: &Brief,
        outline: &Outline,
        characters: &[Character],
        request: &TextRequest,
    ) -> BackendResult<Vec<Scene>> {
        let (feedback, seed) = (request.feedback(), request.seed);
        let plan = scene_plan(brief, outline, characters)?;
        let count = plan.len();
        let mut places = Rng::new(hash_str(&premise(brief)));
        let mut rng = Rng::derive(seed, "scenes");
        let tone = tone(feedback);
        let facts = Facts::of_brief(brief).with_note(feedback);
        let mut scenes: Vec<Scene> = plan
            .into_iter()
            .enumerate()
            .map(|(k, (id, beat))| {
                let drawn = *places.pick(&LOCATIONS);
                // Where the idea (or the note) says, else where the premise's draw lands.
                let (location, interior) = facts.location(k).unwrap_or(drawn);
                let time = *places.pick(&TIMES);
                let hero = &characters[0];
                // The hero meets each of the others in turn.
                let other = match characters.len() {
                    1 => hero,
                    n => &characters[1 + k % (n - 1)],
                };
                let mut cast = vec![hero.id.clone()];
                if other.id != hero.id {
                    cast.push(other.id.clone());
                }
                let hero_line = match (k * 5) / count.max(1) {
                    0 => format!(
                        "I saw it with my own eyes: {}.",
                        premise(brief).trim().trim_end_matches('.')
                    ),
                    1 => "This changes everything. We can't go back now.".to_owned(),
                    2 => "I tried. It wasn't enough, and you know it.".to_owned(),
                    3 => "It ends tonight, one way or another.".to_owned(),
                    _ => "We did what we could. Let that be enough.".to_owned(),
                };
                let script = vec![
                    ScriptLine {
                        character_id: hero.id.clone(),
                        line: hero_line,
                    },
                    ScriptLine {
                        character_id: other.id.clone(),
                        line: rng
                            .pick(&[
                                "Then we go now, before it's too late.",
                                "You know what this will cost.",
                                "I never said I'd help you.",
                                "Look at the water. Something's wrong.",
                            ])
                            .to_string(),
                    },
                ];
                Scene {
                    id,
                    slugline: format!("{}. {location} - {time}", if interior { "INT" } else { "EXT" }),
                    location: capitalised(&location.to_lowercase()),
                    time_of_day: time.to_lowercase(),
                    description: format!("A {tone} moment at the {}: {beat}.", location.to_lowercase()),
                    character_ids: cast,
                    script,
                    transition: None,
                    generated_by: self.generator(seed),
                }
            })
            .collect();
        facts.apply_scenes(&mut scenes);
        Ok(scenes)
    }

    async fn storyboard(
        &self,
        brief: &Brief,
        scenes: &[Scene],
        characters: &[Character],
        request: &TextRequest,
    ) -> BackendResult<Vec<Shot>> {
        let (feedback, seed) = (request.feedback(), request.seed);
        let plan = shot_plan(brief, scenes, feedback)?;
        let fps = f64::from(brief.settings.fps);
        let known = |id: &str| characters.iter().any(|c| c.id == id);
        let asked = feedback.and_then(notes::shot_type);
        let mut rng = Rng::derive(seed, "storyboard");
        let mut shots = Vec::with_capacity(plan.shots.len());
        for planned in plan.shots {
            let (scene, k) = (&scenes[planned.scene], planned.index_in_scene);
            let cast: Vec<String> = scene.character_ids.iter().filter(|id| known(id)).cloned().collect();
            let shot_type = match (k, asked) {
                // A scene opens wide, whatever else the note asks for.
                (0, _) | (_, Some(ShotType::Wide)) => ShotType::Wide,
                (_, Some(asked)) => asked,
                (k, None) if k % 2 == 1 => ShotType::Medium,
                _ => ShotType::CloseUp,
            };
            let speaker = planned
                .dialogue
                .first()
                .map(|l| l.character_id.clone())
                .filter(|id| known(id));
            let character_ids = match shot_type {
                ShotType::Wide => cast.clone(),
                ShotType::Medium => cast.iter().take(2).cloned().collect(),
                ShotType::CloseUp => speaker.or_else(|| cast.first().cloned()).into_iter().collect(),
            };
            // Whoever speaks is seen: a close-up of two speakers opens to a medium shot.
            let (shot_type, character_ids) = show_speakers(shot_type, character_ids, &planned.dialogue, known);
            let movement = *rng.pick(&[
                Movement::Static,
                Movement::PanLeft,
                Movement::PanRight,
                Movement::ZoomIn,
                Movement::ZoomOut,
            ]);
            let angle = *rng.pick(&[Angle::EyeLevel, Angle::EyeLevel, Angle::Low, Angle::High]);
            let who = if character_ids.is_empty() {
                "the empty set".to_owned()
            } else {
                character_ids.join(", ")
            };
            shots.push(Shot {
                id: format!("{}-shot-{}", scene.id, k + 1),
                scene_id: scene.id.clone(),
                camera: Camera {
                    shot_type,
                    angle,
                    movement,
                },
                duration_s: planned.frames as f64 / fps,
                visual_desc: format!("{shot_type:?} of {who} at the {}", scene.location.to_lowercase()),
                dialogue: planned.dialogue,
                first_frame_desc: format!("{who}, {}", scene.time_of_day),
                last_frame_desc: None,
                motion_desc: format!("camera {movement:?}").to_lowercase(),
                character_ids,
                seed: rng.next_u64() >> 11,
                transition: planned.transition,
                generated_by: self.generator(seed),
            });
        }
        Ok(shots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use showrunner_backend::BackendError;
    use showrunner_story::model::Settings;

    fn brief(idea: &str, target: f64) -> Brief {
        Brief {
            series: None,
            idea: Some(idea.into()),
            script: None,
            settings: Settings {
                target_duration_s: target,
                ..Settings::default()
            },
        }
    }

    async fn board(b: &Brief, seed: u64, feedback: Option<&str>) -> Vec<Shot> {
        let t = ProceduralText;
        let plain = TextRequest::new(seed);
        let outline = t.outline(b, &plain).await.expect("outline");
        let cast = t.characters(b, &outline, &plain).await.expect("cast");
        let scenes = t.scenes(b, &outline, &cast, &plain).await.expect("scenes");
        t.storyboard(b, &scenes, &cast, &plain.with_feedback(feedback))
            .await
            .expect("storyboard")
    }

    #[tokio::test]
    async fn deterministic_and_feedback_changes_the_words_not_the_ids() {
        let b = brief("a lighthouse keeper vanishes", 30.0);
        let t = ProceduralText;
        assert_eq!(
            t.outline(&b, &TextRequest::new(1)).await.expect("o"),
            t.outline(&b, &TextRequest::new(1)).await.expect("o")
        );
        let plain = t.outline(&b, &TextRequest::new(1)).await.expect("o");
        let darker = t
            .outline(&b, &TextRequest::new(2).with_feedback(Some("make it darker")))
            .await
            .expect("o");
        assert_ne!(plain.synopsis, darker.synopsis);
        assert!(darker.synopsis.contains("grim"));
        let cast = t.characters(&b, &plain, &TextRequest::new(1)).await.expect("cast");
        let older = t
            .characters(
                &b,
                &plain,
                &TextRequest::new(9).with_feedback(Some("make Mara older and dressed in green")),
            )
            .await
            .expect("cast");
        let ids = |c: &[Character]| c.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&cast), ids(&older), "ids are stable across regenerates");
    }

    #[tokio::test]
    async fn an_outline_edited_down_to_no_beats_is_refused_not_a_panic() {
        let b = brief("a heist at the museum", 30.0);
        let t = ProceduralText;
        let request = TextRequest::new(1);
        let mut outline = t.outline(&b, &request).await.expect("outline");
        let cast = t.characters(&b, &outline, &request).await.expect("cast");
        outline.beats.clear();
        let error = t.scenes(&b, &outline, &cast, &request).await.expect_err("no beats");
        assert!(
            matches!(error, BackendError::Invalid(ref m) if m.contains("beats")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_target_duration_sets_shot_count_and_lengths() {
        for (target, fps) in [(30.0, 24), (12.0, 24), (61.5, 30)] {
            let mut b = brief("a heist at the museum", target);
            b.settings.fps = fps;
            let shots = board(&b, 3, None).await;
            let frames: f64 = shots.iter().map(|s| s.duration_s * f64::from(fps)).sum();
            // The target, unless the lines need more time to be read: then what they need.
            let needed: f64 = shots
                .iter()
                .map(|s| (showrunner_story::plan::shot_seconds(&s.dialogue) * f64::from(fps)).ceil())
                .sum();
            let want = (target * f64::from(fps)).max(needed);
            assert!((frames - want).abs() < 0.5, "{target}: {frames} of {want}");
            assert!(shots.iter().all(|s| s.duration_s > 0.0));
            let ids: std::collections::HashSet<_> = shots.iter().map(|s| &s.id).collect();
            assert_eq!(ids.len(), shots.len(), "shot ids are unique");
        }
        let b = brief("a heist at the museum", 30.0);
        assert!(board(&b, 3, Some("more shots")).await.len() > board(&b, 3, None).await.len());
    }
}
