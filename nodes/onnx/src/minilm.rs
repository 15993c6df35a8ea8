//! Sentence embeddings from a BERT-family ONNX graph (all-MiniLM-L6-v2, the registry's
//! `minilm-l6`) behind the [`Embedder`] trait.
//!
//! Texts are tokenized by the model's `tokenizer.json` with batch-longest padding (the file asks
//! for a fixed 128, which pads "looks good" to 128 tokens: about 12× the work on chat-length
//! text) and truncated at the model's `max_sequence_length` (256, what it was trained with).
//! The graph's `last_hidden_state` is mean-pooled over the real tokens (attention mask) and
//! L2-normalised, as sentence-transformers does, so a dot product is a cosine.
//!
//! `Session::run` takes `&mut self`: one session behind a mutex. ONNX Runtime already spreads
//! one batch over every core, so a second session would add memory, not throughput, on the
//! machines we run on; callers batch instead.

use std::path::Path;
use std::sync::Mutex;

use ndarray::{ArrayView3, Axis, Ix3};
use ort::session::Session;
use ort::value::Tensor;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::OnnxError;
use super::runtime::Runtime;
use crate::{Device, Placement, session};
use showrunner_backend::{BackendError, BackendResult, Embedder};
use showrunner_models::{Registry, Role};
use showrunner_story::model::Generator;

/// The registry's name for MiniLM.
pub const MINILM_MODEL: &str = "minilm-l6";

/// Texts per run of the graph: bounds the padded batch's memory on long inputs.
pub const MAX_BATCH: usize = 64;

/// Default truncation when the manifest does not give `max_sequence_length`.
pub const DEFAULT_MAX_TOKENS: usize = 256;

/// A sentence embedder on ONNX Runtime.
#[derive(Debug)]
pub struct MiniLmEmbedder {
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    name: String,
    with_token_types: bool,
    output: String,
    placement: Placement,
}

impl MiniLmEmbedder {
    /// The embeddings model `name` of the registry on `device`, with ONNX Runtime found as
    /// [`super::runtime::library`] says. Its files are verified first.
    pub fn from_registry(registry: &Registry, name: &str, device: Device) -> Result<Self, OnnxError> {
        let model = registry.require(name, Role::Embeddings)?;
        let max_tokens = model
            .manifest
            .parameter_int("max_sequence_length")
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_MAX_TOKENS);
        let runtime = Runtime::from_registry(registry)?;
        MiniLmEmbedder::load(
            &runtime,
            &model.main_file()?,
            &model.file("tokenizer.json")?,
            name,
            max_tokens,
            device,
        )
    }

    /// An embedder from an ONNX graph and its `tokenizer.json`, truncating at `max_tokens`.
    pub fn load(
        runtime: &Runtime,
        model: &Path,
        tokenizer: &Path,
        name: &str,
        max_tokens: usize,
        device: Device,
    ) -> Result<Self, OnnxError> {
        let tokenizer = load_tokenizer(tokenizer, max_tokens)?;
        let (session, placement) = session(runtime, model, device)?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !inputs.contains(&required) {
                return Err(OnnxError::Session {
                    model: model.to_owned(),
                    message: format!("no `{required}` input (it has {inputs:?}): not a BERT-style encoder"),
                });
            }
        }
        let with_token_types = inputs.contains(&"token_type_ids");
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        let output = if outputs.contains(&"last_hidden_state") {
            "last_hidden_state".to_string()
        } else {
            outputs
                .first()
                .map(|o| o.to_string())
                .ok_or_else(|| OnnxError::Session {
                    model: model.to_owned(),
                    message: "the graph has no output".into(),
                })?
        };
        Ok(MiniLmEmbedder {
            session: Mutex::new(session),
            tokenizer,
            name: name.into(),
            with_token_types,
            output,
            placement,
        })
    }

    /// Where the graph runs.
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// Embeds one batch: tokenize, run, pool, normalise.
    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, OnnxError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| OnnxError::Tokenizer(e.to_string()))?;
        let batch = encodings.len();
        let width = encodings.first().map_or(0, |e| e.len());
        let mut ids = Vec::with_capacity(batch * width);
        let mut mask = Vec::with_capacity(batch * width);
        let mut types = Vec::with_capacity(batch * width);
        for encoding in &encodings {
            ids.extend(encoding.get_ids().iter().map(|&x| i64::from(x)));
            mask.extend(encoding.get_attention_mask().iter().map(|&x| i64::from(x)));
            types.extend(encoding.get_type_ids().iter().map(|&x| i64::from(x)));
        }
        let tensor = |data: Vec<i64>| Tensor::from_array(([batch, width], data)).map_err(inference);
        let mut inputs = vec![("input_ids", tensor(ids)?), ("attention_mask", tensor(mask.clone())?)];
        if self.with_token_types {
            inputs.push(("token_type_ids", tensor(types)?));
        }
        let mut session = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outputs = session.run(inputs).map_err(inference)?;
        let hidden = outputs[self.output.as_str()]
            .try_extract_array::<f32>()
            .map_err(inference)?
            .into_dimensionality::<Ix3>()
            .map_err(|e| OnnxError::Inference(format!("`{}` is not [batch, sequence, hidden]: {e}", self.output)))?;
        if hidden.shape()[..2] != [batch, width] {
            return Err(OnnxError::Inference(format!(
                "`{}` has shape {:?}, expected [{batch}, {width}, _]",
                self.output,
                hidden.shape()
            )));
        }
        Ok(pool(hidden, &mask))
    }
}

fn inference(e: ort::Error) -> OnnxError {
    OnnxError::Inference(e.to_string())
}

/// The tokenizer of `path` with batch-longest padding and truncation at `max_tokens`.
fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer, OnnxError> {
    let failed = |message: String| OnnxError::Tokenizer(format!("{}: {message}", path.display()));
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| failed(e.to_string()))?;
    // Keep the file's pad token and id; only the strategy changes.
    let padding = PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..tokenizer.get_padding().cloned().unwrap_or_default()
    };
    tokenizer.with_padding(Some(padding));
    let truncation = TruncationParams {
        max_length: max_tokens,
        ..tokenizer.get_truncation().cloned().unwrap_or_default()
    };
    tokenizer
        .with_truncation(Some(truncation))
        .map_err(|e| failed(e.to_string()))?;
    Ok(tokenizer)
}

/// Attention-masked mean over the tokens, then L2 normalisation (eps as in sentence-transformers
/// and torch: 1e-9 on the token count, 1e-12 on the norm).
fn pool(hidden: ArrayView3<'_, f32>, mask: &[i64]) -> Vec<Vec<f32>> {
    let (batch, width, dims) = hidden.dim();
    (0..batch)
        .map(|b| {
            let tokens = hidden.index_axis(Axis(0), b);
            let mut sum = vec![0f32; dims];
            let mut count = 0f32;
            for t in 0..width {
                if mask[b * width + t] == 0 {
                    continue;
                }
                count += 1.0;
                for (s, h) in sum.iter_mut().zip(tokens.row(t)) {
                    *s += h;
                }
            }
            let count = count.max(1e-9);
            sum.iter_mut().for_each(|s| *s /= count);
            let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            sum.iter_mut().for_each(|s| *s /= norm);
            sum
        })
        .collect()
}

impl Embedder for MiniLmEmbedder {
    fn generator(&self) -> Generator {
        Generator {
            backend: "onnx".into(),
            model: self.name.clone(),
            seed: 0,
        }
    }

    fn embed(&self, texts: &[&str]) -> BackendResult<Vec<Vec<f32>>> {
        let mut vectors = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(MAX_BATCH) {
            let embedded = self
                .embed_batch(chunk)
                .map_err(|e| BackendError::Failed(e.to_string()))?;
            vectors.extend(embedded);
        }
        Ok(vectors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_ignores_padding_and_normalises() {
        // Two texts, three positions, two dimensions; the second text has one real token.
        let hidden = ndarray::Array3::from_shape_vec((2, 3, 2), vec![1., 0., 3., 0., 9., 9., 0., 2., 7., 7., 7., 7.])
            .expect("shape");
        let pooled = pool(hidden.view(), &[1, 1, 0, 1, 0, 0]);
        assert_eq!(pooled, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
    }
}
