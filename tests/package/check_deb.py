#!/usr/bin/env python3
"""Unpacks the .deb that `make package` built and checks what a desktop needs from it: the
binary, the icon, and a desktop entry that registers the onramp:// scheme and passes the URL."""
import glob
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
debs = sorted(glob.glob(os.path.join(ROOT, "target", "*", "bundle", "deb", "*.deb")), key=os.path.getmtime)
if not debs:
    sys.exit("no .deb found: run make package first")
deb = debs[-1]
out = tempfile.mkdtemp(prefix="onramp-deb-")
subprocess.run(["dpkg-deb", "-x", deb, out], check=True)
fields = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Depends"], check=True, capture_output=True, text=True).stdout
assert "Package: onramp" in fields, fields
assert "libwebkit2gtk-4.1" in fields, fields

entries = glob.glob(os.path.join(out, "usr", "share", "applications", "*.desktop"))
assert len(entries) == 1, entries
entry = dict(
    line.split("=", 1) for line in open(entries[0]).read().splitlines() if "=" in line and not line.startswith("#")
)
assert "x-scheme-handler/onramp" in entry["MimeType"].split(";"), entry
assert entry["Exec"].split()[-1] == "%u", "the URL must reach the app: " + entry["Exec"]
assert os.access(os.path.join(out, "usr", "bin", entry["Exec"].split()[0]), os.X_OK), entry["Exec"]
assert glob.glob(os.path.join(out, "usr", "share", "icons", "hicolor", "*", "apps", entry["Icon"] + ".png"))
subprocess.run(["desktop-file-validate", entries[0]], check=True)
print(f"package: {os.path.basename(deb)} ({os.path.getsize(deb) // 1024} KiB), desktop entry registers onramp://")
print("package: 1 passed, 0 failed")
