# fish completion for gtos-inspect (man/gtos-inspect.1). Flags follow
# cmd/gtos-inspect/main.cpp and cmd/gtos-inspect/query.cpp;
# tests/tools/check_docs.py checks that every flag of --help appears here.
# One file per tool: a new gtos-* tool gets its own gtos-<tool>.fish.

# Prints the command path typed so far ("", "db", "rpc kv"), skipping
# options and the values of options that take one.
function __gtos_inspect_cmd
    set -l takes_value -o --output --datadir --rpc --count
    set -l path
    set -l skip 0
    for tok in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        if string match -q -- '-*' $tok
            contains -- $tok $takes_value; and set skip 1
            continue
        end
        switch "$path"
            case ''
                contains -- $tok db rpc; and set path $tok
                # any other word is a file: the default command
                contains -- $tok db rpc; or set path files
            case db
                contains -- $tok head stats block account kv code validators epoch validator delegations \
                    rewards unbondings supply params plan; and set path db $tok
            case rpc
                contains -- $tok head block account kv code validators epoch peers syncing mempool validator \
                    delegations rewards unbondings supply params plan watch; and set path rpc $tok
            case 'rpc watch'
                contains -- $tok heads tx kv; and set path rpc watch $tok
        end
    end
    echo $path
end

function __gtos_inspect_at
    set -l path (__gtos_inspect_cmd)
    test "$path" = "$argv"
end

# The default command: files and its options.
function __gtos_inspect_files
    set -l path (__gtos_inspect_cmd)
    test "$path" = ""; or test "$path" = files
end

complete -c gtos-inspect -f
complete -c gtos-inspect -s h -l help -d 'Print help and exit'
complete -c gtos-inspect -n '__gtos_inspect_at ""' -l version -d 'Print version and exit'
complete -c gtos-inspect -n __gtos_inspect_files -F
complete -c gtos-inspect -n __gtos_inspect_files -l encode -d 'Read JSON lines and write records'
complete -c gtos-inspect -n __gtos_inspect_files -l unsafe-show-secrets -d "Print unencrypted private keys' secrets"
complete -c gtos-inspect -n __gtos_inspect_files -s o -l output -r -F -d 'Write to FILE instead of stdout'

complete -c gtos-inspect -n '__gtos_inspect_at ""' -a db -d "Query a stopped node's data directory"
complete -c gtos-inspect -n '__gtos_inspect_at ""' -a rpc -d 'Query a running node over JSON-RPC'

complete -c gtos-inspect -n '__gtos_inspect_at db' -l datadir -x -a '(__fish_complete_directories)' -d "The node's data directory"
complete -c gtos-inspect -n '__gtos_inspect_at rpc' -l rpc -x -d 'Node RPC URL (http://HOST:PORT)'
for cmd in db rpc
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -l hex -d 'Take NS and KEY as hex instead of text'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a head -d "The newest block's header"
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a block -d 'Block N'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a account -d 'Balance, nonce and signer of an account'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a kv -d 'A KV record: ADDR NS KEY'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a code -d 'A code object: HASH'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a validators -d 'The registered validators'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a epoch -d 'The current epoch and the active set'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a validator -d 'A validator: ADDR'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a delegations -d 'The delegations of ADDR'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a rewards -d 'The pending rewards of ADDR'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a unbondings -d 'The stake ADDR has unbonding'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a supply -d 'The terms of the supply equation'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a params -d 'The chain parameters in force'
    complete -c gtos-inspect -n "__gtos_inspect_at $cmd" -a plan -d 'The pending upgrade plan, or null'
end
for path in 'db kv' 'db code' 'rpc kv' 'rpc code'
    complete -c gtos-inspect -n "__gtos_inspect_at $path" -l text -d 'The value as a UTF-8 string instead of hex'
    complete -c gtos-inspect -n "__gtos_inspect_at $path" -l raw -d "Write the value's bytes alone"
end
complete -c gtos-inspect -n '__gtos_inspect_at rpc' -a peers -d "The node's connected peers"
complete -c gtos-inspect -n '__gtos_inspect_at rpc' -a syncing -d 'Catching up or not, readiness'
complete -c gtos-inspect -n '__gtos_inspect_at rpc' -a mempool -d 'Waiting transactions per sender'
complete -c gtos-inspect -n '__gtos_inspect_at rpc' -a watch -d 'Follow a live stream: heads, tx ID, kv ADDR NS'
complete -c gtos-inspect -n '__gtos_inspect_at rpc watch' -l count -x -d 'Stop after N events'
complete -c gtos-inspect -n '__gtos_inspect_at rpc watch' -a heads -d "Every new block's header"
complete -c gtos-inspect -n '__gtos_inspect_at rpc watch' -a tx -d 'The receipt of tx ID, then exit'
complete -c gtos-inspect -n '__gtos_inspect_at rpc watch' -a kv -d 'KV writes and expiries of ADDR in NS'
complete -c gtos-inspect -n '__gtos_inspect_at db' -a stats -d 'Head, retention window and table sizes'
