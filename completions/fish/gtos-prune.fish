# fish completion for gtos-prune (man/gtos-prune.1). Flags follow
# cmd/gtos-prune/main.cpp; tests/tools/check_docs.py checks that every flag
# of --help appears here. One file per tool.

complete -c gtos-prune -f
complete -c gtos-prune -s h -l help -d 'Print help and exit'
complete -c gtos-prune -l version -d 'Print version and exit'
complete -c gtos-prune -l datadir -x -a '(__fish_complete_directories)' -d 'Data directory of a stopped node'
complete -c gtos-prune -l retain-blocks -x -d 'Keep the history of the last N blocks (default: genesis retain_blocks)'
complete -c gtos-prune -l dry-run -d 'Report what would be deleted; change nothing'
complete -c gtos-prune -l json -d 'Print the report as one JSON object'
