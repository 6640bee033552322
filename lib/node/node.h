// A running node: chain + mempool + RPC server + block production.
//
// In this version a node produces blocks when its validator key is the
// chain's only validator (a dev chain or a single-validator network):
// every target_block_interval_ms it takes txs from the mempool, executes
// them, signs the commit certificate and commits. Multi-validator consensus
// plugs in here (lib/consensus) without changing the chain or RPC layers.
//
// Thread safety: Run() on one thread; the rpc::Backend methods are
// thread-safe and called from RPC threads.
#ifndef GTOS_NODE_NODE_H_
#define GTOS_NODE_NODE_H_

#include <atomic>
#include <memory>
#include <string>

#include "chain/chain.h"
#include "node/mempool.h"
#include "rpc/backend.h"
#include "rpc/server.h"

namespace gtos::node {

struct NodeOptions {
  std::string datadir;
  rpc::ServerOptions rpc;
  MempoolOptions mempool;
  std::string validator_key_file;  // default: D/validator.key
  std::string passphrase_file;     // for an encrypted validator key (the tool maps
                                   // GTOS_PASSPHRASE_FILE here; the core reads no env)
  bool sync = true;                // fsync every block
};

class Node : public rpc::Backend {
 public:
  static Result<std::unique_ptr<Node>> Open(const NodeOptions& options);
  ~Node() override;

  // Serves RPC and produces blocks until `stop` becomes true; then stops the
  // RPC server and returns after the block in progress is committed.
  Status Run(const std::atomic<bool>& stop);
  int rpc_port() const;

  // rpc::Backend
  const chain::Chain& chain() const override { return *chain_; }
  Result<Hash32> SubmitTx(SignedTx tx) override { return mempool_->Add(std::move(tx)); }
  uint64_t NextNonce(const Address& a) const override { return mempool_->NextNonce(a); }
  size_t MempoolSize() const override { return mempool_->size(); }
  bool Ready() const override { return ready_.load(); }
  std::string Metrics() const override;

 private:
  Node() = default;
  Status ProduceBlock();

  NodeOptions options_;
  std::unique_ptr<chain::Chain> chain_;
  std::unique_ptr<Mempool> mempool_;
  std::unique_ptr<rpc::Server> rpc_;
  Bytes validator_secret_;
  Bytes validator_public_;
  const crypto::SigAlgo* validator_algo_ = nullptr;
  Address validator_address_;
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> blocks_committed_{0};
  std::atomic<uint64_t> txs_committed_{0};
  std::atomic<uint64_t> last_block_txs_{0};
  std::atomic<uint64_t> last_commit_ms_{0};
};

}  // namespace gtos::node

#endif  // GTOS_NODE_NODE_H_
