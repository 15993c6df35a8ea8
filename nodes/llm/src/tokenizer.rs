//! The tokenizer of a GGUF file, built from its metadata (`tokenizer.ggml.*`): no
//! `tokenizer.json` ships beside the weights.
//!
//! Byte-level BPE (`tokenizer.ggml.model = "gpt2"`: SmolLM2, Llama 3, Qwen 2) is built as a
//! `tokenizers` BPE with the pre-tokenizer llama.cpp uses for the file's `tokenizer.ggml.pre`.
//! Besides the tokenizer, it keeps the raw bytes of every token, which constrained decoding
//! needs to know what each token would write.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use serde_json::json;
use tokenizers::Tokenizer;

use super::LlmError;

/// GGUF `token_type` of control tokens (`<|im_start|>`, `<|endoftext|>`).
const CONTROL: i32 = 3;
/// GGUF `token_type` of user-defined tokens, matched whole like control tokens.
const USER_DEFINED: i32 = 4;
/// GGUF `token_type` of unused entries (Qwen's `[PAD151665]`…: the vocabulary padded to the
/// embedding table's rows), which no text holds and the model must never write.
const UNUSED: i32 = 5;

/// The GPT-2 split pattern, the default of byte-level BPE.
const GPT2_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
/// Llama 3's split pattern (`llama-bpe`).
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen 2's split pattern.
const QWEN2_PATTERN: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// What a token can stand for inside generated JSON (bit flags; see [`GgufTokenizer::class`]).
pub mod class {
    /// Text that can sit inside a JSON string as is: valid UTF-8, no quote, backslash or
    /// control character.
    pub const TEXT: u8 = 1;
    /// Starts with `"`: the model wants to close a string.
    pub const QUOTE: u8 = 2;
    /// Starts with `,` (after optional spaces): the model wants another item.
    pub const COMMA: u8 = 4;
    /// Starts with `]` (after optional spaces): the model wants to close a list.
    pub const CLOSE: u8 = 8;
    /// Starts with `{`.
    pub const BRACE: u8 = 16;
}

/// The classes of a token's bytes.
fn classify(piece: &[u8]) -> u8 {
    let mut flags = 0;
    if let Ok(text) = std::str::from_utf8(piece)
        && !text.is_empty()
        && !text.chars().any(|c| c == '"' || c == '\\' || c.is_control())
    {
        flags |= class::TEXT;
    }
    match piece.first() {
        Some(b'"') => flags |= class::QUOTE,
        Some(b'{') => flags |= class::BRACE,
        _ => {}
    }
    match piece.iter().find(|&&b| b != b' ') {
        Some(b',') => flags |= class::COMMA,
        Some(b']') => flags |= class::CLOSE,
        _ => {}
    }
    flags
}

/// A GGUF file's tokenizer and what each of its tokens writes.
pub struct GgufTokenizer {
    tokenizer: Tokenizer,
    /// The bytes each token writes; empty for control tokens.
    pieces: Vec<Vec<u8>>,
    /// Control, user-defined and unused tokens, which never appear inside generated text.
    special: Vec<bool>,
    /// Each token's [`class`] flags.
    classes: Vec<u8>,
    /// The tokens that end a turn: the file's EOS and the chat template's end-of-turn.
    stops: Vec<u32>,
}

impl std::fmt::Debug for GgufTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufTokenizer")
            .field("vocabulary", &self.pieces.len())
            .field("stops", &self.stops)
            .finish()
    }
}

fn meta<'a>(metadata: &'a HashMap<String, Value>, key: &str) -> Result<&'a Value, LlmError> {
    metadata
        .get(key)
        .ok_or_else(|| LlmError::Format(format!("the GGUF metadata has no `{key}`")))
}

fn strings(value: &Value, key: &str) -> Result<Vec<String>, LlmError> {
    let bad = |e: candle_core::Error| LlmError::Format(format!("`{key}`: {e}"));
    value
        .to_vec()
        .map_err(bad)?
        .iter()
        .map(|v| v.to_string().cloned().map_err(bad))
        .collect()
}

/// GPT-2's byte ↔ character map: printable bytes stand for themselves, the others are shifted
/// above U+0100.
fn byte_of_char() -> HashMap<char, u8> {
    let mut map = HashMap::with_capacity(256);
    let mut shifted = 0u32;
    for byte in 0..=255u8 {
        let printable = matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let c = if printable {
            char::from(byte)
        } else {
            shifted += 1;
            char::from_u32(255 + shifted).unwrap_or(char::REPLACEMENT_CHARACTER)
        };
        map.insert(c, byte);
    }
    map
}

/// The pre-tokenizer llama.cpp uses for a `tokenizer.ggml.pre` name.
fn pre_tokenizer(pre: &str) -> serde_json::Value {
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    let split = |pattern: &str| json!({"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false});
    match pre {
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva" => json!({
            "type": "Sequence",
            "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level(true)]
        }),
        "llama-bpe" | "llama3" => {
            json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_PATTERN), byte_level(false)]})
        }
        "qwen2" => json!({"type": "Sequence", "pretokenizers": [split(QWEN2_PATTERN), byte_level(false)]}),
        other => {
            if other != "gpt2" && other != "default" {
                tracing::warn!(pre = other, "unknown GGUF pre-tokenizer: splitting as GPT-2 does");
            }
            json!({"type": "Sequence", "pretokenizers": [split(GPT2_PATTERN), byte_level(false)]})
        }
    }
}

impl GgufTokenizer {
    /// The tokenizer described by a GGUF file's metadata.
    pub fn from_metadata(metadata: &HashMap<String, Value>) -> Result<Self, LlmError> {
        let model = meta(metadata, "tokenizer.ggml.model")?
            .to_string()
            .map_err(|e| LlmError::Format(e.to_string()))?;
        if model != "gpt2" {
            return Err(LlmError::Unsupported(format!(
                "tokenizer model `{model}`: only byte-level BPE (`gpt2`: SmolLM2, Llama 3, Qwen 2) is supported"
            )));
        }
        let tokens = strings(meta(metadata, "tokenizer.ggml.tokens")?, "tokenizer.ggml.tokens")?;
        let merges = strings(meta(metadata, "tokenizer.ggml.merges")?, "tokenizer.ggml.merges")?;
        let types: Vec<i32> = match metadata.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(|e| LlmError::Format(e.to_string()))?
                .iter()
                .map(|t| t.to_i32().unwrap_or(1))
                .collect(),
            None => vec![1; tokens.len()],
        };
        let pre = metadata
            .get("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok())
            .map_or("default", String::as_str);
        let id = |key: &str| metadata.get(key).and_then(|v| v.to_u32().ok());

        // Control and user-defined tokens are matched whole in a prompt; none of these three
        // kinds is ever written as text.
        let whole: Vec<bool> = (0..tokens.len())
            .map(|i| matches!(types.get(i), Some(&CONTROL) | Some(&USER_DEFINED)))
            .collect();
        let special: Vec<bool> = (0..tokens.len())
            .map(|i| whole[i] || types.get(i) == Some(&UNUSED))
            .collect();
        let vocab: serde_json::Map<String, serde_json::Value> =
            tokens.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect();
        let added: Vec<serde_json::Value> = tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| whole[*i])
            .map(|(i, t)| {
                json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                       "normalized": false, "special": true})
            })
            .collect();
        let merges: Vec<serde_json::Value> = merges
            .iter()
            .map(|m| {
                let (a, b) = m.split_once(' ').unwrap_or((m.as_str(), ""));
                json!([a, b])
            })
            .collect();
        let spec = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tokenizer(pre),
            "post_processor": null,
            "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                      "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                      "ignore_merges": false, "vocab": vocab, "merges": merges}
        });
        let tokenizer = Tokenizer::from_bytes(spec.to_string().as_bytes())
            .map_err(|e| LlmError::Format(format!("building the tokenizer from the GGUF metadata: {e}")))?;

        let bytes = byte_of_char();
        let pieces = tokens
            .iter()
            .zip(&special)
            .map(|(t, &special)| {
                if special {
                    Vec::new()
                } else {
                    t.chars().filter_map(|c| bytes.get(&c).copied()).collect()
                }
            })
            .collect::<Vec<Vec<u8>>>();
        let classes = pieces.iter().map(|p| classify(p)).collect();
        let mut stops: Vec<u32> = id("tokenizer.ggml.eos_token_id").into_iter().collect();
        for end in ["<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>"] {
            if let Some(i) = tokens.iter().position(|t| t == end) {
                let i = i as u32;
                if !stops.contains(&i) {
                    stops.push(i);
                }
            }
        }
        Ok(Self {
            tokenizer,
            pieces,
            special,
            classes,
            stops,
        })
    }

    /// The tokens of `text`; control tokens written in it (`<|im_start|>`) are recognised.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| LlmError::Tokenizer(e.to_string()))
    }

    /// The text of `tokens`, control tokens left out.
    pub fn decode(&self, tokens: &[u32]) -> String {
        let bytes: Vec<u8> = tokens.iter().flat_map(|&t| self.piece(t).iter().copied()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The bytes token `id` writes (empty for control tokens and ids outside the vocabulary).
    pub fn piece(&self, id: u32) -> &[u8] {
        self.pieces.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// Token `id`'s [`class`] flags (none for control tokens).
    pub fn class(&self, id: u32) -> u8 {
        self.classes.get(id as usize).copied().unwrap_or(0)
    }

    /// True for control, user-defined and unused tokens.
    pub fn is_special(&self, id: u32) -> bool {
        self.special.get(id as usize).copied().unwrap_or(true)
    }

    /// The vocabulary's size.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    /// True for an empty vocabulary (never, for a loaded model).
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The tokens that end generation.
    pub fn stops(&self) -> &[u32] {
        &self.stops
    }
}
