#!/usr/bin/env bash
# Installs what Onramp needs on a Debian/Ubuntu machine, skipping what is already there.
# Usage: scripts/install-deps.sh run|test|fuzz
# (fuzz: what `make fuzz` needs: the C++ compiler libfuzzer-sys builds libFuzzer with.)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-run}

build_pkgs=(build-essential pkg-config libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev
  librsvg2-dev libssl-dev libxdo-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libdbus-1-dev file
  gnome-keyring dbus dbus-x11 libsecret-tools)
test_pkgs=(xvfb xauth imagemagick webkit2gtk-driver xdg-utils desktop-file-utils x11-utils at-spi2-core python3-pip python3-venv)

pkgs=("${build_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")
# libFuzzer is compiled from source by libfuzzer-sys (g++ from build-essential, already above);
# the coverage instrumentation is the stable toolchain's own LLVM passes: nothing else to fetch.
[ "$what" = fuzz ] && pkgs+=(g++ make)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "==> installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2; exit 1; }
command -v npm >/dev/null || { echo "Node.js 20+ and npm are missing: install them, then run this again." >&2; exit 1; }

# UI packages: reinstall only when the lockfile changed.
if [ ! -f ui/node_modules/.package-lock.json ] || ! cmp -s ui/package-lock.json ui/node_modules/.onramp-lock; then
  echo "==> installing UI packages"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.onramp-lock)
fi

if [ "$what" = test ]; then
  if ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
    echo "==> installing tauri-driver"
    cargo install tauri-driver --locked --version '^2' -q
  fi
  if ! python3 -c 'import selenium' 2>/dev/null; then
    echo "==> installing selenium (Python WebDriver client)"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore 'selenium==4.27.1' 2>/dev/null \
      || python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --break-system-packages 'selenium==4.27.1'
  fi
  # The vendors' published clients for the contract tests (tests/contract): a project-local
  # virtual environment with pinned versions, made again only when the pins change.
  venv=tests/contract/.venv
  if [ ! -x "$venv/bin/python" ] || ! cmp -s tests/contract/requirements.txt "$venv/.onramp-requirements"; then
    echo "==> installing the vendors' published clients (tests/contract/.venv)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/contract/requirements.txt
    cp tests/contract/requirements.txt "$venv/.onramp-requirements"
  fi
  # The benchmark's Python peer (bench/peer_sweep.py); `make test` runs it at tiny sizes.
  if ! python3 -c 'import authlib, httpx' 2>/dev/null; then
    echo "==> installing authlib and httpx (the benchmark's Python peer)"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore 'authlib==1.9.10' 'httpx==0.28.1' 2>/dev/null \
      || python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --break-system-packages 'authlib==1.9.10' 'httpx==0.28.1'
  fi
fi
