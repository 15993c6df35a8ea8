//! Speech: dialogue lines spoken by a text-to-speech model and laid into a clip's audio track.
//!
//! - [`SpeechModel`]: the backend trait, text in, [`Speech`] (mono PCM) out.
//! - [`PiperVoice`]: a Piper VITS voice (the registry's `piper-joe`) on ONNX Runtime, with its
//!   phonemes from espeak-ng ([`Espeak`], the registry's `espeak-ng`), as Piper makes them.
//! - [`dialogue`]: a shot's lines spoken one after another from a short lead-in, sped up or cut
//!   to fit the shot, mixed into one 48 kHz track.
//! - [`audio`]: resampling, mixing, fades, WAV.
//!
//! Without a speech model the clips stay silent: nothing here is needed by the embedded
//! procedural backends.
//!
//! ```no_run
//! use showrunner_nodes::onnx::Device;
//! use showrunner_nodes::registry::Registry;
//! use showrunner_nodes::speech::{PIPER_MODEL, PiperVoice, SpeechModel};
//!
//! let registry = Registry::new("showrunner-data/models");
//! let voice = PiperVoice::from_registry(&registry, PIPER_MODEL, Device::Cpu)?;
//! let speech = voice.speak("The storm is coming.", 1.0)?;
//! std::fs::write("line.wav", speech.to_wav()?)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod audio;
pub mod dialogue;
mod espeak;
mod phonemes;
mod piper;

use std::path::PathBuf;

pub use espeak::{ESPEAK_MODEL, Espeak};
pub use piper::{PIPER_MODEL, PiperVoice, Scales};

use crate::backend::{BackendError, BackendResult};
use crate::model::Generator;
use crate::onnx::OnnxError;
use crate::registry::RegistryError;

/// Mono audio: samples in `[-1, 1]` at a sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// The samples.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl Speech {
    /// How long it lasts, in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// A mono 16-bit PCM WAV file of it.
    ///
    /// # Errors
    ///
    /// As [`audio::wav`].
    pub fn to_wav(&self) -> BackendResult<Vec<u8>> {
        audio::wav(&self.samples, self.sample_rate)
    }
}

/// Speaks text.
pub trait SpeechModel: Send + Sync {
    /// Who speaks, for the outputs' metadata.
    fn generator(&self) -> Generator;
    /// `text` spoken at `pace`: 1 is the voice's own pace, 1.25 a quarter faster (the same
    /// speech in 80% of the time). Text with nothing to say gives no samples.
    fn speak(&self, text: &str, pace: f32) -> BackendResult<Speech>;
}

/// A speech backend failure.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// The voice, espeak-ng or ONNX Runtime is not installed, or is corrupt.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// ONNX Runtime or the voice's graph did not load.
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    /// espeak-ng did not load, or failed on a text.
    #[error("espeak-ng ({}): {message} (install it with `showrunner models install espeak-ng`)", library.display())]
    Espeak {
        /// The library file.
        library: PathBuf,
        /// Why.
        message: String,
    },
    /// The voice's configuration (`.onnx.json`) is unreadable or asks for what is not supported.
    #[error("the voice configuration {}: {message}", path.display())]
    Voice {
        /// The configuration file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A run of the voice failed or returned what was not expected.
    #[error("speech inference: {0}")]
    Inference(String),
}

impl From<SpeechError> for BackendError {
    fn from(e: SpeechError) -> Self {
        BackendError::Failed(e.to_string())
    }
}
