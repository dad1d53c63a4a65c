#!/usr/bin/env python3
"""PyTorch side of ops/bench/encoder: the same texts, the same measurements, 2 threads.

Batches are tokenised and padded to their own longest sequence (transformers' padding=True), in
data order; a length-sorted pass is reported too (what sentence-transformers' encode() does).
Prints one JSON object."""
import json, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers import AutoModel, AutoTokenizer
from encoder_timing import measure

data_spec, model_dir = sys.argv[1], sys.argv[2]
threads = int(os.environ.get("BENCH_THREADS", "2"))
torch.set_num_threads(threads)
path, split = data_spec.split("#")
texts = [t for t, _ in json.load(open(path))[split]]
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModel.from_pretrained(model_dir).eval()


def embed(batch):
    enc = tok(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")
    hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1)


with torch.inference_mode():
    result = measure(embed, texts, lambda t: len(tok(t)["input_ids"]))
print(json.dumps({
    "implementation": f"PyTorch {torch.__version__} + transformers (AutoModel, mean pooling)",
    "threads": torch.get_num_threads(), **result,
}, indent=1))
