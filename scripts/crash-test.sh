#!/usr/bin/env bash
# The kill test (tests/crash.rs) in a keyring session of its own. gnome-keyring-daemon itself
# sometimes dies when a client is SIGKILLed mid-call; the test then fails with "ENVIRONMENT:"
# and says nothing about Onramp, so that one case, and only it, is run once more in a fresh
# session. Any other failure fails at once.
# `make bench` runs the kill tests alone, longer and in release: CRASH_PROFILE=release,
# CRASH_FILTER=killed_mid_refresh, ONRAMP_KILL_ROUNDS and ONRAMP_MIN_KILLS.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp -t onramp-crash-XXXXXX)
trap 'rm -f "$log"' EXIT
for attempt in 1 2; do
  scripts/with-keyring.sh "${CARGO:-cargo}" test ${CRASH_PROFILE:+--profile "$CRASH_PROFILE"} -p onramp-tests --test crash --locked \
    -- --ignored --nocapture ${CRASH_FILTER:+"$CRASH_FILTER"} 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" = 0 ]; then exit 0; fi
  if ! grep -q "ENVIRONMENT:" "$log"; then exit "$rc"; fi
  echo "crash-test: the keyring daemon died under the kills (attempt $attempt); trying again in a fresh session" >&2
done
exit 1
