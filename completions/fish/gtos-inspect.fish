# fish completion for gtos-inspect (man/gtos-inspect.1). Flags follow
# cmd/gtos-inspect/main.cpp; tests/tools/check_docs.py checks that every flag
# of --help appears here. One file per tool: a new gtos-* tool gets its own
# gtos-<tool>.fish.

complete -c gtos-inspect -F
complete -c gtos-inspect -s h -l help -d 'Print help and exit'
complete -c gtos-inspect -l version -d 'Print version and exit'
complete -c gtos-inspect -l encode -d 'Read JSON lines and write records'
complete -c gtos-inspect -l unsafe-show-secrets -d "Print unencrypted private keys' secrets"
complete -c gtos-inspect -s o -l output -r -F -d 'Write to FILE instead of stdout'
