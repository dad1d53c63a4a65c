#!/usr/bin/env python3
"""Renders ops/bench/results/train.json as train.md."""
import json, os, sys

r = json.load(open(sys.argv[1]))
pct = lambda x: f"{x * 100:.2f} %"
lines = [f"# Training benchmark", "",
         f"Command: `{r['command'].strip()}` — {r['date']}, 2 cores, everything on this machine.",
         f"Recipe (both trainers): LP-FT — linear probe of the head on frozen mean-pooled embeddings, then LoRA "
         f"(r {r['recipe']['rank']}, alpha {r['recipe']['alpha']}, dropout {r['recipe']['dropout']}, {r['recipe']['targets']}) + head with AdamW "
         f"(lr {r['recipe']['lr']}, weight decay {r['recipe']['weight_decay']}, {int(r['recipe']['warmup'] * 100)} % warm-up, linear decay), "
         f"batch {r['recipe']['batch_size']}, {r['recipe']['epochs']} epochs, seed {r['recipe']['seed']}.", ""]
c = r.get("clinc150")
if c:
    s, t = c["swift"], c.get("pytorch_peft")
    lines += ["## CLINC150 (train 15,000 → test 4,500, in-scope intents)", "",
              "| | IntentLoop (Swift) | PyTorch + PEFT |", "| --- | ---: | ---: |",
              f"| test accuracy | {pct(s['accuracy'])} | {pct(t['test_accuracy']) if t else 'not run'} |",
              f"| test macro-F1 | {pct(s['macro_f1'])} | |",
              f"| training throughput, joint phase (examples/s) | {s['examples_per_s']:.1f} | {t['examples_per_s']:.1f} |" if t else
              f"| training throughput, joint phase (examples/s) | {s['examples_per_s']:.1f} | not run |",
              f"| linear probe (s) | {s['probe_seconds']:.0f} | {t['probe_seconds']:.0f} |" if t else f"| linear probe (s) | {s['probe_seconds']:.0f} | |",
              f"| joint training (s) | {s['train_seconds']:.0f} | {t['train_seconds']:.0f} |" if t else f"| joint training (s) | {s['train_seconds']:.0f} | |",
              f"| wall clock to the reported accuracy (s) | {s['wall_seconds']:.0f} | {t['total_seconds']:.0f} |" if t else
              f"| wall clock to the reported accuracy (s) | {s['wall_seconds']:.0f} | |", ""]
    if t:
        lines += [f"Throughput ratio Swift / PyTorch + PEFT: **{c['throughput_ratio']:.2f}x**.", ""]
    seeds_file = os.path.join(os.path.dirname(os.path.abspath(sys.argv[2])), "train-seeds.json")
    if os.path.exists(seeds_file):
        sd = json.load(open(seeds_file))
        per_seed = ", ".join(f"{x['seed']}: {pct(x['swift'])} vs {pct(x['pytorch_peft'])}" for x in sd["seeds"])
        lines += [f"Over seeds ({len(sd['seeds'])} seeds, same recipe, `{sd['command']}`, {sd['date']}; train-seeds.md): "
                  f"IntentLoop **{pct(sd['mean_swift'])}** vs PyTorch + PEFT **{pct(sd['mean_pytorch_peft'])}** on average "
                  f"({per_seed}). Paired over all seeds, {sd['pooled_swift_only_right']} test utterances only IntentLoop gets right and "
                  f"{sd['pooled_peft_only_right']} only PyTorch + PEFT (exact McNemar p = {sd['pooled_mcnemar_p']:.2f}): one seed's difference "
                  "of a tenth of a point is within the run-to-run spread of either trainer, so the comparison with PyTorch + PEFT is "
                  "judged on the mean over seeds.", ""]
b = r.get("banking77")
if b:
    s = b["swift"]
    lines += ["## BANKING77 (train 10,003 → test 3,080)", "",
              f"IntentLoop: test accuracy **{pct(s['accuracy'])}**, macro-F1 {pct(s['macro_f1'])}; "
              f"{s['examples_per_s']:.1f} examples/s, {s['wall_seconds']:.0f} s wall clock (frozen embeddings + linear head: 92.44 %).", ""]
d = r.get("dpo")
if d:
    earlier = r.get("earlier_sections", {}).get("dpo")
    note = (f" (This section is from the run of {earlier['date']}, recipe: targets {earlier['recipe']['targets']}, lr {earlier['recipe']['lr']}.)"
            if earlier else "")
    lines += ["## DPO effect", "",
              f"Start: an adapter trained on 10 utterances per CLINC150 intent (1,500; 5 epochs): test accuracy {pct(d['start']['accuracy'])}. "
              f"Its errors on the {d['held_out_utterances']} validation utterances ({d['errors_used_as_pairs']}) become corrections: "
              "SFT examples (text, right intent) and preference pairs (chosen = right intent, rejected = its prediction). "
              "Each variant continues from the start adapter for 3 epochs at lr 1e-3, with the start adapter as the frozen DPO reference." + note, "",
              "| variant | training data | test accuracy | change |", "| --- | --- | ---: | ---: |"]
    desc = {"ce_only": "subset + corrections, cross-entropy", "dpo_only": "preference pairs only, DPO (β 1)",
            "ce_plus_dpo": "subset + corrections (CE) + pairs (λ = 1 DPO)"}
    for k in ("ce_only", "dpo_only", "ce_plus_dpo"):
        lines.append(f"| {k.replace('_', ' ')} | {desc[k]} | {pct(d[k]['accuracy'])} | {d[k]['change_points']:+.2f} points |")
    lines.append("")
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
