// Delegated proof of stake (docs/state.md sections 9.4-9.6), tested through
// chain::Chain: delegation, undelegation, redelegation, the self-bond rules,
// the caps, F1 rewards and commission with their rounding, validator_edit,
// slashing through shares (and through redelegation entries), downtime
// jailing, unjail and tombstones, and the supply equation after every block
// of a seeded random run with every tx kind.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "chain/chain.h"
#include "chain/snapshot.h"
#include "crypto/hash.h"
#include "crypto/sig.h"
#include "state/executor.h"
#include "state/lthash.h"
#include "state/schema.h"
#include "state/staking.h"
#include "types/json.h"
#include "types/records.h"

using namespace gtos;
namespace fs = std::filesystem;
namespace schema = gtos::state::schema;
namespace staking = gtos::state::staking;

namespace {

constexpr std::string_view kChainId = "gtos-staking-test";
constexpr uint64_t kGenesisTime = 1'700'000'000'000;
constexpr uint64_t kMin = 1'000'000;  // min_validator_stake
constexpr uint64_t kRich = 1'000'000'000'000;
constexpr uint64_t kUnbonding = 4;
constexpr uint64_t kEpoch = 4;

template <class T>
void RequireOk(const Result<T>& r, std::string_view what) {
  if (!r) FAIL(what, ": ", r.error().message);
}

struct Key {
  const crypto::SigAlgo* algo = nullptr;
  Bytes secret;
  Bytes pub;
  Address addr;
};

Key MakeKey(std::string_view seed) {
  Key k;
  k.algo = crypto::FindAlgo("ed25519");
  Hash32 s = crypto::Sha256(AsBytes(seed));
  k.secret.assign(s.v.begin(), s.v.end());
  auto pub = k.algo->derive_public(k.secret);
  RequireOk(pub, "derive");
  k.pub = *pub;
  k.addr = crypto::DeriveAddress(k.algo->id, k.pub);
  return k;
}

// Keys by name; every key is funded by the genesis.
const Key& K(const std::string& name) {
  static std::map<std::string, Key> keys;
  auto it = keys.find(name);
  if (it == keys.end()) it = keys.emplace(name, MakeKey("gtos-staking-test/" + name)).first;
  return it->second;
}
const std::vector<std::string>& Names() {
  static const std::vector<std::string> names = {"v0", "v1", "v2", "a", "b", "c", "d", "e", "f"};
  return names;
}

Genesis MakeGenesis(const std::vector<std::pair<std::string, uint64_t>>& validators,
                    const std::function<void(ChainParams&)>& tweak = {}) {
  Genesis g;
  g.chain_id = std::string(kChainId);
  g.genesis_time_ms = kGenesisTime;
  g.params.epoch_length = kEpoch;
  g.params.unbonding_blocks = kUnbonding;
  g.params.min_validator_stake = kMin;
  g.params.max_validators = 10;
  g.params.max_ttl = 50;
  g.params.block_reward = 1'000;
  g.params.max_commission_permille = 200;
  g.params.max_commission_change_permille = 10;
  g.params.max_delegations = 3;
  g.params.max_unbonding_entries = 2;
  if (tweak) tweak(g.params);
  for (const std::string& n : Names()) g.accounts.push_back(GenesisAccount{K(n).addr, kRich});
  std::sort(g.accounts.begin(), g.accounts.end(),
            [](const GenesisAccount& x, const GenesisAccount& y) { return x.address < y.address; });
  for (const auto& [name, stake] : validators) {
    const Key& k = K(name);
    GenesisValidator v;
    v.chain_id = g.chain_id;
    v.algo = static_cast<uint64_t>(k.algo->id);
    v.public_key = k.pub;
    v.stake = stake;
    auto sig = k.algo->sign(k.secret, v.SigningDigest());
    RequireOk(sig, "sign gentx");
    v.signature = *sig;
    g.validators.push_back(v);
  }
  std::sort(g.validators.begin(), g.validators.end(),
            [](const GenesisValidator& x, const GenesisValidator& y) { return x.address() < y.address(); });
  RequireOk(g.ValidateFull(), "genesis");
  return g;
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "gtos-staking-test-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

TxPayload Delegate(const std::string& v, uint64_t amount) { return TxPayload{DelegateTx{K(v).addr, amount}}; }
TxPayload Undelegate(const std::string& v, uint64_t amount) { return TxPayload{UndelegateTx{K(v).addr, amount}}; }
TxPayload Redelegate(const std::string& src, const std::string& dst, uint64_t amount) {
  return TxPayload{RedelegateTx{K(src).addr, K(dst).addr, amount}};
}
TxPayload Withdraw(const std::string& v = "") {
  return TxPayload{WithdrawRewardsTx{v.empty() ? Address{} : K(v).addr}};
}
TxPayload Unbond(uint64_t amount) { return TxPayload{ValidatorUnbondTx{amount}}; }
TxPayload Register(const std::string& who, uint64_t stake, uint64_t commission = 0) {
  const Key& k = K(who);
  ValidatorRegisterTx r;
  r.stake = stake;
  r.consensus_algo = static_cast<uint64_t>(k.algo->id);
  r.consensus_key = k.pub;
  r.commission_permille = commission;
  r.moniker = who;
  return TxPayload{r};
}
TxPayload Edit(uint64_t commission, std::string moniker = "m") {
  return TxPayload{ValidatorEditTx{commission, std::move(moniker), "127.0.0.1:1"}};
}
TxPayload Unjail() { return TxPayload{UnjailTx{}}; }

// Two conflicting votes of `name` at `height`.
Evidence DoubleSign(const std::string& name, uint64_t height, VoteType type = VoteType::kPrecommit) {
  Evidence e;
  const Key& k = K(name);
  for (Statement* v : {&e.a, &e.b}) {
    v->type = static_cast<uint64_t>(type);
    v->height = height;
    v->validator = k.addr;
  }
  e.a.block_hash = crypto::Sha256(AsBytes(std::string_view("x")));
  e.b.block_hash = crypto::Sha256(AsBytes(std::string_view("y")));
  for (Statement* v : {&e.a, &e.b}) {
    auto sig = k.algo->sign(k.secret, v->SigningDigest(kChainId));
    RequireOk(sig, "sign vote");
    v->signature = *sig;
  }
  return e;
}

// A chain whose blocks are proposed by the first genesis validator and
// certified by every member of the signing set except those in `absent`.
class Net {
 public:
  explicit Net(const Genesis& g) : genesis_(g), path_(dir_.path + "/chain") {
    RequireOk(chain::Chain::Init(path_, g), "init");
    chain::ChainOptions o;
    o.datadir = path_;
    o.sync = false;
    auto c = chain::Chain::Open(o);
    RequireOk(c, "open");
    c_ = std::move(*c);
  }
  chain::Chain* operator->() { return c_.get(); }
  const Genesis& genesis() const { return genesis_; }

  SignedTx Tx(const std::string& from, const TxPayload& p) { return TxUnder(from, p, c_->params()); }
  // A tx paying the minimum fee under `params`.
  SignedTx TxUnder(const std::string& from, const TxPayload& p, const ChainParams& params) {
    const Key& k = K(from);
    TxBody b;
    b.chain_id = genesis_.chain_id;
    b.from = k.addr;
    if (!nonces_.contains(from)) nonces_[from] = Acc(from).nonce;
    b.nonce = nonces_[from]++;
    b.payload = p;
    auto fee = MinFee(b, params);
    RequireOk(fee, "fee");
    b.fee = *fee;
    auto stx = SignTx(b, *k.algo, k.secret, k.pub);
    RequireOk(stx, "sign");
    return *stx;
  }

  // Proposes and commits; returns the receipts' statuses. Every tx must be
  // includable.
  std::vector<TxStatus> Next(std::vector<SignedTx> txs = {}, std::vector<Evidence> evidence = {}) {
    size_t n = txs.size();
    // The proposer: the lowest address of the set (v0 may leave it).
    Address proposer = SetMembers(c_->height() + 1).at(0);
    auto a = c_->Propose(std::move(txs), proposer, c_->head().time_ms + 1000, true, std::move(evidence));
    RequireOk(a, "propose");
    for (const auto& [id, err] : a->exec.left_out) FAIL_CHECK("left out: ", err.message);
    REQUIRE(a->exec.receipts.size() == n);
    std::vector<TxStatus> out;
    for (const Receipt& r : a->exec.receipts) out.push_back(static_cast<TxStatus>(r.status));
    BlockHeader h = a->block.header;
    RequireOk(c_->Commit(std::move(*a), Commit(h)), "commit");
    nonces_.clear();
    return out;
  }
  TxStatus One(const std::string& from, const TxPayload& p) {
    auto st = Next({Tx(from, p)});
    return st.at(0);
  }
  void RunTo(uint64_t h) {
    while (c_->height() < h) Next();
  }

  gtos::Commit Commit(const BlockHeader& h) {
    gtos::Commit c;
    c.height = h.height;
    c.block_hash = h.Hash();
    auto set = c_->ValidatorSetFor(h.height);
    RequireOk(set, "set");
    // The absent may stay away only while more than 2/3 of the power signs.
    uint64_t total = 0, present = 0;
    for (const consensus::Validator& v : set->validators()) {
      total += v.power;
      if (!absent.contains(v.address)) present += v.power;
    }
    bool drop = present * 3 > total * 2;
    for (const consensus::Validator& v : set->validators()) {
      if (drop && absent.contains(v.address)) continue;
      const Key* key = nullptr;
      for (const std::string& n : Names())
        if (K(n).pub == v.consensus_key) key = &K(n);
      REQUIRE(key != nullptr);
      Vote vote;
      vote.type = static_cast<uint64_t>(VoteType::kPrecommit);
      vote.height = h.height;
      vote.block_hash = c.block_hash;
      vote.validator = v.address;
      auto sig = key->algo->sign(key->secret, vote.SigningDigest(h.chain_id));
      RequireOk(sig, "sign precommit");
      c.signatures.push_back(CommitSig{v.address, *sig});
    }
    return c;
  }

  Account Acc(const std::string& n) {
    auto r = c_->GetAccount(K(n).addr);
    RequireOk(r, "account");
    return r->value_or(Account{});
  }
  uint64_t Balance(const std::string& n) { return Acc(n).balance; }
  std::optional<ValidatorInfo> Val(const std::string& n) {
    auto r = c_->GetValidator(K(n).addr);
    RequireOk(r, "validator");
    return *r;
  }
  std::optional<Delegation> Del(const std::string& d, const std::string& v) {
    auto raw = c_->store().Get(schema::DelegationKey(K(d).addr, K(v).addr));
    RequireOk(raw, "delegation");
    if (!*raw) return std::nullopt;
    auto x = state::DecodeValue<Delegation>(**raw, "delegation");
    RequireOk(x, "decode delegation");
    return *x;
  }
  // Tokens of d's delegation with v.
  uint64_t Staked(const std::string& d, const std::string& v) {
    auto del = Del(d, v);
    auto val = Val(v);
    if (!del || !val) return 0;
    return staking::TokensOf(del->shares, *val);
  }
  staking::Supply Supply() {
    auto s = staking::ComputeSupply(c_->store(), genesis_);
    RequireOk(s, "supply");
    return *s;
  }
  std::vector<Address> SetMembers(uint64_t height) {
    auto set = c_->ValidatorSetFor(height);
    RequireOk(set, "set");
    std::vector<Address> out;
    for (const consensus::Validator& v : set->validators()) out.push_back(v.address);
    return out;
  }
  uint64_t PowerOf(uint64_t height, const std::string& n) {
    auto set = c_->ValidatorSetFor(height);
    RequireOk(set, "set");
    for (const consensus::Validator& v : set->validators())
      if (v.address == K(n).addr) return v.power;
    return 0;
  }

  // The missed commits in v's liveness window (0 without an L entry).
  uint64_t Missed(const std::string& v) {
    auto raw = c_->store().Get(schema::LivenessKey(K(v).addr));
    RequireOk(raw, "liveness");
    if (!*raw) return 0;
    auto l = state::DecodeValue<Liveness>(**raw, "liveness");
    RequireOk(l, "decode liveness");
    return l->missed;
  }
  bool HasLiveness(const std::string& v) {
    auto raw = c_->store().Get(schema::LivenessKey(K(v).addr));
    RequireOk(raw, "liveness");
    return raw->has_value();
  }
  // The amount of a Y entry (0 when absent).
  uint64_t Redelegated(uint64_t release, const std::string& d, const std::string& src, const std::string& dst) {
    auto raw = c_->store().Get(schema::RedelegationKey(release, K(d).addr, K(src).addr, K(dst).addr));
    RequireOk(raw, "redelegation");
    if (!*raw) return 0;
    return *state::DecodeUint(**raw);
  }

  std::set<Address> absent;

 private:
  Genesis genesis_;
  TempDir dir_;
  std::string path_;
  std::unique_ptr<chain::Chain> c_;
  std::map<std::string, uint64_t> nonces_;
};

void CheckSupply(Net& n) {
  staking::Supply s = n.Supply();
  INFO("height ", n->height());
  CHECK(static_cast<uint64_t>(s.Held()) == static_cast<uint64_t>(s.Expected()));
  CHECK(s.Held() == s.Expected());
}

}  // namespace

// ======================================================================================
// Arithmetic
// ======================================================================================

TEST_CASE("staking: ratios are 16 big-endian bytes; PendingReward is exact and wraps modulo 2^128") {
  using staking::Uint128;
  Uint128 r = (Uint128(0x0102030405060708ULL) << 64) | 0x090a0b0c0d0e0f10ULL;
  CHECK(ToHex(staking::RatioBytes(r)) == "0102030405060708090a0b0c0d0e0f10");
  CHECK(staking::ReadRatio(staking::RatioBytes(r)) == r);
  CHECK(staking::ReadRatio(Bytes{}) == 0);
  Uint128 one = staking::kRatioScale;  // one token per share
  CHECK(staking::PendingReward(7, 5 * one, 2 * one) == 21);
  CHECK(staking::PendingReward(3, one / 2, 0) == 1);  // 1.5 -> 1
  CHECK(staking::PendingReward(UINT64_MAX, one, 0) == UINT64_MAX);
  // Across the wrap of the cumulative ratio.
  Uint128 near_top = ~Uint128(0) - one + 1;
  CHECK(staking::PendingReward(4, near_top + 3 * one, near_top) == 12);
  ValidatorInfo v;
  v.stake = 95;
  v.shares = 100;
  CHECK(staking::TokensOf(10, v) == 9);  // 9.5 -> 9
  CHECK(staking::TokensOf(100, v) == 95);
  v.shares = 0;
  CHECK(staking::TokensOf(10, v) == 0);
}

// ======================================================================================
// Delegation
// ======================================================================================

TEST_CASE("delegation: delegate bonds at once and moves the power at the next boundary only") {
  Net n(MakeGenesis({{"v0", 2 * kMin}, {"v1", kMin}}));
  uint64_t a0 = n.Balance("a");
  SignedTx t = n.Tx("a", Delegate("v1", 3 * kMin));
  CHECK(n.Next({t}) == std::vector<TxStatus>{TxStatus::kOk});  // block 1
  CHECK(n.Balance("a") == a0 - 3 * kMin - t.tx.fee);
  CHECK(n.Val("v1")->stake == 4 * kMin);
  CHECK(n.Val("v1")->shares == 4 * kMin);
  CHECK(n.Staked("a", "v1") == 3 * kMin);
  CHECK(n.PowerOf(2, "v1") == kMin);  // the epoch 1-4 set
  n.RunTo(4);
  CHECK(n.PowerOf(5, "v1") == 4 * kMin);
  CHECK(n.PowerOf(5, "v0") == 2 * kMin);
  CheckSupply(n);
}

TEST_CASE("delegation: failures not_validator, insufficient_balance, validator_jailed change nothing but fee") {
  Net n(MakeGenesis({{"v0", kMin}}));
  CHECK(n.One("a", Delegate("b", 1)) == TxStatus::kNotValidator);
  CHECK(n.One("a", Delegate("v0", kRich)) == TxStatus::kInsufficientBalance);
  CHECK(n.One("a", Undelegate("v0", 1)) == TxStatus::kNoDelegation);
  CHECK(n.One("a", Undelegate("b", 1)) == TxStatus::kNotValidator);
  CHECK(n.One("a", Redelegate("v0", "b", 1)) == TxStatus::kNoDelegation);
  CHECK(n.One("a", Withdraw("v0")) == TxStatus::kNoDelegation);
  CHECK(n.One("a", Withdraw("b")) == TxStatus::kNotValidator);
  CHECK(n.One("a", Withdraw()) == TxStatus::kOk);  // all of nothing
  CHECK(n.Val("v0")->stake == kMin);
  CheckSupply(n);
}

TEST_CASE("delegation: undelegate returns the amount exactly unbonding_blocks later; partial and full") {
  Net n(MakeGenesis({{"v0", kMin}}));
  n.One("a", Delegate("v0", 10 * kMin));  // block 1
  uint64_t b0 = n.Balance("a");
  SignedTx t = n.Tx("a", Undelegate("v0", 4 * kMin));
  CHECK(n.Next({t}) == std::vector<TxStatus>{TxStatus::kOk});  // block 2
  uint64_t h = n->height();
  CHECK(n.Staked("a", "v0") == 6 * kMin);
  CHECK(n.Del("a", "v0")->unbonding_entries == 1);
  uint64_t after = n.Balance("a");  // fee paid, rewards of block 1 withdrawn
  CHECK(after <= b0);
  n.RunTo(h + kUnbonding - 1);
  CHECK(n.Balance("a") == after);
  n.RunTo(h + kUnbonding);
  CHECK(n.Balance("a") == after + 4 * kMin);
  CHECK(n.Del("a", "v0")->unbonding_entries == 0);
  // All of it: the delegation entry goes when its last entry is released.
  CHECK(n.One("a", Undelegate("v0", 6 * kMin)) == TxStatus::kOk);
  CHECK(n.Del("a", "v0")->shares == 0);
  n.RunTo(n->height() + kUnbonding);
  CHECK(!n.Del("a", "v0").has_value());
  CHECK(n.One("a", Undelegate("v0", 1)) == TxStatus::kNoDelegation);
  CheckSupply(n);
}

TEST_CASE("delegation: max_unbonding_entries per pair, merged when they release at one height") {
  Net n(MakeGenesis({{"v0", kMin}}));  // max_unbonding_entries = 2
  n.One("a", Delegate("v0", 10 * kMin));
  // Two undelegations in one block share one entry.
  auto st = n.Next({n.Tx("a", Undelegate("v0", 1)), n.Tx("a", Undelegate("v0", 2))});
  CHECK(st == std::vector<TxStatus>{TxStatus::kOk, TxStatus::kOk});
  CHECK(n.Del("a", "v0")->unbonding_entries == 1);
  CHECK(n.One("a", Undelegate("v0", 3)) == TxStatus::kOk);
  CHECK(n.Del("a", "v0")->unbonding_entries == 2);
  CHECK(n.One("a", Undelegate("v0", 4)) == TxStatus::kTooManyEntries);
  CHECK(n.Staked("a", "v0") == 10 * kMin - 6);
  // Once one releases there is room again.
  n.RunTo(2 + kUnbonding);
  CHECK(n.Del("a", "v0")->unbonding_entries == 1);
  CHECK(n.One("a", Undelegate("v0", 4)) == TxStatus::kOk);
  CheckSupply(n);
}

TEST_CASE("delegation: max_delegations per delegator counts entries that only wait for unbonding") {
  Net n(MakeGenesis({{"v0", kMin}, {"v1", kMin}, {"v2", kMin}}));  // max_delegations = 3
  n.Next({n.Tx("a", Delegate("v0", 1)), n.Tx("a", Delegate("v1", 1)), n.Tx("a", Delegate("v2", 1))});
  CHECK(n.One("b", Register("b", kMin)) == TxStatus::kOk);
  CHECK(n.One("a", Delegate("b", 1)) == TxStatus::kTooManyEntries);
  CHECK(n.One("a", Redelegate("v0", "b", 1)) == TxStatus::kTooManyEntries);
  CHECK(n.One("a", Undelegate("v0", 1)) == TxStatus::kOk);  // v0's entry stays until released
  CHECK(n.One("a", Delegate("b", 1)) == TxStatus::kTooManyEntries);
  n.RunTo(n->height() + kUnbonding);
  CHECK(!n.Del("a", "v0").has_value());
  CHECK(n.One("a", Delegate("b", 1)) == TxStatus::kOk);
  CHECK(n.One("a", Delegate("v1", 5)) == TxStatus::kOk);  // an existing pair is not a new entry
  CheckSupply(n);
}

TEST_CASE("delegation: redelegate moves stake at once, both validators' power at the next boundary") {
  Net n(MakeGenesis({{"v0", kMin}, {"v1", kMin}}));
  n.One("a", Delegate("v0", 5 * kMin));
  uint64_t b0 = n.Balance("a");
  CHECK(n.One("a", Redelegate("v0", "v1", 2 * kMin)) == TxStatus::kOk);
  CHECK(n.Staked("a", "v0") == 3 * kMin);
  CHECK(n.Staked("a", "v1") == 2 * kMin);
  CHECK(n.Val("v0")->stake == 4 * kMin);
  CHECK(n.Val("v1")->stake == 3 * kMin);
  CHECK(n.Balance("a") <= b0 + 1'000);  // no principal returned: only rewards withdrawn
  CHECK(n.One("a", Redelegate("v0", "v1", 3 * kMin + 1)) == TxStatus::kInsufficientStake);
  CHECK(n.One("a", Redelegate("v0", "c", 1)) == TxStatus::kNotValidator);
  n.RunTo(4);
  CHECK(n.PowerOf(5, "v0") == 4 * kMin);
  CHECK(n.PowerOf(5, "v1") == 3 * kMin);
  CheckSupply(n);
}

TEST_CASE("delegation: a redelegation to the same validator is not includable") {
  Net n(MakeGenesis({{"v0", kMin}}));
  SignedTx t = n.Tx("a", Redelegate("v0", "v0", 1));
  auto a = n->Propose({t}, K("v0").addr, n->head().time_ms + 1000, true, {});
  RequireOk(a, "propose");
  REQUIRE(a->exec.left_out.size() == 1);
  CHECK(a->exec.left_out[0].second.message.find("must differ from src_validator") != std::string::npos);
}

// ======================================================================================
// Self-bond
// ======================================================================================

TEST_CASE("self-bond: delegating to one's own validator adds to the self-bond; unbond below the minimum is refused") {
  Net n(MakeGenesis({{"v0", kMin}, {"v1", 2 * kMin}}));
  CHECK(n.One("v1", Unbond(kMin + 1)) == TxStatus::kStakeBelowMinimum);
  CHECK(n.One("v1", Undelegate("v1", kMin + 1)) == TxStatus::kStakeBelowMinimum);
  CHECK(n.One("v1", Unbond(kMin)) == TxStatus::kOk);  // exactly the minimum left
  CHECK(n.One("v1", Delegate("v1", 5)) == TxStatus::kOk);
  CHECK(n.Staked("v1", "v1") == kMin + 5);
  CHECK(n.One("v1", Unbond(6)) == TxStatus::kStakeBelowMinimum);
  CHECK(n.One("v1", Unbond(kMin + 6)) == TxStatus::kInsufficientStake);
  // All of it: the record goes (no delegators), and the operator may register again.
  CHECK(n.One("v1", Unbond(kMin + 5)) == TxStatus::kOk);
  CHECK(!n.Val("v1").has_value());
  CHECK(n.One("v1", Register("v1", kMin, 50)) == TxStatus::kOk);
  CHECK(n.Val("v1")->commission_permille == 50);
  CHECK(n.Val("v1")->moniker == "v1");
  CHECK(n.Del("v1", "v1")->unbonding_entries == 1);  // the unbond of block 7 is still pending
  CheckSupply(n);
}

TEST_CASE("self-bond: with delegators left, a validator without self-bond stays but is not eligible") {
  Net n(MakeGenesis({{"v0", kMin}, {"v1", kMin}}));
  n.One("a", Delegate("v1", 7 * kMin));
  CHECK(n.One("v1", Unbond(kMin)) == TxStatus::kOk);
  CHECK(n.Val("v1")->stake == 7 * kMin);
  n.RunTo(4);
  CHECK(n.SetMembers(5) == std::vector<Address>{K("v0").addr});
  // The operator bonds again: eligible at the next boundary.
  CHECK(n.One("v1", Delegate("v1", kMin)) == TxStatus::kOk);
  n.RunTo(8);
  CHECK(n.PowerOf(9, "v1") == 8 * kMin);
  CheckSupply(n);
}

// ======================================================================================
// Rewards
// ======================================================================================

TEST_CASE("rewards: block reward and fees go to the signers of the previous commit, pro rata by power") {
  Net n(MakeGenesis({{"v0", 3 * kMin}, {"v1", kMin}}, [](ChainParams& p) { p.block_reward = 1'000; }));
  n.Next();  // block 1: no last_commit, 1000 to the community pool
  CHECK(n.Supply().community_pool == 1'000);
  n.Next();  // block 2: both signed block 1
  CHECK(n.Val("v0")->outstanding_rewards == 750);
  CHECK(n.Val("v1")->outstanding_rewards == 250);
  n.absent.insert(K("v1").addr);
  n.Next();  // commit of 3 without v1
  n.Next();  // block 4 pays v0 alone
  CHECK(n.Val("v0")->outstanding_rewards == 750 + 750 + 1'000);
  CHECK(n.Val("v1")->outstanding_rewards == 250 + 250);
  // Fees are added to the reward.
  SignedTx t = n.Tx("a", TxPayload{TransferTx{K("b").addr, 1}});
  n.Next({t});
  CHECK(n.Val("v0")->outstanding_rewards == 2'500 + 1'000 + t.tx.fee);
  CHECK(n.Supply().issued == 5 * 1'000);
  CheckSupply(n);
}

TEST_CASE("rewards: 1-unit amounts: the rounding remainder goes to the community pool, nothing is lost") {
  Net n(MakeGenesis({{"v0", kMin}, {"v1", kMin}, {"v2", kMin}}, [](ChainParams& p) { p.block_reward = 1; }));
  n.RunTo(5);
  // Block 1 and four blocks of 1 unit split three ways (0 each, 1 left).
  CHECK(n.Supply().community_pool == 5);
  for (const char* v : {"v0", "v1", "v2"}) CHECK(n.Val(v)->outstanding_rewards == 0);
  CheckSupply(n);
}

TEST_CASE("rewards: 1-unit rewards to one validator accrue per share and are paid when they add up") {
  Net n(MakeGenesis({{"v0", kMin}}, [](ChainParams& p) { p.block_reward = 1; }));
  n.One("a", Delegate("v0", kMin));      // block 1: a has half the shares
  n.One("b", Delegate("v0", 2 * kMin));  // block 2
  // From block 2 on each block credits 1 unit plus the fees; the ratio
  // carries its remainder, so a delegator's reward is the floor of its exact
  // share of the total.
  uint64_t a0 = n.Balance("a");
  n.RunTo(10);
  SignedTx w = n.Tx("a", Withdraw("v0"));
  n.Next({w});  // block 11
  uint64_t got = n.Balance("a") + w.tx.fee - a0;
  // a held 1/4 of the shares in blocks 2..10 (b delegated before block 2's
  // reward): 1 unit each plus b's fee in block 2.
  SignedTx probe = n.Tx("b", Delegate("v0", 2 * kMin));
  uint64_t fee_b = probe.tx.fee;
  CHECK(got == (fee_b + 9) / 4);
  CheckSupply(n);
}

TEST_CASE("rewards: two delegators 1:3 receive 1:3, within one unit per block") {
  Net n(MakeGenesis({{"v0", kMin}}, [](ChainParams& p) { p.block_reward = 1'001; }));
  n.Next({n.Tx("a", Delegate("v0", kMin)), n.Tx("b", Delegate("v0", 3 * kMin))});  // block 1
  uint64_t a0 = n.Balance("a"), b0 = n.Balance("b");
  const uint64_t blocks = 37;
  n.RunTo(1 + blocks);  // blocks 2..38 pay 1001 each; a:b:v0 = 1:3:1
  SignedTx wa = n.Tx("a", Withdraw());
  SignedTx wb = n.Tx("b", Withdraw("v0"));
  n.Next({wa, wb});  // block 39: withdrawn before its own reward
  uint64_t ra = n.Balance("a") + wa.tx.fee - a0;
  uint64_t rb = n.Balance("b") + wb.tx.fee - b0;
  // Block 1's fees went to the pool; blocks 2..38 had no fees.
  uint64_t total = blocks * 1'001;
  CHECK(ra <= total / 5);
  CHECK(total / 5 - ra <= blocks);
  CHECK(rb <= total * 3 / 5);
  CHECK(total * 3 / 5 - rb <= blocks);
  CHECK(rb + blocks * 3 >= 3 * ra);
  CHECK(3 * ra + blocks * 3 >= rb);
  // With the carried remainder the error is below one unit in total.
  CHECK(ra == total / 5);
  CHECK(rb == total * 3 / 5);
  CheckSupply(n);
}

TEST_CASE("rewards: a delegator joining and leaving between reward blocks earns exactly its blocks") {
  Net n(MakeGenesis({{"v0", 2 * kMin}}, [](ChainParams& p) { p.block_reward = 3'000; }));
  n.RunTo(3);
  uint64_t c0 = n.Balance("c");
  SignedTx join = n.Tx("c", Delegate("v0", 2 * kMin));
  n.Next({join});  // block 4: c holds half from this block's reward on (3000 + its fee)
  n.Next();        // block 5: 3000
  SignedTx leave = n.Tx("c", Undelegate("v0", 2 * kMin));
  n.Next({leave});  // block 6: c leaves before this block's reward
  n.Next();
  uint64_t reward = (3'000 + join.tx.fee) / 2 + 3'000 / 2;
  CHECK(n.Balance("c") == c0 - join.tx.fee - 2 * kMin - leave.tx.fee + reward);
  n.RunTo(6 + kUnbonding);
  CHECK(n.Balance("c") == c0 - join.tx.fee - leave.tx.fee + reward);
  CHECK(n.Del("c", "v0") == std::nullopt);
  CheckSupply(n);
}

TEST_CASE("rewards: commission goes to the operator; withdraw_rewards pays it with its own delegation's reward") {
  Net n(MakeGenesis({{"v0", kMin}}, [](ChainParams& p) { p.block_reward = 10'000; }));
  CHECK(n.One("a", Register("a", kMin, 200)) == TxStatus::kOk);  // block 1
  CHECK(n.One("v0", Delegate("a", 3 * kMin)) == TxStatus::kOk);  // block 2
  n.RunTo(4);  // a joins the set at 5
  n.RunTo(6);  // blocks 5, 6 signed by a; block 6 pays for the commit of 5
  ValidatorInfo a = *n.Val("a");
  // Block 6: a and v0 signed block 5, power 4:1; 8000 to a: 1600 commission.
  CHECK(a.commission_rewards == 1'600);
  CHECK(a.outstanding_rewards == 6'400);
  uint64_t bal = n.Balance("a");
  SignedTx w = n.Tx("a", Withdraw("a"));
  n.Next({w});  // block 7: 1/4 of 6400 + the commission, before block 7's reward
  CHECK(n.Balance("a") == bal - w.tx.fee + 1'600 + 1'600);
  uint64_t share7 = (10'000 + w.tx.fee) * 4 / 5;  // block 7 pays for the commit of 6
  CHECK(n.Val("a")->commission_rewards == share7 * 200 / 1000);
  CHECK(n.One("a", Register("a", kMin)) == TxStatus::kValidatorExists);
  CheckSupply(n);
}

TEST_CASE("rewards: a commission above max_commission_permille is not includable") {
  Net n(MakeGenesis({{"v0", kMin}}));
  SignedTx t = n.Tx("a", Register("a", kMin, 201));
  auto a = n->Propose({t}, K("v0").addr, n->head().time_ms + 1000, true, {});
  RequireOk(a, "propose");
  REQUIRE(a->exec.left_out.size() == 1);
  CHECK(a->exec.left_out[0].second.message.find("exceeds max_commission_permille 200") != std::string::npos);
}

// ======================================================================================
// validator_edit
// ======================================================================================

TEST_CASE("validator_edit: commission moves at most max_commission_change_permille, once per epoch, never above max") {
  Net n(MakeGenesis({{"v0", kMin}}));  // epoch 4, change 10, max 200
  CHECK(n.One("v0", Edit(11)) == TxStatus::kCommissionChange);  // block 1
  CHECK(n.One("v0", Edit(10, "first")) == TxStatus::kOk);      // block 2
  CHECK(n.Val("v0")->commission_permille == 10);
  CHECK(n.Val("v0")->moniker == "first");
  CHECK(n.Val("v0")->p2p_addr == "127.0.0.1:1");
  CHECK(n.One("v0", Edit(20)) == TxStatus::kCommissionChange);  // block 3: same epoch
  CHECK(n.One("v0", Edit(10, "same rate")) == TxStatus::kOk);    // no change of rate: fine
  CHECK(n.One("v0", Edit(20)) == TxStatus::kOk);                 // block 5: next epoch
  CHECK(n.One("a", Edit(0)) == TxStatus::kNotValidator);
  n.RunTo(8);
  CHECK(n.One("v0", Edit(10)) == TxStatus::kOk);  // down, too
  CHECK(n.Val("v0")->commission_permille == 10);
  CHECK(n.Val("v0")->commission_changed_at == n->height());
}

// ======================================================================================
// Slashing through shares
// ======================================================================================

TEST_CASE("slashing: a double-sign slash reaches every delegation in proportion and is burned") {
  Net n(MakeGenesis({{"v0", kMin}, {"v1", 10 * kMin}}, [](ChainParams& p) { p.slash_double_sign_permille = 100; }));
  n.Next({n.Tx("a", Delegate("v0", 3 * kMin))});  // block 1: in the power of the set of 5-8
  n.Next({n.Tx("b", Undelegate("v0", 1))});        // no delegation
  n.RunTo(4);
  n.Next({n.Tx("a", Undelegate("v0", kMin))});  // block 5: unbonding since the infraction's epoch
  n.Next();                                     // block 6
  Evidence e;
  const Key& k = K("v0");
  for (Statement* v : {&e.a, &e.b}) {
    v->type = static_cast<uint64_t>(VoteType::kPrecommit);
    v->height = 6;
    v->validator = k.addr;
  }
  e.a.block_hash = crypto::Sha256(AsBytes(std::string_view("x")));
  e.b.block_hash = crypto::Sha256(AsBytes(std::string_view("y")));
  for (Statement* v : {&e.a, &e.b}) {
    auto sig = k.algo->sign(k.secret, v->SigningDigest(kChainId));
    RequireOk(sig, "sign");
    v->signature = *sig;
  }
  uint64_t burned0 = n.Supply().burned;
  n.Next({}, {e});  // block 7
  ValidatorInfo v = *n.Val("v0");
  CHECK(v.jailed == 1);
  CHECK(v.stake == 3 * kMin - 3 * kMin / 10);
  CHECK(v.shares == 3 * kMin);
  CHECK(n.Staked("a", "v0") == 2 * kMin - 2 * kMin / 10);
  CHECK(n.Staked("v0", "v0") == kMin - kMin / 10);
  // a's undelegation in progress lost the fraction too.
  uint64_t release = 5 + kUnbonding;
  auto u = n->store().Get(schema::UnbondingKey(release, K("a").addr, k.addr));
  RequireOk(u, "unbonding");
  REQUIRE(u->has_value());
  CHECK(*state::DecodeUint(**u) == kMin - kMin / 10);
  CHECK(n.Supply().burned == burned0 + 3 * kMin / 10 + kMin / 10);
  // A jailed validator takes no new delegations; its delegators may leave.
  CHECK(n.One("b", Delegate("v0", kMin)) == TxStatus::kValidatorJailed);
  CHECK(n.One("a", Redelegate("v0", "v1", n.Staked("a", "v0"))) == TxStatus::kOk);
  CHECK(n.Staked("a", "v1") == 2 * kMin - 2 * kMin / 10);
  CHECK(n.One("v0", Unbond(n.Staked("v0", "v0"))) == TxStatus::kOk);
  CHECK(!n.Val("v0").has_value());  // the last shares left: the record (and jail) go
  CheckSupply(n);
}

// ======================================================================================
// Supply
// ======================================================================================

TEST_CASE("supply: genesis + issued - burned equals balances + bonded + unbonding + undistributed after every "
          "block of a seeded 1000-block run with every tx kind") {
  Genesis g = MakeGenesis({{"v0", 5 * kMin}, {"v1", 3 * kMin}, {"v2", 2 * kMin}}, [](ChainParams& p) {
    p.block_reward = 777;
    p.max_delegations = 4;
    p.max_unbonding_entries = 3;
    p.slash_double_sign_permille = 37;
    p.max_commission_change_permille = 50;
    p.signed_blocks_window = 8;
    p.min_signed_permille = 600;
    p.downtime_jail_blocks = 6;
    p.slash_downtime_permille = 20;
  });
  Net n(g);
  std::mt19937_64 rng(20261206);  // the standard fixes mt19937_64's sequence
  auto pick = [&rng](size_t n_) { return static_cast<size_t>(rng() % n_); };
  const std::vector<std::string> people = Names();
  const std::vector<std::string> vals_all = {"v0", "v1", "v2", "a", "b"};
  std::map<std::string, size_t> kinds;
  std::map<TxStatus, size_t> statuses;
  size_t slashes = 0, downtime_jails = 0, unjails = 0;
  std::map<std::string, uint64_t> jail_until;
  std::map<std::string, bool> was_jailed;
  for (uint64_t h = 1; h <= 1000; ++h) {
    std::vector<SignedTx> txs;
    size_t count = pick(5);
    for (size_t i = 0; i < count; ++i) {
      const std::string& from = people[pick(people.size())];
      const std::string& v = vals_all[pick(vals_all.size())];
      const std::string& v2 = vals_all[pick(vals_all.size())];
      uint64_t amount = 1 + (pick(3) == 0 ? rng() % 100 : rng() % (3 * kMin));
      TxPayload p;
      switch (pick(13)) {
        case 0: p = TxPayload{TransferTx{K(people[pick(people.size())]).addr, amount}}; break;
        case 1: p = TxPayload{KvPutTx{Bytes{1}, Bytes{2}, Bytes{3}, 1 + rng() % 5}}; break;
        case 2: p = TxPayload{CodePutTx{Bytes{static_cast<uint8_t>(pick(4)), 7}, 1 + rng() % 5}}; break;
        case 3: p = TxPayload{SetSignerTx{static_cast<uint64_t>(K(from).algo->id), K(from).pub}}; break;
        case 4: p = Register(from, kMin + rng() % kMin, rng() % 201); break;
        case 5: p = Unbond(amount); break;
        case 6: p = Delegate(v, amount); break;
        case 7: p = Undelegate(v, amount); break;
        case 8:
          if (v == v2) continue;
          p = Redelegate(v, v2, amount);
          break;
        case 9: p = pick(2) ? Withdraw() : Withdraw(v); break;
        case 10: p = Edit(rng() % 201); break;
        case 11: {
          // Unjail, mostly by a validator operator.
          const std::string& op = pick(4) ? vals_all[pick(3)] : from;
          ++kinds["unjail"];
          txs.push_back(n.Tx(op, Unjail()));
          continue;
        }
        default: p = Delegate(v, amount); break;
      }
      ++kinds[std::string(TxKindName(static_cast<uint64_t>(p.kind())))];
      txs.push_back(n.Tx(from, p));
    }
    // Now and then a signer is missing from the commit, and now and then a
    // double sign of a set member is committed.
    // A sleeper stays away for 10 blocks of every 40 (jailed for downtime
    // unless it holds too much power to be left out).
    n.absent.clear();
    if (h % 40 < 10) n.absent.insert(K(vals_all[(h / 40) % 3]).addr);
    else if (pick(4) == 0) n.absent.insert(K(vals_all[pick(3)]).addr);
    std::vector<Evidence> evidence;
    if (h > 2 && pick(150) == 0) {
      std::vector<Address> members = n.SetMembers(h - 1);
      const Address target = members[pick(members.size())];
      for (const std::string& name : Names()) {
        if (K(name).addr != target) continue;
        auto info = n.Val(name);
        if (!info || info->tombstoned) break;
        Evidence e;
        for (Statement* vote : {&e.a, &e.b}) {
          vote->type = static_cast<uint64_t>(VoteType::kPrevote);
          vote->height = h - 1;
          vote->validator = target;
        }
        e.a.block_hash = crypto::Sha256(AsBytes(std::string_view("p")));
        e.b.block_hash = crypto::Sha256(AsBytes(std::string_view("q")));
        for (Statement* vote : {&e.a, &e.b}) {
          auto sig = K(name).algo->sign(K(name).secret, vote->SigningDigest(kChainId));
          RequireOk(sig, "sign vote");
          vote->signature = *sig;
        }
        evidence.push_back(e);
        ++slashes;
      }
    }
    for (TxStatus s : n.Next(std::move(txs), std::move(evidence))) ++statuses[s];
    for (const std::string& name : vals_all) {
      auto info = n.Val(name);
      uint64_t until = info ? info->jailed_until : 0;
      bool jailed = info && info->jailed;
      if (until > jail_until[name] && info->tombstoned == 0) ++downtime_jails;
      if (was_jailed[name] && info && !jailed) ++unjails;
      jail_until[name] = until;
      was_jailed[name] = jailed;
    }
    staking::Supply s = n.Supply();
    if (s.Held() != s.Expected()) {
      FAIL("supply off at height ", h, ": held ", static_cast<uint64_t>(s.Held()), " expected ",
           static_cast<uint64_t>(s.Expected()));
    }
  }
  staking::Supply s = n.Supply();
  CHECK(s.issued == 1000 * 777);
  CHECK(s.Held() == s.Expected());
  MESSAGE("burned ", s.burned, ", community pool ", s.community_pool, ", slashes ", slashes, ", downtime jails ",
          downtime_jails, ", unjails ", unjails);
  CHECK(downtime_jails > 0);
  CHECK(unjails > 0);
  for (const char* kind : {"transfer", "set_signer", "code_put", "kv_put", "validator_register", "validator_unbond",
                           "delegate", "undelegate", "redelegate", "withdraw_rewards", "validator_edit", "unjail"})
    CHECK_MESSAGE(kinds[kind] > 0, kind);
  for (TxStatus st : {TxStatus::kOk, TxStatus::kNoDelegation, TxStatus::kTooManyEntries, TxStatus::kInsufficientStake,
                      TxStatus::kStakeBelowMinimum, TxStatus::kCommissionChange, TxStatus::kNotJailed,
                      TxStatus::kJailNotExpired})
    CHECK_MESSAGE(statuses[st] > 0, TxStatusName(static_cast<uint64_t>(st)));
  CHECK(slashes > 0);
  CHECK(s.burned > 0);
  RequireOk(n->Replay({}), "replay");
}

TEST_CASE("slashing: an undelegation started before the infraction's epoch is not slashed, one after it is") {
  Net n(MakeGenesis({{"v0", kMin}, {"v1", kMin}}, [](ChainParams& p) { p.slash_double_sign_permille = 100; }));
  n.One("a", Delegate("v0", 10 * kMin));  // block 1
  n.RunTo(3);
  CHECK(n.One("a", Undelegate("v0", kMin)) == TxStatus::kOk);  // block 4: the boundary that chose the 5-8 set
  CHECK(n.One("a", Undelegate("v0", kMin)) == TxStatus::kOk);  // block 5: inside the infraction's epoch
  n.Next();                                                    // block 6
  Evidence e;
  const Key& k = K("v0");
  for (Statement* v : {&e.a, &e.b}) {
    v->type = static_cast<uint64_t>(VoteType::kPrecommit);
    v->height = 6;
    v->validator = k.addr;
  }
  e.a.block_hash = crypto::Sha256(AsBytes(std::string_view("x")));
  e.b.block_hash = crypto::Sha256(AsBytes(std::string_view("y")));
  for (Statement* v : {&e.a, &e.b}) v->signature = *k.algo->sign(k.secret, v->SigningDigest(kChainId));
  n.Next({}, {e});  // block 7
  auto amount = [&](uint64_t release) {
    auto u = n->store().Get(schema::UnbondingKey(release, K("a").addr, k.addr));
    RequireOk(u, "unbonding");
    REQUIRE(u->has_value());
    return *state::DecodeUint(**u);
  };
  CHECK(amount(4 + kUnbonding) == kMin);              // before: untouched
  CHECK(amount(5 + kUnbonding) == kMin - kMin / 10);  // after: the fraction
  CHECK(n.Staked("a", "v0") == 8 * kMin - 8 * kMin / 10);
  CheckSupply(n);
}

// ======================================================================================
// Downtime, unjail, tombstones (docs/state.md 9.8)
// ======================================================================================

namespace {
// v2 holds at most 1/6 of the power: the commit stays valid without it.
Genesis DowntimeGenesis(uint64_t epoch, uint64_t window, uint64_t min_signed, uint64_t jail_blocks,
                        uint64_t v2_stake = kMin) {
  return MakeGenesis({{"v0", 5 * kMin}, {"v1", 5 * kMin}, {"v2", v2_stake}}, [=](ChainParams& p) {
    p.epoch_length = epoch;
    p.unbonding_blocks = 20;
    p.signed_blocks_window = window;
    p.min_signed_permille = min_signed;
    p.downtime_jail_blocks = jail_blocks;
    p.slash_downtime_permille = 100;
  });
}
}  // namespace

TEST_CASE("downtime: jailed when it signed fewer than min_signed_permille of the window, not at exactly it") {
  Net n(DowntimeGenesis(100, 10, 500, 5));
  n.absent.insert(K("v2").addr);
  n.RunTo(6);  // blocks 2..6 saw commits 1..5 without v2
  CHECK(n.Missed("v2") == 5);
  CHECK(n.Missed("v0") == 0);
  CHECK(!n.HasLiveness("v0"));  // nothing missed, no record
  ValidatorInfo before = *n.Val("v2");
  CHECK(before.jailed == 0);  // 5 of 10 signed: exactly 500 per mille is enough
  uint64_t burned0 = n.Supply().burned;
  n.Next();  // block 7: the 6th miss, 4 of 10 signed
  ValidatorInfo v = *n.Val("v2");
  CHECK(v.jailed == 1);
  CHECK(v.tombstoned == 0);
  CHECK(v.jailed_until == 7 + 5);
  CHECK(v.stake == kMin - kMin / 10);
  CHECK(v.shares == kMin);
  CHECK(n.Supply().burned == burned0 + kMin / 10);
  CHECK(!n.HasLiveness("v2"));  // the window starts afresh
  n.Next();  // still missing, but already jailed: no second slash
  CHECK(n.Val("v2")->stake == kMin - kMin / 10);
  CHECK(n.Missed("v2") == 1);
  CheckSupply(n);
}

TEST_CASE("downtime: misses that slid out of the window do not count") {
  Net n(DowntimeGenesis(100, 10, 500, 5));
  n.absent.insert(K("v2").addr);
  n.RunTo(5);  // commits 1..5 without v2 (block 6 counts the 5th)
  n.absent.clear();
  n.RunTo(16);  // commits 6..15 signed: the first misses slid out
  CHECK(n.Missed("v2") == 0);
  CHECK(!n.HasLiveness("v2"));
  n.absent.insert(K("v2").addr);
  n.RunTo(22);  // commits 17..22 missed, counted by blocks 18..23
  CHECK(n.Missed("v2") == 5);  // commits 17..21
  CHECK(n.Val("v2")->jailed == 0);
  n.Next();  // block 23: commit 22 missed, 6 of the window 13..22
  CHECK(n.Val("v2")->jailed == 1);
}

TEST_CASE("downtime: a window of 1 with min_signed 1000 jails at the first miss; min_signed 0 never jails") {
  {
    Net n(DowntimeGenesis(100, 1, 1000, 1));
    n.RunTo(3);
    n.absent.insert(K("v2").addr);
    n.RunTo(4);  // commit 4 missed, seen in block 5
    CHECK(n.Val("v2")->jailed == 0);
    n.Next();
    CHECK(n.Val("v2")->jailed == 1);
    CHECK(n.Val("v2")->jailed_until == 6);
  }
  {
    Net n(DowntimeGenesis(100, 4, 0, 1));
    n.absent.insert(K("v2").addr);
    n.RunTo(12);
    CHECK(n.Val("v2")->jailed == 0);
    CHECK(n.Missed("v2") == 4);  // the whole window
  }
}

TEST_CASE("unjail: not_validator, not_jailed, jail_not_expired; then back in the set at the next boundary") {
  Net n(DowntimeGenesis(4, 4, 500, 5, 2 * kMin));
  CHECK(n.One("a", Unjail()) == TxStatus::kNotValidator);  // block 1
  CHECK(n.One("v2", Unjail()) == TxStatus::kNotJailed);    // block 2
  n.absent.insert(K("v2").addr);
  n.RunTo(5);  // commits 3..5 missed, counted by blocks 4..6
  CHECK(n.Val("v2")->jailed == 0);
  n.Next();  // block 6: 3 of 4 missed
  ValidatorInfo v = *n.Val("v2");
  REQUIRE(v.jailed == 1);
  CHECK(v.jailed_until == 11);
  CHECK(n.PowerOf(7, "v2") > 0);  // the set of 5-8 was chosen before
  n.RunTo(8);                     // boundary: v2 leaves
  CHECK(n.PowerOf(8, "v2") > 0);
  CHECK(n.PowerOf(9, "v2") == 0);
  CHECK(!n.HasLiveness("v2"));
  n.absent.clear();
  CHECK(n.One("v2", Unjail()) == TxStatus::kJailNotExpired);  // block 9
  CHECK(n.One("v2", Unjail()) == TxStatus::kJailNotExpired);  // block 10
  CHECK(n.One("v2", Unjail()) == TxStatus::kOk);              // block 11: jailed_until
  CHECK(n.Val("v2")->jailed == 0);
  CHECK(n.One("v2", Unjail()) == TxStatus::kNotJailed);  // block 12: boundary
  CHECK(n.PowerOf(11, "v2") == 0);
  CHECK(n.PowerOf(13, "v2") == 2 * kMin - 2 * kMin / 10);
  // A delegation is accepted again.
  CHECK(n.One("a", Delegate("v2", kMin)) == TxStatus::kOk);
  CheckSupply(n);
}

TEST_CASE("unjail: a self-bond below the minimum is refused with stake_below_minimum") {
  Net n(DowntimeGenesis(4, 4, 500, 1));
  n.absent.insert(K("v2").addr);
  n.RunTo(5);
  REQUIRE(n.Val("v2")->jailed == 1);  // slashed 10%: self-bond 0.9 kMin < kMin
  n.absent.clear();
  CHECK(n.One("v2", Unjail()) == TxStatus::kStakeBelowMinimum);
  CHECK(n.One("v2", Delegate("v2", kMin)) == TxStatus::kValidatorJailed);  // no delegation while jailed
}

TEST_CASE("tombstone: double signing jails for good; unjail is refused; a downtime-jailed validator is still "
          "slashable") {
  Net n(DowntimeGenesis(100, 4, 500, 1));
  n.absent.insert(K("v2").addr);
  n.RunTo(5);  // jailed in block 4 (commits 1..3 missed); in the set until block 100
  REQUIRE(n.Val("v2")->jailed == 1);
  n.absent.clear();
  uint64_t stake = n.Val("v2")->stake;
  // Evidence of v2's double sign at height 4 (after the downtime jail).
  n.Next({}, {DoubleSign("v2", 4)});  // block 6
  ValidatorInfo v = *n.Val("v2");
  CHECK(v.tombstoned == 1);
  CHECK(v.jailed == 1);
  CHECK(v.stake == stake - stake * 50 / 1000);  // slash_double_sign_permille 50 (default)
  CHECK(n.One("v2", Unjail()) == TxStatus::kValidatorTombstoned);
  // New evidence of a tombstoned validator is not valid.
  auto a = n->Propose({}, n.SetMembers(n->height() + 1).at(0), n->head().time_ms + 1000, true,
                      {DoubleSign("v2", 6, VoteType::kPrevote)});
  RequireOk(a, "propose");
  REQUIRE(a->exec.left_out_evidence.size() == 1);
  CHECK(a->exec.left_out_evidence[0].second.message.find("tombstoned") != std::string::npos);
  n.RunTo(12);
  CHECK(n.One("v2", Unjail()) == TxStatus::kValidatorTombstoned);  // still, long after
  CheckSupply(n);
}

TEST_CASE("slashing: a redelegation made since the infraction's epoch answers for the source at the "
          "destination; one made before does not; the entry ages out") {
  Net n(MakeGenesis({{"v0", kMin}, {"v1", kMin}}, [](ChainParams& p) {
    p.slash_double_sign_permille = 100;
    p.unbonding_blocks = 10;
  }));
  n.One("a", Delegate("v0", 10 * kMin));  // block 1
  n.RunTo(3);
  CHECK(n.One("a", Redelegate("v0", "v1", kMin)) == TxStatus::kOk);      // block 4: chose the 5-8 set
  CHECK(n.One("a", Redelegate("v0", "v1", 4 * kMin)) == TxStatus::kOk);  // block 5: in the epoch
  CHECK(n.Redelegated(14, "a", "v0", "v1") == kMin);
  CHECK(n.Redelegated(15, "a", "v0", "v1") == 4 * kMin);
  CHECK(n.Del("a", "v0")->unbonding_entries == 2);  // the pair's entries count them
  CHECK(n.Staked("a", "v1") == 5 * kMin);
  uint64_t burned0 = n.Supply().burned;
  n.Next();  // block 6
  CHECK(n.Val("v0")->tombstoned == 0);
  n.Next({}, {DoubleSign("v0", 6)});  // block 7
  CHECK(n.Val("v0")->tombstoned == 1);
  // Bonded with v0: 5 kMin of a, kMin of v0, less 10%.
  CHECK(n.Staked("a", "v0") == 5 * kMin - 5 * kMin / 10);
  // The redelegation of block 5 lost 10% of its 4 kMin at v1; the one of block 4 nothing.
  CHECK(n.Redelegated(15, "a", "v0", "v1") == 4 * kMin - 4 * kMin / 10);
  CHECK(n.Redelegated(14, "a", "v0", "v1") == kMin);
  CHECK(n.Staked("a", "v1") == 5 * kMin - 4 * kMin / 10);
  CHECK(n.Staked("v1", "v1") == kMin);  // v1's own stake is untouched
  CHECK(n.Supply().burned == burned0 + 6 * kMin / 10 + 4 * kMin / 10);
  CheckSupply(n);
  n.RunTo(14);
  CHECK(n.Redelegated(14, "a", "v0", "v1") == 0);  // aged out
  CHECK(n.Del("a", "v0")->unbonding_entries == 1);
  n.RunTo(15);
  CHECK(n.Del("a", "v0")->unbonding_entries == 0);
  CheckSupply(n);
}

TEST_CASE("slashing: redelegations count against max_unbonding_entries of the source pair") {
  Net n(MakeGenesis({{"v0", kMin}, {"v1", kMin}}));  // max_unbonding_entries 2
  n.One("a", Delegate("v0", 10 * kMin));
  CHECK(n.One("a", Redelegate("v0", "v1", 1)) == TxStatus::kOk);
  CHECK(n.One("a", Undelegate("v0", 1)) == TxStatus::kOk);
  CHECK(n.One("a", Redelegate("v0", "v1", 1)) == TxStatus::kTooManyEntries);
  // Two redelegations in one block share one entry.
  n.RunTo(7);
  CHECK(n.Del("a", "v0")->unbonding_entries == 0);
  auto st = n.Next({n.Tx("a", Redelegate("v0", "v1", 1)), n.Tx("a", Redelegate("v0", "v1", 2))});
  CHECK(st == std::vector<TxStatus>{TxStatus::kOk, TxStatus::kOk});
  CHECK(n.Del("a", "v0")->unbonding_entries == 1);
  CHECK(n.Redelegated(8 + kUnbonding, "a", "v0", "v1") == 3);
}

TEST_CASE("slashing: a downtime slash reaches an undelegation started in the epoch, not one before it") {
  Net n(DowntimeGenesis(4, 4, 500, 1));
  n.One("a", Delegate("v2", 3 * kMin));  // block 1
  n.RunTo(3);
  CHECK(n.One("a", Undelegate("v2", kMin)) == TxStatus::kOk);  // block 4: chose the 5-8 set
  n.absent.insert(K("v2").addr);  // v2 has 4 of 14 kMin: the commits stay valid without it
  CHECK(n.One("a", Undelegate("v2", kMin)) == TxStatus::kOk);  // block 5
  n.RunTo(7);
  CHECK(n.Val("v2")->jailed == 0);
  n.Next();  // block 8: commits 5, 6, 7 missed, 1 of 4 signed
  CHECK(n.Val("v2")->jailed == 1);
  auto amount = [&](uint64_t release) {
    auto u = n->store().Get(schema::UnbondingKey(release, K("a").addr, K("v2").addr));
    RequireOk(u, "unbonding");
    REQUIRE(u->has_value());
    return *state::DecodeUint(**u);
  };
  CHECK(amount(4 + 20) == kMin);              // before the epoch: untouched
  CHECK(amount(5 + 20) == kMin - kMin / 10);  // in it: the fraction
  CHECK(n.Staked("a", "v2") == kMin - kMin / 10);
  CHECK(n.Staked("v2", "v2") == kMin - kMin / 10);
  CheckSupply(n);
}

TEST_CASE("downtime: a validator unjailed while still in the set with a window full of misses is jailed again at "
          "its next miss") {
  Net n(DowntimeGenesis(100, 4, 500, 1, 2 * kMin));
  n.absent.insert(K("v2").addr);
  n.RunTo(4);  // commits 1..3 missed: jailed in block 4
  REQUIRE(n.Val("v2")->jailed == 1);
  n.RunTo(8);  // commits 4..7 missed: every bit of the window set, no jail while jailed
  CHECK(n.Missed("v2") == 4);
  CHECK(n.One("v2", Unjail()) == TxStatus::kOk);  // block 9 (jailed_until 5)
  CHECK(n.Val("v2")->jailed == 0);
  uint64_t stake = n.Val("v2")->stake;
  n.Next();  // block 10: commit 9 missed, no bit changes, still below the minimum
  ValidatorInfo v = *n.Val("v2");
  CHECK(v.jailed == 1);
  CHECK(v.jailed_until == 11);
  CHECK(v.stake == stake - stake / 10);
  CheckSupply(n);
}

TEST_CASE("tombstone: survives a full unbond; the address cannot register again; new evidence is refused") {
  Net n(MakeGenesis({{"v0", 5 * kMin}, {"v1", 5 * kMin}, {"v2", kMin}},
                    [](ChainParams& p) { p.slash_double_sign_permille = 100; }));
  n.Next();                           // block 1
  n.Next({}, {DoubleSign("v2", 1)});  // block 2: tombstoned
  REQUIRE(n.Val("v2")->tombstoned == 1);
  auto z = n->store().Get(schema::TombstoneKey(K("v2").addr));
  RequireOk(z, "tombstone");
  REQUIRE(z->has_value());
  CHECK(*state::DecodeUint(**z) == 2);  // the block that tombstoned it
  // While the V entry is there, the tombstone is named first.
  CHECK(n.One("v2", Register("v2", kMin)) == TxStatus::kAddressTombstoned);  // block 3
  CHECK(n.One("v2", Unbond(n.Staked("v2", "v2"))) == TxStatus::kOk);        // block 4: everything
  CHECK(!n.Val("v2").has_value());
  CHECK(n.One("v2", Register("v2", kMin)) == TxStatus::kAddressTombstoned);  // block 5
  CHECK(!n.Val("v2").has_value());
  CHECK(n.One("v2", Unjail()) == TxStatus::kNotValidator);
  // v2 signed height 3 (its set runs to the boundary 4) and its unbonding
  // of block 4 would back it, but a tombstoned address is not slashed again.
  auto a = n->Propose({}, n.SetMembers(n->height() + 1).at(0), n->head().time_ms + 1000, true,
                      {DoubleSign("v2", 3, VoteType::kPrevote)});
  RequireOk(a, "propose");
  REQUIRE(a->exec.left_out_evidence.size() == 1);
  CHECK(a->exec.left_out_evidence[0].second.message.find("tombstoned") != std::string::npos);
  // Other addresses are not affected.
  CHECK(n.One("a", Register("a", kMin)) == TxStatus::kOk);
  CheckSupply(n);
}

// ======================================================================================
// The slash is based on the power that signed (docs/state.md 9.3, 9.7)
// ======================================================================================

TEST_CASE("slashing: stake delegated after the set was chosen dilutes the cut; nobody loses more than the fraction") {
  Net n(MakeGenesis({{"v0", kMin}, {"v1", 10 * kMin}}, [](ChainParams& p) { p.slash_double_sign_permille = 100; }));
  n.Next();                                     // block 1
  n.One("a", Delegate("v0", 9 * kMin));         // block 2: after the set of 1-4 was chosen
  REQUIRE(n.PowerOf(2, "v0") == kMin);          // v0 signed height 2 with its genesis power
  uint64_t burned0 = n.Supply().burned;
  n.Next({}, {DoubleSign("v0", 2)});  // block 3
  ValidatorInfo v = *n.Val("v0");
  CHECK(v.tombstoned == 1);
  // Owed: 10% of the power 1,000,000 = 100,000; the bonded 10,000,000
  // could pay 1,000,000 but pays what is owed.
  CHECK(v.stake == 10 * kMin - kMin / 10);
  CHECK(n.Supply().burned == burned0 + kMin / 10);
  // Every delegation loses the same fraction, 1%: a 90,000, v0 10,000.
  CHECK(n.Staked("a", "v0") == 9 * kMin - 9 * kMin / 100);
  CHECK(n.Staked("v0", "v0") == kMin - kMin / 100);
  CheckSupply(n);
}

TEST_CASE("slashing: unbonding entries pay first, the bonded stake the rest, capped at the fraction of what is left") {
  // Rounding at small amounts: p = 50, power 1,001,999 owes floor(50,099.95)
  // = 50,099; two entries of 19 pay nothing (floor(0.95)); the bonded
  // 1,001,961 would owe the rest, 50,099, but pays at most
  // floor(1,001,961 * 50 / 1000) = 50,098.
  Net n(MakeGenesis({{"v0", kMin + 1999}, {"v1", 10 * kMin}}, [](ChainParams& p) { p.slash_double_sign_permille = 50; }));
  CHECK(n.One("v0", Unbond(19)) == TxStatus::kOk);  // block 1
  CHECK(n.One("v0", Unbond(19)) == TxStatus::kOk);  // block 2
  uint64_t burned0 = n.Supply().burned;
  n.Next({}, {DoubleSign("v0", 1)});  // block 3
  CHECK(n.Val("v0")->stake == kMin + 1961 - 50'098);
  CHECK(n.Supply().burned == burned0 + 50'098);
  auto amount = [&](uint64_t release) {
    auto u = n->store().Get(schema::UnbondingKey(release, K("v0").addr, K("v0").addr));
    RequireOk(u, "unbonding");
    REQUIRE(u->has_value());
    return *state::DecodeUint(**u);
  };
  CHECK(amount(1 + kUnbonding) == 19);
  CHECK(amount(2 + kUnbonding) == 19);
  CheckSupply(n);
}

TEST_CASE("slashing: entries that pay their fraction lower what the bonded stake pays; a newcomer's "
          "undelegation in the epoch pays too") {
  Net n(MakeGenesis({{"v0", 2 * kMin}, {"v1", 10 * kMin}}, [](ChainParams& p) {
    p.slash_double_sign_permille = 100;
    p.unbonding_blocks = 10;
  }));
  n.One("a", Delegate("v0", 4 * kMin));  // block 1: not in the power of the set of 1-4
  CHECK(n.One("a", Undelegate("v0", kMin)) == TxStatus::kOk);   // block 2
  CHECK(n.One("a", Redelegate("v0", "v1", kMin)) == TxStatus::kOk);  // block 3
  uint64_t burned0 = n.Supply().burned;
  n.Next({}, {DoubleSign("v0", 2)});  // block 4: power 2,000,000 owes 200,000
  // The entries (made since the epoch's first height) pay 100,000 each:
  // nothing is left for the bonded 4,000,000.
  auto u = n->store().Get(schema::UnbondingKey(2 + 10, K("a").addr, K("v0").addr));
  RequireOk(u, "unbonding");
  REQUIRE(u->has_value());
  CHECK(*state::DecodeUint(**u) == kMin - kMin / 10);
  CHECK(n.Redelegated(3 + 10, "a", "v0", "v1") == kMin - kMin / 10);
  CHECK(n.Staked("a", "v1") == kMin - kMin / 10);
  CHECK(n.Val("v0")->stake == 4 * kMin);
  CHECK(n.Staked("v0", "v0") == 2 * kMin);
  CHECK(n.Val("v0")->tombstoned == 1);
  CHECK(n.Supply().burned == burned0 + 2 * kMin / 10);
  CheckSupply(n);
}

TEST_CASE("slashing: a downtime slash is based on the power that missed the commits") {
  Net n(DowntimeGenesis(4, 4, 500, 1));
  n.RunTo(4);
  n.absent.insert(K("v2").addr);  // from the commit of 5 on
  n.One("a", Delegate("v2", 3 * kMin));  // block 5: v2 signs 5-8 with 1,000,000
  n.RunTo(7);
  REQUIRE(n.Val("v2")->jailed == 0);
  n.Next();  // block 8: commits 5, 6, 7 missed: jailed, infraction height 7
  REQUIRE(n.Val("v2")->jailed == 1);
  // 10% of 1,000,000, not of the 4,000,000 bonded now.
  CHECK(n.Val("v2")->stake == 4 * kMin - kMin / 10);
  CHECK(n.Staked("a", "v2") == 3 * kMin - 3 * kMin / 40);
  CheckSupply(n);
}

// ======================================================================================
// Genesis validators' commission (docs/genesis.md 3)
// ======================================================================================

TEST_CASE("genesis: a gentx may carry a commission; one without keeps its bytes and digest") {
  const Key& k = K("v0");
  GenesisValidator v;
  v.chain_id = std::string(kChainId);
  v.algo = static_cast<uint64_t>(k.algo->id);
  v.public_key = k.pub;
  v.stake = kMin;
  v.p2p_addr = "127.0.0.1:1";
  // Without the field: the five-element digest of before.
  codec::Writer w;
  w.Array(5);
  w.Str(v.chain_id);
  w.Uint(v.algo);
  w.Bin(v.public_key);
  w.Uint(v.stake);
  w.Str(v.p2p_addr);
  CHECK(v.SigningDigest() == crypto::Sha256Tagged("GTOS-GENTX-V1", w.bytes()));
  v.signature = *k.algo->sign(k.secret, v.SigningDigest());
  Bytes old = EncodeRecord(v);
  CHECK(old[0] == 0x98);  // [9, 1, six fields]
  auto back = DecodeRecord<GenesisValidator>(old);
  RequireOk(back, "decode");
  CHECK(!back->commission_permille.has_value());
  CHECK(EncodeRecord(*back) == old);
  auto j = ToJson(AnyRecord{v});
  CHECK(!j.contains("commission_permille"));
  // With it: a seventh field, signed.
  GenesisValidator c = v;
  c.commission_permille = 150;
  CHECK(c.SigningDigest() != v.SigningDigest());
  c.signature = *k.algo->sign(k.secret, c.SigningDigest());
  Bytes with = EncodeRecord(c);
  CHECK(with[0] == 0x99);
  auto back2 = DecodeRecord<GenesisValidator>(with);
  RequireOk(back2, "decode");
  CHECK(back2->commission_permille == std::optional<uint64_t>(150));
  RequireOk(back2->VerifySignature(), "signature");
  auto jc = ToJson(AnyRecord{c});
  CHECK(jc["commission_permille"] == 150);
  auto fromj = FromJson(jc);
  RequireOk(fromj, "json");
  CHECK(std::get<GenesisValidator>(*fromj).commission_permille == std::optional<uint64_t>(150));
  auto fromj_old = FromJson(j);
  RequireOk(fromj_old, "json");
  CHECK(!std::get<GenesisValidator>(*fromj_old).commission_permille.has_value());
  // Changing the commission breaks the signature.
  c.commission_permille = 151;
  CHECK(!c.VerifySignature());
  // Above 1000: the decoder refuses.
  c.commission_permille = 1001;
  CHECK(!DecodeRecord<GenesisValidator>(EncodeRecord(c)));
}

TEST_CASE("genesis: a genesis validator starts with its gentx's commission, at most max_commission_permille") {
  auto with_commission = [](uint64_t permille) {
    Genesis g = MakeGenesis({{"v0", kMin}, {"v1", kMin}});
    for (GenesisValidator& v : g.validators) {
      if (v.address() != K("v1").addr) continue;
      v.commission_permille = permille;
      v.signature = *K("v1").algo->sign(K("v1").secret, v.SigningDigest());
    }
    return g;
  };
  Genesis g = with_commission(200);  // max_commission_permille 200
  RequireOk(g.ValidateFull(), "genesis");
  Net n(g);
  CHECK(n.Val("v1")->commission_permille == 200);
  CHECK(n.Val("v0")->commission_permille == 0);
  // Rewards: v1 keeps 20% of its share as commission.
  n.RunTo(3);
  CHECK(n.Val("v1")->commission_rewards > 0);
  CHECK(n.Val("v0")->commission_rewards == 0);
  Genesis bad = with_commission(201);
  auto st = bad.ValidateFull();
  REQUIRE(!st);
  CHECK(st.error().message.find("max_commission_permille") != std::string::npos);
}

// ---- upgrade plans (tx kind 13, docs/state.md 9.9) --------------------------

namespace {

UpgradePlan PlanAt(uint64_t activation, std::vector<ParamChange> changes) {
  UpgradePlan p;
  p.chain_id = std::string(kChainId);
  p.name = "plan-1";
  p.activation_height = activation;
  p.changes = std::move(changes);
  return p;
}

TxPayload PlanTx(const UpgradePlan& plan, const std::vector<std::string>& signers) {
  UpgradePlanTx u;
  u.plan = plan;
  for (const std::string& n : signers) {
    auto sig = SignPlan(plan, *K(n).algo, K(n).secret, K(n).pub);
    RequireOk(sig, "sign plan");
    AddPlanSignature(&u.signatures, *sig);
  }
  return TxPayload{u};
}

const std::vector<std::pair<std::string, uint64_t>> kThree = {{"v0", kMin}, {"v1", kMin}, {"v2", kMin}};

}  // namespace

TEST_CASE("upgrade plan: accepted with > 2/3 of the power, applied before the txs of its activation height") {
  Net n(MakeGenesis(kThree));
  n.RunTo(2);
  UpgradePlan plan = PlanAt(6, {{"fee_base", 1500}, {"max_block_txs", 2}});
  CHECK(n.One("a", PlanTx(plan, {"v0", "v1", "v2"})) == TxStatus::kOk);  // height 3
  auto pending = n->GetPendingPlan();
  RequireOk(pending, "pending");
  REQUIRE(pending->has_value());
  CHECK((*pending)->accepted_height == 3);
  CHECK((*pending)->signed_power == 3 * kMin);
  CHECK((*pending)->total_power == 3 * kMin);
  n.RunTo(5);
  CHECK(n->params().fee_base == n.genesis().params.fee_base);
  CHECK(!n->store().Get(schema::ParamsKey())->has_value());  // absent: the genesis's
  // Height 6 runs under the new params: a fee paid at the old minimum is
  // not includable, and at most 2 txs fit.
  ChainParams next = n->params();
  next.fee_base = 1500;
  std::vector<SignedTx> txs = {n.Tx("b", Delegate("v0", 1)), n.TxUnder("c", Delegate("v0", 1), next),
                               n.TxUnder("d", Delegate("v0", 1), next), n.TxUnder("e", Delegate("v0", 1), next)};
  auto a = n->Propose(txs, n.SetMembers(6).at(0), n->head().time_ms + 1000, true, {});
  RequireOk(a, "propose");
  CHECK(a->exec.receipts.size() == 2);
  REQUIRE(a->exec.left_out.size() == 2);  // the old-fee one, then the third (max_block_txs 2)
  CHECK(a->exec.left_out[0].second.message.find("minimum fee") != std::string::npos);
  CHECK(a->exec.left_out[1].second.message.find("max_block_txs 2") != std::string::npos);
  BlockHeader h = a->block.header;
  RequireOk(n->Commit(std::move(*a), n.Commit(h)), "commit");
  CHECK(n->params().fee_base == 1500);
  CHECK(n->params().max_block_txs == 2);
  CHECK(n->store().Get(schema::ParamsKey())->has_value());
  CHECK(!n->GetPendingPlan()->has_value());
  // A second plan may follow once the first has activated.
  CHECK(n.One("a", PlanTx(PlanAt(20, {{"max_block_txs", 50}}), {"v0", "v1", "v2"})) == TxStatus::kOk);
  n.RunTo(20);
  CHECK(n->params().max_block_txs == 50);
  CHECK(n->params().fee_base == 1500);
  // Replay re-executes every block from genesis to the same state roots.
  RequireOk(n->Replay([](uint64_t) {}), "replay");
  // A snapshot carries the P table: restored, the chain has the same root
  // and the same params in force.
  TempDir d;
  std::string file = d.path + "/s.gsnap";
  RequireOk(snapshot::Create(*n->store().NewReadView(), file), "snapshot");
  RequireOk(snapshot::Verify(file, &n.genesis()), "verify");
  RequireOk(snapshot::Restore(file, d.path + "/restored", n.genesis()), "restore");
  chain::ChainOptions o;
  o.datadir = d.path + "/restored";
  o.sync = false;
  auto restored = chain::Chain::Open(o);
  RequireOk(restored, "open restored");
  CHECK((*restored)->head().state_root == n->head().state_root);
  CHECK(state::EncodeValue((*restored)->params()) == state::EncodeValue(n->params()));
}

TEST_CASE("upgrade plan: each refusal is a failed receipt that changes nothing but fee and nonce") {
  Net n(MakeGenesis(kThree));
  n.RunTo(2);
  SUBCASE("2 of 3 equal powers is exactly 2/3: plan_quorum") {
    CHECK(n.One("a", PlanTx(PlanAt(10, {{"fee_base", 1500}}), {"v0", "v1"})) == TxStatus::kPlanQuorum);
  }
  SUBCASE("a signer outside the active set: plan_quorum") {
    CHECK(n.One("a", PlanTx(PlanAt(10, {{"fee_base", 1500}}), {"v0", "v1", "v2", "a"})) == TxStatus::kPlanQuorum);
  }
  SUBCASE("a signature of another plan: plan_quorum") {
    TxPayload p = PlanTx(PlanAt(10, {{"fee_base", 1500}}), {"v0", "v1", "v2"});
    std::get<UpgradePlanTx>(p.body).plan.activation_height = 11;
    CHECK(n.One("a", p) == TxStatus::kPlanQuorum);
  }
  SUBCASE("activation at the next height or past the horizon: plan_activation_height") {
    uint64_t h = n->height() + 1;
    CHECK(n.One("a", PlanTx(PlanAt(h + 1, {{"fee_base", 1500}}), {"v0", "v1", "v2"})) ==
          TxStatus::kPlanActivationHeight);
    h = n->height() + 1;
    CHECK(n.One("a", PlanTx(PlanAt(h + kMaxPlanHorizon + 1, {{"fee_base", 1500}}), {"v0", "v1", "v2"})) ==
          TxStatus::kPlanActivationHeight);
  }
  SUBCASE("resulting params fail ChainParams::Validate: plan_params_invalid") {
    CHECK(n.One("a", PlanTx(PlanAt(10, {{"max_block_txs", 0}}), {"v0", "v1", "v2"})) ==
          TxStatus::kPlanParamsInvalid);
  }
  SUBCASE("another plan pending: plan_pending") {
    CHECK(n.One("a", PlanTx(PlanAt(10, {{"fee_base", 1500}}), {"v0", "v1", "v2"})) == TxStatus::kOk);
    CHECK(n.One("b", PlanTx(PlanAt(12, {{"fee_base", 1600}}), {"v0", "v1", "v2"})) == TxStatus::kPlanPending);
    n.RunTo(10);
    CHECK(n->params().fee_base == 1500);
    return;
  }
  CHECK(!n->GetPendingPlan()->has_value());
  CHECK(!n->store().Get(schema::ParamsKey())->has_value());
  CHECK(n.Acc("a").nonce >= 1);  // charged: fee and nonce
}

TEST_CASE("upgrade plan: a frozen parameter or another chain's plan is not includable") {
  Net n(MakeGenesis(kThree));
  n.RunTo(2);
  TxPayload frozen = PlanTx(PlanAt(10, {{"epoch_length", 8}}), {"v0", "v1", "v2"});
  TxPayload other = PlanTx(PlanAt(10, {{"fee_base", 1500}}), {"v0", "v1", "v2"});
  std::get<UpgradePlanTx>(other.body).plan.chain_id = "other-chain";
  auto a = n->Propose({n.Tx("a", frozen), n.Tx("b", other)}, n.SetMembers(3).at(0), n->head().time_ms + 1000,
                      true, {});
  RequireOk(a, "propose");
  CHECK(a->exec.receipts.empty());
  REQUIRE(a->exec.left_out.size() == 2);
  CHECK(a->exec.left_out[0].second.message.find("may not change 'epoch_length'") != std::string::npos);
  CHECK(a->exec.left_out[1].second.message.find("differs from the tx's chain id") != std::string::npos);
}

TEST_CASE("upgrade plan: two chains given the same blocks reach the same state roots") {
  Net x(MakeGenesis(kThree)), y(MakeGenesis(kThree));
  for (Net* n : {&x, &y}) {
    n->RunTo(2);
    CHECK(n->One("a", PlanTx(PlanAt(5, {{"block_reward", 7}, {"fee_per_byte", 3}}), {"v0", "v1", "v2"})) ==
          TxStatus::kOk);
    n->RunTo(7);
  }
  for (uint64_t h = 1; h <= 7; ++h) CHECK((*x->GetHeader(h))->state_root == (*y->GetHeader(h))->state_root);
  CHECK(x->params().block_reward == 7);
  CHECK(state::EncodeValue(x->params()) == state::EncodeValue(y->params()));
  CheckSupply(x);
}
