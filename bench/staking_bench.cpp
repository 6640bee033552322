// Cost of delegation bookkeeping per block (issue 13's acceptance figures).
//
//   build/tests/staking_bench [validators=100] [delegations=10000]
//
// Builds a chain in a temporary directory with `validators` genesis
// validators and `delegations` delegators (one delegation each, spread over
// the validators), then times the execution (Chain::Propose) of ordinary
// blocks, whose only staking work is paying the block reward to the
// signers, and of an epoch boundary block, which chooses the next set. Each
// block's commit is signed by every member, then (blocks 9-15) by all but a
// tenth of them, whose downtime bitmaps are then written every block.
// Prints milliseconds.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "chain/chain.h"
#include "crypto/hash.h"
#include "crypto/sig.h"
#include "types/records.h"

using namespace gtos;

namespace {

struct Key {
  Bytes secret, pub;
  Address addr;
};

const crypto::SigAlgo& Ed() { return *crypto::FindAlgo("ed25519"); }

Key MakeKey(const std::string& seed) {
  Key k;
  Hash32 s = crypto::Sha256(AsBytes(seed));
  k.secret.assign(s.v.begin(), s.v.end());
  k.pub = *Ed().derive_public(k.secret);
  k.addr = crypto::DeriveAddress(Ed().id, k.pub);
  return k;
}

int Die(const std::string& what, const Error& e) {
  std::fprintf(stderr, "fatal: %s: %s\n", what.c_str(), e.message.c_str());
  return 1;
}

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  size_t nv = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100;
  size_t nd = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 10'000;
  const uint64_t kMin = 1'000'000;
  std::vector<Key> vals, dels;
  std::map<Bytes, const Key*> by_pub;
  for (size_t i = 0; i < nv; ++i) vals.push_back(MakeKey("bench-validator-" + std::to_string(i)));
  for (size_t i = 0; i < nd; ++i) dels.push_back(MakeKey("bench-delegator-" + std::to_string(i)));
  for (const Key& k : vals) by_pub[k.pub] = &k;

  Genesis g;
  g.chain_id = "gtos-staking-bench";
  g.genesis_time_ms = 1'700'000'000'000;
  g.params.epoch_length = 8;
  g.params.max_validators = nv;
  g.params.min_validator_stake = kMin;
  g.params.block_reward = 1'000;
  for (const Key& k : vals) g.accounts.push_back(GenesisAccount{k.addr, 1'000 * kMin});
  for (const Key& k : dels) g.accounts.push_back(GenesisAccount{k.addr, 1'000 * kMin});
  std::sort(g.accounts.begin(), g.accounts.end(),
            [](const GenesisAccount& x, const GenesisAccount& y) { return x.address < y.address; });
  for (size_t i = 0; i < nv; ++i) {
    GenesisValidator v;
    v.chain_id = g.chain_id;
    v.algo = static_cast<uint64_t>(Ed().id);
    v.public_key = vals[i].pub;
    v.stake = kMin * (1 + i % 7);
    v.signature = *Ed().sign(vals[i].secret, v.SigningDigest());
    g.validators.push_back(v);
  }
  std::sort(g.validators.begin(), g.validators.end(),
            [](const GenesisValidator& x, const GenesisValidator& y) { return x.address() < y.address(); });

  std::string dir = (std::filesystem::temp_directory_path() / "gtos-staking-bench-XXXXXX").string();
  if (!mkdtemp(dir.data())) return 1;
  std::string path = dir + "/chain";
  if (auto st = chain::Chain::Init(path, g); !st) return Die("init", st.error());
  chain::ChainOptions o;
  o.datadir = path;
  o.sync = false;
  auto c = chain::Chain::Open(o);
  if (!c) return Die("open", c.error());
  chain::Chain& ch = **c;

  std::set<Address> absent;  // left out of the commits (downtime bookkeeping)
  auto commit_of = [&](const BlockHeader& h) {
    gtos::Commit cm;
    cm.height = h.height;
    cm.block_hash = h.Hash();
    auto set = ch.ValidatorSetFor(h.height);
    for (const consensus::Validator& v : set->validators()) {
      if (absent.contains(v.address)) continue;
      const Key* k = by_pub.at(v.consensus_key);
      Vote vote;
      vote.type = static_cast<uint64_t>(VoteType::kPrecommit);
      vote.height = h.height;
      vote.block_hash = cm.block_hash;
      vote.validator = v.address;
      cm.signatures.push_back(CommitSig{v.address, *Ed().sign(k->secret, vote.SigningDigest(h.chain_id))});
    }
    return cm;
  };
  // Executes (timed) and commits one block; returns its execution time.
  auto block = [&](std::vector<SignedTx> txs) -> double {
    auto next = ch.ValidatorSetFor(ch.height() + 1);
    Address proposer = next->validators().front().address;
    auto t0 = std::chrono::steady_clock::now();
    auto a = ch.Propose(std::move(txs), proposer, ch.head().time_ms + 1000, /*verify_signatures=*/false, {});
    auto t1 = std::chrono::steady_clock::now();
    if (!a) {
      Die("propose", a.error());
      std::exit(1);
    }
    BlockHeader h = a->block.header;
    if (auto st = ch.Commit(std::move(*a), commit_of(h)); !st) {
      Die("commit", st.error());
      std::exit(1);
    }
    return Ms(t1 - t0);
  };

  // Block 1: every delegator delegates once (its validator by index).
  std::vector<SignedTx> txs;
  for (size_t i = 0; i < nd; ++i) {
    TxBody b;
    b.chain_id = g.chain_id;
    b.from = dels[i].addr;
    b.payload = TxPayload{DelegateTx{vals[i % nv].addr, 1'000 + i}};
    b.fee = *MinFee(b, g.params);
    txs.push_back(*SignTx(b, Ed(), dels[i].secret, dels[i].pub));
  }
  double first = block(std::move(txs));
  std::printf("validators %zu, delegations %zu (+%zu self-bonds)\n", nv, nd, nv);
  std::printf("block 1 (%zu delegate txs): %.2f ms\n", nd, first);
  std::vector<double> plain;
  for (uint64_t h = 2; h < 8; ++h) plain.push_back(block({}));
  double boundary = block({});  // block 8: epoch boundary
  std::sort(plain.begin(), plain.end());
  std::printf("empty block, rewards to %zu signers: median %.3f ms (min %.3f, max %.3f)\n", nv,
              plain[plain.size() / 2], plain.front(), plain.back());
  std::printf("epoch boundary block (set of %zu chosen): %.3f ms\n", nv, boundary);
  // Blocks 9-15 with a tenth of the members missing from every commit: each
  // block sets one liveness bit (and writes one L entry) per absent member.
  for (size_t i = 0; i < nv / 10; ++i) absent.insert(vals[i].addr);
  std::vector<double> missing;
  for (uint64_t h = 9; h < 16; ++h) missing.push_back(block({}));
  std::sort(missing.begin(), missing.end());
  std::printf("empty block, %zu of %zu signers missing (liveness bits written): median %.3f ms (max %.3f)\n",
              absent.size(), nv, missing[missing.size() / 2], missing.back());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
