#!/usr/bin/env bash
# Offline signing walk-through: build a transaction on an "online" machine,
# sign it on an "air-gapped" one with an encrypted key, verify and inspect it
# anywhere. Each machine is a directory here; only files cross between them.
#
#   GTOS_BIN=build/cmd examples/offline-signing.sh        # from a build tree
#   examples/offline-signing.sh                           # tools on PATH
set -euo pipefail

if [ -n "${GTOS_BIN:-}" ]; then
  for d in "$GTOS_BIN" "$GTOS_BIN"/*/; do PATH="$(cd "$d" && pwd):$PATH"; done
  export PATH
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/gtos-offline.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/airgap" "$work/online" "$work/usb"
chain=gtos-example-1

for algo in ed25519 secp256k1 secp256r1; do
  echo "== $algo"
  # Air-gapped machine: create an encrypted key; only the public key leaves.
  printf 'correct horse battery staple\n' > "$work/airgap/pass.txt"
  chmod 600 "$work/airgap/pass.txt"
  gtos-keys new --algo "$algo" --passphrase-file "$work/airgap/pass.txt" -o "$work/airgap/$algo.key"
  gtos-keys pub "$work/airgap/$algo.key" -o "$work/usb/$algo.pub"
  addr=$(gtos-keys addr "$work/usb/$algo.pub")
  echo "address: $addr"

  # Online machine: build unsigned transactions from the public key alone.
  gtos-tx build transfer --chain-id "$chain" --from-key "$work/usb/$algo.pub" --nonce 0 \
    --to "0x$(printf '%064d' 7)" --amount 1000 -o "$work/online/transfer.unsigned"
  gtos-tx build kv-put --chain-id "$chain" --from "$addr" --nonce 1 \
    --namespace app --key greeting --value 'hello, storage' --ttl 100 > "$work/online/kv.unsigned"
  cat "$work/online/transfer.unsigned" "$work/online/kv.unsigned" > "$work/usb/$algo.unsigned"

  # Air-gapped machine: sign the stream of two transactions.
  gtos-tx sign --key "$work/airgap/$algo.key" --passphrase-file "$work/airgap/pass.txt" \
    "$work/usb/$algo.unsigned" -o "$work/usb/$algo.signed"

  # Anywhere: verify, print ids, inspect, and re-encode to identical bytes.
  gtos-tx verify "$work/usb/$algo.signed"
  gtos-tx hash "$work/usb/$algo.unsigned" > "$work/ids.unsigned"
  gtos-tx hash "$work/usb/$algo.signed" > "$work/ids.signed"
  cmp -s "$work/ids.unsigned" "$work/ids.signed" || { echo "tx ids differ after signing" >&2; exit 1; }
  cat "$work/ids.signed"
  gtos-inspect "$work/usb/$algo.signed" > "$work/$algo.jsonl"
  gtos-inspect --encode "$work/$algo.jsonl" > "$work/$algo.reencoded"
  cmp "$work/usb/$algo.signed" "$work/$algo.reencoded"
  echo "verified, inspected, re-encoded identically"
done
echo "offline signing walk-through: ok"
