# The fuzz targets: one line each (docs/fuzzing.md).
#
#   gtos_fuzz_target(NAME LIBS lib... [SOURCES extra.cpp...] [TOMLPP])
#
# NAME is the target's name without the fuzz_ prefix: its source is
# tests/fuzz/fuzz_NAME.cpp and its seed corpus tests/fuzz/corpus-NAME/.
# This file is read twice, with two definitions of gtos_fuzz_target:
# tests/fuzz/CMakeLists.txt (the clang build, GTOS_FUZZ=ON) builds the
# binary fuzz_NAME and adds it to `fuzz_all`; tests/CMakeLists.txt (the
# normal build) registers the ctest fuzz_NAME_smoke, which runs that binary
# from ${CMAKE_BINARY_DIR}-fuzz for a few seconds. Adding a target is a
# source file, a corpus directory and one line here.
gtos_fuzz_target(record_decoder LIBS gtos_codec)
gtos_fuzz_target(p2p_message LIBS gtos_net)
gtos_fuzz_target(p2p_session LIBS gtos_net)
gtos_fuzz_target(snapshot_chunk LIBS gtos_chain)
gtos_fuzz_target(snapshot_manifest LIBS gtos_chain)
gtos_fuzz_target(state_value LIBS gtos_chain)
gtos_fuzz_target(json_record LIBS gtos_codec)
gtos_fuzz_target(genesis LIBS gtos_chain)
gtos_fuzz_target(key_file LIBS gtos_cli)
gtos_fuzz_target(record_stream LIBS gtos_cli)
gtos_fuzz_target(jsonrpc LIBS gtos_rpc)
gtos_fuzz_target(rpc_params LIBS gtos_rpc)
gtos_fuzz_target(toml_config LIBS gtos_node gtos_cli SOURCES ${PROJECT_SOURCE_DIR}/cmd/gtos-node/config.cpp TOMLPP)
gtos_fuzz_target(host_port LIBS gtos_node gtos_cli SOURCES ${PROJECT_SOURCE_DIR}/cmd/gtos-node/config.cpp TOMLPP)
gtos_fuzz_target(wal LIBS gtos_consensus)
gtos_fuzz_target(privval_state LIBS gtos_consensus)
