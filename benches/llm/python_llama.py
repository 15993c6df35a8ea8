"""The Python side of benches/llm.rs: the same greedy generation on llama-cpp-python (llama.cpp).

Reads one JSON line {"model", "prompt", "tokens", "ban", "threads", "context"} on stdin: the
GGUF's path, the prompt text (the chat template already applied by the Rust side), how many
tokens to generate, the token ids to ban (end of turn, so that exactly `tokens` come out), the
thread count and the context size. It loads the model, runs one warm-up round and prints
{"ready": true, "llama_cpp_python": version, "system_info": ..., "prompt_tokens": [...],
"first_tokens": [...]}; then, for every further line `round`, it runs one generation and prints
{"prompt_s", "decode_s", "prompt_tokens"}; `quit` ends it.

A round: tokenize the prompt (special tokens recognised, no BOS added: the template writes
what the model needs), evaluate it, then `tokens` times pick the best token that is not banned
(`Llama.sample` at temperature 0, greedy, with a logits processor that sets the banned
logits to -inf) and evaluate it, the last one excepted: `tokens` picks and `tokens - 1`
single-token evaluations, exactly as the Rust side does. `prompt_s` covers tokenizing and
evaluating the prompt, `decode_s` everything after it.
"""

import json
import sys
import time

import numpy as np
import llama_cpp
from llama_cpp import Llama, LogitsProcessorList


def main() -> None:
    job = json.loads(sys.stdin.readline())
    llm = Llama(
        model_path=job["model"],
        n_ctx=job["context"],
        n_threads=job["threads"],
        n_threads_batch=job["threads"],
        n_gpu_layers=0,
        seed=1,
        verbose=False,
    )
    banned = sorted(set(job["ban"]) | {llm.token_eos()})

    def ban(_input_ids, logits):
        logits[banned] = -np.inf
        return logits

    processors = LogitsProcessorList([ban])
    prompt = job["prompt"].encode("utf-8")

    def generate():
        started = time.perf_counter()
        llm.reset()
        prompt_tokens = llm.tokenize(prompt, add_bos=False, special=True)
        llm.eval(prompt_tokens)
        prefilled = time.perf_counter()
        out = []
        while True:
            token = llm.sample(temp=0.0, repeat_penalty=1.0, logits_processor=processors)
            out.append(int(token))
            if len(out) == job["tokens"]:
                break
            llm.eval([token])
        finished = time.perf_counter()
        if any(t in banned for t in out):
            raise SystemExit("llama.cpp produced a banned token: the logits processor did not apply")
        return prompt_tokens, out, prefilled - started, finished - prefilled

    prompt_tokens, first, _, _ = generate()
    print(
        json.dumps(
            {
                "ready": True,
                "llama_cpp_python": llama_cpp.__version__,
                "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
                "prompt_tokens": prompt_tokens,
                "first_tokens": first,
            }
        ),
        flush=True,
    )
    for line in sys.stdin:
        if line.strip() != "round":
            break
        prompt_tokens, _, prompt_s, decode_s = generate()
        print(
            json.dumps({"prompt_s": prompt_s, "decode_s": decode_s, "prompt_tokens": len(prompt_tokens)}),
            flush=True,
        )


if __name__ == "__main__":
    main()
