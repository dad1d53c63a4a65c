"""Debian's Chromium and chromedriver, headless, for the browser tests (Selenium from the venv that
ops/browser/ensure-venv makes)."""


def chromium(extra_flags=(), console_log=False):
    """A WebDriver on headless Chromium; `extra_flags` are added to the usual ones, and with
    `console_log` the browser's console is kept for driver.get_log("browser")."""
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", *extra_flags):
        options.add_argument(flag)
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"), options=options)
