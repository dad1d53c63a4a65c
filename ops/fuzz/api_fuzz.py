#!/usr/bin/env python3
"""Hostile-input fuzz test (issue 9): property-based requests against the running server's own
OpenAPI document, as every kind of caller, bounded in time.

  api_fuzz.py --intentloop BIN --data-dir DIR [--max-seconds N] [--seed N]

--max-seconds (default 200) bounds the whole run, the server's start included (the demo trains a
first adapter on a fresh data directory, about a minute); the requests get what is left after
the start, at least 60 s.

Starts `intentloop serve --demo` on DIR (ops/lib/demo_server.py), then gets credentials for every
role: the demo-client API token from the banner, API tokens for demo-agent and demo-admin from
`BIN users token NAME --data-dir DIR` (the running server's embedded database is reused), and
logged-in page sessions for demo-agent and demo-admin through the login form (GET /login for the
il_login_csrf cookie and the hidden csrf field, POST /login; the admin password is read from
DIR/demo-credentials.json), with the CSRF token of each session read from a page.

It loads GET /openapi.yaml (PyYAML, then schemathesis) and sends, for every operation, as nobody (with
schemathesis's own hostile Authorization headers and cookies), as each role's bearer token and as
each role's cookie session (forms get the session's CSRF token most of the time):
  1. explicit hostile cases: NUL and other control characters, lone combining marks, 10,000
     combining marks, right-to-left overrides, noncharacters, lone surrogates, 1 MB strings, huge
     and negative integers and non-finite numbers in every query parameter, impossible dates,
     invalid UTF-8 bodies, JSON nesting bombs, wrong Content-Types, Idempotency-Key reuse, junk
     and malformed headers and cookies (some over a raw socket);
  2. schemathesis's coverage phase (boundary and schema-violating values of every parameter);
  3. Hypothesis-driven generation (positive and negative modes) until --max-seconds is spent.
Known prediction ids and proposed intent names are fed back into the generated cases so that
requests get past "not found" into the code that stores and renders.

The property: no response is a 5xx (503 is the contract's answer when the database is down,
which it is not here, so it counts too), no request fails at the connection level (refused,
reset, timed out; a deliberately malformed HTTP request may be closed without an answer), and at
the end the server process is alive and /healthz answers. A crash is reported with the request
that caused it; the server is then restarted on the same data directory (at most 3 times) so the
run goes on finding other failures. Failures are printed grouped by method, route, status and
the cause the server logged for them, each with example requests (caller, path and query, a
short body, the answer); every failing request is listed in DIR/fuzz-failures.tsv. The run ends
with "fuzz: 1 passed, 0 failed" or "fuzz: 0 passed, 1 failed" (exit 1). --seed repeats a run's
choices (the server's answers, and so what follows from them, may still differ).
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from demo_server import DemoServer  # noqa: E402

import requests  # noqa: E402  (installed with schemathesis)
import yaml  # noqa: E402  (installed with schemathesis)
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, Verbosity, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

warnings.filterwarnings("ignore")

MAX_RESTARTS = 3
REQUEST_TIMEOUT = 30.0
MIN_FUZZ_SECONDS = 60.0  # the requests get at least this long, however slow the server's start was
RESERVE_SECONDS = 15.0  # for the final checks, the report and the server's shutdown
WATCHDOG_EXTRA_SECONDS = 300.0  # past --max-seconds by this much, the run is stopped whatever it is doing


class OutOfTime(BaseException):
    """Stops a Hypothesis run at the phase's deadline (a BaseException: Hypothesis does not shrink it)."""


class ServerGone(BaseException):
    """The server died and may not be restarted any more: stop fuzzing."""


def clip(value, n=160):
    s = value if isinstance(value, str) else repr(value)
    return s if len(s) <= n else s[:n] + f"…[{len(s)} chars]"


def describe_body(body):
    if body is None:
        return ""
    if isinstance(body, (bytes, bytearray)):
        return clip(bytes(body[:200]).decode("utf-8", "backslashreplace"), 120) + (f" [{len(body)} bytes]" if len(body) > 120 else "")
    return clip(body, 120)


def log_error_cause(line):
    """What an error line of the server's log is about, without request ids, values and numbers."""
    psql = re.search(r"message: (.*?), (?:routine|localizedSeverity):", line)
    if psql:
        sql = re.search(r"query: PostgresQuery\(sql: (.*?), binds", line)
        cause = f"PostgreSQL: {psql[1]}" + (f" in {sql[1]}" if sql else "")
    else:
        inner = re.search(r"closureError: Optional\((.*?)(?:\), rollbackError|$)", line)
        message = re.search(r"\berror=(.*?)(?: hb\.request\.id=| \[\w+\] |$)", line)
        cause = inner[1] if inner else message[1] if message else re.sub(r"^\S+\s+", "", line)
    first, last = cause.find("'"), cause.rfind("'")  # quoted input (which may hold quotes itself, or a line break)
    if first >= 0:
        cause = cause[:first] + "'…'" + (cause[last + 1:] if last > first else "")
    cause = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", cause)
    return clip(re.sub(r"\b\d+\b", "N", cause), 200)


def is_log_error(line):
    return bool(re.search(r"^\S+ (error|critical) |Fatal error|Program crashed", line))


# --------------------------------------------------------------------------------- callers

class Caller:
    """Who sends a request: nobody, an API token, or a page session (cookie + CSRF token)."""

    def __init__(self, name, kind, role, token=None, cookie=None, csrf=None):
        self.name, self.kind, self.role = name, kind, role
        self.token, self.cookie, self.csrf = token, cookie, csrf

    def apply(self, kw):
        headers = {k: v for k, v in (kw.get("headers") or {}).items()}
        cookies = dict(kw.get("cookies") or {})
        if self.kind != "nobody":  # generated credentials stay only for the anonymous caller
            headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
            cookies.pop("il_session", None)
        if self.kind == "bearer":
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.kind == "session":
            cookies["il_session"] = self.cookie
        kw["headers"], kw["cookies"] = headers, cookies
        return kw


# --------------------------------------------------------------------------------- hostile values

def hostile_texts():
    return [
        ("NUL inside", "before\u0000after"),
        ("only NUL", "\u0000"),
        ("C0 control (BEL, ESC)", "bell\u0007 esc\u001b[31m"),
        ("DEL and C1 controls", "a\u007f\u0085\u009b"),
        ("lone combining mark", "\u0301"),
        ("10,000 combining marks", "a" + "\u0301" * 10000),
        ("2,001 scalars in one grapheme", "a" + "\u0301" * 2000),
        ("2,000 scalars exactly (emoji, 8,000 bytes)", "\U0001F600" * 2000),
        ("2,001 scalars", "x" * 2001),
        ("RTL override", "\u202eevil\u202c text \u2067isolate\u2069"),
        ("2,000 RTL overrides", "\u202e" * 2000),
        ("BOM first", "\ufeffhello"),
        ("noncharacter U+FFFF", "a\uffffb"),
        ("noncharacter U+FDD0", "\ufdd0"),
        ("noncharacter U+10FFFF", "\U0010ffff"),
        ("1,000 zero-width joiners", "\u200d" * 1000),
        ("whitespace only", " \t\r\n\u00a0\u3000"),
        ("empty", ""),
        ("1 MB ASCII", "a" * 1_000_000),
        ("1 MB two-byte", "\u00e9" * 500_000),
        ("markup", "<script>alert(1)</script>{{csrf}}{{{text}}}"),
        ("SQL", "'; DROP TABLE predictions; --"),
        ("format specifiers", "%s%n%x%d%@" * 50),
        ("CRLF header injection", "a\r\nSet-Cookie: il_session=x"),
        ("emoji ZWJ sequence", "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466" * 100),
    ]


HOSTILE_INTS = ["999999999999999999", "-1", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                "99999999999999999999999999", "1e3", "NaN", "0x10", "+5", " 1", "\u0663", "42949672960", "-0", "1.5", ""]
HOSTILE_FLOATS = ["1e309", "-1e309", "NaN", "nan", "inf", "-inf", "Infinity", "1e-400", "-0", "2", "-1", "0x1p3",
                  "1_000", "3.4028236e38", "99999999999999999999999999999", "0.5e", ""]
HOSTILE_DATES = ["9999-99-99", "0000-00-00", "0001-01-01", "9999-12-31", "99999-01-01", "99999999-01-01", "-0001-01-01",
                 "2024-02-30", "1970-01-01", "2024-1-1", "+275760-09-13", "2024-13-01", "1900-01-01T00:00:00Z", "\u0000", ""]
HOSTILE_STRINGS = ["\u0000", "a\u0000b", "\u0301", "a" + "\u0301" * 10000, "\u202eabc", "\ufeff", "\uffff", "%00", "%",
                   "'; --", "../../etc/passwd", "x" * 60000, "\U0001F600" * 100, " ", "\r\n"]
# Put in every query, path, header and cookie parameter of every operation of the document.
HOSTILE_PARAMETER_VALUES = ["999999999999999999", "-1", "-9223372036854775809", "18446744073709551616", "1e309", "-1e309", "NaN",
                            "-inf", "0x7fffffff", "\u0000", "a\u0000b", "\u0301", "a" + "\u0301" * 10000, "\u202eabc\u202c",
                            "\uffff", "x" * 60000, "%", "[]", "{}", " ", ""]
HOSTILE_PATH_SEGMENTS = ["%00", "a%00b", "%ff%fe", "%ED%A0%80", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%25", "x" * 20000,
                         "%CC%81", "%E2%80%AE", "00000000-0000-0000-0000-000000000000", "'%20OR%201=1", "%F0%9F%98%80", "-1",
                         "999999999999999999"]


# --------------------------------------------------------------------------------- the fuzzer

class Fuzzer:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.server = None
        self.restarts = 0
        self.sent = 0
        self.sent_by_phase = {}
        self.by_operation = {}
        self.failures = {}  # key -> {"count", "examples": [...]}
        self.crash_logs = []
        self.prediction_ids = []
        self.intent_names = ["track_package"]
        self.proposed_intents = []
        self.idempotency_keys = ["fuzz-key-1", "fuzz-key-2", "fuzz-key-3"]
        self.http = requests.Session()
        self.phase = "setup"
        self.phase_deadline = float("inf")
        self.notes = []
        self.statuses = {}  # (method, route) -> {"2xx": n, ...}
        self.failing_requests = []  # every one, for DATA-DIR/fuzz-failures.tsv
        self.rounds = 0

    # ---- server

    @property
    def base(self):
        return self.server.base

    def start_server(self):
        self.server = DemoServer(self.args.intentloop, self.args.data_dir)
        self.log_offset = 0

    def latest_log_error(self):
        """The cause in the last error line the server logged since the previous call (for a 5xx)."""
        try:
            with open(Path(self.args.data_dir) / "serve.log", "rb") as f:
                f.seek(self.log_offset)
                data = f.read()
        except OSError:
            return None
        self.log_offset += len(data)
        errors = [l for l in data.decode("utf-8", "replace").splitlines() if is_log_error(l)]
        return log_error_cause(errors[-1]) if errors else None

    def server_alive(self):
        return self.server is not None and self.server.process.poll() is None

    def diagnose(self):
        """After a request failed at the connection level: "alive" when /healthz answers, "crashed"
        when the process exited (a trap prints a backtrace first, which takes a while), "hung" when
        neither happens within 30 s."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.server.process.poll() is not None:
                return "crashed"
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return "alive"
            except requests.RequestException:
                pass
            time.sleep(0.3)
        return "hung"

    def restart_after_crash(self):
        if self.server.process.poll() is None:  # hung: it will not answer again
            self.server.process.kill()
            self.server.process.wait(timeout=30)
        code = self.server.process.poll()
        log_path = Path(self.args.data_dir) / "serve.log"
        saved = Path(self.args.data_dir) / f"serve-crash-{self.restarts + 1}.log"
        try:
            self.server.log.close()
            shutil.copyfile(log_path, saved)
            tail = [l for l in saved.read_text(errors="replace").splitlines() if l.strip()][-12:]
        except OSError:
            tail = []
        self.crash_logs.append((code, str(saved), tail))
        if self.restarts >= MAX_RESTARTS or time.monotonic() > self.phase_deadline:
            raise ServerGone()
        self.restarts += 1
        print(f"fuzz: the server exited (status {code}); restarting it on the same data directory ({self.restarts}/{MAX_RESTARTS})", flush=True)
        self.start_server()

    # ---- sending

    def record_failure(self, *, method, template, caller, status, detail, request_desc, body_desc="", cause=None):
        self.failing_requests.append(f"{status}\t{caller}\t{self.phase}\t{request_desc}\t{body_desc}\t{detail}\t{cause or ''}")
        key = (method, template, status, cause or "")
        entry = self.failures.setdefault(key, {"count": 0, "examples": []})
        entry["count"] += 1
        phases = {ex["phase"] for ex in entry["examples"]}
        if len(entry["examples"]) < 3 or (self.phase not in phases and len(entry["examples"]) < 6):  # a few, from every phase
            entry["examples"].append({"caller": caller, "phase": self.phase, "request": request_desc, "body": body_desc, "detail": detail})

    def send(self, kw, *, template, caller, label=None):
        """Sends one request (requests' keyword arguments, url relative to the server); checks the property."""
        kw = dict(kw)
        kw.setdefault("allow_redirects", False)
        kw["timeout"] = kw.get("timeout", REQUEST_TIMEOUT)
        url = kw["url"]
        if url.startswith("/"):
            kw["url"] = self.base + url
        else:  # generated with another base (before a restart)
            parts = urllib.parse.urlsplit(url)
            kw["url"] = self.base + urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
        method = kw["method"].upper()
        self.sent += 1
        self.sent_by_phase[self.phase] = self.sent_by_phase.get(self.phase, 0) + 1
        self.by_operation[(method, template)] = self.by_operation.get((method, template), 0) + 1
        path = urllib.parse.urlsplit(kw["url"])
        query = kw.get("params")
        shown = path.path + (("?" + path.query) if path.query else "")
        if query:
            shown += ("&" if path.query else "?") + urllib.parse.urlencode(query, doseq=True, errors="backslashreplace")
        request_desc = clip(f"{method} {shown}", 200) + (f"  [{label}]" if label else "")
        body = kw.get("data") if kw.get("data") is not None else kw.get("json")
        body_desc = describe_body(body if not isinstance(body, dict) else json.dumps(body, ensure_ascii=False)[:400]) if body is not None else ""
        try:
            response = self.http.request(**kw)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
            self.http.cookies.clear()
            self.http.close()
            self.http = requests.Session()
            state = self.diagnose()
            detail = f"{type(error).__name__}: {clip(str(error), 200)}"
            status = {"alive": "connection failure", "crashed": "server crashed", "hung": "server hung"}[state]
            if state == "crashed":
                detail += f" (the server process exited with status {self.server.process.poll()})"
            elif state == "hung":
                detail += " (the server process runs but /healthz has not answered for 30 s)"
            self.record_failure(method=method, template=template, caller=caller.name, status=status, detail=detail,
                                request_desc=request_desc, body_desc=body_desc)
            if state != "alive":
                self.restart_after_crash()
            return None
        except Exception as error:  # the client library refused to send it (an invalid header, ...): not the server's doing
            self.http.cookies.clear()
            self.unsendable = getattr(self, "unsendable", 0) + 1
            self.last_unsendable = clip(f"{request_desc}: {type(error).__name__}: {error}", 200)
            return None
        self.http.cookies.clear()
        if response.status_code >= 500:
            time.sleep(0.02)  # let the server's log line land
            self.record_failure(method=method, template=template, caller=caller.name, status=response.status_code,
                                detail=clip(response.text, 200), request_desc=request_desc, body_desc=body_desc,
                                cause=self.latest_log_error())
        counts = self.statuses.setdefault((method, template), {})
        klass = f"{response.status_code // 100}xx"
        counts[klass] = counts.get(klass, 0) + 1
        self.harvest(method, template, response)
        return response

    def call(self, caller, method, path, *, template=None, label=None, **kw):
        """An explicit request as `caller` (path relative to the server, query already encoded or in params)."""
        if time.monotonic() > self.phase_deadline:
            raise OutOfTime()
        kw = caller.apply({"method": method, "url": path, **kw})
        return self.send(kw, template=template or path.split("?")[0], caller=caller, label=label)

    def harvest(self, method, template, response):
        """Feeds ids and names the server returns back into later cases."""
        if response.status_code != 200 or "json" not in response.headers.get("Content-Type", ""):
            return
        try:
            data = response.json()
        except ValueError:
            return
        if template == "/v1/predict" and isinstance(data, dict):
            for p in [data] + list(data.get("predictions") or []):
                if isinstance(p, dict) and isinstance(p.get("id"), str) and len(self.prediction_ids) < 2000:
                    self.prediction_ids.append(p["id"])
        elif template == "/v1/intents" and isinstance(data, dict):
            for i in data.get("intents") or []:
                if isinstance(i, dict) and i.get("status") == "proposed" and i.get("name") not in self.proposed_intents:
                    self.proposed_intents.append(i["name"])

    # ---- raw socket requests (bytes no HTTP client library would send)

    def raw(self, request_bytes, *, template, label, malformed=False):
        if time.monotonic() > self.phase_deadline:
            raise OutOfTime()
        self.sent += 1
        self.sent_by_phase[self.phase] = self.sent_by_phase.get(self.phase, 0) + 1
        first_line = request_bytes.split(b"\r\n", 1)[0]
        method = first_line.split(b" ", 1)[0].decode("latin-1")[:10]
        target = (first_line.split(b" ") + [b"", b""])[1].decode("latin-1")
        template = clip(urllib.parse.urlsplit(target).path or target, 40) + " (raw socket)"
        self.by_operation[(method, template)] = self.by_operation.get((method, template), 0) + 1
        desc = clip(first_line.decode("latin-1"), 160) + f"  [{label}]"
        data = b""
        try:
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=5 if malformed else REQUEST_TIMEOUT) as s:
                s.sendall(request_bytes)
                while b"\r\n" not in data and len(data) < 65536:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                while len(data) < 65536:  # the rest of a short answer (for the report)
                    s.settimeout(0.2)
                    try:
                        chunk = s.recv(65536)
                    except socket.timeout:
                        break
                    if not chunk:
                        break
                    data += chunk
        except OSError as error:
            if not data:
                data_error = f"{type(error).__name__}: {error}"
        match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
        if not match:
            state = self.diagnose()
            if state == "alive" and malformed:
                return None  # refusing garbage by closing the connection (or waiting for the rest) is fine
            status = {"alive": "no answer", "crashed": "server crashed", "hung": "server hung"}[state]
            detail = clip(data.decode("latin-1"), 200) if data else locals().get("data_error", "closed without an answer")
            self.record_failure(method=method, template=template, caller="nobody (raw socket)", status=status, detail=detail, request_desc=desc)
            if state != "alive":
                self.restart_after_crash()
            return None
        status = int(match[1])
        if status >= 500:
            body = data.split(b"\r\n\r\n", 1)[-1]
            time.sleep(0.02)
            self.record_failure(method=method, template=template, caller="nobody (raw socket)", status=status,
                                detail=clip(body.decode("utf-8", "replace"), 200), request_desc=desc, cause=self.latest_log_error())
        return status

    # ---- credentials

    def cli_token(self, username):
        result = subprocess.run([self.args.intentloop, "users", "token", username, "--data-dir", self.args.data_dir, "--name", "fuzz"],
                                capture_output=True, text=True, timeout=180)
        match = re.search(r"\bil_\S+", result.stdout)
        if result.returncode != 0 or not match:
            raise RuntimeError(f"`intentloop users token {username}` failed (exit {result.returncode}): {result.stderr.strip()[-300:]}")
        return match[0]

    def login(self, username, password):
        """A page session through the real login form; returns (cookie, csrf token of the session)."""
        s = requests.Session()
        page = s.get(self.base + "/login", timeout=30)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        if page.status_code != 200 or not csrf or not s.cookies.get("il_login_csrf"):
            raise RuntimeError(f"GET /login: {page.status_code}, no login CSRF token")
        answer = s.post(self.base + "/login", data={"username": username, "password": password, "csrf": csrf[1]},
                        allow_redirects=False, timeout=60)
        cookie = s.cookies.get("il_session")
        if answer.status_code not in (302, 303) or not cookie:
            raise RuntimeError(f"POST /login as {username}: {answer.status_code} {clip(answer.text, 200)}")
        form = s.get(self.base + "/submit", timeout=30)
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if form.status_code != 200 or not token:
            raise RuntimeError(f"GET /submit as {username}: {form.status_code}, no CSRF token in the page")
        return cookie, token[1]

    def setup_callers(self):
        credentials_file = Path(self.args.data_dir) / "demo-credentials.json"
        saved = json.loads(credentials_file.read_text())
        admin_password = saved.get("adminPassword") or saved.get("admin_password")
        agent_password = saved.get("agentPassword") or saved.get("agent_password") or self.server.agent_password
        agent_token, admin_token = self.cli_token("demo-agent"), self.cli_token("demo-admin")
        agent_cookie, agent_csrf = self.login("demo-agent", agent_password)
        admin_cookie, admin_csrf = self.login("demo-admin", admin_password)
        self.callers = {
            "nobody": Caller("nobody", "nobody", None),
            "client-bearer": Caller("client-bearer", "bearer", "client", token=self.server.token),
            "agent-bearer": Caller("agent-bearer", "bearer", "agent", token=agent_token),
            "admin-bearer": Caller("admin-bearer", "bearer", "admin", token=admin_token),
            "agent-session": Caller("agent-session", "session", "agent", cookie=agent_cookie, csrf=agent_csrf),
            "admin-session": Caller("admin-session", "session", "admin", cookie=admin_cookie, csrf=admin_csrf),
        }
        self.agent_password = agent_password

    def seed_data(self):
        client = self.callers["client-bearer"]
        texts = ["where is my parcel", "I want a refund", "my card was charged twice", "how do I reset my password",
                 "cancel my order please", "the app keeps crashing", "change my delivery address", "talk to a human"]
        r = self.call(client, "POST", "/v1/predict", json={"texts": texts}, label="seed predictions")
        if r is None or r.status_code != 200:
            raise RuntimeError(f"seeding predictions failed: {r.status_code if r is not None else 'no answer'}")
        r = self.call(client, "GET", "/v1/intents")
        if r is not None and r.status_code == 200:
            self.intent_names = [i["name"] for i in r.json()["intents"]] or self.intent_names
        # a proposed intent for the admin's approve/reject form
        r = self.call(self.callers["agent-bearer"], "POST", "/v1/feedback",
                      json={"text": "do you sell gift cards", "intent": "gift_cards_fuzz", "propose_intent": True}, label="seed proposal")
        self.proposed_intents.append("gift_cards_fuzz")

    def fresh_prediction(self):
        r = self.call(self.callers["client-bearer"], "POST", "/v1/predict", json={"text": f"parcel fuzz {self.rng.random()}"},
                      label="fresh prediction for a verdict")
        if r is not None and r.status_code == 200:
            return r.json()["id"]
        return self.prediction_ids[0] if self.prediction_ids else "00000000-0000-0000-0000-000000000000"

    # ---- phase 1: explicit hostile cases

    def home_caller(self, op):
        """The caller an operation is for (so that hostile values get past the role check)."""
        path = op.path
        if path in ("/v1/import", "/v1/export"):
            return self.callers["admin-bearer"]
        if path in ("/v1/feedback", "/v1/predictions/{id}"):
            return self.callers["agent-bearer"]
        if path.startswith("/v1/"):
            return self.callers["client-bearer"]
        if path in ("/healthz", "/readyz", "/metrics", "/openapi.yaml", "/static/{file}", "/login", "/"):
            return self.callers["nobody"]
        return self.callers["admin-session"]

    def minimal_request(self, op, caller):
        """A valid request for the operation (known ids, a CSRF token), to put one hostile value in."""
        path = op.path.replace("{id}", self.prediction_ids[0]).replace("{file}", "style.css")
        kw = {"method": op.method.upper(), "url": path, "params": {}, "headers": {}, "cookies": {}}
        csrf = caller.csrf or ""
        bodies = {
            "/v1/predict": {"json": {"text": "where is my parcel"}},
            "/v1/feedback": {"json": {"text": "gift card please", "intent": "track_package"}},
            "/v1/import": {"data": b'{"text": "fuzz parameter row", "intent": "track_package"}\n', "headers": {"Content-Type": "application/jsonl"}},
            "/login": {"data": {"username": "nobody-fuzz", "password": "x", "csrf": "c"}},
            "/logout": {"data": {"csrf": "wrong"}},  # never the shared session's real logout
            "/predictions/{id}/feedback": {"data": {"csrf": csrf, "verdict": "confirm"}},
            "/submit": {"data": {"csrf": csrf, "text": "fuzz submit", "intent": "track_package"}},
            "/admin/intents/decide": {"data": {"csrf": csrf, "name": "gift_cards_fuzz", "decision": "reject"}},
        }
        if op.method.upper() == "POST":
            extra = bodies.get(op.path, {})
            kw.update({k: v for k, v in extra.items() if k != "headers"})
            kw["headers"].update(extra.get("headers", {}))
        return kw

    def hostile_parameters(self):
        """Every hostile value in every query, path, header and cookie parameter of every operation."""
        for op in self.operations:
            caller = self.home_caller(op)
            for location, params in (("query", op.query), ("path", op.path_parameters), ("header", op.headers), ("cookie", op.cookies)):
                for param in params:
                    if param.name in ("Authorization", "il_session"):
                        continue  # the callers' own credentials
                    for value in HOSTILE_PARAMETER_VALUES:
                        kw = caller.apply(self.minimal_request(op, caller))
                        if location == "query":
                            kw["params"][param.name] = value
                        elif location == "path":
                            kw["url"] = kw["url"].replace(self.prediction_ids[0], urllib.parse.quote(value, safe="")) \
                                if "{id}" in op.path else op.path.replace("{" + param.name + "}", urllib.parse.quote(value, safe=""))
                        elif location == "header":
                            kw["headers"][param.name] = value.encode("utf-8")
                        else:  # a raw Cookie header: its bytes as they are (the callers' session cookie included)
                            jar = dict(kw.pop("cookies", {}))
                            jar[param.name] = value
                            kw["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items()).encode("utf-8")
                        if time.monotonic() > self.phase_deadline:
                            raise OutOfTime()
                        self.send(kw, template=op.path, caller=caller, label=f"{location} {param.name}={clip(value, 24)}")

    def hostile_cases(self):
        c = self.callers
        client, agent, admin = c["client-bearer"], c["agent-bearer"], c["admin-bearer"]
        agent_s, admin_s, nobody = c["agent-session"], c["admin-session"], c["nobody"]
        texts = hostile_texts()
        J = {"Content-Type": "application/json"}
        known = self.prediction_ids[0]

        def raw_json(caller, path, payload, label, headers=None):
            return self.call(caller, "POST", path, data=payload, headers={**J, **(headers or {})}, label=label)

        # -- a real logout with a throwaway session (first: failed logins below may throttle this address), then its cookie again
        try:
            cookie, csrf = self.login("demo-agent", self.agent_password)
        except (RuntimeError, requests.RequestException) as error:
            self.notes.append(f"no throwaway session for the logout case: {clip(str(error), 160)}")
        else:
            throwaway = Caller("agent-session (logged out)", "session", "agent", cookie=cookie, csrf=csrf)
            self.call(throwaway, "POST", "/logout", data={"csrf": csrf}, label="logout")
            self.call(throwaway, "GET", "/queue", label="after logout")
            self.call(throwaway, "POST", "/logout", data={"csrf": csrf}, label="second logout")
            self.call(throwaway, "POST", "/submit", data={"csrf": csrf, "text": "x", "intent": "track_package"}, label="form after logout")

        self.hostile_parameters()

        # -- /v1/predict: every hostile text in every field
        for label, t in texts:
            self.call(client, "POST", "/v1/predict", json={"text": t}, label=f"text: {label}")
            self.call(client, "POST", "/v1/predict", json={"texts": ["where is my parcel", t]}, label=f"texts[1]: {label}")
            self.call(client, "POST", "/v1/predict", json={"text": "refund", "metadata": {"k": t}}, label=f"metadata value: {label}")
            self.call(client, "POST", "/v1/predict", json={"text": "refund", "metadata": {t[:3000]: "v"}}, label=f"metadata key: {label}")
        for caller in (agent, admin):
            self.call(caller, "POST", "/v1/predict", json={"text": "a\u0000b"}, label="text with NUL (agent/admin)")
        for payload, label in [
            (b'{"text": "\\ud800"}', "lone high surrogate escape"), (b'{"text": "\\udfff x"}', "lone low surrogate escape"),
            (b'{"text": "\\u0000"}', "NUL escape"), (b'{"text": "a\xffb"}', "invalid UTF-8 byte"),
            (b'{"text": "\xc0\xaf"}', "overlong UTF-8"), (b'{"text": "\xed\xa0\x80"}', "UTF-8-encoded surrogate"),
            (b'{"text": "\xe2\x82"}', "truncated UTF-8"), (b'\xef\xbb\xbf{"text": "refund"}', "UTF-8 BOM before JSON"),
            ('{"text": "refund"}'.encode("utf-16"), "UTF-16 JSON"), (b"", "empty body"), (b"null", "null"), (b"[]", "array"),
            (b'"text"', "string"), (b"123", "number"), (b"{}", "empty object"), (b'{"text": null}', "null text"),
            (b'{"text": 1e309}', "text 1e309"), (b'{"text": NaN}', "NaN literal"), (b'{"text": ["a"]}', "text array"),
            (b'{"text": "a", "texts": ["b"]}', "text and texts"), (b'{"texts": []}', "empty texts"),
            (b'{"texts": "abc"}', "texts string"), (b'{"texts": [1, null]}', "texts numbers"), (b'{"texts": [""]}', "texts empty string"),
            (b'{"text": "a", "text": "\\u0000"}', "duplicate key"), (b'{"text": "a"', "truncated JSON"),
            (b'{"text": "a"}garbage', "trailing garbage"), (b"[" * 100000 + b"]" * 100000, "100,000-deep array nesting"),
            (b'{"text": "a", "metadata": ' + b'{"a":' * 50000 + b'1' + b'}' * 50000 + b'}', "50,000-deep metadata nesting"),
            (b" " * (1 << 20), "1 MiB of spaces"), (b'{"text": "' + b"a" * ((1 << 20) + 10) + b'"}', "body just over 1 MiB"),
            (b'{"text": "' + b"a" * (5 << 20) + b'"}', "5 MiB body"), (b'{"text": "refund", "metadata": []}', "metadata array"),
            (b'{"text": "refund", "metadata": {"a": 1}}', "metadata number value"),
            (b'{"text": "refund", "metadata": {"a": null}}', "metadata null value"),
            (b'{"text": "refund", "metadata": {"a": {"b": "c"}}}', "metadata nested object"),
        ]:
            raw_json(client, "/v1/predict", payload, label)
        self.call(client, "POST", "/v1/predict", json={"texts": ["refund"] * 65}, label="65 texts")
        self.call(client, "POST", "/v1/predict", json={"texts": ["x" * 2000] * 64}, label="64 texts of 2,000 characters")
        self.call(client, "POST", "/v1/predict", json={"texts": ["a" + "\u0301" * 1999] * 64}, label="64 texts of 1,999 combining marks")
        self.call(client, "POST", "/v1/predict", json={"text": "refund", "metadata": {f"k{i}": "v" for i in range(5000)}},
                  label="metadata with 5,000 keys")
        self.call(client, "POST", "/v1/predict", json={"text": "refund", "metadata": {"k": "v" * 4090}}, label="metadata just over 4,096 bytes")
        self.call(client, "POST", "/v1/predict", json={"text": "refund", "metadata": {"k": "\u00e9" * 2040}}, label="metadata 4,096 bytes of é")
        for ctype in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "application/json; charset=utf-16",
                      "application/xml", "////", "", "application/json, text/csv", "application/jsonl"]:
            self.call(client, "POST", "/v1/predict", data=b'{"text": "refund"}', headers={"Content-Type": ctype},
                      label=f"Content-Type {ctype!r}")
        self.call(client, "POST", "/v1/predict", data={"text": "refund"}, label="form-encoded body")
        self.call(client, "POST", "/v1/predict", files={"text": ("t.txt", b"refund")}, label="multipart body")
        # Idempotency-Key: replays, conflicts, bad keys
        for key, label in [("fuzz-replay-1", "fresh key"), ("fuzz-replay-1", "same key, same body"), ("x" * 200, "200-character key"),
                           ("x" * 201, "201-character key"), ("has space", "key with a space"), ("", "empty key"),
                           ("caf\u00e9", "latin-1 key"), ("a\u0000b", "key with NUL"), ("a\tb", "key with a tab")]:
            self.call(client, "POST", "/v1/predict", json={"text": "refund"}, headers={"Idempotency-Key": key}, label=f"Idempotency-Key: {label}")
        self.call(client, "POST", "/v1/predict", json={"text": "another body"}, headers={"Idempotency-Key": "fuzz-replay-1"},
                  label="Idempotency-Key: same key, different body")
        self.call(client, "POST", "/v1/predict", json={"texts": ["a", "b"]}, headers={"Idempotency-Key": "fuzz-replay-1"},
                  label="Idempotency-Key: same key, batch body")
        self.call(agent, "POST", "/v1/predict", json={"text": "refund"}, headers={"Idempotency-Key": "fuzz-replay-1"},
                  label="Idempotency-Key: another user's key")

        # -- /v1/feedback
        for label, t in texts:
            pid = self.fresh_prediction()
            self.call(agent, "POST", "/v1/feedback", json={"prediction_id": pid, "verdict": "confirm", "note": t}, label=f"note: {label}")
            self.call(agent, "POST", "/v1/feedback", json={"prediction_id": self.fresh_prediction(), "verdict": "correct", "intent": t[:5000]},
                      label=f"correct intent: {label}")
            self.call(agent, "POST", "/v1/feedback", json={"prediction_id": self.fresh_prediction(), "verdict": "correct", "intent": t[:5000],
                                                           "propose_intent": True}, label=f"proposed intent: {label}")
            self.call(admin, "POST", "/v1/feedback", json={"text": t, "intent": "track_package"}, label=f"submitted text: {label}")
            self.call(agent, "POST", "/v1/feedback", json={"text": "gift card please", "intent": t[:5000], "propose_intent": True},
                      label=f"submitted proposal: {label}")
        for body, label in [
            ({"prediction_id": "", "verdict": "confirm"}, "empty prediction_id"),
            ({"prediction_id": "not-a-uuid", "verdict": "confirm"}, "not a UUID"),
            ({"prediction_id": "00000000-0000-0000-0000-000000000000", "verdict": "confirm"}, "nil UUID"),
            ({"prediction_id": known.upper(), "verdict": "confirm"}, "upper-case UUID"),
            ({"prediction_id": known + "\u0000", "verdict": "confirm"}, "UUID with NUL"),
            ({"prediction_id": "a" * 1_000_000, "verdict": "confirm"}, "1 MB prediction_id"),
            ({"prediction_id": known, "verdict": "submit"}, "verdict submit"),
            ({"prediction_id": known, "verdict": "\u0000"}, "verdict NUL"),
            ({"prediction_id": known, "verdict": "x" * 100000}, "verdict 100 kB"),
            ({"prediction_id": known, "verdict": None}, "verdict null"),
            ({"prediction_id": known, "verdict": "correct"}, "correct without intent"),
            ({"prediction_id": known, "verdict": "correct", "intent": "nonexistent_intent_x"}, "correct to unknown intent"),
            ({"prediction_id": known, "verdict": "confirm", "propose_intent": "yes"}, "propose_intent string"),
            ({"prediction_id": 12345, "verdict": "confirm"}, "prediction_id number"),
            ({"text": "hi"}, "text without intent"), ({"intent": "track_package"}, "intent only"), ({}, "empty object"),
            ({"text": "hi", "intent": "track_package", "note": None}, "note null"),
            ({"text": ["a"], "intent": "track_package"}, "text array"),
        ]:
            self.call(agent, "POST", "/v1/feedback", json=body, label=label)
        for payload, label in [(b'{"text": "a\xffb", "intent": "track_package"}', "invalid UTF-8"), (b"[" * 100000, "unclosed nesting"),
                               (b'{"text": "\\ud800", "intent": "track_package"}', "lone surrogate"), (b"", "empty body")]:
            raw_json(agent, "/v1/feedback", payload, label)
        pid = self.fresh_prediction()
        for body, key, label in [({"prediction_id": pid, "verdict": "confirm"}, "fuzz-fb-1", "first"),
                                 ({"prediction_id": pid, "verdict": "confirm"}, "fuzz-fb-1", "replay"),
                                 ({"prediction_id": pid, "verdict": "correct", "intent": "track_package"}, "fuzz-fb-1", "same key, other verdict"),
                                 ({"text": "new one", "intent": "track_package"}, "fuzz-fb-1", "same key, submission"),
                                 ({"text": "new one", "intent": "track_package"}, "x" * 201, "201-character key"),
                                 ({"text": "new one", "intent": "track_package"}, "a b", "key with a space")]:
            self.call(agent, "POST", "/v1/feedback", json=body, headers={"Idempotency-Key": key}, label=f"Idempotency-Key: {label}")
        self.call(client, "POST", "/v1/feedback", json={"text": "a\u0000", "intent": "x"}, label="client role")
        self.call(agent_s, "POST", "/v1/feedback", json={"text": "session on the API", "intent": "track_package"}, label="session cookie on /v1")

        # -- /v1/predictions/{id}
        for seg in HOSTILE_PATH_SEGMENTS + [known.upper(), known + "%00", known + "/x"]:
            self.call(agent, "GET", f"/v1/predictions/{seg}", template="/v1/predictions/{id}", label=f"id {clip(seg, 40)}")
        self.call(client, "GET", f"/v1/predictions/{known}", template="/v1/predictions/{id}", label="client role")
        self.call(agent_s, "GET", f"/v1/predictions/{known}", template="/v1/predictions/{id}", label="session cookie on /v1")

        # -- /v1/intents, /v1/export
        for v in ["true", "%00", "1", "TRUE", "x" * 60000, "true&all=false", "%ff"]:
            self.call(client, "GET", f"/v1/intents?all={v}", template="/v1/intents", label=f"all={clip(v, 20)}")
        for kind in ["training", "golden", "%00", "TRAINING", "x" * 10000, ""]:
            for fmt in ["jsonl", "csv", "%00", "xml", ""]:
                self.call(admin, "GET", f"/v1/export?kind={kind}&format={fmt}", template="/v1/export", label="export kind/format")
        self.call(agent, "GET", "/v1/export", label="agent role")

        # -- /v1/import (admin): hostile lines, formats, sizes
        def jl(rows):
            return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()

        for label, t in texts:
            self.call(admin, "POST", "/v1/import", data=jl([{"text": t, "intent": "track_package"}]),
                      headers={"Content-Type": "application/jsonl"}, label=f"JSONL text: {label}")
            self.call(admin, "POST", "/v1/import?kind=golden", data=jl([{"text": "fine text", "intent": t[:5000]}]),
                      headers={"Content-Type": "application/jsonl"}, label=f"JSONL intent: {label}")
            csv_text = '"' + t.replace('"', '""') + '",track_package\n'
            self.call(admin, "POST", "/v1/import?format=csv", data=("text,intent\n" + csv_text).encode("utf-8", "surrogatepass"),
                      headers={"Content-Type": "text/csv"}, label=f"CSV text: {label}")
        for payload, ctype, label in [
            (b'{"text": "a\xff", "intent": "track_package"}\n', "application/jsonl", "invalid UTF-8 line"),
            (b'{"text": "a\x00", "intent": "track_package"}\n', "application/jsonl", "raw NUL byte in a line"),
            (b"\n\n\n", "application/jsonl", "blank lines only"), (b"", "application/jsonl", "empty body"),
            (b"text,intent\n", "text/csv", "CSV header only"), (b'text,intent\n"unclosed,track_package\n', "text/csv", "unclosed quote"),
            (b"text,intent\na\x00b,track_package\n", "text/csv", "CSV with NUL"), (b"\xef\xbb\xbftext,intent\nhi,track_package\n", "text/csv", "CSV with BOM"),
            (b"text,intent\n" + b",".join([b"x"] * 10000) + b"\n", "text/csv", "10,000 columns"),
            (b"text\n" + b"hello\n", "text/csv", "CSV without an intent column"), (b"a" * (1 << 20), "application/jsonl", "1 MiB single line"),
            (jl([{"text": f"fuzz import row {i}", "intent": "track_package"} for i in range(3000)]), "application/jsonl", "3,000 rows"),
            (jl([{"label": "track_package", "text": "label alias"}, {"category": "track_package", "text": "category alias"}]), "application/jsonl", "aliases"),
            (b'{"text": "hi", "intent": "track_package"}\n', "text/csv", "JSONL sent as CSV"),
            (b"text,intent\nhi,track_package\n", "application/json", "CSV sent as JSON"),
            (b"[" * 100000 + b"\n", "application/jsonl", "100,000-deep nesting"), (b'{"text": "\\ud800", "intent": "track_package"}\n', "application/jsonl", "lone surrogate"),
        ]:
            self.call(admin, "POST", "/v1/import", data=payload, headers={"Content-Type": ctype}, label=label)
        for q in ["kind=%00", "kind=golden&format=xml", "format=%ff", "kind=" + "x" * 60000, "kind=training&kind=golden"]:
            self.call(admin, "POST", f"/v1/import?{q}", data=jl([{"text": "q", "intent": "track_package"}]),
                      headers={"Content-Type": "application/jsonl"}, template="/v1/import", label=clip(q, 30))
        self.call(agent, "POST", "/v1/import", data=b"", label="agent role")
        for kind in ["training", "golden"]:  # export what the hostile imports stored
            for fmt in ["jsonl", "csv"]:
                self.call(admin, "GET", f"/v1/export?kind={kind}&format={fmt}", template="/v1/export", label="export after hostile imports")

        # -- pages: /queue with hostile query parameters
        for name, values in [("page", HOSTILE_INTS), ("min", HOSTILE_FLOATS), ("max", HOSTILE_FLOATS), ("from", HOSTILE_DATES),
                             ("to", HOSTILE_DATES), ("intent", HOSTILE_STRINGS), ("saved", ["\u0000", "x" * 30000])]:
            for v in values:
                self.call(agent_s, "GET", "/queue", params={name: v}, label=f"{name}={clip(v, 30)}")
        for q in ["page=999999999999999999&min=NaN&max=1e309", "page=1&page=999999999999999999", "min=0.9&max=0.1",
                  "from=2030-01-01&to=2000-01-01", "page=-9223372036854775808&intent=%00", "page=%00", "intent=%ff%fe",
                  "min=%00&max=%00", "from=99999999-01-01&to=99999999-12-31&page=184467440737095516"]:
            self.call(admin_s, "GET", f"/queue?{q}", template="/queue", label=clip(q, 60))
        for caller in (nobody, client, agent):
            self.call(caller, "GET", "/queue?page=999999999999999999", template="/queue", label="page huge, not a session")

        # -- pages: prediction, review form, submit, history, admin
        for seg in HOSTILE_PATH_SEGMENTS:
            self.call(agent_s, "GET", f"/predictions/{seg}", template="/predictions/{id}", label=f"id {clip(seg, 40)}")
            self.call(agent_s, "POST", f"/predictions/{seg}/feedback", data={"csrf": agent_s.csrf, "verdict": "confirm"},
                      template="/predictions/{id}/feedback", label=f"id {clip(seg, 40)}")
        import base64
        for label, t in texts:
            flash = base64.urlsafe_b64encode(t[:3000].encode("utf-8", "surrogatepass")).decode().rstrip("=")
            self.call(agent_s, "GET", f"/predictions/{known}", cookies={"il_flash": flash}, template="/predictions/{id}", label=f"flash: {label}")
            self.call(agent_s, "GET", "/submit", params={"saved": t[:100]}, cookies={"il_flash": flash}, label=f"flash: {label}")
            pid = self.fresh_prediction()
            self.call(agent_s, "POST", f"/predictions/{pid}/feedback",
                      data={"csrf": agent_s.csrf, "verdict": "correct", "intent": t[:60000], "note": t[:60000], "propose": "1"},
                      template="/predictions/{id}/feedback", label=f"correct form: {label}")
            self.call(admin_s, "POST", "/submit", data={"csrf": admin_s.csrf, "text": t[:60000], "intent": "track_package", "note": t[:1000]},
                      label=f"submit form text: {label}")
            self.call(agent_s, "POST", "/submit", data={"csrf": agent_s.csrf, "text": "gift card", "intent": t[:60000], "propose": "on"},
                      label=f"submit form intent: {label}")
        pid = self.fresh_prediction()
        for payload, label in [
            (f"csrf={agent_s.csrf}&verdict=correct&intent=%FF%FE&note=%00".encode(), "percent-encoded invalid UTF-8"),
            (f"csrf={agent_s.csrf}&verdict=correct&intent=track_package&note=".encode() + b"\xff\xfe\x00", "raw invalid UTF-8"),
            (f"csrf={agent_s.csrf}&verdict=confirm&note=%ED%A0%80".encode(), "encoded surrogate"),
            (f"csrf={agent_s.csrf}&verdict=confirm&verdict=correct".encode(), "duplicate field"),
            (f"csrf={agent_s.csrf}&verdict".encode(), "field without value"), (f"csrf={agent_s.csrf}&=&&=x".encode(), "empty names"),
            (f"csrf={agent_s.csrf}&verdict=confirm&note[]=a&note[x]=b".encode(), "bracket fields"),
            (f"csrf={agent_s.csrf}&verdict=confirm&note=%".encode(), "lone percent"),
            (f"csrf={agent_s.csrf}&verdict=confirm&note=".encode() + b"a" * (70 << 10), "70 KiB form"),
            (b"csrf=wrong&verdict=confirm", "wrong CSRF token"), (b"verdict=confirm", "no CSRF token"), (b"\x00\x00", "NUL bytes"),
        ]:
            self.call(agent_s, "POST", f"/predictions/{pid}/feedback", data=payload,
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, template="/predictions/{id}/feedback", label=label)
            self.call(agent_s, "POST", "/submit", data=payload.replace(b"verdict=confirm", b"text=hi&intent=track_package"),
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, label=label)
        self.call(agent_s, "POST", f"/predictions/{pid}/feedback", json={"csrf": agent_s.csrf, "verdict": "confirm"},
                  template="/predictions/{id}/feedback", label="JSON instead of a form")
        for flash, label in [(base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(), "invalid UTF-8"), ("%%%%", "not base64"),
                             ("A" * 100000, "100 kB"), ("====", "padding only"), ("", "empty"), ("\u00e9\u0000", "non-ASCII")]:
            self.call(agent_s, "GET", "/submit", cookies={"il_flash": flash}, label=f"flash cookie: {label}")
        for caller in (agent_s, admin_s):
            self.call(caller, "GET", "/history", label="history after hostile verdicts")
            self.call(caller, "GET", "/admin/intents", label="proposed intents after hostile proposals")
            self.call(caller, "GET", "/queue", label="queue after hostile predictions")
        names = [urllib.parse.unquote(seg) for seg in HOSTILE_PATH_SEGMENTS[:10]] + [t[:5000] for _, t in texts[:8]] + self.proposed_intents[:2]
        decisions = ["approve", "reject", "\u0000", "APPROVE", "x" * 5000]
        if "/admin/intents/decide" in self.schema_paths:  # the intent's name in the form
            for name in names:
                for decision in decisions:
                    self.call(admin_s, "POST", "/admin/intents/decide", data={"csrf": admin_s.csrf, "name": name, "decision": decision},
                              label=f"{clip(name, 30)} / {clip(decision, 20)}")
            self.call(agent_s, "POST", "/admin/intents/decide", data={"csrf": agent_s.csrf, "name": "gift_cards_fuzz", "decision": "approve"},
                      label="agent role")
        else:  # the intent's name in the path
            for seg in HOSTILE_PATH_SEGMENTS[:10] + self.proposed_intents[:2]:
                for decision in ["approve", "reject", "%00", "APPROVE", "x" * 5000]:
                    self.call(admin_s, "POST", f"/admin/intents/{seg}/{decision}", data={"csrf": admin_s.csrf},
                              template="/admin/intents/{name}/{decision}", label=f"{clip(seg, 30)} / {clip(decision, 20)}")
        self.call(agent_s, "POST", "/logout", data={"csrf": "wrong"}, label="wrong CSRF token")
        self.call(agent_s, "POST", "/logout", data=b"\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"}, label="invalid UTF-8")

        # -- login form
        page = self.call(nobody, "GET", "/login", label="login form for the hostile logins")
        login_csrf = (page.cookies.get("il_login_csrf") if page is not None else None) or "x"
        for form, label in [
            ({"username": "a\u0000b", "password": "x", "csrf": login_csrf}, "username with NUL"),
            ({"username": "\u202eadmin", "password": "x", "csrf": login_csrf}, "RTL username"),
            ({"username": "x" * 60000, "password": "x", "csrf": login_csrf}, "60 kB username"),
            ({"username": "demo-agent", "password": "p" * 60000, "csrf": login_csrf}, "60 kB password"),
            ({"username": "demo-agent", "password": "\u0000", "csrf": login_csrf}, "NUL password"),
            ({"username": "demo-agent", "password": "x"}, "no csrf"),
            ({"username": "demo-agent", "password": "x", "csrf": "mismatch"}, "csrf mismatch"),
            ({"username": "", "password": "", "csrf": login_csrf}, "empty fields"),
            ({"username": "demo-client", "password": "", "csrf": login_csrf}, "client user without a password"),
        ]:
            self.call(nobody, "POST", "/login", data=form, cookies={"il_login_csrf": login_csrf}, label=label)
        for payload, label in [(b"username=%FF&password=%FE&csrf=" + login_csrf.encode(), "invalid UTF-8"), (b"\x00", "NUL body"),
                               (b"username=a&password=b&csrf=" + login_csrf.encode() + b"&" + b"x=y&" * 20000, "20,000 fields")]:
            self.call(nobody, "POST", "/login", data=payload, cookies={"il_login_csrf": login_csrf},
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, label=label)
        for v in ["\u0000", "x" * 3000, "il_" + "a" * 100, "%00", "\u00e9"]:
            self.call(nobody, "GET", "/login", cookies={"il_session": v}, label=f"junk session cookie {clip(v, 10)}")
            self.call(nobody, "GET", "/queue", cookies={"il_session": v}, label=f"junk session cookie {clip(v, 10)}")
        for v in ["Bearer ", "Bearer il_\u00e9", "Bearer " + "x" * 20000, "Basic Zm9vOmJhcg==", "bearer il_bogus", "Bearer\til_x", "Bearer il_\u0000"]:
            self.call(nobody, "POST", "/v1/predict", json={"text": "refund"}, headers={"Authorization": v}, label=f"Authorization {clip(v, 20)}")
            self.call(nobody, "GET", "/healthz", headers={"Authorization": v}, label=f"Authorization {clip(v, 20)}")

        # -- random junk headers on every route
        junk = {"X-Forwarded-For": "127.0.0.1, \u00e9", "Accept": "\u00e9/\u00e9", "Accept-Language": "x" * 8000, "Range": "bytes=-1-99999999999999999999",
                "If-Modified-Since": "Thu, 99 Foo 99999 99:99:99 GMT", "Expect": "100-continue", "Content-Encoding": "gzip",
                "Transfer-Encoding": "identity", "Host": "\u00e9", "Cookie": "a=b; il_session; =; ;;", "X-Request-ID": "\u0000"}
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.yaml", "/", "/login", "/static/style.css", "/queue", "/v1/intents"]:
            self.call(agent_s if path == "/queue" else client if path.startswith("/v1") else nobody, "GET", path, headers=junk, label="junk headers")
        for path in ["/static/..%2f..%2fopenapi.yaml", "/static/%00", "/static/" + "x" * 10000, "/static/style.css%00", "/static/", "/static/.",
                     "/static/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd"]:
            self.call(nobody, "GET", path, template="/static/{file}", label="path traversal")

        # -- raw socket requests
        port = self.server.port
        host = f"Host: 127.0.0.1:{port}\r\n".encode()
        body = b'{"text": "refund"}'
        token = client.token.encode()
        for req, label, malformed in [
            (b"GET /healthz HTTP/1.1\r\n" + host + b"X-Junk: \xff\xfe\x80\r\n\r\n", "non-ASCII header bytes", False),
            (b"GET /healthz HTTP/1.1\r\n" + host + b"X-Junk: a\x00b\r\n\r\n", "NUL in a header", True),
            (b"GET /queue HTTP/1.1\r\n" + host + b"Cookie: il_session=\x00\xff\r\n\r\n", "NUL and 0xFF in the session cookie", True),
            (b"GET /queue HTTP/1.1\r\n" + host + b"Cookie: il_session=\xc3\xa9\xff\r\n\r\n", "invalid UTF-8 session cookie", False),
            (b"GET /v1/intents HTTP/1.1\r\n" + host + b"Authorization: Bearer \xff\xfe\r\n\r\n", "invalid UTF-8 token", False),
            (b"GET /v1/intents HTTP/1.1\r\n" + host + b"Authorization: Bearer " + token + b"\r\nAuthorization: Bearer il_other\r\n\r\n",
             "two Authorization headers", False),
            (b"POST /v1/predict HTTP/1.1\r\n" + host + b"Authorization: Bearer " + token + b"\r\nContent-Type: application/json\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(body):x}".encode() + b"\r\n" + body + b"\r\n0\r\n\r\n", "chunked body", False),
            (b"POST /v1/predict HTTP/1.1\r\n" + host + b"Authorization: Bearer " + token + b"\r\nContent-Type: application/json\r\n"
             b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + body + b"\r\n0\r\n\r\n", "invalid chunk size", True),
            (b"POST /v1/predict HTTP/1.1\r\n" + host + b"Authorization: Bearer " + token + b"\r\nContent-Type: application/json\r\n"
             b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Content-Length and chunked", True),
            (b"POST /v1/predict HTTP/1.1\r\n" + host + b"Authorization: Bearer " + token + b"\r\nContent-Type: application/json\r\n"
             b"Content-Length: -1\r\n\r\n", "negative Content-Length", True),
            (b"POST /v1/predict HTTP/1.1\r\n" + host + b"Authorization: Bearer " + token + b"\r\nContent-Type: application/json\r\n"
             b"Content-Length: 99999999999999999999999\r\n\r\n", "huge Content-Length", True),
            (b"GET /queue?intent=\xff\xfe&page=\x80 HTTP/1.1\r\n" + host + b"\r\n", "raw non-ASCII query", True),
            (b"GET /% HTTP/1.1\r\n" + host + b"\r\n", "lone percent in the path", False),
            (b"GET ////// HTTP/1.1\r\n" + host + b"\r\n", "slashes", False),
            (b"GET http://127.0.0.1/healthz HTTP/1.1\r\n" + host + b"\r\n", "absolute URI", False),
            (b"GET /healthz HTTP/1.0\r\n\r\n", "HTTP/1.0 without Host", False),
            (b"OPTIONS * HTTP/1.1\r\n" + host + b"\r\n", "OPTIONS *", False),
            (b"FOO /healthz HTTP/1.1\r\n" + host + b"\r\n", "unknown method", True),
            (b"DELETE /v1/predict HTTP/1.1\r\n" + host + b"\r\n", "unrouted method", False),
            (b"GET /" + b"a" * 60000 + b" HTTP/1.1\r\n" + host + b"\r\n", "60 kB path", True),
            (b"GET /healthz HTTP/1.1\r\n" + host + b"X-Big: " + b"b" * 200000 + b"\r\n\r\n", "200 kB header", True),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32), "TLS client hello", True),
            (b"GET /healthz HTTP/9.9\r\n" + host + b"\r\n", "HTTP/9.9", True),
        ]:
            self.raw(req, template=None, label=label, malformed=malformed)


    # ---- phases 2 and 3: schemathesis

    def load_schema(self):
        schemathesis.serializer.alias("text/csv", "text/plain")
        schemathesis.serializer.alias("application/jsonl", "text/plain")
        # Fetched and parsed here (PyYAML) rather than with from_url, which leaves out the document's own operation.
        answer = requests.get(self.base + "/openapi.yaml", timeout=30)
        if answer.status_code != 200:
            raise RuntimeError(f"GET /openapi.yaml: {answer.status_code}")
        self.schema = schemathesis.openapi.from_dict(yaml.safe_load(answer.text))
        self.schema.config.update(base_url=self.base)
        self.schema_paths = set(self.schema.raw_schema.get("paths", {}))
        self.operations = []
        for result in self.schema.get_all_operations():
            try:
                self.operations.append(result.ok())
            except Exception as error:  # an operation schemathesis cannot use is a defect of the document
                self.notes.append(f"schemathesis could not load an operation: {clip(str(error), 200)}")
        # /logout with a valid CSRF token would end the shared sessions: it goes last.
        self.operations.sort(key=lambda op: op.path == "/logout")

    def weights(self, op):
        """Callers for an operation, each with a weight: the roles it is for get most of the cases."""
        path = op.path
        w = {name: 1 for name in self.callers}
        if path.startswith("/v1/"):
            for name in ("client-bearer", "agent-bearer", "admin-bearer"):
                w[name] = 4
            if path in ("/v1/import", "/v1/export"):
                w["admin-bearer"] = 8
        elif path in ("/healthz", "/readyz", "/metrics", "/openapi.yaml", "/static/{file}", "/login") or path == "/":
            w["nobody"] = 4
        else:
            w["agent-session"], w["admin-session"] = 4, 4
        if path == "/login" and op.method.upper() == "POST":
            w = {"nobody": 1}  # every attempt with a matching CSRF pair costs a bcrypt check
        return w

    def prepare(self, case, caller):
        """Steers a generated case past the obvious refusals part of the time."""
        rng = self.rng
        op = case.operation
        params = case.path_parameters or {}
        if "id" in params and self.prediction_ids and rng.random() < 0.5:
            params["id"] = rng.choice(self.prediction_ids)
        if "name" in params and self.proposed_intents and rng.random() < 0.3:
            params["name"] = rng.choice(self.proposed_intents)
        if op.path == "/admin/intents/decide" and isinstance(case.body, dict) and self.proposed_intents and rng.random() < 0.3:
            case.body["name"] = rng.choice(self.proposed_intents)
        body = case.body if isinstance(case.body, dict) else None
        if body is not None:
            # (never on /logout: that would end the shared session; phase 1 logs a throwaway one out)
            if caller.kind == "session" and "csrf" in body and op.path != "/logout" and rng.random() < 0.85:
                body["csrf"] = caller.csrf
            if "prediction_id" in body and self.prediction_ids and rng.random() < 0.5:
                body["prediction_id"] = rng.choice(self.prediction_ids)
            if "intent" in body and rng.random() < 0.3:
                body["intent"] = rng.choice(self.intent_names + self.proposed_intents)
        if op.path == "/login" and op.method.upper() == "POST" and body is not None and rng.random() < 0.3:
            case.cookies = dict(case.cookies or {})
            case.cookies["il_login_csrf"] = str(body.get("csrf", ""))
        if op.path == "/v1/import" and isinstance(case.body, str) and rng.random() < 0.5:  # the generated text in a well-formed line
            intent = rng.choice(self.intent_names)
            if (case.media_type or "").startswith("text/csv"):
                case.body = 'text,intent\n"' + case.body.replace('"', '""') + f'",{intent}\n'
            else:
                case.body = json.dumps({"text": case.body, "intent": intent}) + "\n"
        if op.path in ("/v1/predict", "/v1/feedback") and rng.random() < 0.15:
            case.headers = dict(case.headers or {})
            case.headers["Idempotency-Key"] = rng.choice(self.idempotency_keys)

    def send_case(self, case, caller, phase_label):
        if time.monotonic() > self.phase_deadline:
            raise OutOfTime()
        try:
            self.prepare(case, caller)
            kw = case.as_transport_kwargs(base_url=self.base)
        except (OutOfTime, ServerGone):
            raise
        except Exception as error:  # a case schemathesis cannot serialise
            self.skipped_cases = getattr(self, "skipped_cases", 0) + 1
            self.last_skip = clip(f"{type(error).__name__}: {error}", 160)
            return
        kw = caller.apply(kw)
        self.send(kw, template=case.operation.path, caller=caller, label=phase_label)

    def coverage_phase(self):
        """Schemathesis's coverage phase: boundary and schema-violating values of every parameter, spread over the callers."""
        for op in self.operations:
            try:
                cases = list(self.schema.iter_coverage_cases(op, generation_modes=list(GenerationMode),
                                                             generation_config=self.schema.config.generation_for(operation=op)))
            except Exception as error:
                self.notes.append(f"coverage cases for {op.method.upper()} {op.path}: {clip(str(error), 160)}")
                continue
            weights = self.weights(op)
            names = [n for n, k in weights.items() for _ in range(k)]
            self.rng.shuffle(names)
            order = list(self.callers) + names  # every caller at least once
            for i, case in enumerate(cases[:160]):
                caller = self.callers[order[i % len(order)]]
                self.send_case(case, caller, "coverage")

    def fuzz_phase(self):
        """Hypothesis generation, in rounds over every operation x caller x mode, until the deadline."""
        strategies = {}
        while time.monotonic() < self.phase_deadline:
            # a new order every round, so that a round cut short by the deadline favours no operation
            ops = [op for op in self.operations if op.path != "/logout"]
            self.rng.shuffle(ops)
            for op in ops + [op for op in self.operations if op.path == "/logout"]:
                for name, weight in self.weights(op).items():
                    caller = self.callers[name]
                    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                        key = (op.method, op.path, mode)
                        if key not in strategies:
                            try:
                                strategies[key] = op.as_strategy(generation_mode=mode)
                            except Exception as error:
                                strategies[key] = None
                                self.notes.append(f"no {mode} strategy for {op.method.upper()} {op.path}: {clip(str(error), 160)}")
                        if strategies[key] is None:
                            continue
                        if not self.run_hypothesis(strategies[key], caller, f"fuzz/{mode}", examples=2 * weight,
                                                   seed=self.rng.randrange(1 << 30), what=f"{op.method.upper()} {op.path} ({mode})"):
                            strategies[key] = None  # nothing to generate (no parameter to break, in negative mode)
            self.rounds += 1

    def run_hypothesis(self, strategy, caller, label, examples, seed, what):
        @hypothesis_seed(seed)
        @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate], verbosity=Verbosity.quiet,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        @given(case=strategy)
        def test(case):
            self.send_case(case, caller, label)

        try:
            test()
        except (OutOfTime, ServerGone):
            raise
        except Unsatisfiable:
            return False
        except Exception as error:  # other generation trouble: note it, go on
            note = f"hypothesis, {what}: {type(error).__name__}: {clip(str(error), 100)}"
            if note not in self.notes:
                self.notes.append(note)
        return True

    # ---- the run

    def run_phase(self, name, until, body):
        self.phase, self.phase_deadline = name, until
        start, sent = time.monotonic(), self.sent
        try:
            body()
        except OutOfTime:
            pass
        extra = f" ({self.rounds} full rounds over every operation, caller and mode)" if name == "generated" else ""
        print(f"fuzz: {name}: {self.sent - sent} requests in {time.monotonic() - start:.0f} s{extra}", flush=True)

    def verdict_and_report(self, started, fuzz_started):
        alive = self.server_alive()
        healthy = False
        if alive:
            try:
                healthy = requests.get(self.base + "/healthz", timeout=10).status_code == 200
            except requests.RequestException:
                healthy = False
        ok = not self.failures and alive and healthy and not self.crash_logs
        print(f"fuzz: {self.sent} requests in {time.monotonic() - fuzz_started:.0f} s of fuzzing "
              f"({time.monotonic() - started:.0f} s in all, server restarts: {self.restarts}); by phase: "
              + ", ".join(f"{k} {v}" for k, v in self.sent_by_phase.items()))
        print("fuzz: answers by operation:")
        for op in getattr(self, "operations", []):
            key = (op.method.upper(), op.path)
            counts = self.statuses.get(key, {})
            print(f"    {op.method.upper():5s} {op.path:34s} {self.by_operation.get(key, 0):5d} requests: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        untouched = [f"{op.method.upper()} {op.path}" for op in getattr(self, "operations", [])
                     if (op.method.upper(), op.path) not in self.by_operation]
        if untouched:
            print("fuzz: operations never reached: " + ", ".join(untouched))
        for note in self.notes[:10]:
            print(f"fuzz: note: {note}")
        if getattr(self, "unsendable", 0):
            print(f"fuzz: note: {self.unsendable} requests the HTTP client refused to send (last: {self.last_unsendable})")
        if getattr(self, "skipped_cases", 0):
            print(f"fuzz: note: {self.skipped_cases} generated cases could not be serialised (last: {self.last_skip})")
        if self.failures:
            print(f"fuzz: {len(self.failures)} distinct failures (method, route, status, the cause the server logged):")
            for (method, template, status, cause), entry in sorted(self.failures.items(), key=lambda kv: tuple(map(str, kv[0][1::-1] + kv[0][2:]))):
                print(f"  FAIL {method} {template} -> {status}  ({entry['count']} request{'s' if entry['count'] != 1 else ''})"
                      + (f"\n       server log: {cause}" if cause else ""))
                for ex in entry["examples"]:
                    print(f"       as {ex['caller']} ({ex['phase']}): {ex['request']}")
                    if ex["body"]:
                        print(f"         body: {ex['body']}")
                    print(f"         answer: {ex['detail']}")
        if self.failing_requests:
            listing = Path(self.args.data_dir) / "fuzz-failures.tsv"
            listing.write_text("status\tcaller\tphase\trequest\tbody\tanswer\tserver log\n" + "\n".join(self.failing_requests) + "\n",
                               errors="backslashreplace")
            print(f"fuzz: every failing request ({len(self.failing_requests)}) is listed in {listing}")
        for code, path, tail in self.crash_logs:
            print(f"fuzz: the server exited with status {code}; the end of its log ({path}):")
            for line in tail:
                print(f"    {clip(line, 300)}")
        if not alive:
            print(f"fuzz: the server process is not running at the end (status {self.server.process.poll() if self.server else '?'})")
        elif not healthy:
            print("fuzz: /healthz does not answer 200 at the end")
        errors = self.server_log_errors()
        if errors:
            total = sum(errors.values())
            print(f"fuzz: the server logged {total} error{'s' if total != 1 else ''}; the most frequent causes:")
            for message, count in sorted(errors.items(), key=lambda kv: -kv[1])[:10]:
                print(f"    {count:5d}x {clip(message, 240)}")
        return ok

    def server_log_errors(self):
        counts = {}
        for log in sorted(Path(self.args.data_dir).glob("serve*.log")):
            try:
                lines = log.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                if is_log_error(line):
                    message = log_error_cause(line)
                    counts[message] = counts.get(message, 0) + 1
        return counts

    def stop(self):
        if self.server is not None:
            try:
                self.server.stop()
            except Exception:
                pass
        stop_cluster(self.args.data_dir)


def stop_cluster(data_dir):
    """Stops the data directory's embedded PostgreSQL if it is still running (after a crash the
    restarted server reuses the crashed one's cluster and does not stop it)."""
    marker = Path(data_dir) / "postgres.cluster"
    cluster = Path(marker.read_text().strip()) if marker.exists() else Path(data_dir) / "postgres"
    if not (cluster / "postmaster.pid").exists():
        return
    bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    if not bindir:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        bindir = str(candidates[-1]) if candidates else ""
    command = [os.path.join(bindir, "pg_ctl"), "-D", str(cluster), "-m", "fast", "stop"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--"] + command
    subprocess.run(command, capture_output=True, timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--intentloop", required=True, help="the intentloop binary")
    ap.add_argument("--data-dir", required=True, help="a fresh data directory for the server")
    ap.add_argument("--max-seconds", type=float, default=200,
                    help="the whole run's time budget, server start included (default 200); the requests get what the start leaves, "
                         f"at least {MIN_FUZZ_SECONDS:.0f} s")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 31)
    os.makedirs(args.data_dir, exist_ok=True)
    set_hypothesis_home_dir(os.path.join(args.data_dir, "hypothesis"))  # not .hypothesis/ in the working directory
    print(f"fuzz: seed {args.seed}, budget {args.max_seconds:.0f} s", flush=True)

    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server and its database

    def watchdog(*_):
        raise SystemExit(f"fuzz: gave up after {args.max_seconds + WATCHDOG_EXTRA_SECONDS:.0f} s (the server never came up, or hangs)")
    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(int(args.max_seconds + WATCHDOG_EXTRA_SECONDS))
    fuzzer = Fuzzer(args)
    ok = False
    try:
        fuzzer.start_server()
        print(f"fuzz: server {fuzzer.server.version} up at {fuzzer.base} after {time.monotonic() - started:.0f} s", flush=True)
        fuzzer.setup_callers()
        fuzzer.seed_data()
        fuzzer.load_schema()
        print(f"fuzz: {len(fuzzer.operations)} operations in /openapi.yaml, callers: {', '.join(fuzzer.callers)} "
              f"(setup {time.monotonic() - started:.0f} s)", flush=True)
        fuzz_started = time.monotonic()
        seconds = max(MIN_FUZZ_SECONDS, args.max_seconds - (fuzz_started - started) - RESERVE_SECONDS)
        end = fuzz_started + seconds
        print(f"fuzz: {seconds:.0f} s for requests", flush=True)
        try:
            fuzzer.run_phase("hostile", fuzz_started + 0.40 * seconds, fuzzer.hostile_cases)
            fuzzer.run_phase("coverage", fuzz_started + 0.65 * seconds, fuzzer.coverage_phase)
            fuzzer.run_phase("generated", end, fuzzer.fuzz_phase)
        except ServerGone:
            print("fuzz: the server died once too often; fuzzing stopped", flush=True)
        ok = fuzzer.verdict_and_report(started, fuzz_started)
    except Exception as error:
        import traceback
        traceback.print_exc()
        print(f"fuzz: the harness failed: {error}")
        ok = False
    finally:
        signal.alarm(0)
        fuzzer.stop()
        print(f"fuzz: {1 if ok else 0} passed, {0 if ok else 1} failed", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
