#!/usr/bin/env bash
# Local testnet: N validators on loopback, from a real genesis ceremony to
# finalized blocks. Each validator makes an encrypted key and a gentx naming
# its p2p address; a coordinator makes a genesis with fast test parameters,
# funds the validators and collects the gentx files; every validator checks
# the genesis hash, initialises its data directory and starts its node with
# the others as peers. The script then waits until every node has finalized
# K blocks, checks that all report the same block hash and state root at
# every height, sends one transaction through one node and reads it back from
# another, prints a summary and stops the nodes cleanly.
#
#   examples/testnet.sh [-n N] [-d DIR] [--bin BUILD/cmd] [--blocks K]
#                       [--interval-ms T] [--keep]
#
#   -n N            validators (default 4)
#   -d DIR          work directory, kept afterwards (default: a temporary one,
#                   removed on success, kept on failure)
#   --bin DIR       directory of the built tools (default: $GTOS_BIN, else PATH)
#   --blocks K      blocks every node must finalize (default 20)
#   --interval-ms T target_block_interval_ms of the test chain (default 200)
#   --keep          leave the nodes running until Ctrl-C
#
# Exit status 0 when every node finalized K identical blocks, 1 otherwise
# (with the reason and the tail of the failing node's log), 2 on a usage
# error. Every node started is stopped on exit, whatever happens.
set -euo pipefail

n=4 dir= blocks=20 interval=200 keep=0
usage() { sed -n '12,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=${2:?}; shift 2 ;;
    -d) dir=${2:?}; shift 2 ;;
    --bin) GTOS_BIN=${2:?}; shift 2 ;;
    --blocks) blocks=${2:?}; shift 2 ;;
    --interval-ms) interval=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage ;;
    *) echo "testnet.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
case $n$blocks$interval in *[!0-9]*) echo "testnet.sh: -n, --blocks and --interval-ms take numbers" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] && [ "$blocks" -ge 1 ] || { echo "testnet.sh: -n and --blocks must be at least 1" >&2; exit 2; }

if [ -n "${GTOS_BIN:-}" ]; then
  for d in "$GTOS_BIN" "$GTOS_BIN"/*/; do [ -d "$d" ] && PATH="$(cd "$d" && pwd):$PATH"; done
  export PATH
fi
for tool in gtos-keys gtos-genesis gtos-node gtos-tx gtos-inspect curl; do
  command -v "$tool" >/dev/null || { echo "testnet.sh: '$tool' not found (use --bin BUILD/cmd)" >&2; exit 2; }
done
unset GTOS_PASSPHRASE_FILE GTOS_DATADIR GTOS_VALIDATOR_KEY GTOS_PEERS GTOS_P2P_ADDR GTOS_RPC_ADDR

remove_work=0
if [ -z "$dir" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/gtos-testnet.XXXXXX")
  remove_work=1
else
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || { echo "testnet.sh: '$dir' is not empty" >&2; exit 2; }
fi
dir=$(cd "$dir" && pwd)

declare -a pids=() rpc=() p2p=() names=()
ok=0
cleanup() {
  local i pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for i in $(seq 100); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $ok = 1 ] && [ $remove_work = 1 ]; then
    rm -rf "$dir"
  elif [ $ok = 0 ]; then
    echo "testnet.sh: work directory kept: $dir" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  echo "testnet.sh: FAILED: $*" >&2
  local f
  for f in "$dir"/val*/node.log; do
    [ -f "$f" ] || continue
    echo "---- $f (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
  exit 1
}

# Free TCP ports on 127.0.0.1: random ones nobody listens on, all different,
# below Linux's ephemeral range (32768 and up), so that neither outgoing
# connections nor programs asking the kernel for a free port (port 0) can
# take one between this check and the node's bind. Test port ranges, so that
# ctest can run them side by side: testnet.sh 20000-22999; single-node
# examples and tool tables 23000-25999; tests/node/net_test.py 26000-29999;
# tests/node/storage_test.py 30000-32767.)
declare -A taken=()
# Sets $port. Not called as $(free_port): a subshell would forget `taken`
# and could hand out the same port twice.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 3000))
    [ -z "${taken[$p]:-}" ] || continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      taken[$p]=1
      port=$p
      return
    fi
  done
}

# JSON-RPC to node $1: method $2, params $3 (JSON array, default []).
call() {
  curl -sS --max-time 5 -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "http://127.0.0.1:${rpc[$1]}/"
}
height_of() { call "$1" tos_blockNumber 2>/dev/null | sed -n 's/.*"result":\([0-9]*\).*/\1/p'; }
# "HASH STATE_ROOT" of block $2 on node $1.
block_id() {
  local j
  j=$(call "$1" tos_getBlockByNumber "[$2]") || return 1
  printf '%s %s\n' "$(printf '%s' "$j" | grep -o '"hash":"0x[0-9a-f]*"' | head -1 | cut -d'"' -f4)" \
    "$(printf '%s' "$j" | grep -o '"state_root":"0x[0-9a-f]*"' | head -1 | cut -d'"' -f4)"
}
metric() {
  curl -sS --max-time 5 "http://127.0.0.1:${rpc[$1]}/metrics" 2>/dev/null |
    awk -v m="$2" '$1 == m { print $2; exit }'
}

chain=gtos-testnet-$$
stake=2000000
echo "testnet: $n validators, chain $chain, ${interval} ms blocks, work directory $dir"

# 1. Each validator: a key (unencrypted: a throwaway test network; real
#    validators encrypt theirs, see genesis-ceremony.sh) and a gentx naming
#    the address its peers dial.
mkdir -p "$dir/inbox" "$dir/coordinator"
for i in $(seq 1 "$n"); do
  name=val$i
  names+=("$name")
  v=$dir/$name
  mkdir -p "$v"
  free_port; rpc+=("$port")
  free_port; p2p+=("$port")
  printf '%s passphrase\n' "$name" > "$v/pass.txt"
  chmod 600 "$v/pass.txt"
  gtos-keys new --unencrypted -o "$v/validator.key"
  gtos-genesis gentx --chain-id "$chain" --key "$v/validator.key" --passphrase-file "$v/pass.txt" \
    --stake "$stake" --p2p-addr "127.0.0.1:${p2p[i - 1]}" -o "$dir/inbox/$name.gentx"
  gtos-keys addr "$v/validator.key" > "$dir/inbox/$name.addr"
done

# 2. The coordinator: fast test parameters, an account per validator that
#    covers its stake and fees, then every gentx.
c=$dir/coordinator
gtos-genesis new --chain-id "$chain" --param target_block_interval_ms="$interval" \
  --param epoch_length=20 --param retain_blocks=100000 -o "$c/genesis.bin"
for name in "${names[@]}"; do
  gtos-genesis add-account "$(cat "$dir/inbox/$name.addr")" $((stake + 1000000000000)) "$c/genesis.bin" \
    -o "$c/genesis.bin"
done
gtos-genesis collect "$dir"/inbox/*.gentx < "$c/genesis.bin" > "$c/genesis.final"
gtos-genesis validate "$c/genesis.final"
announced=$(gtos-genesis hash "$c/genesis.final")
echo "testnet: genesis hash $announced"

# 3. Every validator: check the hash, initialise its data directory.
for i in $(seq 0 $((n - 1))); do
  v=$dir/${names[i]}
  cp "$c/genesis.final" "$v/genesis.bin"
  gtos-genesis validate "$v/genesis.bin"
  [ "$(gtos-genesis hash "$v/genesis.bin")" = "$announced" ] || die "${names[i]}: genesis hash differs"
  gtos-node init --datadir "$v/data" --genesis "$v/genesis.bin" --key "$v/validator.key" \
    --passphrase-file "$v/pass.txt" 2>> "$v/init.log" || die "${names[i]}: init failed: $(cat "$v/init.log")"
  [ -f "$v/data/node.key" ] || die "${names[i]}: init made no node.key"
done

# 4. Start every node, each with every other one as a peer.
for i in $(seq 0 $((n - 1))); do
  v=$dir/${names[i]}
  args=(run --datadir "$v/data" --rpc-addr "127.0.0.1:${rpc[i]}" --p2p-addr "127.0.0.1:${p2p[i]}"
        --passphrase-file "$v/pass.txt")
  for j in $(seq 0 $((n - 1))); do
    [ "$j" = "$i" ] || args+=(--peer "127.0.0.1:${p2p[j]}")
  done
  gtos-node "${args[@]}" 2> "$v/node.log" &
  pids+=($!)
done
for i in $(seq 0 $((n - 1))); do
  for _ in $(seq 200); do
    curl -sf --max-time 1 "http://127.0.0.1:${rpc[i]}/readyz" >/dev/null 2>&1 && break
    kill -0 "${pids[i]}" 2>/dev/null || die "${names[i]} exited at start"
    sleep 0.1
  done
  curl -sf --max-time 1 "http://127.0.0.1:${rpc[i]}/readyz" >/dev/null 2>&1 || die "${names[i]} not ready after 20 s"
done
echo "testnet: $n nodes started (rpc ports ${rpc[*]}, p2p ports ${p2p[*]})"

# 5. Wait until every node has finalized K blocks.
start=$(date +%s)
limit=$((60 + blocks * interval * 10 / 1000))
while :; do
  low=
  for i in $(seq 0 $((n - 1))); do
    kill -0 "${pids[i]}" 2>/dev/null || die "${names[i]} exited"
    h=$(height_of "$i"); h=${h:-0}
    if [ -z "$low" ] || [ "$h" -lt "$low" ]; then low=$h; fi
  done
  [ "$low" -ge "$blocks" ] && break
  [ $(($(date +%s) - start)) -lt "$limit" ] || die "not every node reached height $blocks in $limit s (lowest: $low)"
  sleep 0.2
done
elapsed=$(($(date +%s) - start))

# 6. The same block hash and state root at every height on every node.
for h in $(seq 1 "$blocks"); do
  ref=$(block_id 0 "$h") || die "block $h unreadable on ${names[0]}"
  case $ref in 0x*" "0x*) ;; *) die "block $h on ${names[0]}: no hash/state_root in the reply" ;; esac
  for i in $(seq 1 $((n - 1))); do
    got=$(block_id "$i" "$h") || die "block $h unreadable on ${names[i]}"
    [ "$got" = "$ref" ] || die "block $h differs: ${names[0]} has $ref, ${names[i]} has $got"
  done
done
echo "testnet: blocks 1..$blocks identical on all $n nodes (hash and state root)"

# 7. A transaction sent to one node is finalized and readable on another.
k=$dir/val1/validator.key
last=$((n - 1))
gtos-tx build kv-put --rpc "http://127.0.0.1:${rpc[last]}" --chain-id "$chain" --from-key "$k" \
    --namespace testnet --key hello --value world --ttl 1000 |
  gtos-tx sign --key "$k" --passphrase-file "$dir/val1/pass.txt" |
  gtos-tx send --rpc "http://127.0.0.1:${rpc[last]}" --wait --timeout 60 --json > "$dir/receipt.json" ||
  die "kv-put through ${names[last]} was not finalized"
tx_height=$(sed -n 's/.*"height":\([0-9]*\).*/\1/p' "$dir/receipt.json")
for _ in $(seq 100); do
  h=$(height_of 0); [ "${h:-0}" -ge "$tx_height" ] && break; sleep 0.1
done
gtos-inspect rpc --rpc "http://127.0.0.1:${rpc[0]}" kv "$(cat "$dir/inbox/val1.addr")" testnet hello \
  > "$dir/kv.json" 2>&1 || die "kv-put finalized at height $tx_height is not readable on ${names[0]}: $(cat "$dir/kv.json")"
echo "testnet: a kv-put sent to ${names[last]} finalized at height $tx_height, read back from ${names[0]}"

# 8. Summary.
echo
printf '%-6s %-8s %-7s %-6s %s\n' node rpc height peers "head hash"
for i in $(seq 0 $((n - 1))); do
  h=$(height_of "$i")
  printf '%-6s %-8s %-7s %-6s %s\n' "${names[i]}" "${rpc[i]}" "$h" "$(metric "$i" gtos_p2p_peers)" \
    "$(block_id "$i" "$h" | cut -d' ' -f1)"
done
echo
echo "testnet: $n validators finalized $blocks blocks in ${elapsed} s"

if [ $keep = 1 ]; then
  echo "testnet: nodes keep running; logs in $dir/val*/node.log; Ctrl-C stops them"
  ok=1 remove_work=0
  wait
fi

# 9. Clean stop: SIGTERM, every node exits with status 0.
for i in $(seq 0 $((n - 1))); do kill -TERM "${pids[i]}"; done
for i in $(seq 0 $((n - 1))); do
  for _ in $(seq 300); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
  kill -0 "${pids[i]}" 2>/dev/null && die "${names[i]} did not stop within 30 s of SIGTERM"
  status=0
  wait "${pids[i]}" || status=$?
  [ "$status" = 0 ] || die "${names[i]} exited with status $status on SIGTERM"
done
pids=()
ok=1
echo "testnet: ok"
