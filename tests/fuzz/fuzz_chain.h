// A small deterministic chain for the fuzz targets that need real chain
// data (fuzz_jsonrpc answers queries over one) and for the seed corpus
// generator (gen_corpus.cpp: snapshot files, state values, RPC requests
// naming real blocks and accounts). Keys come from fixed seeds and block
// times are fixed, so every build produces the same bytes.
#ifndef GTOS_TESTS_FUZZ_FUZZ_CHAIN_H_
#define GTOS_TESTS_FUZZ_FUZZ_CHAIN_H_

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chain/chain.h"
#include "crypto/hash.h"
#include "crypto/sig.h"
#include "types/chain.h"
#include "types/tx.h"

namespace gtos::fuzz {

inline constexpr std::string_view kChainId = "gtos-fuzz";

struct TestKey {
  const crypto::SigAlgo* algo = nullptr;
  Bytes secret;
  Bytes pub;
  Address addr;
};

template <class T>
T Must(Result<T> r, std::string_view what) {
  if (!r) {
    std::fprintf(stderr, "fuzz_chain: %.*s: %s\n", static_cast<int>(what.size()), what.data(), r.error().message.c_str());
    std::abort();
  }
  return std::move(*r);
}
inline void Must(const Status& s, std::string_view what) {
  if (!s) {
    std::fprintf(stderr, "fuzz_chain: %.*s: %s\n", static_cast<int>(what.size()), what.data(), s.error().message.c_str());
    std::abort();
  }
}

// A key of `algo` ("ed25519", "secp256k1", "secp256r1") derived from `seed`.
inline TestKey MakeKey(std::string_view seed, std::string_view algo = "ed25519") {
  TestKey k;
  k.algo = crypto::FindAlgo(algo);
  if (!k.algo) std::abort();
  Hash32 s = crypto::Sha256(AsBytes(seed));
  k.secret.assign(s.v.begin(), s.v.end());
  k.pub = Must(k.algo->derive_public(k.secret), "derive_public");
  k.addr = crypto::DeriveAddress(k.algo->id, k.pub);
  return k;
}

struct Keys {
  TestKey validator = MakeKey("gtos-fuzz/validator");
  TestKey alice = MakeKey("gtos-fuzz/alice", "secp256k1");
  TestKey bob = MakeKey("gtos-fuzz/bob", "secp256r1");
};

inline const Keys& K() {
  static const Keys keys;
  return keys;
}

// One validator (K().validator), three funded accounts, epochs of 4 blocks.
inline Genesis TestGenesis() {
  const Keys& k = K();
  Genesis g;
  g.chain_id = std::string(kChainId);
  g.genesis_time_ms = 1'700'000'000'000;
  g.params.max_ttl = 50;
  g.params.unbonding_blocks = 4;
  g.params.min_validator_stake = 1'000'000;
  g.params.epoch_length = 4;
  for (const TestKey* a : {&k.validator, &k.alice, &k.bob}) g.accounts.push_back(GenesisAccount{a->addr, 1'000'000'000});
  std::sort(g.accounts.begin(), g.accounts.end(),
            [](const GenesisAccount& x, const GenesisAccount& y) { return x.address < y.address; });
  GenesisValidator v;
  v.chain_id = g.chain_id;
  v.algo = static_cast<uint64_t>(k.validator.algo->id);
  v.public_key = k.validator.pub;
  v.stake = 2'000'000;
  v.p2p_addr = "127.0.0.1:26656";
  v.signature = Must(k.validator.algo->sign(k.validator.secret, v.SigningDigest()), "sign gentx");
  g.validators.push_back(v);
  Must(g.ValidateFull(), "genesis");
  return g;
}

inline SignedTx Tx(const TestKey& k, uint64_t nonce, TxPayload p) {
  TxBody b;
  b.chain_id = std::string(kChainId);
  b.from = k.addr;
  b.nonce = nonce;
  b.payload = std::move(p);
  b.fee = Must(MinFee(b, TestGenesis().params), "min fee");
  return Must(SignTx(b, *k.algo, k.secret, k.pub), "sign tx");
}

inline TxPayload KvPut(std::string_view key, std::string_view value, uint64_t ttl) {
  return TxPayload{KvPutTx{Bytes{'a', 'p', 'p'}, Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end()), ttl}};
}

// A commit of `h` signed by the (single) validator.
inline Commit SignCommit(const BlockHeader& h) {
  Commit cm;
  cm.height = h.height;
  cm.block_hash = h.Hash();
  cm.signatures.push_back(CommitSig{K().validator.addr, {}});
  Vote vote = cm.VoteOf(0);
  cm.signatures.back().signature =
      Must(K().validator.algo->sign(K().validator.secret, vote.SigningDigest(h.chain_id)), "sign precommit");
  return cm;
}

// Block h's transactions: KV puts by alice and bob, code by the validator,
// a transfer, and at height 2 a signer binding and an unbond.
inline std::vector<SignedTx> BlockTxs(uint64_t h) {
  const Keys& k = K();
  std::vector<SignedTx> txs;
  txs.push_back(Tx(k.alice, h - 1, KvPut("key-" + std::to_string(h % 3), std::string(10 + h, 'v'), 3 + h)));
  txs.push_back(Tx(k.bob, 2 * (h - 1), KvPut("k" + std::to_string(h), "value", 40)));
  txs.push_back(Tx(k.bob, 2 * (h - 1) + 1, TxPayload{TransferTx{k.alice.addr, 1000 + h}}));
  if (h == 1) txs.push_back(Tx(k.validator, 0, TxPayload{CodePutTx{Bytes{0x60, 0x00, 0x60, 0x01}, 20}}));
  if (h == 2) {
    txs.push_back(Tx(k.validator, 1, TxPayload{ValidatorUnbondTx{1}}));
    txs.push_back(Tx(k.validator, 2, TxPayload{SetSignerTx{static_cast<uint64_t>(k.validator.algo->id), k.validator.pub}}));
  }
  return txs;
}

// Initialises `dir` and commits `height` blocks of BlockTxs.
inline std::unique_ptr<chain::Chain> BuildChain(const std::string& dir, uint64_t height) {
  Must(chain::Chain::Init(dir, TestGenesis()), "init");
  chain::ChainOptions o;
  o.datadir = dir;
  o.sync = false;
  auto c = Must(chain::Chain::Open(o), "open");
  for (uint64_t h = 1; h <= height; ++h) {
    auto a = Must(c->Propose(BlockTxs(h), K().validator.addr, c->head().time_ms + 1000, true, {}), "propose");
    for (const Receipt& r : a.exec.receipts)
      if (r.status != 0) std::abort();
    BlockHeader hdr = a.block.header;
    Must(c->Commit(std::move(a), SignCommit(hdr)), "commit");
  }
  return c;
}

}  // namespace gtos::fuzz

#endif  // GTOS_TESTS_FUZZ_FUZZ_CHAIN_H_
