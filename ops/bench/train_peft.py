#!/usr/bin/env python3
"""PyTorch + PEFT side of ops/bench/train: the same LP-FT recipe as IntentLoop's trainer.

  train_peft.py TRAIN.jsonl TEST.jsonl MODEL_DIR OUT_DIR --epochs 3 --lr 1e-3 --seed 42 [--threads 2]

Model: AutoModel + PEFT LoRA (r 8, alpha 16, dropout 0.05, query/value) + a linear head on the
mean-pooled last hidden state. Recipe: linear probe of the head on frozen embeddings (AdamW,
batch 256, 40 epochs, lr 5e-3 decaying linearly, wd 1e-4), then LoRA + head jointly with AdamW
(wd 0.01 on matrices), 5 % linear warm-up then linear decay, global-norm clipping at 1.0, batch 32
padded to its longest sequence, shuffled each epoch. Prints one JSON object; saves the adapter in
IntentLoop's layout (PEFT files + classifier + labels.json) to OUT_DIR for the round-trip check."""
import argparse, json, math, os, random, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModel, AutoTokenizer

ap = argparse.ArgumentParser()
ap.add_argument("train"); ap.add_argument("test"); ap.add_argument("model"); ap.add_argument("out")
ap.add_argument("--epochs", type=int, default=3); ap.add_argument("--lr", type=float, default=2e-3)
ap.add_argument("--seed", type=int, default=42); ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch-size", type=int, default=32)
ap.add_argument("--targets", default="query,value", help="IntentLoop target names, comma-separated")
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed); random.seed(args.seed)

load = lambda p: [json.loads(l) for l in open(p) if l.strip()]
train, test = load(args.train), load(args.test)
labels = sorted({e["intent"] for e in train})
index = {l: i for i, l in enumerate(labels)}
tok = AutoTokenizer.from_pretrained(args.model)
base = AutoModel.from_pretrained(args.model)
MODULES = {"query": r"attention\.self\.query", "key": r"attention\.self\.key", "value": r"attention\.self\.value",
           "attention.output": r"attention\.output\.dense", "intermediate": r"intermediate\.dense", "output": r"(?<!attention\.)output\.dense"}
pattern = r".*encoder\.layer\.\d+\.(" + "|".join(MODULES[t] for t in args.targets.split(",")) + ")"
model = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=pattern))
head = torch.nn.Linear(base.config.hidden_size, len(labels))
torch.nn.init.zeros_(head.weight); torch.nn.init.zeros_(head.bias)


def pooled(texts):
    enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1)


def evaluate(data):
    model.eval(); correct = 0
    with torch.inference_mode():
        for i in range(0, len(data), 64):
            batch = data[i:i + 64]
            pred = head(pooled([e["text"] for e in batch])).argmax(-1).tolist()
            correct += sum(labels[p] == e["intent"] for p, e in zip(pred, batch))
    return correct / len(data)


t_start = time.perf_counter()
# 1. Linear probe on frozen embeddings.
model.eval()
with torch.inference_mode():
    feats = torch.cat([pooled([e["text"] for e in train[i:i + 64]]) for i in range(0, len(train), 64)])
y = torch.tensor([index[e["intent"]] for e in train])
opt = torch.optim.AdamW(head.parameters(), lr=5e-3, weight_decay=1e-4)
steps = 40 * math.ceil(len(train) / 256); step = 0
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / steps)
for _ in range(40):
    perm = torch.randperm(len(train))
    for i in range(0, len(train), 256):
        idx = perm[i:i + 256]
        loss = torch.nn.functional.cross_entropy(head(feats[idx]), y[idx])
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
probe_seconds = time.perf_counter() - t_start

# 2. LoRA + head jointly.
lora_params = [p for p in model.parameters() if p.requires_grad]
decay = [p for p in lora_params] + [head.weight]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": [head.bias], "weight_decay": 0.0}], lr=args.lr)
per_epoch = math.ceil(len(train) / args.batch_size); total = per_epoch * args.epochs
warmup = max(1, round(0.05 * total))
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warmup if s + 1 <= warmup else max(0, total - s - 1) / max(1, total - warmup))
t_train = time.perf_counter(); seen = 0
for epoch in range(args.epochs):
    model.train(); order = list(range(len(train))); random.shuffle(order)
    for i in range(0, len(order), args.batch_size):
        batch = [train[j] for j in order[i:i + args.batch_size]]
        logits = head(pooled([e["text"] for e in batch]))
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([index[e["intent"]] for e in batch]), label_smoothing=0.1)
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(lora_params + list(head.parameters()), 1.0)
        opt.step(); sched.step(); seen += len(batch)
train_seconds = time.perf_counter() - t_train
accuracy = evaluate(test)
total_seconds = time.perf_counter() - t_start

# Save in IntentLoop's adapter layout, for ops/peft_roundtrip.
os.makedirs(args.out, exist_ok=True)
model.save_pretrained(args.out)
from safetensors.torch import load_file
tensors = load_file(os.path.join(args.out, "adapter_model.safetensors"))
tensors["base_model.model.classifier.weight"] = head.weight.detach().contiguous()
tensors["base_model.model.classifier.bias"] = head.bias.detach().contiguous()
save_file(tensors, os.path.join(args.out, "adapter_model.safetensors"), metadata={"format": "pt"})
json.dump(labels, open(os.path.join(args.out, "labels.json"), "w"))
json.dump({"pooling": "mean", "architecture": "bert", "info": {"trained_by": "PyTorch + PEFT (ops/bench/train_peft.py)"}},
          open(os.path.join(args.out, "intentloop.json"), "w"))
print(json.dumps({"implementation": f"PyTorch {torch.__version__} + PEFT", "threads": torch.get_num_threads(),
                  "test_accuracy": accuracy, "examples_per_s": seen / train_seconds, "probe_seconds": probe_seconds,
                  "train_seconds": train_seconds, "total_seconds": total_seconds, "epochs": args.epochs, "lr": args.lr,
                  "seed": args.seed, "targets": args.targets, "lora_modules": sum(1 for n, _ in model.named_modules() if n.endswith("lora_A")), "train_examples": len(train), "test_examples": len(test)}, indent=1))
