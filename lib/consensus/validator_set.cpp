#include "consensus/validator_set.h"

#include <algorithm>

#include "crypto/hash.h"
#include "crypto/sig.h"

namespace gtos::consensus {

Result<ValidatorSet> ValidatorSet::Make(std::vector<Validator> validators) {
  if (validators.empty()) return Invalid("validator set is empty");
  std::sort(validators.begin(), validators.end(),
            [](const Validator& a, const Validator& b) { return a.address < b.address; });
  ValidatorSet s;
  for (size_t i = 0; i < validators.size(); ++i) {
    const Validator& v = validators[i];
    if (i > 0 && validators[i - 1].address == v.address)
      return Invalid("validator " + ToHex0x(v.address) + " appears twice");
    if (v.power == 0) return Invalid("validator " + ToHex0x(v.address) + " has no voting power");
    if (!crypto::FindAlgo(v.consensus_algo))
      return Invalid("validator " + ToHex0x(v.address) + " has an unknown consensus key algorithm");
    if (__builtin_add_overflow(s.total_power_, v.power, &s.total_power_) || s.total_power_ >= (1ull << 62))
      return Invalid("total voting power is too large");
  }
  s.validators_ = std::move(validators);
  return s;
}

std::optional<size_t> ValidatorSet::IndexOf(const Address& a) const {
  auto it = std::lower_bound(validators_.begin(), validators_.end(), a,
                             [](const Validator& v, const Address& x) { return v.address < x; });
  if (it == validators_.end() || it->address != a) return std::nullopt;
  return static_cast<size_t>(it - validators_.begin());
}

// One step of weighted round robin: every priority grows by its power; the
// highest (ties: lowest address) proposes and pays the total. The sum of
// priorities stays 0, so each stays within [-total, total].
void ValidatorSet::IncrementPriority() {
  size_t best = 0;
  for (size_t i = 0; i < validators_.size(); ++i) {
    validators_[i].priority += static_cast<int64_t>(validators_[i].power);
    if (validators_[i].priority > validators_[best].priority) best = i;
  }
  validators_[best].priority -= static_cast<int64_t>(total_power_);
}

const Validator& ValidatorSet::Proposer(uint64_t round) const {
  // The rotation repeats after at most total_power steps; a huge round
  // number reduces modulo that period without changing the answer.
  uint64_t steps = round % std::max<uint64_t>(1, total_power_) + 1;
  thread_local ValidatorSet scratch;
  scratch = *this;
  size_t chosen = 0;
  for (uint64_t s = 0; s < steps; ++s) {
    size_t best = 0;
    for (size_t i = 0; i < scratch.validators_.size(); ++i) {
      scratch.validators_[i].priority += static_cast<int64_t>(scratch.validators_[i].power);
      if (scratch.validators_[i].priority > scratch.validators_[best].priority) best = i;
    }
    scratch.validators_[best].priority -= static_cast<int64_t>(total_power_);
    chosen = best;
  }
  return validators_[chosen];
}

Hash32 ValidatorSet::Hash() const {
  codec::Writer w;
  w.Array(static_cast<uint32_t>(validators_.size()));
  for (const Validator& v : validators_) {
    w.Array(4);
    w.Bin(v.address.view());
    w.Uint(v.consensus_algo);
    w.Bin(v.consensus_key);
    w.Uint(v.power);
  }
  return crypto::Sha256Tagged("GTOS-VALSET-V1", w.bytes());
}

Status ValidatorSet::VerifyCommit(std::string_view chain_id, const Commit& commit) const {
  uint64_t power = 0;
  for (size_t i = 0; i < commit.signatures.size(); ++i) {
    const CommitSig& cs = commit.signatures[i];
    std::string where = "commit signature " + std::to_string(i) + " (" + ToHex0x(cs.validator) + ")";
    if (i > 0 && !(commit.signatures[i - 1].validator < cs.validator))
      return Invalid(where + ": signatures must be sorted by validator and unique");
    auto idx = IndexOf(cs.validator);
    if (!idx) return Invalid(where + ": not a member of the validator set");
    const Validator& v = validators_[*idx];
    const crypto::SigAlgo* algo = crypto::FindAlgo(v.consensus_algo);
    Vote vote = commit.VoteOf(i);
    if (!algo->verify(v.consensus_key, vote.SigningDigest(chain_id), cs.signature))
      return Fail(ErrorCode::kCrypto, where + ": signature does not verify");
    power += v.power;
  }
  if (!IsQuorum(power))
    return Invalid("commit for block " + std::to_string(commit.height) + " carries " + std::to_string(power) +
                   " of " + std::to_string(total_power_) + " voting power, not more than 2/3");
  return Ok();
}

}  // namespace gtos::consensus
