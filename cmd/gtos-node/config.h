// gtos-node settings: gtos.toml, overridden by GTOS_* environment
// variables, overridden by flags (man gtos-node(1), etc/gtos.toml). This is
// the one place that turns them into node::NodeOptions.
#ifndef GTOS_CMD_NODE_CONFIG_H_
#define GTOS_CMD_NODE_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "node/log.h"
#include "node/node.h"

namespace gtos::nodecmd {

struct Settings {
  std::optional<std::string> datadir;
  std::optional<std::string> rpc_addr;
  std::optional<std::string> p2p_addr;
  std::optional<std::vector<std::string>> peers;
  std::optional<std::string> p2p_external;
  std::optional<uint64_t> max_peers;
  std::optional<bool> p2p_discovery;
  std::optional<std::string> log_format;
  std::optional<std::string> log_level;
  std::optional<uint64_t> mempool_max_txs;
  std::optional<uint64_t> mempool_max_bytes;
  std::optional<std::string> validator_key;
  std::optional<std::string> passphrase_file;
  std::optional<bool> fsync;
  std::optional<bool> state_sync;
  std::optional<uint64_t> snapshot_keep;

  // Fields set in `over` replace this one's.
  void Merge(const Settings& over);
};

// Reads gtos.toml; unknown keys and wrong types are errors naming the key.
Result<Settings> LoadToml(const std::string& path);
// The same for a document already in memory; `path` names it in errors
// (tests/fuzz/fuzz_toml_config.cpp).
Result<Settings> LoadTomlText(std::string_view text, const std::string& path);
// Reads GTOS_DATADIR, GTOS_RPC_ADDR, GTOS_P2P_ADDR, GTOS_PEERS (comma
// separated), GTOS_P2P_EXTERNAL, GTOS_MAX_PEERS, GTOS_P2P_DISCOVERY, GTOS_LOG_FORMAT, GTOS_LOG_LEVEL, GTOS_MEMPOOL_MAX_TXS,
// GTOS_MEMPOOL_MAX_BYTES, GTOS_VALIDATOR_KEY, GTOS_PASSPHRASE_FILE, GTOS_FSYNC,
// GTOS_STATE_SYNC, GTOS_SNAPSHOT_KEEP.
Result<Settings> LoadEnv();

struct Resolved {
  node::NodeOptions node;
  bool state_sync = false;  // run node::StateSync before starting
  uint64_t trust_height = 0;  // --trust-height (with --state-sync)
  Hash32 trust_hash;          // --trust-hash
  node::LogFormat log_format = node::LogFormat::kText;
  node::LogLevel log_level = node::LogLevel::kInfo;
};
Result<Resolved> Resolve(const Settings& s);

// "host:port" → host, port; a usage error naming `what` otherwise.
Status ParseHostPort(const std::string& addr, std::string_view what, std::string* host, int* port);

}  // namespace gtos::nodecmd

#endif  // GTOS_CMD_NODE_CONFIG_H_
