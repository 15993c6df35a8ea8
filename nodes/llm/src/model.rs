//! A llama or qwen2 GGUF model: its weights (on the CPU our own forward pass, on CUDA candle's
//! `quantized_llama` or `quantized_qwen2`), tokenizer and chat template, and decoding sessions
//! over it.

use std::fs::File;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, Once};

use candle_core::quantized::gguf_file;
use candle_core::{Device as CandleDevice, Tensor};
use candle_transformers::models::quantized_llama::{self, MAX_SEQ_LEN};
use candle_transformers::models::quantized_qwen2;
use tokio_util::sync::CancellationToken;

use super::LlmError;
use super::architecture::Architecture;
use super::cpu;
use super::sampler::{Sampler, Sampling};
use super::template::{ChatTemplate, Message};
use super::tokenizer::GgufTokenizer;
use showrunner_models::{Device, Placement};
use showrunner_models::{Registry, Role};

/// Prompt tokens fed to candle's model per forward pass (ours takes them all at once).
const PREFILL_CHUNK: usize = 256;

/// The forward pass a model runs on.
enum Engine {
    /// Ours, on the CPU.
    Cpu(cpu::Model),
    /// candle-transformers': on CUDA, and for mixture-of-experts models.
    Candle(CandleModel),
}

/// A model of candle-transformers, by architecture.
enum CandleModel {
    /// `quantized_llama`.
    Llama(quantized_llama::ModelWeights),
    /// `quantized_qwen2`.
    Qwen2(quantized_qwen2::ModelWeights),
}

impl CandleModel {
    /// The forward pass of `input` (a batch of one) from `position`: the last position's logits.
    fn forward(&mut self, input: &Tensor, position: usize) -> candle_core::Result<Tensor> {
        match self {
            CandleModel::Llama(weights) => weights.forward(input, position),
            CandleModel::Qwen2(weights) => weights.forward(input, position),
        }
    }
}

/// A loaded GGUF chat model.
pub struct Llm {
    name: String,
    engine: Mutex<Engine>,
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
        let architecture = Architecture::of(&content.metadata).map_err(|e| match e {
            LlmError::Unsupported(e) => LlmError::Unsupported(format!("{}: {e}", path.display())),
            e => e,
        })?;
        let prefix = architecture.name();
        let tokenizer = GgufTokenizer::from_metadata(&content.metadata)?;
        let template = ChatTemplate::new(
            content
                .metadata
                .get("tokenizer.chat_template")
                .and_then(|v| v.to_string().ok())
                .map(String::as_str),
        )?;
        // Capped: the cache is allocated whole, and the text stages' prompts and answers fit.
        let context = content
            .metadata
            .get(&format!("{prefix}.context_length"))
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |n| (n as usize).min(MAX_SEQ_LEN));
        let experts = content
            .metadata
            .get(&format!("{prefix}.expert_count"))
            .and_then(|v| v.to_u32().ok())
            .unwrap_or(0);
        let in_file = |e: LlmError| match e {
            LlmError::Format(e) => LlmError::Format(format!("{}: {e}", path.display())),
            e => e,
        };
        let engine = if device.is_cpu() && experts <= 1 {
            let model = cpu::Model::from_gguf(&content, &mut file, context).map_err(in_file)?;
            tracing::debug!("{name}: our CPU forward pass, {} kernels", model.isa().name());
            Engine::Cpu(model)
        } else {
            let bad = |e: candle_core::Error| LlmError::Format(format!("{}: {e}", path.display()));
            Engine::Candle(match architecture {
                Architecture::Llama => CandleModel::Llama(
                    quantized_llama::ModelWeights::from_gguf(content, &mut file, &device).map_err(bad)?,
                ),
                Architecture::Qwen2 => CandleModel::Qwen2(
                    quantized_qwen2::ModelWeights::from_gguf(content, &mut file, &device).map_err(bad)?,
                ),
            })
        };
        Ok(Self {
            name: name.to_owned(),
            engine: Mutex::new(engine),
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
        let engine = self.engine.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut session = Session {
            llm: self,
            engine,
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
    engine: MutexGuard<'a, Engine>,
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

    /// The logits of the next token, after feeding what is pending.
    pub fn logits(&mut self) -> Result<&[f32], LlmError> {
        self.flush()?;
        Ok(&self.logits)
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
        match &mut *self.engine {
            Engine::Cpu(model) => model.forward(&pending, self.position, &mut self.logits)?,
            Engine::Candle(model) => {
                let mut last = None;
                for (i, chunk) in pending.chunks(PREFILL_CHUNK).enumerate() {
                    let input = Tensor::new(chunk, &self.llm.device)
                        .and_then(|t| t.unsqueeze(0))
                        .map_err(LlmError::candle)?;
                    let logits = model
                        .forward(&input, self.position + i * PREFILL_CHUNK)
                        .map_err(LlmError::candle)?;
                    last = Some(logits);
                }
                if let Some(logits) = last {
                    self.logits = logits
                        .squeeze(0)
                        .and_then(|l| l.to_dtype(candle_core::DType::F32))
                        .and_then(|l| l.to_vec1())
                        .map_err(LlmError::candle)?;
                }
            }
        }
        self.position += pending.len();
        Ok(())
    }
}
