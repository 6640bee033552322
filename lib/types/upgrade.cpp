#include "types/upgrade.h"

#include <algorithm>
#include <array>

#include "codec/codec.h"
#include "crypto/hash.h"
#include "crypto/sig.h"

namespace gtos {

namespace {

// Changing these mid-chain would move what earlier blocks fixed: epoch
// boundaries and the set history (epoch_length, max_validators), release
// heights of pending unbondings (unbonding_blocks), the retention window
// and snapshot heights peers rely on (retain_blocks, snapshot_interval).
constexpr std::array<std::string_view, 5> kFrozen = {"epoch_length", "max_validators", "retain_blocks",
                                                      "snapshot_interval", "unbonding_blocks"};

bool NameByteOk(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

}  // namespace

bool PlanMayChange(std::string_view name) {
  return std::find(kFrozen.begin(), kFrozen.end(), name) == kFrozen.end();
}

Hash32 UpgradePlan::SigningDigest() const {
  codec::Writer w;
  w.Array(5);
  w.Str(chain_id);
  w.Str(name);
  w.Uint(activation_height);
  w.Array(static_cast<uint32_t>(changes.size()));
  for (const ParamChange& c : changes) {
    w.Array(2);
    w.Str(c.name);
    w.Uint(c.value);
  }
  w.Str(required_version);
  return crypto::Sha256Tagged("GTOS-UPGRADE-PLAN-V1", w.bytes());
}

Status UpgradePlan::Validate() const {
  if (name.empty() || name.size() > kMaxPlanNameBytes || !std::all_of(name.begin(), name.end(), NameByteOk))
    return Invalid("plan name must be 1-" + std::to_string(kMaxPlanNameBytes) + " bytes of [a-z0-9.-]");
  if (required_version.size() > kMaxPlanVersionBytes ||
      !std::all_of(required_version.begin(), required_version.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
    return Invalid("plan required_version must be at most " + std::to_string(kMaxPlanVersionBytes) +
                   " printable ASCII bytes without spaces");
  if (changes.size() > kMaxPlanChanges)
    return Invalid("plan has " + std::to_string(changes.size()) + " parameter changes; at most " +
                   std::to_string(kMaxPlanChanges));
  if (changes.empty() && required_version.empty())
    return Invalid("plan changes no parameter and requires no version: it does nothing");
  ChainParams probe;
  for (size_t i = 0; i < changes.size(); ++i) {
    const std::string& n = changes[i].name;
    if (i > 0 && !(changes[i - 1].name < n))
      return Invalid("plan changes must be sorted by name, each once ('" + n + "' after '" + changes[i - 1].name +
                     "')");
    if (!probe.Set(n, "0")) return Invalid("plan changes unknown parameter '" + n + "'");
    if (!PlanMayChange(n)) return Invalid("a plan may not change '" + n + "' (docs/upgrades.md section 5)");
  }
  return Ok();
}

Result<ChainParams> ApplyPlan(const ChainParams& params, const UpgradePlan& plan) {
  ChainParams out = params;
  for (const ParamChange& c : plan.changes) {
    auto st = out.Set(c.name, std::to_string(c.value));
    if (!st) return Fail(ErrorCode::kInvalid, "plan '" + plan.name + "': " + st.error().message);
  }
  auto st = out.Validate();
  if (!st) return Fail(ErrorCode::kInvalid, "plan '" + plan.name + "': " + st.error().message);
  return out;
}

Status CheckPlanForHeight(const UpgradePlan& plan, std::string_view chain_id, uint64_t height,
                          const ChainParams& current) {
  GTOS_TRY(plan.Validate());
  if (plan.chain_id != chain_id) return Invalid("plan for chain '" + plan.chain_id + "', not '" + std::string(chain_id) + "'");
  uint64_t latest = height > UINT64_MAX - kMaxPlanHorizon ? UINT64_MAX : height + kMaxPlanHorizon;
  if (plan.activation_height <= height + 1 || plan.activation_height > latest)
    return Invalid("plan activation height " + std::to_string(plan.activation_height) + " must be in (" +
                   std::to_string(height + 1) + ", " + std::to_string(latest) + "]");
  auto applied = ApplyPlan(current, plan);
  if (!applied) return std::unexpected(applied.error());
  return Ok();
}

Result<uint64_t> CheckPlanQuorum(const Hash32& digest, const std::vector<PlanSignature>& sigs,
                                 const std::vector<PlanVoter>& voters) {
  if (sigs.size() > voters.size())
    return Invalid("plan carries " + std::to_string(sigs.size()) + " signatures; the set has " +
                   std::to_string(voters.size()) + " members");
  __extension__ using U128 = unsigned __int128;
  U128 total = 0, signed_power = 0;
  for (const PlanVoter& v : voters) total += v.power;
  std::vector<Address> seen;
  seen.reserve(sigs.size());
  for (size_t i = 0; i < sigs.size(); ++i) {
    const PlanSignature& s = sigs[i];
    const crypto::SigAlgo* algo = crypto::FindAlgo(s.algo);
    if (!algo) return Invalid("plan signature " + std::to_string(i) + ": unknown algorithm " + std::to_string(s.algo));
    if (s.public_key.size() != algo->public_size || !algo->check_public(s.public_key))
      return Invalid("plan signature " + std::to_string(i) + ": malformed public key");
    Address a = crypto::DeriveAddress(algo->id, s.public_key);
    auto member = std::find_if(voters.begin(), voters.end(), [&a](const PlanVoter& v) { return v.address == a; });
    if (member == voters.end())
      return Invalid("plan signature " + std::to_string(i) + ": " + ToHex0x(a) + " is not in the active set");
    if (std::find(seen.begin(), seen.end(), a) != seen.end())
      return Invalid("plan signature " + std::to_string(i) + ": " + ToHex0x(a) + " signed twice");
    if (!algo->verify(s.public_key, digest, s.signature))
      return Fail(ErrorCode::kCrypto, "plan signature " + std::to_string(i) + " by " + ToHex0x(a) + " does not verify");
    seen.push_back(a);
    signed_power += member->power;
  }
  if (!(3 * signed_power > 2 * total))
    return Invalid("plan signed by power " + std::to_string(static_cast<uint64_t>(signed_power)) + " of " +
                   std::to_string(static_cast<uint64_t>(total)) + ": more than 2/3 is needed");
  return static_cast<uint64_t>(signed_power);
}

Result<PlanSignature> SignPlan(const UpgradePlan& plan, const crypto::SigAlgo& algo, ByteView secret,
                               const Bytes& public_key) {
  auto sig = crypto::SignDigest(algo, secret, public_key, plan.SigningDigest());
  if (!sig) return std::unexpected(sig.error());
  return PlanSignature{static_cast<uint64_t>(algo.id), public_key, std::move(*sig)};
}

Address PlanSigner(const PlanSignature& s) {
  const crypto::SigAlgo* algo = crypto::FindAlgo(s.algo);
  if (!algo) return Address{};
  return crypto::DeriveAddress(algo->id, s.public_key);
}

void AddPlanSignature(std::vector<PlanSignature>* sigs, PlanSignature s) {
  Address a = PlanSigner(s);
  auto it = std::lower_bound(sigs->begin(), sigs->end(), a,
                             [](const PlanSignature& x, const Address& addr) { return PlanSigner(x) < addr; });
  if (it != sigs->end() && PlanSigner(*it) == a) *it = std::move(s);
  else sigs->insert(it, std::move(s));
}

namespace {

// "1.2.3" (suffix after '-' or '+' ignored) -> {1, 2, 3}; nullopt otherwise.
std::optional<std::vector<uint64_t>> ParseVersion(std::string_view v) {
  v = v.substr(0, std::min(v.find('-'), v.find('+')));
  std::vector<uint64_t> out;
  size_t i = 0;
  while (true) {
    size_t j = i;
    uint64_t n = 0;
    while (j < v.size() && v[j] >= '0' && v[j] <= '9') {
      if (n > (UINT64_MAX - 9) / 10) return std::nullopt;
      n = n * 10 + static_cast<uint64_t>(v[j] - '0');
      ++j;
    }
    if (j == i) return std::nullopt;
    out.push_back(n);
    if (j == v.size()) return out;
    if (v[j] != '.') return std::nullopt;
    i = j + 1;
  }
}

}  // namespace

bool VersionKnown(std::string_view required, std::string_view build) {
  if (required.empty() || required == build) return true;
  auto r = ParseVersion(required), b = ParseVersion(build);
  if (!r || !b) return false;
  size_t n = std::max(r->size(), b->size());
  r->resize(n, 0);
  b->resize(n, 0);
  return *r <= *b;
}

}  // namespace gtos
