//! The `candle` backend (DESIGN §5): a llama or qwen2 GGUF chat model (SmolLM2, Qwen2.5) run
//! in-process (on the CPU by our own forward pass and SIMD kernels, the `cpu` module; on CUDA by
//! candle-transformers' quantized llama and qwen2), writing the text stages as JSON that always
//! parses and validates.
//!
//! - [`Llm`]: the weights, the tokenizer built from the GGUF metadata ([`GgufTokenizer`]), the
//!   file's own chat template ([`ChatTemplate`]), seeded sampling ([`Sampling`]);
//! - [`json::write`]: JSON-constrained decoding against a JSON Schema;
//! - [`LlmText`]: the [`showrunner_backend::TextModel`] of the outline, characters, scenes and
//!   storyboard on it.
//!
//! ```no_run
//! use showrunner_llm::{Llm, LlmText};
//! use showrunner_models::Device;
//! use showrunner_models::Registry;
//!
//! let registry = Registry::new("showrunner-data/models");
//! let llm = Llm::from_registry(&registry, "smollm2-135m", Device::Cpu)?;
//! let text = LlmText::new(std::sync::Arc::new(llm));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod architecture;
mod cpu;
pub mod json;
mod model;
mod prompt;
mod sampler;
mod template;
mod text;
mod tokenizer;

use std::path::PathBuf;

pub use model::{Llm, Session};
pub use sampler::{Sampler, Sampling};
pub use template::{ChatTemplate, Message, Role};
pub use text::{LlmText, SMOLLM2_MODEL};
pub use tokenizer::{GgufTokenizer, class};

use showrunner_backend::BackendError;
use showrunner_models::RegistryError;

/// A `candle` backend failure.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The model is not installed, or is corrupt.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The model file could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a usable GGUF (missing metadata, bad tensors).
    #[error("{0}")]
    Format(String),
    /// The file is a GGUF this backend does not run (another architecture or tokenizer).
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The chat template does not parse or render.
    #[error("chat template: {0}")]
    Template(String),
    /// The tokenizer failed on a text.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The device asked for cannot be used.
    #[error("device {0}")]
    Device(String),
    /// candle failed while running the model.
    #[error("candle: {0}")]
    Candle(String),
    /// The schema uses something constrained decoding does not support.
    #[error("schema at {path}: {message} is not supported by constrained decoding")]
    Schema {
        /// Where in the value.
        path: String,
        /// What.
        message: String,
    },
    /// No token can continue the output under the constraint.
    #[error("constrained decoding: {0}")]
    Constraint(&'static str),
    /// The output does not validate (a bug in the constraint, reported rather than returned).
    #[error("the model's output does not validate: {0}")]
    Invalid(String),
    /// Prompt and output do not fit in the model's context.
    #[error("the prompt and output need more than the model's {0}-token context")]
    ContextFull(usize),
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl LlmError {
    fn candle(e: candle_core::Error) -> Self {
        LlmError::Candle(e.to_string())
    }
}

impl From<LlmError> for BackendError {
    fn from(e: LlmError) -> Self {
        match e {
            LlmError::Registry(_)
            | LlmError::Io { .. }
            | LlmError::Format(_)
            | LlmError::Unsupported(_)
            | LlmError::Template(_)
            | LlmError::Device(_)
            | LlmError::Schema { .. }
            | LlmError::ContextFull(_) => BackendError::Invalid(e.to_string()),
            _ => BackendError::Failed(e.to_string()),
        }
    }
}
