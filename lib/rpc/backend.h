// What the RPC server needs from a node. gtos-node implements it; tests use
// a chain in a temporary directory with a trivial implementation.
#ifndef GTOS_RPC_BACKEND_H_
#define GTOS_RPC_BACKEND_H_

#include <string>
#include <vector>

#include "chain/chain.h"
#include "rpc/errors.h"  // the error codes (kTxRejected, ...)

namespace gtos::rpc {

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
};

}  // namespace gtos::rpc

#endif  // GTOS_RPC_BACKEND_H_
