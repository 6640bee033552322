# fish completion for gtos-snapshot (man/gtos-snapshot.1). Flags follow
# cmd/gtos-snapshot/main.cpp; tests/tools/check_docs.py checks that every flag
# of every --help appears here.

# Prints the subcommand typed so far ("" before one), skipping options and
# the values of options that take one.
function __gtos_snapshot_cmd
    set -l takes_value --datadir --height -o --output --genesis
    set -l skip 0
    for tok in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
        else if string match -q -- '-*' $tok
            contains -- $tok $takes_value; and set skip 1
        else if contains -- $tok create list info verify restore
            echo $tok
            return
        end
    end
end

function __gtos_snapshot_at
    set -l path (__gtos_snapshot_cmd)
    test "$path" = "$argv"
end

complete -c gtos-snapshot -f
complete -c gtos-snapshot -s h -l help -d 'Print help and exit'
complete -c gtos-snapshot -n '__gtos_snapshot_at ""' -l version -d 'Print version and exit'

complete -c gtos-snapshot -n '__gtos_snapshot_at ""' -a create -d "Write a snapshot of a stopped node's head (or copy a kept one)"
complete -c gtos-snapshot -n '__gtos_snapshot_at ""' -a list -d 'List the snapshots kept in D/snapshots'
complete -c gtos-snapshot -n '__gtos_snapshot_at ""' -a info -d "Print a snapshot file's manifest summary"
complete -c gtos-snapshot -n '__gtos_snapshot_at ""' -a verify -d 'Check a snapshot file completely'
complete -c gtos-snapshot -n '__gtos_snapshot_at ""' -a restore -d 'Build a new data directory from a snapshot file'

complete -c gtos-snapshot -n '__gtos_snapshot_at create' -l datadir -x -a '(__fish_complete_directories)' -d 'Data directory of a stopped node'
complete -c gtos-snapshot -n '__gtos_snapshot_at create' -l height -x -d 'Copy the kept snapshot of height H'
complete -c gtos-snapshot -n '__gtos_snapshot_at create' -s o -l output -r -F -d 'Snapshot file to write (- for stdout)'

complete -c gtos-snapshot -n '__gtos_snapshot_at list' -l datadir -x -a '(__fish_complete_directories)' -d 'Data directory'
complete -c gtos-snapshot -n '__gtos_snapshot_at list' -l json -d 'Print JSON lines instead of text'

complete -c gtos-snapshot -n '__gtos_snapshot_at info' -l json -d 'Print a JSON line instead of text'
complete -c gtos-snapshot -n '__gtos_snapshot_at info' -F

complete -c gtos-snapshot -n '__gtos_snapshot_at verify' -l genesis -r -F -d 'Require this genesis'
complete -c gtos-snapshot -n '__gtos_snapshot_at verify' -F

complete -c gtos-snapshot -n '__gtos_snapshot_at restore' -l datadir -x -a '(__fish_complete_directories)' -d 'Data directory to create (absent or empty)'
complete -c gtos-snapshot -n '__gtos_snapshot_at restore' -l genesis -r -F -d "The chain's genesis record"
complete -c gtos-snapshot -n '__gtos_snapshot_at restore' -F
