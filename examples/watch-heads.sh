#!/usr/bin/env bash
# Watching a node live instead of polling it (docs/rpc.md "Subscriptions"):
# follow new blocks as JSON lines, wait for one tx's receipt, see a KV
# record written and then expire, all from the node's server-sent event
# streams; the same streams are on ws://HOST:PORT/ws for WebSocket clients.
#
#   GTOS_BIN=build/cmd examples/watch-heads.sh      # from a build tree
#   examples/watch-heads.sh                         # tools on PATH
set -euo pipefail

if [ -n "${GTOS_BIN:-}" ]; then
  for d in "$GTOS_BIN" "$GTOS_BIN"/*/; do PATH="$(cd "$d" && pwd):$PATH"; done
  export PATH
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/gtos-watch.XXXXXX")
port=${GTOS_RPC_PORT:-$((37000 + RANDOM % 2000))}
rpc=http://127.0.0.1:$port
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# 1. A dev chain with 200 ms blocks.
gtos-node --dev --datadir "$work/dev" --rpc-addr "127.0.0.1:$port" \
  --param target_block_interval_ms=200 2> "$work/node.log" &
node_pid=$!
for _ in $(seq 100); do
  curl -sf "$rpc/readyz" >/dev/null 2>&1 && break
  kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.log" >&2; exit 1; }
  sleep 0.1
done
key=$work/dev/dev.key
addr=$(gtos-keys addr "$key")

# 2. The next five blocks as they are committed, one JSON line each; head
#    closes the pipe after five and the watch ends quietly.
gtos-inspect rpc --rpc "$rpc" watch heads | head -n 5 > "$work/heads.jsonl"
cut -c1-100 "$work/heads.jsonl"
[ "$(wc -l < "$work/heads.jsonl")" -eq 5 ]

# The same stream without any GTOS tool: curl -N prints "event:" and
# "data:" lines (stopped after 2 s here).
curl -sN --max-time 2 "$rpc/subscribe/heads" | grep -m 2 '^data:' | cut -c1-80 || true

# 3. Follow a namespace while a value is stored for 5 blocks: its write,
#    then its expiry five blocks later (--count 2 ends the watch).
gtos-inspect rpc --rpc "$rpc" watch --count 2 kv "$addr" app > "$work/kv.jsonl" &
watch_pid=$!
sleep 0.5
gtos-tx build kv-put --rpc "$rpc" --chain-id gtos-dev --from-key "$key" \
    --namespace app --key greeting --value 'hello' --ttl 5 \
  | gtos-tx sign --key "$key" > "$work/put.signed"
id=$(gtos-tx hash < "$work/put.signed")

# 4. Send it and wait for its receipt over the head stream (--wait no
#    longer polls); the receipt stream of the same tx answers at once.
gtos-tx send --rpc "$rpc" --wait --json < "$work/put.signed"
gtos-inspect rpc --rpc "$rpc" watch tx "$id"
wait "$watch_pid"
cat "$work/kv.jsonl"
grep -q '"event":"write"' "$work/kv.jsonl"
grep -q '"event":"expired"' "$work/kv.jsonl"
echo "ok: heads, receipt, KV write and expiry seen live"
