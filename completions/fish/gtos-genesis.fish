# fish completion for gtos-genesis (man/gtos-genesis.1). Flags follow
# cmd/gtos-genesis/commands.cpp; tests/tools/check_docs.py checks that every
# flag of every --help appears here. One file per tool: a new gtos-* tool gets
# its own gtos-<tool>.fish.

# Prints the subcommand typed so far ("" before one), skipping options and
# the values of options that take one.
function __gtos_genesis_cmd
    set -l takes_value --chain-id --param --genesis-time-ms -o --output --key --stake \
        --p2p-addr --commission-permille --passphrase-file --genesis
    set -l skip 0
    for tok in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
        else if string match -q -- '-*' $tok
            contains -- $tok $takes_value; and set skip 1
        else if contains -- $tok new add-account gentx collect validate hash
            echo $tok
            return
        end
    end
end

function __gtos_genesis_at
    set -l path (__gtos_genesis_cmd)
    test "$path" = "$argv"
end

set -l params target_block_interval_ms= retain_blocks= snapshot_interval= epoch_length= \
    max_validators= unbonding_blocks= min_validator_stake= max_ttl= max_namespace_bytes= \
    max_key_bytes= max_value_bytes= max_code_bytes= max_tx_bytes= max_block_txs= \
    max_block_bytes= fee_base= fee_per_byte= fee_per_byte_block= slash_double_sign_permille= \
    clock_precision_ms= message_delay_ms=

complete -c gtos-genesis -f
complete -c gtos-genesis -s h -l help -d 'Print help and exit'
complete -c gtos-genesis -n '__gtos_genesis_at ""' -l version -d 'Print version and exit'

complete -c gtos-genesis -n '__gtos_genesis_at ""' -a new -d 'Create a genesis with default parameters'
complete -c gtos-genesis -n '__gtos_genesis_at ""' -a add-account -d 'Add an account with a balance'
complete -c gtos-genesis -n '__gtos_genesis_at ""' -a gentx -d "Make this validator's signed genesis_validator record"
complete -c gtos-genesis -n '__gtos_genesis_at ""' -a collect -d 'Check gentx records and add them as validators'
complete -c gtos-genesis -n '__gtos_genesis_at ""' -a validate -d 'Check a genesis as a node would'
complete -c gtos-genesis -n '__gtos_genesis_at ""' -a hash -d 'Print the genesis hash'

# new, add-account and collect write a genesis.
for cmd in new add-account collect
    complete -c gtos-genesis -n "__gtos_genesis_at $cmd" -s o -l output -r -F -d 'Write to FILE (atomically) instead of stdout'
    complete -c gtos-genesis -n "__gtos_genesis_at $cmd" -l json -d 'Print the genesis as a JSON line'
end

complete -c gtos-genesis -n '__gtos_genesis_at new' -l chain-id -x -d 'Chain id of the new chain'
complete -c gtos-genesis -n '__gtos_genesis_at new' -l param -x -a "$params" -d 'Set a chain parameter (NAME=VALUE)'
complete -c gtos-genesis -n '__gtos_genesis_at new' -l genesis-time-ms -x -d 'Genesis time in ms since the epoch (default: now)'

complete -c gtos-genesis -n '__gtos_genesis_at add-account' -F
complete -c gtos-genesis -n '__gtos_genesis_at add-account' -l add-to-existing -d 'Add AMOUNT to an existing balance'

complete -c gtos-genesis -n '__gtos_genesis_at gentx' -l chain-id -x -d 'Chain id of the genesis to join'
complete -c gtos-genesis -n '__gtos_genesis_at gentx' -l key -r -F -d "Validator's private key record"
complete -c gtos-genesis -n '__gtos_genesis_at gentx' -l stake -x -d 'Stake to bond at genesis, in base units'
complete -c gtos-genesis -n '__gtos_genesis_at gentx' -l p2p-addr -x -d 'Address other validators dial (HOST:PORT)'
complete -c gtos-genesis -n '__gtos_genesis_at gentx' -l commission-permille -x -d 'Commission from genesis on, per mille'
complete -c gtos-genesis -n '__gtos_genesis_at gentx' -l passphrase-file -r -F -d 'Passphrase of an encrypted key'
complete -c gtos-genesis -n '__gtos_genesis_at gentx' -s o -l output -r -F -d 'Write to FILE (atomically) instead of stdout'

complete -c gtos-genesis -n '__gtos_genesis_at collect' -F
complete -c gtos-genesis -n '__gtos_genesis_at collect' -l genesis -r -F -d 'Genesis record file (default: stdin)'

complete -c gtos-genesis -n '__gtos_genesis_at validate' -F
complete -c gtos-genesis -n '__gtos_genesis_at validate' -l structure-only -d 'Check only the structure'

complete -c gtos-genesis -n '__gtos_genesis_at hash' -F
