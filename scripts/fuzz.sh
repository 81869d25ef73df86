#!/usr/bin/env bash
# Coverage-guided fuzzing of Onramp's parsers with libFuzzer on the stable toolchain: the target
# bodies of fuzz/src (the ones `make test` replays) built with LLVM's sanitizer-coverage passes
# (the flags cargo-fuzz passes with `-s none`, no nightly needed), and run one after another.
#
# Usage: scripts/fuzz.sh [TARGET...]            every target when none is named
#   FUZZ_SECONDS=N   seconds per target (default 60)
#   FUZZ_RUNS=N      executions per target (with FUZZ_SECONDS too: whichever comes first)
#   FUZZ_JOBS=N      libFuzzer processes per target (default 1)
#   FUZZ_MAX_LEN=N   longest input libFuzzer makes (default: its own, at least the longest seed)
#   FUZZ_BUILD=all   instrument and optimize the dependencies too (a long cold build); the
#                    default instruments Onramp's crates and reuses the debug build's dependencies
# Each target starts from its committed seed corpus (fuzz/corpus/TARGET) and keeps what it
# learns in target/fuzz-corpus/TARGET; a crash is written to target/fuzz-artifacts/TARGET and
# fails the run. The summary line per target gives executions, exec/s, coverage and corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
target_dir=${CARGO_TARGET_DIR:-target}
triple=$(rustc -vV | sed -n 's/^host: //p')

here=$PWD
if [ "${FUZZ_BUILD:-own}" = all ]; then
  # Everything instrumented and optimized, dependencies included (a cold release build of core's
  # dependencies: long). An explicit --target keeps build scripts and proc macros plain.
  triple=$(rustc -vV | sed -n 's/^host: //p')
  export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
  export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_STRIP=false
  $CARGO build --release --locked -p onramp-fuzz --features libfuzzer --bins --target "$triple"
  bin_dir="$target_dir/$triple/release"
else
  # The default: Onramp's own crates instrumented (scripts/fuzz-rustc.sh) and optimized, with
  # debug assertions and overflow checks; the dependencies are the debug build's, reused. The
  # fuzz build has a target folder of its own (instrumented core must never reach a normal
  # build), first filled with hard links to the debug build's artifacts: cargo names each
  # artifact by a hash of its inputs and writes a new file for a new one, and Onramp's own are
  # removed from the copy, so it always builds them itself.
  fuzz_dir="$target_dir/fuzz-debug"
  if [ ! -d "$fuzz_dir/debug" ] && [ -d "$target_dir/debug/deps" ]; then
    mkdir -p "$fuzz_dir/debug"
    cp -al "$target_dir/debug/deps" "$target_dir/debug/build" "$target_dir/debug/.fingerprint" "$fuzz_dir/debug/"
    find "$fuzz_dir/debug" -maxdepth 2 -name '*onramp*' -exec rm -rf {} +
  fi
  RUSTC_WRAPPER="$here/scripts/fuzz-rustc.sh" CARGO_TARGET_DIR="$fuzz_dir" $CARGO build --locked \
    -p onramp-fuzz --features libfuzzer --bins \
    --config 'profile.dev.package.onramp-core.opt-level=3' --config 'profile.dev.package.onramp-fuzz.opt-level=3'
  bin_dir="$fuzz_dir/debug"
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^onramp-fuzz$')
fi
# A count of runs, a time, or both (whichever comes first).
limit=()
[ -n "${FUZZ_RUNS:-}" ] && limit+=(-runs="$FUZZ_RUNS")
[ -n "${FUZZ_SECONDS:-}" ] || [ -z "${FUZZ_RUNS:-}" ] && limit+=(-max_total_time="${FUZZ_SECONDS:-60}")

failed=0
printf '%-12s %14s %10s %8s %8s %8s\n' target executions exec/s cov ft corpus
for t in "${targets[@]}"; do
  corpus="$target_dir/fuzz-corpus/$t"
  artifacts="$target_dir/fuzz-artifacts/$t"
  log="$target_dir/fuzz-logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  rc=0
  jobs=()
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
  "$bin_dir/$t" "${limit[@]}" "${jobs[@]}" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" ${FUZZ_MAX_LEN:+-max_len=$FUZZ_MAX_LEN} "$corpus" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && cat fuzz-*.log >>"$log" 2>/dev/null && rm -f fuzz-*.log
  runs=$(grep -h '^stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
  speed=$(grep -h '^stat::average_exec_per_sec' "$log" | awk '{s+=$2} END {print s+0}')
  last=$(grep -h -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  size=$(find "$corpus" -type f | wc -l)
  printf '%-12s %14s %10s %8s %8s %8s\n' "$t" "$runs" "$speed" "${cov:--}" "${ft:--}" "$size"
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "  FAILED (exit $rc): see $log and $artifacts" >&2
    grep -m5 -E 'panicked|ERROR|Test unit written' "$log" >&2 || true
  fi
done
exit $failed
