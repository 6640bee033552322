// Parameter-change upgrade plans: the plan, its signing digest, and the
// acceptance rules (docs/upgrades.md section 5).
//
// Tx kind 13 (`upgrade_plan`, types/tx.h) carries a plan with its
// signatures; the executor (state/executor.cpp) applies these rules and
// keeps the pending plan and the params in force in the P table
// (docs/state.md section 9.9).
//
// Every function here is deterministic and bounded by the limits below, so
// a hostile plan costs at most kMaxPlanChanges parameter checks and
// (set size) signature verifications.
#ifndef GTOS_TYPES_UPGRADE_H_
#define GTOS_TYPES_UPGRADE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/sig.h"
#include "types/keys.h"
#include "types/params.h"
#include "types/record_type.h"
#include "util/bytes.h"
#include "util/status.h"

namespace gtos {

inline constexpr size_t kMaxPlanNameBytes = 32;
inline constexpr size_t kMaxPlanChanges = 16;
inline constexpr size_t kMaxPlanVersionBytes = 64;
// The latest activation a plan may ask for, in blocks after its inclusion.
inline constexpr uint64_t kMaxPlanHorizon = 1'000'000;
// Decoder caps: a parameter name, and the signatures a plan may carry (the
// highest max_validators, kMaxCommitSigs).
inline constexpr size_t kMaxParamNameBytes = 64;
inline constexpr size_t kMaxPlanSignatures = 10'000;

struct ParamChange {
  std::string name;  // a ChainParams field name
  uint64_t value = 0;
  template <class V> void Fields(V& v) {
    v.Str("name", name, kMaxParamNameBytes);
    v.Uint("value", value);
  }
};

struct UpgradePlan {
  std::string chain_id;
  std::string name;  // 1-32 bytes of [a-z0-9.-]
  uint64_t activation_height = 0;
  std::vector<ParamChange> changes;  // sorted by name, unique, 0-16
  std::string required_version;      // "" or <= 64 printable ASCII bytes

  // On the wire the same 5-element array the digest hashes.
  template <class V> void Fields(V& v) {
    v.Str("chain_id", chain_id, 64);
    v.Str("name", name, kMaxPlanNameBytes);
    v.Uint("activation_height", activation_height);
    v.List("changes", changes, kMaxPlanChanges);
    v.Str("required_version", required_version, kMaxPlanVersionBytes);
  }

  // SHA-256 tagged "GTOS-UPGRADE-PLAN-V1" of the canonical msgpack array
  // [chain_id, name, activation_height, [[name, value], ...],
  // required_version]: what validators sign with their account keys.
  Hash32 SigningDigest() const;
  // Shape and limits: name, version, changes sorted/unique/known/allowed,
  // at least one change or a required version.
  Status Validate() const;
};

// Whether a plan may change `name`: consensus-timing and history-window
// parameters whose change mid-chain would move epoch boundaries, release
// heights or retention windows already relied on are excluded
// (epoch_length, retain_blocks, snapshot_interval, unbonding_blocks,
// max_validators).
bool PlanMayChange(std::string_view name);

// `params` with the plan's changes applied; fails (naming the parameter)
// when the result does not pass ChainParams::Validate.
Result<ChainParams> ApplyPlan(const ChainParams& params, const UpgradePlan& plan);

// Whether the plan may be accepted in block `height` of chain `chain_id`:
// Validate, the chain id, activation in (height + 1, height +
// kMaxPlanHorizon], and ApplyPlan succeeds on `current`.
Status CheckPlanForHeight(const UpgradePlan& plan, std::string_view chain_id, uint64_t height,
                          const ChainParams& current);

// One validator's signature of a plan, with its account key.
struct PlanSignature {
  uint64_t algo = 0;
  Bytes public_key;
  Bytes signature;
  template <class V> void Fields(V& v) {
    v.Enum("algo", algo, AlgoName);
    v.Bin("public_key", public_key, 65);
    v.Bin("signature", signature, 72);
  }
};

// The record the plan ceremony passes around (gtos-tx build upgrade-plan,
// sign-plan, gather-plan; docs/formats.md 15.5): the plan and the
// signatures gathered so far, sorted by signer address.
struct UpgradePlanRecord {
  static constexpr RecordType kType = RecordType::kUpgradePlan;
  static constexpr uint64_t kVersion = 1;
  UpgradePlan plan;
  std::vector<PlanSignature> signatures;
  template <class V> void Fields(V& v) {
    v.Object("plan", plan);
    v.List("signatures", signatures, kMaxPlanSignatures);
  }
  Status Validate() const { return plan.Validate(); }
};

// The P "plan" state entry: a plan accepted in block `accepted_height`
// (tx kind 13), waiting for plan.activation_height, with the power that
// signed it and the set's total power then.
struct PendingPlan {
  UpgradePlan plan;
  uint64_t accepted_height = 0;
  uint64_t signed_power = 0;
  uint64_t total_power = 0;
  template <class V> void Fields(V& v) {
    v.Object("plan", plan);
    v.Uint("accepted_height", accepted_height);
    v.Uint("signed_power", signed_power);
    v.Uint("total_power", total_power);
  }
};

// Signs a plan's digest with an account key (the signer's address is the
// address of `public_key`).
Result<PlanSignature> SignPlan(const UpgradePlan& plan, const crypto::SigAlgo& algo, ByteView secret,
                               const Bytes& public_key);

// The signer address of a signature; zero when the algorithm is unknown.
Address PlanSigner(const PlanSignature& s);

// Inserts or replaces (same signer) `s` in `sigs`, kept sorted by signer
// address, the order tx kind 13 carries them in.
void AddPlanSignature(std::vector<PlanSignature>* sigs, PlanSignature s);

// Whether a build of version `build` knows a plan's `required_version`:
// both are dotted decimal versions ("1.2.3", an optional suffix after '-'
// or '+' ignored) and required <= build, compared number by number; a
// version that does not parse is known only when it equals `build`.
bool VersionKnown(std::string_view required, std::string_view build);

// A member of the active set: address and voting power.
struct PlanVoter {
  Address address;
  uint64_t power = 0;
};

// Checks signatures of `digest` against the active set `voters`: at most
// voters.size() signatures, each verifies, each signer (the address of its
// public key) is a member and signs once. Returns the signed power, and
// fails unless it is more than 2/3 of the set's total power
// (3 * signed > 2 * total, exact).
Result<uint64_t> CheckPlanQuorum(const Hash32& digest, const std::vector<PlanSignature>& sigs,
                                 const std::vector<PlanVoter>& voters);

}  // namespace gtos

#endif  // GTOS_TYPES_UPGRADE_H_
