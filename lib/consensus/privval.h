// The private validator: the only code that signs consensus messages with a
// validator's consensus key, and the guard against double-signing
// (docs/consensus.md; product spec §4: "a validator never signs two
// different votes for the same height/round/step, also across crashes and
// restarts").
//
// Steps are ordered within a round: 1 proposal, 2 prevote, 3 precommit.
// (height, round, step) is compared lexicographically with the last signed
// one, which is kept in a state file:
//   lower  -> refused; the error names both positions
//   equal  -> the same digest gets the stored signature again (idempotent
//             re-sign, e.g. after a crash and restart); another digest is
//             refused ("would double-sign")
//   higher -> signed, persisted, then returned
//
// Persist before release. The signature is computed into memory, then the
// new state {h, r, step, digest, signature} is written with WriteFileAtomic
// (temporary file, fsync, rename) and the directory is fsynced (so the
// rename itself survives a power loss), and only then is the signature
// returned. Every crash point is safe:
//   - before or during the write: the signature existed only in this
//     process's memory and died with it; on disk is the old state (rename is
//     atomic, so never a torn file), so nothing conflicting ever got out.
//   - after the rename but before the directory fsync: after a power loss
//     either the old or the new state is on disk; in both cases the new
//     signature was never returned.
//   - after the directory fsync: the state that matches every released
//     signature is durable; a restarted validator refuses anything
//     conflicting and re-returns the stored signature for the same digest.
// One write per signature (rather than "persist h/r/s, sign, persist the
// signature") is enough because an unreleased signature is harmless. If the
// write fails the signature is wiped and an error returned; the in-memory
// state is left unchanged (no signature was released, so a retry is safe).
//
// The state file also records the chain id, algorithm and public key it
// belongs to; opening it with another key or chain is an error, so a state
// file is never applied to (or silently replaced for) the wrong validator.
// A missing state file means a fresh validator. A file that cannot be read
// or decoded is an error: it is never silently reset, since that would
// forget what was signed.
//
// Thread safety: SignVote and SignProposal may be called concurrently; they
// are serialized internally. Two PrivValidator objects (or processes) must
// never share one state file.
#ifndef GTOS_CONSENSUS_PRIVVAL_H_
#define GTOS_CONSENSUS_PRIVVAL_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "crypto/sig.h"
#include "types/chain.h"

namespace gtos::consensus {

// Signing steps within a round, in their order.
enum class SignStep : uint64_t { kProposal = 1, kPrevote = 2, kPrecommit = 3 };
std::string_view SignStepName(uint64_t step);  // "proposal"; empty if unknown

// The state file's contents: the last thing signed, and whose key it is.
// Encoded as one canonical msgpack array of these fields, in this order.
struct PrivValState {
  // 2: the last signed vote itself (so a restarted validator without its
  // consensus WAL can send it again). Version 1 files are read.
  static constexpr uint64_t kVersion = 2;
  static constexpr std::string_view kFormat = "gtos-privval-state";
  std::string format{kFormat};
  uint64_t version = kVersion;
  std::string chain_id;
  uint64_t algo = 0;
  Bytes public_key;
  uint64_t height = 0;
  uint64_t round = 0;
  uint64_t step = 0;  // SignStep
  Hash32 digest;      // what was signed
  Bytes signature;    // the signature of `digest` that was released
  std::optional<Vote> vote;  // v2: the vote signed, with its signature (absent for a proposal)

  template <class V> void Fields(V& v) {
    v.Str("format", format, 32);
    v.Uint("version", version);
    v.Str("chain_id", chain_id, kMaxChainIdBytes);
    v.Enum("algo", algo, AlgoName);
    v.Bin("public_key", public_key, kMaxPublicKeyBytes);
    v.Uint("height", height);
    v.Uint("round", round);
    v.Enum("step", step, SignStepName);
    v.Fixed("digest", digest);
    v.Bin("signature", signature, kMaxSignatureBytes);
    if (version >= 2) v.Optional("vote", vote);
  }
};

Bytes EncodePrivValState(const PrivValState& s);
// Decodes and checks format, version and canonical encoding.
Result<PrivValState> DecodePrivValState(ByteView bytes);

struct PrivValidatorOptions {
  // !!! FOR TESTS ONLY. NEVER SET THIS IN A REAL NODE. !!!
  // When true, a request at the same or a lower (height, round, step) is
  // signed anyway instead of refused, so that the equivocation acceptance
  // test (issue 4) can make a validator produce two conflicting votes and
  // check that evidence is built, committed and slashed. Such a signature
  // is not persisted (the state file keeps the highest position signed);
  // requests at a higher position behave as without the switch.
  bool allow_double_sign_for_tests = false;
};

class PrivValidator {
 public:
  // Opens (or, when `state_path` does not exist, starts) the validator whose
  // consensus key is `secret` of `algo` with public key `public_key`, signing
  // for `chain_id`. Fails when the secret does not derive `public_key`, when
  // the state file exists but cannot be read or decoded, or when it belongs
  // to another key or chain. The state file is only written on signing; its
  // directory must exist then.
  static Result<std::unique_ptr<PrivValidator>> Open(std::string state_path, crypto::SecretBytes secret,
                                                     const crypto::SigAlgo& algo, Bytes public_key,
                                                     std::string chain_id, PrivValidatorOptions options = {});

  PrivValidator(const PrivValidator&) = delete;
  PrivValidator& operator=(const PrivValidator&) = delete;

  // Signs v.SigningDigest(chain_id) (step prevote or precommit by v.type).
  // Returns the signature; the caller puts it into the vote.
  Result<Bytes> SignVote(const Vote& v);
  // Signs a proposal's digest (the caller's domain-separated hash of the
  // proposal) at step proposal.
  Result<Bytes> SignProposal(uint64_t height, uint64_t round, const Hash32& digest);

  // The last signed position, if any.
  std::optional<PrivValState> last_signed() const;
  const Bytes& public_key() const { return public_key_; }
  const crypto::SigAlgo& algo() const { return *algo_; }
  const std::string& chain_id() const { return chain_id_; }
  const std::string& state_path() const { return path_; }

 private:
  PrivValidator() = default;
  Result<Bytes> Sign(uint64_t height, uint64_t round, uint64_t step, const Hash32& digest,
                     const Vote* vote = nullptr);
  Status Persist(const PrivValState& s) const;

  std::string path_;
  crypto::SecretBytes secret_;
  const crypto::SigAlgo* algo_ = nullptr;
  Bytes public_key_;
  std::string chain_id_;
  PrivValidatorOptions options_;
  mutable std::mutex mu_;
  std::optional<PrivValState> last_;  // guarded by mu_
};

}  // namespace gtos::consensus

#endif  // GTOS_CONSENSUS_PRIVVAL_H_
