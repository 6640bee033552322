#!/usr/bin/env bash
# Genesis ceremony walk-through: four validators, each on its own machine,
# create an encrypted key and a signed genesis validator record (gentx); a
# coordinator creates the genesis, funds every validator, collects the gentx
# files and sends the genesis back; every participant checks it and compares
# its hash. Each machine is a directory here; only files cross between them.
#
#   GTOS_BIN=build/cmd examples/genesis-ceremony.sh       # from a build tree
#   examples/genesis-ceremony.sh                          # tools on PATH
set -euo pipefail

if [ -n "${GTOS_BIN:-}" ]; then
  for d in "$GTOS_BIN" "$GTOS_BIN"/*/; do PATH="$(cd "$d" && pwd):$PATH"; done
  export PATH
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/gtos-ceremony.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/coordinator" "$work/inbox" "$work/outbox"
chain=gtos-ceremony-1
stake=2000000
validators="val1:ed25519 val2:secp256k1 val3:secp256r1 val4:ed25519"

# 1. Each validator, on its own machine: an encrypted key, then a gentx that
#    commits to the chain id, the stake and the address peers dial. Only the
#    gentx and the address leave the machine. (The default scrypt cost,
#    N = 2^17, takes about a second per key here; it is also the minimum.)
port=26656
for v in $validators; do
  name=${v%%:*} algo=${v#*:}
  dir=$work/$name
  mkdir -p "$dir"
  printf '%s passphrase\n' "$name" > "$dir/pass.txt"
  chmod 600 "$dir/pass.txt"
  gtos-keys new --algo "$algo" --passphrase-file "$dir/pass.txt" -o "$dir/validator.key"
  gtos-genesis gentx --chain-id "$chain" --key "$dir/validator.key" --passphrase-file "$dir/pass.txt" \
    --stake "$stake" --p2p-addr "$name.example.org:$port" -o "$work/inbox/$name.gentx"
  gtos-keys addr "$dir/validator.key" > "$work/inbox/$name.addr"
  echo "$name ($algo): $(cat "$work/inbox/$name.addr")"
  port=$((port + 1))
done

# 2. The coordinator: a genesis with this chain's parameters, an account
#    per validator that covers its stake (plus spending money), a treasury,
#    then every gentx. collect checks each signature, the chain id, the
#    minimum stake and the balance, and refuses duplicates.
c=$work/coordinator
gtos-genesis new --chain-id "$chain" --param epoch_length=50 --param max_validators=4 \
  --param retain_blocks=500 -o "$c/genesis.0"
cp "$c/genesis.0" "$c/genesis.1"
for v in $validators; do
  name=${v%%:*}
  gtos-genesis add-account "$(cat "$work/inbox/$name.addr")" $((stake + 500000)) "$c/genesis.1" -o "$c/genesis.1"
done
treasury=0x$(printf '%064d' 1)
gtos-genesis add-account "$treasury" 1000000000 "$c/genesis.1" -o "$c/genesis.1"
gtos-genesis validate --structure-only "$c/genesis.1"
gtos-genesis collect "$work"/inbox/*.gentx < "$c/genesis.1" > "$work/outbox/genesis.bin"
gtos-genesis validate "$work/outbox/genesis.bin"
announced=$(gtos-genesis hash "$work/outbox/genesis.bin")
echo "coordinator announces genesis hash $announced"

# 3. Every participant, on its own machine: validate the genesis it received,
#    find its own validator in it, and compare the hash with the announced one
#    (over a channel other than the one that carried the file).
for v in $validators; do
  name=${v%%:*}
  cp "$work/outbox/genesis.bin" "$work/$name/genesis.bin"
  gtos-genesis validate "$work/$name/genesis.bin"
  mine=$(gtos-genesis hash "$work/$name/genesis.bin")
  [ "$mine" = "$announced" ] || { echo "$name: genesis hash $mine differs" >&2; exit 1; }
  gtos-inspect "$work/$name/genesis.bin" | grep -q "\"p2p_addr\":\"$name.example.org:" ||
    { echo "$name: own validator missing from the genesis" >&2; exit 1; }
  echo "$name: genesis hash matches"
done

# The genesis decodes to JSON and back to the very same bytes.
gtos-inspect "$work/outbox/genesis.bin" | gtos-inspect --encode | cmp - "$work/outbox/genesis.bin"
echo "genesis hash: $announced"
echo "genesis ceremony walk-through: ok"
