// gtos-node settings: gtos.toml, overridden by GTOS_* environment
// variables, overridden by flags (man gtos-node(1), etc/gtos.toml). This is
// the one place that turns them into node::NodeOptions.
#ifndef GTOS_CMD_NODE_CONFIG_H_
#define GTOS_CMD_NODE_CONFIG_H_

#include <map>
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
  std::optional<uint64_t> max_inbound_peers;
  std::optional<uint64_t> max_outbound_peers;
  std::optional<uint64_t> max_peers_per_ip;
  std::optional<std::vector<std::string>> reserved_peers;  // node keys, 0x-hex
  std::optional<bool> p2p_allow_private;
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
  std::optional<uint64_t> ready_max_block_intervals;
  std::optional<uint64_t> halt_height;
  std::optional<uint64_t> double_sign_check_height;
  // The RPC server's limits by gtos.toml key ("rpc_max_connections"); the
  // keys, their GTOS_RPC_* variables and ranges are RpcLimitKeys().
  std::map<std::string, uint64_t> rpc_limits;

  // Fields set in `over` replace this one's.
  void Merge(const Settings& over);
};

// Reads gtos.toml. Every error (unreadable file, TOML syntax, unknown key,
// wrong type) is an error, never an abort; those in the file name it with
// line and column: "'gtos.toml' line 3, column 12: <what>".
Result<Settings> LoadToml(const std::string& path);
// The same for a document already in memory; `path` names it in errors
// (tests/fuzz/fuzz_toml_config.cpp).
Result<Settings> LoadTomlText(std::string_view text, const std::string& path);
// Reads GTOS_DATADIR, GTOS_RPC_ADDR, GTOS_P2P_ADDR, GTOS_PEERS (comma
// separated), GTOS_P2P_EXTERNAL, GTOS_MAX_PEERS, GTOS_MAX_INBOUND_PEERS,
// GTOS_MAX_OUTBOUND_PEERS, GTOS_MAX_PEERS_PER_IP, GTOS_RESERVED_PEERS (comma
// separated), GTOS_P2P_ALLOW_PRIVATE, GTOS_P2P_DISCOVERY, GTOS_LOG_FORMAT, GTOS_LOG_LEVEL, GTOS_MEMPOOL_MAX_TXS,
// GTOS_MEMPOOL_MAX_BYTES, GTOS_VALIDATOR_KEY, GTOS_PASSPHRASE_FILE, GTOS_FSYNC,
// GTOS_STATE_SYNC, GTOS_SNAPSHOT_KEEP, GTOS_READY_MAX_BLOCK_INTERVALS,
// GTOS_HALT_HEIGHT, and GTOS_RPC_* for each rpc_* key.
Result<Settings> LoadEnv();

// One rpc_* limit: its gtos.toml key, its variable (GTOS_ + the key in
// upper case), the accepted range, and its default (rpc::ServerOptions).
struct RpcLimitKey {
  const char* key;
  uint64_t min;
  uint64_t max;
  uint64_t (*get)(const rpc::ServerOptions&);
  void (*set)(rpc::ServerOptions&, uint64_t);
};
const std::vector<RpcLimitKey>& RpcLimitKeys();

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
