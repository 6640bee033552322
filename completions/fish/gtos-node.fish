# fish completion for gtos-node (man/gtos-node.1). Flags follow
# cmd/gtos-node/commands.cpp; tests/tools/check_docs.py checks that every flag
# of every --help appears here. One file per tool: a new gtos-* tool gets its
# own gtos-<tool>.fish.

# Prints the subcommand typed so far ("" before one, and for the --dev mode),
# skipping options and the values of options that take one.
function __gtos_node_cmd
    set -l takes_value --param --datadir --rpc-addr --log-format --log-level --genesis --key \
        --passphrase-file --config --p2p-addr --peer --p2p-external --validator-key
    set -l skip 0
    for tok in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
        else if string match -q -- '-*' $tok
            contains -- $tok $takes_value; and set skip 1
        else if contains -- $tok init run replay migrate
            echo $tok
            return
        end
    end
end

function __gtos_node_at
    set -l path (__gtos_node_cmd)
    test "$path" = "$argv"
end

set -l params target_block_interval_ms= retain_blocks= snapshot_interval= epoch_length= \
    max_validators= unbonding_blocks= min_validator_stake= max_ttl= max_namespace_bytes= \
    max_key_bytes= max_value_bytes= max_code_bytes= max_tx_bytes= max_block_txs= \
    max_block_bytes= fee_base= fee_per_byte= fee_per_byte_block= slash_double_sign_permille= \
    clock_precision_ms= message_delay_ms=

complete -c gtos-node -f
complete -c gtos-node -s h -l help -d 'Print help and exit'
complete -c gtos-node -n '__gtos_node_at ""' -l version -d 'Print version and exit'

complete -c gtos-node -n '__gtos_node_at ""; and not __fish_seen_argument -l dev' -a init -d 'Create a data directory from a genesis'
complete -c gtos-node -n '__gtos_node_at ""; and not __fish_seen_argument -l dev' -a run -d 'Run a node on an initialised data directory'
complete -c gtos-node -n '__gtos_node_at ""; and not __fish_seen_argument -l dev' -a replay -d 'Re-execute stored blocks and compare state roots'
complete -c gtos-node -n '__gtos_node_at ""; and not __fish_seen_argument -l dev' -a migrate -d 'Upgrade a data directory to this build'\''s schema version'

# The top level: the --dev mode.
complete -c gtos-node -n '__gtos_node_at ""' -l dev -d 'Create (or reuse) a single-validator dev chain and run it'
complete -c gtos-node -n '__gtos_node_at ""' -l param -x -a "$params" -d 'Genesis parameter of a new dev chain (NAME=VALUE)'

# Options that --dev and run share.
for cmd in '""' run
    complete -c gtos-node -n "__gtos_node_at $cmd" -l datadir -x -a '(__fish_complete_directories)' -d 'Data directory'
    complete -c gtos-node -n "__gtos_node_at $cmd" -l rpc-addr -x -d 'JSON-RPC and subscription listen address (default 127.0.0.1:8545)'
    complete -c gtos-node -n "__gtos_node_at $cmd" -l log-format -x -a 'text json' -d 'Log lines as text or json (default text)'
    complete -c gtos-node -n "__gtos_node_at $cmd" -l log-level -x -a 'debug info warn error' -d 'Least severe level logged (default info)'
end

complete -c gtos-node -n '__gtos_node_at run' -l config -r -F -d 'Read settings from this gtos.toml'
complete -c gtos-node -n '__gtos_node_at run' -l p2p-addr -x -d 'P2P listen address'
complete -c gtos-node -n '__gtos_node_at run' -l peer -x -d 'Peer to connect to (repeatable)'
complete -c gtos-node -n '__gtos_node_at run' -l p2p-external -x -d 'P2P address advertised to peers (default: --p2p-addr)'
complete -c gtos-node -n '__gtos_node_at run' -l state-sync -d 'Restore the newest snapshot the peers offer when the chain has no blocks or falls behind their window'
complete -c gtos-node -n '__gtos_node_at run' -l trust-height -x -d 'With --state-sync: the trusted header height'
complete -c gtos-node -n '__gtos_node_at run' -l trust-hash -x -d 'With --state-sync: the trusted header hash'
complete -c gtos-node -n '__gtos_node_at run' -l halt-height -r -d 'Stop cleanly once height H is committed'
complete -c gtos-node -n '__gtos_node_at run' -l double-sign-check-height -r -d 'Sign nothing for N heights after seeing this key in a commit it did not sign'
complete -c gtos-node -n '__gtos_node_at run' -l sign-journal -r -F -d 'Append a JSON line for every proposal and vote this validator signs'
complete -c gtos-node -n '__gtos_node_at run' -l validator-key -r -F -d 'Validator key (default D/validator.key)'
complete -c gtos-node -n '__gtos_node_at run' -l passphrase-file -r -F -d 'Passphrase of an encrypted validator key'

complete -c gtos-node -n '__gtos_node_at init' -l datadir -x -a '(__fish_complete_directories)' -d 'Data directory to create'
complete -c gtos-node -n '__gtos_node_at init' -l genesis -r -F -d 'Genesis record file'
complete -c gtos-node -n '__gtos_node_at init' -l key -r -F -d 'Validator key to install as D/validator.key'
complete -c gtos-node -n '__gtos_node_at init' -l passphrase-file -r -F -d 'Check that this passphrase unlocks the key'

complete -c gtos-node -n '__gtos_node_at replay' -l datadir -x -a '(__fish_complete_directories)' -d 'Data directory of a stopped node'

complete -c gtos-node -n '__gtos_node_at migrate' -l datadir -x -a '(__fish_complete_directories)' -d 'Data directory of a stopped node'
complete -c gtos-node -n '__gtos_node_at migrate' -l dry-run -d 'Say which steps would run and change nothing'
