//! The llama and qwen2 forward pass: RMSNorm, the query, key and value projections (plus their
//! biases in qwen2), RoPE in the architecture's form (interleaved pairs for `llama` GGUFs, whose
//! Q and K rows the converter permuted for it, as candle's `quantized_llama` applies it; the two
//! halves of each head for qwen2, as candle's `quantized_qwen2` and llama.cpp's NeoX mode do),
//! grouped-query attention over a KV cache allocated for the whole context and written in place
//! (each query head reads its group's keys and values where they are), the SiLU-gated
//! feed-forward network, and the logits of the last position.

use std::io::{Read, Seek};

use candle_core::quantized::gguf_file::Content;
use rayon::prelude::*;

use super::kernels::Isa;
use super::matrix::matmul;
use super::weights::{Config, Weights};
use crate::LlmError;
use crate::architecture::RopeForm;

/// Multiply-adds of attention in one forward pass below which it runs on one thread.
const PARALLEL_ATTENTION: usize = 1 << 15;

/// A loaded model and its KV cache.
#[derive(Debug)]
pub struct Model {
    weights: Weights,
    isa: Isa,
    /// Positions the cache holds.
    context: usize,
    /// Per layer, every position's keys: position × key/value head × head value.
    keys: Vec<Vec<f32>>,
    /// Per layer, every position's values, laid out as `keys`.
    values: Vec<Vec<f32>>,
    /// RoPE's frequency per rotated pair: base^(−2i / rope_dim).
    frequencies: Vec<f32>,
}

/// Scratch rows of one forward pass.
#[derive(Default)]
struct Buffers {
    normed: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    attended: Vec<f32>,
    projected: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
}

impl Model {
    /// The model in `content` (read from `reader`), with a cache of `context` positions, on the
    /// best kernels this CPU has.
    pub fn from_gguf<R: Read + Seek>(content: &Content, reader: &mut R, context: usize) -> Result<Self, LlmError> {
        Ok(Self::new(Weights::from_gguf(content, reader)?, context, Isa::detect()))
    }

    /// `weights` with a cache of `context` positions, on the kernels of `isa`.
    pub fn new(weights: Weights, context: usize, isa: Isa) -> Self {
        let c = &weights.config;
        // Zeroed allocations: the pages are only touched as positions are written.
        let cache = || (0..c.layers).map(|_| vec![0f32; context * c.kv_width()]).collect();
        let frequencies = (0..c.rope_dim)
            .step_by(2)
            .map(|i| 1.0 / c.rope_base.powf(i as f32 / c.rope_dim as f32))
            .collect();
        Self {
            isa,
            context,
            keys: cache(),
            values: cache(),
            frequencies,
            weights,
        }
    }

    /// The kernels it runs on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Feeds `tokens` at positions `position..`, overwriting the cache from there, and leaves
    /// in `logits` those of the token after the last.
    pub fn forward(&mut self, tokens: &[u32], position: usize, logits: &mut Vec<f32>) -> Result<(), LlmError> {
        // On one of rayon's threads, which then takes part in every parallel step of the pass
        // (called from elsewhere, each step would wake the pool and wait to be woken).
        rayon::scope(|_| self.run(tokens, position, logits))
    }

    /// [`Model::forward`], on the thread it is called from.
    fn run(&mut self, tokens: &[u32], position: usize, logits: &mut Vec<f32>) -> Result<(), LlmError> {
        let n = tokens.len();
        if n == 0 {
            return Ok(());
        }
        if position + n > self.context {
            return Err(LlmError::ContextFull(self.context));
        }
        let Model {
            weights,
            isa,
            keys,
            values,
            frequencies,
            ..
        } = self;
        let (isa, c) = (*isa, &weights.config);
        let (width, kv_width) = (c.embedding, c.kv_width());
        let mut x = vec![0f32; n * width];
        for (&token, row) in tokens.iter().zip(x.chunks_exact_mut(width)) {
            weights.embed(token, row)?;
        }
        let rope = Rope::new(frequencies, position, n);
        let mut b = Buffers {
            normed: vec![0f32; n * width],
            ..Buffers::default()
        };
        let cached = position * kv_width..(position + n) * kv_width;
        for ((layer, keys), values) in weights.layers.iter().zip(keys.iter_mut()).zip(values.iter_mut()) {
            rms_norm(&x, &layer.attn_norm, c.rms_eps, &mut b.normed);
            matmul(
                isa,
                &b.normed,
                n,
                &mut [(&layer.wq, &mut b.q), (&layer.wk, &mut b.k), (&layer.wv, &mut b.v)],
            )?;
            if let Some([bq, bk, bv]) = &layer.qkv_bias {
                add_to_rows(&mut b.q, bq);
                add_to_rows(&mut b.k, bk);
                add_to_rows(&mut b.v, bv);
            }
            rope.apply(&mut b.q, c.head_dim, c.rope);
            rope.apply(&mut b.k, c.head_dim, c.rope);
            keys[cached.clone()].copy_from_slice(&b.k);
            values[cached.clone()].copy_from_slice(&b.v);
            attention(isa, c, &b.q, keys, values, position, &mut b.attended);
            matmul(isa, &b.attended, n, &mut [(&layer.wo, &mut b.projected)])?;
            add(&mut x, &b.projected);

            rms_norm(&x, &layer.ffn_norm, c.rms_eps, &mut b.normed);
            matmul(
                isa,
                &b.normed,
                n,
                &mut [(&layer.gate, &mut b.gate), (&layer.up, &mut b.up)],
            )?;
            for (g, u) in b.gate.iter_mut().zip(&b.up) {
                *g = *g / (1.0 + (-*g).exp()) * u;
            }
            matmul(isa, &b.gate, n, &mut [(&layer.down, &mut b.projected)])?;
            add(&mut x, &b.projected);
        }
        let last = &x[(n - 1) * width..];
        let mut normed = vec![0f32; width];
        rms_norm(last, &weights.output_norm, c.rms_eps, &mut normed);
        matmul(isa, &normed, 1, &mut [(weights.output(), logits)])
    }
}

/// `x += y`.
fn add(x: &mut [f32], y: &[f32]) {
    for (x, y) in x.iter_mut().zip(y) {
        *x += y;
    }
}

/// `bias` added to each row of `x` (rows as long as `bias`).
fn add_to_rows(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        add(row, bias);
    }
}

/// Each row of `x` (as long as `scale`) divided by its root mean square, times `scale`.
fn rms_norm(x: &[f32], scale: &[f32], eps: f32, out: &mut [f32]) {
    let width = scale.len();
    for (x, out) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
        let sum2: f32 = x.iter().map(|v| v * v).sum();
        let rms = (sum2 / width as f32 + eps).sqrt();
        for ((out, x), s) in out.iter_mut().zip(x).zip(scale) {
            *out = x / rms * s;
        }
    }
}

/// The rotations of a run of positions: per position and rotated pair, cos and sin.
struct Rope {
    positions: usize,
    pairs: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    fn new(frequencies: &[f32], position: usize, n: usize) -> Self {
        let angles = || (position..position + n).flat_map(|p| frequencies.iter().map(move |f| p as f32 * f));
        Self {
            positions: n,
            pairs: frequencies.len(),
            cos: angles().map(f32::cos).collect(),
            sin: angles().map(f32::sin).collect(),
        }
    }

    /// Rotates the leading `2 × pairs` values of each `head_dim` head in `x` (a row of heads
    /// per position), turning together the values `form` pairs.
    fn apply(&self, x: &mut [f32], head_dim: usize, form: RopeForm) {
        if self.pairs == 0 || self.positions == 0 {
            return;
        }
        let turn = |a: &mut f32, b: &mut f32, c: f32, s: f32| {
            (*a, *b) = (*a * c - *b * s, *a * s + *b * c);
        };
        let rows = x.chunks_exact_mut(x.len() / self.positions);
        for ((row, cos), sin) in rows
            .zip(self.cos.chunks_exact(self.pairs))
            .zip(self.sin.chunks_exact(self.pairs))
        {
            for head in row.chunks_exact_mut(head_dim) {
                match form {
                    RopeForm::Interleaved => {
                        let (pairs, _) = head.as_chunks_mut::<2>();
                        for (([a, b], c), s) in pairs.iter_mut().zip(cos).zip(sin) {
                            turn(a, b, *c, *s);
                        }
                    }
                    RopeForm::Halves => {
                        let (first, second) = head[..2 * self.pairs].split_at_mut(self.pairs);
                        for (((a, b), c), s) in first.iter_mut().zip(second).zip(cos).zip(sin) {
                            turn(a, b, *c, *s);
                        }
                    }
                }
            }
        }
    }
}

/// Causal attention of the queries `q` (a row of heads per position from `position` on) over
/// the cached `keys` and `values` up to each query's own position, into `out`.
fn attention(isa: Isa, c: &Config, q: &[f32], keys: &[f32], values: &[f32], position: usize, out: &mut Vec<f32>) {
    let (hd, heads, kv_width) = (c.head_dim, c.heads, c.kv_width());
    let group = c.heads / c.kv_heads;
    let n = q.len() / (heads * hd);
    out.clear();
    out.resize(q.len(), 0.0);
    let scale = 1.0 / (hd as f32).sqrt();
    // One query head of one position: `i` = position × heads + head.
    let one = |scores: &mut Vec<f32>, (i, out): (usize, &mut [f32])| {
        let (t, head) = (i / heads, i % heads);
        let offset = head / group * hd;
        let query = &q[i * hd..(i + 1) * hd];
        let seen = position + t + 1;
        scores.clear();
        scores.extend((0..seen).map(|j| isa.dot(query, &keys[j * kv_width + offset..][..hd]) * scale));
        let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
        let mut sum = 0.0;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        for (j, &s) in scores.iter().enumerate() {
            isa.axpy(s / sum, &values[j * kv_width + offset..][..hd], out);
        }
    };
    if n * heads * (position + n) * hd < PARALLEL_ATTENTION {
        let mut scores = Vec::new();
        out.chunks_exact_mut(hd)
            .enumerate()
            .for_each(|item| one(&mut scores, item));
    } else {
        out.par_chunks_exact_mut(hd).enumerate().for_each_init(Vec::new, one);
    }
}
