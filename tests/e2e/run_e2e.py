#!/usr/bin/env python3
"""Onramp in a real window: Xvfb + tauri-driver + WebKitWebDriver, driven with Selenium.

Adds a customer, connects Solis with a sandbox KeyId/KeySecret (a wrong one first) and SolarEdge
by the homeowner signing in (Site Access: V2 has no customer key), picks a second customer's
SolarEdge site from the company's fleet key, sees the sites listed, quits, reopens and finds them
again (the sign-ins made before still refresh and check: the sandbox's vendors stayed up); imports a Green
Button file, connects UtilityAPI (loopback) and Pelm (its hosted Connect page) and sees the usage. At the end,
hardening by behaviour (window_hardening.py): commands the capability does not grant are refused,
the CSP blocks and reports injected scripts, and the browsers Onramp started carried no secret.
Screenshots go to target/e2e/. Run inside scripts/with-keyring.sh (a private, unlocked Secret Service).
"""
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import urllib3

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.file_detector import UselessFileDetector
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

import window_hardening

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
APP = os.path.join(ROOT, "target", "debug", "onramp-app")
CLI = os.path.join(ROOT, "target", "debug", "onramp")
SHOTS = os.path.join(ROOT, "target", "e2e")
WAIT = 30
GAS_FILE = os.path.join(ROOT, "crates", "core", "tests", "data", "greenbutton",
                        "ngma_natural_gas_billing_billing_data_Service_1_1_2021-05-26_to_2024-04-25.xml")
SAMPLES = os.path.join(ROOT, "crates", "core", "tests", "data", "greenbutton")
YEAR_2011_FILE = os.path.join(SAMPLES, "Coastal_Multi_Family_12hr_Jan_1_2011_to_Jan_1_2012_RetailCustomer_3.xml")
NINE_DAYS_FILE = os.path.join(SAMPLES, "TestGBDataHourlyNineDaysBinnedDaily.xml")
procs = []
# Not a secret: the e2e's own backup passphrase.
BACKUP_PASSPHRASE = "maple ladder seven orbit"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def start(cmd, **kw):
    p = subprocess.Popen(cmd, start_new_session=True, **kw)
    procs.append(p)
    return p


def stop_all():
    for p in reversed(procs):
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(5)
        except Exception:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except Exception:
                pass


def tauri_driver_bin():
    found = shutil.which("tauri-driver")
    if found:
        return found
    cand = os.path.join(os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo")), "bin", "tauri-driver")
    if os.path.exists(cand):
        return cand
    sys.exit("tauri-driver is missing: run scripts/install-deps.sh test")


def gtk_refusals():
    """How often the app could not open its window (GTK failed to initialize) so far."""
    try:
        with open(os.path.join(SHOTS, "app.log"), errors="replace") as f:
            return f.read().count("Failed to initialize GTK")
    except OSError:
        return 0


def session(port):
    opts = ArgOptions()
    opts.set_capability("browserName", "wry")
    opts.set_capability("tauri:options", {"application": APP})
    url = f"http://127.0.0.1:{port}"
    # Every WebDriver call gives up after a minute: an app that died at start must fail the
    # test, not hang it.
    config = ClientConfig(remote_server_addr=url, timeout=60)
    end = time.time() + 90
    refused = gtk_refusals()
    while True:
        try:
            d = webdriver.Remote(command_executor=url, options=opts, client_config=config)
            # Paths typed into the app are text, not files to upload to the driver.
            d.file_detector = UselessFileDetector()
            return d
        except (WebDriverException, OSError, urllib3.exceptions.HTTPError) as e:
            # tauri-driver answers before WebKitWebDriver is up: try again. So does an app that
            # could not open its window on the virtual display once (seen under heavy load).
            if gtk_refusals() > refused + 1:
                raise RuntimeError("the app could not open its window twice: see target/e2e/app.log") from e
            if gtk_refusals() > refused:
                print("e2e: the window system refused the app once (GTK init); starting it again", file=sys.stderr)
            if time.time() > end:
                raise
            time.sleep(1)


def tid(name):
    return (By.CSS_SELECTOR, f'[data-testid="{name}"]')


def wait_for(driver, name, timeout=WAIT):
    return WebDriverWait(driver, timeout).until(EC.visibility_of_element_located(tid(name)))


def click(driver, name):
    el = WebDriverWait(driver, WAIT).until(EC.element_to_be_clickable(tid(name)))
    # Long pages: bring it to the middle, clear of the sticky header and the toasts.
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    try:
        el.click()
    except WebDriverException:
        shot(driver, f"click-{name}-failed")
        raise


def type_into(driver, name, text):
    # A page that is still loading may replace the field once: find it again then.
    for attempt in range(3):
        try:
            el = wait_for(driver, name)
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
            el.clear()
            el.send_keys(text)
            return
        except StaleElementReferenceException:
            if attempt == 2:
                raise
            time.sleep(0.3)


def nav(driver, label):
    WebDriverWait(driver, WAIT).until(EC.element_to_be_clickable(
        (By.XPATH, f'//nav//button[contains(., "{label}")]'))).click()


def wait_text(driver, name, text, timeout=WAIT):
    def ok(d):
        return any(text in e.text for e in d.find_elements(*tid(name)))

    try:
        WebDriverWait(driver, timeout).until(ok)
    except Exception:
        errors = [e.text for e in driver.find_elements(*tid("error-box"))]
        seen = [e.text for e in driver.find_elements(*tid(name))][:5]
        shot(driver, f"no-{name}")
        raise AssertionError(f"no {name} with {text!r} (saw {seen}); errors shown: {errors}")


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))
    subprocess.run(["import", "-window", "root", os.path.join(SHOTS, f"{name}-screen.png")], check=False)


def sideways(driver):
    """How far the page scrolls sideways (0 when it fits the window)."""
    return driver.execute_script(
        "const m = document.querySelector('main');"
        "return Math.max(m.scrollWidth - m.clientWidth,"
        " document.documentElement.scrollWidth - document.documentElement.clientWidth);")


def main():
    for b in (APP, CLI):
        if not os.path.exists(b):
            sys.exit(f"missing {b}: build it first (make bins)")
    scratch = tempfile.mkdtemp(prefix="onramp-e2e-")
    os.environ["ONRAMP_DATA_DIR"] = os.path.join(scratch, "data")
    os.environ["ONRAMP_CONFIG"] = os.path.join(scratch, "absent.toml")  # no file: Sandbox
    os.environ.setdefault("ONRAMP_LOG", "warn")
    # An installer's laptop has a language set; numbers and money are shown in it.
    os.environ["LANG"] = "en_US.UTF-8"
    # The customer's browser: follows the sandbox's consent back to Onramp like a desktop would.
    os.environ["BROWSER"] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "customer_browser.py")
    os.environ["ONRAMP_APP"] = APP
    code_file = os.path.join(scratch, "enphase-code")
    os.environ["ONRAMP_E2E_CODE_FILE"] = code_file
    visited = os.path.join(scratch, "visited")
    os.environ["ONRAMP_E2E_VISITED"] = visited
    children = os.path.join(scratch, "children")
    os.environ["ONRAMP_E2E_CHILDREN"] = children
    window_hardening.self_test()

    # The demo keys the app's in-process sandbox accepts (deterministic, not secrets).
    status = json.loads(subprocess.run(
        [CLI, "--data-dir", os.path.join(scratch, "cli"), "status", "--json"],
        check=True, capture_output=True, text=True).stdout)
    assert status["environment"] == "sandbox", status
    assert status["vault"]["available"], status["vault"]
    keys = status["sandbox_keys"]
    assert not any(k["provider"] == "solaredge" and "account" not in k["label"] for k in keys), \
        "SolarEdge V2 has no customer key"
    solis = next(k for k in keys if k["provider"] == "solis" and k["label"].startswith("Customer key"))
    account = next(k for k in keys if k["provider"] == "solaredge" and "account" in k["label"])
    # A word that names sites of the installer account's fleet.
    cli_env = dict(os.environ, ONRAMP_CONFIG=os.path.join(scratch, "absent.toml"))
    subprocess.run([CLI, "--data-dir", os.path.join(scratch, "cli"), "account", "set", "solaredge"],
                   input=account["api_key"] + "\n", check=True, capture_output=True, text=True, env=cli_env)
    fleet = json.loads(subprocess.run(
        [CLI, "--data-dir", os.path.join(scratch, "cli"), "account", "sites", "solaredge", "--json"],
        check=True, capture_output=True, text=True, env=cli_env).stdout)
    fleet_word = fleet["sites"][0]["name"]

    display = 90 + os.getpid() % 9
    start(["Xvfb", f":{display}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["DISPLAY"] = f":{display}"
    time.sleep(1)
    port, native = free_port(), free_port()
    # The app's own output (through tauri-driver) goes to target/e2e/app.log.
    os.makedirs(SHOTS, exist_ok=True)
    app_log = open(os.path.join(SHOTS, "app.log"), "w")
    # The app's Downloads (exports, backups) stay in the scratch folder.
    home = os.path.join(scratch, "home")
    os.makedirs(home, exist_ok=True)
    start([tauri_driver_bin(), "--port", str(port), "--native-port", str(native)],
          stdout=app_log, stderr=subprocess.STDOUT, env=dict(os.environ, HOME=home))
    wait_port(port)

    d = session(port)
    try:
        wait_for(d, "sandbox-badge")
        click(d, "new-customer")
        type_into(d, "customer-name", "Ada Garcia")
        type_into(d, "customer-address", "1234 Oak St, Fresno, CA")
        type_into(d, "customer-job", "J-2041")
        click(d, "customer-save")

        # Solis with the customer's own key: a wrong KeySecret first, refused in Solis's words.
        click(d, "connect-solis")
        click(d, "mode-customer-key")
        type_into(d, "field-key_id", solis["key_id"])
        type_into(d, "field-key_secret", "0123456789abcdef0123456789abcdef")
        click(d, "connect-submit")
        wait_text(d, "error-box", "Solis rejected")
        shot(d, "connect-wrong-key")
        type_into(d, "field-key_secret", solis["key_secret"])
        click(d, "connect-submit")
        WebDriverWait(d, WAIT).until(
            lambda x: "Connected" in x.find_element(*tid("status-solis")).text)
        click(d, "connect-done")

        # SolarEdge: no customer key in V2; with no fleet key saved, the homeowner signs in.
        click(d, "connect-solaredge")
        click(d, "open-sign-in")
        WebDriverWait(d, WAIT).until(lambda x: "SolarEdge connected" in x.find_element(*tid("connect-outcome")).text)
        click(d, "connect-done")
        assert "Connected" in d.find_element(*tid("status-solaredge")).text
        time.sleep(0.5)
        page = d.find_element(By.TAG_NAME, "body").text
        assert account["api_key"] not in page and solis["key_secret"] not in page, "a secret is on screen"
        shot(d, "customer-connected")
        # The customer's hand-off sheet: both connections, with how to withdraw each.
        click(d, "open-hand-off")
        wait_text(d, "hand-off", "Your connected systems")
        sheet = d.find_element(*tid("hand-off")).text
        assert "Solis" in sheet and "SolarEdge" in sheet and "To withdraw it" in sheet, sheet
        assert solis["key_secret"] not in sheet, "a secret is on the hand-off sheet"
        shot(d, "hand-off")
        click(d, "hand-off-back")
        wait_for(d, "customer-header")
    finally:
        d.quit()

    # The installer account: saved once in Settings, then a second customer's site is picked
    # from its list by searching.
    d = session(port)
    try:
        wait_for(d, "sandbox-badge")
        nav(d, "Settings")
        type_into(d, "account-field-solaredge-api_key", account["api_key"])
        click(d, "account-save-solaredge")
        WebDriverWait(d, WAIT).until(lambda x: "installer account saved" in x.find_element(By.TAG_NAME, "body").text)
        shot(d, "settings")
        assert sideways(d) == 0, f"Settings scrolls sideways by {sideways(d)} px at 1280x800"
        # The way back is under Advanced; its select: short labels that fit, the meaning said
        # whole below it.
        d.execute_script("document.querySelectorAll('details.advanced').forEach(x => x.open = true)")
        d.execute_script("document.querySelector('[data-testid^=\"return-mode-hint-\"]').scrollIntoView({block: 'center'})")
        time.sleep(0.3)
        cut = d.execute_script(
            "return [...document.querySelectorAll('[data-testid^=\"return-mode-\"]')]"
            ".filter(e => e.tagName === 'SELECT').map(e => {"
            " const c = document.createElement('canvas').getContext('2d');"
            " c.font = getComputedStyle(e).font;"
            " return [...e.options].map(o => c.measureText(o.text).width - (e.clientWidth - 40))"
            "   .filter(x => x > 0).length; }).reduce((a, b) => a + b, 0)")
        assert cut == 0, f"{cut} select options are wider than their select"
        shot(d, "settings-return-mode")
        # Settings → Company: your name (events name who acted) and the providers in use.
        type_into(d, "installer-name", "Sam Ortiz")
        click(d, "company-provider-sma")
        click(d, "save-company")
        wait_text(d, "toast", "Company settings saved")
        d.execute_script("document.querySelector('[data-testid=\"company-settings\"]').scrollIntoView({block: 'center'})")
        time.sleep(0.5)
        shot(d, "settings-company")
        # Enphase's partner plan: the sandbox's partner application and Enlighten user, signed
        # in once; the password is sent to Enphase and is gone from the form and the screen.
        click(d, "account-sandbox-enphase")
        click(d, "account-save-enphase")
        WebDriverWait(d, WAIT).until(lambda x: "installer account signed in" in x.find_element(By.TAG_NAME, "body").text)
        wait_text(d, "account-renews-enphase", "renews this sign-in by itself")
        assert d.find_element(*tid("account-field-enphase-password")).get_attribute("value") == ""
        d.execute_script("document.querySelector('[data-testid=\"account-enphase\"]').scrollIntoView()")
        time.sleep(0.3)
        shot(d, "settings-enphase-partner")
        nav(d, "Customers")
        click(d, "new-customer")
        type_into(d, "customer-name", "Ben Okafor")
        click(d, "customer-save")
        click(d, "connect-solaredge")
        click(d, "mode-account")
        type_into(d, "site-search", fleet_word)
        wait_text(d, "remote-site", fleet_word)
        # The search is debounced: let the narrowed list settle before the picture.
        WebDriverWait(d, WAIT).until(lambda x: len(x.find_elements(*tid("remote-site"))) < 50)
        shot(d, "connect-from-installer-account")
        WebDriverWait(d, WAIT).until(EC.element_to_be_clickable(
            (By.CSS_SELECTOR, '[data-testid="remote-site"] input[type="checkbox"]'))).click()
        click(d, "connect-submit")
        wait_text(d, "site-row", fleet_word)
        click(d, "connect-done")
    finally:
        d.quit()

    # Tesla through the deep link (single-instance hands the URL to the running app), and
    # Enphase through the code its page shows, pasted.
    d = session(port)
    try:
        wait_text(d, "customer-row", "Ada Garcia")
        WebDriverWait(d, WAIT).until(EC.element_to_be_clickable(
            (By.XPATH, '//*[@data-testid="customer-row"][contains(., "Ada Garcia")]/td'))).click()
        click(d, "connect-tesla")
        click(d, "open-sign-in")
        WebDriverWait(d, WAIT).until(lambda x: "Tesla connected" in x.find_element(*tid("connect-outcome")).text)
        shot(d, "tesla-deep-link")
        click(d, "connect-done")
        assert "Connected" in d.find_element(*tid("status-tesla")).text

        click(d, "connect-enphase")
        # The partner account's list comes first; this customer signs in with their own
        # Enlighten account instead.
        click(d, "switch-to-sign-in")
        click(d, "open-sign-in")
        WebDriverWait(d, WAIT).until(lambda x: os.path.exists(code_file) and open(code_file).read())
        # A mistyped code: Enphase refuses it, and the sign-in stays open for the right one.
        code = open(code_file).read()
        type_into(d, "paste-input", code[:-1] + ("x" if code[-1] != "x" else "y"))
        click(d, "paste-submit")
        wait_text(d, "error-box", "did not accept that code")
        time.sleep(0.5)
        shot(d, "paste-refused")
        type_into(d, "paste-input", code)
        click(d, "paste-submit")
        WebDriverWait(d, WAIT).until(lambda x: "Enphase connected" in x.find_element(*tid("connect-outcome")).text)
        click(d, "connect-done")
        assert "Connected" in d.find_element(*tid("status-enphase")).text
        WebDriverWait(d, WAIT).until(lambda x: not x.find_elements(*tid("connect-done")))
        d.execute_script("document.querySelector('[data-testid=\"customer-header\"]').scrollIntoView()")
        time.sleep(1)  # WebKit under Xvfb paints a moment after the DOM settles
        shot(d, "customer-signed-in")
        # Activity as the consent record: filtered by kind, naming who acted, exported as shown.
        nav(d, "Activity")
        wait_for(d, "event-row")
        d.execute_script(
            "const s = document.querySelector('[data-testid=\"activity-kind\"]');"
            " s.value = 'connected'; s.dispatchEvent(new Event('change', {bubbles: true}))")
        WebDriverWait(d, WAIT).until(lambda x: x.find_elements(*tid("event-row")) and all(
            "connected" in r.text.lower() for r in x.find_elements(*tid("event-row"))))
        assert any("Sam Ortiz" in r.text for r in d.find_elements(*tid("event-row"))), "the installer is not named"
        click(d, "activity-export-csv")
        wait_text(d, "toast", "Activity saved")
        shot(d, "activity")
    finally:
        d.quit()

    # Quit and reopen: everything is still there.
    d = session(port)
    try:
        wait_text(d, "customer-row", "Ada Garcia")
        shot(d, "customers-after-restart")
        # A table row is not a click target for WebDriver: click its first cell.
        WebDriverWait(d, WAIT).until(EC.element_to_be_clickable(
            (By.XPATH, '//*[@data-testid="customer-row"][contains(., "Ada Garcia")]/td'))).click()
        wait_for(d, "site-row")
        assert "Connected" in d.find_element(*tid("status-solaredge")).text

        # The sandbox's vendors stayed up across the relaunch (their books in the data folder, on
        # the same ports): the sign-ins made before it still refresh and check.
        for provider, name in (("tesla", "Tesla"), ("solaredge", "SolarEdge")):
            row = f'//tr[@data-testid="provider-row-{provider}"]/following-sibling::tr[1]'
            for button, said in (("refresh-connection", "new tokens"), ("check-connection", "working")):
                WebDriverWait(d, WAIT).until(EC.element_to_be_clickable(
                    (By.XPATH, f'{row}//button[@data-testid="{button}"]'))).click()
                WebDriverWait(d, WAIT).until(lambda x: any(
                    f"{name}: {said}" in t.text for t in x.find_elements(*tid("toast"))))
        assert "Connected" in d.find_element(*tid("status-tesla")).text
        # A toast is up: the page keeps room below its content for it.
        room = d.execute_script(
            "const t = document.querySelector('[data-testid=\"toasts\"]');"
            "return parseFloat(getComputedStyle(document.querySelector('main')).paddingBottom) - t.offsetHeight")
        assert room >= 24, f"the toasts cover the page's bottom ({room} px to spare)"
        d.execute_script("const m = document.querySelector('main'); m.scrollTop = m.scrollHeight")
        time.sleep(0.5)
        shot(d, "toast-room")

        # The customer removes Onramp in their Tesla account's connected apps (the vendor's own
        # page, a real form). The next refresh is refused: the row's one action is Re-authorize,
        # the error box says the same in plain words, and Tesla's own answer is under Details.
        tesla_base = next(urllib.parse.urlsplit(u)._replace(path="", query="", fragment="").geturl()
                          for u in open(visited).read().split() if "/oauth2/v3/authorize" in u)
        apps = urllib.request.urlopen(tesla_base + "/account/apps", timeout=20).read().decode()
        grants = re.findall(r'name="grant" value="(\d+)"', apps)
        assert grants, apps
        for g in grants:
            urllib.request.urlopen(tesla_base + "/account/apps/withdraw",
                                   data=urllib.parse.urlencode({"grant": g}).encode(), timeout=20)
        tesla_row = '//tr[@data-testid="provider-row-tesla"]/following-sibling::tr[1]'
        refresh = WebDriverWait(d, WAIT).until(EC.element_to_be_clickable(
            (By.XPATH, f'{tesla_row}//button[@data-testid="refresh-connection"]')))
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", refresh)
        refresh.click()
        WebDriverWait(d, WAIT).until(
            lambda x: x.find_element(*tid("connect-tesla")).get_attribute("data-action") == "reauthorize")
        action = d.find_element(*tid("connect-tesla"))
        assert action.text.strip() == "Re-authorize", action.text
        assert "primary" in action.get_attribute("class"), "the next thing to do does not stand out"
        primaries = [b for b in d.find_elements(By.CSS_SELECTOR, '[data-testid^="connect-"].primary') if b.is_displayed()]
        assert len(primaries) == 1, [b.text for b in primaries]
        box = d.find_element(By.XPATH, f'{tesla_row}//*[@data-testid="error-box"]')
        said = box.find_element(By.CSS_SELECTOR, ".msg").text
        assert "invalid_grant" not in said and "login_required" not in said, said
        assert "Re-authorize" in box.find_element(By.CSS_SELECTOR, ".hint").text
        box.find_element(By.CSS_SELECTOR, "summary").click()
        raw = box.find_element(By.CSS_SELECTOR, "details code").text
        assert "invalid_grant" in raw or "login_required" in raw, raw
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
        time.sleep(1)
        shot(d, "access-withdrawn")
        # Re-authorize with the customer: the same connection comes back, its sites kept.
        click(d, "connect-tesla")
        wait_for(d, "reauthorize-note")
        click(d, "open-sign-in")
        WebDriverWait(d, WAIT).until(lambda x: "Tesla re-authorized" in x.find_element(*tid("connect-outcome")).text)
        click(d, "connect-done")
        WebDriverWait(d, WAIT).until(lambda x: "Connected" in x.find_element(*tid("status-tesla")).text)
        assert d.find_element(*tid("connect-tesla")).get_attribute("data-action") == "add"

        # Utility data. A file the customer downloaded from the utility (Download My Data),
        # picked with the file chooser; a broken file first: a plain error, nothing stored.
        # The app runs on this machine: file inputs take a local path, not an upload (every
        # session is opened so).
        broken = os.path.join(scratch, "truncated.xml")
        with open(GAS_FILE, "rb") as f, open(broken, "wb") as out:
            out.write(f.read()[:4000])
        d.find_element(*tid("usage-file")).send_keys(broken)
        wait_text(d, "error-box", "truncated.xml")
        assert not d.find_elements(*tid("usage-series")), "a broken file stored usage"
        d.find_element(*tid("usage-file")).send_keys(GAS_FILE)
        wait_text(d, "usage-series", "therm")

        # Connect My Data at the utility (UtilityAPI, loopback): the feed is fetched at once.
        click(d, "connect-utilityapi")
        click(d, "open-sign-in")
        WebDriverWait(d, WAIT).until(lambda x: "connected" in x.find_element(*tid("connect-outcome")).text)
        assert "IntervalDuration" in d.find_element(*tid("outcome-scope")).text
        click(d, "connect-done")
        WebDriverWait(d, WAIT).until(lambda x: len(x.find_elements(*tid("usage-series"))) == 3)
        wait_text(d, "usage-series", "kWh")
        # Pelm's hosted Connect: the customer picks their utility and presses Connect.
        click(d, "connect-pelm")
        click(d, "open-sign-in")
        WebDriverWait(d, WAIT).until(lambda x: "connected" in x.find_element(*tid("connect-outcome")).text)
        click(d, "connect-done")
        assert "Connected" in d.find_element(*tid("status-pelm")).text
        # Two published files: a year from 2011 and nine days. Labels say what they cover.
        d.find_element(*tid("usage-file")).send_keys(YEAR_2011_FILE)
        WebDriverWait(d, WAIT).until(lambda x: len(x.find_elements(*tid("usage-series"))) == 4)
        d.find_element(*tid("usage-file")).send_keys(NINE_DAYS_FILE)
        WebDriverWait(d, WAIT).until(lambda x: len(x.find_elements(*tid("usage-series"))) == 5)
        periods = [e.text for e in d.find_elements(*tid("usage-period"))]
        assert "Jan 2011 – Dec 2011" in periods, periods
        assert "Last 12 months" not in d.find_element(By.TAG_NAME, "body").text
        assert any("9 days covered" in e.text for e in d.find_elements(*tid("usage-covered")))
        axis = [e.get_attribute("textContent") for e in d.find_elements(*tid("usage-axis"))]
        assert "Jan 2011" in axis, axis
        places = [e.text for e in d.find_elements(*tid("usage-address"))]
        assert any("1 MAIN ST, ANYTOWN ME 12345" in p for p in places), places
        d.execute_script(
            "document.getElementById('usage-h').scrollIntoView({block: 'start'})")
        # The picture without the confirmations on top (they leave by themselves).
        WebDriverWait(d, WAIT).until(lambda x: not x.find_elements(*tid("toast")))
        shot(d, "customer-usage")

        # The checklist's header stays at the very top of the page while its rows scroll under it.
        gap = d.execute_script(
            "const m = document.querySelector('main');"
            "const th = document.querySelector('.checklist thead th');"
            "m.scrollTop = th.closest('table').getBoundingClientRect().top - m.getBoundingClientRect().top + m.scrollTop + 80;"
            "return th.getBoundingClientRect().top - m.getBoundingClientRect().top")
        time.sleep(0.5)
        shot(d, "customer-sticky-header")
        assert abs(gap) < 1, f"a {gap} px strip above the sticky header"

        # The health board: nothing needs anyone; Enphase's one-week refresh token is on the
        # expiry calendar (Onramp renews it while it runs).
        nav(d, "Health")
        wait_for(d, "health-clear")
        wait_text(d, "calendar-row", "Enphase")
        time.sleep(0.5)
        shot(d, "health")

        # Settings → Data: everything backed up into one file, encrypted to a passphrase.
        nav(d, "Settings")
        type_into(d, "backup-passphrase", BACKUP_PASSPHRASE)
        type_into(d, "backup-passphrase-again", BACKUP_PASSPHRASE)
        click(d, "backup-create")
        done = wait_for(d, "backup-done", timeout=60)
        backup = done.find_element(By.CSS_SELECTOR, ".mono").text
        assert os.path.isfile(backup), backup
        assert BACKUP_PASSPHRASE.encode() not in open(backup, "rb").read()
        assert oct(os.stat(backup).st_mode & 0o777) == "0o600", oct(os.stat(backup).st_mode)
        d.execute_script("document.querySelector('[data-testid=\"data-section\"]').scrollIntoView()")
        time.sleep(1)
        shot(d, "settings-data")
    finally:
        d.quit()

    # The keyring is reset (Onramp's data key gone, as on a reinstalled laptop): the app says
    # so in its own words, and the backup brings everything back.
    subprocess.run(["secret-tool", "clear", "service", "onramp"], check=True)
    d = session(port)
    try:
        wait_text(d, "vault-key-lost", "missing from this laptop's keyring")
        time.sleep(1)
        shot(d, "key-missing")
        click(d, "vault-restore")
        # Picked in the file chooser: the bytes travel, never a path typed into the page.
        d.find_element(*tid("restore-file")).send_keys(backup)
        wait_text(d, "restore-file-name", os.path.basename(backup))
        type_into(d, "restore-passphrase", "not the passphrase")
        click(d, "restore-start")
        click(d, "restore-confirm")
        wait_for(d, "error-box", timeout=60)
        assert not d.find_elements(*tid("restore-done"))
        type_into(d, "restore-passphrase", BACKUP_PASSPHRASE)
        click(d, "restore-start")
        click(d, "restore-confirm")
        wait_text(d, "restore-done", "Restored", timeout=60)
        WebDriverWait(d, WAIT).until(lambda x: not x.find_elements(*tid("vault-warning")))
        nav(d, "Customers")
        wait_text(d, "customer-row", "Ada Garcia")
        shot(d, "restored")
    finally:
        d.quit()

    # Customers from a CSV file: picked, previewed (a duplicate of Ada flagged), imported whole.
    # Then Ada's removal: the dialog asks what becomes of her connections, and Undo in the
    # toast's seconds brings her back with nothing sent.
    csv_file = os.path.join(scratch, "crm-export.csv")
    with open(os.path.join(ROOT, "tests", "data", "customers.csv"), encoding="utf-8-sig") as f:
        rows = f.read().splitlines()
    with open(csv_file, "w", encoding="utf-8") as out:
        out.write("\n".join(rows[:1] + ['J-2041,Ada Garcia,"1234 Oak St, Fresno, CA",,'] + rows[1:]) + "\n")
    d = session(port)
    try:
        wait_text(d, "customer-row", "Ada Garcia")
        click(d, "import-customers")
        d.find_element(*tid("import-file")).send_keys(csv_file)
        wait_text(d, "import-row-duplicate", "Already a customer: Ada Garcia")
        wait_text(d, "import-confirm", "Import 3 customers")
        time.sleep(1)
        shot(d, "customers-csv-preview")
        click(d, "import-confirm")
        WebDriverWait(d, WAIT).until(lambda x: any(
            "Imported 3 customers from crm-export.csv" in t.text for t in x.find_elements(*tid("toast"))))
        wait_text(d, "customer-row", "Okafor, Ben")

        # The first Ada (the file's other Ada lives elsewhere: not a duplicate, imported).
        WebDriverWait(d, WAIT).until(EC.element_to_be_clickable(
            (By.XPATH, '//*[@data-testid="customer-row"][contains(., "1234 Oak St")]/td'))).click()
        click(d, "remove-customer")
        wait_text(d, "remove-customer-panel", "Revoking is final")
        time.sleep(1)
        shot(d, "remove-customer-dialog")
        click(d, "confirm-remove-customer")
        wait_text(d, "toast", "Ada Garcia removed")
        assert not any("1234 Oak St" in r.text for r in d.find_elements(*tid("customer-row")))
        time.sleep(0.5)
        shot(d, "remove-customer-undo")
        click(d, "toast-action")
        wait_text(d, "customer-row", "1234 Oak St")
        time.sleep(9)  # past the undo window: nothing was sent, Ada stays
        wait_text(d, "customer-row", "1234 Oak St")

        # Hardening by behaviour, in this window: the ACL and the CSP.
        failures = window_hardening.commands_are_gated(d)
        failures += window_hardening.csp_holds(d, window_hardening.foreign_script())
    finally:
        d.quit()
    # The browsers Onramp started: the authorize address and nothing else.
    secrets = [("Solis's KeySecret", solis["key_secret"]), ("the fleet key", account["api_key"]),
               ("the backup passphrase", BACKUP_PASSPHRASE)]
    if os.path.exists(code_file):
        secrets.append(("Enphase's code", open(code_file).read().strip()))
    failures += window_hardening.audit_children(children, os.environ["BROWSER"], secrets,
                                                dict(os.environ, HOME=home))
    assert not failures, "hardening: " + "; ".join(failures)
    print("e2e: 1 passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
