"""A page's Content-Security-Policy by behaviour, in a real browser engine (used by the app
window's e2e, window_hardening.py, and the relay page's test, tests/relay/relay_page.py): an
inline script and a script from another origin are put into the page and eval is tried; what
ran and which violations the page reported come back.
"""
import http.server
import threading

# Runs in the page: reports, after a moment, what ran and which violations were reported.
PROBE = """
const done = arguments[arguments.length - 1];
const seen = [];
document.addEventListener('securitypolicyviolation',
  e => seen.push({directive: e.effectiveDirective || e.violatedDirective, blocked: e.blockedURI}));
const inline = document.createElement('script');
inline.textContent = 'window.__inlineRan = true;';
document.body.appendChild(inline);
const foreign = document.createElement('script');
foreign.src = arguments[0];
document.body.appendChild(foreign);
let evaluated = false;
try { evaluated = (0, eval)('1 + 1') === 2; } catch (e) { evaluated = false; }
setTimeout(() => {
  inline.remove(); foreign.remove();
  done({inline: !!window.__inlineRan, foreign: !!window.__foreignRan, evaluated, violations: seen});
}, 1500);
"""


class _Foreign(http.server.BaseHTTPRequestHandler):
    """Another origin's script: it marks the page if it runs."""

    def do_GET(self):
        data = b"window.__foreignRan = true;"
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def foreign_script():
    """Another origin serving a script that marks the page if it runs: its address."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Foreign)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/evil.js"


def probe(driver, foreign_url):
    """What ran in the page open in `driver`, and the violations it reported."""
    driver.set_script_timeout(10)
    got = driver.execute_async_script(PROBE, foreign_url)
    got["directives"] = sorted(v["directive"] for v in got["violations"])
    return got


def all_blocked(got, foreign_url):
    """Inline, foreign and eval all refused, and the foreign script reported as blocked."""
    host = foreign_url.split("/")[2]
    return (not got["inline"] and not got["foreign"] and not got["evaluated"]
            and sum(d.startswith("script-src") for d in got["directives"]) >= 2
            and any(host in v["blocked"] for v in got["violations"]))


def all_ran(got):
    """The control: with no policy, everything put into the page runs and nothing is reported."""
    return got["inline"] and got["foreign"] and got["evaluated"] and not got["violations"]
