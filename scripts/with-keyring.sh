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
mkdir -p "$HOME/.cache" "$HOME/.local/share/keyrings" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR" \
  "$XDG_DATA_HOME/dbus-1/services"
chmod 700 "$XDG_RUNTIME_DIR"
# gnome-keyring-daemon 42 aborts now and then when a client disconnects right after changing an
# item (its change signal looks up the departed client: "gkd_secret_service_publish_dispatch:
# assertion 'client' failed"). D-Bus then starts a new one on the next call, which would come up
# locked with no one to type the password. In a desktop session the login unlocks it; here this
# service file (found before the system's) starts the replacement unlocked the same way.
cat > "$scratch/keyring-daemon" <<'EOS'
#!/bin/sh
printf onramp-test | exec gnome-keyring-daemon --foreground --unlock --components=secrets
EOS
chmod +x "$scratch/keyring-daemon"
printf '[D-BUS Service]\nName=org.freedesktop.secrets\nExec=%s\n' "$scratch/keyring-daemon" \
  > "$XDG_DATA_HOME/dbus-1/services/org.freedesktop.secrets.service"
trap 'rm -rf "$scratch"' EXIT
dbus-run-session -- bash -c '
  eval "$(printf onramp-test | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
  export GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
  "$@"
' onramp-keyring "$@"
