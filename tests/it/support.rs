//! Shared nodes, workflows and helpers for the integration tests.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use showrunner::engine::{
    Engine, EngineConfig, EpisodeId, EpisodeSnapshot, EpisodeStatus, Gate, InstanceKey, Node, NodeCtx, NodeError,
    NodeSpec, NodeState, WorkflowDef,
};

/// Counts runs per instance (`node` or `node[item]`).
#[derive(Clone, Default)]
pub struct Runs(Arc<Mutex<HashMap<String, usize>>>);

impl Runs {
    pub fn bump(&self, key: &InstanceKey) {
        *self.0.lock().expect("runs lock").entry(key.to_string()).or_default() += 1;
    }

    pub fn get(&self, key: &str) -> usize {
        self.0.lock().expect("runs lock").get(key).copied().unwrap_or(0)
    }

    pub fn all(&self) -> HashMap<String, usize> {
        self.0.lock().expect("runs lock").clone()
    }
}

/// A node that counts its runs and returns `f(input)`.
pub struct Counted<F> {
    pub runs: Runs,
    pub f: F,
}

#[async_trait]
impl<F> Node for Counted<F>
where
    F: Fn(&Value, &NodeCtx) -> Value + Send + Sync + 'static,
{
    type Input = Value;
    type Output = Value;

    async fn run(&self, input: Value, ctx: &NodeCtx) -> Result<Value, NodeError> {
        self.runs.bump(ctx.key());
        Ok((self.f)(&input, ctx))
    }
}

pub fn counted<F>(runs: &Runs, f: F) -> Counted<F>
where
    F: Fn(&Value, &NodeCtx) -> Value + Send + Sync + 'static,
{
    Counted { runs: runs.clone(), f }
}

/// characters (map) → portraits (map) → shots (map, reading the characters it shows) → final.
pub fn cast_workflow(runs: &Runs) -> WorkflowDef {
    WorkflowDef::builder("cast")
        .node(NodeSpec::list("cast", counted(runs, |input, _| input["episode"]["characters"].clone())))
        .node(NodeSpec::map(
            "characters",
            "cast",
            counted(runs, |input, _| {
                let item = &input["item"];
                json!({"id": item["id"], "name": item["name"], "clothing": item["clothing"]})
            }),
        ))
        .node(NodeSpec::map(
            "portraits",
            "characters",
            counted(runs, |input, _| {
                let c = &input["item"];
                json!({"front": format!("{} wearing {}", c["name"].as_str().unwrap_or("?"), c["clothing"].as_str().unwrap_or("?"))})
            }),
        ))
        .node(NodeSpec::list("storyboard", counted(runs, |input, _| input["episode"]["shots"].clone())))
        .node(
            NodeSpec::map(
                "shots",
                "storyboard",
                counted(runs, |input, _| {
                    json!({
                        "shot": input["item"]["id"],
                        "characters": input["characters"],
                        "portraits": input["portraits"],
                    })
                }),
            )
            .reads_items("characters", "/character_ids")
            .reads_items("portraits", "/character_ids"),
        )
        .node(NodeSpec::reduce(
            "final",
            "shots",
            counted(runs, |input, _| json!({"shots": input["shots"].as_object().map_or(0, |o| o.len())})),
        ))
        .build()
        .expect("cast workflow is valid")
}

pub fn cast_input() -> Value {
    json!({
        "characters": [
            {"id": "ada", "name": "Ada", "clothing": "a grey coat"},
            {"id": "ben", "name": "Ben", "clothing": "a red scarf"},
            {"id": "cy", "name": "Cy", "clothing": "overalls"},
        ],
        "shots": [
            {"id": "s1", "character_ids": ["ada"]},
            {"id": "s2", "character_ids": ["ben", "cy"]},
            {"id": "s3", "character_ids": ["ada", "ben"]},
            {"id": "s4", "character_ids": []},
        ],
    })
}

/// A three-node workflow behind a human gate, for concurrency and error tests.
pub fn gated_workflow(runs: &Runs) -> WorkflowDef {
    WorkflowDef::builder("gated")
        .node(
            NodeSpec::single(
                "draft",
                counted(runs, |input, ctx| json!({"idea": input["episode"], "seed": ctx.seed()})),
            )
            .gate(Gate::Human),
        )
        .node(NodeSpec::single("render", counted(runs, |input, _| json!({"from": input["draft"]}))).reads("draft"))
        .build()
        .expect("gated workflow is valid")
}

pub async fn open(data: &Path, defs: Vec<WorkflowDef>) -> Engine {
    let (engine, report) = showrunner::open(data, defs, EngineConfig::default())
        .await
        .expect("engine opens");
    assert!(report.corrupt.is_empty(), "corrupt: {:?}", report.corrupt);
    engine
}

pub async fn wait_for(
    engine: &Engine,
    id: EpisodeId,
    what: &str,
    f: impl Fn(&EpisodeSnapshot) -> bool,
) -> EpisodeSnapshot {
    match engine.wait_until(id, Duration::from_secs(30), f).await.expect("wait") {
        Some(snapshot) => snapshot,
        None => panic!(
            "timed out waiting for {what}: {:#?}",
            engine.snapshot(id).await.expect("snapshot")
        ),
    }
}

pub async fn wait_status(engine: &Engine, id: EpisodeId, status: EpisodeStatus) -> EpisodeSnapshot {
    wait_for(engine, id, status.name(), |s| s.header.status == status).await
}

pub async fn wait_state(engine: &Engine, id: EpisodeId, key: &InstanceKey, state: NodeState) -> EpisodeSnapshot {
    wait_for(engine, id, &format!("{key} {}", state.name()), |s| {
        s.instances.iter().any(|r| &r.key == key && r.state == state)
    })
    .await
}

pub fn record<'a>(snapshot: &'a EpisodeSnapshot, key: &InstanceKey) -> &'a showrunner::engine::InstanceRecord {
    snapshot
        .instances
        .iter()
        .find(|r| &r.key == key)
        .unwrap_or_else(|| panic!("no instance {key}"))
}
