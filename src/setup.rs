//! Which backend serves each role, and the [`Backends`] built from that choice (DESIGN §5).
//!
//! ```toml
//! [models]
//! device = "auto"                 # auto | cpu | cuda | cuda:N
//! text = { backend = "candle", model = "smollm2-135m" }       # procedural | candle
//!                                 # model: smollm2-135m, qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, or a GGUF of your own
//! embeddings = { backend = "onnx", model = "minilm-l6" }      # procedural | onnx
//! speech = { backend = "onnx", model = "piper-joe" }          # none | onnx
//! landscape = { backend = "onnx", model = "terrain" }         # procedural | onnx
//! ```
//!
//! A role left out keeps its embedded default (`procedural`, no speech); a backend without a
//! `model` uses the role's stock model. Models come from a [`Registry`] and are verified
//! before they load; a missing one is an error that names it and the command installing it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use showrunner_llm::{Llm, LlmError, LlmText, SMOLLM2_MODEL};
use showrunner_models::Registry;
use showrunner_nodes::stages::Backends;
use showrunner_onnx::speech::{PIPER_MODEL, PiperVoice, SpeechError};
use showrunner_onnx::{
    Device, MINILM_MODEL, MiniLmEmbedder, OnnxError, Placement, TERRAIN_MODEL, TerrainImages, TerrainModel,
};

/// The backend of a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The embedded default (procedural text and images, hashed embeddings).
    Procedural,
    /// None at all (speech only: silent clips).
    None,
    /// A GGUF model on candle (text).
    Candle,
    /// An ONNX model on ONNX Runtime (embeddings, speech, landscapes).
    Onnx,
}

/// A role's backend and model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Which backend.
    pub backend: Backend,
    /// The registry name of its model; the role's stock model when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl Choice {
    fn of(backend: Backend) -> Self {
        Self { backend, model: None }
    }

    fn model<'a>(&'a self, stock: &'a str) -> &'a str {
        self.model.as_deref().unwrap_or(stock)
    }
}

/// Every role's choice and the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSetup {
    /// Where models run.
    pub device: Device,
    /// Outline, characters, scenes, storyboard: `procedural` or `candle`.
    pub text: Choice,
    /// Intent classification and consistency scores: `procedural` or `onnx`.
    pub embeddings: Choice,
    /// Dialogue in the clips' audio: `none` or `onnx`.
    pub speech: Choice,
    /// Outdoor scene backgrounds: `procedural` or `onnx`.
    pub landscape: Choice,
}

impl Default for ModelSetup {
    fn default() -> Self {
        Self::procedural()
    }
}

/// A choice the role cannot take, or a model that did not load.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The backend does not serve the role.
    #[error("models.{role}: the `{backend:?}` backend does not serve it; use one of {allowed}")]
    Backend {
        /// The role.
        role: &'static str,
        /// The backend asked for.
        backend: Backend,
        /// What the role accepts.
        allowed: &'static str,
    },
    /// The text model did not load.
    #[error("models.text: {0}")]
    Text(#[from] LlmError),
    /// An ONNX model did not load.
    #[error("models.{role}: {source}")]
    Onnx {
        /// The role.
        role: &'static str,
        /// Why.
        source: Box<OnnxError>,
    },
    /// The speech model did not load.
    #[error("models.speech: {0}")]
    Speech(#[from] SpeechError),
}

impl ModelSetup {
    /// The embedded defaults: no model files, no GPU.
    pub fn procedural() -> Self {
        Self {
            device: Device::Auto,
            text: Choice::of(Backend::Procedural),
            embeddings: Choice::of(Backend::Procedural),
            speech: Choice::of(Backend::None),
            landscape: Choice::of(Backend::Procedural),
        }
    }

    /// Every role on its stock real model: SmolLM2, MiniLM, Piper, terrain diffusion.
    pub fn local() -> Self {
        Self {
            device: Device::Auto,
            text: Choice::of(Backend::Candle),
            embeddings: Choice::of(Backend::Onnx),
            speech: Choice::of(Backend::Onnx),
            landscape: Choice::of(Backend::Onnx),
        }
    }

    /// True when nothing needs a model file.
    pub fn is_procedural(&self) -> bool {
        let Self {
            device: _,
            text,
            embeddings,
            speech,
            landscape,
        } = self;
        text.backend == Backend::Procedural
            && embeddings.backend == Backend::Procedural
            && speech.backend == Backend::None
            && landscape.backend == Backend::Procedural
    }

    /// The registry names of the models this setup loads.
    pub fn models(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut add = |choice: &Choice, real: Backend, stock: &str| {
            if choice.backend == real {
                names.push(choice.model(stock).to_owned());
            }
        };
        add(&self.text, Backend::Candle, SMOLLM2_MODEL);
        add(&self.embeddings, Backend::Onnx, MINILM_MODEL);
        add(&self.speech, Backend::Onnx, PIPER_MODEL);
        add(&self.landscape, Backend::Onnx, TERRAIN_MODEL);
        names
    }

    /// Refuses a backend a role does not have.
    pub fn check(&self) -> Result<(), SetupError> {
        let roles: [(&'static str, &Choice, &[Backend], &'static str); 4] = [
            (
                "text",
                &self.text,
                &[Backend::Procedural, Backend::Candle],
                "procedural, candle",
            ),
            (
                "embeddings",
                &self.embeddings,
                &[Backend::Procedural, Backend::Onnx],
                "procedural, onnx",
            ),
            ("speech", &self.speech, &[Backend::None, Backend::Onnx], "none, onnx"),
            (
                "landscape",
                &self.landscape,
                &[Backend::Procedural, Backend::Onnx],
                "procedural, onnx",
            ),
        ];
        for (role, choice, ok, allowed) in roles {
            if !ok.contains(&choice.backend) {
                return Err(SetupError::Backend {
                    role,
                    backend: choice.backend,
                    allowed,
                });
            }
        }
        Ok(())
    }

    /// The backends of this setup, with their models loaded from `registry`.
    pub fn build(&self, registry: &Registry) -> Result<Backends, SetupError> {
        self.check()?;
        let device = self.device;
        let mut backends = Backends::procedural();
        if self.text.backend == Backend::Candle {
            let llm = Llm::from_registry(registry, self.text.model(SMOLLM2_MODEL), device)?;
            backends.on_gpu |= llm.placement() != Placement::Cpu;
            backends.text = Arc::new(LlmText::new(Arc::new(llm)));
        }
        if self.embeddings.backend == Backend::Onnx {
            let embedder = MiniLmEmbedder::from_registry(registry, self.embeddings.model(MINILM_MODEL), device)
                .map_err(|source| SetupError::Onnx {
                    role: "embeddings",
                    source: Box::new(source),
                })?;
            backends.on_gpu |= embedder.placement() != Placement::Cpu;
            backends.embedder = Arc::new(embedder);
        }
        if self.speech.backend == Backend::Onnx {
            let voice = PiperVoice::from_registry(registry, self.speech.model(PIPER_MODEL), device)?;
            backends.on_gpu |= voice.placement() != Placement::Cpu;
            backends.speech = Some(Arc::new(voice));
        }
        if self.landscape.backend == Backend::Onnx {
            let terrain = TerrainModel::from_registry(registry, self.landscape.model(TERRAIN_MODEL), device).map_err(
                |source| SetupError::Onnx {
                    role: "landscape",
                    source: Box::new(source),
                },
            )?;
            backends.on_gpu |= terrain.placement() != Placement::Cpu;
            backends.image = Arc::new(TerrainImages::new(Arc::new(terrain), backends.image));
        }
        Ok(backends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_setup_with_defaults_for_the_roles_left_out() {
        let setup: ModelSetup =
            toml::from_str("device = \"cpu\"\ntext = { backend = \"candle\", model = \"my-llama\" }\n")
                .expect("parses");
        assert_eq!(setup.device, Device::Cpu);
        assert_eq!(setup.text.model(SMOLLM2_MODEL), "my-llama");
        assert_eq!(setup.embeddings.backend, Backend::Procedural);
        assert_eq!(setup.models(), ["my-llama"]);
        assert!(!setup.is_procedural() && ModelSetup::default().is_procedural());
        assert_eq!(
            ModelSetup::local().models(),
            [SMOLLM2_MODEL, MINILM_MODEL, PIPER_MODEL, TERRAIN_MODEL]
        );
    }

    #[test]
    fn bad_choices_are_named() {
        let error = toml::from_str::<ModelSetup>("text = { backend = \"gpt\" }\n").expect_err("unknown backend");
        assert!(error.to_string().contains("gpt"), "{error}");
        assert!(toml::from_str::<ModelSetup>("colour = 1\n").is_err());
        assert!(toml::from_str::<ModelSetup>("device = \"tpu\"\n").is_err());
        let setup: ModelSetup = toml::from_str("speech = { backend = \"candle\" }\n").expect("parses");
        let error = setup.check().expect_err("candle does not speak");
        assert_eq!(
            error.to_string(),
            "models.speech: the `Candle` backend does not serve it; use one of none, onnx"
        );
    }

    #[test]
    fn a_missing_model_says_how_to_install_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::new(dir.path().join("models"));
        let error = ModelSetup::local().build(&registry).expect_err("nothing installed");
        let message = error.to_string();
        assert!(message.starts_with("models.text:"), "{message}");
        assert!(
            message.contains("smollm2-135m") && message.contains("models install"),
            "{message}"
        );
        assert!(ModelSetup::procedural().build(&registry).is_ok());
    }
}
