#!/usr/bin/env python3
"""Golden for the LoRA backward pass on the real base model: one batch through all-MiniLM-L6-v2 +
PEFT LoRA (r 2, alpha 4, no dropout, on all six projections of every layer) + a linear head on the
mean-pooled output, cross-entropy loss; PEFT's gradients of every LoRA matrix and of the head.

  $(ops/reference/ensure-venv) ops/reference/make_lora_golden.py

Writes Tests/TrainingTests/Goldens/minilm-lora/: the adapter in IntentLoop's layout (PEFT files +
classifier + labels.json + intentloop.json), batch.json (texts, labels, loss) and grads.safetensors
(the gradient of each adapter tensor, under the adapter tensor's name)."""
import json, os
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
from safetensors.torch import save_file
from transformers import AutoModel, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("INTENTLOOP_MODEL_DIR", Path(os.environ.get("INTENTLOOP_HOME", Path.home() / ".cache/intentloop")) / "models/all-MiniLM-L6-v2"))
OUT = ROOT / "Tests/TrainingTests/Goldens/minilm-lora"
OUT.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
texts = ["what's my checking balance", "book a table for two tonight at an italian place",
         "my card was declined at the store", "set an alarm for 6 am", "how do you say thank you in french",
         "i lost my passport, what should i do?"]
labels = ["balance", "booking", "card", "alarm", "translate"]
y = torch.tensor([0, 1, 2, 3, 4, 1])
tok = AutoTokenizer.from_pretrained(str(MODEL))
pattern = r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|(?<!attention\.)output\.dense)"
model = get_peft_model(AutoModel.from_pretrained(str(MODEL)), LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0, target_modules=pattern))
with torch.no_grad():
    for n, p in model.named_parameters():
        if "lora_B" in n:
            p.normal_(0, 0.05)
head = torch.nn.Linear(384, len(labels))
model.eval()  # no dropout anywhere: gradients are deterministic
enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
hidden = model(**enc).last_hidden_state
mask = enc["attention_mask"].unsqueeze(-1).float()
loss = torch.nn.functional.cross_entropy(head((hidden * mask).sum(1) / mask.sum(1)), y)
loss.backward()

model.save_pretrained(str(OUT))
state = get_peft_model_state_dict(model)
tensors = {k: v.contiguous() for k, v in state.items()}
tensors["base_model.model.classifier.weight"] = head.weight.detach().contiguous()
tensors["base_model.model.classifier.bias"] = head.bias.detach().contiguous()
save_file(tensors, str(OUT / "adapter_model.safetensors"), metadata={"format": "pt"})
grads = {}
for n, p in model.named_parameters():
    if p.requires_grad:
        grads[n.replace(".default", "")] = p.grad.detach().contiguous()
grads["base_model.model.classifier.weight"] = head.weight.grad.contiguous()
grads["base_model.model.classifier.bias"] = head.bias.grad.contiguous()
assert set(grads) == set(tensors), set(grads) ^ set(tensors)
save_file(grads, str(OUT / "grads.safetensors"))
json.dump(labels, open(OUT / "labels.json", "w"))
json.dump({"pooling": "mean", "architecture": "bert", "info": {"made_by": "ops/reference/make_lora_golden.py"}}, open(OUT / "intentloop.json", "w"))
json.dump({"texts": texts, "labels": y.tolist(), "loss": loss.item()}, open(OUT / "batch.json", "w"))
(OUT / "README.md").unlink(missing_ok=True)
print("loss", loss.item(), "tensors", len(grads))
