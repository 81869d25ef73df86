#!/usr/bin/env python3
"""Plays the customer's browser for the end-to-end test ($BROWSER): opens the vendor's sign-in
(the sandbox consents at once) and goes where the vendor sends it back, the way a desktop does:
an onramp:// link is handed to the app binary (single-instance forwards it to the running app),
a loopback address is visited, and a page that shows a code has the code saved for the test."""
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request


class Stop(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def main(url):
    try:
        urllib.request.build_opener(Stop).open(url, timeout=20)
        return
    except urllib.error.HTTPError as e:
        if e.code not in (301, 302, 303, 307):
            raise
        back = e.headers["Location"]
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
