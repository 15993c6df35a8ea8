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
use showrunner::engine::{BlobRef, BlobStore, EpisodeId, InstanceKey, Store};
use showrunner::nodes::model::{Clip, Keyframe, Portrait, SceneImage, Video};

use super::remote::Remote;

/// Where an episode is read from: the store, or the API of the `serve` that holds it.
pub enum Source<'a> {
    /// The store and the blobs, opened by this process: the episode as committed.
    Local(&'a dyn Store, &'a dyn BlobStore),
    /// A running server's API.
    Remote(&'a Remote),
}

/// One instance as the export needs it.
struct Instance {
    key: InstanceKey,
    current: Option<u32>,
}

impl Source<'_> {
    /// The episode's header (as `episode.json` has it) and its instances.
    async fn episode(&self, id: EpisodeId) -> anyhow::Result<(Value, Vec<Instance>)> {
        match self {
            Source::Local(store, _) => {
                let snapshot = store
                    .load_episode(id)?
                    .ok_or_else(|| anyhow::anyhow!("no episode {id} in the store"))?;
                let nodes: Vec<Value> = snapshot
                    .instances
                    .iter()
                    .map(|r| json!({"key": r.key.to_string(), "state": r.state.name(), "current": r.current, "versions": r.versions.len()}))
                    .collect();
                let h = &snapshot.header;
                let header = json!({
                    "id": h.id, "workflow": h.workflow, "definition_version": h.definition_version,
                    "status": h.status, "created_at": h.created_at, "input": h.input, "nodes": nodes,
                });
                let instances = snapshot
                    .instances
                    .into_iter()
                    .map(|r| Instance {
                        key: r.key,
                        current: r.current,
                    })
                    .collect();
                Ok((header, instances))
            }
            Source::Remote(remote) => {
                let (episode, _) = remote.get(&format!("episodes/{id}")).await?;
                let mut instances = Vec::new();
                let mut nodes = Vec::new();
                for n in episode["nodes"].as_array().into_iter().flatten() {
                    let node = n["node"].as_str().unwrap_or_default();
                    let key = match n["item"].as_str() {
                        Some(item) => InstanceKey::item(node, item),
                        None => InstanceKey::single(node),
                    };
                    let current = n["current_version"].as_u64().and_then(|v| u32::try_from(v).ok());
                    nodes.push(json!({"key": key.to_string(), "state": n["state"], "current": current, "versions": n["version_count"]}));
                    instances.push(Instance { key, current });
                }
                let header = json!({
                    "id": episode["id"], "workflow": episode["workflow"],
                    "definition_version": episode["definition_version"], "status": episode["status"],
                    "created_at": episode["created_at"], "input": episode["input"], "nodes": nodes,
                });
                Ok((header, instances))
            }
        }
    }

    /// Version `version` of `key`'s value.
    async fn value(&self, id: EpisodeId, key: &InstanceKey, version: u32) -> anyhow::Result<Value> {
        match self {
            Source::Local(store, _) => Ok(store.version_value(id, key, version)?),
            Source::Remote(remote) => {
                let path = match &key.item {
                    Some(item) => format!("episodes/{id}/nodes/{}/items/{item}?version={version}", key.node),
                    None => format!("episodes/{id}/nodes/{}?version={version}", key.node),
                };
                let (mut detail, _) = remote.get(&path).await?;
                Ok(detail["value"].take())
            }
        }
    }

    /// A blob's bytes.
    async fn blob(&self, id: EpisodeId, blob: BlobRef) -> anyhow::Result<Vec<u8>> {
        match self {
            Source::Local(_, blobs) => Ok(blobs.get(blob).await?),
            Source::Remote(remote) => remote.bytes(&format!("episodes/{id}/artifacts/{}", blob.0)).await,
        }
    }
}

struct Exporter<'a> {
    source: &'a Source<'a>,
    episode: EpisodeId,
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
            .source
            .blob(self.episode, blob)
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
pub async fn export(source: &Source<'_>, id: EpisodeId, dir: &Path) -> anyhow::Result<usize> {
    let (header, instances) = source.episode(id).await?;
    let mut out = Exporter {
        source,
        episode: id,
        dir,
        written: 0,
    };
    out.json("episode.json", &header)?;
    for record in &instances {
        let Some(version) = record.current else { continue };
        let key = &record.key;
        let value = source.value(id, key, version).await?;
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
