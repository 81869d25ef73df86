#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked gnome-keyring (the real
# Secret Service) and a throwaway HOME, so tests never touch the user's keyring or data.
# Usage: scripts/with-keyring.sh CMD [ARGS...]
set -euo pipefail
scratch=$(mktemp -d -t onramp-keyring-XXXXXX)
# Keep the toolchains reachable from the throwaway HOME.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export ONRAMP_TEST_SCRATCH="$scratch"
export HOME="$scratch/home" XDG_DATA_HOME="$scratch/home/.local/share" XDG_CONFIG_HOME="$scratch/home/.config" \
  XDG_CACHE_HOME="$scratch/home/.cache" XDG_RUNTIME_DIR="$scratch/run"
mkdir -p "$HOME/.cache" "$HOME/.local/share/keyrings" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
trap 'rm -rf "$scratch"' EXIT
dbus-run-session -- bash -c '
  eval "$(printf onramp-test | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
  export GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
  "$@"
' onramp-keyring "$@"
