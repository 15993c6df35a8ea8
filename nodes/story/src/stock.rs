//! The stock workflows as the edges (the API, the CLI, the conversation) know them without
//! their nodes: their names, their node keys with the words people use for them, and the one
//! rule of which input each starts from.

/// The name of the idea-to-video workflow.
pub const IDEA2VIDEO: &str = "idea2video";
/// The name of the screenplay-to-video workflow.
pub const SCRIPT2VIDEO: &str = "script2video";

/// The stock workflows' node keys with the words people use for them, for the conversation
/// at the gates (the chat crate's classifier takes them; `screenplay` is script2video's only).
/// Character names and roles are not synonyms: "the detective" is a subject, not a node.
pub const NODES: &[(&str, &[&str])] = &[
    ("screenplay", &["screenplay", "script", "fountain"]),
    (
        "outline",
        &["outline", "outlines", "logline", "synopsis", "premise", "plot", "beats"],
    ),
    (
        "characters",
        &[
            "characters",
            "character",
            "cast",
            "character list",
            "character sheet",
            "character sheets",
        ],
    ),
    (
        "portraits",
        &[
            "portraits",
            "portrait",
            "headshots",
            "headshot",
            "character art",
            "turnarounds",
        ],
    ),
    ("scenes", &["scenes", "scene", "scene list", "scene breakdown"]),
    (
        "scene_images",
        &[
            "scene images",
            "scene image",
            "scene art",
            "backgrounds",
            "background",
            "backdrops",
            "backdrop",
            "environments",
        ],
    ),
    (
        "storyboard",
        &[
            "storyboard",
            "storyboards",
            "story board",
            "shots",
            "shot",
            "shot list",
            "boards",
        ],
    ),
    (
        "keyframes",
        &["keyframes", "keyframe", "key frames", "key frame", "frames", "stills"],
    ),
    ("clips", &["clips", "clip", "video clips", "animation", "animations"]),
    (
        "final",
        &[
            "final",
            "final video",
            "final cut",
            "final render",
            "final film",
            "final episode",
            "render",
            "export",
        ],
    ),
];

/// What a stock workflow starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// An idea in a sentence or a paragraph (idea2video).
    Idea,
    /// A Fountain screenplay (script2video).
    Script,
}

impl Input {
    /// The brief's field that holds it: `idea` or `script`.
    pub fn field(self) -> &'static str {
        match self {
            Input::Idea => "idea",
            Input::Script => "script",
        }
    }
}

/// The input `workflow` starts from, when it is a stock workflow.
pub fn input_of(workflow: &str) -> Option<Input> {
    match workflow {
        IDEA2VIDEO => Some(Input::Idea),
        SCRIPT2VIDEO => Some(Input::Script),
        _ => None,
    }
}

/// Why a brief's inputs do not fit its workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Both an idea and a screenplay, or neither: a brief gives exactly one.
    #[error("give exactly one of `idea` (idea2video) and `script` (script2video)")]
    NotOne,
    /// The other input than the one the workflow starts from.
    #[error("{workflow} needs {}", match .needs { Input::Idea => "an `idea`", Input::Script => "a `script`" })]
    Missing {
        /// The workflow.
        workflow: &'static str,
        /// What it starts from.
        needs: Input,
    },
}

impl InputError {
    /// The brief's field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            InputError::NotOne => Input::Idea.field(),
            InputError::Missing { needs, .. } => needs.field(),
        }
    }
}

/// Checks that a brief for `workflow` gives exactly one input, and for a stock workflow the one
/// it starts from (a workflow of your own may start from either).
///
/// # Errors
///
/// [`InputError`] naming the field.
pub fn check_input(workflow: &str, has_idea: bool, has_script: bool) -> Result<Input, InputError> {
    let given = match (has_idea, has_script) {
        (true, false) => Input::Idea,
        (false, true) => Input::Script,
        _ => return Err(InputError::NotOne),
    };
    match input_of(workflow) {
        Some(needs) if needs != given => Err(InputError::Missing {
            workflow: if needs == Input::Idea { IDEA2VIDEO } else { SCRIPT2VIDEO },
            needs,
        }),
        _ => Ok(given),
    }
}

/// The most characters of an episode's [`title`].
pub const TITLE_CHARS: usize = 60;

/// What an episode is about, for a list: its idea, or its screenplay's `Title:` (else its first
/// line), whitespace-normalised and cut at [`TITLE_CHARS`] with an ellipsis. `input` is the
/// episode's input as stored (a [`crate::model::Brief`]); empty when it has neither.
pub fn title(input: &serde_json::Value) -> String {
    let text = input["idea"].as_str().map(str::to_owned).or_else(|| {
        let script = input["script"].as_str()?;
        let title = script
            .lines()
            .find_map(|l| l.trim().strip_prefix("Title:").map(str::trim).filter(|t| !t.is_empty()));
        Some(
            title
                .unwrap_or_else(|| script.lines().find(|l| !l.trim().is_empty()).unwrap_or(""))
                .to_owned(),
        )
    });
    let text = text
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match text.char_indices().nth(TITLE_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stock_workflow_takes_its_own_input_and_exactly_one() {
        assert_eq!(check_input(IDEA2VIDEO, true, false), Ok(Input::Idea));
        assert_eq!(check_input(SCRIPT2VIDEO, false, true), Ok(Input::Script));
        assert_eq!(check_input("mine", false, true), Ok(Input::Script));
        assert_eq!(check_input(IDEA2VIDEO, true, true), Err(InputError::NotOne));
        assert_eq!(check_input("mine", false, false), Err(InputError::NotOne));
        let missing = check_input(IDEA2VIDEO, false, true).expect_err("a script for idea2video");
        assert_eq!(
            (missing.field(), missing.to_string().as_str()),
            ("idea", "idea2video needs an `idea`")
        );
        let missing = check_input(SCRIPT2VIDEO, true, false).expect_err("an idea for script2video");
        assert_eq!(
            (missing.field(), missing.to_string().as_str()),
            ("script", "script2video needs a `script`")
        );
    }
}
