#!/usr/bin/env python3
"""Orchestrates ops/bench/train: prepares the datasets, runs both trainers, evaluates, reports."""
import argparse, csv, datetime, json, os, random, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "datasets"
WORK = ROOT / "ops/bench/.work"
OUT = ROOT / "ops/bench/results"
MODEL = Path(os.environ.get("INTENTLOOP_MODEL_DIR", Path(os.environ.get("INTENTLOOP_HOME", Path.home() / ".cache/intentloop")) / "models/all-MiniLM-L6-v2"))

ap = argparse.ArgumentParser()
ap.add_argument("--intentloop", required=True); ap.add_argument("--python", required=True)
ap.add_argument("--epochs", type=int, default=3); ap.add_argument("--lr", type=float, default=2e-3)
ap.add_argument("--seed", type=int, default=42); ap.add_argument("--skip-pytorch", action="store_true")
ap.add_argument("--targets", default="query,value")
ap.add_argument("--only", choices=["clinc", "banking", "dpo"], action="append")
args = ap.parse_args()
WORK.mkdir(parents=True, exist_ok=True); OUT.mkdir(parents=True, exist_ok=True)
log = lambda *a: print("[bench]", *a, file=sys.stderr, flush=True)


def write_jsonl(path, pairs):
    path.write_text("\n".join(json.dumps({"text": t, "intent": i}) for t, i in pairs) + "\n")
    return str(path)


def run(cmd, **kw):
    log(" ".join(str(c) for c in cmd))
    t0 = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {cmd}\n{p.stderr[-3000:]}")
    return p, time.perf_counter() - t0


def swift_train(data, out, extra=()):
    p, wall = run([args.intentloop, "train", "--data", data, "--out", out, "--seed", args.seed, *extra])
    m = re.search(r"probe ([\d.]+) s, joint ([\d.]+) s at ([\d.]+) examples/s", p.stderr)
    return {"wall_seconds": wall, "probe_seconds": float(m[1]), "train_seconds": float(m[2]), "examples_per_s": float(m[3]),
            "log_tail": p.stderr.strip().splitlines()[-4:]}


def swift_eval(adapter, data):
    p, _ = run([args.intentloop, "eval", "--adapter", adapter, "--data", data, "--json", "--precision", "fp32"])
    d = json.loads(p.stdout)
    return {"accuracy": d["accuracy"], "macro_f1": d["macro_f1"]}


results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "command": "ops/bench/train " + " ".join(sys.argv[5:]), "recipe": {"epochs": args.epochs, "lr": args.lr, "seed": args.seed,
           "batch_size": 32, "rank": 8, "alpha": 16, "dropout": 0.05, "targets": args.targets, "weight_decay": 0.01, "warmup": 0.05}}
prev = OUT / "train.json"
if args.only and prev.exists():
    old = json.loads(prev.read_text())
    results = {**old, "date": results["date"], "command": results["command"], "recipe": results["recipe"],
               "earlier_sections": {k: {"date": old["date"], "recipe": old["recipe"]} for k in ("clinc150", "banking77", "dpo")
                                    if k in old and k not in args.only}}
recipe = ["--epochs", args.epochs, "--lr", args.lr, "--targets", args.targets]
clinc = json.load(open(SHARED / "clinc150/data_full.json"))

if not args.only or "clinc" in args.only:
    train = write_jsonl(WORK / "clinc_train.jsonl", clinc["train"])
    test = write_jsonl(WORK / "clinc_test.jsonl", clinc["test"])
    log("CLINC150: Swift")
    swift = swift_train(train, WORK / "clinc-swift", recipe)
    swift.update(swift_eval(WORK / "clinc-swift", test))
    results["clinc150"] = {"swift": swift}
    if not args.skip_pytorch:
        log("CLINC150: PyTorch + PEFT")
        p, wall = run([args.python, ROOT / "ops/bench/train_peft.py", train, test, MODEL, WORK / "clinc-peft",
                       "--epochs", args.epochs, "--lr", args.lr, "--seed", args.seed, "--targets", args.targets])
        torch = json.loads(p.stdout); torch["wall_seconds"] = wall
        results["clinc150"]["pytorch_peft"] = torch
        results["clinc150"]["throughput_ratio"] = swift["examples_per_s"] / torch["examples_per_s"]

if not args.only or "banking" in args.only:
    def rows(name):
        with open(SHARED / f"banking77/{name}.csv", newline="") as f:
            return [(r["text"], r["category"]) for r in csv.DictReader(f)]
    train = write_jsonl(WORK / "banking_train.jsonl", rows("train"))
    test = write_jsonl(WORK / "banking_test.jsonl", rows("test"))
    log("BANKING77: Swift")
    swift = swift_train(train, WORK / "banking-swift", recipe)
    swift.update(swift_eval(WORK / "banking-swift", test))
    results["banking77"] = {"swift": swift}

if not args.only or "dpo" in args.only:
    rng = random.Random(args.seed)
    by_intent = {}
    for t, i in clinc["train"]:
        by_intent.setdefault(i, []).append(t)
    subset = [(t, i) for i in sorted(by_intent) for t in rng.sample(by_intent[i], 10)]
    sub = write_jsonl(WORK / "dpo_subset.jsonl", subset)
    test = write_jsonl(WORK / "clinc_test.jsonl", clinc["test"])
    log("DPO: base adapter on 10 per intent")
    start = WORK / "dpo-start"
    swift_train(sub, start, ["--epochs", 5, "--lr", args.lr])
    held = clinc["val"]
    p, _ = run([args.intentloop, "predict", "--adapter", start, "--top-k", 1, "--precision", "fp32", *[t for t, _ in held]])
    preds = [json.loads(l)["intent"] for l in p.stdout.splitlines()]
    errors = [(t, gold, pred) for (t, gold), pred in zip(held, preds) if pred != gold]
    pairs = WORK / "dpo_pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"text": t, "chosen": g, "rejected": r}) for t, g, r in errors) + "\n")
    corrections = write_jsonl(WORK / "dpo_corrections.jsonl", subset + [(t, g) for t, g, _ in errors])
    base_eval = swift_eval(start, test)
    dpo = {"start": base_eval, "held_out_utterances": len(held), "errors_used_as_pairs": len(errors)}
    common = ["--initial", start, "--epochs", 3, "--lr", 1e-3]
    variants = {
        "ce_only": ["--data", corrections, "--ce-weight", 1, "--dpo-weight", 0],
        "dpo_only": ["--data", sub, "--preferences", pairs, "--ce-weight", 0, "--dpo-weight", 1],
        "ce_plus_dpo": ["--data", corrections, "--preferences", pairs, "--ce-weight", 1, "--dpo-weight", 1],
    }
    for name, extra in variants.items():
        out = WORK / f"dpo-{name}"
        p, _ = run([args.intentloop, "train", "--out", out, "--seed", args.seed, *common, *extra])
        e = swift_eval(out, test)
        e["change_points"] = (e["accuracy"] - base_eval["accuracy"]) * 100
        dpo[name] = e
    results["dpo"] = dpo

(OUT / "train.json").write_text(json.dumps(results, indent=1) + "\n")
subprocess.run([sys.executable, ROOT / "ops/bench/report_train.py", OUT / "train.json", OUT / "train.md"], check=True)
print((OUT / "train.md").read_text())
