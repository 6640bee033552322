#!/usr/bin/env bash
# Snapshot drill: bring up a second node from a state snapshot instead of
# replaying the chain from genesis, and prove it is the same chain.
#
#   1. start a dev chain (one validator) and store three values: two with
#      long TTLs, one that expires a few blocks after the snapshot;
#   2. stop the node: a snapshot is taken from a stopped node's data directory;
#   3. gtos-snapshot create: the head's state, one file; list the automatic
#      snapshots the node kept (snapshot_interval 5) and copy the newest
#      with create --height;
#   4. "on another machine": verify the file against the chain's genesis,
#      then restore it into a new data directory;
#   5. the restored head is the snapshot's block and state root; start the
#      restored node as an observer, before it has a peer: it reports that
#      head and serves the values;
#   6. restart the original validator with p2p, peered with the new node:
#      the new node follows the chain, with the original's block hashes and
#      state roots at every height past the snapshot, and the short-lived
#      value expires on both nodes;
#   7. one flipped byte in the snapshot: verify fails and names the chunk.
#
#   GTOS_BIN=build/cmd examples/snapshot-drill.sh     # from a build tree
#   examples/snapshot-drill.sh                        # tools on PATH
#
# Exit status 0 when every check held, 1 otherwise (with the reason and the
# tail of the nodes' logs). Every node started is stopped on exit.
set -euo pipefail

if [ -n "${GTOS_BIN:-}" ]; then
  for d in "$GTOS_BIN" "$GTOS_BIN"/*/; do [ -d "$d" ] && PATH="$(cd "$d" && pwd):$PATH"; done
  export PATH
fi
for tool in gtos-keys gtos-genesis gtos-node gtos-tx gtos-inspect gtos-snapshot curl; do
  command -v "$tool" >/dev/null || { echo "snapshot-drill: '$tool' not found (set GTOS_BIN=BUILD/cmd)" >&2; exit 2; }
done
unset GTOS_PASSPHRASE_FILE GTOS_DATADIR GTOS_VALIDATOR_KEY GTOS_PEERS GTOS_P2P_ADDR GTOS_RPC_ADDR

work=$(mktemp -d "${TMPDIR:-/tmp}/gtos-snapshot-drill.XXXXXX")
declare -a pids=()
ok=0
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ $ok = 1 ]; then rm -rf "$work"; else echo "snapshot-drill: work directory kept: $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  echo "snapshot-drill: FAILED: $*" >&2
  local f
  for f in "$work"/*.log; do
    [ -f "$f" ] || continue
    echo "---- $f (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
  exit 1
}
step() { echo; echo "== $*"; }

# Free loopback ports below the ephemeral range (as examples/testnet.sh).
declare -A taken=()
# Sets $port. Not called as $(free_port): a subshell would forget `taken`
# and could hand out the same port twice.
free_port() {
  local p
  while :; do
    p=$((23000 + RANDOM % 3000))
    [ -z "${taken[$p]:-}" ] || continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      taken[$p]=1
      port=$p
      return
    fi
  done
}
free_port; rpc_a=$port
free_port; p2p_a=$port
free_port; rpc_b=$port
free_port; p2p_b=$port

# JSON-RPC: port $1, method $2, params $3 (JSON array, default []).
call() {
  curl -sS --max-time 5 -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "http://127.0.0.1:$1/"
}
height_of() { call "$1" tos_blockNumber 2>/dev/null | sed -n 's/.*"result":\([0-9]*\).*/\1/p'; }
field() { grep -o "\"$1\":\"0x[0-9a-f]*\"" | head -1 | cut -d'"' -f4; }
# "HASH STATE_ROOT" of block $2 on the node at port $1.
block_id() {
  local j
  j=$(call "$1" tos_getBlockByNumber "[$2]") || return 1
  printf '%s %s\n' "$(printf '%s' "$j" | field hash)" "$(printf '%s' "$j" | field state_root)"
}
# Starts a node (gtos-node ARGS...) logging to $work/$1.log; waits for
# /readyz (or the path in $PROBE: /healthz for a node that cannot be ready).
start_node() {
  local name=$1 port=$2
  shift 2
  gtos-node "$@" 2> "$work/$name.log" &
  pids+=($!)
  local pid=$!
  for _ in $(seq 200); do
    curl -sf --max-time 1 "http://127.0.0.1:$port${PROBE:-/readyz}" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || die "$name exited at start"
    sleep 0.1
  done
  die "$name not ready after 20 s"
}
stop_node() {
  local pid=$1
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  die "node $pid did not stop within 10 s"
}
wait_height() {  # port, height, seconds
  local h
  for _ in $(seq $(($3 * 10))); do
    h=$(height_of "$1"); [ "${h:-0}" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

echo "snapshot-drill: work directory $work"

step "1. A dev chain (one validator, 200 ms blocks) on rpc port $rpc_a"
a=$work/node-a
start_node node-a "$rpc_a" --dev --datadir "$a" --rpc-addr "127.0.0.1:$rpc_a" \
  --param target_block_interval_ms=200 --param snapshot_interval=5
key=$a/dev.key
addr=$(gtos-keys addr "$key")
echo "validator account $addr; genesis $(gtos-genesis hash "$a/genesis.bin")"

echo "storing app/greeting and app/motd (TTL 1000), and app/flash (TTL 25: it expires after the snapshot)"
for kv in 'greeting hello 1000' 'motd snapshots-work 1000' 'flash gone-soon 25'; do
  set -- $kv
  gtos-tx build kv-put --rpc "http://127.0.0.1:$rpc_a" --chain-id gtos-dev --from-key "$key" \
      --namespace app --key "$1" --value "$2" --ttl "$3" |
    gtos-tx sign --key "$key" |
    gtos-tx send --rpc "http://127.0.0.1:$rpc_a" --wait --timeout 30 --json > "$work/receipt-$1.json" ||
    die "kv-put $1 was not committed"
  echo "  $1: committed at height $(sed -n 's/.*"height":\([0-9]*\).*/\1/p' "$work/receipt-$1.json")"
done
flash_expire=$(sed -n 's/.*"expire_block":\([0-9]*\).*/\1/p' "$work/receipt-flash.json")
[ -n "$flash_expire" ] || die "no expire_block in the receipt of app/flash"
echo "  app/flash expires at block $flash_expire"
h=$(height_of "$rpc_a")
wait_height "$rpc_a" $((h + 5)) 30 || die "the chain stopped below height $((h + 5))"

step "2. Stop the node: snapshots are taken from a stopped node's data directory"
stop_node "${pids[0]}"
pids=()

step "3. gtos-snapshot create"
mkdir -p "$work/transfer"
gtos-snapshot create --datadir "$a" -o "$work/transfer/head.gsnap" | tee "$work/create.out"
gtos-snapshot info "$work/transfer/head.gsnap" | tee "$work/info.out"
snap_height=$(awk '$1 == "height" { print $2 }' "$work/info.out")
snap_block=$(awk '$1 == "block_hash" { print $2 }' "$work/info.out")
snap_root=$(awk '$1 == "state_root" { print $2 }' "$work/info.out")
[ -n "$snap_height" ] && [ -n "$snap_root" ] || die "gtos-snapshot info printed no height or state root"
cp "$a/genesis.bin" "$work/transfer/genesis.bin"
echo "automatic snapshots kept in $a/snapshots (snapshot_interval 5):"
gtos-snapshot list --datadir "$a" | tee "$work/list.out"
if [ -s "$work/list.out" ]; then
  kept=$(tail -n 1 "$work/list.out" | cut -d' ' -f1)
  echo "copying the newest, height $kept, and verifying it"
  gtos-snapshot create --datadir "$a" --height "$kept" -o "$work/transfer/kept.gsnap" > /dev/null
  gtos-snapshot verify "$work/transfer/kept.gsnap" --genesis "$a/genesis.bin" ||
    die "the automatic snapshot of height $kept does not verify"
else
  echo "  (none)"
fi

step "4. On the new machine: verify against the chain's genesis, then restore"
b_host=$work/host-b
mkdir -p "$b_host"
cp "$work/transfer/head.gsnap" "$work/transfer/genesis.bin" "$b_host/"
gtos-snapshot verify "$b_host/head.gsnap" --genesis "$b_host/genesis.bin" | tee "$work/verify.out"
grep -q "^ok height $snap_height state_root $snap_root " "$work/verify.out" || die "verify printed $(cat "$work/verify.out")"
b=$b_host/data
gtos-snapshot restore --datadir "$b" --genesis "$b_host/genesis.bin" "$b_host/head.gsnap"

step "5. The restored node: the snapshot's block and state root at its head"
r_head=$(gtos-inspect db --datadir "$b" head) || die "gtos-inspect cannot read the restored data directory"
r_height=$(printf '%s' "$r_head" | sed -n 's/.*"height":\([0-9]*\).*/\1/p')
r_root=$(printf '%s' "$r_head" | field state_root)
echo "restored data directory: head $r_height, state_root $r_root"
[ "$r_height" = "$snap_height" ] || die "the restored head is $r_height, the snapshot's height $snap_height"
[ "$r_root" = "$snap_root" ] || die "the restored state root $r_root differs from the snapshot's $snap_root"
[ "$snap_height" -lt "$flash_expire" ] || die "the snapshot (height $snap_height) was taken after app/flash expired"
echo "starting it as an observer (no validator key), before it has a peer"
# Alive (/healthz) but not ready: an observer follows its peers, and it has
# none yet (docs/node.md "Health and metrics").
PROBE=/healthz start_node node-b "$rpc_b" run --datadir "$b" --rpc-addr "127.0.0.1:$rpc_b" \
  --p2p-addr "127.0.0.1:$p2p_b" --peer "127.0.0.1:$p2p_a"
ready_b=$(curl -s --max-time 2 "http://127.0.0.1:$rpc_b/readyz" || true)
echo "node-b /readyz: $ready_b"
case "$ready_b" in
  "not ready: no peers"*) ;;
  *) die "node-b without a peer answered /readyz '$ready_b', expected 'not ready: no peers ...'" ;;
esac
profile=$(call "$rpc_b" tos_chainProfile) || die "tos_chainProfile failed on node-b"
b_height=$(printf '%s' "$profile" | sed -n 's/.*"head":\([0-9]*\).*/\1/p')
b_hash=$(printf '%s' "$profile" | field head_hash)
echo "node-b: head $b_height, head_hash $b_hash"
[ "$b_height" = "$snap_height" ] && [ "$b_hash" = "$snap_block" ] ||
  die "node-b's head is $b_height $b_hash, the snapshot's $snap_height $snap_block"
gtos-inspect rpc --rpc "http://127.0.0.1:$rpc_b" kv "$addr" app greeting | grep -q '"value":"0x68656c6c6f"' ||
  die "app/greeting is not readable on the restored node"
gtos-inspect rpc --rpc "http://127.0.0.1:$rpc_b" kv "$addr" app flash > /dev/null ||
  die "app/flash (expires at $flash_expire) is not readable on the restored node at height $snap_height"
echo "node-b serves app/greeting and app/flash from the restored state"

step "6. Restart the original validator with p2p; the restored node follows it"
start_node node-a "$rpc_a" run --datadir "$a" --validator-key "$key" --rpc-addr "127.0.0.1:$rpc_a" \
  --p2p-addr "127.0.0.1:$p2p_a" --peer "127.0.0.1:$p2p_b"
a_at=$(block_id "$rpc_a" "$snap_height") || die "block $snap_height unreadable on node-a"
[ "$a_at" = "$snap_block $snap_root" ] ||
  die "node-a has '$a_at' at height $snap_height, the snapshot '$snap_block $snap_root'"
echo "node-a at height $snap_height: block $snap_block, state_root $snap_root (as in the snapshot)"
# Past the snapshot by 10 blocks, and past app/flash's expiry.
target=$((snap_height + 10))
[ "$target" -gt "$flash_expire" ] || target=$((flash_expire + 1))
wait_height "$rpc_b" "$target" 60 || die "the restored node did not reach height $target (at $(height_of "$rpc_b"))"
top=$(height_of "$rpc_b")
for h in $(seq $((snap_height + 1)) "$top"); do
  ref=$(block_id "$rpc_a" "$h") || die "block $h unreadable on node-a"
  got=$(block_id "$rpc_b" "$h") || die "block $h unreadable on node-b"
  case $ref in 0x*" "0x*) ;; *) die "block $h on node-a: no hash/state_root in the reply" ;; esac
  [ "$got" = "$ref" ] || die "block $h differs: node-a has $ref, node-b has $got"
done
echo "blocks $((snap_height + 1))..$top: same hash and state root on both nodes"
gtos-inspect rpc --rpc "http://127.0.0.1:$rpc_b" kv "$addr" app motd | grep -q '"value":"0x' ||
  die "app/motd is not readable on the restored node"
for port in "$rpc_a" "$rpc_b"; do
  if gtos-inspect rpc --rpc "http://127.0.0.1:$port" kv "$addr" app flash >/dev/null 2>&1; then
    die "app/flash (expire_block $flash_expire) is still readable on port $port past height $top"
  fi
done
echo "app/greeting and app/motd readable on the restored node; app/flash expired at $flash_expire on both nodes"

step "7. A snapshot with one flipped byte fails verify, naming the chunk"
cp "$b_host/head.gsnap" "$work/flipped.gsnap"
size=$(stat -c %s "$work/flipped.gsnap")
off=$((size - 10))
byte=$(od -An -tu1 -j "$off" -N1 "$work/flipped.gsnap" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$work/flipped.gsnap" bs=1 seek="$off" conv=notrunc status=none
set +e
gtos-snapshot verify "$work/flipped.gsnap" --genesis "$b_host/genesis.bin" 2> "$work/flipped.err"
rc=$?
set -e
cat "$work/flipped.err"
[ $rc = 1 ] || die "verify of a corrupt snapshot exited $rc, want 1"
grep -q "chunk [0-9]* of [0-9]*" "$work/flipped.err" || die "the error does not name the chunk"

echo
echo "snapshot-drill: ok (snapshot at height $snap_height; the restored node followed to height $top)"
ok=1
