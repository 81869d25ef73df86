#!/usr/bin/env bash
# RUSTC_WRAPPER for `make fuzz`: adds LLVM's sanitizer-coverage passes and `--cfg fuzzing` to
# Onramp's own crates only (their sources are relative paths in the workspace), so the
# dependencies the debug build already compiled are reused as they are. Build scripts stay plain.
rustc=$1
shift
own=0
for a in "$@"; do
  case "$a" in
    build_script_*) own=0; break ;;
    *.rs) [ "${a#/}" = "$a" ] && own=1 ;;
  esac
done
if [ $own = 1 ]; then
  exec "$rustc" "$@" --cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares
fi
exec "$rustc" "$@"
