#!/usr/bin/env bash
# Pruning walkthrough: a dev chain accumulates history, the node is stopped,
# gtos-prune shows (--dry-run) and then deletes everything but the last 10
# blocks, the node is restarted on the pruned directory and answers
# history_pruned below the new oldest height, with the same state root.
#
#   GTOS_BIN=build/cmd examples/prune.sh      # from a build tree
#   examples/prune.sh                         # tools on PATH
set -euo pipefail

if [ -n "${GTOS_BIN:-}" ]; then
  for d in "$GTOS_BIN" "$GTOS_BIN"/*/; do PATH="$(cd "$d" && pwd):$PATH"; done
  export PATH
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/gtos-prune.XXXXXX")
port=${GTOS_RPC_PORT:-$((23000 + RANDOM % 3000))}
rpc=http://127.0.0.1:$port
dev=$work/dev
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

start_node() {  # a dev node on $dev; waits until it serves RPC
  gtos-node --dev --datadir "$dev" --rpc-addr "127.0.0.1:$port" "$@" 2>> "$work/node.log" &
  node_pid=$!
  for _ in $(seq 100); do
    curl -sf "$rpc/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/node.log" >&2
  exit 1
}
stop_node() {
  kill "$node_pid"
  wait "$node_pid" || true
  node_pid=
}
call() {  # call METHOD PARAMS_JSON: prints the JSON-RPC reply
  curl -sS -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$rpc"
}
height() { call tos_blockNumber '[]' | jq .result; }

# 1. A dev chain with 100 ms blocks that keeps 1000 blocks of history.
start_node --param target_block_interval_ms=100 --param retain_blocks=1000
key=$dev/dev.key

# 2. Some transactions: 20 kv-puts, five per block or so.
nonce=$(call tos_getAccount "[\"$(gtos-keys addr "$key")\"]" | jq .result.nonce)
for i in $(seq 0 19); do
  gtos-tx build kv-put --rpc "$rpc" --chain-id gtos-dev --from-key "$key" --nonce $((nonce + i)) \
    --namespace app --key "item-$i" --value "value $i" --ttl 500
done | gtos-tx sign --key "$key" | gtos-tx send --rpc "$rpc" > /dev/null
until [ "$(call tos_getAccount "[\"$(gtos-keys addr "$key")\"]" | jq .result.nonce)" = $((nonce + 20)) ]; do sleep 0.2; done
while [ "$(height)" -lt 60 ]; do sleep 0.2; done

# 3. Stop the node: gtos-prune needs the data directory to itself.
gtos-prune --datadir "$dev" --dry-run 2>/dev/null && { echo "prune ran on a live node" >&2; exit 1; }
stop_node
head=$(gtos-inspect db --datadir "$dev" head | jq .height)
root=$(gtos-inspect db --datadir "$dev" head | jq -r .state_root)
echo "stopped at height $head, state root $root"
echo "disk use before: $(du -sk "$dev/db" | cut -f1) KiB"

# 4. What would go, then prune to the last 10 blocks.
gtos-prune --datadir "$dev" --retain-blocks 10 --dry-run
gtos-prune --datadir "$dev" --retain-blocks 10
echo "disk use after: $(du -sk "$dev/db" | cut -f1) KiB"
oldest=$((head - 9))

# 5. Restart: the oldest kept block is served, the one below is history_pruned.
start_node
call tos_getBlockByNumber "[$oldest]" | jq -e ".result.height == $oldest" > /dev/null
call tos_getBlockByNumber "[$((oldest - 1))]" | tee "$work/pruned.json" | jq -c .error
jq -e --argjson o "$oldest" --argjson r "$((oldest - 1))" \
  '.error.code == -38005 and .error.message == "history_pruned" and
   .error.data.oldest_available == $o and .error.data.requested == $r and
   .error.data.retain_blocks == 1000 and .error.data.head >= ($o + 9)' "$work/pruned.json" > /dev/null

# 6. Same state root at the old head, and the chain goes on.
[ "$(call tos_getBlockByNumber "[$head]" | jq -r .result.state_root)" = "$root" ]
while [ "$(height)" -lt $((head + 5)) ]; do sleep 0.1; done
echo "height $(height): blocks keep coming; the state root of block $head is unchanged"
echo "prune: ok"
