//! The plans every text backend shares: the cast's names, how many scenes and shots an episode
//! gets, which beat each scene covers and how many frames each shot lasts. The procedural and
//! the LLM backends both build on these, so an episode has the same shape whichever writes it.

use crate::model::{Brief, Character, Outline, Scene};
use crate::rng::{Rng, hash_str};

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

/// The cast's names: chosen by the premise alone, so regenerates keep them (and their ids).
pub fn cast_names(brief: &Brief, count: usize) -> Vec<String> {
    let mut rng = Rng::new(hash_str(&premise(brief)));
    let mut names: Vec<String> = brief.regulars().iter().map(|c| c.name.clone()).collect();
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
    let f = feedback.unwrap_or("").to_lowercase();
    let mut per_shot = 3.0;
    if f.contains("slower") || f.contains("longer shots") || f.contains("fewer shots") {
        per_shot = 5.0;
    } else if f.contains("faster") || f.contains("more shots") || f.contains("quicker") {
        per_shot = 2.0;
    }
    let n = (brief.settings.target_duration_s / per_shot).round() as usize;
    n.clamp(scenes.max(1), 60)
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

/// A storyboard's shape: the frames of each shot, and how many shots each scene gets. Refuses no
/// scenes and a non-positive fps or target duration.
pub fn shot_plan(brief: &Brief, scenes: &[Scene], feedback: Option<&str>) -> Result<(Vec<u64>, Vec<usize>), PlanError> {
    let settings = &brief.settings;
    if scenes.is_empty() {
        return Err(PlanError("a storyboard needs at least one scene".into()));
    }
    if settings.fps == 0 || settings.target_duration_s <= 0.0 {
        return Err(PlanError("fps and target_duration_s must be positive".into()));
    }
    let total = (settings.target_duration_s * f64::from(settings.fps)).round().max(1.0) as u64;
    let n = shot_count(brief, scenes.len(), feedback);
    let counts = split_frames(n as u64, scenes.len())
        .into_iter()
        .map(|c| c as usize)
        .collect();
    Ok((split_frames(total, n), counts))
}

/// The frames of `total` split into `n` near-equal parts.
pub fn split_frames(total: u64, n: usize) -> Vec<u64> {
    let n = n.max(1) as u64;
    (0..n).map(|i| total / n + u64::from(i < total % n)).collect()
}
