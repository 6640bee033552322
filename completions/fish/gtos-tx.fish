# fish completion for gtos-tx (man/gtos-tx.1). Flags follow
# cmd/gtos-tx/build.cpp, cmd/gtos-tx/commands.cpp and cmd/gtos-tx/send.cpp;
# tests/tools/check_docs.py checks that every flag of every --help appears
# here. One file per tool: a new gtos-* tool gets its own gtos-<tool>.fish.

# Prints the command path typed so far ("", "sign", "build", "build kv-put"),
# skipping options and the values of options that take one.
function __gtos_tx_cmd
    set -l takes_value --chain-id --from --from-key --nonce --fee -o --output \
        --to --amount --namespace --key --value --value-file --ttl --code-file \
        --signer-key --stake --consensus-key --passphrase-file -j --jobs --rpc --timeout \
        --name --activation-height --param --required-version
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
                contains -- $tok build sign verify hash send sign-plan gather-plan; and set path $tok
            case build
                contains -- $tok transfer kv-put code-put set-signer \
                    validator-register validator-unbond delegate undelegate \
                    redelegate withdraw-rewards validator-edit unjail upgrade-plan; and set path build $tok
        end
    end
    echo $path
end

function __gtos_tx_at
    set -l path (__gtos_tx_cmd)
    test "$path" = "$argv"
end

complete -c gtos-tx -f
complete -c gtos-tx -s h -l help -d 'Print help and exit'
complete -c gtos-tx -n '__gtos_tx_at ""' -l version -d 'Print version and exit'

complete -c gtos-tx -n '__gtos_tx_at ""' -a build -d 'Build an unsigned transaction of one kind'
complete -c gtos-tx -n '__gtos_tx_at ""' -a sign -d 'Sign unsigned tx records; signed records out'
complete -c gtos-tx -n '__gtos_tx_at ""' -a verify -d 'Check signed tx records'
complete -c gtos-tx -n '__gtos_tx_at ""' -a hash -d 'Print the id of each unsigned or signed tx'
complete -c gtos-tx -n '__gtos_tx_at ""' -a send -d 'Send signed tx records to a node'
complete -c gtos-tx -n '__gtos_tx_at ""' -a sign-plan -d "Add this key's signature to an upgrade_plan record"
complete -c gtos-tx -n '__gtos_tx_at ""' -a gather-plan -d 'Merge signed upgrade_plan records into an upgrade_plan tx'

complete -c gtos-tx -n '__gtos_tx_at build' -a transfer -d 'Move AMOUNT to ADDR'
complete -c gtos-tx -n '__gtos_tx_at build' -a kv-put -d 'Store VALUE at (from, NAMESPACE, KEY) for TTL blocks'
complete -c gtos-tx -n '__gtos_tx_at build' -a code-put -d 'Store the bytes of FILE as a code object'
complete -c gtos-tx -n '__gtos_tx_at build' -a set-signer -d "Bind (or rotate) the account's signer"
complete -c gtos-tx -n '__gtos_tx_at build' -a validator-register -d 'Bond STAKE as a validator'
complete -c gtos-tx -n '__gtos_tx_at build' -a validator-unbond -d 'Start unbonding AMOUNT of stake'
complete -c gtos-tx -n '__gtos_tx_at build' -a delegate -d 'Bond AMOUNT of the balance to validator ADDR'
complete -c gtos-tx -n '__gtos_tx_at build' -a undelegate -d 'Unbond AMOUNT of stake from validator ADDR'
complete -c gtos-tx -n '__gtos_tx_at build' -a redelegate -d 'Move AMOUNT of stake to another validator at once'
complete -c gtos-tx -n '__gtos_tx_at build' -a withdraw-rewards -d 'Pay the pending rewards to the balance'
complete -c gtos-tx -n '__gtos_tx_at build' -a validator-edit -d "Set the validator's commission, moniker, p2p address"
complete -c gtos-tx -n '__gtos_tx_at build' -a unjail -d 'Ask that the jailed validator compete for the set again'
complete -c gtos-tx -n '__gtos_tx_at build' -a upgrade-plan -d 'Write an unsigned upgrade_plan record (not a tx)'

# Options every build kind shares.
for kind in "build transfer" "build kv-put" "build code-put" "build set-signer" "build validator-register" \
        "build validator-unbond" "build delegate" "build undelegate" "build redelegate" "build withdraw-rewards" \
        "build validator-edit" "build unjail" gather-plan
    set -l at "__gtos_tx_at $kind"
    complete -c gtos-tx -n $at -l chain-id -x -d 'Chain id the tx is valid on'
    complete -c gtos-tx -n $at -l from -x -d 'Sender address (0x + 64 hex)'
    complete -c gtos-tx -n $at -l from-key -r -F -d "Sender's public or private key record"
    complete -c gtos-tx -n $at -l nonce -x -d "Sender's next nonce"
    complete -c gtos-tx -n $at -l fee -x -d 'Fee in base units (default: minimum fee)'
    complete -c gtos-tx -n $at -l rpc -x -d 'Ask the node at URL for the nonce and fee parameters'
    complete -c gtos-tx -n $at -s o -l output -r -F -d 'Write to FILE instead of stdout'
    complete -c gtos-tx -n $at -l json -d 'Print a JSON line instead of a record'
end

complete -c gtos-tx -n '__gtos_tx_at build transfer' -l to -x -d 'Recipient address (0x + 64 hex)'
complete -c gtos-tx -n '__gtos_tx_at build transfer' -l amount -x -d 'Amount in base units'

complete -c gtos-tx -n '__gtos_tx_at build kv-put' -l namespace -x -d 'Namespace (text)'
complete -c gtos-tx -n '__gtos_tx_at build kv-put' -l key -x -d 'Key (text)'
complete -c gtos-tx -n '__gtos_tx_at build kv-put' -l value -x -d 'Value (text)'
complete -c gtos-tx -n '__gtos_tx_at build kv-put' -l value-file -r -F -d "Read the value's bytes from FILE"
complete -c gtos-tx -n '__gtos_tx_at build kv-put' -l ttl -x -d 'Lifetime in blocks (>= 1)'

complete -c gtos-tx -n '__gtos_tx_at build code-put' -l code-file -r -F -d 'File with the code bytes'
complete -c gtos-tx -n '__gtos_tx_at build code-put' -l ttl -x -d 'Lifetime in blocks (>= 1)'

complete -c gtos-tx -n '__gtos_tx_at build set-signer' -l signer-key -r -F -d 'Key record of the new signer'

complete -c gtos-tx -n '__gtos_tx_at build validator-register' -l stake -x -d 'Stake to bond, in base units'
complete -c gtos-tx -n '__gtos_tx_at build validator-register' -l consensus-key -r -F -d 'Key record of the consensus key'

complete -c gtos-tx -n '__gtos_tx_at build validator-register' -l commission-permille -x -d 'Commission in thousandths'
complete -c gtos-tx -n '__gtos_tx_at build validator-register' -l moniker -x -d 'Free-text name of the validator'
complete -c gtos-tx -n '__gtos_tx_at build validator-register' -l p2p-addr -x -d "host:port of the validator's node"

complete -c gtos-tx -n '__gtos_tx_at build validator-unbond' -l amount -x -d 'Stake to unbond, in base units'

for kind in delegate undelegate
    complete -c gtos-tx -n "__gtos_tx_at build $kind" -l validator -x -d 'Validator address (0x + 64 hex)'
    complete -c gtos-tx -n "__gtos_tx_at build $kind" -l amount -x -d 'Amount in base units'
end
complete -c gtos-tx -n '__gtos_tx_at build redelegate' -l src-validator -x -d 'Validator to move the stake from'
complete -c gtos-tx -n '__gtos_tx_at build redelegate' -l dst-validator -x -d 'Validator to move the stake to'
complete -c gtos-tx -n '__gtos_tx_at build redelegate' -l amount -x -d 'Amount in base units'
complete -c gtos-tx -n '__gtos_tx_at build withdraw-rewards' -l validator -x -d 'Only this validator (default: all)'
complete -c gtos-tx -n '__gtos_tx_at build validator-edit' -l commission-permille -x -d 'New commission in thousandths'
complete -c gtos-tx -n '__gtos_tx_at build validator-edit' -l moniker -x -d 'Free-text name of the validator'
complete -c gtos-tx -n '__gtos_tx_at build validator-edit' -l p2p-addr -x -d "host:port of the validator's node"

complete -c gtos-tx -n '__gtos_tx_at sign' -F
complete -c gtos-tx -n '__gtos_tx_at sign' -l key -r -F -d 'Private key record to sign with'
complete -c gtos-tx -n '__gtos_tx_at sign' -l passphrase-file -r -F -d 'Passphrase of an encrypted key'
complete -c gtos-tx -n '__gtos_tx_at sign' -l bound-signer -d "Allow a key that is not the tx's from"
complete -c gtos-tx -n '__gtos_tx_at sign' -s o -l output -r -F -d 'Write to FILE instead of stdout'

complete -c gtos-tx -n '__gtos_tx_at verify' -F
complete -c gtos-tx -n '__gtos_tx_at verify' -l bound-signer -d 'Check only the signature, not the key-to-from match'
complete -c gtos-tx -n '__gtos_tx_at verify' -s j -l jobs -x -d 'Verification threads (default: all cores)'

complete -c gtos-tx -n '__gtos_tx_at hash' -F

complete -c gtos-tx -n '__gtos_tx_at send' -F
complete -c gtos-tx -n '__gtos_tx_at send' -l rpc -x -d 'Node RPC URL (http://HOST:PORT)'
complete -c gtos-tx -n '__gtos_tx_at send' -l wait -d 'Wait for every receipt and write it'
complete -c gtos-tx -n '__gtos_tx_at send' -l timeout -x -d 'With --wait: give up after SECONDS'
complete -c gtos-tx -n '__gtos_tx_at send' -l json -d 'Print JSON lines instead of ids or records'
complete -c gtos-tx -n '__gtos_tx_at send' -s o -l output -r -F -d 'Write to FILE instead of stdout'

complete -c gtos-tx -n '__gtos_tx_at build upgrade-plan' -l chain-id -x -d 'Chain the plan is for'
complete -c gtos-tx -n '__gtos_tx_at build upgrade-plan' -l name -x -d 'Plan name (1-32 bytes of a-z0-9.-)'
complete -c gtos-tx -n '__gtos_tx_at build upgrade-plan' -l activation-height -x -d 'Height whose block first runs under the new parameters'
complete -c gtos-tx -n '__gtos_tx_at build upgrade-plan' -l param -x -d 'A parameter change NAME=VALUE (repeatable)'
complete -c gtos-tx -n '__gtos_tx_at build upgrade-plan' -l required-version -x -d 'Nodes of an older build halt before the activation'
complete -c gtos-tx -n '__gtos_tx_at build upgrade-plan' -s o -l output -r -F -d 'Write to FILE instead of stdout'
complete -c gtos-tx -n '__gtos_tx_at build upgrade-plan' -l json -d 'Print a JSON line instead of a record'

complete -c gtos-tx -n '__gtos_tx_at sign-plan' -F
complete -c gtos-tx -n '__gtos_tx_at sign-plan' -l key -r -F -d "Validator's account key record"
complete -c gtos-tx -n '__gtos_tx_at sign-plan' -l passphrase-file -r -F -d 'Passphrase of an encrypted key'
complete -c gtos-tx -n '__gtos_tx_at sign-plan' -s o -l output -r -F -d 'Write to FILE instead of stdout'
complete -c gtos-tx -n '__gtos_tx_at sign-plan' -l json -d 'Print a JSON line instead of a record'

complete -c gtos-tx -n '__gtos_tx_at gather-plan' -F
