#!/usr/bin/env bash
# Short libFuzzer run for ctest (the fuzz_NAME_smoke tests):
#   run_smoke.sh FUZZ_BINARY SEED_CORPUS_DIR [SECONDS]
# Fuzzes a temporary copy of the seed corpus (the source tree is never
# written). Exit status: 0 no finding; 1 a crash, leak, UB report, violated
# property, timeout or out-of-memory (the input is kept and printed in hex),
# or a missing binary or corpus. Never 77: a smoke test that cannot run is a
# failure, not a skip (`make test` builds the binaries first, make fuzz-build).
set -u
bin=${1:?usage: run_smoke.sh FUZZ_BINARY SEED_CORPUS_DIR [SECONDS]}
seeds=${2:?usage: run_smoke.sh FUZZ_BINARY SEED_CORPUS_DIR [SECONDS]}
seconds=${3:-4}

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

if [ ! -x "$bin" ]; then
  echo "run_smoke.sh: $bin is missing; build it with 'make fuzz-build' (or run 'make test', which does)" >&2
  exit 1
fi
if [ ! -d "$seeds" ]; then
  echo "run_smoke.sh: seed corpus $seeds is not a directory" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gtos-fuzz-smoke.XXXXXX") || exit 1
mkdir -p "$work/corpus" "$work/artifacts"
cp -- "$seeds"/* "$work/corpus/" 2>/dev/null || true

# libFuzzer exits 77 on a finding by default, which ctest would read as
# "skipped": ask for 1 instead, and map any other non-zero status to 1 below.
# -malloc_limit_mb=64: no input of a few KB has a reason to allocate more in
# one piece; a decoder that does (a length prefix believed before the bytes
# are there) is reported as a finding.
"$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=64 \
  -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1
status=$?

if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
  cat "$work/log" >&2
  echo "run_smoke.sh: fuzzer failed (exit status $status); inputs kept in $work/artifacts:" >&2
  for f in "$work/artifacts"/*; do
    [ -f "$f" ] || continue
    echo "  $f: $(od -An -tx1 -v "$f" | head -c 4096 | tr -d ' \n')" >&2
  done
  echo "  reproduce: $bin <input>" >&2
  exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
rm -rf -- "$work"
echo "run_smoke.sh: $(basename "$bin"): no findings in ${seconds}s, ${execs:-?} executions"
exit 0
