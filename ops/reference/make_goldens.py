#!/usr/bin/env python3
"""Runs the reference implementations once and writes the golden files the Swift tests compare to.

  $(ops/reference/ensure-venv) ops/reference/make_goldens.py

Writes:
  Tests/TokenizationTests/Goldens/adversarial.jsonl   text + ids from the reference fast tokenizer
  Tests/TokenizationTests/Goldens/datasets.json       per-chunk FNV-1a-64 hashes of the token ids of
                                                      every CLINC150 and BANKING77 utterance, + a sample
  Tests/IntentModelTests/Goldens/minilm.json          sentences for the encoder golden
  Tests/IntentModelTests/Goldens/minilm.safetensors   sentence-transformers embeddings (normalised mean),
                                                      transformers' CLS and unnormalised mean pooling
  Tests/IntentModelTests/Goldens/tiny-bert/, tiny-distilbert/   random-weight models + their outputs
Reference: all-MiniLM-L6-v2 from the project's model cache, tokenizer = transformers' AutoTokenizer
(the Rust `tokenizers` fast tokenizer, as sentence-transformers uses), max length 256.
"""
import csv, json, os, random, sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from safetensors.torch import save_file
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer, BertConfig, BertForSequenceClassification, \
    BertTokenizerFast, DistilBertConfig, DistilBertForSequenceClassification

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ROOT.parent / "shared" / "datasets"
MODEL = Path(os.environ.get("INTENTLOOP_MODEL_DIR",
             Path(os.environ.get("INTENTLOOP_HOME", Path.home() / ".cache/intentloop")) / "models/all-MiniLM-L6-v2"))
TOK_OUT = ROOT / "Tests/TokenizationTests/Goldens"
MODEL_OUT = ROOT / "Tests/IntentModelTests/Goldens"
MAX_LEN = 256
CHUNK = 500
torch.manual_seed(0)
random.seed(0)


def fnv1a64(data: bytes, h: int = 0xcbf29ce484222325) -> int:
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def adversarial() -> list[str]:
    long_text = " ".join(["The quick brown fox jumps over the lazy dog, naïvely!"] * 200)[:10000]
    return [
        "", " ", "   \t  ", "\t\n", "\u00a0\u2003\u3000", "hello", "Hello, World!",
        "café naïve Ångström crème brûlée ÉCOLE Señor Straße façade", "İstanbul ıi ǅ Σίσυφος ΣΊΣΥΦΟΣ",
        "résumé vs resume", "e\u0301 combining acute, a\u0308\u0304 stacked marks",
        "emoji 🥰 👍🏽 👨‍👩‍👧 🇫🇷 ❤️ ☺ 🤯🦄", "😀😃😄", "你好世界", "日本語のテキストです。カタカナ",
        "한국어 문장입니다", "混合 mixed 中文 text", "\u4e00\u9fff\u3400\U00020000 edge CJK blocks",
        "control\x00chars\x07here\x1b[0m", "zero\u200bwidth\u200cjoin\u200dmark", "\ufeffBOM at start",
        "replacement \ufffd char", "private \ue000 use \U000f0000", "unassigned \U000e0080 \u0378 code points",
        "soft\u00adhyphen", "line\u2028separator\u2029paragraph", "next\u0085line", "a" * 99, "b" * 100, "c" * 101,
        "supercalifragilisticexpialidocious" * 4, "pneumonoultramicroscopicsilicovolcanoconiosis",
        "don't won't can't y'all", "$100 + 5% = <script>alert('x')</script> | ~ ^ ` @ # &",
        "email me at someone@example.com or http://example.org/path?q=1&r=2",
        "1,234.56 3.14159 -42 +7 1e-9 0x1F", "iPhone13Pro MacBookAir M2", "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３",
        "ﬁ ﬂ ligatures, Ⅻ roman, x² superscript, ½ fraction", "∑ ≤ ≥ ≠ ∞ √ π ∂ ∫", "€100 £5 ¥300 ₹20 ₿",
        "עִבְרִית עם ניקוד", "العربية مع التشكيل: مَرْحَبًا", "ไทย ภาษา", "हिन्दी भाषा", "Ελληνικά και Русский текст",
        "Tab\tseparated\tvalues", "multiple     spaces   between", "trailing spaces   ", "   leading spaces",
        "UPPER lower MiXeD", "what's the weather like in paris today?", "Can I transfer money to my savings account?!",
        "«quotes» „German“ “curly” ‘single’", "dash–en—em−minus", "…ellipsis… ‼", "#hashtag @mention",
        "[CLS] [SEP] [UNK] [PAD] [MASK] literal specials", "##not a continuation", long_text,
    ]


def dataset_utterances() -> dict[str, list[str]]:
    out = {}
    clinc = json.loads((DATASETS / "clinc150/data_full.json").read_text())
    for split in ["train", "val", "test", "oos_train", "oos_val", "oos_test"]:
        out[f"clinc150/data_full.json#{split}"] = [t for t, _ in clinc[split]]
    for name in ["train", "test"]:
        with open(DATASETS / f"banking77/{name}.csv", newline="") as f:
            out[f"banking77/{name}.csv"] = [row["text"] for row in csv.DictReader(f)]
    return out


def ids_line(ids) -> bytes:
    return (" ".join(str(i) for i in ids) + "\n").encode()


def tokenizer_goldens(tok):
    TOK_OUT.mkdir(parents=True, exist_ok=True)
    with open(TOK_OUT / "adversarial.jsonl", "w") as f:
        for text in adversarial():
            ids = tok(text, truncation=True, max_length=MAX_LEN)["input_ids"]
            f.write(json.dumps({"text": text, "ids": ids}) + "\n")
    sets = {}
    for name, texts in dataset_utterances().items():
        encoded = tok(texts, truncation=True, max_length=MAX_LEN)["input_ids"]
        chunks = []
        for start in range(0, len(texts), CHUNK):
            h = 0xcbf29ce484222325
            for ids in encoded[start:start + CHUNK]:
                h = fnv1a64(ids_line(ids), h)
            chunks.append(f"{h:016x}")
        sample = [{"index": i, "text": texts[i], "ids": encoded[i]} for i in range(0, len(texts), 97)]
        sets[name] = {"count": len(texts), "chunk": CHUNK, "hashes": chunks, "sample": sample}
    (TOK_OUT / "datasets.json").write_text(json.dumps({"max_length": MAX_LEN, "sets": sets}, ensure_ascii=False, indent=1))


def encoder_goldens():
    utter = dataset_utterances()
    rng = random.Random(1)
    sentences = rng.sample(utter["clinc150/data_full.json#test"], 100) + rng.sample(utter["banking77/test.csv"], 60)
    sentences += [t for t in adversarial() if len(t) < 2000]
    sentences += [" ".join(rng.sample(utter["banking77/train.csv"], 25)) for _ in range(5)]  # > 256 tokens: truncation
    st = SentenceTransformer(str(MODEL), device="cpu")
    st_emb = st.encode(sentences, batch_size=16, convert_to_tensor=True, normalize_embeddings=False)
    tok = AutoTokenizer.from_pretrained(str(MODEL))
    model = AutoModel.from_pretrained(str(MODEL)).eval()
    cls, mean = [], []
    with torch.no_grad():
        for start in range(0, len(sentences), 16):
            batch = tok(sentences[start:start + 16], padding=True, truncation=True, max_length=MAX_LEN, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            cls.append(hidden[:, 0])
            mean.append((hidden * mask).sum(1) / mask.sum(1))
    cls, mean = torch.cat(cls), torch.cat(mean)
    assert torch.allclose(torch.nn.functional.normalize(mean, dim=1), st_emb, atol=1e-5), "ST output is not normalised mean"
    MODEL_OUT.mkdir(parents=True, exist_ok=True)
    (MODEL_OUT / "minilm.json").write_text(json.dumps({"max_length": MAX_LEN, "sentences": sentences}, ensure_ascii=False))
    save_file({"st": st_emb.contiguous(), "cls": cls.contiguous(), "mean": mean.contiguous()}, MODEL_OUT / "minilm.safetensors")


def tiny_model(kind: str):
    out = MODEL_OUT / f"tiny-{kind}"
    out.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "dog", "sat", "on", "mat", "play",
             "##ing", "##s", "run", "fast", "slow", "!", "?", ".", ",", "my", "card", "is", "lost", "help", "me"]
    (out / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizerFast(vocab=str(out / "vocab.txt"), do_lower_case=True).save_pretrained(str(out))
    for extra in ["tokenizer.json", "special_tokens_map.json"]:
        (out / extra).unlink(missing_ok=True)
    tok = AutoTokenizer.from_pretrained(str(out))  # from vocab.txt + tokenizer_config.json, as the Swift side reads it
    if kind == "bert":
        config = BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=48, max_position_embeddings=40, type_vocab_size=2, num_labels=3)
        model = BertForSequenceClassification(config)
        encoder = model.bert
    else:
        config = DistilBertConfig(vocab_size=len(words), dim=32, n_layers=2, n_heads=4, hidden_dim=48,
                                  max_position_embeddings=40, num_labels=3)
        model = DistilBertForSequenceClassification(config)
        encoder = model.distilbert
    with torch.no_grad():  # random (not near-identity) layer norms, so a mixed-up tensor shows
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if name.endswith("weight") else 0.0))
    model.eval().save_pretrained(str(out), safe_serialization=True)
    texts = ["the cat sat on the mat", "my card is lost!", "help me", "dogs playing fast", "a"]
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (hidden * mask).sum(1) / mask.sum(1)
    save_file({"cls": hidden[:, 0].contiguous(), "mean": mean.contiguous()}, out / "expected.safetensors")
    (out / "expected.json").write_text(json.dumps({"texts": texts, "ids": [
        [i for i, m in zip(row, mrow) if m] for row, mrow in zip(batch["input_ids"].tolist(), batch["attention_mask"].tolist())]}))


if __name__ == "__main__":
    print("torch", torch.__version__, file=sys.stderr)
    tokenizer_goldens(AutoTokenizer.from_pretrained(str(MODEL)))
    encoder_goldens()
    tiny_model("bert")
    tiny_model("distilbert")
    print("goldens written", file=sys.stderr)
