#!/usr/bin/env python3
"""Browser test of the review flow (issue 14): the queue, the one-at-a-time review page with its
keys, validation errors, an expired session and the admin pages, in headless Chromium, with an
accessibility audit (axe-core, through axe-selenium-python) on every page it visits.

  review_flow_test.py --intentloop BIN --data-dir DIR

Starts `intentloop serve --demo` on an embedded database in DATA-DIR and classifies 32
customer-support utterances through POST /v1/predict with the demo client token. Then, as
demo-agent (logged in with the keyboard):

  1. keys only: the agent reviews with Enter / c (confirm), 2–3 (that alternative), s (skip) and
     u (undo the verdict just given) on /review?all=1 (all=1: the queue otherwise leaves out
     predictions at least 99 % sure) until 20 verdicts stand; after every key the page must
     change, and its counts move as they should (a verdict takes one off the queue, undo puts it
     back, skip moves one on). A confirmation or a top-k correction takes exactly one keystroke:
     right after that key the verdict is read from PostgreSQL (and after u it is gone). At the
     end every standing verdict is there with its verdict and intent, undone and skipped ones
     are absent, and the queue's "reviewed today" count agrees;
  2. a correction to an unknown intent without "It is a new intent" comes back with the typed
     intent and note in their fields and the message next to the intent field;
  3. with the session cookie deleted, sending the correction form (now a new intent, proposed)
     leads to the login page; after logging in the same form is back, filled in, and sending it
     stores the verdict;
  4. a 2,000-character utterance (a run of 800 letters with no space in it, then words) does not
     widen the queue at 1280 px: the page's scroll width, the table's width and a screenshot of
     the whole page (Chrome DevTools, beyond the viewport) are all the window's width; the same
     for its prediction page;
  5. keyboard-only use: Tab reaches every visible control of the review page and of the queue.

Then as demo-admin: /admin/intents (the proposal from step 3) and /admin. axe-core runs on
/login, /queue, /review (with the undo bar), the prediction page with its validation error, the
login page of the expired session, /admin/intents and /admin; any violation of impact serious or
critical fails the test (all violations are printed with their rule and nodes). Any SEVERE
browser console entry fails it too. Full-page screenshots at 1280 px go to
ops/browser/screenshots/{queue,review,intents,admin}.png. Prints
"browser: 1 passed, 0 failed" (or failed) and exits non-zero on failure."""
import argparse, json, struct, sys, time, urllib.error, urllib.parse, urllib.request, base64
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from demo_server import DemoServer  # noqa: E402
from headless_chromium import chromium  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--intentloop", required=True); ap.add_argument("--data-dir", required=True)
args = ap.parse_args()
SHOTS = Path(__file__).resolve().parent / "screenshots"
WIDTH, HEIGHT = 1280, 900


def replaced(old):
    """A wait condition: the page holding `old` has been replaced. Like Selenium's staleness_of,
    but Chromium sometimes answers a gone node with "Node with given id does not belong to the
    document" (a WebDriverException, not StaleElementReferenceException): gone too."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    def gone(_driver):
        try:
            old.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e) or "No node with given id" in str(e):
                return True
            raise
    return gone

UTTERANCES = [
    "where is my parcel right now", "my package still has not arrived after two weeks", "can you tell me the tracking number",
    "i want my money back for the shoes", "when will my refund reach my card", "has the refund for order 5531 been processed",
    "please cancel my order, i ordered by mistake", "stop the order before it ships", "i need to change the delivery address",
    "ship it to my office instead of home", "the mug arrived in pieces", "the screen of the tablet is cracked on arrival",
    "can i get an invoice for my company", "send me a receipt with the vat number", "i forgot my password and cannot log in",
    "reset link never arrives in my inbox", "my account is locked after too many attempts", "please delete my account and my data",
    "is the red jacket available in size m", "when will the headphones be back in stock", "my card was declined at checkout",
    "payment failed but money left my account", "i want to return the blender", "how do i send back a present i did not like",
    "cancel my monthly subscription", "do you ship to norway", "how much is express delivery", "i want to talk to a human",
    "what is the status of my order", "the courier left my parcel at the wrong house", "can i use two discount codes",
    "my order came with the wrong colour",
]
# Keys over the review: a verdict key, then sometimes an undo right after a verdict, or a skip.
KEYS = ["Enter", "2", "u", "c", "3", "s", "Enter", "2", "c", "u", "3", "Enter", "s"]
VERDICTS_WANTED = 20
# axe-core 3.1's "checkboxgroup" (a best-practice rule, deprecated and removed in axe-core 4) wants
# same-named checkboxes in a group; the queue's row checkboxes (name=id) are each labelled by their
# row's utterance, which is what WCAG asks, so that rule is left out.
AXE_OPTIONS = json.dumps({"rules": {"checkboxgroup": {"enabled": False}}})


def predict(server, text):
    req = urllib.request.Request(server.base + "/v1/predict", data=json.dumps({"text": text}).encode(),
                                 headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


started = time.monotonic()
ok, server, driver = False, None, None
try:
    server = DemoServer(args.intentloop, args.data_dir)
    admin_password = json.load(open(Path(args.data_dir) / "demo-credentials.json"))["adminPassword"]
    print(f"browser: server up with {server.version} after {time.monotonic() - started:.0f} s")
    predictions = {p["id"]: p for p in (predict(server, t) for t in UTTERANCES)}
    assert len(predictions) == len(UTTERANCES)

    from selenium.common.exceptions import NoSuchElementException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    from axe_selenium_python import Axe

    driver = chromium((f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars"), console_log=True)
    driver.set_window_size(WIDTH, HEIGHT)
    wait = WebDriverWait(driver, 20)
    audited = []

    def find(css):
        return driver.find_element(By.CSS_SELECTOR, css)

    def present(css):
        return bool(driver.find_elements(By.CSS_SELECTOR, css))

    def severe(page, document_status=None):
        """Fails on any SEVERE console entry since the last call (a CSP violation, a script error,
        a failed resource load). With `document_status`, the page itself was answered with that
        status on purpose (a form sent back with its errors), which Chromium logs too."""
        expected = f"{driver.current_url} - Failed to load resource: the server responded with a status of {document_status} "
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"
                  and not (document_status and e.get("source") == "network" and e.get("message", "").startswith(expected))]
        assert not errors, f"browser console errors on {page}: {errors}"

    def audit(page, document_status=None):
        """axe-core on the page as it is; fails on serious or critical violations."""
        axe = Axe(driver)
        axe.inject()
        result = axe.run(options=AXE_OPTIONS)
        assert "checkboxgroup" not in {r["id"] for r in result["passes"] + result["violations"] + result["incomplete"]}, \
            "axe options were not applied"
        violations = result["violations"]
        for v in violations:
            print(f"browser: axe on {page}: {v['id']} ({v['impact']}): {v['help']}")
            for n in v["nodes"]:
                print(f"browser:     {', '.join(n['target'])}: {n['html'][:160]}")
                for check in n.get("any", []) + n.get("all", []) + n.get("none", []):
                    print(f"browser:       {check['message']}")
        bad = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"accessibility violations (serious or critical) on {page}: {bad}"
        # The rules the issue names did run here: labelled form controls, contrast AA.
        ran = {r["id"] for r in result["passes"] + result["incomplete"]}
        wanted = {"color-contrast"} | ({"label"} if present("input:not([type=hidden]), select, textarea") else set())
        assert wanted <= ran, f"axe did not check {sorted(wanted - ran)} on {page}: {sorted(ran)}"
        unsure = [r["id"] for r in result["incomplete"]]
        for r in result["incomplete"]:
            for n in r["nodes"][:3]:
                why = "; ".join(c["message"] for c in n.get("any", []) + n.get("all", []) + n.get("none", []))
                print(f"browser: axe on {page}: {r['id']} undecided for {', '.join(n['target'])}: {why}")
        audited.append(f"{page} ({len(result['passes'])} rules passed, {len(violations)} minor, undecided: {', '.join(unsure) or 'none'})")
        severe(page, document_status)

    def loaded():
        """Waits until the page is loaded, its deferred script (the keys) included."""
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def press(key):
        """One keystroke to whatever has the focus, then waits for the next page."""
        old = find("html")
        ActionChains(driver).send_keys(key).perform()
        wait.until(replaced(old))
        loaded()

    def login_by_keyboard(username, password):
        """On the login page: the username field has the focus; type, Tab, type, Enter."""
        assert driver.switch_to.active_element.get_attribute("name") == "username", "the username field has no focus"
        old = find("html")
        ActionChains(driver).send_keys(username).send_keys(Keys.TAB).send_keys(password).send_keys(Keys.ENTER).perform()
        wait.until(replaced(old))
        loaded()

    def state():
        """What the review page shows: prediction id, position, total, undo target."""
        s = {"id": None, "position": None, "total": int(find("#queue-total").text) if present("#queue-total") else None, "undo": None}
        if present("#confirm"):
            action = find("#confirm").find_element(By.XPATH, "./ancestor::form").get_attribute("action")
            s["id"] = urllib.parse.urlparse(action).path.split("/")[2]
            s["position"] = int(find("#position").text)
            s["predicted"] = find("#predicted").text
        if present("#undo"):
            s["undo"] = urllib.parse.urlparse(find("#undo").find_element(By.XPATH, "./ancestor::form").get_attribute("action")).path.split("/")[2]
        return s

    def alternative(n):
        button = find(f"#alt-{n}")
        form = button.find_element(By.XPATH, "./ancestor::form")
        return (form.find_element(By.NAME, "verdict").get_attribute("value"), form.find_element(By.NAME, "intent").get_attribute("value"))

    def tab_through(page):
        """Keyboard-only use: Tab from the top of the page reaches every visible control."""
        count = driver.execute_script("""
            var n = 0;
            document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea').forEach(function (el) {
              if (!el.disabled && el.getClientRects().length) el.dataset.tabCheck = String(n++);
            });
            if (document.activeElement) document.activeElement.blur();
            return n;""")
        reached, last = set(), -1
        for _ in range(2 * count + 30):  # a date input takes a Tab per part (month, day, year)
            ActionChains(driver).send_keys(Keys.TAB).perform()
            mark = driver.execute_script("var a = document.activeElement; return a && a.dataset ? (a.dataset.tabCheck || a.tagName) : null")
            if mark is not None and mark.isdigit():
                if int(mark) < last:
                    break  # round again from the top
                reached.add(mark)
                last = int(mark)
        missing = driver.execute_script("""
            var reached = arguments[0], out = [];
            document.querySelectorAll('[data-tab-check]').forEach(function (el) {
              if (reached.indexOf(el.dataset.tabCheck) < 0) out.push(el.outerHTML.slice(0, 120));
            });
            return out;""", sorted(reached))
        assert not missing, f"{page}: Tab does not reach {missing}"
        print(f"browser: keyboard: Tab reaches all {count} controls of {page}")
        return count

    def http_status(path):
        """The status of GET path with the browser's cookies (the browser does not tell)."""
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
        try:
            with urllib.request.urlopen(urllib.request.Request(server.base + path, headers={"Cookie": cookie}), timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def png_width(data):
        assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
        return struct.unpack(">II", data[16:24])

    def whole_page_png():
        """A screenshot of the whole layout, beyond the viewport (as wide as the page really is)."""
        metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000), "scale": 1}})
        return base64.b64decode(shot["data"])

    def full_page_shot(name):
        """A screenshot of the whole page (window as tall as the page, 1280 px wide), saved."""
        height = min(int(driver.execute_script("return document.documentElement.scrollHeight")), 16000)
        driver.set_window_size(WIDTH, height)
        frame = height - int(driver.execute_script("return window.innerHeight"))
        if frame > 0:
            driver.set_window_size(WIDTH, height + frame)
        SHOTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(SHOTS / name))
        driver.set_window_size(WIDTH, HEIGHT)
        print(f"browser: screenshot {SHOTS / name}")

    def fits(page):
        widths = driver.execute_script("""
            var t = document.querySelector('table.queue, blockquote.utterance');
            return [document.documentElement.scrollWidth, window.innerWidth, t ? Math.ceil(t.getBoundingClientRect().right) : 0,
                    t ? t.scrollWidth : 0, t ? t.clientWidth : 0];""")
        page_w, window_w, right, inner, client = widths
        assert page_w <= window_w, f"{page}: the page is {page_w} px wide in a {window_w} px window"
        assert right <= window_w, f"{page}: the table/utterance ends at {right} px in a {window_w} px window"
        assert inner <= client, f"{page}: the table/utterance content is {inner} px wide in {client} px"
        shot_w, shot_h = png_width(whole_page_png())
        assert shot_w == window_w, f"{page}: a screenshot of the whole page is {shot_w} px wide, the window {window_w} px"
        return page_w, window_w, shot_w, shot_h

    # Login page, then keyboard-only login as the agent.
    driver.get(server.base + "/review?all=1")
    assert "/login?next=" in driver.current_url, driver.current_url
    audit("/login")
    login_by_keyboard("demo-agent", server.agent_password)
    wait.until(EC.url_contains("/review?all=1"))
    severe("/review after login")
    first = state()
    assert first["total"] == len(UTTERANCES), f"the review says {first['total']} in the queue, {len(UTTERANCES)} predicted"
    tab_through("/review")
    driver.get(server.base + "/review?all=1")  # fresh focus (on the body) for the keys

    # 1. Keys only.
    day = time.strftime("%Y-%m-%d", time.gmtime())
    expected, undone, skipped = {}, set(), set()
    keystrokes, verdict_keys, undos, skips, step = 0, 0, 0, 0, 0
    review_audited = False
    while len(expected) < VERDICTS_WANTED:
        before = state()
        assert before["id"], f"nothing left to review after {len(expected)} verdicts"
        key = KEYS[step % len(KEYS)]
        step += 1
        if key == "u" and not before["undo"]:
            continue
        pid = before["id"]
        if key in ("Enter", "c"):
            outcome = ("confirm", before["predicted"])
        elif key.isdigit():
            outcome = alternative(int(key))
            if outcome[0] == "confirm":
                assert outcome[1] == before["predicted"], outcome
        press({"Enter": Keys.ENTER}.get(key, key))
        keystrokes += 1
        after = state()
        if key == "u":
            target = before["undo"]
            assert target in expected, f"undo offered for {target}, which has no verdict of ours"
            del expected[target]
            undone.add(target)
            undos += 1
            assert after["total"] == before["total"] + 1, f"undo: queue {before['total']} -> {after['total']}"
            assert after["undo"] is None, "the undo bar is still shown after undoing"
            assert "Undone:" in find("p.notice").text
            assert server.psql(f"SELECT count(*) FROM feedback WHERE prediction_id = '{target}'") == "0", f"{target} still has its verdict"
        elif key == "s":
            skipped.add(pid)
            skips += 1
            assert after["total"] == before["total"] and after["position"] == before["position"] + 1, (before, after)
        else:
            expected[pid] = outcome
            undone.discard(pid)
            verdict_keys += 1
            assert after["total"] == before["total"] - 1, f"verdict: queue {before['total']} -> {after['total']}"
            assert after["undo"] == pid, f"the undo bar names {after['undo']}, not {pid}"
            assert find("p.notice").text == f"Saved: {outcome[0]} as {outcome[1]}.", find("p.notice").text
            # This one keystroke stored the verdict (the measure of "one keystroke per verdict").
            row = server.psql(f"SELECT verdict, intent FROM feedback WHERE prediction_id = '{pid}'")
            assert row == "|".join(outcome), f"after one key {key!r}: {pid} has {row!r}, expected {outcome}"
            if not review_audited:
                audit("/review (with the undo bar)")
                full_page_shot("review.png")
                review_audited = True
                driver.get(driver.current_url)  # focus back on the body
        severe(f"/review after key {key!r}")
    skipped -= set(expected)
    rows = server.psql("SELECT prediction_id, verdict, intent FROM feedback WHERE prediction_id IS NOT NULL ORDER BY id")
    stored = {r.split("|")[0]: tuple(r.split("|")[1:]) for r in rows.splitlines() if r}
    for pid, outcome in expected.items():
        assert stored.get(pid) == outcome, f"{pid}: expected {outcome}, stored {stored.get(pid)}"
    for pid in undone | skipped:
        assert pid not in stored, f"{pid} was {'undone' if pid in undone else 'skipped'} but has a verdict {stored[pid]}"
    assert set(stored) == set(expected), f"stored verdicts {sorted(set(stored) - set(expected))} were never given"
    assert len(stored) == VERDICTS_WANTED
    assert verdict_keys == len(expected) + undos, (verdict_keys, len(expected), undos)
    corrections = sum(1 for v, _ in expected.values() if v == "correct")
    print(f"browser: {VERDICTS_WANTED} reviewed by keys, {keystrokes} keystrokes, 1 per verdict "
          f"({verdict_keys} verdicts of which {undos} undone, {skips} skips; standing: {VERDICTS_WANTED - corrections} "
          f"confirmed, {corrections} top-k corrections; all {len(stored)} in PostgreSQL)")
    driver.get(server.base + "/queue?all=1")
    today = find("#reviewed-today").text
    if time.strftime("%Y-%m-%d", time.gmtime()) == day:  # "today" is the UTC day: not across midnight
        assert today.startswith(f"{VERDICTS_WANTED} reviewed today, {VERDICTS_WANTED} by you"), today
    assert int(find("#total").text) == len(UTTERANCES) - VERDICTS_WANTED, find("#total").text
    tab_through("/queue")

    # 2. A validation error keeps the typed text.
    driver.get(server.base + "/review?all=1")
    s = state()
    pid, review_url = s["id"], driver.current_url
    typed_intent, typed_note = "gift_wrap_request", "Customer asked twice — wants it wrapped <b>today</b>"
    ActionChains(driver).send_keys("/").perform()  # the key moves to the intent search
    assert driver.switch_to.active_element.get_attribute("id") == "intent", "/ does not focus the intent search"
    ActionChains(driver).send_keys(typed_intent).perform()
    find("#note").send_keys(typed_note)
    old = find("html")
    ActionChains(driver).send_keys(Keys.ENTER).perform()  # Enter in the note field sends the correction form
    wait.until(replaced(old))
    loaded()
    assert driver.current_url.endswith(f"/predictions/{pid}/feedback"), driver.current_url
    assert find("#intent").get_attribute("value") == typed_intent, find("#intent").get_attribute("value")
    assert find("#note").get_attribute("value") == typed_note, find("#note").get_attribute("value")
    error = find("#intent-error").text
    assert "unknown intent" in error and "new intent" in error, error
    assert find("#intent").get_attribute("aria-invalid") == "true"
    assert server.psql(f"SELECT count(*) FROM feedback WHERE prediction_id = '{pid}'") == "0"
    audit("/predictions/ID with a validation error", document_status=422)
    print(f"browser: validation error kept {typed_intent!r} and the note: {error!r}")

    # 3. An expired session keeps the work: the same form after logging in again.
    driver.delete_cookie("il_session")
    propose = find("input[name=propose]")
    propose.click()
    old = find("html")
    find("#correct").click()
    wait.until(replaced(old))
    loaded()
    assert "/login?next=" in driver.current_url, driver.current_url
    audit("/login after the session expired")
    login_by_keyboard("demo-agent", server.agent_password)
    wait.until(EC.url_contains(f"/predictions/{pid}?"))
    query = urllib.parse.parse_qs(urllib.parse.urlparse(driver.current_url).query)
    assert query.get("intent") == [typed_intent] and query.get("note") == [typed_note] and query.get("propose") == ["1"], query
    assert query.get("return", [""])[0].startswith("/review"), query
    assert find("#intent").get_attribute("value") == typed_intent
    assert find("#note").get_attribute("value") == typed_note
    assert find("input[name=propose]").is_selected(), "the propose box is no longer ticked"
    severe("/predictions/ID after login")
    old = find("html")
    find("#correct").click()
    wait.until(replaced(old))
    loaded()
    assert "/review" in driver.current_url and state()["undo"] == pid, driver.current_url
    row = server.psql(f"SELECT verdict, intent, note FROM feedback WHERE prediction_id = '{pid}'")
    assert row == f"correct|{typed_intent}|{typed_note}", row
    assert server.psql(f"SELECT status FROM intents WHERE name = '{typed_intent}'") == "proposed"
    print(f"browser: expired session: after login the form came back filled in; stored {row!r}")

    # 4. A 2,000-character utterance does not widen the queue.
    long_text = ("a" * 800 + " " + "my parcel was sent to the wrong town and nobody answers the phone " * 40)[:2000]
    assert len(long_text) == 2000
    long_id = predict(server, long_text)["id"]
    driver.get(server.base + "/queue?all=1")
    assert present(f"a[href='/predictions/{long_id}']"), "the long utterance is not in the queue"
    page_w, window_w, shot_w, shot_h = fits("/queue")
    audit("/queue (with the 2,000-character utterance)")
    print(f"browser: /queue with a 2,000-character utterance: page {page_w} px, window {window_w} px, whole-page screenshot {shot_w}×{shot_h} px")
    full_page_shot("queue.png")
    driver.get(server.base + f"/predictions/{long_id}")
    page_w, window_w, shot_w, shot_h = fits("/predictions/ID (2,000 characters)")
    severe("/predictions/ID (2,000 characters)")
    print(f"browser: its prediction page: page {page_w} px, window {window_w} px, whole-page screenshot {shot_w}×{shot_h} px")

    # Admin pages.
    driver.delete_all_cookies()
    driver.get(server.base + "/admin/intents")
    assert "/login?next=" in driver.current_url, driver.current_url
    login_by_keyboard("demo-admin", admin_password)
    wait.until(EC.url_contains("/admin/intents"))
    assert present(f"#proposal-{typed_intent}"), f"/admin/intents does not list {typed_intent}"
    audit("/admin/intents")
    full_page_shot("intents.png")
    if http_status("/admin") == 404:
        print("browser: /admin is not there yet (404): no screenshot, no audit")
    else:
        driver.get(server.base + "/admin")
        assert driver.current_url == server.base + "/admin", driver.current_url
        audit("/admin")
        full_page_shot("admin.png")
    print(f"browser: axe-core audits without serious or critical violations: {'; '.join(audited)}")
    print(f"browser: review flow checked in {time.monotonic() - started:.0f} s; screenshots in {SHOTS}")
    ok = True
finally:
    if driver:
        driver.quit()
    if server:
        server.stop()
    print(f"browser: {1 if ok else 0} passed, {0 if ok else 1} failed")
sys.exit(0 if ok else 1)
