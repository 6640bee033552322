// The validator set of one height: who votes, with what power, and who
// proposes in each round (docs/consensus.md).
//
// Voting power is the bonded stake. The set is ordered by address. Proposer
// rotation is weighted by power and deterministic: every validator carries a
// priority; each round every priority grows by its power, the highest
// priority (ties: lowest address) proposes and loses the total power
// (the "weighted round robin" of Tendermint/CometBFT, implemented here from
// its description). All arithmetic is integer.
//
// Thread safety: immutable after construction except AdvanceTo(); copies are
// independent.
#ifndef GTOS_CONSENSUS_VALIDATOR_SET_H_
#define GTOS_CONSENSUS_VALIDATOR_SET_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "types/chain.h"

namespace gtos::consensus {

struct Validator {
  Address address;           // operator address (the account)
  uint64_t consensus_algo = 0;
  Bytes consensus_key;
  uint64_t power = 0;        // > 0
  int64_t priority = 0;      // proposer-selection state
};

class ValidatorSet {
 public:
  ValidatorSet() = default;
  // REQUIRES: unique addresses, every power > 0, total power < 2^62.
  static Result<ValidatorSet> Make(std::vector<Validator> validators);

  const std::vector<Validator>& validators() const { return validators_; }
  size_t size() const { return validators_.size(); }
  uint64_t total_power() const { return total_power_; }
  // Index of `a`, or nullopt.
  std::optional<size_t> IndexOf(const Address& a) const;
  // Power strictly greater than 2/3 of the total: the quorum threshold.
  bool IsQuorum(uint64_t power) const { return power * 3 > total_power_ * 2; }
  // Power > 1/3 of the total (enough to skip rounds, Tendermint line 55).
  bool IsOneThird(uint64_t power) const { return power * 3 > total_power_; }

  // The proposer of `round` at this set's height: the set is advanced
  // round + 1 steps of the rotation on a copy.
  const Validator& Proposer(uint64_t round) const;
  // Advances the rotation by one step (used once per committed height).
  void IncrementPriority();

  // SHA-256("GTOS-VALSET-V1" || msgpack [[address, algo, key, power]...]):
  // the validators_hash of headers signed by this set.
  Hash32 Hash() const;

  // Checks a commit certificate: every signature is a valid precommit of
  // a distinct member for (height, round, block_hash) over chain_id, and
  // their power is a quorum. Errors name the first bad signature.
  Status VerifyCommit(std::string_view chain_id, const Commit& commit) const;

 private:
  std::vector<Validator> validators_;  // sorted by address
  uint64_t total_power_ = 0;
};

}  // namespace gtos::consensus

#endif  // GTOS_CONSENSUS_VALIDATOR_SET_H_
