#!/usr/bin/env python3
"""Browser test of the promotion gate's pages: the adapter comparison page (`/models/compare`)
and the admin models page (`/admin/models`) in headless Chromium, checked against the JSON API.

  compare_page_test.py --intentloop BIN --data-dir DIR

Starts `intentloop serve --demo` on an embedded database in DATA-DIR (the first adapter is
trained at start), makes a second adapter the real way — agents' corrections through
POST /v1/predict + POST /v1/feedback, a training job through POST /v1/jobs — waits for the gate
to put the candidate in shadow or reject it, sends some traffic (shadow samples a share of it),
then logs in as demo-admin and opens /models/compare (defaults: production against the newest
candidate) and /admin/models. Checks: both pages answer 200 without an error heading; the F1
chart has exactly one rect.bar and one g.row per intent of GET /v1/models/compare (same a/b,
more than one intent); the page's A and B are the JSON's; no SEVERE browser console entry; the
chart fits a 1280 px window; the models page lists both adapters and has the rollback button.
Full-page screenshots go to ops/browser/screenshots/{compare,models}.png. Prints
"browser: 1 passed, 0 failed" (or failed) and exits non-zero on failure."""
import argparse, json, re, subprocess, sys, time, urllib.error, urllib.parse, urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from demo_server import DemoServer  # noqa: E402
from headless_chromium import chromium  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--intentloop", required=True); ap.add_argument("--data-dir", required=True)
args = ap.parse_args()
SHOTS = Path(__file__).resolve().parent / "screenshots"

# Utterances the demo set does not hold, with the intent an agent gives them (as RetrainingTests).
CORRECTIONS = [
    ("my parcel turned up crushed and the lid is broken", "damaged_item"),
    ("the box was wet and everything inside is ruined", "damaged_item"),
    ("i need a pdf receipt for my accountant", "invoice_request"),
    ("send me the bill for last month's order again", "invoice_request"),
    ("is the blue kettle back in stock", "product_availability"),
    ("do you still sell the large backpack", "product_availability"),
    ("i keep getting locked out after three tries", "account_locked"),
    ("my login is frozen, it says too many attempts", "account_locked"),
    ("let me speak with a real person please", "talk_to_human"),
    ("transfer me to somebody from support", "talk_to_human"),
    ("my card was declined when paying", "payment_failed"),
    ("checkout keeps failing at the payment step", "payment_failed"),
]
TRAFFIC = ["where is my parcel", "i want my money back", "how do i change my delivery address", "cancel my order please",
           "my package arrived broken", "can i get an invoice", "i forgot my password", "is this item in stock"]


def call(server, method, path, token, body=None, cookie=None):
    """(status, parsed JSON or text) of one request; HTTP errors are answers, not exceptions."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = cookie
    req = urllib.request.Request(server.base + path, method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw, kind = r.status, r.read().decode(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, raw, kind = e.code, e.read().decode(), e.headers.get("Content-Type", "")
    return status, (json.loads(raw) if "json" in kind and raw else raw)


def cli_token(user):
    out = subprocess.run([args.intentloop, "users", "token", user, "--data-dir", args.data_dir],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"users token {user}: exit {out.returncode}: {out.stderr.strip()}"
    return out.stdout.strip().splitlines()[-1].strip()


def page_versions(driver):
    """The A and B versions the comparison page names in its first paragraph."""
    from selenium.webdriver.common.by import By
    text = driver.find_element(By.CSS_SELECTOR, "main > h1 + p").text
    m = re.match(r"A = (.+?) \([^)]*\) · B = (.+?) \(", text)
    assert m, f"no 'A = … · B = …' line on the page: {text[:200]!r}"
    return m[1], m[2]


def severe(driver, page):
    """Fails on any SEVERE console entry since the last call (the pages name their icon, so there
    is no stray /favicon.ico 404 either; a CSP violation would show here too)."""
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, f"browser console errors on {page}: {errors}"


def full_page_shot(driver, path):
    """A screenshot of the whole page: the window made as tall as the page (plus the window's own
    frame, which headless Chromium also counts in the window size), 1280 px wide."""
    height = min(int(driver.execute_script("return document.documentElement.scrollHeight")), 16000)
    driver.set_window_size(1280, height)
    frame = height - int(driver.execute_script("return window.innerHeight"))
    if frame > 0:
        driver.set_window_size(1280, height + frame)
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)


started = time.monotonic()
ok, server = False, None
try:
    server = DemoServer(args.intentloop, args.data_dir)
    print(f"browser: server up with {server.version} after {time.monotonic() - started:.0f} s")
    admin, agent = cli_token("demo-admin"), cli_token("demo-agent")
    admin_password = json.load(open(Path(args.data_dir) / "demo-credentials.json"))["adminPassword"]

    # A second adapter, the real way: corrections, then a training job.
    for text, intent in CORRECTIONS:
        status, p = call(server, "POST", "/v1/predict", server.token, {"text": text})
        assert status == 200, (status, p)
        verdict = {"verdict": "confirm"} if p["intent"] == intent else {"verdict": "correct", "intent": intent}
        status, f = call(server, "POST", "/v1/feedback", agent, {"prediction_id": p["id"], **verdict})
        assert status in (200, 201), (status, f)
    status, created = call(server, "POST", "/v1/jobs", admin, {})
    assert status in (200, 201), (status, created)
    job_id, deadline = created["job"]["id"], time.monotonic() + 600
    while True:
        status, job = call(server, "GET", f"/v1/jobs/{job_id}", admin)
        assert status == 200, (status, job)
        if job["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after 600 s"
        time.sleep(2)
    assert job["status"] == "succeeded", f"job {job_id}: {job['status']}: {job.get('error')}"
    print(f"browser: training job {job_id} succeeded after {time.monotonic() - started:.0f} s")

    # The gate moves the candidate to shadow or rejects it within seconds.
    deadline = time.monotonic() + 60
    while True:
        status, listed = call(server, "GET", "/v1/models", admin)
        assert status == 200, (status, listed)
        adapters = listed["adapters"]
        newest = max(adapters, key=lambda a: a["created_at"])
        if newest["status"] not in ("training", "candidate") or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(adapters) >= 2, [a["version"] for a in adapters]
    print(f"browser: gate: {newest['version']} is {newest['status']} ({newest.get('status_reason', '')})")
    # Traffic: while a candidate is in shadow, a share of it is also predicted by the candidate.
    for i in range(48):
        status, _ = call(server, "POST", "/v1/predict", server.token, {"text": TRAFFIC[i % len(TRAFFIC)] + f" #{i}"})
        assert status == 200, status
    time.sleep(2)  # shadow predictions are stored after the answer

    # The JSON twin: defaults, then the same a/b named explicitly.
    status, report = call(server, "GET", "/v1/models/compare", admin)
    assert status == 200, (status, report)
    a, b = report["a"]["version"], report["b"]["version"]
    assert a != b, (a, b)
    query = "?" + urllib.parse.urlencode({"a": a, "b": b})
    status, named = call(server, "GET", "/v1/models/compare" + query, admin)
    assert status == 200, (status, named)
    intents = len(named["comparison"]["intents"])
    assert intents > 1, f"{intents} intents in the comparison"
    assert intents == len(report["comparison"]["intents"]), "defaults and named a/b compare differently"
    print(f"browser: JSON: a {a} ({report['a']['status']}), b {b} ({report['b']['status']}), {intents} intents, "
          f"{sum(p['predictions'] for p in named['agreement'])} shadow predictions, {len(named['disagreements'])} disagreements")

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    driver = chromium(("--window-size=1280,900", "--hide-scrollbars"), console_log=True)
    wait = WebDriverWait(driver, 20)
    try:
        driver.set_window_size(1280, 900)
        driver.get(server.base + "/models/compare")
        # The login page, which returns to the deep link afterwards.
        assert driver.current_url.endswith("/login?next=/models/compare"), driver.current_url
        driver.find_element(By.NAME, "username").send_keys("demo-admin")
        driver.find_element(By.NAME, "password").send_keys(admin_password)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(EC.url_matches(r"/models/compare$"))
        severe(driver, "/login and /models/compare")
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
        SHOTS.mkdir(exist_ok=True)

        # The comparison page, defaults.
        status, body = call(server, "GET", "/models/compare", None, cookie=cookie)
        assert status == 200, f"/models/compare answered {status}"
        driver.get(server.base + "/models/compare")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "main h1")))
        h1 = driver.find_element(By.CSS_SELECTOR, "main h1").text
        assert h1 == "Compare adapters", f"compare page heading: {h1!r}"
        page_a, page_b = page_versions(driver)
        assert (page_a, page_b) == (a, b), f"page compares {page_a} / {page_b}, JSON {a} / {b}"
        charts = driver.find_elements(By.CSS_SELECTOR, "figure.chart")
        bar_figures = [f for f in charts if f.find_elements(By.CSS_SELECTOR, "svg.chart-bar")]
        assert len(bar_figures) == 1, f"{len(bar_figures)} bar charts"
        figure = bar_figures[0]
        bars = figure.find_elements(By.CSS_SELECTOR, "svg rect.bar")
        rows = figure.find_elements(By.CSS_SELECTOR, "svg g.row")
        assert len(bars) == intents, f"{len(bars)} rect.bar for {intents} intents"
        assert len(rows) == intents, f"{len(rows)} g.row for {intents} intents"
        assert len(driver.find_elements(By.CSS_SELECTOR, "rect.bar")) == intents, "rect.bar outside the F1 chart"
        fit = driver.execute_script("return [arguments[0].scrollWidth, window.innerWidth, document.documentElement.scrollWidth]", figure)
        assert fit[0] <= fit[1], f"chart {fit[0]} px wide in a {fit[1]} px window"
        has_agreement = bool(driver.find_elements(By.CSS_SELECTOR, "figure.chart svg polyline.series"))
        severe(driver, "/models/compare")
        print(f"browser: /models/compare: {len(bars)} bars, {len(rows)} rows, chart {fit[0]} px in {fit[1]} px "
              f"(page {fit[2]} px), agreement chart: {'yes' if has_agreement else 'no'}")
        full_page_shot(driver, SHOTS / "compare.png")

        # The models page.
        status, _ = call(server, "GET", "/admin/models", None, cookie=cookie)
        assert status == 200, f"/admin/models answered {status}"
        driver.get(server.base + "/admin/models")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "main h1")))
        h1 = driver.find_element(By.CSS_SELECTOR, "main h1").text
        assert h1 == "Models", f"models page heading: {h1!r}"
        listed = [td.text for td in driver.find_elements(By.XPATH, "//table[contains(@class, 'models')]/tbody/tr[count(td) > 1]/td[1]")]
        assert a in listed and b in listed, f"models page lists {listed}, not both {a} and {b}"
        rollback = driver.find_elements(By.CSS_SELECTOR, "form[action='/admin/models/rollback'] button[type=submit]")
        assert len(rollback) == 1 and "Roll back" in rollback[0].text, "no rollback button"
        width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        severe(driver, "/admin/models")
        print(f"browser: /admin/models: adapters {listed}, page {width[0]} px in {width[1]} px")
        full_page_shot(driver, SHOTS / "models.png")
    finally:
        driver.quit()
    print(f"browser: compare page checked in {time.monotonic() - started:.0f} s; screenshots in {SHOTS}")
    ok = True
finally:
    if server:
        server.stop()
    print(f"browser: {1 if ok else 0} passed, {0 if ok else 1} failed")
sys.exit(0 if ok else 1)
