#!/usr/bin/env bash
# make bench: measures the performance targets through the real tools.
#
#   bench/run.sh BUILD_DIR
#
#   sign    gtos-tx sign, ed25519, one core (taskset -c 0)   goal >= 40,000 tx/s
#   verify  gtos-tx verify, all cores, ed25519               goal >= 18,000 tx/s
#           gtos-tx verify, all cores, secp256k1             goal >= 20,000 tx/s
#           (and -j 1, and secp256k1 signing, for information)
#   start   median wall time of `gtos-keys addr KEYFILE`    goal <= 3 ms
#
# Streams are BENCH_TXS (200000) unsigned kv-put txs with distinct nonces and
# 128-byte values, built once with `gtos-tx build --json`, copied with a new
# nonce by awk and encoded by `gtos-inspect --encode`; only the measured
# command is timed. Each throughput figure is the best of BENCH_REPEAT (3)
# runs, since other work on the machine can only slow a run down; every run
# is printed. The start-up median comes from BENCH_ADDR_RUNS (300) runs of
# hyperfine -N (or a shell loop without hyperfine).
#
# Prints a report and a summary table (PASS/MISS against each goal), and
# writes both to BUILD_DIR/bench-results.txt. Exit status 0 whatever the
# figures (it is a report); 1 when a tool failed or the setup did.
set -u

build=${1:?usage: bench/run.sh BUILD_DIR}
bin=$build/cmd
txs=${BENCH_TXS:-200000}
repeat=${BENCH_REPEAT:-3}
addr_runs=${BENCH_ADDR_RUNS:-300}
results=$build/bench-results.txt

for tool in gtos-keys gtos-tx gtos-inspect; do
  if [ ! -x "$bin/$tool" ]; then
    echo "bench: $bin/$tool not found; build first (make build)" >&2
    exit 1
  fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/gtos-bench.XXXXXX") || exit 1
trap 'rm -rf -- "$work"' EXIT
: > "$results" || exit 1

failed=0
rows=()  # "label|measured|goal|result"

say() { printf '%s\n' "$*" | tee -a "$results"; }
die() {
  say "bench: $*"
  exit 1
}
now_ns() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    local t=${EPOCHREALTIME/[.,]/}  # microseconds
    echo $((10#$t * 1000))
  else
    date +%s%N
  fi
}
# 1234567 -> 1,234,567 (printf's %'d depends on the locale).
fmt_int() {
  local n=$1 out=""
  while ((${#n} > 3)); do
    out=",${n: -3}$out"
    n=${n:0:${#n}-3}
  done
  echo "$n$out"
}

# Percentage of CPU time idle over one second (other work disturbs figures).
idle_pct() {
  local a b
  read -r -a a < <(grep '^cpu ' /proc/stat)
  sleep 1
  read -r -a b < <(grep '^cpu ' /proc/stat)
  local total=0 i
  for ((i = 1; i < ${#a[@]}; i++)); do total=$((total + b[i] - a[i])); done
  echo $(((b[4] - a[4] + b[5] - a[5]) * 100 / (total > 0 ? total : 1)))
}
busy_note() {
  local idle
  idle=$(idle_pct)
  if ((idle < 90)); then
    echo "CPU idle ${idle}%: OTHER WORK IS RUNNING, figures are likely disturbed"
  else
    echo "CPU idle ${idle}%"
  fi
}

# run_timed OUT_VAR CMD...: runs CMD (stdout/stderr to the log), sets OUT_VAR
# to the elapsed nanoseconds; returns CMD's status.
run_timed() {
  local __var=$1
  shift
  local t0 t1 st
  t0=$(now_ns)
  "$@" >>"$work/tool.log" 2>&1
  st=$?
  t1=$(now_ns)
  printf -v "$__var" '%s' $((t1 - t0))
  return $st
}

# throughput LABEL GOAL_TX_PER_S CMD...: runs CMD $repeat times over $txs
# txs, prints each run, adds a summary row with the best run. GOAL "-" marks
# an informational figure.
throughput() {
  local label=$1 goal=$2
  shift 2
  local best=0 ns rate i runs=""
  for ((i = 1; i <= repeat; i++)); do
    if ! run_timed ns "$@"; then
      say "  $label: FAILED: $*"
      tail -n 5 "$work/tool.log" | sed 's/^/    /' | tee -a "$results"
      failed=1
      rows+=("$label|tool failed|${goal}|FAIL")
      return
    fi
    rate=$((txs * 1000000000 / (ns > 0 ? ns : 1)))
    runs+=" $(fmt_int "$rate")"
    ((rate > best)) && best=$rate
  done
  say "  $(printf '%-42s' "$label:") runs (tx/s):$runs"
  local result="-" goal_text="-"
  if [ "$goal" != "-" ]; then
    goal_text=">= $(fmt_int "$goal") tx/s"
    if ((best >= goal)); then result=PASS; else result=MISS; fi
  fi
  rows+=("$label|$(fmt_int "$best") tx/s|$goal_text|$result")
}

# --- environment --------------------------------------------------------------
say "GTOS bench: $(date -u '+%Y-%m-%d %H:%M:%SZ'), build $build"
say "  cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
say "  before: $(busy_note); load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "  txs per stream: $(fmt_int "$txs"), best of $repeat runs; start-up: $addr_runs runs"
command -v taskset >/dev/null || die "taskset not found (util-linux)"

# --- inputs -------------------------------------------------------------------
say ""
say "Preparing inputs in $work"
gen_start=$(now_ns)
printf 'bench-passphrase\n' >"$work/pass.txt"
"$bin/gtos-keys" new --algo ed25519 --unencrypted -o "$work/ed25519.key" 2>>"$work/tool.log" &&
  "$bin/gtos-keys" new --algo secp256k1 --unencrypted -o "$work/secp256k1.key" 2>>"$work/tool.log" &&
  "$bin/gtos-keys" new --algo ed25519 --passphrase-file "$work/pass.txt" -o "$work/addr.key" 2>>"$work/tool.log" ||
  die "gtos-keys new failed: $(tail -n 3 "$work/tool.log")"
head -c 128 /dev/urandom >"$work/value.bin"

for algo in ed25519 secp256k1; do
  # One template tx; awk writes $txs copies with nonces 0..txs-1 (the fee is
  # fixed above the minimum of the largest nonce) and drops the derived "id".
  "$bin/gtos-tx" build kv-put --json --chain-id gtos-bench --from-key "$work/$algo.key" --nonce 0 \
    --fee 1000000 --namespace bench --key item --value-file "$work/value.bin" --ttl 1000 \
    >"$work/template-$algo.json" 2>>"$work/tool.log" || die "gtos-tx build failed: $(tail -n 3 "$work/tool.log")"
  # (Split once: sub() per line is quadratic in mawk.)
  awk -v n="$txs" '{
      line = $0
      sub(/,"id":"0x[0-9a-f]*"/, "", line)
      at = index(line, "\"nonce\":0,")
      if (at == 0) exit 1
      pre = substr(line, 1, at - 1) "\"nonce\":"
      post = substr(line, at + 9)
      for (i = 0; i < n; i++) print pre i post
    }' "$work/template-$algo.json" |
    "$bin/gtos-inspect" --encode -o "$work/$algo.unsigned" 2>>"$work/tool.log" ||
    die "generating the $algo stream failed: $(tail -n 3 "$work/tool.log")"
  count=$("$bin/gtos-tx" hash "$work/$algo.unsigned" 2>>"$work/tool.log" | sort -u | wc -l)
  [ "$count" -eq "$txs" ] || die "$algo stream has $count distinct txs, expected $txs"
done
say "  2 x $(fmt_int "$txs") unsigned kv-put txs ($(($(stat -c %s "$work/ed25519.unsigned") / 1024)) KiB each stream)" \
  "in $((($(now_ns) - gen_start) / 1000000)) ms"

# --- sign ---------------------------------------------------------------------
say ""
say "gtos-tx sign (one core: taskset -c 0)"
throughput "sign ed25519, 1 core" 40000 \
  taskset -c 0 "$bin/gtos-tx" sign --key "$work/ed25519.key" "$work/ed25519.unsigned" -o "$work/ed25519.signed"
throughput "sign secp256k1, 1 core" - \
  taskset -c 0 "$bin/gtos-tx" sign --key "$work/secp256k1.key" "$work/secp256k1.unsigned" -o "$work/secp256k1.signed"
for algo in ed25519 secp256k1; do
  [ -s "$work/$algo.signed" ] || die "no signed $algo stream; cannot measure verify"
  count=$("$bin/gtos-tx" hash "$work/$algo.signed" 2>>"$work/tool.log" | wc -l)
  [ "$count" -eq "$txs" ] || die "signed $algo stream has $count txs, expected $txs"
done

# --- verify -------------------------------------------------------------------
say ""
say "gtos-tx verify (default threads = $(nproc) cores, and -j 1)"
throughput "verify ed25519, default threads" 18000 "$bin/gtos-tx" verify "$work/ed25519.signed"
throughput "verify secp256k1, default threads" 20000 "$bin/gtos-tx" verify "$work/secp256k1.signed"
throughput "verify ed25519, -j 1" - "$bin/gtos-tx" verify -j 1 "$work/ed25519.signed"
throughput "verify secp256k1, -j 1" - "$bin/gtos-tx" verify -j 1 "$work/secp256k1.signed"

# --- start-up -----------------------------------------------------------------
say ""
label="gtos-keys addr start, median of $addr_runs"
median_us=""
if ! "$bin/gtos-keys" addr "$work/addr.key" >/dev/null 2>>"$work/tool.log"; then
  say "gtos-keys addr KEYFILE: FAILED: $(tail -n 3 "$work/tool.log")"
elif command -v hyperfine >/dev/null && command -v python3 >/dev/null; then
  say "gtos-keys addr KEYFILE: hyperfine -N, $addr_runs runs after 30 warm-up runs"
  if hyperfine -N --warmup 30 --runs "$addr_runs" --style none \
    --export-json "$work/addr.json" "$bin/gtos-keys addr $work/addr.key" >>"$work/tool.log" 2>&1; then
    read -r median_us mean_us min_us max_us < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(*(round(r[k] * 1e6) for k in ("median", "mean", "min", "max")))' "$work/addr.json")
    say "  median $median_us us, mean $mean_us us, min $min_us us, max $max_us us"
  else
    say "  hyperfine failed: $(tail -n 3 "$work/tool.log")"
  fi
else
  say "gtos-keys addr KEYFILE: shell loop (no hyperfine), $addr_runs runs after 30 warm-up runs"
  for ((i = 0; i < 30; i++)); do "$bin/gtos-keys" addr "$work/addr.key" >/dev/null 2>&1; done
  : >"$work/addr.times"
  ok=1
  for ((i = 0; i < addr_runs; i++)); do
    t0=$(now_ns)
    "$bin/gtos-keys" addr "$work/addr.key" >/dev/null 2>&1 || { ok=0; break; }
    t1=$(now_ns)
    echo $(((t1 - t0) / 1000)) >>"$work/addr.times"
  done
  if [ "$ok" = 1 ]; then
    median_us=$(sort -n "$work/addr.times" |
      awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }')
    say "  median $median_us us (includes the loop's own clock reads)"
  else
    say "  gtos-keys addr failed during the loop"
  fi
fi
if [ -z "$median_us" ]; then
  failed=1
  rows+=("$label|tool failed|<= 3 ms|FAIL")
else
  if ((median_us <= 3000)); then result=PASS; else result=MISS; fi
  rows+=("$label|$(awk -v u="$median_us" 'BEGIN { printf "%.2f ms", u / 1000 }')|<= 3 ms|$result")
fi

# --- summary ------------------------------------------------------------------
say ""
say "  after: $(busy_note); load average $(cut -d' ' -f1-3 /proc/loadavg)"
say ""
say "Summary (throughput: best of $repeat runs of $(fmt_int "$txs") txs)"
line=$(printf '%-42s  %-14s  %-16s  %s' "measurement" "measured" "goal" "result")
say "$line"
say "$(printf '%.0s-' {1..84})"
for row in "${rows[@]}"; do
  IFS='|' read -r l m g r <<<"$row"
  say "$(printf '%-42s  %-14s  %-16s  %s' "$l" "$m" "$g" "$r")"
done
say ""
say "Results written to $results"
if [ "$failed" != 0 ]; then
  say "bench: a tool failed (see above)"
  exit 1
fi
exit 0
