#!/usr/bin/env python3
"""Browser test (issue 4): an agent corrects a prediction through the real web form in headless
Chromium, and the correction is then read back from PostgreSQL.

  agent_form_test.py --intentloop BIN --data-dir DIR

Starts `intentloop serve --demo` on an embedded database in DATA-DIR, classifies an utterance
through the API with the demo client token, logs in as demo-agent in Chromium (Selenium +
Debian's chromium-driver), opens the prediction from the review queue, types another intent into
the searchable picker, submits, and reads the feedback row with psql. Prints
"browser: 1 passed, 0 failed" (or failed) and exits non-zero on failure."""
import argparse, json, sys, urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from demo_server import DemoServer  # noqa: E402
from headless_chromium import chromium  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--intentloop", required=True); ap.add_argument("--data-dir", required=True)
args = ap.parse_args()

ok, server = False, None
try:
    server = DemoServer(args.intentloop, args.data_dir)
    text = "my parcel never came <b>help</b>"
    req = urllib.request.Request(server.base + "/v1/predict", data=json.dumps({"text": text}).encode(),
                                 headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"})
    prediction = json.load(urllib.request.urlopen(req))
    pid, predicted = prediction["id"], prediction["intent"]
    corrected = "missing_package" if predicted != "missing_package" else "track_package"

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    driver = chromium()
    wait = WebDriverWait(driver, 20)
    try:
        driver.get(server.base + "/queue")
        assert driver.current_url.endswith("/login"), driver.current_url
        driver.find_element(By.NAME, "username").send_keys("demo-agent")
        driver.find_element(By.NAME, "password").send_keys(server.agent_password)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(EC.url_matches(r"/queue$"))
        link = driver.find_element(By.CSS_SELECTOR, f"a[href='/predictions/{pid}']")
        assert link.text == text, link.text  # shown as text, not markup
        link.click()
        wait.until(EC.url_contains(f"/predictions/{pid}"))
        assert driver.find_element(By.ID, "predicted").text == predicted
        driver.find_element(By.ID, "intent").send_keys(corrected)
        driver.find_element(By.ID, "correct").click()
        wait.until(EC.url_matches(r"/queue$"))
        assert f"Saved: correct as {corrected}." in driver.page_source
    finally:
        driver.quit()

    row = server.psql(f"SELECT verdict, intent, predicted_intent FROM feedback WHERE prediction_id = '{pid}'")
    assert row == f"correct|{corrected}|{predicted}", row
    print(f"browser: correction of {pid} ({predicted} -> {corrected}) stored: {row}")
    ok = True
finally:
    if server:
        server.stop()
    print(f"browser: {1 if ok else 0} passed, {0 if ok else 1} failed")
sys.exit(0 if ok else 1)
