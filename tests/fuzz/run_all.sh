#!/usr/bin/env bash
# Runs the fuzz targets one after another (make fuzz; docs/fuzzing.md):
#   run_all.sh FUZZ_BIN_DIR SECONDS [TARGET...]
# FUZZ_BIN_DIR is the clang build's tests/fuzz (build-fuzz/tests/fuzz);
# TARGETs are names without the fuzz_ prefix (default: every target of
# targets.cmake). Each target fuzzes a working corpus in
# FUZZ_BIN_DIR/corpus-NAME (kept between runs, seeded from
# tests/fuzz/corpus-NAME) on one core, with findings written to
# FUZZ_BIN_DIR/artifacts-NAME/. With FUZZ_RUNS=N in the environment a
# target also stops after N executions (whichever limit comes first; the
# issue-12 campaign is FUZZ_RUNS=10000000 with 3600 seconds). Prints one
# line per target with libFuzzer's final statistics
# (stat::number_of_executed_units) and the wall time, then a table for
# docs/notes.md. Exit status 1 if any target found something.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bindir=${1:?usage: run_all.sh FUZZ_BIN_DIR SECONDS [TARGET...]}
seconds=${2:?usage: run_all.sh FUZZ_BIN_DIR SECONDS [TARGET...]}
shift 2
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(sed -n 's/^gtos_fuzz_target(\([a-z0-9_]*\).*/\1/p' "$here/targets.cmake")
fi

# Symbolised sanitizer reports: point the runtime at an llvm-symbolizer
# (resolved, the runtime refuses Debian's versioned symlinks) unless set.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for s in llvm-symbolizer-16 llvm-symbolizer; do
    if p=$(command -v "$s"); then
      export ASAN_SYMBOLIZER_PATH
      ASAN_SYMBOLIZER_PATH=$(readlink -f "$p")
      break
    fi
  done
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
runs=${FUZZ_RUNS:-}
case "$runs" in
  ''|*[!0-9]*) [ -z "$runs" ] || { echo "run_all.sh: FUZZ_RUNS must be a number of executions, got '$runs'" >&2; exit 2; } ;;
esac

failed=0
summary=()
for t in "${targets[@]}"; do
  bin="$bindir/fuzz_$t"
  if [ ! -x "$bin" ]; then
    echo "run_all.sh: $bin is missing (make fuzz-build)" >&2
    failed=1
    summary+=("| fuzz_$t | missing | - | - | - |")
    continue
  fi
  corpus="$bindir/corpus-$t"
  artifacts="$bindir/artifacts-$t"
  mkdir -p "$corpus" "$artifacts"
  log="$bindir/fuzz_$t.log"
  echo "== fuzz_$t: ${seconds}s${runs:+ or $runs executions}"
  started=$(date +%s)
  "$bin" -max_total_time="$seconds" ${runs:+-runs="$runs"} -timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=64 -print_final_stats=1 \
    -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$artifacts/" \
    "$corpus" "$here/corpus-$t" >"$log" 2>&1
  status=$?
  wall=$(( $(date +%s) - started ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  crashes=$(find "$artifacts" -type f | wc -l)
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    echo "fuzz_$t: FAILED (exit status $status, $crashes input(s) in $artifacts); log: $log"
    grep -m 5 -E 'ERROR|fuzz_[a-z_]+: |SUMMARY' "$log" | sed 's/^/  /'
  fi
  echo "fuzz_$t: ${execs:-?} executions in ${wall}s (${rate:-?}/s), corpus $(ls "$corpus" | wc -l) inputs"
  summary+=("| fuzz_$t | ${execs:-?} | ${wall} | ${rate:-?} | $([ "$status" -eq 0 ] && [ "$crashes" -eq 0 ] && echo none || echo "$crashes in $artifacts") |")
done

echo
echo "| target | executions | seconds | exec/s | findings |"
echo "|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
exit $failed
