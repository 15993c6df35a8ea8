//! The stages of script2video that come from the screenplay: the parsed screenplay, and the
//! outline, cast and scenes taken from it.

use async_trait::async_trait;
use serde::Deserialize;
use showrunner_engine::{Node, NodeCtx, NodeError, ValueError};

use super::{Backends, version};
use crate::fountain::{Screenplay, parse};
use crate::model::{Beat, Brief, Character, Generator, Outline, Scene};
use showrunner_procedural::text::describe;
use showrunner_story::facts::Facts;

/// Who made what was read from a screenplay.
fn from_script(seed: u64) -> Generator {
    Generator {
        backend: "script".into(),
        model: "fountain".into(),
        seed,
    }
}

/// The input of every screenplay stage.
#[derive(Deserialize)]
pub struct ScriptInput {
    episode: Brief,
}

/// Parses the episode's Fountain screenplay; a malformed one fails with its line number.
pub struct ScreenplayNode;

#[async_trait]
impl Node for ScreenplayNode {
    type Input = ScriptInput;
    type Output = Screenplay;

    async fn run(&self, input: ScriptInput, _ctx: &NodeCtx) -> Result<Screenplay, NodeError> {
        let text = input
            .episode
            .script
            .ok_or_else(|| NodeError::Permanent("script2video needs a screenplay (`script`)".into()))?;
        parse(&text).map_err(|e| NodeError::Permanent(format!("the screenplay does not parse: {e}")))
    }
}

/// The input of the stages read from the screenplay.
#[derive(Deserialize)]
pub struct ScreenplayInput {
    screenplay: Screenplay,
}

/// The outline of a screenplay: its title and first action as the logline, a beat per scene.
pub struct ScriptOutlineNode;

#[async_trait]
impl Node for ScriptOutlineNode {
    type Input = ScreenplayInput;
    type Output = Outline;

    async fn run(&self, input: ScreenplayInput, ctx: &NodeCtx) -> Result<Outline, NodeError> {
        let play = input.screenplay;
        let title = play.title.clone().unwrap_or_else(|| "Untitled".into());
        let opening = play
            .scenes
            .iter()
            .flat_map(|s| s.action.first())
            .next()
            .cloned()
            .unwrap_or_default();
        let beats: Vec<Beat> = play
            .scenes
            .iter()
            .enumerate()
            .map(|(n, s)| Beat {
                id: format!("beat-{}", n + 1),
                summary: s.action.first().cloned().unwrap_or_else(|| s.heading.clone()),
            })
            .collect();
        Ok(Outline {
            logline: format!("{title}: {}", opening.lines().next().unwrap_or(""))
                .trim_end_matches(": ")
                .to_owned(),
            synopsis: play
                .scenes
                .iter()
                .map(|s| s.heading.as_str())
                .collect::<Vec<_>>()
                .join(" / "),
            beats,
            generated_by: from_script(ctx.seed()),
        })
    }
}

/// The cast of a screenplay: its speaking characters, with ids from their names and features
/// described by the text backend's procedural describer.
pub struct ScriptCharactersNode {
    version: String,
}

impl ScriptCharactersNode {
    /// The node over these backends.
    pub fn new(backends: &Backends) -> Self {
        Self {
            version: version(1, &backends.text.generator(0).model),
        }
    }
}

#[async_trait]
impl Node for ScriptCharactersNode {
    type Input = ScreenplayInput;
    type Output = Vec<Character>;

    fn version(&self) -> &str {
        &self.version
    }

    fn check_edit(&self, _: &ScreenplayInput, cast: &Vec<Character>) -> Result<(), ValueError> {
        showrunner_story::references::check_cast(cast)
    }

    async fn run(&self, input: ScreenplayInput, ctx: &NodeCtx) -> Result<Vec<Character>, NodeError> {
        let generator = Generator {
            backend: "procedural".into(),
            model: showrunner_procedural::text::MODEL.into(),
            seed: ctx.seed(),
        };
        let mut cast: Vec<Character> = input
            .screenplay
            .characters
            .iter()
            .map(|c| {
                let role = format!("speaks {} line{}", c.lines, if c.lines == 1 { "" } else { "s" });
                let mut character = describe(&c.name, &role, ctx.feedback(), ctx.seed(), generator.clone());
                character.id = c.id.clone();
                character
            })
            .collect();
        // What the screenplay says of each character where it introduces them (`LEO (17),
        // soaked hoodie`) wins over the describer's draw.
        Facts::of_screenplay(&input.screenplay)
            .with_note(ctx.feedback())
            .apply_cast(&mut cast);
        Ok(cast)
    }
}

/// The scenes of a screenplay, with their characters and dialogue as written.
pub struct ScriptScenesNode;

#[async_trait]
impl Node for ScriptScenesNode {
    type Input = ScreenplayInput;
    type Output = Vec<Scene>;

    async fn run(&self, input: ScreenplayInput, ctx: &NodeCtx) -> Result<Vec<Scene>, NodeError> {
        Ok(input.screenplay.model_scenes(&from_script(ctx.seed())))
    }
}
