//! The video stages: a clip per keyframe, and the final video joining them with subtitles.
//!
//! With a speech model ([`Backends::speech`]) each clip carries its shot's dialogue, spoken and
//! laid out in the shot ([`crate::dialogue`]), as an Opus track beside the video, and
//! the final video joins those tracks end to end under the joined video. Without one the clips
//! are silent, as the procedural backends make them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use showrunner_engine::{Node, NodeCtx, NodeError};

use super::{Backends, blocking, get, media, put, version};
use crate::dialogue::{DialogueTrack, TRACK_RATE, dialogue_track};
use crate::model::{Brief, Character, Clip, Heard, Keyframe, ScriptLine, Shot, Transition, Video, VideoShot};
use showrunner_media::png::decode_png;
use showrunner_media::subtitles::{CueLine, layout, srt, webvtt};
use showrunner_media::video::{
    Cut, encode_clip, encode_clip_with_audio, encode_opus, join_audio, join_streams, mux_mp4, mux_mp4_with_audio,
};
use showrunner_story::plan::line_seconds;

/// Frames blended by a dissolve (and at every cut of a storyboard that names no transitions).
const DISSOLVE_FRAMES: u32 = 6;

/// The cut a shot's transition asks for at `fps`: a fade takes a second, half out and half in.
fn cut(transition: Option<Transition>, fps: u32) -> Cut {
    match transition {
        Some(Transition::Cut) => Cut::Hard,
        Some(Transition::Dissolve) | None => Cut::Dissolve {
            frames: DISSOLVE_FRAMES,
        },
        Some(Transition::Fade { colour }) => Cut::Fade {
            frames: fps.max(2),
            colour: colour.rgb(),
        },
    }
}

/// Declares a video stage node, versioned by the video model and, when there is one, the speech
/// model (switching speech on re-makes the clips; without it the versions are as they were).
macro_rules! film_node {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name {
            backends: Backends,
            version: String,
        }

        impl $name {
            /// The node over these backends.
            pub fn new(backends: Backends) -> Self {
                let mut model = backends.video.generator(0).model;
                if let Some(speech) = &backends.speech {
                    model = format!("{model}+{}", speech.generator().model);
                }
                let version = version(1, &model);
                Self { backends, version }
            }
        }
    };
}

film_node!(
    /// Animates a keyframe into its shot's clip, with the shot's dialogue spoken in an audio track
    /// when there is a speech model.
    ClipNode
);
film_node!(
    /// Joins the clips in storyboard order with dissolves, and their audio tracks end to end,
    /// and writes subtitles from the dialogue.
    FinalVideoNode
);

/// A shot's lines with words in them, joined, as the player's shot list shows them.
fn spoken_text(dialogue: &[ScriptLine]) -> String {
    let lines: Vec<&str> = dialogue
        .iter()
        .map(|l| l.line.trim())
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ")
}

/// Samples of a 48 kHz track that lasts `frames` frames at `fps`.
fn track_len(frames: usize, fps: u32) -> usize {
    let fps = u64::from(fps.max(1));
    ((frames as u64 * u64::from(TRACK_RATE) + fps / 2) / fps) as usize
}

/// The input of a clip: the keyframe (the item of the keyframe map).
#[derive(Deserialize)]
pub struct ClipInput {
    episode: Brief,
    item: Keyframe,
}

#[async_trait]
impl Node for ClipNode {
    type Input = ClipInput;
    type Output = Clip;

    fn version(&self) -> &str {
        &self.version
    }

    async fn run(&self, input: ClipInput, ctx: &NodeCtx) -> Result<Clip, NodeError> {
        let keyframe = get(ctx, input.item.image).await?;
        let shot = input.item.shot;
        let settings = input.episode.settings;
        let (video, speech, fps) = (self.backends.video.clone(), self.backends.speech.clone(), settings.fps);
        let animated = shot.clone();
        let (mp4, stream, frames, (width, height), heard) = blocking(move || {
            let keyframe = decode_png(&keyframe).map_err(media)?;
            let frames = video.clip(&keyframe, &animated, &settings)?;
            let size = frames.first().map_or((0, 0), |f| f.dimensions());
            let ((mp4, stream), heard) = match speech {
                Some(speech) => {
                    let lines: Vec<&str> = animated.dialogue.iter().map(|l| l.line.as_str()).collect();
                    let track = dialogue_track(speech.as_ref(), &lines, track_len(frames.len(), fps))?;
                    let heard = track
                        .spans
                        .iter()
                        .map(|&span| {
                            let (start_s, end_s) = DialogueTrack::seconds(span);
                            Heard { start_s, end_s }
                        })
                        .collect();
                    (
                        encode_clip_with_audio(&frames, fps, &track.samples).map_err(media)?,
                        heard,
                    )
                }
                None => (encode_clip(&frames, fps).map_err(media)?, Vec::new()),
            };
            Ok((mp4, stream, frames.len() as u32, size, heard))
        })
        .await?;
        ctx.progress(0.9, "encoded");
        Ok(Clip {
            shot_id: shot.id,
            video: put(ctx, mp4).await?,
            stream: put(ctx, stream).await?,
            frames,
            fps,
            width,
            height,
            dialogue: shot.dialogue,
            heard,
            generated_by: self.backends.video.generator(ctx.seed()),
        })
    }
}

/// The input of the final video: every clip, the storyboard (for the order) and the cast (for
/// the speakers' names).
#[derive(Deserialize)]
pub struct FinalVideoInput {
    episode: Brief,
    clips: BTreeMap<String, Clip>,
    storyboard: Vec<Shot>,
    characters: Vec<Character>,
}

#[async_trait]
impl Node for FinalVideoNode {
    type Input = FinalVideoInput;
    type Output = Video;

    fn version(&self) -> &str {
        &self.version
    }

    async fn run(&self, input: FinalVideoInput, ctx: &NodeCtx) -> Result<Video, NodeError> {
        // The clips map is keyed by keyframe item id, which is the shot id.
        let (ordered, cuts): (Vec<&Clip>, Vec<Cut>) = input
            .storyboard
            .iter()
            .filter_map(|s| Some((input.clips.get(&s.id)?, cut(s.transition, input.episode.settings.fps))))
            .unzip();
        if ordered.is_empty() {
            return Err(NodeError::Permanent("the storyboard has no clips to join".into()));
        }
        let mut streams = Vec::with_capacity(ordered.len());
        for clip in &ordered {
            streams.push(get(ctx, clip.stream).await?);
        }
        // The clips' MP4s, for their audio tracks: only a speech model makes any.
        let mut clip_files = Vec::new();
        if self.backends.speech.is_some() {
            for clip in &ordered {
                clip_files.push(get(ctx, clip.video).await?);
            }
        }
        let fps = input.episode.settings.fps;
        let lengths: Vec<usize> = ordered.iter().map(|c| track_len(c.frames as usize, fps)).collect();
        let names: BTreeMap<&str, &str> = input
            .characters
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str()))
            .collect();
        let mut cues = Vec::new();
        let mut shots = Vec::with_capacity(ordered.len());
        let mut start = 0.0;
        for clip in &ordered {
            let duration = f64::from(clip.frames) / f64::from(clip.fps.max(1));
            shots.push(VideoShot {
                id: clip.shot_id.clone(),
                start_s: start,
                duration_s: duration,
                dialogue: spoken_text(&clip.dialogue),
            });
            // A clip's `heard` times belong to its lines with words, in order.
            let mut heard = clip.heard.iter();
            let lines: Vec<CueLine> = clip
                .dialogue
                .iter()
                .map(|l| CueLine {
                    speaker: names.get(l.character_id.as_str()).map(|n| (*n).to_owned()),
                    text: l.line.clone(),
                    seconds: line_seconds(&l.line),
                    spoken: if l.line.trim().is_empty() {
                        None
                    } else {
                        heard.next().map(|h| (h.start_s, h.end_s))
                    },
                })
                .collect();
            cues.extend(layout(&lines, start, duration));
            start += duration;
        }
        ctx.progress(0.1, format!("joining {} clips", ordered.len()));
        let (mp4, frames) = blocking(move || {
            // Frame by frame from the clips' streams: the whole video is never held decoded.
            let parts: Vec<&[u8]> = streams.iter().map(Vec::as_slice).collect();
            let joined = join_streams(&parts, fps, &cuts).map_err(media)?;
            // The dissolves keep every clip's frames, so each clip's audio starts where its
            // frames do.
            let files: Vec<&[u8]> = clip_files.iter().map(Vec::as_slice).collect();
            let mp4 = match join_audio(&files, &lengths).map_err(media)? {
                Some(audio) => {
                    let track = encode_opus(&audio).map_err(media)?;
                    mux_mp4_with_audio(&joined, joined.width, joined.height, fps, &track).map_err(media)?
                }
                None => mux_mp4(&joined, joined.width, joined.height, fps).map_err(media)?,
            };
            Ok((mp4, joined.frame_count() as u32))
        })
        .await?;
        Ok(Video {
            video: put(ctx, mp4).await?,
            subtitles_vtt: put(ctx, webvtt(&cues).into_bytes()).await?,
            subtitles_srt: put(ctx, srt(&cues).into_bytes()).await?,
            frames,
            duration_s: f64::from(frames) / f64::from(fps.max(1)),
            shot_ids: ordered.iter().map(|c| c.shot_id.clone()).collect(),
            shots,
            generated_by: self.backends.video.generator(ctx.seed()),
        })
    }
}
