"""Hardening checked by behaviour in the real window, and the audit of the processes Onramp
starts (run_e2e.py calls these):

- the window's commands are gated: Tauri's own and a plugin's commands the capability does not
  grant are refused, and so is an app command name the capability does not grant (with the
  app's commands declared in build.rs, Tauri's ACL refuses it before any handler is looked for;
  without the declaration it would get through to "command not found"); a granted command answers;
- the app's content security policy: an inline script and a script from another origin put into
  the page are blocked and reported as violations, eval is refused, the app's own script runs;
- the browser Onramp opens ($BROWSER, as xdg-open would be) is given the authorize address and
  nothing else: no secret in any form (raw, base64/base64url at any alignment, hex, URL-encoded,
  JSON-escaped) in its argv or environment, no verifier or client secret among the address's
  parameters, and no variable Onramp added to the environment.
"""
import base64
import json
import re
import urllib.parse

import csp_probe
from csp_probe import foreign_script  # noqa: F401 (run_e2e.py calls it from here)

# Calls a command through Tauri's IPC as the page's own code would, and reports how it ended.
INVOKE = """
const done = arguments[arguments.length - 1];
window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1] || {})
  .then(v => done({ok: true, value: JSON.stringify(v).slice(0, 200)}),
        e => done({ok: false, error: String(e && (e.message || e.code) || e)}));
"""

NOT_GRANTED = [
    # (what, command, arguments)
    ("Tauri's app plugin (core:app is not granted)", "plugin:app|version", {}),
    ("Tauri's window plugin", "plugin:window|title", {"label": "main"}),
    ("the deep-link plugin (linked, not granted to the window)", "plugin:deep-link|get_current", {}),
    ("an app command the capability does not grant", "open_anything", {"path": "/etc/passwd"}),
    ("a command that took a path from the webview, now gone", "restore_backup",
     {"path": "/etc/passwd", "passphrase": "x", "replace": True}),
]


def commands_are_gated(d):
    """A list of failures: a command answered that the capability does not grant."""
    d.set_script_timeout(10)
    failures = []
    got = d.execute_async_script(INVOKE, "app_status", {})
    if not got["ok"]:
        failures.append(f"a granted command (app_status) was refused: {got}")
    for what, cmd, args in NOT_GRANTED:
        got = d.execute_async_script(INVOKE, cmd, args)
        refused = not got["ok"] and "not allowed" in got["error"].lower()
        print(f"{'ok  ' if refused else 'FAIL'} refused: {what}: {got.get('error', got)[:120]}")
        if not refused:
            failures.append(f"{what} ({cmd}) was not refused by the ACL: {got}")
    return failures


def csp_holds(d, foreign_url):
    """A list of failures: the app's policy let a script run or did not report it."""
    got = csp_probe.probe(d, foreign_url)
    own = d.execute_script("return !!document.querySelector('[data-testid=\"sandbox-badge\"]')")
    ok = own and csp_probe.all_blocked(got, foreign_url)
    print(f"{'ok  ' if ok else 'FAIL'} the app's CSP: own script runs; inline, foreign and eval "
          f"blocked; reported {got['directives']}")
    return [] if ok else [f"the app's CSP let through or did not report: {got}"]


def _b64_cores(secret):
    """The base64 and base64url that only the secret decides, at each of the three alignments
    it can have inside a longer base64 string (padded or not)."""
    b = secret.encode()
    out = []
    for skip in range(3):
        rest = b[skip:]
        whole = len(rest) // 3 * 3
        if whole >= 9:
            out.append(base64.b64encode(rest[:whole]).decode())
            out.append(base64.urlsafe_b64encode(rest[:whole]).decode())
    return out


def _views(text):
    unescaped = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    unescaped = re.sub(r'\\([\\/"])', r"\1", unescaped)
    return [text, unescaped, urllib.parse.unquote_plus(text), urllib.parse.unquote_plus(unescaped)]


def found(secret, text):
    """Whether `secret` is in `text` in any form."""
    needles = [secret] + _b64_cores(secret)
    views = _views(text)
    if any(n in v for n in needles for v in views):
        return True
    return any(secret.encode().hex() in v.lower() for v in views)


# What an authorize address carries by protocol (RFC 6749, 7636, 8707, 9207 and the vendors').
ADDRESS_PARAMS = {"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                  "code_challenge_method", "audience", "prompt", "locale", "access_type",
                  "connect_token", "vendor", "nonce", "response_mode", "utility", "login_hint",
                  "access_duration", "prompt_missing_scopes"}


def audit_children(log_path, browser, secrets, parent_env):
    """A list of failures for every browser Onramp started (one JSON line each in `log_path`)."""
    failures = []
    with open(log_path) as f:
        children = [json.loads(line) for line in f if line.strip()]
    if len(children) < 3:
        return [f"only {len(children)} browsers were recorded: the audit saw nothing"]
    for c in children:
        argv, env = c["argv"], c["env"]
        if len(argv) != 2 or argv[0] != browser:
            failures.append(f"the browser was started as {argv[:1]} with {len(argv) - 1} arguments")
            continue
        url = urllib.parse.urlsplit(argv[1])
        if url.scheme not in ("http", "https"):
            failures.append(f"the browser was given a {url.scheme}: address")
        extra = {k for k, _ in urllib.parse.parse_qsl(url.query)} - ADDRESS_PARAMS
        if extra:
            failures.append(f"the address carries {sorted(extra)} ({url.path})")
        added = sorted(k for k, v in env.items() if parent_env.get(k) != v and k.startswith("ONRAMP"))
        if added:
            failures.append(f"Onramp set {added} in the browser's environment")
        blob = json.dumps(argv) + "\n" + "\n".join(f"{k}={v}" for k, v in env.items())
        for name, secret in secrets:
            if found(secret, blob):
                failures.append(f"{name} is in the browser's argv or environment")
    print(f"{'ok  ' if not failures else 'FAIL'} {len(children)} browsers started: "
          f"{len(secrets)} secrets looked for in every form in their argv and environment")
    return failures


def _forms(s):
    return {
        "raw": s, "base64": base64.b64encode(s.encode()).decode(),
        "base64url, no padding": base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
        "Basic a:secret": "Basic " + base64.b64encode(b"a:" + s.encode()).decode(),
        "Basic ab:secret": "Basic " + base64.b64encode(b"ab:" + s.encode()).decode(),
        "URL-encoded": urllib.parse.quote_plus(s),
        "every byte %XX": "".join(f"%{b:02X}" for b in s.encode()),
        "hex": s.encode().hex(), "HEX": s.encode().hex().upper(),
        "JSON \\/": json.dumps(s).replace("/", "\\/"), "JSON \\u00xx": s[:3] + "\\u%04x" % ord(s[3]) + s[4:],
    }


def self_test():
    """The positive control: each form of a known secret is found, a near miss is not."""
    s = "Kn0wn/Secret+with space~0123456789abcdef"
    missed = [k for k, v in _forms(s).items() if not found(s, f"argv: [\"x\", \"{v}\"]")]
    assert not missed, f"the child-process audit misses {missed}"
    near = json.dumps(_forms(s.replace("Kn0wn", "Kn0wm")))
    assert not found(s, near), "the child-process audit cries wolf on a near miss"
