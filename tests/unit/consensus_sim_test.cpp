// Deterministic simulation of a validator network under faults
// (issue 10): the real state machine (consensus/tendermint.h) behind the
// real consensus WAL and replica (consensus/replica.h, consensus/wal.h)
// and real private-validator state files (consensus/privval.h), over a
// virtual network and clock. Nodes crash (their objects are destroyed; the
// unsynced tail of their WAL is cut at a random point, as a crash would)
// and restart from their files.
//
// Scripted scenarios reproduce the faults the review found (amnesia fork,
// full restart after round-0 precommits, a torn WAL tail, a body-stripped
// proposal delivered first, a proposer with a clock far ahead); each one
// also runs against a mutant (no WAL on restart, no body check) where the
// fault must show, so the scenario is known to be able to fail. Then many
// seeded random runs (delays, drops, duplicates, crash-restarts, one
// equivocating validator) check that no two honest nodes decide
// differently, that no honest validator ever signs two messages for one
// position, and that the chain decides once the faults stop. A failure
// prints its seed; GTOS_SIM_SEED=N reruns one seed, GTOS_SIM_RUNS=N
// changes the count.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "consensus/privval.h"
#include "consensus/replica.h"
#include "consensus/tendermint.h"
#include "consensus/validator_set.h"
#include "consensus/wal.h"
#include "crypto/hash.h"
#include "crypto/sig.h"
#include "types/params.h"
#include "types/records.h"

using namespace gtos;
using namespace gtos::consensus;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kChainId = "gtos-sim";
constexpr uint64_t kEpochMs = 1'800'000'000'000;  // the virtual clock's origin

const crypto::SigAlgo& Ed() { return *crypto::FindAlgo(crypto::AlgoId::kEd25519); }

struct Key {
  Bytes secret;
  Bytes pub;
  Address addr;
};

Key MakeKey(uint8_t seed) {
  Key k;
  k.secret.assign(Ed().secret_size, seed);
  k.pub = *Ed().derive_public(k.secret);
  k.addr = crypto::DeriveAddress(crypto::AlgoId::kEd25519, k.pub);
  return k;
}

// splitmix64: a small seeded generator, identical on every platform.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  bool Chance(uint64_t permille) { return Below(1000) < permille; }
};

std::string TempRoot() {
  // tmpfs where there is one: the random runs fsync thousands of times.
  std::string base = fs::exists("/dev/shm") ? "/dev/shm" : fs::temp_directory_path().string();
  std::string dir = base + "/gtos-sim-" + std::to_string(::getpid());
  fs::create_directories(dir);
  return dir;
}

// A block with two placeholder txs, so that a body can be stripped or
// altered without changing the header (roots are checked by CheckBody).
Block MakeBlock(uint64_t height, const Hash32& parent, uint64_t time_ms, const Address& proposer, uint64_t tag) {
  Block b;
  b.header.chain_id = std::string(kChainId);
  b.header.height = height;
  b.header.time_ms = time_ms;
  b.header.parent_hash = parent;
  b.header.proposer = proposer;
  for (uint64_t i = 0; i < 2; ++i) {
    SignedTx tx;  // well-formed, never executed: only its bytes matter here
    tx.tx.chain_id = std::string(kChainId);
    tx.tx.nonce = tag * 10 + i;
    tx.algo = static_cast<uint64_t>(crypto::AlgoId::kEd25519);
    tx.public_key.assign(Ed().public_size, 1);
    tx.signature.assign(Ed().signature_size, 2);
    b.txs.push_back(tx);
  }
  std::vector<Hash32> leaves;
  for (const SignedTx& tx : b.txs) leaves.push_back(crypto::Sha256(EncodeRecord(tx)));
  b.header.tx_root = MerkleRoot(leaves);
  return b;
}

using Msg = std::variant<Proposal, Vote>;

struct Node {
  size_t index = 0;
  Key key;
  std::string dir;
  bool byzantine = false;  // signs anything with its raw key
  bool up = false;
  int64_t skew_ms = 0;
  // Durable across crashes: the decided chain (a database) and the files.
  std::vector<Block> chain;  // chain[h-1] = block h
  // Live objects, destroyed by a crash.
  std::unique_ptr<PrivValidator> pv;
  std::unique_ptr<PrivValSigner<PrivValidator>> pv_signer;
  std::unique_ptr<Replica> replica;
  std::set<Hash32> seen;          // dedup of this height's messages
  std::vector<Msg> height_msgs;   // re-gossiped while the height runs
  std::map<uint64_t, std::vector<Msg>> future;  // messages of later heights
  std::vector<Msg> outbox;        // messages to send (manual mode reads it)
  bool no_wal_on_restart = false;  // mutant: forget the lock
  bool check_body = true;          // mutant off: no body check before accept
  size_t starts = 0;
};

struct SimOptions {
  size_t validators = 4;
  uint64_t latency_min_ms = 1, latency_max_ms = 200;
  uint64_t drop_permille = 0, dup_permille = 0;
  uint64_t interval_ms = 1000;
};

class Sim {
 public:
  Sim(uint64_t seed, SimOptions o = {}) : rng_{seed}, opts_(o), root_(TempRoot() + "/" + std::to_string(seed)) {
    fs::remove_all(root_);
    std::vector<Key> keys;
    for (size_t i = 0; i < o.validators; ++i) keys.push_back(MakeKey(static_cast<uint8_t>(1 + i)));
    std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) { return a.addr < b.addr; });
    std::vector<Validator> vals;
    for (const Key& k : keys)
      vals.push_back(Validator{k.addr, static_cast<uint64_t>(crypto::AlgoId::kEd25519), k.pub, 10, 0});
    vs_ = *ValidatorSet::Make(vals);
    params_.target_block_interval_ms = o.interval_ms;
    T_ = o.interval_ms;
    timeouts_.propose_ms = 3 * T_;
    timeouts_.propose_increment_ms = T_ / 2;
    timeouts_.prevote_ms = T_;
    timeouts_.prevote_increment_ms = T_ / 2;
    timeouts_.precommit_ms = T_;
    timeouts_.precommit_increment_ms = T_ / 2;
    for (size_t i = 0; i < keys.size(); ++i) {
      auto n = std::make_unique<Node>();
      n->index = i;
      n->key = keys[i];
      n->dir = root_ + "/v" + std::to_string(i);
      fs::create_directories(n->dir);
      nodes_.push_back(std::move(n));
    }
  }
  ~Sim() {
    for (auto& n : nodes_) Crash(n->index, /*cut_unsynced=*/false);
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  Node& node(size_t i) { return *nodes_[i]; }
  size_t size() const { return nodes_.size(); }
  uint64_t now() const { return now_; }
  const ValidatorSet& vs() const { return vs_; }
  const ChainParams& params() const { return params_; }
  size_t ProposerIndex(uint64_t round) const { return *vs_.IndexOf(vs_.Proposer(round).address); }
  bool auto_send = true;  // false: outputs wait in each node's outbox
  void SetFaults(uint64_t drop_permille, uint64_t dup_permille) {
    opts_.drop_permille = drop_permille;
    opts_.dup_permille = dup_permille;
  }
  uint64_t MaxHeight() const {
    uint64_t m = 0;
    for (auto& n : nodes_) m = std::max<uint64_t>(m, n->chain.size() + 1);
    return m;
  }
  std::vector<std::string> violations;

  // ---- node life ----

  void Start(size_t i) {
    Node& n = *nodes_[i];
    REQUIRE_FALSE(n.up);
    n.up = true;
    n.starts++;
    if (!n.byzantine) {
      auto secret = crypto::SecretBytes(n.key.secret);
      auto pv = PrivValidator::Open(n.dir + "/privval_state.bin", std::move(secret), Ed(), n.key.pub,
                                    std::string(kChainId));
      REQUIRE(pv.has_value());
      n.pv = std::move(*pv);
      n.pv_signer = std::make_unique<PrivValSigner<PrivValidator>>(n.pv.get());
      std::unique_ptr<Wal> wal;
      if (n.starts == 1 || !n.no_wal_on_restart) {
        auto w = Wal::Open(n.dir + "/cs.wal");
        REQUIRE_MESSAGE(w.has_value(), (w ? "" : w.error().message));
        wal = std::move(*w);
      }
      n.replica = std::make_unique<Replica>(std::move(wal), n.pv_signer.get());
    } else {
      n.replica = std::make_unique<Replica>(nullptr, &byz_signers_.try_emplace(i, this, i).first->second);
    }
    StartHeight(i);
  }

  // Destroys node i's live state. A crash loses what the WAL had not
  // synced: the file is cut at a random point past the synced length.
  void Crash(size_t i, bool cut_unsynced = true) {
    Node& n = *nodes_[i];
    if (!n.up) return;
    n.up = false;
    uint64_t synced = 0, size = 0;
    if (n.replica && n.replica->wal()) {
      synced = n.replica->wal()->synced_size();
      size = n.replica->wal()->size();
    }
    n.replica.reset();
    n.pv_signer.reset();
    n.pv.reset();
    n.seen.clear();
    n.height_msgs.clear();
    n.future.clear();
    n.outbox.clear();
    timers_.erase(i);
    if (cut_unsynced && size > synced) fs::resize_file(n.dir + "/cs.wal", synced + rng_.Below(size - synced + 1));
  }

  uint64_t Height(size_t i) const { return nodes_[i]->chain.size() + 1; }
  Tendermint* Machine(size_t i) { return nodes_[i]->replica ? nodes_[i]->replica->machine() : nullptr; }

  // ---- delivery ----

  // Hands `m` to node i as its driver would (body check, dedup, buffering
  // for a later height, the replica).
  void Deliver(size_t i, const Msg& m) {
    Node& n = *nodes_[i];
    if (!n.up) return;
    uint64_t height = std::visit([](auto& x) { return x.height; }, m);
    if (height < Height(i)) return;
    if (height > Height(i)) {
      if (height <= Height(i) + 2) n.future[height].push_back(m);
      return;
    }
    if (auto* p = std::get_if<Proposal>(&m)) {
      if (n.check_body && !p->block.CheckBody()) return;
    }
    Hash32 key = MsgKey(m);
    if (!n.seen.insert(key).second) return;
    Status st = std::holds_alternative<Proposal>(m)
                    ? n.replica->OnProposal(std::get<Proposal>(m), LocalClock(i))
                    : n.replica->OnVote(std::get<Vote>(m));
    if (!st) {
      REQUIRE(st.error().code != ErrorCode::kIO);
      return;
    }
    if (auto* v = std::get_if<Vote>(&m); v && !n.replica->machine()->HasVote(*v)) {
      n.seen.erase(key);  // as the node's driver: may be kept once its block is proposed
      Drain(i);
      return;
    }
    n.height_msgs.push_back(m);
    Drain(i);
  }

  // Sends node i's outbox to everyone (auto mode does this on its own).
  void Flush(size_t i) {
    Node& n = *nodes_[i];
    std::vector<Msg> out = std::move(n.outbox);
    n.outbox.clear();
    for (Msg& m : out) Broadcast(i, m);
  }

  void Broadcast(size_t from, const Msg& m) {
    for (size_t j = 0; j < nodes_.size(); ++j) {
      if (j == from) continue;
      if (rng_.Chance(opts_.drop_permille)) continue;
      Enqueue(now_ + Latency(), j, m);
      if (rng_.Chance(opts_.dup_permille)) Enqueue(now_ + Latency(), j, m);
    }
  }

  void Fire(size_t i, TimeoutKind kind, uint64_t height, uint64_t round) {
    Node& n = *nodes_[i];
    if (!n.up || height != Height(i)) return;
    REQUIRE(n.replica->OnTimeout(kind, height, round).has_value());
    Drain(i);
  }

  // Runs the event queue (deliveries, timeouts, re-gossip every 2T) until
  // `until` or until `done` holds.
  template <class Done>
  bool RunUntil(uint64_t until, Done done) {
    while (now_ <= until) {
      if (done()) return true;
      // Next event: a delivery, a timer, or the re-gossip tick.
      uint64_t next = next_tick_;
      if (!queue_.empty()) next = std::min(next, queue_.begin()->first.first);
      for (auto& [i, ts] : timers_)
        if (!ts.empty()) next = std::min(next, ts.begin()->first);
      if (next > until) break;
      now_ = next;
      if (!queue_.empty() && queue_.begin()->first.first == now_) {
        auto it = queue_.begin();
        auto [to, m] = std::move(it->second);
        queue_.erase(it);
        Deliver(to, m);
        continue;
      }
      bool fired = false;
      for (auto& [i, ts] : timers_) {
        if (!ts.empty() && ts.begin()->first == now_) {
          ScheduleTimeout t = ts.begin()->second;
          ts.erase(ts.begin());
          Fire(i, t.kind, t.height, t.round);
          fired = true;
          break;
        }
      }
      if (fired) continue;
      next_tick_ = now_ + 2 * T_;
      for (auto& n : nodes_)
        if (n->up)
          for (const Msg& m : n->height_msgs) Broadcast(n->index, m);
    }
    now_ = std::max(now_, until);
    return done();
  }
  bool RunUntil(uint64_t until) {
    return RunUntil(until, [] { return false; });
  }

  // Every honest node that is up reached height h (decided h - 1).
  bool AllHonestAt(uint64_t h) const {
    for (auto& n : nodes_)
      if (!n->byzantine && (!n->up || n->chain.size() + 1 < h)) return false;
    return true;
  }

  // Decisions by height from every honest node, across restarts.
  const std::map<uint64_t, std::map<size_t, Block>>& decisions() const { return decisions_; }
  // Conflicting decisions (safety) and conflicting signatures by honest nodes.
  void CheckSafety() {
    for (const auto& [h, by] : decisions_) {
      std::optional<Hash32> first;
      for (const auto& [i, b] : by) {
        if (!first) first = b.header.Hash();
        if (b.header.Hash() != *first)
          violations.push_back("conflicting decisions at height " + std::to_string(h) + " (node " +
                               std::to_string(i) + ")");
      }
    }
  }

 private:
  class ByzSigner : public Signer {
   public:
    ByzSigner(Sim* s, size_t i) : s_(s), i_(i) {}
    Result<Bytes> SignVote(const Vote& v) override {
      return crypto::SignDigest(Ed(), s_->node(i_).key.secret, s_->node(i_).key.pub, v.SigningDigest(kChainId));
    }
    Result<Bytes> SignProposal(const Proposal&, const Hash32& d) override {
      return crypto::SignDigest(Ed(), s_->node(i_).key.secret, s_->node(i_).key.pub, d);
    }

   private:
    Sim* s_;
    size_t i_;
  };

  static Hash32 MsgKey(const Msg& m) {
    if (auto* p = std::get_if<Proposal>(&m)) {
      Bytes b(p->signature);
      Hash32 bh = p->BlockHash();
      b.insert(b.end(), bh.v.begin(), bh.v.end());
      b.push_back(static_cast<uint8_t>(p->round));
      return crypto::Sha256(b);
    }
    const Vote& v = std::get<Vote>(m);
    return crypto::Sha256(v.signature);
  }

  uint64_t LocalClock(size_t i) const {
    return static_cast<uint64_t>(static_cast<int64_t>(kEpochMs + now_) + nodes_[i]->skew_ms);
  }

  uint64_t Latency() {
    return opts_.latency_min_ms + rng_.Below(opts_.latency_max_ms - opts_.latency_min_ms + 1);
  }

  void Enqueue(uint64_t at, size_t to, Msg m) { queue_.emplace(std::make_pair(at, seq_++), std::make_pair(to, std::move(m))); }

  void StartHeight(size_t i) {
    Node& n = *nodes_[i];
    uint64_t h = Height(i);
    n.seen.clear();
    n.height_msgs.clear();
    TendermintConfig cfg{std::string(kChainId), h, vs_, n.key.addr, timeouts_};
    TendermintHooks hooks;
    Hash32 parent = n.chain.empty() ? Hash32{} : n.chain.back().header.Hash();
    uint64_t parent_time = n.chain.empty() ? kEpochMs : n.chain.back().header.time_ms;
    hooks.get_value = [this, i, h, parent, parent_time](uint64_t round) {
      return MakeBlock(h, parent, std::max(LocalClock(i), parent_time + 1), nodes_[i]->key.addr,
                       h * 1000 + round * 10 + i);
    };
    hooks.validate = [h, parent, parent_time](const Block& b) {
      return b.header.height == h && b.header.parent_hash == parent && b.header.time_ms > parent_time &&
             b.CheckBody().has_value();
    };
    const ChainParams params = params_;
    hooks.timely = [params](const Block& b, uint64_t round, uint64_t receive_ms) {
      return ProposalTimely(params, round, b.header.time_ms, receive_ms);
    };
    auto started = n.replica->StartHeight(std::move(cfg), std::move(hooks));
    REQUIRE_MESSAGE(started.has_value(), (started ? "" : started.error().message));
    for (const Proposal& p : started->proposals) {
      n.seen.insert(MsgKey(p));
      n.height_msgs.push_back(p);
    }
    for (const Vote& v : started->votes) {
      n.seen.insert(MsgKey(v));
      n.height_msgs.push_back(v);
    }
    Drain(i);
    // As the node's driver: without a log for this height, the privval's
    // last vote of this height is counted and sent again.
    if (started->replayed == 0 && started->own == 0 && n.pv) {
      auto last = n.pv->last_signed();
      if (last && last->vote && last->vote->height == h) {
        Deliver(i, *last->vote);
        if (auto_send) Broadcast(i, *last->vote);
        else n.outbox.push_back(*last->vote);
      }
    }
    auto it = n.future.find(h);
    if (it != n.future.end()) {
      std::vector<Msg> msgs = std::move(it->second);
      n.future.erase(it);
      for (const Msg& m : msgs) Deliver(i, m);
    }
  }

  void NoteSigned(size_t i, const Msg& m) {
    if (nodes_[i]->byzantine) return;
    std::tuple<size_t, uint64_t, uint64_t, uint64_t> pos;
    Hash32 what;
    if (auto* p = std::get_if<Proposal>(&m)) {
      pos = {i, p->height, p->round, 1};
      what = p->BlockHash();
    } else {
      const Vote& v = std::get<Vote>(m);
      pos = {i, v.height, v.round, 1 + v.type};
      what = v.block_hash;
    }
    auto [it, fresh] = signed_.try_emplace(pos, what);
    if (!fresh && it->second != what)
      violations.push_back("honest node " + std::to_string(i) + " signed two messages at h=" +
                           std::to_string(std::get<1>(pos)) + " r=" + std::to_string(std::get<2>(pos)) +
                           " step=" + std::to_string(std::get<3>(pos)));
  }

  void Send(size_t i, Msg m) {
    Node& n = *nodes_[i];
    NoteSigned(i, m);
    n.height_msgs.push_back(m);
    n.seen.insert(MsgKey(m));
    if (auto_send) Broadcast(i, m);
    else n.outbox.push_back(std::move(m));
    if (n.byzantine && auto_send) Equivocate(i, n.height_msgs.back());
  }

  // A Byzantine validator sends a conflicting copy of each vote to half of
  // the others (chosen at random).
  void Equivocate(size_t i, const Msg& m) {
    auto* v = std::get_if<Vote>(&m);
    if (!v) return;
    Vote twin = *v;
    Bytes tag(twin.block_hash.v.begin(), twin.block_hash.v.end());
    tag.push_back(static_cast<uint8_t>(rng_.Next()));
    twin.block_hash = rng_.Chance(500) ? Hash32{} : crypto::Sha256(tag);
    if (twin.block_hash == v->block_hash) return;
    twin.signature = *crypto::SignDigest(Ed(), nodes_[i]->key.secret, nodes_[i]->key.pub, twin.SigningDigest(kChainId));
    for (size_t j = 0; j < nodes_.size(); ++j)
      if (j != i && rng_.Chance(500)) Enqueue(now_ + Latency(), j, twin);
  }

  void Drain(size_t i) {
    Node& n = *nodes_[i];
    while (n.up && n.replica && n.replica->machine()) {
      auto outs = n.replica->TakeOutputs();
      REQUIRE(outs.has_value());
      if (outs->empty()) return;
      for (Output& o : *outs) {
        if (auto* bp = std::get_if<BroadcastProposal>(&o)) {
          Send(i, bp->proposal);
        } else if (auto* bv = std::get_if<BroadcastVote>(&o)) {
          Send(i, bv->vote);
        } else if (auto* st = std::get_if<ScheduleTimeout>(&o)) {
          timers_[i].emplace(now_ + st->after_ms, *st);
        } else if (auto* d = std::get_if<Decide>(&o)) {
          Commit(i, *d);
          return;
        }
      }
    }
  }

  void Commit(size_t i, const Decide& d) {
    Node& n = *nodes_[i];
    REQUIRE(vs_.VerifyCommit(kChainId, d.commit).has_value());
    if (!n.byzantine) decisions_[d.height][i] = d.block;
    auto prior = decisions_.find(d.height);
    (void)prior;
    n.chain.push_back(d.block);
    n.replica->Stop();
    timers_.erase(i);
    // Others behind get the decision as block sync would give it.
    decided_[d.height] = d;
    StartHeight(i);
  }

 public:
  // Block sync: a node that is up and behind adopts decided blocks (their
  // commits verified).
  void SyncLagging() {
    for (auto& n : nodes_) {
      if (!n->up) continue;
      while (true) {
        auto it = decided_.find(Height(n->index));
        if (it == decided_.end()) break;
        REQUIRE(vs_.VerifyCommit(kChainId, it->second.commit).has_value());
        if (!n->byzantine) decisions_[it->first][n->index] = it->second.block;
        n->chain.push_back(it->second.block);
        n->replica->Stop();
        timers_.erase(n->index);
        StartHeight(n->index);
      }
    }
  }

 private:
  Rng rng_;
  SimOptions opts_;
  std::string root_;
  ChainParams params_;
  uint64_t T_ = 1000;
  Timeouts timeouts_;
  ValidatorSet vs_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<size_t, ByzSigner> byz_signers_;
  std::map<std::pair<uint64_t, uint64_t>, std::pair<size_t, Msg>> queue_;
  std::map<size_t, std::multimap<uint64_t, ScheduleTimeout>> timers_;
  std::map<std::tuple<size_t, uint64_t, uint64_t, uint64_t>, Hash32> signed_;
  std::map<uint64_t, std::map<size_t, Block>> decisions_;
  std::map<uint64_t, Decide> decided_;
  uint64_t seq_ = 0;
  uint64_t now_ = 0;
  uint64_t next_tick_ = 0;
};

Vote SignVoteRaw(const Key& k, VoteType type, uint64_t h, uint64_t round, const Hash32& bh) {
  Vote v;
  v.type = static_cast<uint64_t>(type);
  v.height = h;
  v.round = round;
  v.block_hash = bh;
  v.validator = k.addr;
  v.signature = *crypto::SignDigest(Ed(), k.secret, k.pub, v.SigningDigest(kChainId));
  return v;
}

Proposal SignProposalRaw(const Key& k, uint64_t h, uint64_t round, const Block& b, int64_t vr) {
  Proposal p;
  p.height = h;
  p.round = round;
  p.valid_round = vr;
  p.block = b;
  p.proposer = k.addr;
  p.signature = *crypto::SignDigest(Ed(), k.secret, k.pub, p.SigningDigest(kChainId));
  return p;
}

// The outbox messages of node i of one kind.
std::vector<Vote> Votes(Node& n, VoteType type, uint64_t round) {
  std::vector<Vote> out;
  for (const Msg& m : n.outbox)
    if (auto* v = std::get_if<Vote>(&m); v && v->type == static_cast<uint64_t>(type) && v->round == round)
      out.push_back(*v);
  return out;
}
std::optional<Proposal> ProposalOf(Node& n, uint64_t round) {
  for (const Msg& m : n.outbox)
    if (auto* p = std::get_if<Proposal>(&m); p && p->round == round) return *p;
  return std::nullopt;
}

}  // namespace

// ---- scripted scenarios -------------------------------------------------------

namespace {

void DeliverVotes(Sim& sim, size_t to, const std::vector<Vote>& votes) {
  for (const Vote& v : votes) sim.Deliver(to, v);
}
Vote Last(const std::vector<Vote>& v) {
  REQUIRE_FALSE(v.empty());
  return v.back();
}

// The amnesia fork of the review: D (the round-1 proposer) is Byzantine, A
// (round 0's proposer) decides v in round 0 with B's and D's precommits,
// B crashes and restarts, and D proposes v' in round 1. Returns whether two
// honest nodes decided differently. `mutant`: B restarts without its WAL.
bool AmnesiaFork(bool mutant) {
  Sim sim(101);
  sim.auto_send = false;
  const size_t A = sim.ProposerIndex(0), D = sim.ProposerIndex(1);
  REQUIRE(A != D);
  std::vector<size_t> rest;
  for (size_t i = 0; i < 4; ++i)
    if (i != A && i != D) rest.push_back(i);
  const size_t B = rest[0], C = rest[1];
  sim.node(D).byzantine = true;
  sim.node(B).no_wal_on_restart = mutant;
  for (size_t i = 0; i < 4; ++i) sim.Start(i);
  const Key& kd = sim.node(D).key;

  // Round 0: A proposes v; A, B (and D, Byzantine) prevote it.
  Proposal p0 = *ProposalOf(sim.node(A), 0);
  Hash32 v = p0.BlockHash();
  sim.Deliver(B, p0);
  Vote prevA = Last(Votes(sim.node(A), VoteType::kPrevote, 0));
  Vote prevB = Last(Votes(sim.node(B), VoteType::kPrevote, 0));
  CHECK(prevB.block_hash == v);
  Vote prevD = SignVoteRaw(kd, VoteType::kPrevote, 1, 0, v);
  DeliverVotes(sim, A, {prevB, prevD});
  DeliverVotes(sim, B, {prevA, prevD});
  Vote precA = Last(Votes(sim.node(A), VoteType::kPrecommit, 0));
  Vote precB = Last(Votes(sim.node(B), VoteType::kPrecommit, 0));
  CHECK(precB.block_hash == v);
  DeliverVotes(sim, A, {precB, SignVoteRaw(kd, VoteType::kPrecommit, 1, 0, v)});
  REQUIRE(sim.decisions().count(1));
  REQUIRE(sim.decisions().at(1).at(A).header.Hash() == v);

  // B crashes after its precommit left, and restarts.
  sim.Crash(B);
  sim.Start(B);
  // B and C reach round 1 by timeouts: C prevotes and precommits nil, D
  // precommits nil towards them.
  sim.Fire(C, TimeoutKind::kPropose, 1, 0);
  Vote prevC = Last(Votes(sim.node(C), VoteType::kPrevote, 0));
  DeliverVotes(sim, C, {prevA, prevD});
  DeliverVotes(sim, B, {prevA, prevD, prevC});
  sim.Fire(B, TimeoutKind::kPropose, 1, 0);
  sim.Fire(B, TimeoutKind::kPrevote, 1, 0);
  sim.Fire(C, TimeoutKind::kPrevote, 1, 0);
  Vote precC = Last(Votes(sim.node(C), VoteType::kPrecommit, 0));
  Vote precDnil = SignVoteRaw(kd, VoteType::kPrecommit, 1, 0, Hash32{});
  DeliverVotes(sim, B, {precA, precDnil, precC});
  DeliverVotes(sim, C, {precA, precDnil});
  sim.Fire(B, TimeoutKind::kPrecommit, 1, 0);
  sim.Fire(C, TimeoutKind::kPrecommit, 1, 0);
  CHECK(sim.Machine(B)->round() == 1);
  CHECK(sim.Machine(C)->round() == 1);

  // Round 1: D proposes v'; whoever prevotes it gets it, D votes for it.
  Block vb = MakeBlock(1, Hash32{}, kEpochMs + 5, kd.addr, 777);
  Proposal p1 = SignProposalRaw(kd, 1, 1, vb, -1);
  Hash32 v2 = p1.BlockHash();
  Vote prevD1 = SignVoteRaw(kd, VoteType::kPrevote, 1, 1, v2);
  sim.Deliver(B, p1);
  sim.Deliver(C, p1);
  Vote prevB1 = Last(Votes(sim.node(B), VoteType::kPrevote, 1));
  Vote prevC1 = Last(Votes(sim.node(C), VoteType::kPrevote, 1));
  CHECK(prevB1.block_hash == (mutant ? v2 : Hash32{}));  // locked on v: nil
  CHECK(prevC1.block_hash == v2);
  DeliverVotes(sim, B, {prevC1, prevD1});
  DeliverVotes(sim, C, {prevB1, prevD1});
  std::vector<Vote> precB1 = Votes(sim.node(B), VoteType::kPrecommit, 1);
  std::vector<Vote> to_c = {SignVoteRaw(kd, VoteType::kPrecommit, 1, 1, v2)};
  to_c.insert(to_c.end(), precB1.begin(), precB1.end());
  DeliverVotes(sim, C, to_c);
  sim.CheckSafety();
  return !sim.violations.empty();
}

}  // namespace

TEST_CASE("amnesia fork: one Byzantine validator and one honest restart decide no conflicting blocks") {
  CHECK_FALSE(AmnesiaFork(/*mutant=*/false));
  // The same script against a validator that forgets its lock on restart
  // forks: the scenario can fail.
  CHECK(AmnesiaFork(/*mutant=*/true));
}

namespace {

// Two honest restarts during a partition: A decides v in round 0 with B's
// and C's precommits; D is cut off; B and C crash and restart; D proposes
// v' in round 1. Returns whether honest nodes decided differently.
bool TwoRestartsInPartition(bool mutant) {
  Sim sim(202);
  sim.auto_send = false;
  const size_t A = sim.ProposerIndex(0), D = sim.ProposerIndex(1);
  std::vector<size_t> rest;
  for (size_t i = 0; i < 4; ++i)
    if (i != A && i != D) rest.push_back(i);
  const size_t B = rest[0], C = rest[1];
  sim.node(B).no_wal_on_restart = mutant;
  sim.node(C).no_wal_on_restart = mutant;
  for (size_t i = 0; i < 4; ++i) sim.Start(i);

  Proposal p0 = *ProposalOf(sim.node(A), 0);
  Hash32 v = p0.BlockHash();
  sim.Deliver(B, p0);
  sim.Deliver(C, p0);
  Vote prevA = Last(Votes(sim.node(A), VoteType::kPrevote, 0));
  Vote prevB = Last(Votes(sim.node(B), VoteType::kPrevote, 0));
  Vote prevC = Last(Votes(sim.node(C), VoteType::kPrevote, 0));
  DeliverVotes(sim, A, {prevB, prevC});
  DeliverVotes(sim, B, {prevA, prevC});
  DeliverVotes(sim, C, {prevA, prevB});
  Vote precA = Last(Votes(sim.node(A), VoteType::kPrecommit, 0));
  Vote precB = Last(Votes(sim.node(B), VoteType::kPrecommit, 0));
  Vote precC = Last(Votes(sim.node(C), VoteType::kPrecommit, 0));
  DeliverVotes(sim, A, {precB, precC});
  REQUIRE(sim.decisions().at(1).at(A).header.Hash() == v);

  // D, cut off from the proposal, sees the prevotes and precommits nil.
  sim.Fire(D, TimeoutKind::kPropose, 1, 0);
  Vote prevD = Last(Votes(sim.node(D), VoteType::kPrevote, 0));
  DeliverVotes(sim, D, {prevA, prevB, prevC});
  sim.Fire(D, TimeoutKind::kPrevote, 1, 0);
  Vote precD = Last(Votes(sim.node(D), VoteType::kPrecommit, 0));
  CHECK(precD.block_hash == Hash32{});

  sim.Crash(B);
  sim.Crash(C);
  sim.Start(B);
  sim.Start(C);
  // The partition heals between B, C and D (A's precommit stays lost).
  for (size_t x : {B, C}) {
    DeliverVotes(sim, x, {prevA, prevB, prevC, prevD});
    sim.Fire(x, TimeoutKind::kPropose, 1, 0);
    sim.Fire(x, TimeoutKind::kPrevote, 1, 0);
  }
  DeliverVotes(sim, B, {precC, precD});
  DeliverVotes(sim, C, {precB, precD});
  DeliverVotes(sim, D, {precB, precC});
  for (size_t x : {B, C, D}) sim.Fire(x, TimeoutKind::kPrecommit, 1, 0);

  // Round 1: D proposes its own new block.
  std::optional<Proposal> p1 = ProposalOf(sim.node(D), 1);
  if (p1) {
    sim.Deliver(B, *p1);
    sim.Deliver(C, *p1);
    for (int pass = 0; pass < 2; ++pass)
      for (size_t x : {B, C, D})
        for (size_t y : {B, C, D})
          if (x != y) {
            DeliverVotes(sim, y, Votes(sim.node(x), VoteType::kPrevote, 1));
            DeliverVotes(sim, y, Votes(sim.node(x), VoteType::kPrecommit, 1));
          }
  }
  sim.CheckSafety();
  return !sim.violations.empty();
}

}  // namespace

TEST_CASE("two honest restarts during a partition: no conflicting decisions") {
  CHECK_FALSE(TwoRestartsInPartition(false));
  CHECK(TwoRestartsInPartition(true));
}

namespace {

// Every validator gets the round-0 proposal and every prevote, signs its
// precommit, and crashes before any precommit arrives anywhere. Returns the
// proposal; messages flow again afterwards.
Proposal CrashAllAfterRound0Precommits(Sim& sim, bool without_wal) {
  sim.auto_send = false;
  for (size_t i = 0; i < 4; ++i) sim.node(i).no_wal_on_restart = without_wal;
  for (size_t i = 0; i < 4; ++i) sim.Start(i);
  const size_t A = sim.ProposerIndex(0);
  Proposal p0 = *ProposalOf(sim.node(A), 0);
  for (size_t i = 0; i < 4; ++i)
    if (i != A) sim.Deliver(i, p0);
  std::vector<Vote> prevotes;
  for (size_t i = 0; i < 4; ++i) prevotes.push_back(Last(Votes(sim.node(i), VoteType::kPrevote, 0)));
  for (size_t i = 0; i < 4; ++i) DeliverVotes(sim, i, prevotes);
  for (size_t i = 0; i < 4; ++i) REQUIRE(Votes(sim.node(i), VoteType::kPrecommit, 0).size() == 1);
  for (size_t i = 0; i < 4; ++i) sim.Crash(i);
  sim.auto_send = true;
  return p0;
}

}  // namespace

TEST_CASE("all four crash after signing round-0 precommits: the height decides within two rounds") {
  Sim sim(303);
  Proposal p0 = CrashAllAfterRound0Precommits(sim, /*without_wal=*/false);
  for (size_t i = 0; i < 4; ++i) sim.Start(i);  // the replay re-sends what each signed
  REQUIRE(sim.RunUntil(sim.now() + 60'000, [&] { return sim.AllHonestAt(2); }));
  sim.CheckSafety();
  CHECK(sim.violations.empty());
  for (const auto& [i, b] : sim.decisions().at(1)) CHECK(b.header.Hash() == p0.BlockHash());
}

TEST_CASE("all four restart without their WAL after signing round-0 precommits: the last signed votes are re-sent") {
  Sim sim(313);
  Proposal p0 = CrashAllAfterRound0Precommits(sim, /*without_wal=*/true);
  const size_t A = sim.ProposerIndex(0);
  for (size_t i = 0; i < 4; ++i) sim.Start(i);
  // The proposal is gone with the machines; the proposer's re-gossip is
  // gone too, so it is delivered again as a peer would.
  for (size_t i = 0; i < 4; ++i)
    if (i != A) sim.Deliver(i, p0);
  REQUIRE(sim.RunUntil(sim.now() + 60'000, [&] { return sim.AllHonestAt(2); }));
  sim.CheckSafety();
  CHECK(sim.violations.empty());
  for (const auto& [i, b] : sim.decisions().at(1)) CHECK(b.header.Hash() == p0.BlockHash());
}

TEST_CASE("a body-stripped copy of a proposal delivered first does not shadow the genuine one") {
  for (bool mutant : {false, true}) {
    CAPTURE(mutant);
    Sim sim(404);
    for (size_t i = 0; i < 4; ++i) sim.node(i).check_body = !mutant;
    sim.auto_send = false;
    for (size_t i = 0; i < 4; ++i) sim.Start(i);
    const size_t A = sim.ProposerIndex(0);
    Proposal genuine = *ProposalOf(sim.node(A), 0);
    Proposal stripped = genuine;
    stripped.block.txs.clear();  // header and signature unchanged
    REQUIRE(stripped.BlockHash() == genuine.BlockHash());
    for (size_t i = 0; i < 4; ++i)
      if (i != A) {
        sim.Deliver(i, stripped);
        sim.Deliver(i, genuine);
      }
    sim.auto_send = true;
    for (size_t i = 0; i < 4; ++i) sim.Flush(i);
    REQUIRE(sim.RunUntil(sim.now() + 60'000, [&] { return sim.AllHonestAt(2); }));
    sim.CheckSafety();
    CHECK(sim.violations.empty());
    // Decided in round 0, and the genuine block, only with the body check.
    bool genuine_in_round0 = true;
    for (size_t i = 0; i < 4; ++i) {
      const Block& b = sim.decisions().at(1).at(i);
      genuine_in_round0 = genuine_in_round0 && b.header.Hash() == genuine.BlockHash() && b.txs.size() == 2;
    }
    CHECK(genuine_in_round0 == !mutant);
  }
}

TEST_CASE("a proposer whose clock is far ahead is not prevoted; the next round decides a sane time") {
  Sim sim(505);
  const size_t A = sim.ProposerIndex(0);
  sim.node(A).skew_ms = 3'600'000;  // an hour ahead
  for (size_t i = 0; i < 4; ++i) sim.Start(i);
  REQUIRE(sim.RunUntil(sim.now() + 60'000, [&] { return sim.AllHonestAt(2); }));
  sim.CheckSafety();
  CHECK(sim.violations.empty());
  const Block& b = sim.decisions().at(1).begin()->second;
  CHECK(b.header.proposer != sim.node(A).key.addr);
  CHECK(b.header.time_ms < kEpochMs + 60'000);
}

// ---- seeded random runs ---------------------------------------------------------

namespace {

uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// One random run: 4 validators, one of them Byzantine (equivocates every
// vote), 8 s of random delays, drops, duplicates and crash-restarts of
// honest validators (several at once included), then a fault-free phase
// in which every honest node must reach two heights past the highest.
// Returns an empty string or what went wrong.
std::string RandomRun(uint64_t seed) {
  SimOptions o;
  o.interval_ms = 200;
  o.latency_min_ms = 1;
  o.latency_max_ms = 150;
  o.drop_permille = 50;
  o.dup_permille = 50;
  Sim sim(seed, o);
  Rng r{seed * 7919 + 17};
  size_t byz = r.Below(4);
  sim.node(byz).byzantine = true;
  for (size_t i = 0; i < 4; ++i) {
    sim.node(i).skew_ms = static_cast<int64_t>(r.Below(201)) - 100;
    sim.Start(i);
  }
  const uint64_t fault_end = 8'000;
  while (sim.now() < fault_end) {
    sim.RunUntil(sim.now() + 100 + r.Below(1500));
    size_t i = r.Below(4);
    if (i == byz) continue;
    if (sim.node(i).up) sim.Crash(i);
    else sim.Start(i);
    sim.SyncLagging();
  }
  sim.SetFaults(0, 0);
  for (size_t i = 0; i < 4; ++i)
    if (!sim.node(i).up) sim.Start(i);
  uint64_t target = sim.MaxHeight() + 2;
  bool live = false;
  for (int k = 0; k < 120 && !live; ++k) {
    sim.SyncLagging();
    live = sim.RunUntil(sim.now() + 1000, [&] { return sim.AllHonestAt(target); });
  }
  sim.CheckSafety();
  std::string why;
  for (const std::string& v : sim.violations) why += v + "; ";
  if (!live) {
    why += "no progress to height " + std::to_string(target) + " within 120 s after the faults stopped:";
    for (size_t i = 0; i < 4; ++i) {
      Tendermint* m = sim.Machine(i);
      why += " [node " + std::to_string(i) + (sim.node(i).byzantine ? " byzantine" : "") + " h=" +
             std::to_string(sim.Height(i)) + (m ? " r=" + std::to_string(m->round()) + " step=" +
                                                      std::to_string(static_cast<int>(m->step())) + " locked=" +
                                                      std::to_string(m->locked_round())
                                                : std::string(" no machine")) +
             "]";
    }
  }
  return why;
}

}  // namespace

TEST_CASE("seeded random runs: no safety violation, progress after faults stop") {
  // GTOS_SIM_SEED=N reruns one seed; GTOS_SIM_FIRST/GTOS_SIM_RUNS pick a range.
  uint64_t one = EnvU64("GTOS_SIM_SEED", 0);
  uint64_t first = one ? one : EnvU64("GTOS_SIM_FIRST", 1);
  uint64_t runs = one ? 1 : EnvU64("GTOS_SIM_RUNS", 200);
  size_t failures = 0;
  for (uint64_t seed = first; seed < first + runs; ++seed) {
    std::string why = RandomRun(seed);
    if (!why.empty()) {
      ++failures;
      MESSAGE("seed " << seed << " failed: " << why << " (rerun: GTOS_SIM_SEED=" << seed << ")");
    }
  }
  CHECK(failures == 0);
  MESSAGE(runs << " random runs from seed " << first);
}
