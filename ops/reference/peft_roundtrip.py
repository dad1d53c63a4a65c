#!/usr/bin/env python3
"""See ops/peft_roundtrip. Argument: the intentloop binary."""
import datetime, json, os, random, subprocess, sys
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from intentloop_adapter import load as load_adapter  # noqa: E402

BIN = sys.argv[1]
ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "ops/bench/.work/roundtrip"; WORK.mkdir(parents=True, exist_ok=True)
MODEL = Path(os.environ.get("INTENTLOOP_MODEL_DIR", Path(os.environ.get("INTENTLOOP_HOME", Path.home() / ".cache/intentloop")) / "models/all-MiniLM-L6-v2"))
clinc = json.load(open(ROOT.parent / "shared/datasets/clinc150/data_full.json"))
rng = random.Random(7)
by = {}
for t, i in clinc["train"]:
    by.setdefault(i, []).append(t)
subset = [(t, i) for i in sorted(by) for t in rng.sample(by[i], 20)]
(WORK / "train.jsonl").write_text("\n".join(json.dumps({"text": t, "intent": i}) for t, i in subset) + "\n")
(WORK / "test.jsonl").write_text("\n".join(json.dumps({"text": t, "intent": i}) for t, i in clinc["test"]) + "\n")
texts = [t for t, _ in rng.sample(clinc["test"], 100)]


def python_predict(adapter_dir):
    """The committed loader (ops/python/intentloop_adapter.py), as `models export` copies it."""
    return load_adapter(adapter_dir, MODEL)(texts)


def swift_predict(adapter_dir):
    p = subprocess.run([BIN, "predict", "--adapter", str(adapter_dir), "--top-k", "1", "--precision", "fp32", *texts], capture_output=True, text=True, check=True)
    return [(d["intent"], d["confidence"]) for d in map(json.loads, p.stdout.splitlines())]


def compare(a, b):
    same = sum(x[0] == y[0] for x, y in zip(a, b))
    return same, max(abs(x[1] - y[1]) for x, y in zip(a, b))


def exported_from_the_database():
    """The loop's path: the examples imported into a database, a training job run by `intentloop
    worker`, the candidate exported with `intentloop models export` (which copies the loader)."""
    import shutil, signal, tempfile
    data = Path(tempfile.mkdtemp(prefix="intentloop-roundtrip-")); os.chmod(data, 0o755)
    cli = lambda *a: subprocess.run([BIN, *map(str, a), "--data-dir", data], capture_output=True, text=True, check=True).stdout
    cli("import", WORK / "train.jsonl")
    job = json.loads(cli("jobs", "trigger", "--json"))["id"]
    worker = subprocess.Popen([BIN, "worker", "--data-dir", data, "--epochs", "2"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        # The worker owns the embedded cluster before other commands use it: wait for its banner.
        while "is taking jobs" not in (line := worker.stdout.readline()):
            if not line:
                sys.exit("intentloop worker exited before taking jobs")
        version = json.loads(cli("jobs", "wait", job, "--timeout", "1800", "--json"))["result"]["adapter_version"]
        out = WORK / "exported-adapter"
        shutil.rmtree(out, ignore_errors=True)
        cli("models", "export", version, "--out", out)
    finally:
        worker.send_signal(signal.SIGTERM); worker.wait()
    return out


swift_dir, peft_dir = WORK / "swift-adapter", WORK / "peft-adapter"
subprocess.run([BIN, "train", "--data", WORK / "train.jsonl", "--out", swift_dir, "--epochs", "2"], check=True, capture_output=True)
subprocess.run([sys.executable, ROOT / "ops/bench/train_peft.py", WORK / "train.jsonl", WORK / "test.jsonl", MODEL, peft_dir,
                "--epochs", "2", "--lr", "2e-3"], check=True, capture_output=True)
s_same, s_diff = compare(swift_predict(swift_dir), python_predict(swift_dir))
p_same, p_diff = compare(python_predict(peft_dir), swift_predict(peft_dir))
exported = exported_from_the_database()
import importlib.util  # noqa: E402 — the loader copy that `models export` wrote beside the adapter
spec = importlib.util.spec_from_file_location("exported_loader", exported / "intentloop_adapter.py")
exported_loader = importlib.util.module_from_spec(spec); spec.loader.exec_module(exported_loader)  # noqa: E702
e_same, e_diff = compare(swift_predict(exported), exported_loader.load(exported, MODEL)(texts))
when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
md = f"""# PEFT round trip

Command: `ops/peft_roundtrip` — {when}. 100 CLINC150 test utterances; adapters trained on 20
utterances per intent (3,000), 2 epochs. Python side: the committed loader
`ops/python/intentloop_adapter.py` (what `intentloop models export` puts beside the adapter):
transformers AutoModel + `PeftModel.from_pretrained(base, adapter_dir)`, mean pooling over the
attention mask, then the saved head (`base_model.model.intentloop_head`, or `classifier` for a
PEFT-trained one) and `labels.json`.

| adapter trained by | loaded by | same top intent | max confidence difference |
| --- | --- | ---: | ---: |
| IntentLoop (Swift) | Python PEFT | {s_same}/100 | {s_diff:.2e} |
| PyTorch + PEFT | IntentLoop (Swift) | {p_same}/100 | {p_diff:.2e} |
| a training job, `intentloop models export` from the database | the loader copy in the exported folder | {e_same}/100 | {e_diff:.2e} |
"""
(ROOT / "ops/bench/results/peft_roundtrip.md").write_text(md)
print(md)
sys.exit(0 if s_same == 100 and p_same == 100 and e_same == 100 else 1)
