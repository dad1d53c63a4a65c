#!/usr/bin/env python3
"""ONNX Runtime side of ops/bench/encoder: the same texts and measurements as encoder_torch.py,
in fp32 and with dynamic int8 quantization, 2 threads.

Usage: encoder_onnx.py DATA#split MODEL_DIR WORK_DIR {prepare,fp32,int8}
`prepare` exports the model once with torch.onnx (opset 17, dynamic batch and sequence axes) into
WORK_DIR/model-fp32.onnx and quantizes it once with onnxruntime.quantization.quantize_dynamic
(QInt8 weights, ONNX Runtime's defaults: what its documentation and sentence-transformers'
efficiency guide use; without VNNI its u8·s8 products can saturate, which IntentLoop avoids with 7-bit
weights) into WORK_DIR/model-int8.onnx. Batches are tokenised with the model's fast
tokenizer and padded to their own longest sequence, as in the PyTorch run; mean pooling in numpy.
Prints one JSON object."""
import json, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np
from encoder_timing import measure

data_spec, model_dir, work, precision = sys.argv[1:5]
threads = int(os.environ.get("BENCH_THREADS", "2"))
os.makedirs(work, exist_ok=True)
fp32_path = os.path.join(work, "model-fp32.onnx")
int8_path = os.path.join(work, "model-int8.onnx")


def export():
    import torch
    from transformers import AutoModel
    class Hidden(torch.nn.Module):
        """The encoder's last hidden state only (no pooler output), inputs by name."""
        def __init__(self):
            super().__init__()
            self.bert = AutoModel.from_pretrained(model_dir).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    model = Hidden().eval()
    ids = torch.ones(2, 8, dtype=torch.long)
    args = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    with torch.inference_mode():
        torch.onnx.export(model, args, fp32_path, input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


if precision == "prepare":
    # A separate process, so that the export's memory does not count in a measured run's peak RSS.
    if not os.path.exists(fp32_path):
        export()
    if not os.path.exists(int8_path):
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)
    sys.exit(0)

import onnxruntime as ort
from transformers import AutoTokenizer

opts = ort.SessionOptions()
opts.intra_op_num_threads = threads
opts.inter_op_num_threads = 1
opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
session = ort.InferenceSession(int8_path if precision == "int8" else fp32_path, opts, providers=["CPUExecutionProvider"])
inputs = {i.name for i in session.get_inputs()}
path, split = data_spec.split("#")
texts = [t for t, _ in json.load(open(path))[split]]
tok = AutoTokenizer.from_pretrained(model_dir)


def embed(batch):
    enc = tok(batch, padding=True, truncation=True, max_length=256, return_tensors="np")
    feed = {k: v.astype(np.int64) for k, v in enc.items() if k in inputs}
    hidden = session.run(None, feed)[0]
    mask = enc["attention_mask"][..., None].astype(np.float32)
    return (hidden * mask).sum(1) / mask.sum(1)


result = measure(embed, texts, lambda t: len(tok(t)["input_ids"]))
# Embeddings of the first 1,000 texts, for the cosine against fp32 in the report.
first = texts[:1000]
vectors = np.concatenate([embed(first[i:i + 64]) for i in range(0, len(first), 64)])
np.save(os.path.join(work, f"embeddings-{precision}.npy"), vectors)
print(json.dumps({
    "implementation": f"ONNX Runtime {ort.__version__} {precision}" + (" (quantize_dynamic, QInt8)" if precision == "int8" else ""),
    "threads": threads, **result,
}, indent=1))
