//! Our forward pass against candle-transformers' on small random GGUFs written here: a qwen2
//! file against `quantized_qwen2` (biases on the queries, keys and values; RoPE on the halves of
//! each head) and the same weights as a llama file against `quantized_llama` (no biases; RoPE on
//! interleaved pairs). The tensors are F32, so both sides multiply the same floats and the
//! logits agree to float precision: a bias left out or a RoPE of the other form moves them by
//! far more.

use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use super::Model;

const VOCAB: usize = 40;
const WIDTH: usize = 32;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const FFN: usize = 48;
const LAYERS: usize = 2;
const CONTEXT: usize = 64;

/// `n` smooth pseudo-random values around `centre`, `scale` wide, different for each `seed`.
fn values(n: usize, seed: f32, centre: f32, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| centre + scale * ((i as f32 * 0.618 + seed * 7.3).sin() + (i as f32 * 0.071 + seed).cos()) * 0.5)
        .collect()
}

/// An F32 tensor of `dims` (candle's order: rows, then columns).
fn tensor(dims: &[usize], seed: f32, centre: f32, scale: f32) -> QTensor {
    let n = dims.iter().product();
    let t = Tensor::from_vec(values(n, seed, centre, scale), dims, &Device::Cpu).expect("tensor");
    QTensor::quantize(&t, GgmlDType::F32).expect("F32")
}

/// A random model of `architecture` (`llama` or `qwen2`, which also gets attention biases),
/// written as a GGUF file into `dir`.
fn write_gguf(dir: &std::path::Path, architecture: &str) -> std::path::PathBuf {
    let kv = WIDTH / HEADS * KV_HEADS;
    let mut tensors: Vec<(String, QTensor)> = vec![
        ("token_embd.weight".into(), tensor(&[VOCAB, WIDTH], 1.0, 0.0, 1.0)),
        ("output_norm.weight".into(), tensor(&[WIDTH], 2.0, 1.0, 0.2)),
        ("output.weight".into(), tensor(&[VOCAB, WIDTH], 3.0, 0.0, 0.4)),
    ];
    for l in 0..LAYERS {
        let seed = 10.0 * (l + 1) as f32;
        let mut add = |part: &str, dims: &[usize], offset: f32, centre: f32, scale: f32| {
            tensors.push((format!("blk.{l}.{part}"), tensor(dims, seed + offset, centre, scale)));
        };
        add("attn_norm.weight", &[WIDTH], 0.1, 1.0, 0.2);
        add("attn_q.weight", &[WIDTH, WIDTH], 0.2, 0.0, 0.5);
        add("attn_k.weight", &[kv, WIDTH], 0.3, 0.0, 0.5);
        add("attn_v.weight", &[kv, WIDTH], 0.4, 0.0, 0.5);
        add("attn_output.weight", &[WIDTH, WIDTH], 0.5, 0.0, 0.3);
        add("ffn_norm.weight", &[WIDTH], 0.6, 1.0, 0.2);
        add("ffn_gate.weight", &[FFN, WIDTH], 0.7, 0.0, 0.4);
        add("ffn_up.weight", &[FFN, WIDTH], 0.8, 0.0, 0.4);
        add("ffn_down.weight", &[WIDTH, FFN], 0.9, 0.0, 0.3);
        if architecture == "qwen2" {
            add("attn_q.bias", &[WIDTH], 1.1, 0.0, 1.0);
            add("attn_k.bias", &[kv], 1.2, 0.0, 1.0);
            add("attn_v.bias", &[kv], 1.3, 0.0, 1.0);
        }
    }
    let key = |k: &str| format!("{architecture}.{k}");
    let metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(architecture.into())),
        (key("context_length"), Value::U32(CONTEXT as u32)),
        (key("embedding_length"), Value::U32(WIDTH as u32)),
        (key("feed_forward_length"), Value::U32(FFN as u32)),
        (key("block_count"), Value::U32(LAYERS as u32)),
        (key("attention.head_count"), Value::U32(HEADS as u32)),
        (key("attention.head_count_kv"), Value::U32(KV_HEADS as u32)),
        (key("rope.dimension_count"), Value::U32((WIDTH / HEADS) as u32)),
        (key("rope.freq_base"), Value::F32(10_000.0)),
        (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-6)),
    ];
    let path = dir.join(format!("{architecture}.gguf"));
    let mut out = std::fs::File::create(&path).expect("create");
    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    gguf_file::write(&mut out, &metadata, &tensors).expect("write the GGUF");
    path
}

fn read(path: &std::path::Path) -> (std::fs::File, Content) {
    let mut file = std::fs::File::open(path).expect("open");
    let content = Content::read(&mut file).expect("read the GGUF");
    (file, content)
}

/// Ours against candle's on the file at `path`: a prompt of 7 tokens in one pass, then 5 tokens
/// one at a time through the KV cache; the largest difference of the logits, relative to their
/// span.
fn worst_difference(path: &std::path::Path, mut candle: impl FnMut(&[u32], usize) -> Vec<f32>) -> f32 {
    let (mut file, content) = read(path);
    let mut ours = Model::from_gguf(&content, &mut file, CONTEXT).expect("our model");
    let steps: [&[u32]; 6] = [&[3, 17, 5, 29, 11, 2, 38], &[7], &[21], &[1], &[33], &[14]];
    let (mut position, mut worst, mut logits) = (0, 0f32, Vec::new());
    for tokens in steps {
        ours.forward(tokens, position, &mut logits).expect("our forward pass");
        let theirs = candle(tokens, position);
        assert_eq!(logits.len(), VOCAB);
        let (lo, hi) = theirs
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let difference = logits
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        worst = worst.max(difference / (hi - lo));
        position += tokens.len();
    }
    worst
}

/// candle's logits for `tokens` at `position` through `forward`.
fn logits(
    forward: impl FnOnce(&Tensor, usize) -> candle_core::Result<Tensor>,
    tokens: &[u32],
    position: usize,
) -> Vec<f32> {
    Tensor::new(tokens, &Device::Cpu)
        .and_then(|t| t.unsqueeze(0))
        .and_then(|t| forward(&t, position))
        .and_then(|t| t.squeeze(0))
        .and_then(|t| t.to_vec1())
        .expect("candle's forward pass")
}

#[test]
fn a_qwen2_file_agrees_with_candles_quantized_qwen2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_gguf(dir.path(), "qwen2");
    let (mut file, content) = read(&path);
    let mut theirs = quantized_qwen2::ModelWeights::from_gguf(content, &mut file, &Device::Cpu).expect("candle");
    let worst = worst_difference(&path, |tokens, position| {
        logits(|t, p| theirs.forward(t, p), tokens, position)
    });
    assert!(worst < 1e-4, "logits differ by {worst} of their span");
}

#[test]
fn a_llama_file_agrees_with_candles_quantized_llama() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_gguf(dir.path(), "llama");
    let (mut file, content) = read(&path);
    let mut theirs = quantized_llama::ModelWeights::from_gguf(content, &mut file, &Device::Cpu).expect("candle");
    let worst = worst_difference(&path, |tokens, position| {
        logits(|t, p| theirs.forward(t, p), tokens, position)
    });
    assert!(worst < 1e-4, "logits differ by {worst} of their span");
}
