#!/usr/bin/env python3
"""Plays the customer's browser for the end-to-end test ($BROWSER): opens the vendor's sign-in
(the sandbox consents at once) and goes where the vendor sends it back, the way a desktop does:
an onramp:// link is handed to the app binary (single-instance forwards it to the running app),
a loopback address is visited, and a page that shows a code has the code saved for the test.
A vendor's own consent page (Pelm Connect, Derapi Join) is completed: its one form is sent with
`decision=allow` and the first choice of every list, as a customer pressing Connect would."""
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser


class Stop(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Form(HTMLParser):
    """The page's first form: its action and the values a customer would send."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self._select = None, {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("name") and a.get("type") != "submit":
            self.fields.setdefault(a["name"], a.get("value", ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            self.fields.setdefault(self._select, a.get("value", ""))
            self._select = None


def go(opener, url, data=None):
    """The Location the vendor answers with, or None with the page when it shows one."""
    try:
        page = opener.open(url, data=data, timeout=20)
        return None, page.read().decode()
    except urllib.error.HTTPError as e:
        if e.code not in (301, 302, 303, 307):
            raise
        return e.headers["Location"], None


def main(url):
    # What Onramp started this browser with, for the audit of its argv and environment.
    if os.environ.get("ONRAMP_E2E_CHILDREN"):
        with open(os.environ["ONRAMP_E2E_CHILDREN"], "a") as f:
            f.write(json.dumps({"argv": sys.argv, "env": dict(os.environ)}) + "\n")
    # The test learns where each vendor's pages are from the sign-ins it saw.
    if os.environ.get("ONRAMP_E2E_VISITED"):
        with open(os.environ["ONRAMP_E2E_VISITED"], "a") as f:
            f.write(url + "\n")
    opener = urllib.request.build_opener(Stop)
    back, page = go(opener, url)
    if back is None:
        form = Form()
        form.feed(page)
        if form.action is None:
            return
        form.fields["decision"] = "allow"
        body = urllib.parse.urlencode(form.fields).encode()
        back, _ = go(opener, urllib.parse.urljoin(url, form.action), body)
        if back is None:
            return  # a Join session: the app learns the outcome by asking Derapi
    if back.startswith("onramp://"):
        subprocess.Popen([os.environ["ONRAMP_APP"], back], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return
    page = urllib.request.urlopen(back, timeout=20).read().decode()
    code = re.search(r"<code>([^<]+)</code>", page)
    if code and os.environ.get("ONRAMP_E2E_CODE_FILE"):
        with open(os.environ["ONRAMP_E2E_CODE_FILE"], "w") as f:
            f.write(code.group(1))


if __name__ == "__main__":
    main(sys.argv[1])
