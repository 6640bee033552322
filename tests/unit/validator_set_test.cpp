#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "consensus/validator_set.h"
#include "crypto/sig.h"

using namespace gtos;
using namespace gtos::consensus;

namespace {

struct TestValidator {
  Bytes secret;
  Validator v;
};

std::vector<TestValidator> MakeValidators(const std::vector<uint64_t>& powers) {
  const crypto::SigAlgo* algo = crypto::FindAlgo(crypto::AlgoId::kEd25519);
  std::vector<TestValidator> out;
  for (size_t i = 0; i < powers.size(); ++i) {
    Bytes secret(32, static_cast<uint8_t>(i + 1));  // fixed keys: deterministic tests
    Bytes pub = *algo->derive_public(secret);
    Validator v;
    v.address = crypto::DeriveAddress(algo->id, pub);
    v.consensus_algo = static_cast<uint64_t>(algo->id);
    v.consensus_key = pub;
    v.power = powers[i];
    out.push_back({secret, v});
  }
  return out;
}

ValidatorSet SetOf(const std::vector<TestValidator>& tv) {
  std::vector<Validator> vs;
  for (const auto& t : tv) vs.push_back(t.v);
  auto s = ValidatorSet::Make(vs);
  REQUIRE(s);
  return *s;
}

CommitSig SignPrecommit(const TestValidator& t, const Commit& c, std::string_view chain) {
  Vote v;
  v.type = static_cast<uint64_t>(VoteType::kPrecommit);
  v.height = c.height;
  v.round = c.round;
  v.block_hash = c.block_hash;
  const crypto::SigAlgo* algo = crypto::FindAlgo(crypto::AlgoId::kEd25519);
  return CommitSig{t.v.address, *algo->sign(t.secret, v.SigningDigest(chain))};
}

}  // namespace

TEST_CASE("validator set: construction checks") {
  auto tv = MakeValidators({1, 2});
  CHECK(!ValidatorSet::Make({}));
  std::vector<Validator> dup{tv[0].v, tv[0].v};
  CHECK(ValidatorSet::Make(dup).error().message.find("appears twice") != std::string::npos);
  Validator zero = tv[1].v;
  zero.power = 0;
  CHECK(!ValidatorSet::Make({tv[0].v, zero}));
  ValidatorSet s = SetOf(tv);
  CHECK(s.total_power() == 3);
  CHECK(s.IndexOf(tv[0].v.address).has_value());
  CHECK(!s.IndexOf(Address{}).has_value());
  CHECK(s.IsQuorum(3));
  CHECK(!s.IsQuorum(2));  // 2/3 exactly is not more than 2/3
  CHECK(s.IsOneThird(2));
  CHECK(!s.IsOneThird(1));
}

TEST_CASE("proposer rotation is weighted by power and deterministic") {
  auto tv = MakeValidators({3, 1, 1, 5});
  ValidatorSet s = SetOf(tv);
  std::map<Address, int> count;
  ValidatorSet walk = s;
  for (int i = 0; i < 1000; ++i) {
    const Validator& p = walk.Proposer(0);
    count[p.address]++;
    walk.IncrementPriority();
  }
  // Over a multiple of the total power each validator proposes power/total of the rounds.
  for (const auto& t : tv) CHECK(count[t.v.address] == static_cast<int>(t.v.power * 100));
  // Proposer(r) equals r further steps of the rotation.
  ValidatorSet step = s;
  for (uint64_t r = 0; r < 25; ++r) {
    CHECK(s.Proposer(r).address == step.Proposer(0).address);
    step.IncrementPriority();
  }
  // The rotation is periodic in the total power, so huge rounds are answered.
  CHECK(s.Proposer(10).address == s.Proposer(10 + 10 * 1000003ull).address);
  // Equal power: everyone proposes in turn.
  ValidatorSet eq = SetOf(MakeValidators({7, 7, 7, 7}));
  std::set<Address> seen;
  for (uint64_t r = 0; r < 4; ++r) seen.insert(eq.Proposer(r).address);
  CHECK(seen.size() == 4);
}

TEST_CASE("validator set hash changes with any member or power") {
  auto tv = MakeValidators({1, 2, 3});
  Hash32 h = SetOf(tv).Hash();
  CHECK(h == SetOf(tv).Hash());
  auto tv2 = tv;
  tv2[1].v.power = 4;
  CHECK(SetOf(tv2).Hash() != h);
  auto tv3 = tv;
  tv3.pop_back();
  CHECK(SetOf(tv3).Hash() != h);
}

TEST_CASE("commit certificates: quorum, membership, signatures, order") {
  auto tv = MakeValidators({1, 1, 1, 1});
  ValidatorSet s = SetOf(tv);
  std::sort(tv.begin(), tv.end(), [](const auto& a, const auto& b) { return a.v.address < b.v.address; });
  Commit c;
  c.height = 7;
  c.round = 1;
  c.block_hash.v.fill(0xab);
  for (int i = 0; i < 3; ++i) c.signatures.push_back(SignPrecommit(tv[i], c, "gtos-test"));
  CHECK(s.VerifyCommit("gtos-test", c));
  // Another chain id: the signatures do not verify.
  auto other = s.VerifyCommit("other", c);
  REQUIRE(!other);
  CHECK(other.error().message.find("signature does not verify") != std::string::npos);
  // Two of four is not a quorum.
  Commit two = c;
  two.signatures.pop_back();
  auto st = s.VerifyCommit("gtos-test", two);
  REQUIRE(!st);
  CHECK(st.error().message.find("not more than 2/3") != std::string::npos);
  // A duplicated signature does not count twice.
  Commit dup = two;
  dup.signatures.push_back(dup.signatures.back());
  CHECK(!s.VerifyCommit("gtos-test", dup));
  // A signature for another block hash fails.
  Commit moved = c;
  moved.block_hash.v[0] ^= 1;
  CHECK(!s.VerifyCommit("gtos-test", moved));
  // A non-member fails.
  auto outsider = MakeValidators({1, 1, 1, 1, 1});
  Commit foreign = two;
  foreign.signatures.push_back(SignPrecommit(outsider[4], c, "gtos-test"));
  std::sort(foreign.signatures.begin(), foreign.signatures.end(),
            [](const CommitSig& a, const CommitSig& b) { return a.validator < b.validator; });
  auto f = s.VerifyCommit("gtos-test", foreign);
  REQUIRE(!f);
  CHECK(f.error().message.find("not a member") != std::string::npos);
}
