#!/usr/bin/env python3
"""Combines the two sides of ops/bench/encoder into results/encoder.json and encoder.md."""
import datetime, json, platform, subprocess, sys
from pathlib import Path

swift, torch, out = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), Path(sys.argv[3])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
ratio = {k: swift["throughput"][k]["utterances_per_s"] / torch["throughput"][k]["utterances_per_s"] for k in ("32", "64")}
ratio_sorted = {k: swift["throughput"][k]["utterances_per_s"] / torch["throughput_length_sorted"][k]["utterances_per_s"] for k in ("32", "64")}
checks = {
    "throughput_32_at_least_1.5x": ratio["32"] >= 1.5,
    "throughput_64_at_least_1.5x": ratio["64"] >= 1.5,
    "latency_p50_at_most_6ms": swift["latency_ms"]["p50"] <= 6.0,
    "latency_p50_at_most_pytorch": swift["latency_ms"]["p50"] <= torch["latency_ms"]["p50"],
}
when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
result = {"date": when, "cpu": cpu, "cores": cores, "command": "ops/bench/encoder", "swift": swift, "pytorch": torch,
          "throughput_ratio": ratio, "throughput_ratio_vs_length_sorted_pytorch": ratio_sorted, "targets": checks}
(out / "encoder.json").write_text(json.dumps(result, indent=1) + "\n")
s, t = swift, torch
md = f"""# Encoder benchmark

Command: `ops/bench/encoder` — {when}, {cpu}, {cores} cores. Both sides use 2 threads, the same
model (all-MiniLM-L6-v2, mean pooling) and the same {s['utterances']} CLINC150 test utterances
(mean {s['mean_tokens']:.1f} tokens with [CLS]/[SEP]); tokenisation is included in every timing.

| measure | IntentLoop (Swift, OpenBLAS) | PyTorch | ratio |
| --- | ---: | ---: | ---: |
| throughput, batch 32, data order (utt/s) | {s['throughput']['32']['utterances_per_s']:.0f} | {t['throughput']['32']['utterances_per_s']:.0f} | {ratio['32']:.2f}x |
| throughput, batch 64, data order (utt/s) | {s['throughput']['64']['utterances_per_s']:.0f} | {t['throughput']['64']['utterances_per_s']:.0f} | {ratio['64']:.2f}x |
| PyTorch with length-sorted batches, 32 / 64 (utt/s) | | {t['throughput_length_sorted']['32']['utterances_per_s']:.0f} / {t['throughput_length_sorted']['64']['utterances_per_s']:.0f} | {ratio_sorted['32']:.2f}x / {ratio_sorted['64']:.2f}x |
| single utterance latency p50 (ms) | {s['latency_ms']['p50']:.2f} | {t['latency_ms']['p50']:.2f} | |
| single utterance latency p90 (ms) | {s['latency_ms']['p90']:.2f} | {t['latency_ms']['p90']:.2f} | |
| single utterance latency p99 (ms) | {s['latency_ms']['p99']:.2f} | {t['latency_ms']['p99']:.2f} | |
| peak memory of the process (MiB) | {s['peak_rss_mib']:.0f} | {t['peak_rss_mib']:.0f} | |

Targets (issue 2): {', '.join(f"{k}: {'met' if v else 'NOT met'}" for k, v in checks.items())}.

Swift side: {s['implementation']}; {s['blas']}. PyTorch side: {t['implementation']}.
Batches: Swift packs each batch without padding (every activation block holds only real
tokens); PyTorch pads each batch to its longest sequence. Latency: the first {s['latency_ms']['count']}
utterances one at a time; Swift runs batches under 16 tokens through its packed few-rows kernel.
"""
(out / "encoder.md").write_text(md)
