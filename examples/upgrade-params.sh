#!/usr/bin/env bash
# Upgrade plan on a dev chain: change parameters at a signed height
# (docs/upgrades.md section 5). The one dev validator holds all the power,
# so its signature alone is more than 2/3; on a real network every
# validator runs step 2 with its own account key and sends the file back.
#
#   GTOS_BIN=build/cmd examples/upgrade-params.sh      # from a build tree
#   examples/upgrade-params.sh                         # tools on PATH
set -euo pipefail

if [ -n "${GTOS_BIN:-}" ]; then
  for d in "$GTOS_BIN" "$GTOS_BIN"/*/; do PATH="$(cd "$d" && pwd):$PATH"; done
  export PATH
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/gtos-upgrade.XXXXXX")
port=${GTOS_RPC_PORT:-$((42000 + RANDOM % 1000))}
rpc=http://127.0.0.1:$port
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
call() {  # call METHOD [PARAMS]: the JSON-RPC result
  curl -sf -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":${2:-[]}}" "$rpc"
}
height() { call tos_blockNumber | sed -n 's/.*"result":\([0-9]*\).*/\1/p'; }

# 0. A dev chain with 200 ms blocks; the validator's account key is dev.key.
gtos-node --dev --datadir "$work/dev" --rpc-addr "127.0.0.1:$port" \
  --param target_block_interval_ms=200 2> "$work/node.log" &
node_pid=$!
for _ in $(seq 100); do
  curl -sf "$rpc/readyz" >/dev/null 2>&1 && break
  kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.log" >&2; exit 1; }
  sleep 0.1
done
key=$work/dev/dev.key

# 1. The plan: max_block_txs 50000 -> 20000 and fee_base 1000 -> 1500,
#    30 blocks from now. Everyone checks its digest.
at=$(( $(height) + 30 ))
gtos-tx build upgrade-plan --chain-id gtos-dev --name fees-2 --activation-height "$at" \
  --param max_block_txs=20000 --param fee_base=1500 -o "$work/plan"
gtos-inspect "$work/plan"

# 2. Each validator signs a copy offline with its account key.
gtos-tx sign-plan --key "$key" "$work/plan" -o "$work/plan.val0"

# 3. Anyone gathers the signed copies into a kind-13 tx, signs and sends it.
gtos-tx gather-plan --chain-id gtos-dev --from-key "$key" --rpc "$rpc" "$work"/plan.val* \
  | gtos-tx sign --key "$key" \
  | gtos-tx send --rpc "$rpc" --wait --json | tee "$work/receipt.json"
grep -q '"status":"ok"' "$work/receipt.json"
call tos_getUpgradePlan; echo

# 4. Past the activation height the chain runs under the new parameters.
while [ "$(height)" -lt "$at" ]; do sleep 0.2; done
gtos-inspect rpc --rpc "$rpc" params | tee "$work/params.json"
grep -q '"max_block_txs":20000' "$work/params.json"
grep -q '"fee_base":1500' "$work/params.json"
[ "$(call tos_getUpgradePlan | sed -n 's/.*"result":\(null\).*/\1/p')" = null ]
echo "parameters changed at height $at"
