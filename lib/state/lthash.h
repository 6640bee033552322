// LtHash: the homomorphic multiset hash behind the state commitment
// (docs/state.md).
//
// The hash of a set of elements is the lane-wise sum (mod 2^16) of each
// element's 1024-lane expansion: SHA-256("GTOS-LTHASH-V1" || element)
// expanded with ChaCha20 to 2048 bytes, read as little-endian uint16 lanes.
// Adding or removing an element costs the same whatever the set's size, and
// the order of operations does not matter, so a block's commitment costs
// O(its changes) and a snapshot is verified by summing its content.
// Construction: Bellare & Micciancio 1997; parameters of Lewi et al. 2019
// ("Securing update propagation with homomorphic hashing").
//
// Not thread-safe; copies are independent.
#ifndef GTOS_STATE_LTHASH_H_
#define GTOS_STATE_LTHASH_H_

#include <array>
#include <cstdint>

#include "util/bytes.h"

namespace gtos::state {

class LtHash {
 public:
  static constexpr size_t kLanes = 1024;
  static constexpr size_t kBytes = kLanes * 2;
  using Lanes = std::array<uint16_t, kLanes>;

  // The expansion of one element.
  static void Expand(ByteView element, Lanes* out);

  void Add(ByteView element);
  void Remove(ByteView element);
  void AddLanes(const Lanes& l);
  void RemoveLanes(const Lanes& l);
  // Adds (or removes) another accumulated hash.
  void Combine(const LtHash& other);

  // SHA-256("GTOS-STATE-V1" || 2048 little-endian lane bytes): the state root.
  Hash32 Digest() const;
  Bytes Serialize() const;
  static Result<LtHash> Parse(ByteView bytes);
  bool operator==(const LtHash&) const = default;

 private:
  Lanes lanes_{};
};

}  // namespace gtos::state

#endif  // GTOS_STATE_LTHASH_H_
