// Equivocation evidence waiting for inclusion in a block (docs/consensus.md
// "Evidence, slashing and jailing").
//
// The pool holds only what the executor's rules would take on top of the
// current head (the `check` callback, Chain::CheckEvidence), one piece per
// (validator, height, round, statement type), at most kMax pieces. After
// each commit Prune() drops what the next block would no longer take
// (included, so its validator is jailed or tombstoned, or too old). Pieces
// come out in key order, so every proposal built from the same pool carries
// them in the same order.
//
// Thread safety: the consensus thread only.
#ifndef GTOS_NODE_EVIDENCE_POOL_H_
#define GTOS_NODE_EVIDENCE_POOL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <tuple>
#include <vector>

#include "types/chain.h"
#include "util/status.h"

namespace gtos::node {

class EvidencePool {
 public:
  static constexpr size_t kMax = 1'000;
  using Check = std::function<Status(const Evidence&)>;

  explicit EvidencePool(Check check) : check_(std::move(check)) {}

  // true: added; false: already held (the same slot) or the pool is full.
  // Errors: what the executor's rules say against it (ErrorCode::kCrypto
  // for a bad signature, the sender's fault).
  Result<bool> Add(const Evidence& e);
  // Drops the pieces the next block would no longer take.
  void Prune();
  // Every piece, in key order.
  std::vector<Evidence> All() const;
  size_t size() const { return pieces_.size(); }

 private:
  using Key = std::tuple<Address, uint64_t, uint64_t, uint64_t>;  // validator, height, round, type
  static Key KeyOf(const Evidence& e);
  Check check_;
  std::map<Key, Evidence> pieces_;
};

}  // namespace gtos::node

#endif  // GTOS_NODE_EVIDENCE_POOL_H_
