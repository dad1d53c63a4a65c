#!/usr/bin/env python3
"""See ops/peft_roundtrip. Argument: the intentloop binary."""
import datetime, json, os, random, subprocess, sys
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

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
tok = AutoTokenizer.from_pretrained(str(MODEL))


def python_predict(adapter_dir):
    base = AutoModel.from_pretrained(str(MODEL))
    model = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    tensors = load_file(str(Path(adapter_dir) / "adapter_model.safetensors"))
    w, b = tensors["base_model.model.classifier.weight"], tensors["base_model.model.classifier.bias"]
    labels = json.load(open(Path(adapter_dir) / "labels.json"))
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            enc = tok(texts[i:i + 32], padding=True, truncation=True, max_length=256, return_tensors="pt")
            hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            probs = torch.softmax(((hidden * mask).sum(1) / mask.sum(1)) @ w.T + b, -1)
            conf, idx = probs.max(-1)
            out += [(labels[j], c) for j, c in zip(idx.tolist(), conf.tolist())]
    return out


def swift_predict(adapter_dir):
    p = subprocess.run([BIN, "predict", "--adapter", str(adapter_dir), "--top-k", "1", *texts], capture_output=True, text=True, check=True)
    return [(d["intent"], d["confidence"]) for d in map(json.loads, p.stdout.splitlines())]


def compare(a, b):
    same = sum(x[0] == y[0] for x, y in zip(a, b))
    return same, max(abs(x[1] - y[1]) for x, y in zip(a, b))


swift_dir, peft_dir = WORK / "swift-adapter", WORK / "peft-adapter"
subprocess.run([BIN, "train", "--data", WORK / "train.jsonl", "--out", swift_dir, "--epochs", "2"], check=True, capture_output=True)
subprocess.run([sys.executable, ROOT / "ops/bench/train_peft.py", WORK / "train.jsonl", WORK / "test.jsonl", MODEL, peft_dir,
                "--epochs", "2", "--lr", "2e-3"], check=True, capture_output=True)
s_same, s_diff = compare(swift_predict(swift_dir), python_predict(swift_dir))
p_same, p_diff = compare(python_predict(peft_dir), swift_predict(peft_dir))
when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
md = f"""# PEFT round trip

Command: `ops/peft_roundtrip` — {when}. 100 CLINC150 test utterances; adapters trained on 20
utterances per intent (3,000), 2 epochs. Python side: transformers AutoModel +
`PeftModel.from_pretrained(base, adapter_dir)`, mean pooling over the attention mask, then the
saved head (`base_model.model.classifier.weight/bias`) and `labels.json`.

| adapter trained by | loaded by | same top intent | max confidence difference |
| --- | --- | ---: | ---: |
| IntentLoop (Swift) | Python PEFT | {s_same}/100 | {s_diff:.2e} |
| PyTorch + PEFT | IntentLoop (Swift) | {p_same}/100 | {p_diff:.2e} |
"""
(ROOT / "ops/bench/results/peft_roundtrip.md").write_text(md)
print(md)
sys.exit(0 if s_same == 100 and p_same == 100 else 1)
