#!/usr/bin/env python3
"""Driver of ops/bench/gate (see there).

(a) Shadow cost: `intentloop serve --demo`, a real training job whose candidate the gate puts into
    shadow (kept there by the policy), then POST /v1/predict at a fixed open-loop rate with the
    shadow sample rate at each of --rates (set with PUT /v1/gate/policy), repeated --repeats times
    in alternating order; per run: p50/p99, shadow predictions stored and dropped (from /metrics).
(b) Switch time: a second replica on the same database, a light load on each, then --rounds rounds
    of `models promote` + `models rollback`; per switch and replica, the time from the command's
    return to that replica's first answer carrying the new adapter version; failed requests."""
import argparse, datetime, http.client, json, os, resource, shutil, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "datasets"
OUT = ROOT / "ops/bench/results"
ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--rate", type=float, default=0, help="open-loop predictions/s for (a); 0: --capacity-share of the measured capacity")
ap.add_argument("--capacity-share", type=float, default=0.4, help="share of the closed-loop capacity (64 connections) to offer when --rate is 0")
ap.add_argument("--capacity-seconds", type=float, default=20, help="seconds of the closed-loop capacity run (skipped with --rate)")
ap.add_argument("--duration", type=float, default=60, help="seconds per measured run of (a), after a 3 s warm-up")
ap.add_argument("--repeats", type=int, default=2, help="passes over --rates, in alternating order")
ap.add_argument("--rates", default="0,0.25,1", help="shadow sample rates for (a)")
ap.add_argument("--connections", type=int, default=32)
ap.add_argument("--settle", type=float, default=0, help="seconds after changing the policy before measuring (default: poll interval + 3)")
ap.add_argument("--adapter-poll-seconds", type=int, default=5, help="serve's --adapter-poll-seconds (its default: 5)")
ap.add_argument("--rounds", type=int, default=5, help="promote + rollback rounds for (b)")
ap.add_argument("--switch-load", type=float, default=20, help="requests/s per replica during (b)")
ap.add_argument("--out", default="gate", help="results file name (ops/bench/results/NAME.{json,md})")
args = ap.parse_args()
log = lambda *a: print("[gate]", *a, file=sys.stderr, flush=True)
sys.path.insert(0, str(ROOT / "ops/lib"))
from demo_server import DemoServer  # noqa: E402

started = time.time()
rates = [float(x) for x in args.rates.split(",")]
settle = args.settle or args.adapter_poll_seconds + 3
intentloop, bench = f"{args.bin}/intentloop", f"{args.bin}/intentloop-bench"
build = "release build" if Path(args.bin).resolve().name == "release" else f"binaries from {args.bin}"


def machine():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    mem = next((int(l.split()[1]) // 1024 // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    return {"nproc": nproc, "cpu_model": model, "memory_gib": mem, "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


facts = machine()
work = Path(tempfile.mkdtemp(prefix="intentloop-gate-")); os.chmod(work, 0o755)
data = work / "data"
texts = work / "texts.txt"
if (SHARED / "clinc150/data_full.json").exists():
    texts_source = "CLINC150 test utterances (4,500, cycled)"
    lines = [t.replace("\n", " ") for t, _ in json.load(open(SHARED / "clinc150/data_full.json"))["test"]]
else:
    texts_source = "the demo training utterances (ops/demo/train.jsonl, cycled; CLINC150 was not found)"
    lines = [json.loads(l)["text"] for l in open(ROOT / "ops/demo/train.jsonl") if l.strip()]
texts.write_text("\n".join(lines) + "\n")

server = DemoServer(intentloop, str(data), extra_args=["--no-scheduler", "--adapter-poll-seconds", str(args.adapter_poll_seconds)])
replica2, finished = None, False


def cli(*a, check=True):
    r = subprocess.run([intentloop, *map(str, a), "--data-dir", str(data)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"intentloop {' '.join(map(str, a))}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def adapter_status(version):
    return next((a["status"] for a in json.loads(cli("models", "list", "--json"))["adapters"] if a["version"] == version), None)


def put_policy(token, **fields):
    request = urllib.request.Request(f"{server.base}/v1/gate/policy", data=json.dumps(fields).encode(), method="PUT",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=10).read())


def metrics(base):
    """The unlabelled samples of /metrics that (a) reads."""
    text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    names = ("intentloop_predictions_total", "intentloop_shadow_predictions_total", "intentloop_shadow_dropped_total",
             "intentloop_inference_cpu_seconds_total", "intentloop_adapter_swaps_total")
    out = dict.fromkeys(names, 0.0)
    for l in text.splitlines():
        parts = l.split()
        if len(parts) == 2 and parts[0] in out:
            out[parts[0]] = float(parts[1])
    return out


def wait_for_log(path, text, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if text in Path(path).read_text(errors="replace"):
            return True
        time.sleep(0.25)
    return False


def load(rate, duration, connections, closed=False):
    cmd = [bench, "http", "--url", f"{server.base}/v1/predict", "--token", server.token, "--texts", str(texts),
           "--connections", str(connections), "--duration", str(duration)] + ([] if closed else ["--rate", str(rate)])
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def drain(base, seconds=20):
    """Waits until the shadow counters stop moving (its queue is empty and its writes are done)."""
    last, deadline = None, time.time() + seconds
    while time.time() < deadline:
        m = metrics(base)
        now = (m["intentloop_shadow_predictions_total"], m["intentloop_shadow_dropped_total"])
        if now == last:
            return m
        last = now
        time.sleep(1)
    return metrics(base)


def shadow_run(rate, sample_rate, admin, label):
    put_policy(admin, shadow_sample_rate=sample_rate)
    time.sleep(settle)  # the replica re-reads the rate at its watcher's next wake-up (a poll at the latest)
    before, cpu_before, gen_before = drain(server.base), server.cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    r = load(rate, args.duration, args.connections)
    elapsed = time.time() - t0
    after = drain(server.base)
    cpu_after, gen_after = server.cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    d = {k: after[k] - before[k] for k in before}
    n = d["intentloop_predictions_total"] or float("nan")
    stored, dropped = d["intentloop_shadow_predictions_total"], d["intentloop_shadow_dropped_total"]
    model_ms = d["intentloop_inference_cpu_seconds_total"] / n * 1000
    r.update({"label": label, "shadow_sample_rate": sample_rate, "predictions": int(d["intentloop_predictions_total"]),
              "shadow_stored": int(stored), "shadow_dropped": int(dropped), "load_seconds": round(elapsed, 1),
              "shadow_stored_per_s": stored / elapsed, "shadow_dropped_per_s": dropped / elapsed,
              "sampled_share": (stored + dropped) / n,
              "cpu_ms_per_prediction": {
                  "model": model_ms, "server_other": (cpu_after[0] - cpu_before[0]) / n * 1000 - model_ms,
                  "postgresql": (cpu_after[1] - cpu_before[1]) / n * 1000,
                  "load_generator": (gen_after.ru_utime + gen_after.ru_stime - gen_before.ru_utime - gen_before.ru_stime) / n * 1000}})
    log(label, json.dumps(r))
    return r


class SwitchLoad:
    """A light steady load on each replica (threads over keep-alive connections); every answer is
    kept with its adapter version, every non-2xx and transport error too."""

    def __init__(self, ports, token, per_replica_rate, lanes=2):
        self.samples, self.lock, self.stop_event = [], threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self.lane, args=(i, port, token, lanes / per_replica_rate, lane), daemon=True)
                        for i, port in enumerate(ports) for lane in range(lanes)]

    def lane(self, replica, port, token, interval, lane):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn, n, due = None, lane, time.monotonic()
        while not self.stop_event.is_set():
            body = json.dumps({"text": lines[n % len(lines)]})
            sent = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", "/v1/predict", body, headers)
                response = conn.getresponse()
                payload, status = response.read(), response.status
                version = json.loads(payload).get("adapter_version") if 200 <= status < 300 else None
                error = None if 200 <= status < 300 else payload[:200].decode(errors="replace")
            except Exception as e:  # noqa: BLE001 — every transport error counts as a failed request
                status, version, error = 0, None, repr(e)
                if conn is not None:
                    conn.close()
                conn = None
            with self.lock:
                self.samples.append({"replica": replica, "sent": sent, "received": time.monotonic(), "status": status, "version": version, "error": error})
            n += 2
            due = max(due + interval, time.monotonic() - interval)
            time.sleep(max(0.0, due - time.monotonic()))

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=15)

    def snapshot(self):
        with self.lock:
            return list(self.samples)


def switch(load, arguments, version, replicas=2, timeout=30):
    """Runs a promotion or rollback; returns when each replica first answered with `version`."""
    t_start = time.monotonic()
    output = cli(*arguments).strip()
    t_return = time.monotonic()
    first = [None] * replicas
    while None in first and time.monotonic() < t_return + timeout:
        for s in load.snapshot():
            if s["received"] >= t_start and s["version"] == version and first[s["replica"]] is None:
                first[s["replica"]] = s["received"]
        time.sleep(0.05)
    result = {"command": " ".join(arguments), "output": output, "version": version, "t_start": t_start, "t_return": t_return,
              "command_s": t_return - t_start, "first_answer": first,
              "after_return_s": [None if f is None else f - t_return for f in first]}
    log(result["command"], "→", version, f"command {result['command_s']:.2f} s; replicas:",
        ", ".join("never" if x is None else f"{x:+.3f} s" for x in result["after_return_s"]))
    return result


def log_problems(path):
    text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
    return [l for l in text.splitlines() if any(f" {level} " in l for level in ("warning", "error", "critical"))]


try:
    admin = cli("users", "token", "demo-admin").strip()
    first_version = server.version
    # Warm the whole path up (not measured), then the capacity as in results/http.md: closed loop, 64 connections.
    load(0, 10, 8, closed=True)
    capacity = None
    if args.rate:
        rate = args.rate
    else:
        capacity = load(0, args.capacity_seconds, 64, closed=True)
        rate = max(10.0, round(capacity["throughput"] * args.capacity_share / 10) * 10)
        log(f"capacity {capacity['throughput']:.1f}/s (closed loop, 64 connections): offering {rate:.0f}/s")

    # Keep whatever enters shadow there for the whole benchmark; then a real training job.
    put_policy(admin, shadow_sample_rate=0.25, minimum_shadow_predictions=10_000_000, minimum_shadow_hours=8760, maximum_shadow_hours=8760)
    job_id = json.loads(cli("jobs", "trigger", "--json"))["id"]
    job = json.loads(cli("jobs", "wait", job_id, "--timeout", "3600", "--json"))
    if job["status"] != "succeeded":
        sys.exit(f"training job {job_id} ended {job['status']}: {job}")
    candidate = job["result"]["adapter_version"]
    log(f"job {job_id} trained {candidate}")
    status, deadline = adapter_status(candidate), time.time() + 60
    while status == "candidate" and time.time() < deadline:
        time.sleep(1)
        status = adapter_status(candidate)
    gate_status = status
    if status == "shadow":
        shadow_via = "the gate (running in serve) moved the candidate to shadow"
    else:
        # The gate rejected (or promoted) it: put it into shadow by hand so that (a) can run.
        if status == "production":
            cli("models", "rollback", "--reason", "gate bench: needs the candidate in shadow")
        server.psql(f"UPDATE adapters SET status = 'shadow', shadow_since = now() WHERE version = '{candidate}'; "
                    "SELECT pg_notify('intentloop_adapters', 'shadow')")
        shadow_via = f"the gate left it {status}; the benchmark put it into shadow with SQL (UPDATE adapters SET status = 'shadow' … + pg_notify)"
    log(shadow_via)
    if not wait_for_log(data / "serve.log", f"intent.adapter.version={candidate} shadow.rate", 60):
        sys.exit(f"the server never loaded {candidate} as its shadow; see {data / 'serve.log'}")
    server.psql("VACUUM ANALYZE")

    # (a) the shadow's cost on live predictions.
    runs = []
    for rep in range(args.repeats):
        for sample_rate in (rates if rep % 2 == 0 else list(reversed(rates))):
            runs.append(shadow_run(rate, sample_rate, admin, f"pass {rep + 1}, shadow rate {sample_rate:g}"))
    shadow_rows = int(server.psql("SELECT count(*) FROM shadow_predictions"))

    # (b) two replicas, promote/rollback rounds under a light load.
    put_policy(admin, shadow_sample_rate=0.25)
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port2 = s.getsockname()[1]; s.close()
    replica2_log = open(data / "serve-2.log", "w")
    replica2 = subprocess.Popen([intentloop, "serve", "--port", str(port2), "--data-dir", str(data), "--no-scheduler",
                                 "--adapter-poll-seconds", str(args.adapter_poll_seconds)], stdout=subprocess.PIPE, stderr=replica2_log, text=True)
    banner = ""
    while "IntentLoop is serving" not in banner:
        line = replica2.stdout.readline()
        if not line:
            sys.exit(f"the second replica exited; see {data / 'serve-2.log'}")
        banner += line
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port2}/readyz", timeout=2); break
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
    switch_load = SwitchLoad([server.port, port2], server.token, args.switch_load)
    switch_load.start()
    time.sleep(3)
    switches = []
    for _ in range(args.rounds):
        switches.append(switch(switch_load, ["models", "promote", candidate, "--reason", "gate bench"], candidate))
        time.sleep(2)
        switches.append(switch(switch_load, ["models", "rollback", "--from", candidate, "--reason", "gate bench"], first_version))
        time.sleep(2)
    switch_load.stop()
    samples = switch_load.snapshot()
    failed = [s for s in samples if not (200 <= s["status"] < 300 and s["version"])]
    # An answer with the old version from a request sent after that replica had already answered with the new one.
    stale = 0
    for i, sw in enumerate(switches):
        until = switches[i + 1]["t_start"] if i + 1 < len(switches) else float("inf")
        for replica, first in enumerate(sw["first_answer"]):
            if first is not None:
                stale += sum(1 for s in samples if s["replica"] == replica and s["version"] and s["sent"] > first
                             and s["received"] < until and s["version"] != sw["version"])
    deployments = json.loads(cli("models", "deployments", "--json"))["deployments"]
    problems = {"serve.log": log_problems(data / "serve.log"), "serve-2.log": log_problems(data / "serve-2.log")}

    def summary(values):
        values = [v for v in values if v is not None]
        return {"n": len(values), "median": statistics.median(values) if values else None, "max": max(values) if values else None,
                "min": min(values) if values else None}

    per_kind = {}
    for kind, sws in (("promote", switches[0::2]), ("rollback", switches[1::2])):
        per_kind[kind] = {"per_replica": summary([x for sw in sws for x in sw["after_return_s"]]),
                          "every_replica": summary([None if None in sw["after_return_s"] else max(sw["after_return_s"]) for sw in sws]),
                          "command": summary([sw["command_s"] for sw in sws]),
                          "never_switched": sum(x is None for sw in sws for x in sw["after_return_s"])}
    everything = [x for sw in switches for x in sw["after_return_s"]]

    # Summary of (a): per sample rate, the runs' p50/p99 and their mean.
    by_rate = {}
    for sr in rates:
        rs = [r for r in runs if r["shadow_sample_rate"] == sr]
        by_rate[sr] = {"p50_ms": statistics.mean(r["p50_ms"] for r in rs), "p99_ms": statistics.mean(r["p99_ms"] for r in rs),
                       "p99_runs": [r["p99_ms"] for r in rs], "stored_per_s": statistics.mean(r["shadow_stored_per_s"] for r in rs),
                       "dropped_per_s": statistics.mean(r["shadow_dropped_per_s"] for r in rs), "failed": sum(r["failed"] for r in rs)}
    base_p99 = by_rate.get(0.0, {}).get("p99_ms")
    q_p99 = by_rate.get(0.25, {}).get("p99_ms")
    growth = (q_p99 / base_p99 - 1) if base_p99 and q_p99 else None
    # The same comparison within each pass (runs minutes apart, so slow drift of the machine cancels).
    per_pass = []
    for rep in range(args.repeats):
        p = {r["shadow_sample_rate"]: r["p99_ms"] for r in runs if r["label"].startswith(f"pass {rep + 1},")}
        if p.get(0.0):
            per_pass.append({f"{sr:g}": p[sr] / p[0.0] - 1 for sr in p if sr != 0.0})
    zero_runs = by_rate.get(0.0, {}).get("p99_runs", [])
    zero_spread = (max(zero_runs) / min(zero_runs) - 1) if len(zero_runs) > 1 and min(zero_runs) > 0 else None

    command = "ops/bench/gate " + " ".join(sys.argv[3:])
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "command": command.strip(),
               "machine": facts, "texts": texts_source, "wall_seconds": round(time.time() - started),
               "server": f"intentloop serve --demo --no-scheduler --adapter-poll-seconds {args.adapter_poll_seconds} ({build}; one inference thread per core, "
                         "embedded worker and gate, embedded PostgreSQL on the same machine)",
               "production_adapter": first_version, "shadow_adapter": candidate, "training_job": job, "gate_status_of_candidate": gate_status,
               "shadow_via": shadow_via, "capacity": capacity, "capacity_share": None if args.rate else args.capacity_share, "rate": rate,
               "connections": args.connections, "duration_s": args.duration, "settle_s": settle, "runs": runs, "by_rate": by_rate,
               "p99_growth_at_0_25": growth, "p99_growth_per_pass": per_pass, "p99_spread_between_rate_0_runs": zero_spread, "shadow_prediction_rows": shadow_rows,
               "switches": {"rounds": args.rounds, "load_per_replica": args.switch_load, "requests": len(samples), "failed": len(failed),
                            "failed_examples": failed[:5], "stale_answers_after_switch": stale, "per_kind": per_kind, "events": switches,
                            "deployments": deployments[:2 * args.rounds + 1]},
               "log_warnings_and_errors": problems}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{args.out}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")

    f = lambda x, spec=".1f": "—" if x is None else format(x, spec)
    rows_a = ["| run | shadow sample rate | predictions/s | p50 ms | p90 ms | p99 ms | non-2xx | shadow stored/s | shadow dropped/s | sampled share | CPU ms/prediction: model / rest of server / PostgreSQL |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in runs:
        c = r["cpu_ms_per_prediction"]
        rows_a.append(f"| {r['label'].split(',')[0]} | {r['shadow_sample_rate']:g} | {r['throughput']:.1f} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | "
                      f"{r['failed']} | {r['shadow_stored_per_s']:.1f} | {r['shadow_dropped_per_s']:.1f} | {r['sampled_share']:.3f} | "
                      f"{c['model']:.2f} / {c['server_other']:.2f} / {c['postgresql']:.2f} |")
    rows_r = ["| shadow sample rate | mean p50 ms | mean p99 ms | p99 of each run | p99 vs rate 0 | shadow stored/s | shadow dropped/s |",
              "| ---: | ---: | ---: | --- | ---: | ---: | ---: |"]
    for sr, v in by_rate.items():
        vs = f"{(v['p99_ms'] / base_p99 - 1) * 100:+.1f} %" if base_p99 else "—"
        rows_r.append(f"| {sr:g} | {v['p50_ms']:.1f} | {v['p99_ms']:.1f} | {', '.join(f'{x:.1f}' for x in v['p99_runs'])} | {vs} | "
                      f"{v['stored_per_s']:.1f} | {v['dropped_per_s']:.1f} |")
    rows_b = ["| switch | command s | first answer after the command returned, s: replica 1 / replica 2 |", "| --- | ---: | --- |"]
    for sw in switches:
        rows_b.append(f"| {sw['command'].split(' --')[0]} → {sw['version']} | {sw['command_s']:.2f} | "
                      + " / ".join("never" if x is None else f"{x:+.3f}" for x in sw["after_return_s"]) + " |")
    verdict = "—" if growth is None else ("met" if growth <= 0.10 else "NOT met")
    noise = "" if zero_spread is None else (f" The two rate-0 runs' p99 differ by {zero_spread * 100:.0f} %"
                                            + (", as much as the target itself: read the verdict with that noise in mind." if zero_spread > 0.10 else "."))
    cap = (f"capacity measured first as in results/http.md (closed loop, 64 connections, {args.capacity_seconds:.0f} s): "
           f"{capacity['throughput']:.1f} predictions/s, so {rate:.0f}/s is {rate / capacity['throughput'] * 100:.0f} % of it"
           if capacity else f"rate fixed with --rate")
    problem_lines = [f"- {name}: {len(ls)} warning/error lines" + (f", e.g. `{ls[0][:200]}`" if ls else "") for name, ls in problems.items()]
    md = f"""# Promotion gate: shadow cost and replica switch time

Command: `{results['command']}` ({results['date']}; wall clock {results['wall_seconds']} s).
Machine: `nproc` {facts['nproc']}, {facts['cpu_model']}, {facts['memory_gib']} GiB; load average at start {', '.join(map(str, facts['load_average_at_start']))}.
Server: {results['server']}. Load: `intentloop-bench http`, open loop at **{rate:.0f} predictions/s** over {args.connections} connections
({cap}); {args.duration:.0f} s per run after a 3 s warm-up; texts: {texts_source}. Latency counts from when a request was due.

Adapters: production {first_version} (trained at first start); shadow **{candidate}**, from training job {job_id}
(a real `jobs trigger` on the demo data). How it got into shadow: {shadow_via}. The policy keeps it there
(`minimum_shadow_predictions` 10,000,000, `minimum_shadow_hours` = `maximum_shadow_hours` = 8760).

## (a) Predict latency with a shadow adapter

The sample rate is set with `PUT /v1/gate/policy`; the replica re-reads it when its adapter watcher next wakes (a poll
every {args.adapter_poll_seconds} s, or a notification), so each run starts {settle:.0f} s after the change, and after the shadow's queue
from the previous run has drained. Passes alternate the order ({' → '.join(f'{x:g}' for x in rates)}, then back) so that drift does not favour one rate.
Shadow stored/dropped per second: `intentloop_shadow_predictions_total` / `intentloop_shadow_dropped_total` over the run
(warm-up included); sampled share = (stored + dropped) / predictions, which checks that the replica used the rate.
{shadow_rows:,} rows in `shadow_predictions` at the end.

{chr(10).join(rows_a)}

{chr(10).join(rows_r)}

Target: p99 grows by at most 10 % at sample rate 0.25. Mean p99 at 0.25 vs 0: **{f(None if growth is None else growth * 100, '+.1f')} %** ({verdict});
within each pass: {'; '.join(', '.join(f"{k} {v * 100:+.0f} %" for k, v in pp.items()) for pp in per_pass) or '—'}.{noise}

## (b) Time from a promotion to every replica serving it

Two replicas (`serve --demo` on port {server.port} and `serve` on port {port2}, same `--data-dir`: the second reuses the first's
embedded PostgreSQL), a light load on each ({args.switch_load:.0f} requests/s per replica, Python threads over keep-alive connections),
{args.rounds} round(s) of `intentloop models promote {candidate}` then `intentloop models rollback --from {candidate}`. Per switch and replica: the time from the
command's return to the first answer carrying the new `adapter_version` (negative: the replica switched before the command's process
had exited). Resolution: about {2 / args.switch_load * 1000:.0f} ms (each replica answers one request every {1000 / args.switch_load:.0f} ms).

| | per replica: median s | per replica: max s | every replica (slower of the two): median s | max s | command s (median) | never switched |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
""" + "\n".join(f"| {k} | {f(v['per_replica']['median'], '.3f')} | {f(v['per_replica']['max'], '.3f')} | {f(v['every_replica']['median'], '.3f')} | "
                f"{f(v['every_replica']['max'], '.3f')} | {f(v['command']['median'], '.3f')} | {v['never_switched']} |" for k, v in per_kind.items()) + f"""

Requests during the switches: {len(samples)}, failed (non-2xx or transport error): **{len(failed)}**; answers with the old version
from a request sent after that replica had already answered with the new one: {stale}.

{chr(10).join(rows_b)}

Server logs (warning and error lines, both replicas):
{chr(10).join(problem_lines)}
"""
    (OUT / f"{args.out}.md").write_text(md)
    print(md)
    finished = True
finally:
    if replica2 is not None:
        replica2.terminate()
        try:
            replica2.wait(timeout=60)
        except subprocess.TimeoutExpired:
            replica2.kill()
    server.stop()
    if finished:
        shutil.rmtree(work, ignore_errors=True)  # kept after a failure: the servers' logs are in it
    else:
        log(f"logs and data kept in {work}")
