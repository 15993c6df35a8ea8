//! The model families the backend runs, told apart by a GGUF's `general.architecture`.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;

use super::LlmError;

/// A model family: where its hyper-parameters are in the metadata and how its attention is
/// laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Llama and its kin (SmolLM2): no attention biases; RoPE on interleaved pairs, since the
    /// GGUF converter permutes the query and key rows for it.
    Llama,
    /// Qwen 2 and 2.5: biases on the queries, keys and values; RoPE on the two halves of each
    /// head (the NeoX form: value `i` turns with value `i + rope_dim / 2`).
    Qwen2,
}

impl Architecture {
    /// The architecture of the GGUF whose metadata is `metadata`.
    pub fn of(metadata: &HashMap<String, Value>) -> Result<Self, LlmError> {
        let name = metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .map_or("", String::as_str);
        match name {
            "llama" => Ok(Architecture::Llama),
            "qwen2" => Ok(Architecture::Qwen2),
            other => Err(LlmError::Unsupported(format!(
                "architecture `{other}`; the candle backend runs llama and qwen2"
            ))),
        }
    }

    /// Its name, the prefix of its keys in the metadata (`qwen2.block_count`).
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
        }
    }

    /// Which values RoPE turns together.
    pub fn rope(self) -> RopeForm {
        match self {
            Architecture::Llama => RopeForm::Interleaved,
            Architecture::Qwen2 => RopeForm::Halves,
        }
    }
}

/// Which values of a head RoPE turns together, over the head's first `rope_dim` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeForm {
    /// Values `2i` and `2i + 1` (what candle's `rope_i` and llama.cpp's normal mode do).
    Interleaved,
    /// Values `i` and `i + rope_dim / 2` (candle's `rope`, llama.cpp's NeoX mode).
    Halves,
}
