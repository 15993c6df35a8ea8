//! The text stages of idea2video: outline, characters, scenes, storyboard.

use async_trait::async_trait;
use serde::Deserialize;
use showrunner_engine::{Node, NodeCtx, NodeError, ValueError};
use showrunner_story::references::{check_cast, check_scenes, check_storyboard};

use showrunner_story::facts::Facts;
use showrunner_story::notes::{self, Reader, Stage, introductions};
use showrunner_story::slug;

use super::revise::{newcomer, revise_cast, revise_scenes};

use super::{Backends, node_error, version};
use crate::backend::{TextModel, TextRequest};
use crate::model::{Brief, Character, Outline, Scene, Shot};

backed_node!(
    /// Writes the outline from the brief.
    OutlineNode,
    text
);
backed_node!(
    /// Casts the characters of the outline.
    CharactersNode,
    text
);
backed_node!(
    /// Breaks the outline into scenes.
    ScenesNode,
    text
);
backed_node!(
    /// Breaks the scenes into shots.
    StoryboardNode,
    text
);

/// The input of the outline.
#[derive(Deserialize)]
pub struct BriefInput {
    episode: Brief,
}

#[async_trait]
impl Node for OutlineNode {
    type Input = BriefInput;
    type Output = Outline;

    fn version(&self) -> &str {
        &self.version
    }

    async fn run(&self, input: BriefInput, ctx: &NodeCtx) -> Result<Outline, NodeError> {
        let text = &self.backends.text;
        let outline = text
            .outline(&input.episode, &TextRequest::of_run(ctx))
            .await
            .map_err(node_error)?;
        remark_unread(ctx, text.as_ref(), Stage::Outline);
        Ok(outline)
    }
}

/// The input of the cast.
#[derive(Deserialize)]
pub struct CharactersInput {
    episode: Brief,
    outline: Outline,
    /// The version a regenerate with a note revises, when its inputs are unchanged.
    #[serde(default)]
    previous: Option<Vec<Character>>,
}

#[async_trait]
impl Node for CharactersNode {
    type Input = CharactersInput;
    type Output = Vec<Character>;

    fn version(&self) -> &str {
        &self.version
    }

    fn check_edit(&self, _: &CharactersInput, cast: &Vec<Character>) -> Result<(), ValueError> {
        check_cast(cast)
    }

    async fn run(&self, input: CharactersInput, ctx: &NodeCtx) -> Result<Vec<Character>, NodeError> {
        let text = &self.backends.text;
        if let (Some(previous), Some((note, left))) = (&input.previous, revising(ctx, text.as_ref(), Stage::Characters))
            && let Some(cast) = revise_cast(&input.episode, previous, note, ctx.seed())
        {
            remark_revised(ctx, text.as_ref(), &left, Stage::Characters);
            return Ok(cast);
        }
        let cast = text
            .characters(&input.episode, &input.outline, &TextRequest::of_run(ctx))
            .await
            .map_err(node_error)?;
        remark_unread(ctx, text.as_ref(), Stage::Characters);
        let cast = with_introduced(&input.outline, ctx.feedback(), cast, ctx.seed());
        Ok(with_regulars(input.episode.regulars(), cast))
    }
}

/// The cast with every being the outline (or the run's note) introduces by name ("a whale
/// named Old Tom"), as it introduces them: a note can add a character the cast then has. Only
/// beings count (a kind or a trade: not "a ship named Endeavour"), and a name the cast already
/// has, whole or in part ("Tom" for "Old Tom"), adds no one.
fn with_introduced(outline: &Outline, note: Option<&str>, mut cast: Vec<Character>, seed: u64) -> Vec<Character> {
    // Beat by beat, then sentence by sentence: each introduction read on its own.
    let texts = (outline.beats.iter().map(|b| b.summary.as_str()))
        .chain(outline.synopsis.split(['.', ';']))
        .chain(note);
    let mut introduced: Facts = Facts::default();
    for person in texts.flat_map(introductions) {
        let Some(name) = person.name.as_deref() else { continue };
        if person.kind.is_none() && person.occupation.is_none() {
            continue;
        }
        if !introduced.people.iter().any(|p| p.is_named(name)) {
            if !cast.iter().any(|c| same_person(&c.name, name)) {
                cast.push(newcomer(name, seed));
            }
            introduced.people.push(person);
        }
    }
    introduced.apply_cast(&mut cast);
    cast
}

/// Whether two names are one person's: equal, or one a word of the other ("Tom", "Old Tom").
fn same_person(a: &str, b: &str) -> bool {
    let words = |n: &str| n.split_whitespace().map(slug).collect::<Vec<_>>();
    let (a, b) = (words(a), words(b));
    a == b || (a.len() == 1 && b.contains(&a[0])) || (b.len() == 1 && a.contains(&b[0]))
}

/// The note of a regenerate that the previous version may be revised by, with the clauses the
/// revision leaves: when it leaves none, or only clauses the backend would not act on either (a
/// model that takes the whole note as a constraint gets a note the revision only partly reads;
/// so does the procedural backend when the note asks for a tone).
fn revising<'a>(ctx: &'a NodeCtx, text: &dyn TextModel, stage: Stage) -> Option<(&'a str, Vec<String>)> {
    let note = ctx.feedback()?;
    let left = notes::unread(note, stage, Reader::Revision);
    let backend_left = text.unread(stage, note);
    left.iter()
        .all(|clause| backend_left.contains(clause))
        .then_some((note, left))
}

/// Tells the person which clauses of the run's note the backend did not act on.
fn remark_unread(ctx: &NodeCtx, text: &dyn TextModel, stage: Stage) {
    let Some(note) = ctx.feedback() else { return };
    if let Some(said) = notes::remark(&who(ctx, text), stage, &text.unread(stage, note)) {
        ctx.remark(said);
    }
}

/// Tells the person which clauses of a note a revision of the previous version `left` (the
/// backend would not have acted on them either: see [`revising`]).
fn remark_revised(ctx: &NodeCtx, text: &dyn TextModel, left: &[String], stage: Stage) {
    if let Some(said) = notes::remark(&who(ctx, text), stage, left) {
        ctx.remark(said);
    }
}

/// The backend, as a remark names it: "the procedural text backend".
fn who(ctx: &NodeCtx, text: &dyn TextModel) -> String {
    format!("the {} text backend", text.generator(ctx.seed()).backend)
}

/// The cast with the series' regular characters first, exactly as the series has them (a
/// generated character with a regular's id gives way to the regular).
fn with_regulars(regulars: &[Character], cast: Vec<Character>) -> Vec<Character> {
    let mut all = regulars.to_vec();
    all.extend(cast.into_iter().filter(|c| regulars.iter().all(|r| r.id != c.id)));
    all
}

/// The input of the scenes.
#[derive(Deserialize)]
pub struct ScenesInput {
    episode: Brief,
    outline: Outline,
    characters: Vec<Character>,
    /// The version a regenerate with a note revises, when its inputs are unchanged.
    #[serde(default)]
    previous: Option<Vec<Scene>>,
}

#[async_trait]
impl Node for ScenesNode {
    type Input = ScenesInput;
    type Output = Vec<Scene>;

    fn version(&self) -> &str {
        &self.version
    }

    fn check_edit(&self, input: &ScenesInput, scenes: &Vec<Scene>) -> Result<(), ValueError> {
        check_scenes(scenes, &input.characters)
    }

    async fn run(&self, input: ScenesInput, ctx: &NodeCtx) -> Result<Vec<Scene>, NodeError> {
        let text = &self.backends.text;
        if let (Some(previous), Some((note, left))) = (&input.previous, revising(ctx, text.as_ref(), Stage::Scenes))
            && let Some(scenes) = revise_scenes(previous, note)
        {
            remark_revised(ctx, text.as_ref(), &left, Stage::Scenes);
            return Ok(scenes);
        }
        let scenes = text
            .scenes(
                &input.episode,
                &input.outline,
                &input.characters,
                &TextRequest::of_run(ctx),
            )
            .await
            .map_err(node_error)?;
        remark_unread(ctx, text.as_ref(), Stage::Scenes);
        Ok(scenes)
    }
}

/// The input of the storyboard.
#[derive(Deserialize)]
pub struct StoryboardInput {
    episode: Brief,
    scenes: Vec<Scene>,
    characters: Vec<Character>,
}

#[async_trait]
impl Node for StoryboardNode {
    type Input = StoryboardInput;
    type Output = Vec<Shot>;

    fn version(&self) -> &str {
        &self.version
    }

    fn check_edit(&self, input: &StoryboardInput, shots: &Vec<Shot>) -> Result<(), ValueError> {
        check_storyboard(shots, &input.scenes, &input.characters)
    }

    async fn run(&self, input: StoryboardInput, ctx: &NodeCtx) -> Result<Vec<Shot>, NodeError> {
        let text = &self.backends.text;
        let shots = text
            .storyboard(
                &input.episode,
                &input.scenes,
                &input.characters,
                &TextRequest::of_run(ctx),
            )
            .await
            .map_err(node_error)?;
        remark_unread(ctx, text.as_ref(), Stage::Storyboard);
        Ok(shots)
    }
}
