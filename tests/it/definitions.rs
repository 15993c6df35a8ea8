//! Each definition error, by test: the builder refuses a bad DAG with a distinct typed error.

use serde_json::json;
use showrunner::engine::{DefinitionError, Gate, NodeSpec, WorkflowDef};

use crate::support::{Runs, counted};

fn node(
    runs: &Runs,
) -> crate::support::Counted<
    impl Fn(&serde_json::Value, &showrunner::engine::NodeCtx) -> serde_json::Value + Send + Sync + 'static,
> {
    counted(runs, |_, _| json!(null))
}

#[test]
fn duplicate_key() {
    let runs = Runs::default();
    let err = WorkflowDef::builder("w")
        .node(NodeSpec::single("a", node(&runs)))
        .node(NodeSpec::single("a", node(&runs)))
        .build()
        .expect_err("duplicate");
    assert_eq!(err, DefinitionError::DuplicateKey { key: "a".into() });
}

#[test]
fn unknown_dependency() {
    let runs = Runs::default();
    let err = WorkflowDef::builder("w")
        .node(NodeSpec::single("a", node(&runs)).reads("ghost"))
        .build()
        .expect_err("unknown");
    assert_eq!(
        err,
        DefinitionError::UnknownDependency {
            node: "a".into(),
            dependency: "ghost".into()
        }
    );
}

#[test]
fn cycle_names_its_nodes() {
    let runs = Runs::default();
    let err = WorkflowDef::builder("w")
        .node(NodeSpec::single("root", node(&runs)))
        .node(NodeSpec::single("a", node(&runs)).reads("root").reads("c"))
        .node(NodeSpec::single("b", node(&runs)).reads("a"))
        .node(NodeSpec::single("c", node(&runs)).reads("b"))
        .build()
        .expect_err("cycle");
    assert_eq!(
        err,
        DefinitionError::Cycle {
            nodes: vec!["a".into(), "b".into(), "c".into()]
        }
    );
    assert_eq!(err.to_string(), "dependency cycle through nodes a -> b -> c");
}

#[test]
fn self_loop_is_a_cycle() {
    let runs = Runs::default();
    let err = WorkflowDef::builder("w")
        .node(NodeSpec::single("a", node(&runs)).reads("a"))
        .build()
        .expect_err("cycle");
    assert_eq!(
        err,
        DefinitionError::Cycle {
            nodes: vec!["a".into()]
        }
    );
}

#[test]
fn map_without_a_list_source() {
    let runs = Runs::default();
    let err = WorkflowDef::builder("w")
        .node(NodeSpec::single("outline", node(&runs)))
        .node(NodeSpec::map("portraits", "outline", node(&runs)))
        .build()
        .expect_err("map over a single");
    assert_eq!(
        err,
        DefinitionError::MapWithoutList {
            node: "portraits".into(),
            source_node: "outline".into()
        }
    );
}

#[test]
fn reduce_and_item_reads_need_a_map() {
    let runs = Runs::default();
    let err = WorkflowDef::builder("w")
        .node(NodeSpec::list("shots", node(&runs)))
        .node(NodeSpec::reduce("video", "shots", node(&runs)))
        .build()
        .expect_err("reduce over a list");
    assert!(
        matches!(err, DefinitionError::NotAMap { ref node, .. } if node == "video"),
        "{err:?}"
    );
}

#[test]
fn bad_keys_and_parameters() {
    let runs = Runs::default();
    let err = WorkflowDef::builder("w")
        .node(NodeSpec::single("a/b", node(&runs)))
        .build()
        .expect_err("key");
    assert!(matches!(err, DefinitionError::InvalidKey { .. }), "{err:?}");
    let err = WorkflowDef::builder("w")
        .node(NodeSpec::single("item", node(&runs)))
        .build()
        .expect_err("reserved");
    assert!(matches!(err, DefinitionError::InvalidKey { .. }), "{err:?}");
    let err = WorkflowDef::builder("w")
        .node(NodeSpec::single("a", node(&runs)).gate(Gate::Candidates { n: 0 }))
        .build()
        .expect_err("candidates 0");
    assert!(matches!(err, DefinitionError::InvalidParameter { .. }), "{err:?}");
    // A worker tag outside the CLI's `--tags` alphabet could never be matched by a worker.
    for tag in ["GPU", "", "two words", "gpu,llm"] {
        let err = WorkflowDef::builder("w")
            .node(NodeSpec::single("a", node(&runs)).tags(["gpu", tag]))
            .build()
            .expect_err("a bad tag");
        assert!(
            matches!(&err, DefinitionError::InvalidParameter { node, reason } if node == "a" && reason.contains(&format!("`{tag}`"))),
            "{err:?}"
        );
    }
    WorkflowDef::builder("w")
        .node(NodeSpec::single("a", node(&runs)).tags(["gpu", "llm-7b", "x_1"]))
        .build()
        .expect("good tags");
    let err = WorkflowDef::builder("w").build().expect_err("empty");
    assert!(matches!(err, DefinitionError::Empty { .. }), "{err:?}");
}

#[test]
fn version_hash_follows_structure() {
    let runs = Runs::default();
    let build = |gate| {
        WorkflowDef::builder("w")
            .node(NodeSpec::single("a", node(&runs)).gate(gate))
            .build()
            .expect("valid")
    };
    assert_eq!(build(Gate::Human).version(), build(Gate::Human).version());
    assert_ne!(build(Gate::Human).version(), build(Gate::Auto).version());
}
