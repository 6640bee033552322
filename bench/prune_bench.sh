#!/usr/bin/env bash
# make bench: offline prune speed (goal: >= 1,000,000 deleted records/s).
#
#   bench/prune_bench.sh BUILD_DIR
#
# BUILD_DIR/tests/prune_fill (bench/prune_fill.cpp) writes a dev-style data
# directory with PRUNE_BLOCKS (1000) blocks of PRUNE_TXS_PER_BLOCK (1000)
# kv-put txs straight through lib/chain; then `gtos-prune --retain-blocks
# PRUNE_RETAIN (10) --json` deletes the history of all but the last blocks
# (2 records per height, body and receipts, plus one tx-index entry per tx)
# and compacts. The rate is the tool's own figure for the deletion phase
# (records / delete_seconds: Chain::PruneHistory, compaction excluded); the
# compaction time and the disk use before and after are printed too. The
# directory is built once; each of PRUNE_REPEAT (1) runs prunes a copy.
#
# Appends its lines to BUILD_DIR/bench-results.txt. Exit status 0 whatever
# the figure (it is a report); 1 when a tool failed.
set -u

build=${1:?usage: bench/prune_bench.sh BUILD_DIR}
blocks=${PRUNE_BLOCKS:-1000}
per_block=${PRUNE_TXS_PER_BLOCK:-1000}
retain=${PRUNE_RETAIN:-10}
repeat=${PRUNE_REPEAT:-1}
goal=1000000
results=$build/bench-results.txt
fill=$build/tests/prune_fill
prune=$build/cmd/gtos-prune
for f in "$fill" "$prune"; do
  [ -x "$f" ] || { echo "prune bench: $f not found; build first (make build)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/gtos-prune-bench.XXXXXX") || exit 1
trap 'rm -rf -- "$work"' EXIT
say() { printf '%s\n' "$*" | tee -a "$results"; }

say ""
say "gtos-prune: $blocks blocks x $per_block kv-put txs, --retain-blocks $retain (goal >= $goal records/s)"
"$fill" "$work/src" "$blocks" "$per_block" > "$work/fill.log" 2>&1 || {
  say "  prune_fill FAILED: $(tail -n 3 "$work/fill.log")"
  exit 1
}
say "  $(cat "$work/fill.log")"
best=0
for ((i = 1; i <= repeat; i++)); do
  rm -rf "$work/run" && cp -a "$work/src" "$work/run"
  sync
  if ! "$prune" --datadir "$work/run" --retain-blocks "$retain" --json > "$work/report.json" 2> "$work/prune.log"; then
    say "  gtos-prune FAILED: $(tail -n 3 "$work/prune.log")"
    exit 1
  fi
  read -r records heights del rate comp before after < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["records"], r["heights"], "%.3f" % r["delete_seconds"], r["records_per_second"],
      "%.3f" % r["compact_seconds"], r["db_bytes_before"], r["db_bytes_after"])' "$work/report.json")
  say "  run $i: deleted $records records of $heights heights in $del s = $rate records/s;" \
    "compaction $comp s; D/db $((before / 1048576)) MiB -> $((after / 1048576)) MiB"
  ((rate > best)) && best=$rate
done
if ((best >= goal)); then verdict=PASS; else verdict=MISS; fi
say "  $(printf '%-42s  %-14s  %-16s  %s' "prune deletion rate (best)" "$best rec/s" ">= $goal rec/s" "$verdict")"
exit 0
