//! A llama or qwen2 GGUF's hyper-parameters and weights, read into the kernels' formats.

use std::io::{Read, Seek};

use candle_core::Device;
use candle_core::quantized::gguf_file::Content;

use super::matrix::Matrix;
use crate::LlmError;
use crate::architecture::{Architecture, RopeForm};

/// The hyper-parameters, from the GGUF metadata (`llama.*`, `qwen2.*`: the architecture's).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Width of the residual stream (`embedding_length`).
    pub embedding: usize,
    /// Transformer blocks (`block_count`).
    pub layers: usize,
    /// Query heads (`attention.head_count`).
    pub heads: usize,
    /// Key/value heads (`attention.head_count_kv`; the query heads share them in groups).
    pub kv_heads: usize,
    /// Values per head: `embedding` / `heads`.
    pub head_dim: usize,
    /// Leading values of each head that RoPE rotates (`rope.dimension_count`, else all).
    pub rope_dim: usize,
    /// Which values RoPE turns together (the architecture's form).
    pub rope: RopeForm,
    /// RoPE's base frequency (`rope.freq_base`, else 10 000).
    pub rope_base: f32,
    /// RMSNorm's epsilon (`attention.layer_norm_rms_epsilon`, else 1e-5).
    pub rms_eps: f32,
}

impl Config {
    /// The hyper-parameters in `content`'s metadata.
    pub fn from_gguf(content: &Content) -> Result<Self, LlmError> {
        let architecture = Architecture::of(&content.metadata)?;
        let prefix = architecture.name();
        let get = |key: &str| content.metadata.get(&format!("{prefix}.{key}"));
        let count = |key: &str| -> Result<Option<usize>, LlmError> {
            get(key)
                .map(|v| v.to_u32().map(|n| n as usize))
                .transpose()
                .map_err(|e| LlmError::Format(format!("{prefix}.{key}: {e}")))
        };
        let required =
            |key: &str| count(key)?.ok_or_else(|| LlmError::Format(format!("no {prefix}.{key} in the metadata")));
        let float = |key: &str, default: f32| -> Result<f32, LlmError> {
            get(key)
                .map_or(Ok(default), |v| v.to_f32())
                .map_err(|e| LlmError::Format(format!("{prefix}.{key}: {e}")))
        };
        let embedding = required("embedding_length")?;
        let heads = required("attention.head_count")?;
        let kv_heads = count("attention.head_count_kv")?.unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || !embedding.is_multiple_of(heads) || !heads.is_multiple_of(kv_heads) {
            return Err(LlmError::Format(format!(
                "{heads} heads and {kv_heads} key/value heads over an embedding of {embedding}"
            )));
        }
        let head_dim = embedding / heads;
        let rope_dim = count("rope.dimension_count")?.unwrap_or(head_dim);
        if rope_dim > head_dim || !rope_dim.is_multiple_of(2) {
            return Err(LlmError::Format(format!(
                "RoPE over {rope_dim} of a head's {head_dim} values"
            )));
        }
        Ok(Self {
            embedding,
            layers: required("block_count")?,
            heads,
            kv_heads,
            head_dim,
            rope_dim,
            rope: architecture.rope(),
            rope_base: float("rope.freq_base", 10_000.0)?,
            rms_eps: float("attention.layer_norm_rms_epsilon", 1e-5)?,
        })
    }

    /// Values of one position's keys (or values): `kv_heads` × `head_dim`.
    pub fn kv_width(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

/// One transformer block's weights.
#[derive(Debug)]
pub struct Layer {
    /// RMSNorm scale before attention.
    pub attn_norm: Vec<f32>,
    /// Queries.
    pub wq: Matrix,
    /// Keys.
    pub wk: Matrix,
    /// Values.
    pub wv: Matrix,
    /// The biases added to the queries, keys and values (qwen2), when the file has them.
    pub qkv_bias: Option<[Vec<f32>; 3]>,
    /// Attention output.
    pub wo: Matrix,
    /// RMSNorm scale before the feed-forward network.
    pub ffn_norm: Vec<f32>,
    /// The feed-forward gate (SiLU).
    pub gate: Matrix,
    /// The feed-forward up projection.
    pub up: Matrix,
    /// The feed-forward down projection.
    pub down: Matrix,
}

/// The whole model's weights.
#[derive(Debug)]
pub struct Weights {
    /// The hyper-parameters.
    pub config: Config,
    /// The token embeddings (`token_embd`), a row per token.
    embeddings: Matrix,
    /// The transformer blocks.
    pub layers: Vec<Layer>,
    /// RMSNorm scale before the output.
    pub output_norm: Vec<f32>,
    /// The output projection, `None` when it is the embeddings (tied).
    output: Option<Matrix>,
}

impl Weights {
    /// Reads the weights named in `content` from `reader`.
    pub fn from_gguf<R: Read + Seek>(content: &Content, reader: &mut R) -> Result<Self, LlmError> {
        let config = Config::from_gguf(content)?;
        let tensor = |reader: &mut R, name: &str| {
            content
                .tensor(reader, name, &Device::Cpu)
                .map_err(|e| LlmError::Format(format!("tensor {name}: {e}")))
        };
        let matrix = |reader: &mut R, name: &str| {
            Matrix::new(tensor(reader, name)?).map_err(|e| LlmError::Format(format!("tensor {name}: {e}")))
        };
        let vector = |reader: &mut R, name: &str, len: usize| -> Result<Vec<f32>, LlmError> {
            let v = tensor(reader, name)?
                .dequantize(&Device::Cpu)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| LlmError::Format(format!("tensor {name}: {e}")))?;
            if v.len() != len {
                return Err(LlmError::Format(format!(
                    "tensor {name}: {} values, not {len}",
                    v.len()
                )));
            }
            Ok(v)
        };
        let embeddings = matrix(reader, "token_embd.weight")?;
        let output = if content.tensor_infos.contains_key("output.weight") {
            Some(matrix(reader, "output.weight")?)
        } else {
            None
        };
        let (width, kv) = (config.embedding, config.kv_width());
        let layers = (0..config.layers)
            .map(|i| {
                let name = |part: &str| format!("blk.{i}.{part}.weight");
                let bias = |part: &str| format!("blk.{i}.{part}.bias");
                let qkv_bias = if content.tensor_infos.contains_key(&bias("attn_q")) {
                    Some([
                        vector(reader, &bias("attn_q"), width)?,
                        vector(reader, &bias("attn_k"), kv)?,
                        vector(reader, &bias("attn_v"), kv)?,
                    ])
                } else {
                    None
                };
                Ok(Layer {
                    attn_norm: vector(reader, &name("attn_norm"), width)?,
                    wq: matrix(reader, &name("attn_q"))?,
                    wk: matrix(reader, &name("attn_k"))?,
                    wv: matrix(reader, &name("attn_v"))?,
                    qkv_bias,
                    wo: matrix(reader, &name("attn_output"))?,
                    ffn_norm: vector(reader, &name("ffn_norm"), width)?,
                    gate: matrix(reader, &name("ffn_gate"))?,
                    up: matrix(reader, &name("ffn_up"))?,
                    down: matrix(reader, &name("ffn_down"))?,
                })
            })
            .collect::<Result<Vec<_>, LlmError>>()?;
        let weights = Self {
            output_norm: vector(reader, "output_norm.weight", width)?,
            config,
            embeddings,
            layers,
            output,
        };
        weights.check()?;
        Ok(weights)
    }

    /// The matrices' shapes against the hyper-parameters.
    fn check(&self) -> Result<(), LlmError> {
        let (width, kv) = (self.config.embedding, self.config.kv_width());
        let shape = |name: &str, m: &Matrix, rows: usize, cols: usize| {
            if m.rows() == rows && m.cols() == cols {
                Ok(())
            } else {
                Err(LlmError::Format(format!(
                    "{name}: {}×{}, expected {rows}×{cols}",
                    m.rows(),
                    m.cols()
                )))
            }
        };
        shape("token_embd", &self.embeddings, self.embeddings.rows(), width)?;
        shape("output", self.output(), self.output().rows(), width)?;
        for (i, l) in self.layers.iter().enumerate() {
            let ff = l.gate.rows();
            for (name, m, rows, cols) in [
                ("attn_q", &l.wq, width, width),
                ("attn_k", &l.wk, kv, width),
                ("attn_v", &l.wv, kv, width),
                ("attn_output", &l.wo, width, width),
                ("ffn_gate", &l.gate, ff, width),
                ("ffn_up", &l.up, ff, width),
                ("ffn_down", &l.down, width, ff),
            ] {
                shape(&format!("blk.{i}.{name}"), m, rows, cols)?;
            }
        }
        Ok(())
    }

    /// The output projection: a row per vocabulary entry.
    pub fn output(&self) -> &Matrix {
        self.output.as_ref().unwrap_or(&self.embeddings)
    }

    /// The embedding of `token` into `out` (`embedding` long).
    pub fn embed(&self, token: u32, out: &mut [f32]) -> Result<(), LlmError> {
        let row = token as usize;
        if row >= self.embeddings.rows() {
            return Err(LlmError::Format(format!(
                "token {token} has no embedding (the table has {})",
                self.embeddings.rows()
            )));
        }
        self.embeddings.dequantize_row(row, out)
    }
}
