# fish completion for gtos-keys (man/gtos-keys.1). Flags follow
# cmd/gtos-keys/commands.cpp; tests/tools/check_docs.py checks that every flag
# of every --help appears here. One file per tool: a new gtos-* tool gets its
# own gtos-<tool>.fish.

# Prints the subcommand typed so far ("" before one), skipping options and
# the values of options that take one.
function __gtos_keys_cmd
    set -l takes_value --algo --passphrase-file -o --output --kdf-log2n --hex-file
    set -l skip 0
    for tok in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
        else if string match -q -- '-*' $tok
            contains -- $tok $takes_value; and set skip 1
        else if contains -- $tok new pub addr import export
            echo $tok
            return
        end
    end
end

function __gtos_keys_at
    set -l path (__gtos_keys_cmd)
    test "$path" = "$argv"
end

set -l algos 'ed25519 secp256k1 secp256r1'

complete -c gtos-keys -f
complete -c gtos-keys -s h -l help -d 'Print help and exit'
complete -c gtos-keys -n '__gtos_keys_at ""' -l version -d 'Print version and exit'

complete -c gtos-keys -n '__gtos_keys_at ""' -a new -d 'Create a new key (encrypted at rest)'
complete -c gtos-keys -n '__gtos_keys_at ""' -a pub -d 'Print the public key record of each key'
complete -c gtos-keys -n '__gtos_keys_at ""' -a addr -d 'Print the address of each key'
complete -c gtos-keys -n '__gtos_keys_at ""' -a import -d 'Make a key record from a secret key in hex'
complete -c gtos-keys -n '__gtos_keys_at ""' -a export -d "Print a private key's secret as hex"

# new and import write a private key.
for cmd in new import
    complete -c gtos-keys -n "__gtos_keys_at $cmd" -l algo -x -a $algos -d 'Signature algorithm'
    complete -c gtos-keys -n "__gtos_keys_at $cmd" -l passphrase-file -r -F -d 'Encrypt with the passphrase in FILE'
    complete -c gtos-keys -n "__gtos_keys_at $cmd" -l unencrypted -d 'Write the key without encryption (unsafe)'
    complete -c gtos-keys -n "__gtos_keys_at $cmd" -s o -l output -r -F -d 'Write the key record to FILE (mode 0600)'
    complete -c gtos-keys -n "__gtos_keys_at $cmd" -l force -d 'Replace FILE if it exists'
    complete -c gtos-keys -n "__gtos_keys_at $cmd" -l kdf-log2n -x -a '(seq 17 20)' -d 'scrypt cost: N = 2^VALUE (default and minimum 17)'
end
complete -c gtos-keys -n '__gtos_keys_at import' -l hex-file -r -F -d 'File holding the secret key as hex'

complete -c gtos-keys -n '__gtos_keys_at pub' -F
complete -c gtos-keys -n '__gtos_keys_at pub' -s o -l output -r -F -d 'Write to FILE instead of stdout'
complete -c gtos-keys -n '__gtos_keys_at pub' -l json -d 'Print JSON lines instead of records'

complete -c gtos-keys -n '__gtos_keys_at addr' -F

complete -c gtos-keys -n '__gtos_keys_at export' -F
complete -c gtos-keys -n '__gtos_keys_at export' -l unsafe-hex -d 'Confirm printing the unencrypted secret'
complete -c gtos-keys -n '__gtos_keys_at export' -l passphrase-file -r -F -d 'Passphrase of an encrypted key'
