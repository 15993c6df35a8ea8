//! Showrunner's stock workflows, assembled from the stage nodes of `showrunner-nodes`.
//!
//! - [`idea2video`]: outline → characters → portraits (per character) → scenes → scene images
//!   (per scene) → storyboard → keyframes (per shot, reading the portraits of the shot's
//!   characters and its scene's image) → clips (per shot) → the final video.
//! - [`script2video`]: a Fountain screenplay → its scenes, characters and dialogue, then as
//!   above.
//!
//! People approve the outline, the characters, the scenes, the storyboard and the final video;
//! keyframes pass a quality gate (their characters must match their portraits) and go to a
//! person after three tries below the bar.

pub mod conversation;

use showrunner_engine::{DefinitionError, Escalation, Gate, NodeSpec, WorkflowBuilder, WorkflowDef};
use showrunner_nodes::stages::{
    Backends, CharactersNode, ClipNode, FinalVideoNode, KeyframeNode, OutlineNode, PortraitNode, SceneImageNode,
    ScenesNode, ScreenplayNode, ScriptCharactersNode, ScriptOutlineNode, ScriptScenesNode, StoryboardNode,
};

/// The name of the idea-to-video workflow.
pub const IDEA2VIDEO: &str = "idea2video";
/// The name of the screenplay-to-video workflow.
pub const SCRIPT2VIDEO: &str = "script2video";

/// The keyframe quality gate: how well characters match their portraits.
pub const KEYFRAME_GATE: Gate = Gate::Quality {
    min_score: 0.6,
    max_attempts: 3,
    then: Escalation::Human,
};

/// The stages both workflows share once they have characters and scenes.
fn from_cast_and_scenes(builder: WorkflowBuilder, backends: &Backends) -> WorkflowBuilder {
    builder
        .node(NodeSpec::map(
            "portraits",
            "characters",
            PortraitNode::new(backends.clone()),
        ))
        .node(NodeSpec::map(
            "scene_images",
            "scenes",
            SceneImageNode::new(backends.clone()),
        ))
        .node(
            NodeSpec::list("storyboard", StoryboardNode::new(backends.clone()))
                .reads("scenes")
                .reads("characters")
                .gate(Gate::Human),
        )
        .node(
            NodeSpec::map("keyframes", "storyboard", KeyframeNode::new(backends.clone()))
                .reads_items("portraits", "/character_ids")
                .reads_items("scene_images", "/scene_id")
                .gate(KEYFRAME_GATE),
        )
        .node(NodeSpec::map("clips", "keyframes", ClipNode::new(backends.clone())))
        .node(
            NodeSpec::reduce("final", "clips", FinalVideoNode::new(backends.clone()))
                .reads("storyboard")
                .reads("characters")
                .gate(Gate::Human),
        )
}

/// An idea becomes a video.
pub fn idea2video(backends: &Backends) -> Result<WorkflowDef, DefinitionError> {
    let builder = WorkflowDef::builder(IDEA2VIDEO)
        .node(NodeSpec::single("outline", OutlineNode::new(backends.clone())).gate(Gate::Human))
        .node(
            NodeSpec::list("characters", CharactersNode::new(backends.clone()))
                .reads("outline")
                .gate(Gate::Human),
        )
        .node(
            NodeSpec::list("scenes", ScenesNode::new(backends.clone()))
                .reads("outline")
                .reads("characters")
                .gate(Gate::Human),
        );
    from_cast_and_scenes(builder, backends).build()
}

/// A Fountain screenplay becomes a video: its scenes, characters and dialogue as written.
pub fn script2video(backends: &Backends) -> Result<WorkflowDef, DefinitionError> {
    let builder = WorkflowDef::builder(SCRIPT2VIDEO)
        .node(NodeSpec::single("screenplay", ScreenplayNode))
        .node(
            NodeSpec::single("outline", ScriptOutlineNode)
                .reads("screenplay")
                .gate(Gate::Human),
        )
        .node(
            NodeSpec::list("characters", ScriptCharactersNode::new(backends))
                .reads("screenplay")
                .gate(Gate::Human),
        )
        .node(
            NodeSpec::list("scenes", ScriptScenesNode)
                .reads("screenplay")
                .gate(Gate::Human),
        );
    from_cast_and_scenes(builder, backends).build()
}

/// Both stock workflows.
pub fn all(backends: &Backends) -> Result<Vec<WorkflowDef>, DefinitionError> {
    Ok(vec![idea2video(backends)?, script2video(backends)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_workflows_build() {
        let defs = all(&Backends::procedural()).expect("valid");
        assert_eq!(defs.len(), 2);
        assert_eq!(defs[0].nodes().len(), 9);
        assert_eq!(defs[1].nodes().len(), 10);
    }
}
