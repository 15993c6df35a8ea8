//! A workflow authored in code and driven to completion.
//!
//! Three nodes: `outline` (behind a human gate) → `cast` (a list of characters with stable ids)
//! → `portraits` (a map: one instance per character). The program plays the person at the gate:
//! it asks for a regenerate with feedback once, then approves, and watches the rest run. The
//! store lives in a temporary directory, so each run starts fresh.
//!
//! Run it with `cargo run --example custom_workflow`.

use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use showrunner::engine::{
    EngineConfig, EpisodeStatus, Gate, InstanceKey, Node, NodeCtx, NodeError, NodeSpec, NodeState, WorkflowDef,
};

/// What every node receives of the episode.
#[derive(Deserialize)]
struct EpisodeInput {
    idea: String,
}

#[derive(Deserialize)]
struct OutlineInput {
    episode: EpisodeInput,
}

#[derive(Serialize, Deserialize)]
struct Outline {
    logline: String,
}

/// Writes a logline; feedback from a regenerate changes it.
struct WriteOutline;

#[async_trait]
impl Node for WriteOutline {
    type Input = OutlineInput;
    type Output = Outline;

    async fn run(&self, input: OutlineInput, ctx: &NodeCtx) -> Result<Outline, NodeError> {
        ctx.progress(0.5, "drafting");
        let tone = ctx.feedback().unwrap_or("as pitched");
        Ok(Outline {
            logline: format!("{} ({tone})", input.episode.idea),
        })
    }
}

#[derive(Deserialize)]
struct CastInput {
    outline: Outline,
}

#[derive(Serialize, Deserialize)]
struct Character {
    id: String,
    name: String,
    role: String,
}

/// Casts two characters with stable ids.
struct Cast;

#[async_trait]
impl Node for Cast {
    type Input = CastInput;
    type Output = Vec<Character>;

    async fn run(&self, input: CastInput, _ctx: &NodeCtx) -> Result<Vec<Character>, NodeError> {
        let role = |r: &str| format!("{r} in: {}", input.outline.logline);
        Ok(vec![
            Character {
                id: "mara".into(),
                name: "Mara".into(),
                role: role("the detective"),
            },
            Character {
                id: "ossie".into(),
                name: "Ossie".into(),
                role: role("the witness"),
            },
        ])
    }
}

#[derive(Deserialize)]
struct PortraitInput {
    item: Character,
}

/// "Renders" a portrait per character: a blob in the blob store, referenced from the output.
struct Portrait;

#[async_trait]
impl Node for Portrait {
    type Input = PortraitInput;
    type Output = serde_json::Value;

    async fn run(&self, input: PortraitInput, ctx: &NodeCtx) -> Result<serde_json::Value, NodeError> {
        let pixels = format!("portrait of {} (seed {})", input.item.name, ctx.seed()).into_bytes();
        let blob = ctx
            .blobs()
            .put(pixels)
            .await
            .map_err(|e| NodeError::retryable(e.to_string()))?;
        Ok(json!({"character_id": input.item.id, "front": blob}))
    }
}

fn definition() -> anyhow::Result<WorkflowDef> {
    Ok(WorkflowDef::builder("portrait-sheet")
        .node(NodeSpec::single("outline", WriteOutline).gate(Gate::Human))
        .node(NodeSpec::list("cast", Cast).reads("outline"))
        .node(NodeSpec::map("portraits", "cast", Portrait))
        .build()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let (engine, _) = showrunner::open(data.path(), [definition()?], EngineConfig::default()).await?;
    let id = engine
        .create_episode("portrait-sheet", json!({"idea": "a lighthouse keeper vanishes"}), 42)
        .await?;
    println!("episode {id}");

    let outline = InstanceKey::single("outline");
    let at_gate = |s: &showrunner::engine::EpisodeSnapshot| {
        s.instances
            .iter()
            .any(|r| r.key == outline && r.state == NodeState::AwaitingApproval {})
    };
    let wait = Duration::from_secs(30);
    engine
        .wait_until(id, wait, at_gate)
        .await?
        .context("the outline never reached its gate")?;
    let first = engine.version_value(id, &outline, 1)?;
    println!("outline v1: {}", first["logline"]);

    engine
        .regenerate(id, outline.clone(), Some("darker, colder".into()), Some(1))
        .await?;
    let snapshot = engine
        .wait_until(id, wait, at_gate)
        .await?
        .context("no second outline")?;
    let current = snapshot
        .instances
        .iter()
        .find(|r| r.key == outline)
        .and_then(|r| r.current)
        .context("no version")?;
    println!(
        "outline v{current}: {}",
        engine.version_value(id, &outline, current)?["logline"]
    );
    engine.approve(id, outline, current).await?;

    let done = engine
        .wait_until(id, wait, |s| s.header.status == EpisodeStatus::Completed)
        .await?
        .context("the episode did not complete")?;
    for record in done.instances.iter().filter(|r| r.key.node == "portraits") {
        let value = engine.version_value(id, &record.key, record.current.unwrap_or(1))?;
        println!("{} -> {}", record.key, value["front"]);
    }
    if done.instances.len() != 4 {
        bail!(
            "expected outline, cast and two portraits, found {}",
            done.instances.len()
        );
    }
    let mut events = engine.subscribe(id, 1).await?;
    let mut count = 0;
    while events.next_seq() < done.header.next_seq {
        events.next().await.context("stream closed")??;
        count += 1;
    }
    println!("completed with {count} events");
    engine.shutdown().await;
    Ok(())
}
