"""Runs `intentloop simulate` configurations and reports them (see ops/bench/simulate)."""
import argparse
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "datasets")
OUT = os.path.join(ROOT, "ops", "bench", "results", "simulate")
CLINC = ["--data", f"{SHARED}/clinc150/data_full.json#train", "--test", f"{SHARED}/clinc150/data_full.json#test"]
BANKING = ["--data", f"{SHARED}/banking77/train.csv", "--test", f"{SHARED}/banking77/test.csv"]
WEEKLY = ["--bootstrap-per-intent", "5", "--weeks", "6", "--traffic-per-week", "1500", "--reviews-per-week", "300"]

# name -> arguments (besides --json). The settings: K 5, T 1,500, R 300, 6 weeks.
RUNS = {
    "clinc-unc-s1": CLINC + WEEKLY + ["--selection", "uncertainty", "--seed", "1"],
    "clinc-rand-s1": CLINC + WEEKLY + ["--selection", "random", "--seed", "1"],
    "clinc-poison-s1": CLINC + WEEKLY + ["--selection", "uncertainty", "--seed", "1", "--poison", "balance:bill_balance"],
    "clinc-poison2w-s1": CLINC + ["--bootstrap-per-intent", "5", "--weeks", "2", "--traffic-per-week", "1500", "--reviews-per-week", "300",
                                  "--selection", "uncertainty", "--seed", "1", "--poison", "balance:bill_balance"],
    "clinc-noise20-s1": CLINC + WEEKLY + ["--selection", "uncertainty", "--seed", "1", "--agent-noise", "0.2"],
    # The same for 3 weeks (the session's time): compared with the clean run's week 3.
    "clinc-noise20-3w-s1": CLINC + ["--bootstrap-per-intent", "5", "--weeks", "3", "--traffic-per-week", "1500", "--reviews-per-week", "300",
                                    "--selection", "uncertainty", "--seed", "1", "--agent-noise", "0.2"],
    "banking-unc-s1": BANKING + WEEKLY + ["--selection", "uncertainty", "--seed", "1"],
    "banking-rand-s1": BANKING + WEEKLY + ["--selection", "random", "--seed", "1"],
    "clinc-unc-s2": CLINC + WEEKLY + ["--selection", "uncertainty", "--seed", "2"],
    "clinc-rand-s2": CLINC + WEEKLY + ["--selection", "random", "--seed", "2"],
    "clinc-unc-noninf-s1": CLINC + WEEKLY + ["--selection", "uncertainty", "--seed", "1", "--gate-mode", "non_inferiority"],
    # The jobs' recipe before this benchmark: corrections also as DPO pairs (λ 0.5) against the production adapter.
    "clinc-unc-dpo-s1": CLINC + WEEKLY + ["--selection", "uncertainty", "--seed", "1", "--dpo-weight", "0.5"],
}


WORK = os.path.join(ROOT, "ops", "bench", ".work")
# Runs whose server is kept afterwards, to show the comparison page of the candidate the gate rejected.
KEEP = {"clinc-poison-s1", "clinc-poison2w-s1"}


def run(bin_dir, name, force):
    path = os.path.join(OUT, name + ".json")
    work = os.path.join(WORK, "simulate-" + name)
    if os.path.exists(path) and not force:
        print(f"[simulate] {name}: kept {path}", flush=True)
        if name in KEEP and os.path.isdir(work) and not os.path.exists(os.path.join(OUT, name + "-compare.html")):
            comparison_page(bin_dir, name, work)
        return
    cmd = [os.path.join(bin_dir, "intentloop"), "simulate", *RUNS[name], "--json", path]
    if name in KEEP:
        shutil.rmtree(work, ignore_errors=True)
        cmd += ["--work-dir", work]
    print("[simulate] " + " ".join(cmd), flush=True)
    start = time.time()
    with open(os.path.join(OUT, name + ".log"), "w") as log:
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    print(f"[simulate] {name}: exit {code} after {time.time() - start:.0f} s", flush=True)
    if name in KEEP and code == 0:
        try:
            comparison_page(bin_dir, name, work)
        except Exception as e:  # the queue goes on; the report says the page is missing
            print(f"[simulate] {name}: comparison page failed: {e!r}", flush=True)


def comparison_page(bin_dir, name, work):
    """Serves the kept run again (no worker, no gate) and saves, as an admin sees them, the comparison
    page and JSON of production against the candidate the gate rejected."""
    report = load(name)
    rejected = [w for w in report["weeks"] if w.get("decision") == "reject" and w.get("candidate_version")]
    if not rejected:
        print(f"[simulate] {name}: no rejected candidate to compare", flush=True)
        return
    week = rejected[0]
    b = week["candidate_version"]
    a = next(w["production_version"] for w in report["weeks"] if w["week"] == week["week"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = os.path.join(bin_dir, "intentloop")
    log = open(os.path.join(work, "compare-serve.log"), "w")
    serve = subprocess.Popen([exe, "serve", "--data-dir", work, "--port", str(port), "--no-worker", "--no-scheduler", "--no-gate"],
                             stdout=log, stderr=log, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(base + "/healthz", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        password = "compare-page-" + str(os.getpid())
        subprocess.run([exe, "users", "add", "compare-admin", "--role", "admin", "--data-dir", work], cwd=ROOT, check=False,
                       env={**os.environ, "INTENTLOOP_PASSWORD": password}, capture_output=True)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = opener.open(base + "/login").read().decode()
        csrf = re.search(r'name="csrf" value="([^"]*)"', login).group(1)
        opener.open(base + "/login", urllib.parse.urlencode({"csrf": csrf, "username": "compare-admin", "password": password}).encode())
        query = urllib.parse.urlencode({"a": a, "b": b})
        page = opener.open(f"{base}/models/compare?{query}").read().decode()
        page = re.sub(r'name="csrf" value="[^"]*"', 'name="csrf" value="(removed)"', page)  # the session's form token
        with open(os.path.join(OUT, name + "-compare.html"), "w") as f:
            f.write(page)
        print(f"[simulate] {name}: saved the comparison page of {a} against {b}", flush=True)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=120)


def load(name):
    path = os.path.join(OUT, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None


def pct(v):
    return "—" if v is None else f"{100 * v:.2f} %"


ANCHORS = {  # published few-shot results on the full test sets (issue 12): (5-shot, 10-shot)
    "clinc": "ICDA 92.62 % (5-shot) / 94.84 % (10-shot); CPFT 94.18 % (10-shot); full-data adapter 96.5 %",
    "banking": "ICDA 84.01 % (5-shot) / 89.79 % (10-shot); CPFT 87.20 % (10-shot)",
}


def final(r):
    return r["weeks"][-1]["production_accuracy"] if r["weeks"] else r["bootstrap"]["accuracy"]


def best_candidate(r):
    values = [w["candidate_accuracy"] for w in r["weeks"] if w.get("candidate_accuracy") is not None]
    return max(values) if values else None


def checks(runs):
    """The issue's questions, computed from the runs present."""
    out = ["## What the runs show (computed from the JSON files)", ""]
    for data in ("clinc", "banking"):
        for seed in ("s1", "s2"):
            u, r = runs.get(f"{data}-unc-{seed}"), runs.get(f"{data}-rand-{seed}")
            if u and r:
                eu, er = 1 - final(u), 1 - final(r)
                cu, cr = best_candidate(u), best_candidate(r)
                line = (f"- {data} {seed}: final production {pct(final(u))} (uncertainty) vs {pct(final(r))} (random): relative error "
                        f"reduction {100 * (er - eu) / er:.1f} %")
                if cu and cr:
                    line += f"; best candidate {pct(cu)} vs {pct(cr)} ({100 * ((1 - cr) - (1 - cu)) / (1 - cr):.1f} %)"
                out.append(line + ".")
        u = runs.get(f"{data}-unc-s1")
        if u:
            out.append(f"- {data}: anchors {ANCHORS[data]}; the loop's production after {len([w for w in u['weeks'] if w.get('trains', True)])} "
                       f"weeks: {pct(final(u))} (best candidate {pct(best_candidate(u))}).")
    clean = runs.get("clinc-unc-s1")
    for n in (runs.get("clinc-noise20-s1"), runs.get("clinc-noise20-3w-s1")):
        if not n:
            continue
        promos = [w for w in n["weeks"] if w.get("decision") == "promote"]
        worst = min((w.get("candidate_golden_change") for w in promos if w.get("candidate_golden_change") is not None), default=None)
        tolerance = 0.01
        line = (f"- agent noise 0.2: {len(promos)} promotions; the worst golden-set change of a promoted adapter against the one it replaced "
                f"{'—' if worst is None else f'{100 * worst:+.2f} points'} (policy tolerance −{100 * tolerance:.0f} point)")
        if clean:
            # The clean run at the same week (a shorter noisy run is compared with the clean run's same week).
            last = n["weeks"][-1]["week"]
            same = [w for w in clean["weeks"] if w["week"] == last]
            clean_final = same[0]["production_accuracy"] if same else final(clean)
            gain_clean, gain_noisy = clean_final - clean["bootstrap"]["accuracy"], final(n) - n["bootstrap"]["accuracy"]
            line += (f"; after week {last}: gain over the bootstrap {100 * gain_noisy:+.2f} points against {100 * gain_clean:+.2f} clean "
                     f"({100 * gain_noisy / gain_clean:.0f} % kept)")
        out.append(line + ".")
    p = runs.get("clinc-poison-s1")
    if p:
        s = p["settings"]
        for w in p["weeks"]:
            if w.get("candidate_version"):
                out.append(f"- poison {s['poison']}: candidate of week {w['week']} {pct(w.get('candidate_accuracy'))}, recall of the poisoned intent "
                           f"{pct(w.get('candidate_poisoned_recall'))} (production {pct(w.get('production_poisoned_recall'))}): "
                           f"{w.get('decision') or '—'} — {(w.get('reason') or '').strip()[:300]}")
        if os.path.exists(os.path.join(OUT, "clinc-poison-s1-compare.html")):
            out.append("  The comparison page an admin sees for it: `simulate/clinc-poison-s1-compare.html`.")
    u, ni = runs.get("clinc-unc-s1"), runs.get("clinc-unc-noninf-s1")
    if u and ni:
        out.append(f"- gate mode: superiority ends at {pct(final(u))}, non-inferiority at {pct(final(ni))} (same data, seed and selection).")
    out.append("")
    return out


def report(bin_dir):
    runs = {n: load(n) for n in RUNS}
    lines = ["# `intentloop simulate`: the loop, week by week", "",
             "Each run: `ops/bench/simulate --runs NAME` (the arguments are in `ops/bench/simulate_bench.py`), on this 2-core",
             "machine, one run at a time. The test split is never sent or trained on; production accuracy is measured on all of it",
             "after each week. Week 0 is the adapter bootstrapped from K = 5 examples per intent. Each row's candidate is the one",
             "trained at the end of that week; its decision is the gate's, taken on the next week's shadow traffic (the last one in",
             "a final round of traffic and reviews that trains nothing). What the figures mean, and what limits them:",
             "`simulate-findings.md`.", ""]
    lines += ["| run | intents | selection | noise / poison | week 0 | final production | labels per intent | promotions | wall |",
              "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in runs.items():
        if not r:
            continue
        s = r["settings"]
        promos = sum(1 for w in r["weeks"] if w.get("decision") == "promote")
        extra = s.get("poison") or (f"noise {s['agent_noise']}" if s["agent_noise"] else "—")
        final = r["weeks"][-1]["production_accuracy"] if r["weeks"] else r["bootstrap"]["accuracy"]
        trained = [w for w in r["weeks"] if w.get("trains", True)]
        per_intent = s["bootstrap_per_intent"] + (trained[-1]["feedback"] / s["intents"] if trained else 0)
        lines.append(f"| {name} | {s['intents']} | {s['selection']} | {extra} | {pct(r['bootstrap']['accuracy'])} | {pct(final)} | "
                     f"{per_intent:.1f} | {promos} | {r['wall_seconds'] / 60:.0f} min |")
    lines.append("")
    lines += checks(runs)
    for name, r in runs.items():
        if not r:
            continue
        lines += [f"## {name}", "", f"![{name}](simulate/{name}.svg)", "",
                  "| week | feedback | traffic acc. | candidate acc. | decision | reason | production acc. | production macro-F1 | wall |",
                  "| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |",
                  f"| 0 | 0 | — | — | — | bootstrap | {pct(r['bootstrap']['accuracy'])} | {pct(r['bootstrap']['macro_f1'])} | — |"]
        for w in r["weeks"]:
            reason = (w.get("reason") or "").replace("|", "/").replace("\n", " ")
            if len(reason) > 160:
                reason = reason[:159] + "…"
            week = f"{w['week']}" + ("" if w.get("trains", True) else " (gate only)")
            lines.append(f"| {week} | {w['feedback']} | {pct(w.get('traffic_accuracy'))} | {pct(w.get('candidate_accuracy'))} | "
                         f"{w.get('decision') or '—'} | {reason} | {pct(w['production_accuracy'])} | {pct(w['production_macro_f1'])} | "
                         f"{w['wall_seconds']:.0f} s |")
        lines.append("")
    # Combined charts from the same renderer as the command's own.
    for out, members, title in [
        ("clinc-selection", ["clinc-unc-s1", "clinc-rand-s1", "clinc-unc-s2", "clinc-rand-s2"], "CLINC150: uncertainty vs random selection"),
        ("banking-selection", ["banking-unc-s1", "banking-rand-s1"], "BANKING77: uncertainty vs random selection"),
    ]:
        present = [m for m in members if runs.get(m)]
        if len(present) >= 2:
            cmd = [os.path.join(bin_dir, "intentloop"), "simulate", "--chart", os.path.join(OUT, out + ".svg"), "--title", title]
            for m in present:
                cmd += ["--plot", f"{m}={os.path.join(OUT, m + '.json')}"]
            subprocess.check_call(cmd, cwd=ROOT)
    with open(os.path.join(ROOT, "ops", "bench", "results", "simulate.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("[simulate] wrote ops/bench/results/simulate.md", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--runs", default=",".join(RUNS))
    p.add_argument("--force", action="store_true")
    p.add_argument("--report-only", action="store_true")
    a = p.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if not a.report_only:
        for name in a.runs.split(","):
            if name not in RUNS:
                sys.exit(f"unknown run {name}; known: {', '.join(RUNS)}")
            run(a.bin, name, a.force)
    report(a.bin)


if __name__ == "__main__":
    main()
