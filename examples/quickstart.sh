#!/usr/bin/env bash
# Quickstart: start a dev chain, store a value with a TTL, read it back, and
# watch it disappear from state when its TTL runs out.
#
#   GTOS_BIN=build/cmd examples/quickstart.sh      # from a build tree
#   examples/quickstart.sh                         # tools on PATH
set -euo pipefail

if [ -n "${GTOS_BIN:-}" ]; then
  for d in "$GTOS_BIN" "$GTOS_BIN"/*/; do PATH="$(cd "$d" && pwd):$PATH"; done
  export PATH
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/gtos-quickstart.XXXXXX")
port=${GTOS_RPC_PORT:-$((20000 + RANDOM % 20000))}
rpc=http://127.0.0.1:$port
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# 1. A dev chain with 200 ms blocks; its funded key is written to $work/dev/dev.key.
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
echo "dev account: $addr"

# 2. Store a value for 10 blocks: build (nonce and fee from the node), sign, send, wait.
gtos-tx build kv-put --rpc "$rpc" --chain-id gtos-dev --from-key "$key" \
    --namespace app --key greeting --value 'hello, storage' --ttl 10 \
  | gtos-tx sign --key "$key" \
  | gtos-tx send --rpc "$rpc" --wait --json > "$work/receipt.json"
cat "$work/receipt.json"
expire=$(sed -n 's/.*"expire_block":\([0-9]*\).*/\1/p' "$work/receipt.json")
echo "stored; expires at block $expire"

# 3. Read it back.
gtos-inspect rpc --rpc "$rpc" kv "$addr" app greeting | tee "$work/kv.json"
grep -q '"value":"0x68656c6c6f2c2073746f72616765"' "$work/kv.json"

# 4. Watch it expire: readable below block $expire, not found from it on.
while :; do
  head=$(gtos-inspect rpc --rpc "$rpc" head | sed -n 's/.*"height":\([0-9]*\).*/\1/p')
  if gtos-inspect rpc --rpc "$rpc" kv "$addr" app greeting > /dev/null 2>&1; then
    # Found: the read happened at a height in [head, seen], all below expire.
    [ "$head" -lt "$expire" ] || { echo "still readable at height $head >= $expire" >&2; exit 1; }
  else
    [ "$head" -ge "$((expire - 1))" ] || { echo "gone too early at height $head" >&2; exit 1; }
    echo "gone at height ~$head (expire_block $expire)"
    break
  fi
  sleep 0.1
done
echo "quickstart: ok"
