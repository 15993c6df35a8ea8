//! A Piper voice (VITS, exported to ONNX) behind the [`SpeechModel`] trait, run as piper-tts 1.8
//! runs it: text → espeak-ng clauses → sentences of phonemes → ids (see [`super::phonemes`]);
//! each sentence is one run of the graph (`input` int64 `[1, n]`, `input_lengths` int64 `[1]`,
//! `scales` f32 `[noise_scale, length_scale, noise_w]`, from the voice's `.onnx.json`), its
//! audio scaled to a peak of 1 and clipped, and the sentences joined.
//!
//! The graph draws its noise with `RandomNormalLike` and no seed, so two runs of the same text
//! differ a little (and, through the durations, in length) unless the noise scales are 0:
//! [`Scales::without_noise`] makes the voice deterministic, at some cost in liveliness.
//!
//! `Session::run` takes `&mut self`: one session behind a mutex, as for MiniLM.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use super::SpeechError;
use super::espeak::Espeak;
use super::phonemes::{IdMap, sentences};
use crate::{Device, Placement, Runtime, session};
use showrunner_backend::{BackendError, BackendResult, Speech, SpeechModel};
use showrunner_models::{Registry, Role};
use showrunner_story::model::Generator;

/// The registry's name for the Piper voice it installs.
pub const PIPER_MODEL: &str = "piper-joe";

/// The graph's inputs.
const INPUTS: [&str; 3] = ["input", "input_lengths", "scales"];

/// Piper's sampling scales (the voice's `inference` section).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Scales {
    /// How much noise goes into the audio (Piper's default 0.667).
    #[serde(default = "default_noise_scale")]
    pub noise_scale: f32,
    /// Phoneme durations: above 1 slower, below 1 faster.
    #[serde(default = "default_length_scale")]
    pub length_scale: f32,
    /// How much noise goes into the phoneme durations (Piper's default 0.8).
    #[serde(default = "default_noise_w", rename = "noise_w")]
    pub noise_w: f32,
}

fn default_noise_scale() -> f32 {
    0.667
}

fn default_length_scale() -> f32 {
    1.0
}

fn default_noise_w() -> f32 {
    0.8
}

impl Default for Scales {
    fn default() -> Self {
        Scales {
            noise_scale: default_noise_scale(),
            length_scale: default_length_scale(),
            noise_w: default_noise_w(),
        }
    }
}

impl Scales {
    /// The same durations scale with both noises at 0: the same text gives the same samples.
    pub fn without_noise(self) -> Scales {
        Scales {
            noise_scale: 0.0,
            noise_w: 0.0,
            ..self
        }
    }
}

/// The parts of a Piper voice's `.onnx.json` this backend reads.
#[derive(Debug, Deserialize)]
struct VoiceConfig {
    audio: AudioConfig,
    #[serde(default)]
    espeak: Option<EspeakConfig>,
    #[serde(default)]
    inference: Scales,
    #[serde(default = "espeak_phonemes")]
    phoneme_type: String,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default = "one")]
    num_speakers: u32,
    #[serde(default)]
    vowel_clusters: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct AudioConfig {
    sample_rate: u32,
}

#[derive(Debug, Deserialize)]
struct EspeakConfig {
    voice: String,
}

fn espeak_phonemes() -> String {
    "espeak".into()
}

fn one() -> u32 {
    1
}

/// A Piper voice on ONNX Runtime, with espeak-ng for its phonemes.
#[derive(Debug)]
pub struct PiperVoice {
    session: Mutex<Session>,
    output: String,
    espeak: &'static Espeak,
    espeak_voice: String,
    ids: IdMap,
    sample_rate: u32,
    scales: Scales,
    name: String,
    placement: Placement,
}

impl PiperVoice {
    /// The speech model `name` of the registry on `device`, with espeak-ng and ONNX Runtime from
    /// the registry too (or `ORT_DYLIB_PATH`, see [`crate::runtime::library`]). Every
    /// file is verified first.
    pub fn from_registry(registry: &Registry, name: &str, device: Device) -> Result<Self, SpeechError> {
        let model = registry.require(name, Role::Speech)?;
        let espeak = Espeak::from_registry(registry)?;
        let runtime = Runtime::from_registry(registry)?;
        PiperVoice::load(
            &runtime,
            espeak,
            &model.main_file()?,
            &model.file(".onnx.json")?,
            name,
            device,
        )
    }

    /// A voice from its graph and its `.onnx.json`, named `name` in the outputs' metadata.
    ///
    /// # Errors
    ///
    /// [`SpeechError::Voice`] for a configuration that does not parse or asks for what this
    /// backend does not do (phonemes other than espeak-ng's, several speakers, vowel clusters);
    /// [`SpeechError::Onnx`] when the graph does not load or lacks Piper's inputs.
    pub fn load(
        runtime: &Runtime,
        espeak: &'static Espeak,
        model: &Path,
        config: &Path,
        name: &str,
        device: Device,
    ) -> Result<Self, SpeechError> {
        let bad = |message: String| SpeechError::Voice {
            path: config.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(config).map_err(|e| bad(e.to_string()))?;
        let voice: VoiceConfig = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if voice.phoneme_type != "espeak" {
            return Err(bad(format!(
                "phoneme_type `{}`: only espeak-ng phonemes are supported",
                voice.phoneme_type
            )));
        }
        if voice.num_speakers > 1 {
            return Err(bad(format!(
                "{} speakers: only single-speaker voices are supported",
                voice.num_speakers
            )));
        }
        let clusters = match &voice.vowel_clusters {
            serde_json::Value::Null => false,
            serde_json::Value::Array(list) => !list.is_empty(),
            serde_json::Value::Object(map) => !map.is_empty(),
            _ => true,
        };
        if clusters {
            return Err(bad("vowel_clusters are not supported".into()));
        }
        if voice.audio.sample_rate == 0 {
            return Err(bad("audio.sample_rate is 0".into()));
        }
        let espeak_voice = voice
            .espeak
            .map(|e| e.voice)
            .ok_or_else(|| bad("no espeak.voice".into()))?;
        let ids = IdMap::new(&voice.phoneme_id_map).map_err(bad)?;

        let (session, placement) = session(runtime, model, device)?;
        let not_piper = |message: String| {
            SpeechError::Onnx(crate::OnnxError::Session {
                model: model.to_owned(),
                message,
            })
        };
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        if let Some(missing) = INPUTS.iter().find(|i| !inputs.contains(i)) {
            return Err(not_piper(format!(
                "no `{missing}` input (it has {inputs:?}): not a Piper voice"
            )));
        }
        if inputs.len() > INPUTS.len() {
            return Err(not_piper(format!(
                "inputs {inputs:?}: a multi-speaker voice, which is not supported"
            )));
        }
        let output = session
            .outputs()
            .first()
            .map(|o| o.name().to_string())
            .ok_or_else(|| not_piper("the graph has no output".into()))?;
        Ok(PiperVoice {
            session: Mutex::new(session),
            output,
            espeak,
            espeak_voice,
            ids,
            sample_rate: voice.audio.sample_rate,
            scales: voice.inference,
            name: name.into(),
            placement,
        })
    }

    /// The voice with other sampling scales (say [`Scales::without_noise`]).
    pub fn with_scales(mut self, scales: Scales) -> Self {
        self.scales = scales;
        self
    }

    /// The sampling scales it runs with.
    pub fn scales(&self) -> Scales {
        self.scales
    }

    /// The sample rate of its audio.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Where the graph runs.
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// The phonemes of each sentence of `text`, as IPA with Piper's punctuation.
    pub fn phonemes(&self, text: &str) -> Result<Vec<String>, SpeechError> {
        let clauses = self.espeak.clauses(text, &self.espeak_voice)?;
        Ok(sentences(&clauses).iter().map(|s| s.iter().collect()).collect())
    }

    /// The phoneme ids of each sentence of `text`: what the graph reads.
    pub fn phoneme_ids(&self, text: &str) -> Result<Vec<Vec<i64>>, SpeechError> {
        let clauses = self.espeak.clauses(text, &self.espeak_voice)?;
        Ok(sentences(&clauses)
            .iter()
            .map(|sentence| {
                let (ids, missing) = self.ids.ids(sentence);
                if !missing.is_empty() {
                    tracing::debug!(voice = %self.name, ?missing, "phonemes the voice does not know were skipped");
                }
                ids
            })
            .collect())
    }

    /// `text` spoken at `pace` (the durations scale divided by it, so a positive number), at
    /// [`Self::sample_rate`].
    fn synthesize(&self, text: &str, pace: f32) -> Result<Speech, SpeechError> {
        let scales = [
            self.scales.noise_scale,
            self.scales.length_scale / pace,
            self.scales.noise_w,
        ];
        let mut samples = Vec::new();
        for ids in self.phoneme_ids(text)? {
            let mut audio = self.run(ids, scales)?;
            normalise(&mut audio);
            samples.extend(audio);
        }
        Ok(Speech {
            samples,
            sample_rate: self.sample_rate,
        })
    }

    /// One run of the graph: a sentence's ids to its audio.
    fn run(&self, ids: Vec<i64>, scales: [f32; 3]) -> Result<Vec<f32>, SpeechError> {
        let inference = |e: ort::Error| SpeechError::Inference(e.to_string());
        let n = ids.len();
        let length = i64::try_from(n).map_err(|_| SpeechError::Inference(format!("{n} phoneme ids")))?;
        let input = Tensor::from_array(([1usize, n], ids)).map_err(inference)?;
        let lengths = Tensor::from_array(([1usize], vec![length])).map_err(inference)?;
        let scales = Tensor::from_array(([3usize], scales.to_vec())).map_err(inference)?;
        let mut session = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outputs = session
            .run(ort::inputs![INPUTS[0] => input, INPUTS[1] => lengths, INPUTS[2] => scales])
            .map_err(inference)?;
        let (shape, audio) = outputs[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(inference)?;
        // [1, 1, 1, samples] for Piper's exports; one batch item whatever the rank.
        if shape.first().is_some_and(|&batch| batch != 1) {
            return Err(SpeechError::Inference(format!(
                "`{}` has shape {shape:?}, expected one batch item",
                self.output
            )));
        }
        Ok(audio.to_vec())
    }
}

/// Scales audio to a peak of 1 (silence stays silence) and clips it, as Piper does for each
/// sentence.
fn normalise(audio: &mut [f32]) {
    let peak = audio.iter().fold(0.0f32, |peak, s| peak.max(s.abs()));
    let scale = if peak < 1e-8 { 0.0 } else { 1.0 / peak };
    for sample in audio {
        *sample = (*sample * scale).clamp(-1.0, 1.0);
    }
}

impl SpeechModel for PiperVoice {
    fn generator(&self) -> Generator {
        Generator {
            backend: "onnx".into(),
            model: self.name.clone(),
            seed: 0,
        }
    }

    fn speak(&self, text: &str, pace: f32) -> BackendResult<Speech> {
        if !(pace.is_finite() && pace > 0.0) {
            return Err(BackendError::Invalid(format!("pace {pace} is not a positive number")));
        }
        Ok(self.synthesize(text, pace)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_scales_to_the_peak_and_keeps_silence() {
        let mut audio = vec![0.25, -0.5, 0.1];
        normalise(&mut audio);
        assert_eq!(audio, [0.5, -1.0, 0.2]);
        let mut silence = vec![0.0, 1e-9];
        normalise(&mut silence);
        assert_eq!(silence, [0.0, 0.0]);
    }

    #[test]
    fn the_voice_configuration_reads_piper_defaults() -> Result<(), serde_json::Error> {
        let voice: VoiceConfig = serde_json::from_str(
            r#"{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"},
                "inference": {"noise_scale": 0.5}, "phoneme_id_map": {"_": [0]}}"#,
        )?;
        assert_eq!(voice.audio.sample_rate, 22_050);
        assert_eq!(voice.phoneme_type, "espeak");
        assert_eq!(voice.num_speakers, 1);
        assert_eq!(
            voice.inference,
            Scales {
                noise_scale: 0.5,
                ..Scales::default()
            }
        );
        assert_eq!(
            Scales::default().without_noise(),
            Scales {
                noise_scale: 0.0,
                length_scale: 1.0,
                noise_w: 0.0
            }
        );
        Ok(())
    }
}
