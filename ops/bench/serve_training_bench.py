#!/usr/bin/env python3
"""Driver of ops/bench/serve-while-training (see there)."""
import argparse, datetime, json, os, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "datasets"
OUT = ROOT / "ops/bench/results"
ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True); ap.add_argument("--rate", type=float, default=100)
ap.add_argument("--duration", type=float, default=60); ap.add_argument("--connections", type=int, default=32)
ap.add_argument("--training-threads", type=int, default=0, help="0: serve's default (half the cores)")
args = ap.parse_args()
log = lambda *a: print("[serve-while-training]", *a, file=sys.stderr, flush=True)
sys.path.insert(0, str(ROOT / "ops/lib"))
from demo_server import DemoServer  # noqa: E402

work = Path(tempfile.mkdtemp(prefix="intentloop-swt-")); os.chmod(work, 0o755)
data = work / "data"
clinc = json.load(open(SHARED / "clinc150/data_full.json"))
texts = work / "texts.txt"
texts.write_text("\n".join(t.replace("\n", " ") for t, _ in clinc["test"]) + "\n")
train = work / "clinc-train.jsonl"
train.write_text("\n".join(json.dumps({"text": t, "intent": i}) for t, i in clinc["train"]) + "\n")
extra = ["--no-scheduler"] + (["--training-threads", str(args.training_threads)] if args.training_threads else [])
server = DemoServer(f"{args.bin}/intentloop", str(data), extra_args=extra)
cli = lambda *a: subprocess.run([f"{args.bin}/intentloop", *map(str, a), "--data-dir", str(data)], capture_output=True, text=True, check=True).stdout


def job(id_):
    return json.loads(cli("jobs", "show", id_, "--json"))


def load(label):
    cmd = [f"{args.bin}/intentloop-bench", "http", "--url", f"{server.base}/v1/predict", "--token", server.token, "--texts", str(texts),
           "--connections", str(args.connections), "--duration", str(args.duration), "--rate", str(args.rate)]
    log(label, " ".join(cmd[1:]))
    r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    log(label, json.dumps(r))
    return r


try:
    log(cli("import", train).strip())
    # Settle after the import (autovacuum of 15,000 new rows would otherwise land in the idle figure)
    # and warm the whole path up: neither is measured.
    server.psql("VACUUM ANALYZE")
    subprocess.run([f"{args.bin}/intentloop-bench", "http", "--url", f"{server.base}/v1/predict", "--token", server.token, "--texts", str(texts),
                    "--connections", str(args.connections), "--duration", "15", "--rate", str(args.rate)], capture_output=True, check=True)
    idle = load("no job")
    triggered = json.loads(cli("jobs", "trigger", "--json"))
    id_ = triggered["id"]
    t0 = time.time()
    while (job(id_).get("progress") or {}).get("phase") != "train":
        if job(id_)["status"] not in ("queued", "running"):
            sys.exit(f"job {id_} ended before training: {job(id_)}")
        time.sleep(1)
    log(f"job {id_} training after {time.time() - t0:.0f} s")
    busy = load("job running")
    during = job(id_)
    still_running = during["status"] == "running"
    waited = subprocess.run([f"{args.bin}/intentloop", "jobs", "wait", id_, "--timeout", "3600", "--json", "--data-dir", str(data)],
                            capture_output=True, text=True)
    done = json.loads(waited.stdout)
    after = load("no job, after")  # idle again: the idle figure is the better of before and after
    wall = (datetime.datetime.fromisoformat(done["finished_at"].replace("Z", "+00:00"))
            - datetime.datetime.fromisoformat(done["started_at"].replace("Z", "+00:00"))).total_seconds()
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "command": "ops/bench/serve-while-training " + " ".join(sys.argv[3:]), "machine": f"{os.cpu_count()} cores",
               "rate": args.rate, "connections": args.connections, "duration_s": args.duration, "idle": idle, "idle_after": after, "training": busy,
               "job_still_running_after_measurement": still_running, "job": done, "job_wall_seconds": wall}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "serve_while_training.json").write_text(json.dumps(results, indent=1) + "\n")
    best_idle = min(idle, after, key=lambda r: r["p99_ms"])
    ratio = busy["p99_ms"] / best_idle["p99_ms"]
    r = done.get("result") or {}
    (OUT / "serve_while_training.md").write_text(f"""# Serving while a training job runs

Command: `{results['command']}` ({results['date']}, {results['machine']}). `intentloop serve --demo --no-scheduler` (release,
embedded worker: {args.training_threads or 'half the cores'} training thread(s) at nice 10 + SCHED_IDLE, one inference thread per core, embedded
PostgreSQL) with CLINC150's 15,000 training utterances imported beside the demo set. Load: `intentloop-bench http`, open
loop at {args.rate:.0f} predictions/s over {args.connections} connections, {args.duration:.0f} s, CLINC150 test texts; latency counts from
when a request was due.

| | predictions/s | p50 ms | p90 ms | p99 ms | non-2xx |
| --- | ---: | ---: | ---: | ---: | ---: |
| no job running (before) | {idle['throughput']:.1f} | {idle['p50_ms']:.1f} | {idle['p90_ms']:.1f} | {idle['p99_ms']:.1f} | {idle['failed']} |
| training job running | {busy['throughput']:.1f} | {busy['p50_ms']:.1f} | {busy['p90_ms']:.1f} | {busy['p99_ms']:.1f} | {busy['failed']} |
| no job running (after) | {after['throughput']:.1f} | {after['p50_ms']:.1f} | {after['p90_ms']:.1f} | {after['p99_ms']:.1f} | {after['failed']} |

p99 with the job running is **{ratio:.2f}×** the lower idle p99 (target ≤ 1.5×: {"met" if ratio <= 1.5 else "NOT met"}); the job was
{"still training" if still_running else "no longer running"} when the measurement ended.

The job (job {id_}, {r.get('epochs_run', '?')} epochs): {done['status']}, wall clock **{wall:.0f} s**
(training {r.get('training_seconds', '?')} s at {r.get('examples_per_s', '?')} examples/s), golden accuracy {r.get('golden_accuracy', '-')},
dataset {r.get('dataset_sha256', '')[:12]}…; the candidate is {r.get('adapter_version', '-')}.
""")
    print((OUT / "serve_while_training.md").read_text())
finally:
    server.stop()
