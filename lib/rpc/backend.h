// What the RPC server needs from a node. gtos-node implements it; tests use
// a chain in a temporary directory with a trivial implementation.
#ifndef GTOS_RPC_BACKEND_H_
#define GTOS_RPC_BACKEND_H_

#include <optional>
#include <string>
#include <vector>

#include "chain/chain.h"
#include "rpc/errors.h"  // the error codes (kTxRejected, ...)

namespace gtos::rpc {

// tos_syncing (docs/rpc.md "Operator methods").
struct SyncStatus {
  uint64_t head = 0;
  uint64_t peers_best = 0;    // highest height a connected peer claims
  bool catching_up = false;   // a peer claims more than head + 1
  uint64_t peers = 0;
  std::string not_ready;      // NotReadyReason(), empty when ready
};

// net_peers: one connected peer.
struct PeerView {
  uint64_t id = 0;
  Bytes node_key;
  std::string address, listen;
  bool outbound = false;
  uint64_t height = 0;
  int64_t score = 0;
  uint64_t connected_ms = 0, bytes_in = 0, bytes_out = 0;
};

// tos_mempool: what waits, per sender.
struct MempoolSender {
  Address address;
  uint64_t txs = 0, bytes = 0, lowest_nonce = 0, highest_nonce = 0;
};
struct MempoolView {
  uint64_t txs = 0, bytes = 0;
  std::vector<MempoolSender> senders;  // by address
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Committed blocks and state. Safe to query from RPC threads.
  virtual const chain::Chain& chain() const = 0;
  // Checks a signed tx (signature, chain id, nonce order, fee, balance) and
  // admits it to the mempool; returns its id or why it was refused (the
  // error's code kUsage means "mempool full"). Thread-safe.
  virtual Result<Hash32> SubmitTx(SignedTx tx) = 0;
  // The sender's next nonce counting txs waiting in the mempool.
  virtual uint64_t NextNonce(const Address& a) const = 0;
  // Number of txs waiting.
  virtual size_t MempoolSize() const = 0;
  // /readyz: the node is caught up and producing or following blocks.
  virtual bool Ready() const = 0;
  // Why the node is not ready (/readyz answers 503 with it), or empty when
  // it is ready. One definition: docs/node.md "Health and metrics".
  virtual std::string NotReadyReason() const { return Ready() ? std::string() : std::string("not started"); }
  // Extra Prometheus lines from the node (consensus, mempool, ...).
  virtual std::string Metrics() const = 0;
  // Operator views; the defaults suit a backend without p2p or mempool.
  virtual SyncStatus Syncing() const {
    SyncStatus s;
    s.head = chain().height();
    s.not_ready = NotReadyReason();
    return s;
  }
  virtual std::vector<PeerView> Peers() const { return {}; }
  // At most max_senders senders, lowest addresses first.
  virtual MempoolView MempoolInfo(size_t max_senders) const {
    (void)max_senders;
    MempoolView v;
    v.txs = MempoolSize();
    return v;
  }
  // Waiting txs in the order a block would take them, at most max_txs
  // (from one sender when `from` is set).
  virtual std::vector<SignedTx> MempoolTxs(size_t max_txs, const std::optional<Address>& from) const {
    (void)max_txs;
    (void)from;
    return {};
  }
};

}  // namespace gtos::rpc

#endif  // GTOS_RPC_BACKEND_H_
