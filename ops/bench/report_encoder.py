#!/usr/bin/env python3
"""Combines the sides of ops/bench/encoder into results/encoder.json and encoder.md.

Usage: report_encoder.py WORK_DIR OUT_DIR, where WORK_DIR holds swift-fp32.json, swift-int8.json,
torch.json, onnx-fp32.json, onnx-int8.json and the embeddings each int8/fp32 pair wrote."""
import datetime, json, os, platform, subprocess, sys
from pathlib import Path

import numpy as np

work, out = Path(sys.argv[1]), Path(sys.argv[2])
runs = {name: json.load(open(work / f"{name}.json")) for name in ("swift-fp32", "swift-int8", "torch", "onnx-fp32", "onnx-int8")}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
isa = "AVX-512 VNNI" if "avx512_vnni" in flags else "AVX-VNNI" if "avx_vnni" in flags else "AVX-512" if "avx512bw" in flags else "AVX2" if "avx2" in flags else "no AVX2"
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()


def tput(run, size, order="data"):
    key = "throughput" if order == "data" else "throughput_length_sorted"
    return run[key][size]["utterances_per_s"]


def cosines(a, b):
    n = min(len(a), len(b))  # the same first utterances (earlier ONNX runs saved 1,024)
    a, b = a[:n], b[:n]
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    c = (a * b).sum(1)
    return {"mean": float(c.mean()), "min": float(c.min()), "count": int(len(c))}


dim = 384
swift_fp32 = np.fromfile(work / "swift-fp32.f32", dtype="<f4").reshape(-1, dim)
swift_int8 = np.fromfile(work / "swift-int8.f32", dtype="<f4").reshape(-1, dim)
onnx_fp32, onnx_int8 = np.load(work / "embeddings-fp32.npy"), np.load(work / "embeddings-int8.npy")
cos = {"intentloop_int8_vs_fp32": cosines(swift_int8, swift_fp32), "onnx_int8_vs_fp32": cosines(onnx_int8, onnx_fp32),
       "intentloop_fp32_vs_onnx_fp32": cosines(swift_fp32, onnx_fp32)}

one = {p: json.load(open(work / f"swift-{p}-t1.json")) for p in ("int8", "fp32")}
flat = {p: {"batch1_cpu_ms": r["latency_ms"]["cpu_ms_per_utterance"], "batch64_cpu_ms": r["throughput"]["64"]["cpu_ms_per_utterance"],
            "ratio": r["latency_ms"]["cpu_ms_per_utterance"] / r["throughput"]["64"]["cpu_ms_per_utterance"],
            "batch1_p50_ms": r["latency_ms"]["p50"]} for p, r in one.items()}
si, oi = runs["swift-int8"], runs["onnx-int8"]
ratio_int8 = {"32": tput(si, "32") / tput(oi, "32"), "64": tput(si, "64") / tput(oi, "64"),
              "32_sorted": tput(si, "32", "sorted") / tput(oi, "32", "sorted"),
              "64_sorted": tput(si, "64", "sorted") / tput(oi, "64", "sorted")}
checks = {
    "int8_batch32_at_least_1.2x_onnx_int8": ratio_int8["32"] >= 1.2,
    "int8_sorted64_at_least_1.2x_onnx_int8": ratio_int8["64_sorted"] >= 1.2,
    "int8_batch1_p50_at_most_1.7ms": si["latency_ms"]["p50"] <= 1.7,
    "int8_lone_utterance_cpu_at_most_1.3x_its_batch64_share": flat["int8"]["ratio"] <= 1.3,
    "fp32_batch32_at_least_1.5x_pytorch": tput(runs["swift-fp32"], "32") / tput(runs["torch"], "32") >= 1.5,
}
when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
result = {"date": when, "cpu": cpu, "isa": isa, "cores": cores, "command": "ops/bench/encoder", "runs": runs,
          "int8_throughput_ratio_vs_onnx_int8": ratio_int8, "one_thread": one, "flat_cost": flat, "embedding_cosine": cos, "targets": checks}
(out / "encoder.json").write_text(json.dumps(result, indent=1) + "\n")

order = [("swift-int8", "IntentLoop int8"), ("swift-fp32", "IntentLoop fp32"), ("onnx-int8", "ONNX Runtime int8"),
         ("onnx-fp32", "ONNX Runtime fp32"), ("torch", "PyTorch fp32")]
rows = []
for key, label in order:
    r = runs[key]
    rows.append(f"| {label} | {r['latency_ms']['p50']:.2f} | {r['latency_ms']['p99']:.2f} | {tput(r, '32'):.0f} | {tput(r, '64'):.0f} "
                f"| {tput(r, '32', 'sorted'):.0f} | {tput(r, '64', 'sorted'):.0f} | {r['peak_rss_mib']:.0f} |")
s = runs["swift-int8"]
md = f"""# Encoder benchmark

Command: `ops/bench/encoder` — {when}, {cpu} ({isa}), {cores} cores. Every engine uses 2 threads,
the same model (all-MiniLM-L6-v2, mean pooling) and the same {s['utterances']} CLINC150 test
utterances (mean {s['mean_tokens']:.1f} tokens with [CLS]/[SEP]); tokenisation is included in every
timing. One run, engines one after another.

| engine | batch-1 p50 (ms) | batch-1 p99 (ms) | batch 32, data order (utt/s) | batch 64, data order | batch 32, length-sorted | batch 64, length-sorted | peak RSS (MiB) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

IntentLoop int8 / ONNX Runtime int8 throughput: batch 32 **{ratio_int8['32']:.2f}x**, batch 64 {ratio_int8['64']:.2f}x,
length-sorted 32 {ratio_int8['32_sorted']:.2f}x, length-sorted 64 **{ratio_int8['64_sorted']:.2f}x**.

Embedding cosine to the same engine's fp32 (first {cos['intentloop_int8_vs_fp32']['count']} utterances, mean-pooled):
IntentLoop int8 mean {cos['intentloop_int8_vs_fp32']['mean']:.5f} (min {cos['intentloop_int8_vs_fp32']['min']:.5f});
ONNX Runtime int8 mean {cos['onnx_int8_vs_fp32']['mean']:.5f} (min {cos['onnx_int8_vs_fp32']['min']:.5f}).
IntentLoop fp32 against ONNX Runtime fp32: mean {cos['intentloop_fp32_vs_onnx_fp32']['mean']:.6f}.

Per-utterance CPU on one thread (`--threads 1`, as each server inference worker runs): a lone
utterance against its share of a batch of 64.

| precision | batch 1: CPU ms per utterance | batch 64: CPU ms per utterance | ratio | batch-1 p50 (ms) |
| --- | ---: | ---: | ---: | ---: |
| int8 | {flat['int8']['batch1_cpu_ms']:.2f} | {flat['int8']['batch64_cpu_ms']:.2f} | {flat['int8']['ratio']:.2f}x | {flat['int8']['batch1_p50_ms']:.2f} |
| fp32 | {flat['fp32']['batch1_cpu_ms']:.2f} | {flat['fp32']['batch64_cpu_ms']:.2f} | {flat['fp32']['ratio']:.2f}x | {flat['fp32']['batch1_p50_ms']:.2f} |

Targets (issue 13, and issue 2's fp32 target): {', '.join(f"{k}: {'met' if v else 'NOT met'}" for k, v in checks.items())}.

- IntentLoop int8: {s['implementation']}. fp32: {runs['swift-fp32']['implementation']}; {runs['swift-fp32']['blas']}.
- {runs['onnx-int8']['implementation']}; {runs['onnx-fp32']['implementation']}; {runs['torch']['implementation']}.
- Batches: IntentLoop packs each batch without padding (every activation block holds only real
  tokens); PyTorch and ONNX Runtime pad each batch to its longest sequence (hence their gain
  from length-sorting). Latency: the first {s['latency_ms']['count']} utterances one at a time.
"""
(out / "encoder.md").write_text(md)
