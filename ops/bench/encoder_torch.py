#!/usr/bin/env python3
"""PyTorch side of ops/bench/encoder: the same texts, the same measurements, 2 threads.

Batches are tokenised and padded to their own longest sequence (transformers' padding=True), in
data order; a length-sorted pass is reported too (what sentence-transformers' encode() does).
Prints one JSON object."""
import json, os, resource, statistics, sys, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers import AutoModel, AutoTokenizer

data_spec, model_dir = sys.argv[1], sys.argv[2]
threads = int(os.environ.get("BENCH_THREADS", "2"))
repeats = int(os.environ.get("BENCH_REPEATS", "3"))
latency_count = int(os.environ.get("BENCH_LATENCY_COUNT", "1000"))
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


def run(order, size):
    t0 = time.perf_counter()
    for i in range(0, len(order), size):
        embed(order[i:i + size])
    return time.perf_counter() - t0


with torch.inference_mode():
    embed(texts[:256])
    throughput, sorted_throughput = {}, {}
    by_length = sorted(texts, key=lambda t: len(tok(t)["input_ids"]))
    for size in (32, 64):
        secs = statistics.median(run(texts, size) for _ in range(repeats))
        throughput[str(size)] = {"utterances_per_s": len(texts) / secs, "seconds": secs}
        secs = statistics.median(run(by_length, size) for _ in range(repeats))
        sorted_throughput[str(size)] = {"utterances_per_s": len(texts) / secs, "seconds": secs}
    lat = []
    for t in texts[:latency_count]:
        t0 = time.perf_counter()
        embed([t])
        lat.append((time.perf_counter() - t0) * 1000)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]
print(json.dumps({
    "implementation": f"PyTorch {torch.__version__} + transformers (AutoModel, mean pooling)",
    "threads": torch.get_num_threads(), "utterances": len(texts), "throughput": throughput,
    "throughput_length_sorted": sorted_throughput,
    "latency_ms": {"p50": q(50), "p90": q(90), "p99": q(99), "count": len(lat)},
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}, indent=1))
