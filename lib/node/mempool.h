// The mempool: signed txs waiting for a block.
//
// Admission checks a tx fully against committed state (chain id, size and
// fee rules, signer, signature, balance covers the fee) and requires the
// sender's next nonce counting waiting txs (no gaps; a same-nonce tx with a
// higher fee replaces the waiting one). Txs wait per sender in nonce order;
// a block takes, across senders, the highest fee first while keeping each
// sender's nonces consecutive. Limits: a count and a byte total; a tx that
// waited max_age_blocks is dropped. When
// full, a new tx must pay more than the cheapest waiting tx, which is
// evicted.
//
// Thread safety: every method is thread-safe; signature checks run outside
// the lock so RPC threads verify in parallel.
#ifndef GTOS_NODE_MEMPOOL_H_
#define GTOS_NODE_MEMPOOL_H_

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "chain/chain.h"

namespace gtos::node {

struct MempoolOptions {
  size_t max_txs = 200'000;
  size_t max_bytes = 256 << 20;
  uint64_t max_age_blocks = 600;
};

class Mempool {
 public:
  Mempool(const chain::Chain& chain, MempoolOptions options) : chain_(chain), options_(options) {}

  // Checks and admits a tx. Errors: kInvalid/kCrypto (refused, with the
  // reason), kUsage (full and the tx does not pay enough to evict).
  Result<Hash32> Add(SignedTx tx);
  // Up to max_txs / max_bytes txs for the next block, by fee, nonces in
  // order per sender. They stay in the pool until Committed().
  std::vector<SignedTx> Select(size_t max_txs, size_t max_bytes) const;
  // Drops txs that the committed head made stale (included, nonce used) and
  // those older than max_age_blocks.
  void Committed(const BlockHeader& head);
  // Next nonce of `a`: committed nonce plus consecutive waiting txs.
  uint64_t NextNonce(const Address& a) const;
  // Operator views (tos_mempool, tos_getMempoolTxs): per sender, lowest
  // addresses first, at most max_senders; and the waiting txs of `from` (or
  // all) in nonce order per sender, at most max_txs.
  struct SenderSummary {
    Address address;
    uint64_t txs = 0, bytes = 0, lowest_nonce = 0, highest_nonce = 0;
  };
  std::vector<SenderSummary> Senders(size_t max_senders) const;
  std::vector<SignedTx> Txs(size_t max_txs, const std::optional<Address>& from) const;
  size_t size() const;
  size_t bytes() const;
  const MempoolOptions& options() const { return options_; }
  // What identifies a checked signature: the tx id alone does not (it
  // covers the body, not the signature bytes), so SHA-256 of id, algo,
  // public key and signature.
  static Hash32 SignatureKey(const SignedTx& tx, const Hash32& id);
  // For each tx (ids[i] its id): whether its signature is known good — the
  // same signed tx is waiting here, or NoteVerified named its key.
  std::vector<bool> SignatureChecked(const std::vector<SignedTx>& txs, const std::vector<Hash32>& ids) const;
  // Remembers signatures the caller checked (SignatureKey of the txs of a
  // proposed block), so that neither Add nor a later block's check repeats
  // the check. Keeps the newest kMaxVerified.
  void NoteVerified(const std::vector<Hash32>& signature_keys);
  static constexpr size_t kMaxVerified = 400'000;

 private:
  struct Entry {
    SignedTx tx;
    Hash32 id;
    size_t bytes = 0;
    uint64_t added_height = 0;
  };
  // By fee ascending, for eviction: (fee, sender, nonce).
  using FeeKey = std::tuple<uint64_t, Address, uint64_t>;

  void RemoveLocked(const Address& from, uint64_t nonce);  // REQUIRES: mu_ held
  static uint64_t NextAfter(const std::map<uint64_t, Entry>& queue, uint64_t committed);
  // The committed nonce of every waiting sender, read without holding mu_.
  std::map<Address, uint64_t> CommittedNonces() const;

  const chain::Chain& chain_;
  MempoolOptions options_;
  mutable std::mutex mu_;
  std::map<Address, std::map<uint64_t, Entry>> by_sender_;  // GUARDED_BY(mu_)
  std::set<FeeKey> by_fee_;                                  // GUARDED_BY(mu_)
  std::set<Hash32> ids_;                                     // GUARDED_BY(mu_)
  size_t bytes_ = 0;                                         // GUARDED_BY(mu_)
  // Per sender: the sum of fee + amount (Spends) of its waiting txs, so
  // that admitting the next nonce does not walk the queue.
  __extension__ using SpendSum = unsigned __int128;
  std::map<Address, SpendSum> spends_;                       // GUARDED_BY(mu_)
  std::set<Hash32> verified_;                                // GUARDED_BY(mu_), SignatureKeys
  std::deque<Hash32> verified_order_;                        // GUARDED_BY(mu_), oldest first
};

}  // namespace gtos::node

#endif  // GTOS_NODE_MEMPOOL_H_
