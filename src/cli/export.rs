//! Exports an episode's current outputs into a directory:
//!
//! ```text
//! episode.json  outline.json  characters.json  scenes.json  storyboard.json
//! portraits/<character-id>/{front,side,back}.png
//! scenes/<scene-id>.png
//! shots/<shot-id>/{keyframe.png,clip.mp4}
//! final.mp4  subtitles.vtt  subtitles.srt
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use showrunner::engine::{BlobRef, Engine, EpisodeId, InstanceKey};
use showrunner::nodes::model::{Clip, Keyframe, Portrait, SceneImage, Video};

struct Exporter<'a> {
    engine: &'a Engine,
    dir: &'a Path,
    written: usize,
}

impl Exporter<'_> {
    fn path(&self, relative: &str) -> anyhow::Result<PathBuf> {
        let path = self.dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        Ok(path)
    }

    fn json(&mut self, relative: &str, value: &Value) -> anyhow::Result<()> {
        let path = self.path(relative)?;
        std::fs::write(&path, serde_json::to_vec_pretty(value)?)
            .with_context(|| format!("writing {}", path.display()))?;
        self.written += 1;
        Ok(())
    }

    async fn blob(&mut self, relative: &str, blob: BlobRef) -> anyhow::Result<()> {
        let bytes = self
            .engine
            .blobs()
            .get(blob)
            .await
            .with_context(|| format!("reading {blob} for {relative}"))?;
        let path = self.path(relative)?;
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        self.written += 1;
        Ok(())
    }
}

fn typed<T: DeserializeOwned>(key: &InstanceKey, value: Value) -> anyhow::Result<T> {
    serde_json::from_value(value).with_context(|| format!("the value of `{key}` is not what its stage makes"))
}

/// Writes the episode's current outputs into `dir`; returns how many files were written.
pub async fn export(engine: &Engine, id: EpisodeId, dir: &Path) -> anyhow::Result<usize> {
    let snapshot = engine.snapshot(id).await?;
    let mut out = Exporter {
        engine,
        dir,
        written: 0,
    };
    let nodes: Vec<Value> = snapshot
        .instances
        .iter()
        .map(|r| json!({"key": r.key.to_string(), "state": r.state.name(), "current": r.current, "versions": r.versions.len()}))
        .collect();
    let header = &snapshot.header;
    out.json(
        "episode.json",
        &json!({
            "id": header.id, "workflow": header.workflow, "definition_version": header.definition_version,
            "status": header.status, "created_at": header.created_at, "input": header.input, "nodes": nodes,
        }),
    )?;
    for record in &snapshot.instances {
        let Some(version) = record.current else { continue };
        let key = &record.key;
        let value = engine.version_value(id, key, version)?;
        match key.node.as_str() {
            "outline" | "characters" | "scenes" | "storyboard" | "screenplay" => {
                out.json(&format!("{}.json", key.node), &value)?;
            }
            "portraits" => {
                let p: Portrait = typed(key, value)?;
                let id = &p.character.id;
                out.blob(&format!("portraits/{id}/front.png"), p.front).await?;
                out.blob(&format!("portraits/{id}/side.png"), p.side).await?;
                out.blob(&format!("portraits/{id}/back.png"), p.back).await?;
            }
            "scene_images" => {
                let s: SceneImage = typed(key, value)?;
                out.blob(&format!("scenes/{}.png", s.scene_id), s.image).await?;
            }
            "keyframes" => {
                let k: Keyframe = typed(key, value)?;
                out.blob(&format!("shots/{}/keyframe.png", k.shot.id), k.image).await?;
            }
            "clips" => {
                let c: Clip = typed(key, value)?;
                out.blob(&format!("shots/{}/clip.mp4", c.shot_id), c.video).await?;
            }
            "final" => {
                let v: Video = typed(key, value)?;
                out.blob("final.mp4", v.video).await?;
                out.blob("subtitles.vtt", v.subtitles_vtt).await?;
                out.blob("subtitles.srt", v.subtitles_srt).await?;
            }
            other => out.json(
                &format!("nodes/{other}/{}.json", key.item.as_deref().unwrap_or("value")),
                &value,
            )?,
        }
    }
    Ok(out.written)
}
