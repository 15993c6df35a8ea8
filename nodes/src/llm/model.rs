//! A llama-family GGUF model on candle: its weights, tokenizer and chat template, and decoding
//! sessions over it.

use std::fs::File;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, Once};

use std::io::Cursor;

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device as CandleDevice, Tensor};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use tokio_util::sync::CancellationToken;

use super::LlmError;
use super::sampler::{Sampler, Sampling};
use super::template::{ChatTemplate, Message};
use super::tokenizer::GgufTokenizer;
use crate::onnx::{Device, Placement};
use crate::registry::{Registry, Role};

/// Prompt tokens fed to the model per forward pass.
const PREFILL_CHUNK: usize = 256;

/// A loaded GGUF chat model.
pub struct Llm {
    name: String,
    weights: Mutex<ModelWeights>,
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
    device: CandleDevice,
    placement: Placement,
    context: usize,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llm")
            .field("name", &self.name)
            .field("placement", &self.placement)
            .field("context", &self.context)
            .finish()
    }
}

static CPU_FALLBACK: Once = Once::new();

/// The candle device for `device`: `cuda` insists, `auto` falls back to the CPU with one log line.
fn candle_device(device: Device) -> Result<(CandleDevice, Placement), LlmError> {
    match device {
        Device::Cpu => Ok((CandleDevice::Cpu, Placement::Cpu)),
        Device::Cuda(n) => CandleDevice::new_cuda(n as usize)
            .map(|d| (d, Placement::Cuda(n)))
            .map_err(|e| LlmError::Device(format!("cuda:{n}: {e}"))),
        Device::Auto => match CandleDevice::cuda_if_available(0) {
            Ok(d) if d.is_cuda() => Ok((d, Placement::Cuda(0))),
            outcome => {
                CPU_FALLBACK.call_once(|| match outcome {
                    Err(e) => tracing::warn!("candle: CUDA failed ({e}); the LLM runs on the CPU"),
                    Ok(_) => tracing::info!(
                        "candle: no CUDA device (or built without the `cuda` feature); the LLM runs on the CPU"
                    ),
                });
                Ok((CandleDevice::Cpu, Placement::Cpu))
            }
        },
    }
}

/// Quantisations candle's CPU kernels have no SIMD dot product for (a scalar loop, ~20×
/// slower): their tensors are re-quantised to `Q8_0` at load, which has one and holds every
/// 4- and 5-bit value of theirs almost exactly.
fn needs_requantizing(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

/// The GGUF in `file` with its slow tensors re-quantised to `Q8_0`, in memory.
fn requantized(
    content: gguf_file::Content,
    file: &mut File,
) -> candle_core::Result<(gguf_file::Content, Cursor<Vec<u8>>)> {
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(&str, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content.tensor(file, name, &CandleDevice::Cpu)?;
        let fits = tensor.shape().dims().last().is_some_and(|d| d % 32 == 0);
        let tensor = if needs_requantizing(tensor.dtype()) && fits {
            QTensor::quantize(&tensor.dequantize(&CandleDevice::Cpu)?, GgmlDType::Q8_0)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut bytes = Cursor::new(Vec::new());
    gguf_file::write(&mut bytes, &metadata, &tensor_refs)?;
    bytes.set_position(0);
    let content = gguf_file::Content::read(&mut bytes)?;
    Ok((content, bytes))
}

impl Llm {
    /// Loads the GGUF file at `path`, named `name` in outputs, on `device`.
    pub fn load(name: &str, path: &Path, device: Device) -> Result<Self, LlmError> {
        let (device, placement) = candle_device(device)?;
        let io = |e: std::io::Error| LlmError::Io {
            path: path.to_owned(),
            source: e,
        };
        let mut file = File::open(path).map_err(io)?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| LlmError::Format(format!("{}: not a GGUF file: {e}", path.display())))?;
        let architecture = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if architecture != "llama" {
            return Err(LlmError::Unsupported(format!(
                "{}: architecture `{architecture}`; the candle backend runs the llama family",
                path.display()
            )));
        }
        let tokenizer = GgufTokenizer::from_metadata(&content.metadata)?;
        let template = ChatTemplate::new(
            content
                .metadata
                .get("tokenizer.chat_template")
                .and_then(|v| v.to_string().ok())
                .map(String::as_str),
        )?;
        let context = content
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |n| (n as usize).min(MAX_SEQ_LEN));
        let bad = |e: candle_core::Error| LlmError::Format(format!("{}: {e}", path.display()));
        let weights = if device.is_cpu() && content.tensor_infos.values().any(|t| needs_requantizing(t.ggml_dtype)) {
            let (content, mut bytes) = requantized(content, &mut file).map_err(bad)?;
            ModelWeights::from_gguf(content, &mut bytes, &device).map_err(bad)?
        } else {
            ModelWeights::from_gguf(content, &mut file, &device).map_err(bad)?
        };
        Ok(Self {
            name: name.to_owned(),
            weights: Mutex::new(weights),
            tokenizer,
            template,
            device,
            placement,
            context,
        })
    }

    /// Loads the installed model `name` (role `llm`), verified against its manifest.
    pub fn from_registry(registry: &Registry, name: &str, device: Device) -> Result<Self, LlmError> {
        let model = registry.require(name, Role::Llm)?;
        Self::load(name, &model.main_file()?, device)
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it runs.
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// Its tokenizer.
    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.tokenizer
    }

    /// The prompt text of the chat `messages`, by the model's chat template.
    pub fn prompt(&self, messages: &[Message]) -> Result<String, LlmError> {
        self.template.render(messages)
    }

    /// A decoding session that starts with the chat `messages` as its prompt. Sessions take
    /// turns: the model has one KV cache.
    pub fn session(
        &self,
        messages: &[Message],
        sampling: Sampling,
        seed: u64,
        cancel: CancellationToken,
    ) -> Result<Session<'_>, LlmError> {
        let prompt = self.prompt(messages)?;
        let tokens = self.tokenizer.encode(&prompt)?;
        let weights = self.weights.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut session = Session {
            llm: self,
            weights,
            sampler: Sampler::new(sampling, seed),
            pending: tokens,
            position: 0,
            logits: Vec::new(),
            generated: Vec::new(),
            cancel,
        };
        session.flush()?;
        Ok(session)
    }
}

/// One generation: the model's KV cache, the position, the next token's logits.
pub struct Session<'a> {
    llm: &'a Llm,
    weights: MutexGuard<'a, ModelWeights>,
    sampler: Sampler,
    /// Tokens decided but not yet fed to the model.
    pending: Vec<u32>,
    position: usize,
    logits: Vec<f32>,
    /// Tokens the sampler chose, for the repeat penalty.
    generated: Vec<u32>,
    cancel: CancellationToken,
}

impl<'a> Session<'a> {
    /// The model's tokenizer.
    pub fn tokenizer(&self) -> &'a GgufTokenizer {
        &self.llm.tokenizer
    }

    /// Appends `text` without sampling it (the constraint decided it).
    pub fn force(&mut self, text: &str) -> Result<(), LlmError> {
        let tokens = self.llm.tokenizer.encode(text)?;
        self.pending.extend(tokens);
        Ok(())
    }

    /// Samples the next token among those `allowed`, without feeding it: the caller feeds it
    /// with [`Session::accept`] or writes something else with [`Session::force`].
    pub fn pick(&mut self, allowed: &dyn Fn(u32) -> bool) -> Result<u32, LlmError> {
        self.flush()?;
        let token = self
            .sampler
            .sample(&self.logits, allowed, &self.generated)
            .ok_or(LlmError::Constraint("no token satisfies the constraint"))?;
        Ok(token)
    }

    /// Feeds a token [`Session::pick`] chose.
    pub fn accept(&mut self, token: u32) {
        self.generated.push(token);
        self.pending.push(token);
    }

    /// Feeds the pending tokens, leaving the logits of the next token.
    fn flush(&mut self) -> Result<(), LlmError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.cancel.is_cancelled() {
            return Err(LlmError::Cancelled);
        }
        if self.position + self.pending.len() > self.llm.context {
            return Err(LlmError::ContextFull(self.llm.context));
        }
        let pending = std::mem::take(&mut self.pending);
        let mut last = None;
        for chunk in pending.chunks(PREFILL_CHUNK) {
            let input = Tensor::new(chunk, &self.llm.device)
                .and_then(|t| t.unsqueeze(0))
                .map_err(LlmError::candle)?;
            let logits = self.weights.forward(&input, self.position).map_err(LlmError::candle)?;
            self.position += chunk.len();
            last = Some(logits);
        }
        if let Some(logits) = last {
            self.logits = logits
                .squeeze(0)
                .and_then(|l| l.to_dtype(candle_core::DType::F32))
                .and_then(|l| l.to_vec1())
                .map_err(LlmError::candle)?;
        }
        Ok(())
    }
}
