#!/usr/bin/env bash
# Short libFuzzer run for ctest (fuzz_record_decoder_smoke):
#   run_smoke.sh FUZZ_BINARY SEED_CORPUS_DIR [SECONDS]
# Fuzzes a temporary copy of the seed corpus (the source tree is never
# written). Exit status: 0 no finding; 1 a crash, leak, UB report, timeout or
# out-of-memory (the input is kept and printed in hex); 77 the binary is
# missing, which ctest reports as skipped -- except when CI=true, where a
# missing binary is a failure because `make test` builds it first
# (make fuzz-build).
set -u
bin=${1:?usage: run_smoke.sh FUZZ_BINARY SEED_CORPUS_DIR [SECONDS]}
seeds=${2:?usage: run_smoke.sh FUZZ_BINARY SEED_CORPUS_DIR [SECONDS]}
seconds=${3:-20}

if [ ! -x "$bin" ]; then
  if [ "${CI:-}" = true ]; then
    echo "run_smoke.sh: $bin is missing (CI=true: failing; build it with 'make fuzz-build')" >&2
    exit 1
  fi
  echo "run_smoke.sh: $bin is missing; skipping (build it with 'make fuzz-build')" >&2
  exit 77
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
"$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
  -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus"
status=$?

if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
  echo "run_smoke.sh: fuzzer failed (exit status $status); inputs kept in $work/artifacts:" >&2
  for f in "$work/artifacts"/*; do
    [ -f "$f" ] || continue
    echo "  $f: $(od -An -tx1 -v "$f" | tr -d ' \n')" >&2
  done
  echo "  reproduce: $bin <input>" >&2
  exit 1
fi
rm -rf -- "$work"
echo "run_smoke.sh: no findings in ${seconds}s"
exit 0
