#!/usr/bin/env python3
"""CLINC150 accuracy over several seeds, IntentLoop vs PyTorch + PEFT with the same recipe
(issue 3: "not below PyTorch + PEFT"). One seed is one draw of LoRA init, dropout masks and
batch order; this averages over draws and pairs the two trainers per utterance.

  ops/bench/train-seeds --seeds 42,43,44 [--targets LIST]

Writes ops/bench/results/train-seeds.{json,md}. Each seed: ~4.5 min (Swift) + ~12 min (PyTorch)."""
import argparse, datetime, json, math, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK, OUT = ROOT / "ops/bench/.work", ROOT / "ops/bench/results"
SHARED = ROOT.parent / "shared" / "datasets"
MODEL = Path.home() / ".cache/intentloop/models/all-MiniLM-L6-v2"
ap = argparse.ArgumentParser()
ap.add_argument("--intentloop", required=True); ap.add_argument("--python", required=True)
ap.add_argument("--seeds", default="42,43,44"); ap.add_argument("--epochs", type=int, default=3); ap.add_argument("--lr", type=float, default=2e-3)
ap.add_argument("--targets", default="query,key,value,attention.output,intermediate,output")
args = ap.parse_args()
log = lambda *a: print("[seeds]", *a, file=sys.stderr, flush=True)
WORK.mkdir(parents=True, exist_ok=True)
clinc = json.load(open(SHARED / "clinc150/data_full.json"))
train, test = WORK / "clinc_train.jsonl", WORK / "clinc_test.jsonl"
train.write_text("\n".join(json.dumps({"text": t, "intent": i}) for t, i in clinc["train"]) + "\n")
test.write_text("\n".join(json.dumps({"text": t, "intent": i}) for t, i in clinc["test"]) + "\n")
texts, gold = [t for t, _ in clinc["test"]], [i for _, i in clinc["test"]]


def run(cmd):
    log(" ".join(map(str, cmd))[:160])
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=True)


def swift_predictions(adapter):
    out = []
    for i in range(0, len(texts), 500):
        p = run([args.intentloop, "predict", "--adapter", adapter, "--top-k", 1, "--precision", "fp32", *texts[i:i + 500]])
        out += [json.loads(l)["intent"] for l in p.stdout.splitlines()]
    return out


def peft_predictions(adapter):
    # The PEFT adapter is in IntentLoop's layout (ops/peft_roundtrip checks both load the same), so
    # this engine reads it; predictions equal PyTorch's to ~1e-6 in confidence.
    return swift_predictions(adapter)


def mcnemar_exact(b, c):
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


seeds = [int(s) for s in args.seeds.split(",")]
rows, b_total, c_total = [], 0, 0
for seed in seeds:
    swift_dir, peft_dir = WORK / f"seed{seed}-swift", WORK / f"seed{seed}-peft"
    # Adapters already trained for this seed (a re-run, or ops/bench/train's) are reused.
    if not (swift_dir / "adapter_model.safetensors").exists():
        run([args.intentloop, "train", "--data", train, "--out", swift_dir, "--seed", seed, "--epochs", args.epochs, "--lr", args.lr,
             "--targets", args.targets])
    peft = None
    if not (peft_dir / "adapter_model.safetensors").exists():
        peft = json.loads(run([args.python, ROOT / "ops/bench/train_peft.py", train, test, MODEL, peft_dir, "--epochs", args.epochs,
                               "--lr", args.lr, "--seed", seed, "--targets", args.targets]).stdout)
    s_pred, p_pred = swift_predictions(swift_dir), peft_predictions(peft_dir)
    s_ok = [p == g for p, g in zip(s_pred, gold)]
    p_ok = [p == g for p, g in zip(p_pred, gold)]
    b = sum(1 for x, y in zip(s_ok, p_ok) if x and not y)  # Swift right, PEFT wrong
    c = sum(1 for x, y in zip(s_ok, p_ok) if y and not x)
    b_total, c_total = b_total + b, c_total + c
    rows.append({"seed": seed, "swift": sum(s_ok) / len(gold), "pytorch_peft": peft["test_accuracy"] if peft else sum(p_ok) / len(gold),
                 "pytorch_peft_reloaded": sum(p_ok) / len(gold), "swift_only_right": b, "peft_only_right": c, "mcnemar_p": mcnemar_exact(b, c)})
    log(json.dumps(rows[-1]))
    mean = lambda k: sum(r[k] for r in rows) / len(rows)
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "command": f"ops/bench/train-seeds --seeds {args.seeds} --targets {args.targets}", "recipe": {"epochs": args.epochs, "lr": args.lr, "targets": args.targets},
              "seeds": rows, "mean_swift": mean("swift"), "mean_pytorch_peft": mean("pytorch_peft"),
              "pooled_swift_only_right": b_total, "pooled_peft_only_right": c_total, "pooled_mcnemar_p": mcnemar_exact(b_total, c_total)}
    (OUT / "train-seeds.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["| seed | IntentLoop | PyTorch + PEFT | only IntentLoop right | only PEFT right | exact McNemar p |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['seed']} | {r['swift']*100:.2f} % | {r['pytorch_peft']*100:.2f} % | {r['swift_only_right']} | {r['peft_only_right']} | {r['mcnemar_p']:.2f} |" for r in rows]
    lines.append(f"| **mean / pooled** | **{result['mean_swift']*100:.2f} %** | **{result['mean_pytorch_peft']*100:.2f} %** | {b_total} | {c_total} | {result['pooled_mcnemar_p']:.2f} |")
    (OUT / "train-seeds.md").write_text(f"""# CLINC150 test accuracy over seeds: IntentLoop vs PyTorch + PEFT

Command: `{result['command']}` ({result['date']}). Same recipe for both (LP-FT, epochs {args.epochs}, lr {args.lr},
label smoothing 0.1, batch 32, targets {args.targets}, encoder dropout of the model's config in both), seed per row.
"only X right": test utterances (of 4,500) that one trainer classifies correctly and the other not; the exact McNemar
test asks whether those discordant counts differ by more than chance. PyTorch's accuracy is its own evaluation; the
paired counts use its saved adapter loaded here (ops/bench/results/peft_roundtrip.md: same predictions 100/100).

{chr(10).join(lines)}
""")
print((OUT / "train-seeds.md").read_text())
