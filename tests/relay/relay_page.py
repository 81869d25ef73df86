#!/usr/bin/env python3
"""The https relay page (relay/index.html + relay/relay.js) in a real browser engine: WebKitGTK's
MiniBrowser driven by WebKitWebDriver, under the page's own Content-Security-Policy. The page is
served over loopback with a vendor's answer in its query, and must hand that answer on to
`onramp://oauth/callback?...` (WebKit, which has no handler for the scheme, then shows the
address it was sent to: that is what is read). Then the policy itself, by behaviour: the page's
own script runs, while an inline script and a script from another origin put into the page are
blocked and reported as violations; the same page served without its policy runs them (so the
check can fail). Needs a display: `xvfb-run -a` (make relay-test).
"""
import functools
import glob
import http.server
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import csp_probe  # noqa: E402 (shared with the app window's e2e)
RELAY = os.path.join(ROOT, "relay")

CASES = [
    # (what, query the vendor sent, link the page must open; None: it must open nothing)
    ("a code, with vendor extras and RFC 9207 iss",
     "code=c0de&state=st4te&iss=https%3A%2F%2Fauth.example&site_id=42&utm_source=mail",
     "onramp://oauth/callback?code=c0de&state=st4te&iss=https%3A%2F%2Fauth.example&site_id=42"),
    ("Tesla's issuer parameter",
     "locale=en-US&code=NA_1&state=s&issuer=https%3A%2F%2Fauth.tesla.com%2Foauth2%2Fv3",
     "onramp://oauth/callback?code=NA_1&state=s&issuer=https%3A%2F%2Fauth.tesla.com%2Foauth2%2Fv3"),
    ("Derapi Join: a state and an enrollment, no code",
     "state=s1&enrollmentID=enr-7",
     "onramp://oauth/callback?state=s1&enrollmentID=enr-7"),
    ("a decline",
     "error=access_denied&error_description=User+denied&state=s",
     "onramp://oauth/callback?state=s&error=access_denied&error_description=User+denied"),
    ("no answer at all", "utm_source=mail", None),
]


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
    raise RuntimeError(f"WebKitWebDriver does not listen on {port}")


def mini_browser():
    found = sorted(glob.glob("/usr/lib/*/webkit2gtk-4.1/MiniBrowser"))
    if not found:
        sys.exit("WebKitGTK's MiniBrowser is missing (package libwebkit2gtk-4.1-0)")
    return found[0]


class Quiet(http.server.SimpleHTTPRequestHandler):
    """The relay folder; `/no-policy.html` is index.html with its CSP taken out (the control)."""

    def do_GET(self):
        if self.path.split("?")[0] == "/no-policy.html":
            with open(os.path.join(RELAY, "index.html"), encoding="utf-8") as f:
                body = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", f.read())
            assert "Content-Security-Policy" not in body
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def own_script_ran(browser):
    return browser.execute_script("return document.getElementById('title').textContent") \
        == "Nothing to hand back"


def policy_check(browser, page, foreign_url):
    """What the relay page's policy lets run, with and without it: a list of failures."""
    failures = []
    browser.get(f"{page}?utm_source=mail")
    WebDriverWait(browser, 10).until(own_script_ran)
    got = csp_probe.probe(browser, foreign_url)
    ok = own_script_ran(browser) and csp_probe.all_blocked(got, foreign_url) \
        and all(d.startswith("script-src") for d in got["directives"])
    print(f"{'ok  ' if ok else 'FAIL'} the policy: own script ran, inline, foreign and eval "
          f"blocked, reported {got['directives']}")
    if not ok:
        failures.append(f"the page's policy let through or did not report: {got}")
    # The control: without the policy the same injection runs, so the check above can fail.
    browser.get(page.replace("index.html", "no-policy.html") + "?utm_source=mail")
    WebDriverWait(browser, 10).until(own_script_ran)
    got = csp_probe.probe(browser, foreign_url)
    ok = csp_probe.all_ran(got)
    print(f"{'ok  ' if ok else 'FAIL'} without the policy the same scripts run (the control)")
    if not ok:
        failures.append(f"the control did not run the injected scripts: {got}")
    return failures


def main():
    driver_bin = shutil.which("WebKitWebDriver")
    if not driver_bin:
        sys.exit("WebKitWebDriver is missing: run scripts/install-deps.sh test (webkit2gtk-driver)")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=RELAY))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    foreign_url = csp_probe.foreign_script()

    port = free_port()
    driver = subprocess.Popen([driver_bin, f"--port={port}"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = None
    failures = []
    try:
        wait_port(port)
        opts = ArgOptions()
        opts.set_capability("webkitgtk:browserOptions",
                            {"binary": mini_browser(), "args": ["--automation"]})
        browser = webdriver.Remote(command_executor=f"http://127.0.0.1:{port}", options=opts)
        browser.set_page_load_timeout(20)
        for what, query, want in CASES:
            browser.get(f"{page}?{query}")
            if want is None:
                try:
                    WebDriverWait(browser, 10).until(
                        lambda d: d.execute_script("return document.getElementById('title').textContent")
                        == "Nothing to hand back")
                    ok = browser.current_url.startswith(page)
                except Exception:
                    ok = False
                got = browser.current_url
            else:
                try:
                    WebDriverWait(browser, 10).until(lambda d: d.current_url.startswith("onramp:"))
                except Exception:
                    pass
                got = browser.current_url
                ok = got == want
            print(f"{'ok  ' if ok else 'FAIL'} {what}: {got}")
            if not ok:
                failures.append(f"{what}: the page went to {got!r}, expected {want or 'nowhere'!r}")
        failures += policy_check(browser, page, foreign_url)
    finally:
        if browser is not None:
            try:
                browser.quit()
            except Exception:
                pass
        os.killpg(driver.pid, signal.SIGTERM)
        driver.wait(5)
        server.shutdown()
    if failures:
        sys.exit("relay page: " + "; ".join(failures))
    print(f"relay page: {len(CASES)} answers handed on in WebKit, its policy holds")


if __name__ == "__main__":
    main()
