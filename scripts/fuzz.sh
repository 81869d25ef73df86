#!/usr/bin/env bash
# Coverage-guided fuzzing of Onramp's parsers with libFuzzer on the stable toolchain: the target
# bodies of fuzz/src (the ones `make test` replays) built with LLVM's sanitizer-coverage passes,
# as cargo-fuzz does with `-s none`, and run one after another.
#
# Usage: scripts/fuzz.sh [TARGET...]            every target when none is named
#   FUZZ_SECONDS=N   seconds per target (default 60)
#   FUZZ_RUNS=N      executions per target instead of a time budget
#   FUZZ_JOBS=N      libFuzzer processes per target (default 1)
# Each target starts from its committed seed corpus (fuzz/corpus/TARGET) and keeps what it
# learns in target/fuzz-corpus/TARGET; a crash is written to target/fuzz-artifacts/TARGET and
# fails the run. The summary line per target gives executions, exec/s, coverage and corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
target_dir=${CARGO_TARGET_DIR:-target}
triple=$(rustc -vV | sed -n 's/^host: //p')

# Instrument only code built for the target: build scripts and proc macros stay plain, which an
# explicit --target gives.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_STRIP=false
$CARGO build --release --locked -p onramp-fuzz --features libfuzzer --bins --target "$triple"
bin_dir="$target_dir/$triple/release"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^onramp-fuzz$')
fi
limit=(-max_total_time="${FUZZ_SECONDS:-60}")
[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")

failed=0
printf '%-12s %14s %10s %8s %8s %8s\n' target executions exec/s cov ft corpus
for t in "${targets[@]}"; do
  corpus="$target_dir/fuzz-corpus/$t"
  artifacts="$target_dir/fuzz-artifacts/$t"
  log="$target_dir/fuzz-logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  rc=0
  "$bin_dir/$t" "${limit[@]}" -jobs="${FUZZ_JOBS:-1}" -workers="${FUZZ_JOBS:-1}" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" -max_len=65536 "$corpus" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
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
