// The values of the history tables a Chain writes beside the state
// (lib/state/schema.h, docs/storage.md): block bodies (B), receipt lists
// (R) and tx index entries (T). Each is stored as state::EncodeValue of the
// struct and read back with state::DecodeValue; they are declared here, not
// inside chain.cpp, so that tests and fuzz_state_value decode them exactly
// as the chain does.
#ifndef GTOS_CHAIN_STORED_H_
#define GTOS_CHAIN_STORED_H_

#include <optional>
#include <vector>

#include "types/chain.h"

namespace gtos::chain::stored {

// Block body as stored: [txs, evidence, last_commit?].
struct Body {
  std::vector<SignedTx> txs;
  std::vector<Evidence> evidence;
  std::optional<gtos::Commit> last_commit;
  template <class V> void Fields(V& v) {
    v.List("txs", txs, kMaxBlockTxs);
    v.List("evidence", evidence, kMaxEvidence);
    v.Optional("last_commit", last_commit);
  }
};

struct ReceiptList {
  std::vector<Receipt> receipts;
  template <class V> void Fields(V& v) { v.List("receipts", receipts, kMaxBlockTxs); }
};

// Where a tx is: [height, index in the block].
struct TxLoc {
  uint64_t height = 0;
  uint64_t index = 0;
  template <class V> void Fields(V& v) {
    v.Uint("height", height);
    v.Uint("index", index);
  }
};

}  // namespace gtos::chain::stored

#endif  // GTOS_CHAIN_STORED_H_
