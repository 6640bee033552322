// The Tendermint state machine (consensus/tendermint.h) without sockets:
// an in-process network of validators with deterministic delivery (fixed
// latency, events ordered by (time, sequence)) on a virtual clock, plus
// single-machine tests that feed an explicit message schedule to check
// locking, unlocking by a later polka, and equivocation.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <variant>
#include <vector>

#include "consensus/privval.h"
#include "consensus/tendermint.h"
#include "consensus/validator_set.h"
#include "crypto/sig.h"

using namespace gtos;
using namespace gtos::consensus;

namespace {

constexpr std::string_view kChainId = "gtos-consensus-test";

struct Key {
  Bytes secret;
  Bytes pub;
  Address addr;
};

const crypto::SigAlgo& Ed() { return *crypto::FindAlgo(crypto::AlgoId::kEd25519); }

Key MakeKey(uint8_t seed) {
  Key k;
  k.secret.assign(Ed().secret_size, seed);
  k.pub = *Ed().derive_public(k.secret);
  k.addr = crypto::DeriveAddress(crypto::AlgoId::kEd25519, k.pub);
  return k;
}

// `n` keys sorted by address, so key i is validator index i.
std::vector<Key> MakeKeys(size_t n, uint8_t first_seed = 1) {
  std::vector<Key> keys;
  for (size_t i = 0; i < n; ++i) keys.push_back(MakeKey(static_cast<uint8_t>(first_seed + i)));
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) { return a.addr < b.addr; });
  return keys;
}

ValidatorSet MakeSet(const std::vector<Key>& keys, const std::vector<uint64_t>& powers) {
  std::vector<Validator> vals;
  for (size_t i = 0; i < keys.size(); ++i)
    vals.push_back(Validator{keys[i].addr, static_cast<uint64_t>(crypto::AlgoId::kEd25519), keys[i].pub, powers[i], 0});
  auto vs = ValidatorSet::Make(vals);
  REQUIRE(vs.has_value());
  return *vs;
}

Block MakeBlock(const Address& proposer, uint64_t tag) {
  Block b;
  b.header.chain_id = std::string(kChainId);
  b.header.height = 1;
  b.header.time_ms = 1'700'000'000'000 + tag;
  b.header.proposer = proposer;
  return b;
}

// A signer with the privval's double-sign rule, in memory: one digest per
// (height, round, step).
class TestSigner : public Signer {
 public:
  explicit TestSigner(const Key& k) : key_(k) {}
  Result<Bytes> SignVote(const Vote& v) override {
    return Sign(v.height, v.round, v.type + 1, v.SigningDigest(kChainId));
  }
  Result<Bytes> SignProposal(const Proposal& p, const Hash32& d) override { return Sign(p.height, p.round, 1, d); }
  bool refuse_all = false;

 private:
  Result<Bytes> Sign(uint64_t h, uint64_t r, uint64_t step, const Hash32& d) {
    if (refuse_all) return Invalid("refused");
    auto [it, fresh] = signed_.try_emplace({h, r, step}, d);
    if (!fresh && it->second != d) return Invalid("would double-sign");
    return crypto::SignDigest(Ed(), key_.secret, key_.pub, d);
  }
  Key key_;
  std::map<std::tuple<uint64_t, uint64_t, uint64_t>, Hash32> signed_;
};

Vote SignedVote(const Key& k, VoteType type, uint64_t round, const Hash32& h) {
  Vote v;
  v.type = static_cast<uint64_t>(type);
  v.height = 1;
  v.round = round;
  v.block_hash = h;
  v.validator = k.addr;
  v.signature = *crypto::SignDigest(Ed(), k.secret, k.pub, v.SigningDigest(kChainId));
  return v;
}

Proposal SignedProposal(const Key& k, uint64_t round, const Block& b, int64_t vr) {
  Proposal p;
  p.height = 1;
  p.round = round;
  p.valid_round = vr;
  p.block = b;
  p.proposer = k.addr;
  p.signature = *crypto::SignDigest(Ed(), k.secret, k.pub, p.SigningDigest(kChainId));
  return p;
}

// ---- the simulated network ------------------------------------------------------

struct SimNode {
  Key key;
  std::unique_ptr<TestSigner> signer;
  std::optional<Tendermint> tm;
  bool online = false;
  std::optional<Decide> decided;
  std::vector<ScheduleTimeout> timeouts;
  std::vector<Evidence> evidence;
  size_t votes_sent = 0;
  size_t sign_failures = 0;
};

class Sim {
 public:
  // Validators with `powers`, then `observers` non-validators.
  // seed != 0: every message gets its own latency in [1, 400] ms from a
  // seeded generator (reordering deliveries); else a fixed 10 ms.
  Sim(std::vector<uint64_t> powers, size_t observers = 0, Timeouts t = {}, uint64_t seed = 0)
      : rng_(seed), timeouts_(t) {
    std::vector<Key> keys = MakeKeys(powers.size());
    vs_ = MakeSet(keys, powers);
    for (size_t i = 0; i < powers.size() + observers; ++i) {
      auto n = std::make_unique<SimNode>();
      n->key = i < powers.size() ? keys[i] : MakeKey(static_cast<uint8_t>(100 + i));
      n->signer = std::make_unique<TestSigner>(n->key);
      nodes_.push_back(std::move(n));
    }
  }

  const ValidatorSet& vs() const { return vs_; }
  SimNode& node(size_t i) { return *nodes_[i]; }
  size_t size() const { return nodes_.size(); }
  uint64_t now() const { return now_; }
  size_t IndexOfAddr(const Address& a) const {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i]->key.addr == a) return i;
    FAIL("no such node");
    return 0;
  }

  // Brings node i online: it starts at round 0 and then gets, by gossip,
  // everything sent to it while it was down (the paper's gossip
  // assumption: what one correct process receives, all eventually do).
  void Up(size_t i) {
    SimNode& n = *nodes_[i];
    n.online = true;
    for (auto& msg : backlog_[i]) Enqueue(now_ + Latency(), i, std::move(msg));
    backlog_.erase(i);
    if (n.tm) return;
    TendermintConfig cfg{std::string(kChainId), 1, vs_, n.key.addr, timeouts_};
    TendermintHooks hooks;
    Address me = n.key.addr;
    hooks.get_value = [me, i](uint64_t) { return MakeBlock(me, i); };
    hooks.validate = [](const Block& b) { return b.header.time_ms != 0; };
    hooks.signer = n.signer.get();
    auto tm = Tendermint::Make(std::move(cfg), std::move(hooks));
    REQUIRE(tm.has_value());
    n.tm.emplace(std::move(*tm));
    REQUIRE(n.tm->Start().has_value());
    Drain(i);
  }

  // Delivers events in (time, sequence) order up to `until`.
  void RunUntil(uint64_t until) {
    while (!queue_.empty() && queue_.begin()->first.first <= until) {
      auto it = queue_.begin();
      now_ = it->first.first;
      Event ev = std::move(it->second);
      queue_.erase(it);
      SimNode& n = *nodes_[ev.to];
      if (!n.online || !n.tm) {
        if (!std::holds_alternative<ScheduleTimeout>(ev.msg)) backlog_[ev.to].push_back(std::move(ev.msg));
        continue;
      }
      if (auto* p = std::get_if<Proposal>(&ev.msg)) {
        CHECK(n.tm->OnProposal(*p).has_value());
      } else if (auto* v = std::get_if<Vote>(&ev.msg)) {
        CHECK(n.tm->OnVote(*v).has_value());
      } else {
        const auto& t = std::get<ScheduleTimeout>(ev.msg);
        n.tm->OnTimeout(t.kind, t.height, t.round);
      }
      Drain(ev.to);
    }
    now_ = std::max(now_, until);
  }

  bool AllOnlineDecided() const {
    for (auto& n : nodes_)
      if (n->online && !n->decided) return false;
    return true;
  }
  size_t DecidedCount() const {
    size_t c = 0;
    for (auto& n : nodes_) c += n->decided.has_value();
    return c;
  }

 private:
  struct Event {
    size_t to;
    std::variant<Proposal, Vote, ScheduleTimeout> msg;
  };

  void Enqueue(uint64_t at, size_t to, std::variant<Proposal, Vote, ScheduleTimeout> msg) {
    queue_.emplace(std::make_pair(at, seq_++), Event{to, std::move(msg)});
  }

  void Drain(size_t i) {
    SimNode& n = *nodes_[i];
    for (Output& o : n.tm->TakeOutputs()) {
      if (auto* bp = std::get_if<BroadcastProposal>(&o)) {
        for (size_t j = 0; j < nodes_.size(); ++j)
          if (j != i) Enqueue(now_ + Latency(), j, bp->proposal);
      } else if (auto* bv = std::get_if<BroadcastVote>(&o)) {
        ++n.votes_sent;
        for (size_t j = 0; j < nodes_.size(); ++j)
          if (j != i) Enqueue(now_ + Latency(), j, bv->vote);
      } else if (auto* st = std::get_if<ScheduleTimeout>(&o)) {
        n.timeouts.push_back(*st);
        Enqueue(now_ + st->after_ms, i, *st);
      } else if (auto* d = std::get_if<Decide>(&o)) {
        CHECK_FALSE(n.decided.has_value());
        n.decided = *d;
      } else if (auto* e = std::get_if<EvidenceFound>(&o)) {
        n.evidence.push_back(e->evidence);
      } else if (std::holds_alternative<SignFailed>(o)) {
        ++n.sign_failures;
      }
    }
  }

  uint64_t Latency() {
    if (rng_ == 0) return kLatencyMs;
    // splitmix64
    uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return 1 + (z ^ (z >> 31)) % 400;
  }

  static constexpr uint64_t kLatencyMs = 10;
  uint64_t rng_ = 0;
  Timeouts timeouts_;
  ValidatorSet vs_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::map<std::pair<uint64_t, uint64_t>, Event> queue_;
  std::map<size_t, std::vector<std::variant<Proposal, Vote, ScheduleTimeout>>> backlog_;  // for nodes that are down
  uint64_t seq_ = 0;
  uint64_t now_ = 0;
};

// Every online node decided the same block; returns the decision.
Decide CheckAgreement(Sim& sim) {
  std::optional<Decide> first;
  for (size_t i = 0; i < sim.size(); ++i) {
    SimNode& n = sim.node(i);
    if (!n.online) continue;
    REQUIRE(n.decided.has_value());
    if (!first) first = n.decided;
    CHECK(n.decided->block.header.Hash() == first->block.header.Hash());
    CHECK(n.decided->commit.block_hash == first->block.header.Hash());
    CHECK(sim.vs().VerifyCommit(kChainId, n.decided->commit).has_value());
  }
  REQUIRE(first.has_value());
  return *first;
}

}  // namespace

TEST_CASE("four equal validators decide the round-0 proposer's block") {
  Sim sim({1, 1, 1, 1});
  for (size_t i = 0; i < 4; ++i) sim.Up(i);
  sim.RunUntil(10'000);
  REQUIRE(sim.AllOnlineDecided());
  Decide d = CheckAgreement(sim);
  CHECK(d.round == 0);
  CHECK(d.height == 1);
  CHECK(d.block.header.proposer == sim.vs().Proposer(0).address);
  // No timeout had to fire: propose(3 s) never expired before deciding.
  for (size_t i = 0; i < 4; ++i) {
    CHECK(sim.node(i).evidence.empty());
    CHECK(sim.node(i).sign_failures == 0);
    CHECK(sim.node(i).tm->round() == 0);
  }
}

TEST_CASE("unequal power: the decision carries more than 2/3 of the power") {
  Sim sim({1, 2, 3, 10});
  for (size_t i = 0; i < 4; ++i) sim.Up(i);
  sim.RunUntil(10'000);
  REQUIRE(sim.AllOnlineDecided());
  Decide d = CheckAgreement(sim);
  CHECK(d.round == 0);
  // Weighted rotation: the heaviest validator proposes first.
  CHECK(d.block.header.proposer == sim.node(3).key.addr);
}

TEST_CASE("unequal power: three of four validators online but without 2/3 of the power") {
  // Total 6; the quorum needs more than 4, node 3 alone holds 3.
  Sim sim({1, 1, 1, 3});
  for (size_t i = 0; i < 3; ++i) sim.Up(i);
  sim.RunUntil(120'000);
  CHECK(sim.DecidedCount() == 0);
  sim.Up(3);
  sim.RunUntil(400'000);
  REQUIRE(sim.AllOnlineDecided());
  CheckAgreement(sim);
}

TEST_CASE("round-0 proposer offline: round change, a later proposer's block is decided") {
  Sim sim({1, 1, 1, 1});
  size_t p0 = sim.IndexOfAddr(sim.vs().Proposer(0).address);
  for (size_t i = 0; i < 4; ++i)
    if (i != p0) sim.Up(i);
  sim.RunUntil(60'000);
  REQUIRE(sim.AllOnlineDecided());
  Decide d = CheckAgreement(sim);
  CHECK(d.round >= 1);
  CHECK(d.block.header.proposer == sim.vs().Proposer(d.round).address);
  CHECK(d.block.header.proposer != sim.vs().Proposer(0).address);
  CHECK_FALSE(sim.node(p0).decided.has_value());
}

TEST_CASE("timeouts grow with the round") {
  Timeouts t;
  for (TimeoutKind k : {TimeoutKind::kPropose, TimeoutKind::kPrevote, TimeoutKind::kPrecommit}) {
    for (uint64_t r = 0; r < 10; ++r) CHECK(TimeoutFor(t, k, r + 1) > TimeoutFor(t, k, r));
  }
  CHECK(TimeoutFor(t, TimeoutKind::kPropose, 0) == t.propose_ms);
  CHECK(TimeoutFor(t, TimeoutKind::kPrevote, 2) == t.prevote_ms + 2 * t.prevote_increment_ms);
  // Saturates instead of wrapping.
  CHECK(TimeoutFor(t, TimeoutKind::kPrecommit, UINT64_MAX) == UINT64_MAX);

  // In a run: 7 validators, the proposers of rounds 0 and 1 offline (2 of
  // 7 leaves a quorum): rounds 0 and 1 time out, each waiting longer.
  Sim sim({1, 1, 1, 1, 1, 1, 1});
  size_t off0 = sim.IndexOfAddr(sim.vs().Proposer(0).address);
  size_t off1 = sim.IndexOfAddr(sim.vs().Proposer(1).address);
  REQUIRE(off0 != off1);
  for (size_t i = 0; i < 7; ++i)
    if (i != off0 && i != off1) sim.Up(i);
  sim.RunUntil(120'000);
  REQUIRE(sim.AllOnlineDecided());
  for (size_t i = 0; i < 7; ++i) {
    if (i == off0 || i == off1) continue;
    std::map<std::pair<TimeoutKind, uint64_t>, uint64_t> seen;
    for (const ScheduleTimeout& st : sim.node(i).timeouts) {
      CHECK(st.after_ms == TimeoutFor(Timeouts{}, st.kind, st.round));
      seen[{st.kind, st.round}] = st.after_ms;
    }
    REQUIRE(seen.count({TimeoutKind::kPropose, 0}));
    REQUIRE(seen.count({TimeoutKind::kPrecommit, 0}));
    REQUIRE(seen.count({TimeoutKind::kPropose, 1}));
    REQUIRE(seen.count({TimeoutKind::kPrecommit, 1}));
    CHECK(seen[{TimeoutKind::kPropose, 1}] > seen[{TimeoutKind::kPropose, 0}]);
    CHECK(seen[{TimeoutKind::kPrecommit, 1}] > seen[{TimeoutKind::kPrecommit, 0}]);
    CHECK(sim.node(i).decided->round == 2);
  }
}

TEST_CASE("2 of 4 offline: nobody decides; one returns: decision") {
  Sim sim({1, 1, 1, 1});
  sim.Up(0);
  sim.Up(1);
  sim.RunUntil(120'000);
  CHECK(sim.DecidedCount() == 0);
  // Without a quorum of any votes no prevote/precommit timeout is ever
  // scheduled: the two wait in round 0 (the paper's rules 34/47 need 2f+1).
  CHECK(sim.node(0).tm->round() == 0);
  sim.Up(2);
  sim.RunUntil(400'000);
  REQUIRE(sim.AllOnlineDecided());
  Decide d = CheckAgreement(sim);
  CHECK_FALSE(sim.node(3).decided.has_value());
  CHECK(d.commit.signatures.size() == 3);
}

TEST_CASE("a non-validator observer decides from the messages alone") {
  Sim sim({1, 1, 1, 1}, /*observers=*/1);
  for (size_t i = 0; i < 5; ++i) sim.Up(i);
  sim.RunUntil(10'000);
  REQUIRE(sim.AllOnlineDecided());
  CheckAgreement(sim);
  SimNode& obs = sim.node(4);
  CHECK_FALSE(obs.tm->is_validator());
  CHECK(obs.votes_sent == 0);
  CHECK(obs.decided->commit.signatures.size() >= 3);
}

TEST_CASE("random message delays: agreement on one block over many schedules") {
  // Short timeouts against delays of up to 400 ms force round changes,
  // locks and re-proposals of validValue in many of these runs.
  Timeouts fast{300, 100, 100, 100, 100, 100};
  std::set<uint64_t> rounds;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    std::vector<uint64_t> powers = seed % 2 ? std::vector<uint64_t>{1, 1, 1, 1} : std::vector<uint64_t>{1, 2, 3, 4};
    Sim sim(powers, /*observers=*/1, fast, seed);
    // One validator is down for the first 2 s and then catches up.
    size_t late = seed % 4;
    for (size_t i = 0; i < 5; ++i)
      if (i != late) sim.Up(i);
    sim.RunUntil(2'000);
    sim.Up(late);
    sim.RunUntil(600'000);
    REQUIRE(sim.AllOnlineDecided());
    Decide d = CheckAgreement(sim);
    rounds.insert(d.round);
  }
  CHECK(rounds.size() > 1);  // the schedules did exercise round changes
}

TEST_CASE("runs are deterministic") {
  auto run = [] {
    Sim sim({2, 3, 3, 3});
    size_t p0 = sim.IndexOfAddr(sim.vs().Proposer(0).address);
    for (size_t i = 0; i < 4; ++i)
      if (i != p0) sim.Up(i);
    sim.RunUntil(100'000);
    std::vector<std::tuple<uint64_t, Hash32, size_t>> r;
    for (size_t i = 0; i < 4; ++i)
      if (sim.node(i).decided)
        r.emplace_back(sim.node(i).decided->round, sim.node(i).decided->commit.block_hash,
                       sim.node(i).decided->commit.signatures.size());
    return r;
  };
  auto a = run();
  CHECK(a.size() == 3);
  CHECK(a == run());
}

// ---- single machine, explicit schedules ---------------------------------------------

namespace {

struct Harness {
  std::vector<Key> keys = MakeKeys(4, 40);
  ValidatorSet vs = MakeSet(keys, {1, 1, 1, 1});
  std::optional<TestSigner> signer;
  std::optional<Tendermint> tm;
  std::vector<Output> out;  // everything emitted so far

  size_t ProposerIdx(uint64_t r) const {
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i].addr == vs.Proposer(r).address) return i;
    FAIL("no proposer");
    return 0;
  }
  // Builds the machine for validator `self` (nullopt: observer).
  void Build(std::optional<size_t> self) {
    TendermintConfig cfg{std::string(kChainId), 1, vs, std::nullopt, Timeouts{}};
    TendermintHooks hooks;
    hooks.validate = [](const Block&) { return true; };
    if (self) {
      cfg.self = keys[*self].addr;
      signer.emplace(keys[*self]);
      hooks.signer = &*signer;
      Address me = keys[*self].addr;
      hooks.get_value = [me](uint64_t) { return MakeBlock(me, 999); };
    }
    auto m = Tendermint::Make(std::move(cfg), std::move(hooks));
    REQUIRE(m.has_value());
    tm.emplace(std::move(*m));
    REQUIRE(tm->Start().has_value());
    Collect();
  }
  void Collect() {
    for (Output& o : tm->TakeOutputs()) out.push_back(std::move(o));
  }
  void Prop(uint64_t r, const Block& b, int64_t vr) {
    REQUIRE(tm->OnProposal(SignedProposal(keys[ProposerIdx(r)], r, b, vr)).has_value());
    Collect();
  }
  void V(size_t who, VoteType t, uint64_t r, const Hash32& h) {
    REQUIRE(tm->OnVote(SignedVote(keys[who], t, r, h)).has_value());
    Collect();
  }
  void Timeout(TimeoutKind k, uint64_t r) {
    tm->OnTimeout(k, 1, r);
    Collect();
  }
  // The vote this machine sent of `type` in round r, if any.
  std::optional<Vote> Sent(VoteType type, uint64_t r) const {
    std::optional<Vote> found;
    for (const Output& o : out)
      if (auto* bv = std::get_if<BroadcastVote>(&o))
        if (bv->vote.type == static_cast<uint64_t>(type) && bv->vote.round == r) found = bv->vote;
    return found;
  }
  std::vector<Evidence> EvidenceOut() const {
    std::vector<Evidence> e;
    for (const Output& o : out)
      if (auto* ef = std::get_if<EvidenceFound>(&o)) e.push_back(ef->evidence);
    return e;
  }
  bool Decided() const {
    for (const Output& o : out)
      if (std::holds_alternative<Decide>(o)) return true;
    return false;
  }
};

}  // namespace

TEST_CASE("locking: locked on v1 in round 0, no prevote for v2 until a later polka unlocks") {
  Harness h;
  // Proposers of rounds 0..3 are distinct with equal power; the machine
  // under test proposes only in round 3.
  std::set<size_t> props;
  for (uint64_t r = 0; r < 4; ++r) props.insert(h.ProposerIdx(r));
  REQUIRE(props.size() == 4);
  size_t x = h.ProposerIdx(3);
  std::vector<size_t> others;
  for (size_t i = 0; i < 4; ++i)
    if (i != x) others.push_back(i);
  Block v1 = MakeBlock(h.keys[h.ProposerIdx(0)].addr, 1);
  Block v2 = MakeBlock(h.keys[h.ProposerIdx(1)].addr, 2);
  const Hash32 id1 = v1.header.Hash(), id2 = v2.header.Hash(), nil{};
  h.Build(x);

  // Round 0: proposal v1 (line 22) -> prevote v1; polka v1 (line 36) ->
  // lock v1, precommit v1.
  h.Prop(0, v1, -1);
  REQUIRE(h.Sent(VoteType::kPrevote, 0));
  CHECK(h.Sent(VoteType::kPrevote, 0)->block_hash == id1);
  h.V(others[0], VoteType::kPrevote, 0, id1);
  CHECK_FALSE(h.Sent(VoteType::kPrecommit, 0));  // 2 of 4: no polka yet
  h.V(others[1], VoteType::kPrevote, 0, id1);
  REQUIRE(h.Sent(VoteType::kPrecommit, 0));
  CHECK(h.Sent(VoteType::kPrecommit, 0)->block_hash == id1);
  CHECK(h.tm->locked_round() == 0);
  CHECK(h.tm->locked_hash() == id1);
  CHECK(h.tm->valid_round() == 0);

  // The others precommit nil: 2f+1 precommits of any kind (line 47) ->
  // precommit timeout -> round 1 (line 65).
  h.V(others[0], VoteType::kPrecommit, 0, nil);
  h.V(others[1], VoteType::kPrecommit, 0, nil);
  CHECK_FALSE(h.Decided());
  h.Timeout(TimeoutKind::kPrecommit, 0);
  REQUIRE(h.tm->round() == 1);
  CHECK(h.tm->locked_round() == 0);  // the lock survives the round change

  SUBCASE("a fresh proposal of another value gets a nil prevote (line 26)") {
    h.Prop(1, v2, -1);
    REQUIRE(h.Sent(VoteType::kPrevote, 1));
    CHECK(h.Sent(VoteType::kPrevote, 1)->block_hash == nil);
    CHECK(h.tm->locked_hash() == id1);
  }

  SUBCASE("a re-proposal of the locked value is prevoted (line 23, lockedValue = v)") {
    h.Prop(1, v1, 0);
    REQUIRE(h.Sent(VoteType::kPrevote, 1));
    CHECK(h.Sent(VoteType::kPrevote, 1)->block_hash == id1);
  }

  SUBCASE("a polka for v2 in round 1 unlocks: round 2 proposal (v2, vr=1) is prevoted (lines 28-30)") {
    // Round 1: we never see the proposal; our propose timeout -> nil
    // (line 59). The others prevote v2 (a polka we cannot use in round 1
    // without the proposal), then precommit nil.
    h.Timeout(TimeoutKind::kPropose, 1);
    REQUIRE(h.Sent(VoteType::kPrevote, 1));
    CHECK(h.Sent(VoteType::kPrevote, 1)->block_hash == nil);
    for (size_t o : others) h.V(o, VoteType::kPrevote, 1, id2);
    h.Timeout(TimeoutKind::kPrevote, 1);  // line 61
    REQUIRE(h.Sent(VoteType::kPrecommit, 1));
    CHECK(h.Sent(VoteType::kPrecommit, 1)->block_hash == nil);
    h.V(others[0], VoteType::kPrecommit, 1, nil);
    h.V(others[1], VoteType::kPrecommit, 1, nil);
    h.Timeout(TimeoutKind::kPrecommit, 1);
    REQUIRE(h.tm->round() == 2);
    CHECK(h.tm->locked_round() == 0);

    // Round 2: v2 re-proposed with vr = 1 >= lockedRound 0 -> prevote v2.
    h.Prop(2, v2, 1);
    REQUIRE(h.Sent(VoteType::kPrevote, 2));
    CHECK(h.Sent(VoteType::kPrevote, 2)->block_hash == id2);
    // And with the others' round-2 polka we re-lock on v2.
    h.V(others[0], VoteType::kPrevote, 2, id2);
    h.V(others[1], VoteType::kPrevote, 2, id2);
    REQUIRE(h.Sent(VoteType::kPrecommit, 2));
    CHECK(h.Sent(VoteType::kPrecommit, 2)->block_hash == id2);
    CHECK(h.tm->locked_round() == 2);
    CHECK(h.tm->locked_hash() == id2);
  }

  SUBCASE("a claimed valid_round without the polka does not unlock: wait, then nil on timeout") {
    h.Timeout(TimeoutKind::kPropose, 1);
    for (size_t o : others) h.V(o, VoteType::kPrecommit, 1, nil);
    h.Timeout(TimeoutKind::kPrecommit, 1);
    REQUIRE(h.tm->round() == 2);
    h.Prop(2, v2, 1);  // claims a round-1 polka for v2 we never saw
    CHECK_FALSE(h.Sent(VoteType::kPrevote, 2));  // line 28 does not apply
    h.Timeout(TimeoutKind::kPropose, 2);
    REQUIRE(h.Sent(VoteType::kPrevote, 2));
    CHECK(h.Sent(VoteType::kPrevote, 2)->block_hash == nil);
    CHECK(h.tm->locked_hash() == id1);
  }

  SUBCASE("a polka older than the lock does not unlock (line 29: lockedRound <= vr)") {
    // Round 1: a polka for v2 that we only count (no proposal seen).
    h.Timeout(TimeoutKind::kPropose, 1);
    for (size_t o : others) h.V(o, VoteType::kPrevote, 1, id2);
    h.Timeout(TimeoutKind::kPrevote, 1);
    for (size_t o : others) h.V(o, VoteType::kPrecommit, 1, nil);
    h.Timeout(TimeoutKind::kPrecommit, 1);
    REQUIRE(h.tm->round() == 2);
    // Round 2: v1 re-proposed with its round-0 polka (line 28) -> prevote
    // v1; a round-2 polka re-locks us on v1 at round 2.
    h.Prop(2, v1, 0);
    REQUIRE(h.Sent(VoteType::kPrevote, 2));
    CHECK(h.Sent(VoteType::kPrevote, 2)->block_hash == id1);
    h.V(others[0], VoteType::kPrevote, 2, id1);
    h.V(others[1], VoteType::kPrevote, 2, id1);
    CHECK(h.tm->locked_round() == 2);
    // Round 4 (reached by line 55: f+1 power already there): v2 with its
    // round-1 polka; 1 < lockedRound 2 and v2 != lockedValue -> nil.
    size_t p4 = h.ProposerIdx(4);
    REQUIRE(p4 != x);
    h.Prop(4, v2, 1);
    CHECK(h.tm->round() == 2);  // one validator's message is not f+1
    size_t w = others[0] != p4 ? others[0] : others[1];
    h.V(w, VoteType::kPrevote, 4, nil);
    REQUIRE(h.tm->round() == 4);
    REQUIRE(h.Sent(VoteType::kPrevote, 4));
    CHECK(h.Sent(VoteType::kPrevote, 4)->block_hash == nil);
    CHECK(h.tm->locked_hash() == id1);
  }
}

TEST_CASE("the proposer re-proposes its validValue (line 15)") {
  Harness h;
  size_t x = h.ProposerIdx(1);  // we propose in round 1
  std::vector<size_t> others;
  for (size_t i = 0; i < 4; ++i)
    if (i != x) others.push_back(i);
  Block v1 = MakeBlock(h.keys[h.ProposerIdx(0)].addr, 1);
  h.Build(x);
  h.Prop(0, v1, -1);
  for (size_t o : others) h.V(o, VoteType::kPrevote, 0, v1.header.Hash());
  for (size_t o : others) h.V(o, VoteType::kPrecommit, 0, Hash32{});
  h.Timeout(TimeoutKind::kPrecommit, 0);
  REQUIRE(h.tm->round() == 1);
  std::optional<Proposal> mine;
  for (const Output& o : h.out)
    if (auto* bp = std::get_if<BroadcastProposal>(&o)) mine = bp->proposal;
  REQUIRE(mine.has_value());
  CHECK(mine->round == 1);
  CHECK(mine->valid_round == 0);
  CHECK(mine->BlockHash() == v1.header.Hash());
}

TEST_CASE("proposal equivocation: a second, differently signed proposal yields evidence once; a tampered copy none") {
  Harness h;
  size_t p = h.ProposerIdx(0);
  size_t x = (p + 1) % 4;
  Block v1 = MakeBlock(h.keys[p].addr, 1), v2 = MakeBlock(h.keys[p].addr, 2), v3 = MakeBlock(h.keys[p].addr, 3);
  const Hash32 id1 = v1.header.Hash(), id2 = v2.header.Hash();
  h.Build(x);
  const Proposal first = SignedProposal(h.keys[p], 0, v1, -1);
  REQUIRE(h.tm->OnProposal(first).has_value());
  h.Collect();
  REQUIRE(h.Sent(VoteType::kPrevote, 0));
  CHECK(h.Sent(VoteType::kPrevote, 0)->block_hash == id1);

  // A copy of the same signed proposal with another body (a tampering relay,
  // or a stripped one): the proposer signed one thing, so no evidence.
  Proposal tampered = first;
  tampered.block.txs.emplace_back();
  tampered.block.evidence.push_back(Evidence{});
  REQUIRE(h.tm->OnProposal(tampered).has_value());
  h.Collect();
  CHECK(h.EvidenceOut().empty());
  CHECK(h.tm->HoldsProposal(tampered));  // same signed content

  // A second proposal of round 0 for another block: evidence, the first
  // stands.
  const Proposal second = SignedProposal(h.keys[p], 0, v2, -1);
  REQUIRE(h.tm->OnProposal(second).has_value());
  h.Collect();
  std::vector<Evidence> ev = h.EvidenceOut();
  REQUIRE(ev.size() == 1);
  const Evidence& e = ev[0];
  CHECK(e.is_proposal());
  CHECK(ToHex0x(e.Hash()) == ToHex0x(MakeProposalEvidence(second.Signed(), first.Signed()).Hash()));
  CHECK(e.a.validator == h.keys[p].addr);
  CHECK(e.b.validator == h.keys[p].addr);
  CHECK(e.a.height == 1);
  CHECK(e.a.round == 0);
  CHECK(e.b.round == 0);
  CHECK(std::set<Hash32>{e.a.block_hash, e.b.block_hash} == std::set<Hash32>{id1, id2});
  CHECK(e.a.block_hash < e.b.block_hash);  // canonical order
  CHECK(e.a.valid_round_plus_1 == uint64_t{0});
  for (const Statement* st : {&e.a, &e.b})
    CHECK(Ed().verify(h.keys[p].pub, st->SigningDigest(kChainId), st->signature));
  CHECK(first.SigningDigest(kChainId) == first.Signed().SigningDigest(kChainId));
  CHECK(h.tm->HoldsProposal(first));
  CHECK_FALSE(h.tm->HoldsProposal(second));
  // No prevote for v2: the first proposal stands.
  for (const Output& o : h.out)
    if (auto* bv = std::get_if<BroadcastVote>(&o)) CHECK(bv->vote.block_hash != id2);

  // Once per round: a third proposal and the second again add nothing.
  REQUIRE(h.tm->OnProposal(SignedProposal(h.keys[p], 0, v3, -1)).has_value());
  REQUIRE(h.tm->OnProposal(second).has_value());
  h.Collect();
  CHECK(h.EvidenceOut().size() == 1);

  // Round 1, another proposer: the same block with another valid_round is
  // different signed content too.
  size_t p1 = h.ProposerIdx(1);
  Block w = MakeBlock(h.keys[p1].addr, 7);
  REQUIRE(h.tm->OnProposal(SignedProposal(h.keys[p1], 1, w, -1)).has_value());
  REQUIRE(h.tm->OnProposal(SignedProposal(h.keys[p1], 1, w, 0)).has_value());
  h.Collect();
  ev = h.EvidenceOut();
  REQUIRE(ev.size() == 2);
  CHECK(ev[1].a.validator == h.keys[p1].addr);
  CHECK(ev[1].a.block_hash == ev[1].b.block_hash);
  CHECK(ev[1].a.valid_round_plus_1 == uint64_t{0});
  CHECK(ev[1].b.valid_round_plus_1 == uint64_t{1});

  // A proposal not from the round's proposer stays an error, not evidence.
  CHECK_FALSE(h.tm->OnProposal(SignedProposal(h.keys[x], 0, v3, -1)).has_value());
  h.Collect();
  CHECK(h.EvidenceOut().size() == 2);
}

TEST_CASE("equivocation: two different prevotes yield evidence; a conflicting vote counts only for a proposed block") {
  Harness h;
  size_t p = h.ProposerIdx(0);
  std::vector<size_t> others;  // validators other than the proposer
  for (size_t i = 0; i < 4; ++i)
    if (i != p) others.push_back(i);
  size_t x = others[0], b = others[1], c = others[2];
  Block v1 = MakeBlock(h.keys[p].addr, 1), v2 = MakeBlock(h.keys[p].addr, 2), v3 = MakeBlock(h.keys[p].addr, 3);
  const Hash32 id1 = v1.header.Hash(), id2 = v2.header.Hash(), id3 = v3.header.Hash();
  h.Build(x);
  h.Prop(0, v2, -1);
  REQUIRE(h.Sent(VoteType::kPrevote, 0));  // ours: v2

  h.V(b, VoteType::kPrevote, 0, id1);
  h.V(b, VoteType::kPrevote, 0, id3);  // conflicting, for a block never proposed: evidence, not kept
  h.V(b, VoteType::kPrevote, 0, id1);  // a re-delivery: not evidence again
  std::vector<Evidence> ev = h.EvidenceOut();
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].a.validator == h.keys[b].addr);
  CHECK(ev[0].b.validator == h.keys[b].addr);
  CHECK(ev[0].a.block_hash == id1);
  CHECK(ev[0].b.block_hash == id3);
  CHECK(ev[0].a.type == ev[0].b.type);
  CHECK(ev[0].a.round == ev[0].b.round);
  for (const Statement* v : {&ev[0].a, &ev[0].b})
    CHECK(Ed().verify(h.keys[b].pub, v->SigningDigest(kChainId), v->signature));
  CHECK_FALSE(h.tm->HasVote(SignedVote(h.keys[b], VoteType::kPrevote, 0, id3)));

  // v2 has our vote + c's = 2 of 4: no polka.
  h.V(c, VoteType::kPrevote, 0, id2);
  CHECK_FALSE(h.Sent(VoteType::kPrecommit, 0));
  CHECK(h.tm->locked_round() == -1);
  // b's conflicting vote for the proposed v2 is kept and counts for v2 (a
  // correct validator elsewhere may have seen it first): the polka.
  h.V(b, VoteType::kPrevote, 0, id2);
  CHECK(h.tm->HasVote(SignedVote(h.keys[b], VoteType::kPrevote, 0, id2)));
  REQUIRE(h.Sent(VoteType::kPrecommit, 0));
  CHECK(h.Sent(VoteType::kPrecommit, 0)->block_hash == id2);
  CHECK(h.tm->locked_round() == 0);
}

TEST_CASE("equivocating precommits: only signed precommits for the decided block enter the certificate") {
  Harness h;
  size_t p = h.ProposerIdx(0);
  std::vector<size_t> others;
  for (size_t i = 0; i < 4; ++i)
    if (i != p) others.push_back(i);
  Block v1 = MakeBlock(h.keys[p].addr, 1), v2 = MakeBlock(h.keys[p].addr, 2);
  h.Build(std::nullopt);  // an observer
  h.Prop(0, v2, -1);
  h.V(others[0], VoteType::kPrecommit, 0, v2.header.Hash());
  h.V(others[0], VoteType::kPrecommit, 0, v1.header.Hash());  // never proposed: not kept
  h.V(others[1], VoteType::kPrecommit, 0, v1.header.Hash());
  CHECK(h.EvidenceOut().size() == 1);
  CHECK_FALSE(h.Decided());
  h.V(others[2], VoteType::kPrecommit, 0, v2.header.Hash());
  CHECK_FALSE(h.Decided());  // v2: others[0], others[2]
  h.V(p, VoteType::kPrecommit, 0, v2.header.Hash());
  REQUIRE(h.Decided());
  CHECK(h.tm->decision()->commit.signatures.size() == 3);
  CHECK(h.vs.VerifyCommit(kChainId, h.tm->decision()->commit).has_value());
  for (const CommitSig& cs : h.tm->decision()->commit.signatures) CHECK(cs.validator != h.keys[others[1]].addr);
}

TEST_CASE("bad messages are refused and not counted") {
  Harness h;
  size_t p = h.ProposerIdx(0);
  size_t q = h.ProposerIdx(1);
  Block v = MakeBlock(h.keys[p].addr, 1);
  h.Build(std::nullopt);

  // Not from the round's proposer.
  CHECK_FALSE(h.tm->OnProposal(SignedProposal(h.keys[q], 0, v, -1)).has_value());
  // Bad signature.
  Proposal bad = SignedProposal(h.keys[p], 0, v, -1);
  bad.signature[0] ^= 1;
  CHECK(h.tm->OnProposal(bad).error().code == ErrorCode::kCrypto);
  // valid_round not below round.
  CHECK_FALSE(h.tm->OnProposal(SignedProposal(h.keys[p], 0, v, 0)).has_value());
  Vote vote = SignedVote(h.keys[q], VoteType::kPrevote, 0, v.header.Hash());
  Vote forged = vote;
  forged.block_hash = Hash32{};
  CHECK(h.tm->OnVote(forged).error().code == ErrorCode::kCrypto);
  Vote other_height = vote;
  other_height.height = 2;
  CHECK_FALSE(h.tm->OnVote(other_height).has_value());
  Key stranger = MakeKey(200);
  CHECK_FALSE(h.tm->OnVote(SignedVote(stranger, VoteType::kPrevote, 0, v.header.Hash())).has_value());
  Vote bad_type = vote;
  bad_type.type = 7;
  CHECK_FALSE(h.tm->OnVote(bad_type).has_value());
  h.Collect();
  CHECK(h.EvidenceOut().empty());
}

TEST_CASE("an invalid block is not prevoted and not decided") {
  std::vector<Key> keys = MakeKeys(4, 40);
  ValidatorSet vs = MakeSet(keys, {1, 1, 1, 1});
  size_t p = 0;
  while (keys[p].addr != vs.Proposer(0).address) ++p;
  size_t x = (p + 1) % 4;
  TestSigner signer(keys[x]);
  TendermintHooks hooks;
  hooks.validate = [](const Block& b) { return b.header.time_ms % 2 == 0; };  // odd tags are invalid
  hooks.get_value = [&](uint64_t) { return MakeBlock(keys[x].addr, 2); };
  hooks.signer = &signer;
  auto tm = Tendermint::Make(TendermintConfig{std::string(kChainId), 1, vs, keys[x].addr, Timeouts{}}, hooks);
  REQUIRE(tm.has_value());
  REQUIRE(tm->Start().has_value());
  Block bad = MakeBlock(keys[p].addr, 1);
  REQUIRE(tm->OnProposal(SignedProposal(keys[p], 0, bad, -1)).has_value());
  std::optional<Vote> prevote;
  for (const Output& o : tm->TakeOutputs())
    if (auto* bv = std::get_if<BroadcastVote>(&o)) prevote = bv->vote;
  REQUIRE(prevote.has_value());
  CHECK(prevote->block_hash == Hash32{});
  for (size_t i = 0; i < 4; ++i)
    if (i != x) REQUIRE(tm->OnVote(SignedVote(keys[i], VoteType::kPrecommit, 0, bad.header.Hash())).has_value());
  CHECK_FALSE(tm->decision().has_value());
}

TEST_CASE("a refused signature is reported and nothing is sent") {
  Harness h;
  size_t x = h.ProposerIdx(0);
  h.signer.reset();
  // Build by hand with a refusing signer: the proposer cannot propose, so
  // it schedules the propose timeout instead of hanging.
  TestSigner refusing(h.keys[x]);
  refusing.refuse_all = true;
  TendermintHooks hooks;
  hooks.validate = [](const Block&) { return true; };
  hooks.get_value = [&](uint64_t) { return MakeBlock(h.keys[x].addr, 5); };
  hooks.signer = &refusing;
  auto tm = Tendermint::Make(TendermintConfig{std::string(kChainId), 1, h.vs, h.keys[x].addr, Timeouts{}}, hooks);
  REQUIRE(tm.has_value());
  REQUIRE(tm->Start().has_value());
  auto out = tm->TakeOutputs();
  bool failed = false, scheduled = false, proposed = false;
  for (const Output& o : out) {
    failed |= std::holds_alternative<SignFailed>(o);
    proposed |= std::holds_alternative<BroadcastProposal>(o);
    if (auto* st = std::get_if<ScheduleTimeout>(&o)) scheduled |= st->kind == TimeoutKind::kPropose;
  }
  CHECK(failed);
  CHECK(scheduled);
  CHECK_FALSE(proposed);
}

TEST_CASE("configuration errors") {
  Harness h;
  TendermintHooks none;
  CHECK_FALSE(Tendermint::Make(TendermintConfig{std::string(kChainId), 1, h.vs, std::nullopt, Timeouts{}}, none)
                  .has_value());
  TendermintHooks v;
  v.validate = [](const Block&) { return true; };
  // A validator without signer/get_value.
  CHECK_FALSE(
      Tendermint::Make(TendermintConfig{std::string(kChainId), 1, h.vs, h.keys[0].addr, Timeouts{}}, v).has_value());
  CHECK_FALSE(Tendermint::Make(TendermintConfig{std::string(kChainId), 0, h.vs, std::nullopt, Timeouts{}}, v)
                  .has_value());
  auto ok = Tendermint::Make(TendermintConfig{std::string(kChainId), 1, h.vs, std::nullopt, Timeouts{}}, v);
  REQUIRE(ok.has_value());
  REQUIRE(ok->Start().has_value());
  CHECK_FALSE(ok->Start().has_value());
}

TEST_CASE("behind a real PrivValidator: a restarted proposer cannot propose another block") {
  Harness h;
  size_t x = h.ProposerIdx(0);
  const Key& k = h.keys[x];
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("gtos-consensus-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string state = (dir / "privval_state").string();
  auto open = [&] {
    auto pv = PrivValidator::Open(state, crypto::SecretBytes(k.secret), Ed(), k.pub, std::string(kChainId));
    REQUIRE(pv.has_value());
    return std::move(*pv);
  };
  auto make = [&](Signer* signer, uint64_t tag) {
    TendermintHooks hooks;
    hooks.validate = [](const Block&) { return true; };
    hooks.get_value = [&k, tag](uint64_t) { return MakeBlock(k.addr, tag); };
    hooks.signer = signer;
    auto tm = Tendermint::Make(TendermintConfig{std::string(kChainId), 1, h.vs, k.addr, Timeouts{}}, hooks);
    REQUIRE(tm.has_value());
    return std::move(*tm);
  };

  std::optional<Proposal> first;
  std::optional<Vote> first_prevote;
  {
    auto pv = open();
    PrivValSigner<PrivValidator> signer(pv.get());
    Tendermint tm = make(&signer, 1);
    REQUIRE(tm.Start().has_value());
    for (const Output& o : tm.TakeOutputs()) {
      if (auto* bp = std::get_if<BroadcastProposal>(&o)) first = bp->proposal;
      if (auto* bv = std::get_if<BroadcastVote>(&o)) first_prevote = bv->vote;
    }
  }
  REQUIRE(first.has_value());
  REQUIRE(first_prevote.has_value());
  CHECK(first_prevote->block_hash == first->BlockHash());

  // Restart: the new machine's get_value gives another block; the privval
  // refuses to sign a second proposal for (1, 0).
  auto pv = open();
  PrivValSigner<PrivValidator> signer(pv.get());
  Tendermint tm = make(&signer, 2);
  REQUIRE(tm.Start().has_value());
  bool refused = false, proposed = false;
  for (const Output& o : tm.TakeOutputs()) {
    refused |= std::holds_alternative<SignFailed>(o);
    proposed |= std::holds_alternative<BroadcastProposal>(o);
  }
  CHECK(refused);
  CHECK_FALSE(proposed);
  // The original proposal comes back by gossip: the same prevote is signed
  // again (the privval re-returns it), nothing conflicting.
  REQUIRE(tm.OnProposal(*first).has_value());
  std::optional<Vote> again;
  for (const Output& o : tm.TakeOutputs())
    if (auto* bv = std::get_if<BroadcastVote>(&o)) again = bv->vote;
  REQUIRE(again.has_value());
  CHECK(again->block_hash == first_prevote->block_hash);
  fs::remove_all(dir);
}
