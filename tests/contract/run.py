#!/usr/bin/env python3
"""Contract tests: clients Onramp did not write, run against Onramp's sandbox.

Each vendor's published client library (pinned in requirements.txt, installed into
tests/contract/.venv by `scripts/install-deps.sh test`) talks to the sandbox the way it talks to
the vendor, pointed there only the way the library itself allows (a base URL, or the HTTP
session it is handed); no library is patched. So the sandbox is held to what these clients
expect of the real APIs, not to Onramp's own reading of them.

Usage: tests/contract/.venv/bin/python tests/contract/run.py [--onramp target/debug/onramp]
Starts `onramp sandbox --json` on free ports, runs every check, prints one line per check and
"N passed, N failed"; exits non-zero if any failed.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import contract_derapi  # noqa: E402
import contract_solis  # noqa: E402
import contract_tesla  # noqa: E402

CHECKS = contract_solis.CHECKS + contract_tesla.CHECKS + contract_derapi.CHECKS


def start_sandbox(onramp: str):
    """The sandbox in its own process: (process, its description)."""
    proc = subprocess.Popen(
        [onramp, "sandbox", "--json", "--solaredge-port", "0", "--solis-port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise SystemExit(f"{onramp} sandbox --json printed nothing")
    return proc, json.loads(line)


def stop(proc) -> None:
    try:
        proc.stdin.close()  # the sandbox serves until its stdin closes
        proc.wait(timeout=10)
    except Exception:
        proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--onramp", default=os.path.join(ROOT, "target", "debug", "onramp"))
    args = ap.parse_args()
    proc, sb = start_sandbox(args.onramp)
    passed = failed = 0
    try:
        for name, check in CHECKS:
            started = time.monotonic()
            try:
                asyncio.run(check(sb))
                passed += 1
                print(f"ok    {name} ({time.monotonic() - started:.1f} s)", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL  {name}", flush=True)
                traceback.print_exc()
    finally:
        stop(proc)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
