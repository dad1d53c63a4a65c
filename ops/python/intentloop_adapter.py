"""Load an IntentLoop adapter folder (`intentloop models export`, `intentloop train`) in Python and
reproduce `intentloop predict`.

The head reads the MEAN of the encoder's last hidden states over the attention mask, not BERT's
[CLS] pooler, so `AutoModelForSequenceClassification` is the wrong class for it (it would start from
a fresh head). Needs torch, transformers, peft and safetensors; tested by ops/peft_roundtrip.

    from intentloop_adapter import load
    predict = load("exported-adapter/", "path/to/all-MiniLM-L6-v2")
    predict(["where is my parcel"])   # [("track_package", 0.93)]
"""
import json
from pathlib import Path

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer


def load(adapter_dir, base_dir):
    adapter_dir = Path(adapter_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    model = PeftModel.from_pretrained(AutoModel.from_pretrained(str(base_dir)), str(adapter_dir)).eval()
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    stems = ("intentloop_head", "classifier", "classifier.modules_to_save.default")  # ours; older exports and PEFT's: classifier
    stem = next((s for s in stems if f"base_model.model.{s}.weight" in tensors), None)
    if stem is None:
        raise ValueError(f"{adapter_dir}: no intent head (base_model.model.intentloop_head.weight) in adapter_model.safetensors")
    weight, bias = tensors[f"base_model.model.{stem}.weight"], tensors[f"base_model.model.{stem}.bias"]
    labels = json.loads((adapter_dir / "labels.json").read_text())

    def predict(texts, batch_size=32):
        out = []
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=256, return_tensors="pt")
            with torch.no_grad():
                hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            probs = torch.softmax(((hidden * mask).sum(1) / mask.sum(1)) @ weight.T + bias, -1)
            confidence, index = probs.max(-1)
            out += [(labels[j], c) for j, c in zip(index.tolist(), confidence.tolist())]
        return out

    return predict
