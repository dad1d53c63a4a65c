#!/usr/bin/env python3
"""Reference figures for the GateStatistics target (the model-promotion gate's statistics), from
numpy + scipy on fixed tables (the tables are in this file or generated with fixed seeds, and are
written into the JSON so the Swift tests read the same inputs).

  ~/.cache/intentloop/venv-ref/bin/python ops/reference/gate_statistics_golden.py

(any Python with numpy >= 2 and scipy >= 1.11 will do; scikit-learn is not used: precision, recall
and F1 are computed with numpy from their definitions, with scikit-learn's zero_division=0 rule.)

Writes Tests/GateStatisticsTests/Goldens/gate_statistics.json:
  mcnemar             exact two-sided McNemar p-values, scipy.stats.binomtest(min(b,c), b+c, 0.5)
  normal_cdf          scipy.special.ndtr
  normal_quantile     scipy.special.ndtri
  wilson              BinomTestResult.proportion_ci(confidence, method="wilson")
  percentile          np.percentile(a, q) (method="linear", numpy's default)
  paired_bootstrap    a 300-item paired 0/1 table, the exact accuracy difference and numpy's percentile
                      bootstrap interval of it (20,000 resamples)
  macro_f1_bootstrap  a 400-item 5-class table (class indices), its macro-F1 and numpy's percentile
                      bootstrap interval (20,000 resamples)
  classification      string labels -> confusion, per-class P/R/F1, accuracy, macro-F1
  mdd                 minimum detectable difference, scipy.optimize.brentq on Connor (1987)
  splitmix64          the first outputs of SplitMix64 (Vigna's splitmix64.c) for a seed, in Python
"""
import json
import math
from pathlib import Path

import numpy as np
import scipy
from scipy import optimize, special, stats

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests/GateStatisticsTests/Goldens/gate_statistics.json"
BOOT_RESAMPLES = 20_000


def rel_close(a, b, tol=1e-12):
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-300)


# --- McNemar: exact two-sided binomial test on the discordant pairs ----------------------------
def mcnemar_cases():
    pairs = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (5, 5), (0, 10), (10, 0), (3, 12), (12, 3), (6, 7),
             (25, 40), (50, 20), (100, 130), (400, 460), (1000, 1100), (5000, 5200),
             (100_000, 101_000), (450_000, 452_000), (0, 1000)]
    out = []
    for b, c in pairs:
        n = b + c
        if n == 0:
            p = 1.0  # no discordant pairs: no evidence either way (binomtest needs n >= 1)
        else:
            p = stats.binomtest(min(b, c), n, 0.5).pvalue
            # For p = 1/2 the two-sided test is symmetric: p = min(1, 2 P(X <= min(b, c))).
            twice_cdf = min(1.0, 2 * stats.binom.cdf(min(b, c), n, 0.5))
            assert rel_close(p, twice_cdf, 1e-10), (b, c, p, twice_cdf)
        out.append({"b": b, "c": c, "p": float(p)})
    # Beyond GateStatistics' exact limit (10^7 discordant pairs) it uses the continuity-corrected
    # normal approximation; these exact values check that it is close there.
    approx = []
    for b, c in [(4_999_000, 5_001_001), (5_000_000, 5_010_000)]:
        approx.append({"b": b, "c": c, "p": float(stats.binomtest(min(b, c), b + c, 0.5).pvalue)})
    return out, approx


# --- Standard normal ----------------------------------------------------------------------------
def normal_cases():
    xs = [-37.0, -20.0, -10.0, -5.0, -3.0, -1.959963984540054, -1.0, -0.25, 0.0, 0.5, 1.0,
          1.6448536269514722, 3.0, 5.0, 8.3, 10.0]
    ps = [1e-300, 1e-100, 1e-15, 1e-10, 1e-5, 0.001, 0.005, 0.02425, 0.025, 0.05, 0.1, 0.3, 0.5,
          0.6, 0.8, 0.9, 0.95, 0.975, 0.97575, 0.99, 0.995, 0.999, 1 - 1e-10, 1 - 1e-15]
    cdf = [{"x": x, "cdf": float(special.ndtr(x))} for x in xs]
    quantile = [{"p": p, "x": float(special.ndtri(p))} for p in ps]
    return cdf, quantile


# --- Wilson score interval ----------------------------------------------------------------------
def wilson_cases():
    out = []
    for k, n in [(0, 10), (10, 10), (1, 10), (37, 50), (900, 1000), (0, 1), (1, 1), (3, 7), (499, 500),
                 (5, 100_000)]:
        for conf in (0.95, 0.99, 0.9):
            ci = stats.binomtest(k, n).proportion_ci(confidence_level=conf, method="wilson")
            out.append({"k": k, "n": n, "confidence": conf, "estimate": k / n,
                        "lower": float(ci.low), "upper": float(ci.high)})
    return out


# --- numpy percentile (linear) ------------------------------------------------------------------
def percentile_cases():
    arrays = [
        [1.0],
        [3.0, 7.0],
        [-2.5, 0.0, 0.1, 0.7, 4.0],
        [1.0, 2.0, 2.0, 2.0, 3.0, 10.0, 11.5],
        sorted(np.random.default_rng(7).normal(size=13).tolist()),
        sorted(np.random.default_rng(11).integers(-150, 150, size=301).astype(float) / 300.0),
    ]
    confs = [0.95, 0.99, 0.9, 0.8]
    qs = [0.0, 1.0, 2.5, 10.0, 12.5, 25.0, 33.3, 50.0, 66.6, 75.0, 90.0, 97.5, 99.9, 100.0]
    for conf in confs:  # exactly the interval ends the bootstrap asks for
        alpha = 1 - conf
        qs += [alpha / 2 * 100, (1 - alpha / 2) * 100]
    out = []
    for a in arrays:
        values = [float(np.percentile(np.array(a), q)) for q in qs]
        out.append({"sorted": [float(v) for v in a], "q": qs, "values": values})
    return out


# --- Paired bootstrap of the accuracy difference ------------------------------------------------
def bootstrap_interval(statistic_rows, confidence):
    alpha = 1 - confidence
    lo, hi = np.percentile(statistic_rows, [alpha / 2 * 100, (1 - alpha / 2) * 100])
    return float(lo), float(hi)


def paired_bootstrap_case():
    rng = np.random.default_rng(20240611)
    n = 300
    ability = rng.random(n)                       # item difficulty shared by both models (pairing)
    baseline = ability < 0.80
    flip = rng.random(n) < 0.30                    # the candidate answers afresh on ~30% of the items ...
    better = rng.random(n) < 0.90                  # ... and is right on ~90% of those
    candidate = np.where(flip, better, baseline)
    d = candidate.astype(np.int64) - baseline.astype(np.int64)
    estimate = float(candidate.mean() - baseline.mean())
    idx = np.random.default_rng(1).integers(0, n, size=(BOOT_RESAMPLES, n))
    diffs = d[idx].mean(axis=1)
    out = {"candidate": candidate.astype(int).tolist(), "baseline": baseline.astype(int).tolist(),
           "estimate": estimate, "resamples": BOOT_RESAMPLES, "bootstrap_sd": float(diffs.std(ddof=1)),
           "intervals": []}
    for conf in (0.95, 0.9):
        lo, hi = bootstrap_interval(diffs, conf)
        out["intervals"].append({"confidence": conf, "lower": lo, "upper": hi})
    return out


def macro_f1_from_counts(tp, support, predicted):
    """F1 = 2 tp / (2 tp + fp + fn) = 2 tp / (support + predicted); 0 when that is 0/0; the mean over
    the classes that occur in truth or predictions (scikit-learn's average="macro" without labels=)."""
    denom = support + predicted
    present = denom > 0
    f1 = np.where(present, 2 * tp / np.where(present, denom, 1), 0.0)
    return (f1 * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)


def macro_f1_bootstrap_case():
    rng = np.random.default_rng(99)
    k, n = 5, 400
    truth = rng.choice(k, size=n, p=[0.4, 0.25, 0.2, 0.1, 0.05])
    correct = rng.random(n) < np.array([0.9, 0.8, 0.7, 0.6, 0.4])[truth]
    predicted = np.where(correct, truth, rng.integers(0, k, size=n))

    def counts(t, p):  # t, p: (..., m) -> tp, support, predicted count, each (..., k)
        rows = t.shape[0] if t.ndim == 2 else 1
        t2, p2 = t.reshape(rows, -1), p.reshape(rows, -1)
        codes = (t2 * k + p2) + (np.arange(rows)[:, None] * k * k)
        conf = np.bincount(codes.ravel(), minlength=rows * k * k).reshape(rows, k, k)
        return np.diagonal(conf, axis1=1, axis2=2), conf.sum(axis=2), conf.sum(axis=1)

    estimate = float(macro_f1_from_counts(*counts(truth, predicted))[0])
    idx = np.random.default_rng(2).integers(0, n, size=(BOOT_RESAMPLES, n))
    stats_rows = macro_f1_from_counts(*counts(truth[idx], predicted[idx]))
    out = {"classes": k, "truth": truth.tolist(), "predicted": predicted.tolist(), "estimate": estimate,
           "resamples": BOOT_RESAMPLES, "bootstrap_sd": float(stats_rows.std(ddof=1)), "intervals": []}
    for conf in (0.95,):
        lo, hi = bootstrap_interval(stats_rows, conf)
        out["intervals"].append({"confidence": conf, "lower": lo, "upper": hi})
    return out


# --- Classification report ----------------------------------------------------------------------
def classification_case():
    # "fees" is only ever predicted, "refund" is never predicted, "unused" occurs nowhere (left out
    # of macro-F1), "greeting" is not in the label list (appended after it, first seen in truth).
    labels = ["balance", "transfer", "card_lost", "refund", "fees", "unused"]
    pairs = [
        ("balance", "balance"), ("balance", "balance"), ("balance", "transfer"), ("balance", "balance"),
        ("balance", "fees"), ("transfer", "transfer"), ("transfer", "transfer"), ("transfer", "balance"),
        ("transfer", "transfer"), ("card_lost", "card_lost"), ("card_lost", "card_lost"),
        ("card_lost", "fees"), ("card_lost", "card_lost"), ("card_lost", "transfer"),
        ("refund", "balance"), ("refund", "card_lost"), ("refund", "fees"), ("greeting", "balance"),
        ("greeting", "greeting"), ("balance", "balance"), ("transfer", "fees"), ("card_lost", "card_lost"),
    ]
    truth = [t for t, _ in pairs]
    predicted = [p for _, p in pairs]
    full = list(labels)
    for name in truth + predicted:
        if name not in full:
            full.append(name)
    index = {name: i for i, name in enumerate(full)}
    k = len(full)
    conf = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(truth, predicted):
        conf[index[t], index[p]] += 1
    tp = np.diag(conf)
    support = conf.sum(axis=1)
    pred_count = conf.sum(axis=0)
    precision = np.where(pred_count > 0, tp / np.maximum(pred_count, 1), 0.0)
    recall = np.where(support > 0, tp / np.maximum(support, 1), 0.0)
    f1 = np.where(support + pred_count > 0, 2 * tp / np.maximum(support + pred_count, 1), 0.0)
    present = (support + pred_count) > 0
    return {
        "labels_in": labels, "truth": truth, "predicted": predicted,
        "labels": full, "confusion": conf.tolist(),
        "accuracy": float(tp.sum() / len(truth)),
        "macro_f1": float(f1[present].mean()),
        "per_class": [{"label": full[i], "precision": float(precision[i]), "recall": float(recall[i]),
                       "f1": float(f1[i]), "support": int(support[i]), "predicted_count": int(pred_count[i])}
                      for i in range(k)],
    }


# --- Minimum detectable difference (Connor 1987) ------------------------------------------------
def connor_n(delta, psi, alpha, power):
    za, zb = special.ndtri(1 - alpha / 2), special.ndtri(power)
    return (za * math.sqrt(psi) + zb * math.sqrt(psi - delta * delta)) ** 2 / (delta * delta)


def mdd_cases():
    out = []
    for n, psi, alpha, power in [(500, 0.2, 0.05, 0.8), (1000, 0.1, 0.05, 0.8), (2000, 0.05, 0.05, 0.8),
                                 (10_000, 0.3, 0.05, 0.8), (200, 0.5, 0.05, 0.8), (300, 0.15, 0.01, 0.9),
                                 (5000, 0.02, 0.05, 0.5), (1_000_000, 0.1, 0.05, 0.8), (100, 1.0, 0.05, 0.8),
                                 (10, 0.05, 0.05, 0.8)]:
        f = lambda d: connor_n(d, psi, alpha, power) - n
        if f(psi) > 0:
            delta = None  # even delta = psi (every discordant pair favours one model) needs more pairs
        else:
            delta = optimize.brentq(f, 1e-12, psi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
            assert rel_close(connor_n(delta, psi, alpha, power), n, 1e-9)
        out.append({"n": n, "psi": psi, "alpha": alpha, "power": power, "delta": delta})
    return out


# --- SplitMix64 -------------------------------------------------------------------------------
def splitmix64_case(seed=1234567, count=8):
    mask = (1 << 64) - 1
    state, outputs = seed, []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        outputs.append(z ^ (z >> 31))
    return {"seed": seed, "outputs": outputs}


def main():
    mcnemar, mcnemar_approx = mcnemar_cases()
    cdf, quantile = normal_cases()
    golden = {
        "generator": f"ops/reference/gate_statistics_golden.py (numpy {np.__version__}, scipy {scipy.__version__})",
        "mcnemar": mcnemar,
        "mcnemar_approximate": mcnemar_approx,
        "normal_cdf": cdf,
        "normal_quantile": quantile,
        "wilson": wilson_cases(),
        "percentile": percentile_cases(),
        "paired_bootstrap": paired_bootstrap_case(),
        "macro_f1_bootstrap": macro_f1_bootstrap_case(),
        "classification": classification_case(),
        "mdd": mdd_cases(),
        "splitmix64": splitmix64_case(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
