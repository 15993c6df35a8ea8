//! The plans every text backend shares: the cast's names, how many scenes and shots an episode
//! gets, which beat each scene covers and how many frames each shot lasts. The procedural and
//! the LLM backends both build on these, so an episode has the same shape whichever writes it.

use crate::facts::{Facts, Pronoun};
use crate::model::{Brief, Character, Outline, Scene, ScriptLine, ShotType};
use crate::notes::{self, Pace};
use crate::rng::{Rng, hash_str};
use crate::transition::Transition;

/// A plan that cannot be made from what it was given (an empty cast, an outline without beats,
/// no scenes, a zero frame rate): retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// The names the cast is drawn from.
pub const NAMES: [&str; 24] = [
    "Mara", "Ossie", "Juno", "Tobias", "Ines", "Felix", "Wren", "Dara", "Silas", "Noor", "Bram", "Lena", "Cato",
    "Edda", "Rafe", "Yuki", "Hollis", "Priya", "Anselm", "Greta", "Milo", "Sabine", "Ezra", "Vida",
];
/// `s` trimmed, with its first letter capitalised.
pub fn capitalised(s: &str) -> String {
    let mut chars = s.trim().chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The premise an outline is built on.
pub fn premise(brief: &Brief) -> String {
    brief
        .idea
        .clone()
        .or_else(|| {
            brief
                .script
                .as_ref()
                .map(|s| s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").to_owned())
        })
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "an untitled story".into())
}

/// The names of [`NAMES`] that go with `she`; the others go with `he`.
const SHE_NAMES: [&str; 12] = [
    "Mara", "Juno", "Ines", "Wren", "Dara", "Noor", "Lena", "Edda", "Yuki", "Priya", "Greta", "Vida",
];

/// The cast's names: chosen by the premise alone, so regenerates keep them (and their ids). The
/// series' regulars come first, then the names the idea gives (an unnamed lead it speaks of
/// leads, under a made-up name that agrees with the lead's pronoun), then made-up names.
pub fn cast_names(brief: &Brief, count: usize) -> Vec<String> {
    let facts = Facts::of_brief(brief);
    let mut rng = Rng::new(hash_str(&premise(brief)));
    let mut names: Vec<String> = brief.regulars().iter().map(|c| c.name.clone()).collect();
    let lead = facts.people.first().filter(|p| p.name.is_none());
    let fits = |name: &str, pronoun: Option<Pronoun>| match pronoun {
        Some(Pronoun::She) => SHE_NAMES.contains(&name),
        Some(Pronoun::He) => !SHE_NAMES.contains(&name),
        None => true,
    };
    if let Some(lead) = lead.filter(|_| names.is_empty()) {
        let name = (0..64)
            .map(|_| *rng.pick(&NAMES))
            .find(|n| fits(n, lead.pronoun))
            .unwrap_or(NAMES[0]);
        names.push(name.to_owned());
    }
    for name in facts.names() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let wanted = count.max(names.len());
    while names.len() < wanted && names.len() < NAMES.len() {
        let name = *rng.pick(&NAMES);
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// How many characters an episode gets, from its target duration.
pub fn cast_size(brief: &Brief) -> usize {
    if brief.settings.target_duration_s < 15.0 { 2 } else { 3 }
}

/// How many scenes an episode gets, from its target duration.
pub fn scene_count(brief: &Brief) -> usize {
    ((brief.settings.target_duration_s / 10.0).round() as usize).clamp(2, 5)
}

/// How many shots a storyboard gets, from the target duration and the feedback.
pub fn shot_count(brief: &Brief, scenes: usize, feedback: Option<&str>) -> usize {
    let per_shot = match feedback.and_then(notes::pace) {
        Some(Pace::Slower) => 5.0,
        Some(Pace::Faster) => 2.0,
        None => 3.0,
    };
    let n = (brief.settings.target_duration_s / per_shot).round() as usize;
    // At least a shot per scene (even past 60 scenes), at most 60 otherwise.
    n.max(scenes.max(1)).min(60.max(scenes))
}

/// The scenes an outline becomes: their ids and the beat each covers. Refuses an empty cast and
/// an outline without beats (an edit can leave one).
pub fn scene_plan(
    brief: &Brief,
    outline: &Outline,
    characters: &[Character],
) -> Result<Vec<(String, String)>, PlanError> {
    if characters.is_empty() {
        return Err(PlanError("scenes need at least one character".into()));
    }
    if outline.beats.is_empty() {
        return Err(PlanError("scenes need an outline with beats".into()));
    }
    let count = scene_count(brief);
    Ok((0..count)
        .map(|k| {
            let beat = &outline.beats[(k * outline.beats.len()) / count].summary;
            (format!("scene-{}", k + 1), beat.clone())
        })
        .collect())
}

/// How fast a viewer reads: a line stays on screen at least one second per this many characters.
pub const READING_CPS: f64 = 15.0;

/// The least time a line stays on screen, in seconds, however short it is.
pub const MIN_LINE_S: f64 = 1.2;

/// The pause a shot keeps before its first line and after each line, in seconds.
pub const LINE_PAUSE_S: f64 = 0.3;

/// The shortest shot, in seconds.
pub const MIN_SHOT_S: f64 = 1.0;

/// How long `line` needs on screen to be read (and, at a normal pace, spoken): its characters
/// at [`READING_CPS`], at least [`MIN_LINE_S`].
pub fn line_seconds(line: &str) -> f64 {
    (line.split_whitespace().map(|w| w.chars().count() + 1).sum::<usize>() as f64 / READING_CPS).max(MIN_LINE_S)
}

/// How long a shot must last to carry `lines`: each line's [`line_seconds`], with a
/// [`LINE_PAUSE_S`] before the first and after each; at least [`MIN_SHOT_S`].
pub fn shot_seconds(lines: &[ScriptLine]) -> f64 {
    if lines.is_empty() {
        return MIN_SHOT_S;
    }
    let speech: f64 = lines.iter().map(|l| line_seconds(&l.line) + LINE_PAUSE_S).sum();
    (speech + LINE_PAUSE_S).max(MIN_SHOT_S)
}

/// A scene's lines over its `count` shots, **in the screenplay's order**: shot `k` speaks only
/// lines that come after every line of the shots before it. The scene's first shot sets the
/// scene and stays silent while there are no more lines than other shots; fewer lines than
/// shots are spread over the scene (not packed into its first shots).
pub fn dialogue_plan(script: &[ScriptLine], count: usize) -> Vec<Vec<ScriptLine>> {
    let mut shots = vec![Vec::new(); count];
    if count == 0 {
        return shots;
    }
    let lines = script.len();
    for (j, line) in script.iter().enumerate() {
        let k = if count == 1 {
            0
        } else if lines < count {
            // Spread over shots 1..count, each line at the middle of its share.
            1 + ((2 * j + 1) * (count - 1)) / (2 * lines)
        } else {
            (j * count) / lines
        };
        shots[k.min(count - 1)].push(line.clone());
    }
    shots
}

/// The framing and cast of a shot that shows everyone who speaks in it: each speaker in
/// `dialogue` who is not among `character_ids` is added (when `known`), and a close-up of more
/// than one person becomes a medium shot.
pub fn show_speakers(
    shot_type: ShotType,
    mut character_ids: Vec<String>,
    dialogue: &[ScriptLine],
    known: impl Fn(&str) -> bool,
) -> (ShotType, Vec<String>) {
    for line in dialogue {
        if known(&line.character_id) && !character_ids.contains(&line.character_id) {
            character_ids.push(line.character_id.clone());
        }
    }
    let shot_type = if shot_type == ShotType::CloseUp && character_ids.len() > 1 {
        ShotType::Medium
    } else {
        shot_type
    };
    (shot_type, character_ids)
}

/// One shot of a storyboard's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ShotPlan {
    /// The index of its scene.
    pub scene: usize,
    /// Its index within the scene.
    pub index_in_scene: usize,
    /// Its length in frames.
    pub frames: u64,
    /// What is said during it, in the screenplay's order.
    pub dialogue: Vec<ScriptLine>,
    /// How it gives way to the next shot: a cut within a scene, the scene's own transition (a
    /// dissolve when it has none) at its end, none after the last shot.
    pub transition: Option<Transition>,
}

/// A storyboard's shape, shared by every text backend.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardPlan {
    /// The shots, scene by scene.
    pub shots: Vec<ShotPlan>,
    /// How many shots each scene gets.
    pub per_scene: Vec<usize>,
    /// The frames the episode lasts: the target duration's, or more when the dialogue needs more
    /// time than the target gives (the film grows to fit rather than rush or drop a line).
    pub frames: u64,
}

impl BoardPlan {
    /// True when the dialogue made the episode longer than its target duration.
    pub fn grew(&self, brief: &Brief) -> bool {
        self.frames > target_frames(brief)
    }
}

/// The target duration in frames.
fn target_frames(brief: &Brief) -> u64 {
    (brief.settings.target_duration_s * f64::from(brief.settings.fps))
        .round()
        .max(1.0) as u64
}

/// A storyboard's shape: how many shots each scene gets, which lines each shot speaks (in
/// order, spread over the scene: [`dialogue_plan`]), and the frames of each shot: the target
/// duration shared out, every shot at least as long as its lines need ([`shot_seconds`]),
/// silent shots giving up time first; when the lines need more than the target, the episode
/// grows to fit. Refuses no scenes and a non-positive fps or target duration.
pub fn shot_plan(brief: &Brief, scenes: &[Scene], feedback: Option<&str>) -> Result<BoardPlan, PlanError> {
    let settings = &brief.settings;
    if scenes.is_empty() {
        return Err(PlanError("a storyboard needs at least one scene".into()));
    }
    if settings.fps == 0 || settings.target_duration_s <= 0.0 {
        return Err(PlanError("fps and target_duration_s must be positive".into()));
    }
    let n = shot_count(brief, scenes.len(), feedback);
    let per_scene: Vec<usize> = split_frames(n as u64, scenes.len())
        .into_iter()
        .map(|c| c as usize)
        .collect();
    let mut shots = Vec::with_capacity(n);
    for (s, (scene, &count)) in scenes.iter().zip(&per_scene).enumerate() {
        for (k, dialogue) in dialogue_plan(&scene.script, count).into_iter().enumerate() {
            let last_of_scene = k + 1 == count;
            let transition = match (last_of_scene, s + 1 == scenes.len()) {
                (false, _) => Some(Transition::Cut),
                (true, false) => Some(scene.transition.unwrap_or(Transition::Dissolve)),
                (true, true) => None,
            };
            shots.push(ShotPlan {
                scene: s,
                index_in_scene: k,
                frames: 0,
                dialogue,
                transition,
            });
        }
    }
    let fps = f64::from(settings.fps);
    let needs: Vec<u64> = shots
        .iter()
        .map(|s| (shot_seconds(&s.dialogue) * fps).ceil().max(1.0) as u64)
        .collect();
    let frames = share_frames(target_frames(brief), &needs);
    let total = frames.iter().sum();
    for (shot, f) in shots.iter_mut().zip(frames) {
        shot.frames = f;
    }
    Ok(BoardPlan {
        shots,
        per_scene,
        frames: total,
    })
}

/// `total` frames shared out as evenly as `needs` allow: every part at least its need, the
/// parts that need less levelled up to a common length with the remainder spread one frame
/// each from the first. When the needs add up to more than `total`, each part is its need.
pub fn share_frames(total: u64, needs: &[u64]) -> Vec<u64> {
    let needed: u64 = needs.iter().sum();
    if needed >= total || needs.is_empty() {
        return needs.to_vec();
    }
    let filled = |level: u64| needs.iter().map(|&n| n.max(level)).sum::<u64>();
    // The highest level every part can be raised to within the total.
    let (mut low, mut high) = (0, total);
    while low < high {
        let mid = (low + high).div_ceil(2);
        if filled(mid) <= total {
            low = mid
        } else {
            high = mid - 1
        }
    }
    let mut spare = total - filled(low);
    needs
        .iter()
        .map(|&n| {
            let mut f = n.max(low);
            if n <= low && spare > 0 {
                f += 1;
                spare -= 1;
            }
            f
        })
        .collect()
}

/// The frames of `total` split into `n` near-equal parts.
pub fn split_frames(total: u64, n: usize) -> Vec<u64> {
    let n = n.max(1) as u64;
    (0..n).map(|i| total / n + u64::from(i < total % n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Generator, Settings};

    fn said(who: &str, line: &str) -> ScriptLine {
        ScriptLine {
            character_id: who.into(),
            line: line.into(),
        }
    }

    fn scene(id: &str, script: Vec<ScriptLine>, transition: Option<Transition>) -> Scene {
        Scene {
            id: id.into(),
            slugline: "INT. GARAGE - DAY".into(),
            location: "Garage".into(),
            time_of_day: "day".into(),
            description: String::new(),
            character_ids: vec!["brick".into(), "steel".into()],
            script,
            transition,
            generated_by: Generator {
                backend: "test".into(),
                model: "none".into(),
                seed: 0,
            },
        }
    }

    fn brief(target: f64) -> Brief {
        Brief {
            idea: None,
            script: Some("INT. GARAGE - DAY".into()),
            settings: Settings {
                target_duration_s: target,
                ..Settings::default()
            },
            series: None,
        }
    }

    #[test]
    fn lines_keep_their_order_and_spread_over_the_scene() {
        let script: Vec<ScriptLine> = (0..7).map(|i| said("brick", &format!("line {i}"))).collect();
        for count in 1..10 {
            for lines in 0..script.len() {
                let plan = dialogue_plan(&script[..lines], count);
                let flat: Vec<&ScriptLine> = plan.iter().flatten().collect();
                assert_eq!(flat.len(), lines, "every line is spoken once");
                assert!(flat.iter().zip(&script).all(|(a, b)| *a == b), "in order: {plan:?}");
                if lines > 0 && lines < count {
                    // One line per shot, over the scene: the last line lands in its last part.
                    assert!(plan.iter().all(|s| s.len() <= 1), "{count} {lines}: {plan:?}");
                    let last = plan.iter().rposition(|s| !s.is_empty()).unwrap_or(0);
                    assert!(last + 1 >= count - (count - 1) / lines, "{count} {lines}: {plan:?}");
                }
            }
        }
        let two_of_four = dialogue_plan(&script[..2], 4);
        assert_eq!(two_of_four.iter().map(Vec::len).collect::<Vec<_>>(), [0, 1, 0, 1]);
    }

    #[test]
    fn speakers_are_seen_in_their_shots() {
        let lines = [said("brick", "Hi."), said("steel", "Hello."), said("ghost", "Boo.")];
        let known = |id: &str| id != "ghost";
        let (framing, ids) = show_speakers(ShotType::CloseUp, vec!["brick".into()], &lines, known);
        assert_eq!(
            (framing, ids),
            (ShotType::Medium, vec!["brick".to_owned(), "steel".to_owned()])
        );
        let (framing, ids) = show_speakers(ShotType::CloseUp, vec!["brick".into()], &lines[..1], known);
        assert_eq!((framing, ids), (ShotType::CloseUp, vec!["brick".to_owned()]));
    }

    #[test]
    fn frames_are_shared_so_every_line_has_time_and_the_film_grows_to_fit() {
        assert_eq!(share_frames(100, &[10, 10, 10, 10]), [25, 25, 25, 25]);
        assert_eq!(share_frames(100, &[60, 10, 10]), [60, 20, 20]);
        assert_eq!(share_frames(101, &[60, 10, 10]), [60, 21, 20]);
        assert_eq!(share_frames(50, &[60, 10]), [60, 10]);
        // Eight scenes of short lines: shots as long as their lines need, no fewer frames than
        // the target, and more when the dialogue needs more.
        let talk: Vec<ScriptLine> = ["Beer's ready!", "Are they cold?", "Does a bear crap in the woods?"]
            .iter()
            .map(|l| said("steel", l))
            .collect();
        let scenes: Vec<Scene> = (0..8)
            .map(|i| scene(&format!("scene-{i}"), talk.clone(), Some(Transition::Cut)))
            .collect();
        for target in [10.0, 30.0, 120.0] {
            let b = brief(target);
            let plan = shot_plan(&b, &scenes, None).expect("plan");
            let fps = f64::from(b.settings.fps);
            for shot in &plan.shots {
                assert!(
                    shot.frames as f64 / fps >= shot_seconds(&shot.dialogue) - 1.0 / fps,
                    "{shot:?}"
                );
            }
            let total: u64 = plan.shots.iter().map(|s| s.frames).sum();
            assert_eq!(total, plan.frames);
            assert!(plan.frames >= (target * fps) as u64);
            assert_eq!(plan.grew(&b), target < 60.0, "{target}: {} frames", plan.frames);
        }
        assert!(line_seconds("Beer's ready!") >= MIN_LINE_S);
        assert!(line_seconds(&"word ".repeat(30)) > 9.0);
    }

    #[test]
    fn a_screenplay_of_many_scenes_gets_a_shot_each() {
        let scenes: Vec<Scene> = (0..75)
            .map(|i| scene(&format!("scene-{i}"), Vec::new(), None))
            .collect();
        let plan = shot_plan(&brief(30.0), &scenes, None).expect("plan");
        assert_eq!(plan.shots.len(), 75);
    }

    #[test]
    fn transitions_come_from_the_scenes() {
        let scenes = vec![
            scene("scene-1", vec![said("brick", "One.")], Some(Transition::Cut)),
            scene("scene-2", vec![said("steel", "Two.")], None),
            scene("scene-3", Vec::new(), Some(Transition::Dissolve)),
        ];
        let plan = shot_plan(&brief(30.0), &scenes, None).expect("plan");
        let ends: Vec<Option<Transition>> = plan
            .shots
            .iter()
            .zip(plan.shots.iter().skip(1).map(|s| s.scene).chain([usize::MAX]))
            .filter(|(s, next)| s.scene != *next)
            .map(|(s, _)| s.transition)
            .collect();
        assert_eq!(ends, [Some(Transition::Cut), Some(Transition::Dissolve), None]);
        assert!(
            plan.shots
                .windows(2)
                .filter(|w| w[0].scene == w[1].scene)
                .all(|w| w[0].transition == Some(Transition::Cut))
        );
    }
}
