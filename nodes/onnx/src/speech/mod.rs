//! Speech: dialogue lines spoken by a text-to-speech model, behind the
//! [`SpeechModel`](showrunner_backend::SpeechModel) trait (text in, mono PCM out).
//!
//! - [`PiperVoice`]: a Piper VITS voice (the registry's `piper-joe`) on ONNX Runtime, with its
//!   phonemes from espeak-ng ([`Espeak`], the registry's `espeak-ng`), as Piper makes them.
//!
//! Without a speech model the clips stay silent: nothing here is needed by the embedded
//! procedural backends.
//!
//! ```no_run
//! use showrunner_models::Device;
//! use showrunner_models::Registry;
//! use showrunner_backend::SpeechModel;
//! use showrunner_onnx::speech::{PIPER_MODEL, PiperVoice};
//!
//! let registry = Registry::new("showrunner-data/models");
//! let voice = PiperVoice::from_registry(&registry, PIPER_MODEL, Device::Cpu)?;
//! let speech = voice.speak("The storm is coming.", 1.0)?;
//! println!("{:.2} s of speech", speech.duration_s());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod espeak;
mod phonemes;
mod piper;

use std::path::PathBuf;

pub use espeak::{ESPEAK_MODEL, Espeak};
pub use piper::{PIPER_MODEL, PiperVoice, Scales};

use showrunner_backend::BackendError;
use showrunner_models::RegistryError;

use crate::OnnxError;

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
