#!/usr/bin/env python3
"""Driver of ops/bench/http: starts `intentloop serve --demo` on a fresh data directory, runs
`intentloop-bench http` at each load, checks every 2xx id against PostgreSQL, writes the results."""
import argparse, datetime, json, os, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "datasets"
OUT = ROOT / "ops/bench/results"
ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True); ap.add_argument("--duration", type=float, default=20)
args = ap.parse_args()
log = lambda *a: print("[http]", *a, file=sys.stderr, flush=True)

sys.path.insert(0, str(ROOT / "ops/lib"))
from demo_server import DemoServer  # noqa: E402

work = Path(tempfile.mkdtemp(prefix="intentloop-http-")); os.chmod(work, 0o755)
texts = work / "texts.txt"
clinc = json.load(open(SHARED / "clinc150/data_full.json"))
texts.write_text("\n".join(t.replace("\n", " ") for t, _ in clinc["test"]) + "\n")
server = DemoServer(f"{args.bin}/intentloop", str(work / "data"))
port, token, version, psql = server.port, server.token, server.version, server.psql
try:
    def run(connections, rate=0.0):
        ids = work / f"ids-{connections}-{int(rate)}.txt"
        cmd = [f"{args.bin}/intentloop-bench", "http", "--url", f"http://127.0.0.1:{port}/v1/predict", "--token", token,
               "--texts", str(texts), "--connections", str(connections), "--duration", str(args.duration), "--ids-out", str(ids)]
        if rate:
            cmd += ["--rate", str(rate)]
        log(" ".join(cmd[1:2] + cmd[9:]))
        result = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        wanted = [l.strip() for l in ids.read_text().split("\n") if l.strip()]
        # Count the ids found in PostgreSQL (in chunks, as a literal array).
        found = 0
        for i in range(0, len(wanted), 5000):
            chunk = ",".join(f"'{x}'" for x in wanted[i:i + 5000])
            found += int(psql(f"SELECT count(*) FROM predictions WHERE id IN ({chunk})"))
        result.update({"ids_2xx": len(wanted), "rows_found": found, "rows_missing": len(wanted) - found})
        log(json.dumps(result))
        return result

    run(8)  # warm-up of the whole path, not reported
    runs = [run(1), run(8), run(64), run(64, 300.0), run(64, 200.0)]
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "command": "ops/bench/http " + " ".join(sys.argv[3:]),
               "machine": f"{os.cpu_count()} cores", "adapter": version, "texts": "CLINC150 test utterances (4,500, cycled)",
               "server": "intentloop serve --demo (max batch 32, max wait 0 ms, one inference worker per core), embedded PostgreSQL on the same machine", "runs": runs}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "http.json").write_text(json.dumps(results, indent=1) + "\n")
    rows = ["| load | connections | predictions/s | p50 ms | p90 ms | p99 ms | 2xx | non-2xx | 2xx ids found in PostgreSQL |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        load = "closed loop" if r["mode"] == "closed" else f"open loop, {r['offered_rate']:.0f}/s offered"
        rows.append(f"| {load} | {r['connections']} | {r['throughput']:.1f} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | "
                    f"{r['ok']} | {r['failed']} | {r['rows_found']} / {r['ids_2xx']} |")
    (OUT / "http.md").write_text(f"""# HTTP benchmark: POST /v1/predict with prediction logging

Command: `{results['command']}` ({results['date']}, {results['machine']}). Server: {results['server']}; adapter {version}.
Load generator: `intentloop-bench http` (AsyncHTTPClient) on the same machine, {args.duration:.0f} s per run after a 3 s warm-up;
texts: {results['texts']}. Closed loop: each connection sends its next request when the last is answered. Open loop: requests
leave on schedule whatever the answers do; latency counts from when a request was due.
The last column looks up every 2xx prediction id (warm-up included) in PostgreSQL after the run.

{chr(10).join(rows)}

Reading: in a closed loop every connection always has one request in flight, so by Little's law the mean latency is
connections / throughput: {64 / runs[2]['throughput'] * 1000:.0f} ms at 64 connections here. A p99 of 100 ms at 64 connections
would need more than 640 predictions/s, which is beyond this model's forward pass on 2 cores (ops/bench/results/encoder.md:
474 utterances/s at batch 32 with the machine to itself; here the HTTP server, PostgreSQL and the load generator share it).
""")
    print((OUT / "http.md").read_text())
finally:
    server.stop()
