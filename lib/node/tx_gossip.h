// Tx gossip (docs/node.md "Peers", docs/consensus.md "Threads"): txs
// received from peers are admitted to the mempool on a thread of their own,
// so that signature checks never stall consensus or the p2p I/O thread, and
// every tx admitted here (from a peer or from RPC) is sent on to the other
// peers in batches.
//
// A peer whose batch holds a tx with a forged signature is penalised and
// the rest of its batch is not checked (a flood of forgeries costs one
// verification). At most kMaxWaiting txs wait for admission; beyond that
// gossip is dropped (it is best effort: a tx reaches the proposer by another
// path, or its sender retries).
//
// Thread safety: FromPeer (I/O thread) and Local (RPC threads) may be called
// from any thread; the hooks are called from the gossip thread only.
#ifndef GTOS_NODE_TX_GOSSIP_H_
#define GTOS_NODE_TX_GOSSIP_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/messages.h"
#include "net/net.h"
#include "node/mempool.h"

namespace gtos::node {

class TxGossip {
 public:
  // Txs waiting for admission, at most.
  static constexpr size_t kMaxWaiting = 200'000;
  // Txs per gossip message.
  static constexpr size_t kBatch = 4'000;

  struct Hooks {
    // Sends a batch to every peer but `except` (none: every peer).
    std::function<void(const net::Txs& batch, std::optional<net::PeerId> except)> broadcast;
    // The sender of a forged tx.
    std::function<void(net::PeerId peer, int points, const std::string& why)> penalize;
  };

  TxGossip(Mempool& mempool, Hooks hooks);
  ~TxGossip();
  TxGossip(const TxGossip&) = delete;
  TxGossip& operator=(const TxGossip&) = delete;

  // Starts the gossip thread; Stop() (or the destructor) joins it.
  void Start();
  void Stop();

  // Txs a peer sent (dropped when kMaxWaiting are waiting).
  void FromPeer(net::PeerId peer, std::vector<SignedTx> txs);
  // A tx admitted to the mempool through RPC: to every peer (dropped
  // before Start(), e.g. on a node without p2p).
  void Local(SignedTx tx);

 private:
  void Loop();

  Mempool& mempool_;
  Hooks hooks_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<net::PeerId, std::vector<SignedTx>>> in_;  // GUARDED_BY(mu_)
  size_t in_txs_ = 0;                                              // GUARDED_BY(mu_)
  // Txs to send on, with the peer they came from (none: from RPC).
  std::vector<std::pair<std::optional<net::PeerId>, SignedTx>> out_;  // GUARDED_BY(mu_)
  bool running_ = false;                                             // GUARDED_BY(mu_)
  bool stop_ = false;                                                // GUARDED_BY(mu_)
};

}  // namespace gtos::node

#endif  // GTOS_NODE_TX_GOSSIP_H_
