"""The Python side of benches/embeddings.rs: the same MiniLM work on Python onnxruntime.

Reads one JSON line {"model_dir", "sentences", "batches"} on stdin, loads the model and warms up,
prints {"ready": true, "onnxruntime": version}; then, for every further line `round`, embeds the
sentences `batches` times and prints {"embeddings_per_s": rate}; `quit` ends it. Per batch it
tokenizes the sentences (batch-longest padding, truncation 256), runs the graph, mean-pools over
the attention mask and L2-normalises, exactly as the Rust embedder does. The Rust side alternates
its rounds with these, so a machine whose load changes slows both alike.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime
import tokenizers


def main() -> None:
    job = json.loads(sys.stdin.readline())
    model_dir = Path(job["model_dir"])
    sentences = job["sentences"]
    tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")
    tokenizer.enable_truncation(max_length=256)
    session = onnxruntime.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])

    def embed(texts):
        encodings = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (hidden,) = session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    for _ in range(3):
        embed(sentences)
    print(json.dumps({"ready": True, "onnxruntime": onnxruntime.__version__}), flush=True)
    for line in sys.stdin:
        if line.strip() != "round":
            break
        started = time.perf_counter()
        for _ in range(job["batches"]):
            embed(sentences)
        rate = len(sentences) * job["batches"] / (time.perf_counter() - started)
        print(json.dumps({"embeddings_per_s": rate}), flush=True)


if __name__ == "__main__":
    main()
