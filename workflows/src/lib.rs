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
//!
//! Each workflow also has variants ([`variants`]) that the settings `review_items` and
//! `candidates` ask for ([`Settings::review_variant`]): a person approves each portrait, scene
//! image and keyframe, and/or picks one of `n` candidates of each portrait and keyframe.

use showrunner_engine::{DefinitionError, Escalation, Gate, NodeSpec, Resource, WorkflowBuilder, WorkflowDef};
use showrunner_nodes::stages::{
    Backends, CharactersNode, ClipNode, FinalVideoNode, KeyframeNode, OutlineNode, PortraitNode, SceneImageNode,
    ScenesNode, ScreenplayNode, ScriptCharactersNode, ScriptOutlineNode, ScriptScenesNode, StoryboardNode,
};

use showrunner_story::model::Settings;
use showrunner_story::model::review_variant;
pub use showrunner_story::stock::{IDEA2VIDEO, SCRIPT2VIDEO};

/// The keyframe quality gate: how well characters match their portraits.
pub const KEYFRAME_GATE: Gate = Gate::Quality {
    min_score: 0.6,
    max_attempts: 3,
    then: Escalation::Human,
};

/// `spec` holding the GPU while it runs when the backends' models are on one (model stages).
fn placed(spec: NodeSpec, backends: &Backends) -> NodeSpec {
    if backends.on_gpu {
        spec.resource(Resource::Gpu)
    } else {
        spec
    }
}

/// How people review the fan-outs: a gate on each item, and how many candidates to pick from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Review {
    /// A person approves each portrait, scene image and keyframe.
    pub items: bool,
    /// Candidates of each portrait and keyframe to pick from (1: none).
    pub candidates: u32,
}

impl Review {
    /// Whole stages only, no candidates: what `demo` and the defaults use.
    pub const STAGES: Review = Review {
        items: false,
        candidates: 1,
    };

    /// The gate of a portrait or keyframe (`fallback` when neither is asked for).
    fn picked(self, fallback: Gate) -> Gate {
        match self {
            Review { candidates: n, .. } if n > 1 => Gate::Candidates { n },
            Review { items: true, .. } => Gate::Human,
            _ => fallback,
        }
    }

    /// The gate of a scene image.
    fn reviewed(self) -> Gate {
        if self.items { Gate::Human } else { Gate::Auto }
    }
}

/// The stages both workflows share once they have characters and scenes.
fn from_cast_and_scenes(builder: WorkflowBuilder, backends: &Backends, review: Review) -> WorkflowBuilder {
    let builder = match review_variant(review.items, review.candidates) {
        Some(variant) => builder.variant(variant),
        None => builder,
    };
    builder
        .node(
            placed(
                NodeSpec::map("portraits", "characters", PortraitNode::new(backends.clone())),
                backends,
            )
            .gate(review.picked(Gate::Auto)),
        )
        .node(
            placed(
                NodeSpec::map("scene_images", "scenes", SceneImageNode::new(backends.clone())),
                backends,
            )
            .gate(review.reviewed()),
        )
        .node(
            placed(
                NodeSpec::list("storyboard", StoryboardNode::new(backends.clone())),
                backends,
            )
            .reads("scenes")
            .reads("characters")
            .gate(Gate::Human),
        )
        .node(
            placed(
                NodeSpec::map("keyframes", "storyboard", KeyframeNode::new(backends.clone())),
                backends,
            )
            .reads_items("portraits", "/character_ids")
            .reads_items("scene_images", "/scene_id")
            .gate(review.picked(KEYFRAME_GATE)),
        )
        .node(placed(
            NodeSpec::map("clips", "keyframes", ClipNode::new(backends.clone())),
            backends,
        ))
        .node(
            NodeSpec::reduce("final", "clips", FinalVideoNode::new(backends.clone()))
                .reads("storyboard")
                .reads("characters")
                .gate(Gate::Human),
        )
}

/// An idea becomes a video.
pub fn idea2video(backends: &Backends) -> Result<WorkflowDef, DefinitionError> {
    idea2video_reviewed(backends, Review::STAGES)
}

/// [`idea2video`] with its fan-outs reviewed as `review` says.
pub fn idea2video_reviewed(backends: &Backends, review: Review) -> Result<WorkflowDef, DefinitionError> {
    let builder = WorkflowDef::builder(IDEA2VIDEO)
        .node(
            placed(
                NodeSpec::single("outline", OutlineNode::new(backends.clone())),
                backends,
            )
            .gate(Gate::Human),
        )
        .node(
            placed(
                NodeSpec::list("characters", CharactersNode::new(backends.clone())),
                backends,
            )
            .reads("outline")
            .gate(Gate::Human),
        )
        .node(
            placed(NodeSpec::list("scenes", ScenesNode::new(backends.clone())), backends)
                .reads("outline")
                .reads("characters")
                .gate(Gate::Human),
        );
    from_cast_and_scenes(builder, backends, review).build()
}

/// A Fountain screenplay becomes a video: its scenes, characters and dialogue as written.
pub fn script2video(backends: &Backends) -> Result<WorkflowDef, DefinitionError> {
    script2video_reviewed(backends, Review::STAGES)
}

/// [`script2video`] with its fan-outs reviewed as `review` says.
pub fn script2video_reviewed(backends: &Backends, review: Review) -> Result<WorkflowDef, DefinitionError> {
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
    from_cast_and_scenes(builder, backends, review).build()
}

/// Both stock workflows, then every variant of each ([`variants`]).
pub fn all(backends: &Backends) -> Result<Vec<WorkflowDef>, DefinitionError> {
    let mut defs = vec![idea2video(backends)?, script2video(backends)?];
    defs.extend(variants(backends)?);
    Ok(defs)
}

/// Each stock workflow's variants: every other combination of per-item review and
/// [`Settings::CANDIDATES`], named as [`Settings::review_variant`] names them.
pub fn variants(backends: &Backends) -> Result<Vec<WorkflowDef>, DefinitionError> {
    let mut defs = Vec::new();
    for items in [false, true] {
        for candidates in Settings::CANDIDATES {
            let review = Review { items, candidates };
            if review == Review::STAGES {
                continue;
            }
            defs.push(idea2video_reviewed(backends, review)?);
            defs.push(script2video_reviewed(backends, review)?);
        }
    }
    Ok(defs)
}

#[cfg(test)]
mod tests {
    use showrunner_nodes::backend::Embedder;
    use showrunner_procedural::embed::HashedEmbedder;

    use super::*;

    /// The procedural idea2video's definition version, as builds before this one computed it.
    const PROCEDURAL_IDEA2VIDEO: &str = "6ee1e0db6fb0a0db";

    #[test]
    fn both_workflows_build_with_their_review_variants() {
        let defs = all(&Backends::procedural()).expect("valid");
        assert_eq!(defs.len(), 2 + 2 * 7, "two defaults, and seven variants of each");
        assert_eq!((defs[0].variant(), defs[0].nodes().len()), (None, 9));
        assert_eq!((defs[1].variant(), defs[1].nodes().len()), (None, 10));
        let mut versions: Vec<&str> = defs.iter().map(|d| d.version()).collect();
        versions.sort_unstable();
        versions.dedup();
        assert_eq!(versions.len(), defs.len(), "every variant has its own version");
        let gate = |variant: &str, node: &str| {
            let def = defs
                .iter()
                .find(|d| d.name() == IDEA2VIDEO && d.variant() == Some(variant))
                .expect("the variant");
            def.node(node).expect("the node").gate_ref().clone()
        };
        assert_eq!(gate("review-items", "scene_images"), Gate::Human);
        assert_eq!(gate("review-items", "keyframes"), Gate::Human);
        assert_eq!(gate("candidates-3", "portraits"), Gate::Candidates { n: 3 });
        assert_eq!(gate("candidates-3", "scene_images"), Gate::Auto);
        assert_eq!(
            gate("review-items-candidates-2", "keyframes"),
            Gate::Candidates { n: 2 }
        );
        assert_eq!(gate("review-items-candidates-2", "scene_images"), Gate::Human);
    }

    /// The procedural embedder under another model name: another embedder as far as versions go.
    struct RenamedEmbedder;

    impl Embedder for RenamedEmbedder {
        fn generator(&self) -> showrunner_nodes::model::Generator {
            showrunner_nodes::model::Generator {
                model: "renamed-embedder".into(),
                ..HashedEmbedder.generator()
            }
        }

        fn embed(&self, texts: &[&str]) -> showrunner_nodes::backend::BackendResult<Vec<Vec<f32>>> {
            HashedEmbedder.embed(texts)
        }
    }

    #[test]
    fn the_embedder_behind_the_keyframe_gate_is_part_of_the_definition_version() {
        let procedural = idea2video(&Backends::procedural()).expect("valid");
        assert_eq!(
            procedural.version(),
            PROCEDURAL_IDEA2VIDEO,
            "the procedural definition keeps its version: stores made before still open their episodes"
        );
        let renamed = idea2video(&Backends {
            embedder: std::sync::Arc::new(RenamedEmbedder),
            ..Backends::procedural()
        })
        .expect("valid");
        assert_ne!(renamed.version(), procedural.version());
    }

    #[test]
    fn model_stages_hold_the_gpu_when_a_model_runs_on_one() {
        let on_cpu = idea2video(&Backends::procedural()).expect("valid");
        let on_gpu = idea2video(&Backends {
            on_gpu: true,
            ..Backends::procedural()
        })
        .expect("valid");
        let holding = |def: &WorkflowDef| {
            def.nodes()
                .iter()
                .filter(|n| n.resource_ref() == Resource::Gpu)
                .map(|n| n.key().to_owned())
                .collect::<Vec<_>>()
        };
        assert!(holding(&on_cpu).is_empty());
        assert_eq!(holding(&on_gpu).len(), 8, "{:?}", holding(&on_gpu));
        assert!(!holding(&on_gpu).contains(&"final".to_owned()));
    }
}
