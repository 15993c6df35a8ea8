//! The image stages: portraits (per character), scene images (per scene), keyframes (per shot).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use showrunner_engine::{Node, NodeCtx, NodeError};

use super::{Backends, blocking, get, media, put, version};
use crate::backend::{Embedder, View};
use crate::consistency::{combined, text_consistency};
use crate::model::{Brief, Character, Keyframe, Portrait, Scene, SceneImage, Shot};
use showrunner_media::png::{decode_png, encode_png};
use showrunner_procedural::embed::HashedEmbedder;

backed_node!(
    /// Draws a character's portrait sheet: front, side and back.
    PortraitNode,
    image
);
backed_node!(
    /// Draws a scene's background.
    SceneImageNode,
    image
);
/// Composes a shot's keyframe from its scene's background and its characters' portraits;
/// scored by how well the characters match their portraits and how well the shot's words
/// describe them ([`crate::consistency`]).
pub struct KeyframeNode {
    backends: Backends,
    version: String,
}

impl KeyframeNode {
    /// The node over these backends. Its version names the image model and the embedder, which
    /// decides the score its Quality gate reads: another embedder is another definition. The
    /// procedural embedder is left out of the name, so episodes made before the embedder was
    /// named keep their definition version.
    pub fn new(backends: Backends) -> Self {
        let image = backends.image.generator(0).model;
        let embedder = backends.embedder.generator().model;
        let models = if embedder == HashedEmbedder.generator().model {
            image
        } else {
            format!("{image}+{embedder}")
        };
        let version = version(1, &models);
        Self { backends, version }
    }
}

/// The input of a portrait: the character (the item of the cast list).
#[derive(Deserialize)]
pub struct PortraitInput {
    episode: Brief,
    item: Character,
}

#[async_trait]
impl Node for PortraitNode {
    type Input = PortraitInput;
    type Output = Portrait;

    fn version(&self) -> &str {
        &self.version
    }

    async fn run(&self, input: PortraitInput, ctx: &NodeCtx) -> Result<Portrait, NodeError> {
        let (image, seed) = (self.backends.image.clone(), ctx.seed());
        let character = input.item.clone();
        let settings = input.episode.settings.clone();
        let sheets = blocking(move || {
            View::ALL
                .iter()
                .map(|&view| encode_png(&image.portrait(&character, view, &settings, seed)?).map_err(media))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let mut views = Vec::with_capacity(3);
        for (n, png) in sheets.into_iter().enumerate() {
            views.push(put(ctx, png).await?);
            ctx.progress((n + 1) as f32 / 3.0, format!("view {} of 3", n + 1));
        }
        let [front, side, back] = views[..] else {
            return Err(NodeError::Permanent("a portrait sheet has three views".into()));
        };
        Ok(Portrait {
            character: input.item,
            front,
            side,
            back,
            generated_by: self.backends.image.generator(seed),
        })
    }
}

/// The input of a scene image: the scene (the item of the scene list).
#[derive(Deserialize)]
pub struct SceneImageInput {
    episode: Brief,
    item: Scene,
}

#[async_trait]
impl Node for SceneImageNode {
    type Input = SceneImageInput;
    type Output = SceneImage;

    fn version(&self) -> &str {
        &self.version
    }

    async fn run(&self, input: SceneImageInput, ctx: &NodeCtx) -> Result<SceneImage, NodeError> {
        let (image, seed) = (self.backends.image.clone(), ctx.seed());
        let scene = input.item.clone();
        let settings = input.episode.settings;
        let png = blocking(move || encode_png(&image.scene(&scene, &settings, seed)?).map_err(media)).await?;
        Ok(SceneImage {
            scene_id: input.item.id,
            image: put(ctx, png).await?,
            generated_by: self.backends.image.generator(seed),
        })
    }
}

/// The input of a keyframe: the shot, the portraits of the characters it shows and the image of
/// its scene (item reads: nothing else).
#[derive(Deserialize)]
pub struct KeyframeInput {
    episode: Brief,
    item: Shot,
    portraits: BTreeMap<String, Portrait>,
    scene_images: BTreeMap<String, SceneImage>,
}

#[async_trait]
impl Node for KeyframeNode {
    type Input = KeyframeInput;
    type Output = Keyframe;

    fn version(&self) -> &str {
        &self.version
    }

    async fn run(&self, input: KeyframeInput, ctx: &NodeCtx) -> Result<Keyframe, NodeError> {
        let shot = input.item;
        let scene = input.scene_images.get(&shot.scene_id).ok_or_else(|| {
            NodeError::Permanent(format!(
                "shot `{}` names scene `{}`, which has no image",
                shot.id, shot.scene_id
            ))
        })?;
        let background = get(ctx, scene.image).await?;
        let mut cast: Vec<(Character, Vec<u8>)> = Vec::new();
        for id in &shot.character_ids {
            // A character the cast no longer has is left out of the frame.
            if let Some(portrait) = input.portraits.get(id) {
                cast.push((portrait.character.clone(), get(ctx, portrait.front).await?));
            }
        }
        let (image, embedder) = (self.backends.image.clone(), self.backends.embedder.clone());
        let (seed, settings) = (ctx.seed(), input.episode.settings);
        let drawn = shot.clone();
        let (png, image_score, text_score) = blocking(move || {
            let background = decode_png(&background).map_err(media)?;
            let fronts = cast
                .iter()
                .map(|(c, png)| Ok((c, decode_png(png).map_err(media)?)))
                .collect::<Result<Vec<_>, crate::backend::BackendError>>()?;
            let refs: Vec<(&Character, &image::RgbImage)> = fronts.iter().map(|(c, img)| (*c, img)).collect();
            let frame = image.keyframe(&drawn, &background, &refs, &settings, seed)?;
            // Someone the shot names but the frame cannot show (no portrait) is a miss: a shot
            // of characters drawn as an empty room scores 0.
            let named = drawn.character_ids.len();
            let shown = if named == 0 {
                1.0
            } else {
                refs.len() as f64 / named as f64
            };
            let image_score = image.consistency(&frame, &drawn, &refs) * shown;
            let shown: Vec<&Character> = refs.iter().map(|(c, _)| *c).collect();
            let text_score = text_consistency(embedder.as_ref(), &drawn, &shown)?;
            Ok((encode_png(&frame).map_err(media)?, image_score, text_score))
        })
        .await?;
        Ok(Keyframe {
            shot,
            image: put(ctx, png).await?,
            consistency: combined(image_score, text_score),
            image_consistency: Some(image_score),
            text_consistency: text_score,
            generated_by: self.backends.image.generator(seed),
        })
    }

    async fn score(&self, _: &KeyframeInput, output: &Keyframe, _: &NodeCtx) -> Result<f64, NodeError> {
        Ok(output.consistency)
    }
}
