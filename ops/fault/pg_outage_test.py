#!/usr/bin/env python3
"""Fault test (issue 9): PostgreSQL stops under steady load, then comes back.

  pg_outage_test.py --intentloop BIN --work-dir DIR

Python 3 standard library only. Everything runs on 127.0.0.1.

1. Creates its own PostgreSQL cluster in DIR/pgdata (not the server's embedded one: the server
   supervises and restarts that one) with the system's binaries (`pg_config --bindir`, else the
   newest /usr/lib/postgresql/*/bin), run as the `postgres` user when we are root; SCRAM password,
   127.0.0.1 at a free port, no Unix socket.
2. Imports the demo dataset and creates an API client with the project's CLI, then starts
   `BIN serve --database-url URL --train-first-adapter` (data in DIR/serve, log in DIR/serve.log)
   and waits for /readyz = 200 (up to 5 minutes: the first adapter is trained on first start).
3. Steady load: 4 threads, ~30 POST /v1/predict per second in all, each logical request with its
   own Idempotency-Key and a unique text; a 503 or a connection error is retried after Retry-After
   (or 0.5 s) with the same key until a 2xx or the end of the test. /readyz is polled every 100 ms.
4. After ~5 s: `pg_ctl -m fast stop` at T0; besides the load's retries, a fresh (unretried)
   request every 250 ms during the outage. Every request sent from T0 + 0.5 s on is answered
   within 2 s with 503 + Retry-After ({"error": {"code": "unavailable"}}), never another 5xx and
   never a hang; every /readyz answers within 1 s and, from T0 + 2 s on, is 503 "not_ready";
   /healthz stays 200.
5. After ~8 s: `pg_ctl start` (same port, same data) at T1. A predict succeeds and /readyz is 200
   within 5 s of T1, and everything sent from T1 + 5 s on succeeds. Load runs ~5 s more, then
   stops (pending retries get up to 15 s).
6. Every prediction id answered with a 2xx is in `predictions`; no logical request was stored
   twice (one row per unique text; one request row per Idempotency-Key when the server has a
   `prediction_requests` table); a repeated Idempotency-Key replays the same id.
7. Prints a short report and "fault: 1 passed, 0 failed" (or "fault: 0 passed, 1 failed", exit 1).

Cleans up (SIGTERM to the server, fast stop of the cluster) on every exit path; the whole test
after the server is ready is bounded by a 3-minute watchdog."""
import argparse, glob, http.client, json, os, re, secrets, shutil, signal, socket, subprocess, sys, threading, time, uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

HEALTHY_S = 5.0          # load before the outage
OUTAGE_S = 30.0          # PostgreSQL down (--outage-seconds): long enough that PostgresNIO's own reconnect
                         # back-off (100 ms × 1.25^n) alone would take ~7 s to notice the return
AFTER_S = 5.0            # load after PostgreSQL is back
DRAIN_S = 15.0           # pending retries after the load stops
RATE = 30.0              # logical requests per second, all threads together
THREADS = 4
ANSWER_S = 2.0           # a request during the outage is answered within this
GRACE_S = 0.5            # requests sent in [T0, T0 + GRACE_S) may still be in flight when the database goes
READY_ANSWER_S = 1.0     # /readyz answers within this
NOT_READY_BY_S = 2.0     # /readyz is not_ready from T0 + this on
RECOVER_S = 5.0          # predict 2xx and /readyz 200 within this of T1
REQUEST_TIMEOUT_S = 8.0  # client socket timeout (a hang)
WATCHDOG_S = 180.0       # after the server is ready
RETRY_AFTER_CAP_S = 5.0  # never sleep longer than this between retries


def log(msg):
    print(f"fault: {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pg_bindir():
    try:
        d = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        if d and os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    except (OSError, subprocess.SubprocessError):
        pass
    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.path.exists(os.path.join(d, "pg_ctl"))]
    if not dirs:
        raise RuntimeError("no PostgreSQL binaries (pg_config --bindir, /usr/lib/postgresql/*/bin)")
    return max(dirs, key=lambda d: [int(x) if x.isdigit() else 0 for x in d.split("/")[-2].split(".")])


class Cluster:
    """A private PostgreSQL cluster on 127.0.0.1:port, run as `postgres` when we are root."""

    def __init__(self, work_dir):
        self.bindir = pg_bindir()
        self.root = os.geteuid() == 0
        self.dir = os.path.join(work_dir, "pgdata")
        self.logfile = os.path.join(work_dir, "pglog", "postgres.log")
        self.port = free_port()
        self.user, self.database = "intentloop", "intentloop"
        self.password = secrets.token_hex(16)
        self.url = f"postgres://{self.user}:{self.password}@{HOST}:{self.port}/{self.database}"
        self.started = False

    def _as_pg(self, args):
        return (["runuser", "-u", "postgres", "--"] if self.root else []) + args

    def _run(self, args, timeout=120, check=True):
        r = subprocess.run(self._as_pg(args), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-2000:]}")
        return r

    def _own(self, path):
        if self.root:
            shutil.chown(path, "postgres", "postgres")

    def init(self):
        work = os.path.dirname(self.dir)
        os.makedirs(self.dir, mode=0o700)
        os.makedirs(os.path.dirname(self.logfile), mode=0o700)
        self._own(self.dir); self._own(os.path.dirname(self.logfile))
        # Name the cluster the way EmbeddedPostgres does, so that ops/lib/stop-own-clusters (ops/test's
        # exit trap) stops it even if this script is killed before its own clean-up.
        with open(os.path.join(work, "postgres.cluster"), "w") as f:
            f.write(self.dir + "\n")
        if self.root:
            probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", self.dir], capture_output=True)
            if probe.returncode != 0:
                raise RuntimeError(f"the postgres user cannot reach {self.dir}: every parent of --work-dir must be traversable (chmod 755)")
        pwfile = os.path.join(work, "pgpass.tmp")
        with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(self.password + "\n")
        self._own(pwfile)
        try:
            self._run([os.path.join(self.bindir, "initdb"), "-D", self.dir, "-U", self.user, f"--pwfile={pwfile}",
                       "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C"], timeout=180)
        finally:
            os.unlink(pwfile)
        with open(os.path.join(self.dir, "postgresql.conf"), "a") as f:
            f.write(f"\n# pg_outage_test\nlisten_addresses = '{HOST}'\nport = {self.port}\nunix_socket_directories = ''\n"
                    "max_connections = 50\n")

    def start(self):
        self.started = True
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.dir, "-l", self.logfile, "-w", "-t", "60", "start"], timeout=90)

    def stop(self, mode="fast"):
        r = self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.dir, "-m", mode, "-w", "-t", "60", "stop"], timeout=90, check=False)
        if r.returncode != 0 and "PID file" not in (r.stderr + r.stdout):
            raise RuntimeError(f"pg_ctl stop failed: {(r.stderr or r.stdout).strip()}")

    def cleanup(self):
        if not self.started or not os.path.exists(os.path.join(self.dir, "postmaster.pid")):
            return
        try:
            self.stop("fast")
        except Exception:
            try:
                self.stop("immediate")
            except Exception as e:
                log(f"could not stop the test cluster in {self.dir}: {e}")

    def psql(self, sql, database=None, timeout=60):
        psql = os.path.join(self.bindir, "psql")
        if not os.path.exists(psql):
            psql = "psql"
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="10")
        r = subprocess.run([psql, "-h", HOST, "-p", str(self.port), "-U", self.user, "-d", database or self.database,
                            "-X", "-At", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                           input=sql, env=env, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}")
        return r.stdout.strip()


def http_call(port, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT_S):
    """One request on a fresh connection: (status, headers dict lower-cased, body bytes)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


class Attempt:
    __slots__ = ("key", "text", "n", "sent", "done", "status", "error", "retry_after", "pid", "code", "replayed", "probe")

    def __init__(self, key, text, n, probe=False):
        self.key, self.text, self.n, self.probe = key, text, n, probe
        self.sent = self.done = None
        self.status = self.error = self.retry_after = self.pid = self.code = self.replayed = None

    @property
    def latency(self):
        return self.done - self.sent


def predict(port, token, key, text, n, probe=False):
    a = Attempt(key, text, n, probe)
    body = json.dumps({"text": text}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key}
    a.sent = time.monotonic()
    try:
        status, h, data = http_call(port, "POST", "/v1/predict", body, headers)
        a.status = status
        a.retry_after = h.get("retry-after")
        a.replayed = h.get("idempotent-replayed")
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        if 200 <= status < 300 and isinstance(doc, dict):
            a.pid = doc.get("id")
        elif isinstance(doc, dict) and isinstance(doc.get("error"), dict):
            a.code = doc["error"].get("code")
    except socket.timeout:
        a.error = "timeout"
    except (OSError, http.client.HTTPException) as e:
        a.error = type(e).__name__
    a.done = time.monotonic()
    return a


def retry_delay(a):
    if a.retry_after:
        try:
            return min(max(float(a.retry_after), 0.0), RETRY_AFTER_CAP_S)
        except ValueError:
            pass
    return 0.5


class Load:
    def __init__(self, port, token, texts):
        self.port, self.token, self.texts = port, token, texts
        self.attempts, self.lock = [], threading.Lock()
        self.stop_new = threading.Event()   # no new logical requests
        self.abort = threading.Event()      # stop retrying too
        self.counter = 0
        self.unfinished = []
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(THREADS)]

    def next_request(self):
        with self.lock:
            self.counter += 1
            n = self.counter
        key = str(uuid.uuid4())
        return key, f"{self.texts[n % len(self.texts)]} (ref {key[:13]})", n

    def record(self, a):
        with self.lock:
            self.attempts.append(a)

    def run(self, i):
        interval = THREADS / RATE
        next_at = time.monotonic() + i * interval / THREADS
        while not self.stop_new.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                if self.stop_new.wait(delay):
                    break
            next_at = max(next_at + interval, time.monotonic())
            key, text, n = self.next_request()
            while True:
                a = predict(self.port, self.token, key, text, n)
                self.record(a)
                if a.status is not None and 200 <= a.status < 300:
                    break
                if a.status is not None and a.status != 503:
                    break  # not retryable (recorded as a failure)
                if self.abort.wait(retry_delay(a)):
                    with self.lock:
                        self.unfinished.append(key)
                    return

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self, drain_s):
        self.stop_new.set()
        deadline = time.monotonic() + drain_s
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.abort.set()
        for t in self.threads:
            t.join(REQUEST_TIMEOUT_S + 1)
        return not any(t.is_alive() for t in self.threads)


class Poller:
    """GET /readyz every 100 ms: (sent, done, status, body status, error)."""

    def __init__(self, port):
        self.port, self.samples, self.stop = port, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            sent = time.monotonic()
            status = body_status = error = None
            try:
                status, _, data = http_call(self.port, "GET", "/readyz", timeout=3.0)
                try:
                    body_status = json.loads(data).get("status")
                except (ValueError, AttributeError):
                    body_status = None
            except socket.timeout:
                error = "timeout"
            except (OSError, http.client.HTTPException) as e:
                error = type(e).__name__
            done = time.monotonic()
            self.samples.append((sent, done, status, body_status, error))
            self.stop.wait(max(0.0, 0.1 - (done - sent)))


class Server:
    def __init__(self, binary, cluster, work_dir, env):
        self.binary, self.cluster, self.env = binary, cluster, env
        self.port = free_port()
        self.data_dir = os.path.join(work_dir, "serve")
        self.logpath = os.path.join(work_dir, "serve.log")
        self.process = None

    def cli(self, *args, extra_env=None):
        env = dict(self.env, **(extra_env or {}))
        r = subprocess.run([self.binary, *args, "--database-url", self.cluster.url], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"intentloop {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
        return r.stdout

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        self.logfile = open(self.logpath, "w")
        self.process = subprocess.Popen([self.binary, "serve", "--database-url", self.cluster.url, "--train-first-adapter",
                                         "--host", HOST, "--port", str(self.port), "--data-dir", self.data_dir],
                                        cwd=ROOT, env=self.env, stdout=self.logfile, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"intentloop serve exited with {self.process.returncode} before it was ready")
            try:
                if http_call(self.port, "GET", "/readyz", timeout=2.0)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.5)
        raise RuntimeError("intentloop serve was not ready (/readyz 200) within 5 minutes")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log("the server did not stop within 30 s of SIGTERM; killing it")
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, n=25):
        try:
            return "".join(open(self.logpath, errors="replace").readlines()[-n:])
        except OSError:
            return ""


UUID_RE = re.compile(r"^[0-9a-fA-F-]{36}$")


def main():
    global OUTAGE_S
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--intentloop", required=True, help="the intentloop binary")
    ap.add_argument("--work-dir", required=True, help="a new or empty folder for the cluster, the server's data and logs")
    ap.add_argument("--outage-seconds", type=float, default=30.0, help="how long PostgreSQL stays down (default %(default)s)")
    args = ap.parse_args()
    OUTAGE_S = args.outage_seconds
    binary = os.path.abspath(args.intentloop)
    work = os.path.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    if os.listdir(work):
        raise SystemExit(f"--work-dir {work} is not empty")
    os.chmod(work, 0o755)

    env = dict(os.environ)
    env.setdefault("INTENTLOOP_MIGRATIONS", str(ROOT / "Migrations"))
    env.setdefault("INTENTLOOP_WEB", str(ROOT / "web"))
    env.setdefault("INTENTLOOP_DEMO", str(ROOT / "ops" / "demo"))
    env.pop("INTENTLOOP_DATA", None)

    failures = []
    cluster = Cluster(work)
    server = None
    load = poller = None
    cleaned = threading.Lock()

    def cleanup():
        if not cleaned.acquire(blocking=False):
            return
        if load:
            load.stop_new.set(); load.abort.set()
        if poller:
            poller.stop.set()
        if server:
            try:
                server.stop()
            except Exception as e:
                log(f"stopping the server: {e}")
        cluster.cleanup()

    def on_signal(signum, _frame):
        raise SystemExit(f"interrupted by signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    def watchdog():
        failures.append(f"watchdog: the test ran over {WATCHDOG_S:.0f} s after the server was ready")
        log(failures[-1])
        cleanup()
        print("fault: 0 passed, 1 failed", flush=True)
        os._exit(1)

    ok = False
    timer = None
    try:
        # 1. The cluster.
        cluster.init()
        cluster.start()
        cluster.psql(f"CREATE DATABASE {cluster.database}", database="postgres")
        log(f"PostgreSQL ({cluster.bindir}) at {HOST}:{cluster.port}, cluster {cluster.dir}")

        # 2. Data, a client and the server.
        server = Server(binary, cluster, work, env)
        server.cli("import", str(ROOT / "ops" / "demo" / "train.jsonl"))
        server.cli("import", str(ROOT / "ops" / "demo" / "golden.jsonl"), "--golden")
        server.cli("users", "add", "fault-client", "--role", "client")
        token = next((l.strip() for l in server.cli("users", "token", "fault-client").splitlines() if l.strip().startswith("il_")), None)
        if not token:
            raise RuntimeError("intentloop users token printed no il_… token")
        t_serve = time.monotonic()
        log(f"starting intentloop serve on port {server.port} (log: {server.logpath}); training the first adapter may take a minute")
        server.start()
        log(f"server ready after {time.monotonic() - t_serve:.1f} s")
        timer = threading.Timer(WATCHDOG_S, watchdog)
        timer.daemon = True
        timer.start()

        texts = [json.loads(l)["text"] for l in open(ROOT / "ops" / "demo" / "golden.jsonl") if l.strip()]
        load, poller = Load(server.port, token, texts), Poller(server.port)
        poller.thread.start()
        load.start()

        # 3–4. Healthy load, then the outage.
        time.sleep(HEALTHY_S)
        t0 = time.monotonic()
        cluster.stop("fast")
        stop_s = time.monotonic() - t0
        log(f"PostgreSQL stopped (pg_ctl -m fast stop took {stop_s:.2f} s); outage for {OUTAGE_S:.0f} s")
        # Besides the load's retries (which wait Retry-After), a fresh request every 250 ms during
        # the outage: each must be answered 503 within 2 s. Not retried: nothing was acknowledged.
        probes, healthz, n_probe = [], None, 0
        while time.monotonic() < t0 + OUTAGE_S - 0.3:
            if healthz is None and time.monotonic() >= t0 + OUTAGE_S / 2:
                hs = time.monotonic()
                try:
                    healthz = (http_call(server.port, "GET", "/healthz", timeout=3.0)[0], time.monotonic() - hs)
                except (OSError, http.client.HTTPException) as e:
                    healthz = (type(e).__name__, time.monotonic() - hs)
            key = str(uuid.uuid4())
            probes.append(predict(server.port, token, key, f"{texts[n_probe % len(texts)]} (outage {key[:13]})", -1, probe=True))
            n_probe += 1
            time.sleep(0.25)
        time.sleep(max(0.0, t0 + OUTAGE_S - time.monotonic()))

        # 5. Recovery.
        t1 = time.monotonic()
        cluster.start()
        start_s = time.monotonic() - t1
        log(f"PostgreSQL started again (pg_ctl start took {start_s:.2f} s)")
        while time.monotonic() < t1 + RECOVER_S + 2.0:
            key = str(uuid.uuid4())
            a = predict(server.port, token, key, f"{texts[len(probes) % len(texts)]} (probe {key[:13]})", -1, probe=True)
            probes.append(a)
            if a.status is not None and 200 <= a.status < 300:
                break
            time.sleep(0.25)
        time.sleep(max(0.0, t1 + AFTER_S - time.monotonic()))

        # Idempotent replay: the same key twice gives the same prediction.
        key = str(uuid.uuid4())
        replay_text = f"{texts[0]} (replay {key[:13]})"
        first = predict(server.port, token, key, replay_text, -2, probe=True)
        second = predict(server.port, token, key, replay_text, -2, probe=True)
        probes += [first, second]

        drained = load.finish(DRAIN_S)
        poller.stop.set(); poller.thread.join(5)
        t_end = time.monotonic()

        # Checks on what the clients saw.
        attempts = load.attempts + probes
        def ok2(a): return a.status is not None and 200 <= a.status < 300
        in_outage = [a for a in load.attempts + probes if t0 + GRACE_S <= a.sent < t1]
        for a in in_outage:
            what = a.error or a.status
            if a.latency > ANSWER_S:
                failures.append(f"request sent at T0+{a.sent - t0:.2f} s answered after {a.latency:.2f} s ({what})")
            elif ok2(a) and a.done >= t1:
                pass  # the database was being started again
            elif a.status != 503:
                failures.append(f"request sent at T0+{a.sent - t0:.2f} s got {what}, not 503")
            elif not a.retry_after:
                failures.append(f"503 at T0+{a.sent - t0:.2f} s without Retry-After")
            elif a.code != "unavailable":
                failures.append(f"503 at T0+{a.sent - t0:.2f} s with error code {a.code!r}, not 'unavailable'")
        for a in attempts:
            if a in in_outage:
                pass  # checked above
            elif a.status is not None and a.status >= 500 and a.status != 503:
                failures.append(f"{a.status} for a request sent at T0{a.sent - t0:+.2f} s")
            elif a.status is not None and not ok2(a) and a.status != 503:
                failures.append(f"{a.status} ({a.code}) for a request sent at T0{a.sent - t0:+.2f} s")
            if a.done < t0 and not ok2(a):
                failures.append(f"before the outage: {a.error or a.status} for a request sent at T0{a.sent - t0:+.2f} s")
            if a.sent >= t1 + RECOVER_S and not ok2(a):
                failures.append(f"after recovery: {a.error or a.status} for a request sent at T1+{a.sent - t1:.2f} s")
        if healthz is None or healthz[0] != 200 or healthz[1] > READY_ANSWER_S:
            failures.append(f"/healthz during the outage: {healthz}")

        samples = poller.samples
        for sent, done, status, body, error in samples:
            if done - sent > READY_ANSWER_S:
                failures.append(f"/readyz sent at T0{sent - t0:+.2f} s took {done - sent:.2f} s ({error or status})")
            elif t0 + NOT_READY_BY_S <= sent < t1 and not (status == 503 and body == "not_ready") and not (status == 200 and done >= t1):
                failures.append(f"/readyz sent at T0+{sent - t0:.2f} s: {error or status} {body!r}, not 503 not_ready")
            elif sent >= t1 + RECOVER_S and status != 200:
                failures.append(f"/readyz sent at T1+{sent - t1:.2f} s: {error or status} {body!r}, not 200")
            elif done < t0 and status != 200:
                failures.append(f"/readyz before the outage: {error or status} {body!r}")

        first_503 = min((a.done - t0 for a in attempts if a.done >= t0 and a.status == 503), default=None)
        outage_latency = max((a.latency for a in in_outage), default=None)
        not_ready = [s for s in samples if t0 <= s[0] < t1 and s[2] == 503 and s[3] == "not_ready"]
        readyz_not_ready_at = min((s[1] - t0 for s in not_ready), default=None)
        recovered = [a.done - t1 for a in attempts if a.sent >= t1 and ok2(a)]
        recovery_s = min(recovered, default=None)
        readyz_ok = [s[1] - t1 for s in samples if s[0] >= t1 and s[2] == 200]
        readyz_recovery_s = min(readyz_ok, default=None)
        if recovery_s is None or recovery_s > RECOVER_S:
            failures.append(f"no predict 2xx within {RECOVER_S:.0f} s of T1 (first: {recovery_s})")
        if readyz_recovery_s is None or readyz_recovery_s > RECOVER_S:
            failures.append(f"/readyz not 200 within {RECOVER_S:.0f} s of T1 (first: {readyz_recovery_s})")
        if not drained or load.unfinished:
            failures.append(f"{len(load.unfinished)} logical requests never got a 2xx (threads drained: {drained})")
        if not (ok2(first) and ok2(second) and first.pid == second.pid):
            failures.append(f"idempotent replay: {first.status} {first.pid} then {second.status} {second.pid} (same key)")
        elif (second.replayed or "").lower() != "true":
            failures.append(f"idempotent replay: no 'Idempotent-Replayed: true' header on the replay (got {second.replayed!r})")

        by_key = {}
        for a in attempts:
            if ok2(a):
                by_key.setdefault(a.key, set()).add(a.pid)
        for k, ids in by_key.items():
            if len(ids) > 1:
                failures.append(f"key {k} answered with different ids {sorted(map(str, ids))}")

        # 6. Nothing acknowledged is lost, nothing stored twice.
        ids = sorted({str(a.pid) for a in attempts if ok2(a)})
        bad = [i for i in ids if not UUID_RE.match(i)]
        if bad:
            failures.append(f"2xx answers without a prediction id: {bad[:3]}")
        ids = [i for i in ids if UUID_RE.match(i)]
        stored = int(cluster.psql(f"SELECT count(*) FROM predictions WHERE id = ANY('{{{','.join(ids)}}}'::uuid[])")) if ids else 0
        if stored != len(ids):
            missing = cluster.psql(f"SELECT x FROM unnest('{{{','.join(ids)}}}'::uuid[]) AS x WHERE x NOT IN (SELECT id FROM predictions)")
            failures.append(f"{len(ids) - stored} of {len(ids)} acknowledged predictions are not in the database: {missing.split()[:5]}")
        texts_sent = sorted({a.text for a in attempts})
        text_list = ",".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in texts_sent)
        dup_texts = cluster.psql("SELECT count(*) FROM (SELECT text FROM predictions WHERE text = ANY($q${" + text_list +
                                 "}$q$::text[]) GROUP BY text HAVING count(*) > 1) d")
        if int(dup_texts) != 0:
            failures.append(f"{dup_texts} logical requests (unique texts) were stored more than once")
        idem_note = None
        if cluster.psql("SELECT to_regclass('prediction_requests') IS NOT NULL") == "t":
            keys = sorted(by_key)
            key_array = "'{" + ",".join(keys) + "}'::text[]"
            cols = set(cluster.psql("SELECT column_name FROM information_schema.columns WHERE table_name = 'prediction_requests'").split())
            pcols = set(cluster.psql("SELECT column_name FROM information_schema.columns WHERE table_name = 'predictions'").split())
            dup_keys = int(cluster.psql(f"SELECT count(*) FROM (SELECT client_id, idempotency_key FROM prediction_requests "
                                        f"WHERE idempotency_key::text = ANY({key_array}) GROUP BY 1, 2 HAVING count(*) > 1) d"))
            stored_keys = int(cluster.psql(f"SELECT count(DISTINCT idempotency_key) FROM prediction_requests WHERE idempotency_key::text = ANY({key_array})"))
            if dup_keys:
                failures.append(f"{dup_keys} idempotency keys have more than one prediction_requests row")
            if stored_keys != len(keys):
                failures.append(f"{len(keys) - stored_keys} of {len(keys)} acknowledged idempotency keys are not in prediction_requests")
            idem_note = f"{stored_keys} keys in prediction_requests, {dup_keys} duplicated"
            if "id" in cols and "request_id" in pcols:
                multi = int(cluster.psql(f"SELECT count(*) FROM (SELECT r.id FROM prediction_requests r JOIN predictions p ON p.request_id = r.id "
                                         f"WHERE r.idempotency_key::text = ANY({key_array}) GROUP BY r.id HAVING count(p.id) > 1) d"))
                if multi:
                    failures.append(f"{multi} single-text requests have more than one prediction row")
                idem_note += f", {multi} with more than one prediction"
        else:
            idem_note = "no prediction_requests table yet: per-key row count skipped (unique-text check done instead)"

        # 7. Report.
        statuses = {}
        for a in attempts:
            k = a.error or str(a.status)
            statuses[k] = statuses.get(k, 0) + 1
        n2 = sum(1 for a in attempts if ok2(a))
        n503 = statuses.get("503", 0)
        fmt = lambda v: "none" if v is None else f"{v:.2f} s"
        print("fault: report", flush=True)
        print(f"  requests sent: {len(attempts)} ({load.counter} logical + {len(probes)} probes) in {t_end - t0 + HEALTHY_S:.0f} s; "
              f"2xx {n2}, 503 {n503}, other {len(attempts) - n2 - n503} {dict(sorted(statuses.items()))}")
        healthy = sorted(a.latency for a in load.attempts if a.done < t0 and ok2(a))
        if healthy:
            print(f"  healthy: {len(healthy) / HEALTHY_S:.1f} requests/s, latency median {healthy[len(healthy) // 2] * 1000:.0f} ms, "
                  f"max {healthy[-1] * 1000:.0f} ms")
        in_flight = [a for a in attempts if a.sent < t0 + GRACE_S and a.done >= t0]
        if in_flight:
            seen = {}
            for a in in_flight:
                seen[a.error or str(a.status)] = seen.get(a.error or str(a.status), 0) + 1
            print(f"  in flight at T0 or sent in [T0, T0+{GRACE_S}): {len(in_flight)}, answered up to T0+"
                  f"{max(a.done - t0 for a in in_flight):.2f} s (longest {max(a.latency for a in in_flight):.2f} s) with {seen}")
        print(f"  outage: pg_ctl stop {stop_s:.2f} s; first 503 answered at T0+{fmt(first_503)}; max latency of the {len(in_outage)} "
              f"requests sent in [T0+{GRACE_S}, T1): {fmt(outage_latency)}")
        retry_afters = sorted({a.retry_after for a in attempts if a.status == 503 and a.retry_after})
        print(f"  Retry-After values: {retry_afters or 'none'}; /healthz during the outage: {healthz}")
        print(f"  /readyz: {len(samples)} polls, max answer {fmt(max((s[1] - s[0] for s in samples), default=None))}; "
              f"not_ready at T0+{fmt(readyz_not_ready_at)}; 200 again at T1+{fmt(readyz_recovery_s)}")
        print(f"  recovery: pg_ctl start {start_s:.2f} s; first predict 2xx at T1+{fmt(recovery_s)}")
        print(f"  database: {stored} of {len(ids)} acknowledged ids stored; duplicated texts: {dup_texts}; {idem_note}")
        print(f"  idempotent replay: {first.status} {first.pid} / {second.status} {second.pid} replayed={second.replayed!r}")
        groups = {}
        for f in dict.fromkeys(failures):  # "what: detail" lines, grouped by what
            groups.setdefault(re.sub(r"[-+]?\d+\.\d+ s|\b[0-9a-f-]{36}\b|\d+", "#", f), []).append(f)
        for fs in groups.values():
            print(f"  FAIL ({len(fs)}x) {fs[0]}" + (f"; also {fs[1]}" if len(fs) > 1 else "") + (" …" if len(fs) > 2 else ""))
        ok = not failures
    except BaseException as e:  # noqa: BLE001 — report, clean up, fail
        failures.append(f"{type(e).__name__}: {e}")
        log(f"error: {failures[-1]}")
    finally:
        if timer:
            timer.cancel()
        if not ok and server:
            tail = server.log_tail()
            if tail:
                print(f"fault: last lines of {server.logpath}:\n{tail}", end="" if tail.endswith("\n") else "\n")
        cleanup()
        print(f"fault: {1 if ok else 0} passed, {0 if ok else 1} failed", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
