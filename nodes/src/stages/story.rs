//! The text stages of idea2video: outline, characters, scenes, storyboard.

use async_trait::async_trait;
use serde::Deserialize;
use showrunner_engine::{Node, NodeCtx, NodeError, ValueError};
use showrunner_story::references::{check_cast, check_scenes, check_storyboard};

use super::revise::{revise_cast, revise_scenes};

use super::{Backends, node_error, version};
use crate::backend::TextRequest;
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
        self.backends
            .text
            .outline(&input.episode, &TextRequest::of_run(ctx))
            .await
            .map_err(node_error)
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
        if let (Some(previous), Some(note)) = (&input.previous, ctx.feedback())
            && let Some(cast) = revise_cast(&input.episode, previous, note, ctx.seed())
        {
            return Ok(cast);
        }
        let text = &self.backends.text;
        let cast = text
            .characters(&input.episode, &input.outline, &TextRequest::of_run(ctx))
            .await
            .map_err(node_error)?;
        Ok(with_regulars(input.episode.regulars(), cast))
    }
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
        if let (Some(previous), Some(note)) = (&input.previous, ctx.feedback())
            && let Some(scenes) = revise_scenes(&input.episode, previous, note)
        {
            return Ok(scenes);
        }
        let text = &self.backends.text;
        text.scenes(
            &input.episode,
            &input.outline,
            &input.characters,
            &TextRequest::of_run(ctx),
        )
        .await
        .map_err(node_error)
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
        text.storyboard(
            &input.episode,
            &input.scenes,
            &input.characters,
            &TextRequest::of_run(ctx),
        )
        .await
        .map_err(node_error)
    }
}
