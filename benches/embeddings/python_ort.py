"""The Python side of benches/embeddings.rs: the same MiniLM work on Python onnxruntime.

Reads {"model_dir", "sentences", "rounds", "batches"} as JSON on stdin; per batch it tokenizes
the sentences (batch-longest padding, truncation 256), runs the graph, mean-pools over the
attention mask and L2-normalises, exactly as the Rust embedder does. Prints
{"embeddings_per_s": the median round, "rounds": [...]} as JSON.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime
import tokenizers


def main() -> None:
    job = json.load(sys.stdin)
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
    rates = []
    for _ in range(job["rounds"]):
        started = time.perf_counter()
        for _ in range(job["batches"]):
            embed(sentences)
        rates.append(len(sentences) * job["batches"] / (time.perf_counter() - started))
    json.dump({"embeddings_per_s": float(np.median(rates)), "rounds": rates, "onnxruntime": onnxruntime.__version__}, sys.stdout)


if __name__ == "__main__":
    main()
