// Upgrade-plan rules (lib/types/upgrade.h, docs/upgrades.md section 5):
// shape limits, the frozen parameters, applying changes, the activation
// window, and the > 2/3 power quorum of signatures.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crypto/hash.h"
#include "crypto/sig.h"
#include "types/records.h"
#include "types/upgrade.h"

using namespace gtos;

namespace {

struct Signer {
  const crypto::SigAlgo* algo;
  Bytes secret, pub;
  Address addr;
};

Signer MakeSigner(std::string_view seed) {
  Signer s;
  s.algo = crypto::FindAlgo("ed25519");
  Hash32 h = crypto::Sha256(AsBytes(seed));
  s.secret.assign(h.v.begin(), h.v.end());
  auto pub = s.algo->derive_public(s.secret);
  REQUIRE(pub);
  s.pub = *pub;
  s.addr = crypto::DeriveAddress(s.algo->id, s.pub);
  return s;
}

PlanSignature Sign(const Signer& s, const Hash32& digest) {
  auto sig = s.algo->sign(s.secret, digest);
  REQUIRE(sig);
  return PlanSignature{static_cast<uint64_t>(s.algo->id), s.pub, *sig};
}

UpgradePlan FeePlan() {
  UpgradePlan p;
  p.chain_id = "gtos-test";
  p.name = "fees-2";
  p.activation_height = 100;
  p.changes = {{"fee_base", 2000}, {"fee_per_byte", 20}};
  return p;
}

}  // namespace

TEST_CASE("upgrade plan: shape and limits") {
  CHECK(FeePlan().Validate());
  UpgradePlan p = FeePlan();
  SUBCASE("name") {
    p.name = "";
    CHECK(!p.Validate());
    p.name = std::string(33, 'a');
    CHECK(!p.Validate());
    p.name = "Fees";
    CHECK(p.Validate().error().message.find("[a-z0-9.-]") != std::string::npos);
    p.name = std::string(32, 'a');
    CHECK(p.Validate());
  }
  SUBCASE("changes sorted and unique") {
    p.changes = {{"fee_per_byte", 20}, {"fee_base", 2000}};
    CHECK(p.Validate().error().message.find("sorted") != std::string::npos);
    p.changes = {{"fee_base", 1}, {"fee_base", 2}};
    CHECK(!p.Validate());
  }
  SUBCASE("unknown and frozen parameters") {
    p.changes = {{"no_such_param", 1}};
    CHECK(p.Validate().error().message == "plan changes unknown parameter 'no_such_param'");
    for (const char* frozen : {"epoch_length", "max_validators", "retain_blocks", "snapshot_interval",
                               "unbonding_blocks"}) {
      CAPTURE(frozen);
      p.changes = {{frozen, 5}};
      CHECK(p.Validate().error().message.find("may not change") != std::string::npos);
      CHECK(!PlanMayChange(frozen));
    }
    CHECK(PlanMayChange("target_block_interval_ms"));
    CHECK(PlanMayChange("block_reward"));
  }
  SUBCASE("at most 16 changes; a plan must do something") {
    p.changes.clear();
    CHECK(p.Validate().error().message.find("does nothing") != std::string::npos);
    p.required_version = "gtos-0.2.0";
    CHECK(p.Validate());  // a binary-only upgrade
    p.required_version = "has space";
    CHECK(!p.Validate());
    p.required_version = std::string(65, 'v');
    CHECK(!p.Validate());
    p.required_version.clear();
    for (int i = 0; i < 17; ++i) p.changes.push_back({"fee_base" + std::string(i, 'x'), 1});
    CHECK(p.Validate().error().message.find("at most 16") != std::string::npos);
  }
}

TEST_CASE("upgrade plan: digest binds every field") {
  UpgradePlan p = FeePlan();
  Hash32 d = p.SigningDigest();
  CHECK(d == FeePlan().SigningDigest());
  UpgradePlan q = p;
  q.chain_id = "other";
  CHECK(q.SigningDigest() != d);
  q = p;
  q.activation_height = 101;
  CHECK(q.SigningDigest() != d);
  q = p;
  q.changes[1].value = 21;
  CHECK(q.SigningDigest() != d);
  q = p;
  q.required_version = "v";
  CHECK(q.SigningDigest() != d);
  q = p;
  q.name = "fees-3";
  CHECK(q.SigningDigest() != d);
}

TEST_CASE("upgrade plan: apply and the activation window") {
  ChainParams cur;
  auto next = ApplyPlan(cur, FeePlan());
  REQUIRE(next);
  CHECK(next->fee_base == 2000);
  CHECK(next->fee_per_byte == 20);
  CHECK(next->fee_per_byte_block == cur.fee_per_byte_block);
  UpgradePlan bad = FeePlan();
  bad.changes = {{"target_block_interval_ms", 0}};
  CHECK(ApplyPlan(cur, bad).error().message.find("target_block_interval_ms") != std::string::npos);

  CHECK(CheckPlanForHeight(FeePlan(), "gtos-test", 50, cur));
  CHECK(!CheckPlanForHeight(FeePlan(), "gtos-other", 50, cur));
  CHECK(!CheckPlanForHeight(FeePlan(), "gtos-test", 99, cur));   // activation must be after the next block
  CHECK(!CheckPlanForHeight(FeePlan(), "gtos-test", 100, cur));
  CHECK(CheckPlanForHeight(FeePlan(), "gtos-test", 98, cur));
  UpgradePlan far = FeePlan();
  far.activation_height = 50 + kMaxPlanHorizon + 1;
  CHECK(!CheckPlanForHeight(far, "gtos-test", 50, cur));
  far.activation_height = 50 + kMaxPlanHorizon;
  CHECK(CheckPlanForHeight(far, "gtos-test", 50, cur));
  CHECK(!CheckPlanForHeight(bad, "gtos-test", 50, cur));
}

TEST_CASE("upgrade plan: more than 2/3 of the power must sign") {
  Signer a = MakeSigner("plan/a"), b = MakeSigner("plan/b"), c = MakeSigner("plan/c"), x = MakeSigner("plan/x");
  // Powers 40, 30, 30: a + b = 70 > 66.7; a + c = 70; b + c = 60 <= 66.7.
  std::vector<PlanVoter> set = {{a.addr, 40}, {b.addr, 30}, {c.addr, 30}};
  Hash32 d = FeePlan().SigningDigest();
  auto ab = CheckPlanQuorum(d, {Sign(a, d), Sign(b, d)}, set);
  REQUIRE(ab);
  CHECK(*ab == 70);
  auto bc = CheckPlanQuorum(d, {Sign(b, d), Sign(c, d)}, set);
  REQUIRE(!bc);
  CHECK(bc.error().message == "plan signed by power 60 of 100: more than 2/3 is needed");
  CHECK(CheckPlanQuorum(d, {Sign(a, d), Sign(b, d), Sign(c, d)}, set));
  // Exactly 2/3 is not enough (two equal validators of three).
  std::vector<PlanVoter> even = {{a.addr, 10}, {b.addr, 10}, {c.addr, 10}};
  CHECK(!CheckPlanQuorum(d, {Sign(a, d), Sign(b, d)}, even));
  // Two validators: both must sign.
  std::vector<PlanVoter> two = {{a.addr, 50}, {b.addr, 50}};
  CHECK(!CheckPlanQuorum(d, {Sign(a, d)}, two));
  CHECK(CheckPlanQuorum(d, {Sign(a, d), Sign(b, d)}, two));
  // A signature counts once, only from a member, only over this plan.
  CHECK(CheckPlanQuorum(d, {Sign(a, d), Sign(a, d)}, set).error().message.find("signed twice") != std::string::npos);
  CHECK(CheckPlanQuorum(d, {Sign(a, d), Sign(x, d)}, set).error().message.find("not in the active set") !=
        std::string::npos);
  UpgradePlan other = FeePlan();
  other.activation_height = 101;
  auto wrong = CheckPlanQuorum(d, {Sign(a, d), Sign(b, other.SigningDigest())}, set);
  REQUIRE(!wrong);
  CHECK(wrong.error().code == ErrorCode::kCrypto);
  // More signatures than members is refused before any is verified.
  CHECK(CheckPlanQuorum(d, {Sign(a, d), Sign(b, d), Sign(c, d), Sign(x, d)}, set).error().message.find(
            "signatures; the set has 3") != std::string::npos);
  PlanSignature junk{99, Bytes(32, 1), Bytes(64, 2)};
  CHECK(!CheckPlanQuorum(d, {junk}, set));
}

TEST_CASE("upgrade plan: wire form, signer order, version check") {
  UpgradePlan p = FeePlan();
  codec::Writer w;
  codec::EncodeObject(w, p);
  // The digest hashes exactly the plan's wire form (tx kind 13, record 12).
  CHECK(p.SigningDigest() == crypto::Sha256Tagged("GTOS-UPGRADE-PLAN-V1", w.bytes()));
  UpgradePlanRecord rec{p, {}};
  auto back = DecodeRecord<UpgradePlanRecord>(EncodeRecord(rec));
  REQUIRE(back);
  CHECK(back->plan.SigningDigest() == p.SigningDigest());

  std::vector<PlanSignature> sigs;
  Signer a = MakeSigner("a"), b = MakeSigner("b"), c = MakeSigner("c");
  for (const Signer* s : {&c, &a, &b, &a}) AddPlanSignature(&sigs, Sign(*s, p.SigningDigest()));
  REQUIRE(sigs.size() == 3);
  CHECK(PlanSigner(sigs[0]) < PlanSigner(sigs[1]));
  CHECK(PlanSigner(sigs[1]) < PlanSigner(sigs[2]));

  CHECK(VersionKnown("", "0.1.0"));
  CHECK(VersionKnown("0.1.0", "0.1.0"));
  CHECK(VersionKnown("0.1", "0.1.0"));
  CHECK(VersionKnown("0.0.9", "0.1.0"));
  CHECK(VersionKnown("0.1.0-rc1", "0.1.0"));
  CHECK(!VersionKnown("0.1.1", "0.1.0"));
  CHECK(!VersionKnown("1.0.0", "0.9.9"));
  CHECK(!VersionKnown("next", "0.1.0"));
  CHECK(VersionKnown("next", "next"));
}
