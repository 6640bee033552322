// prune_fill: builds a data directory with a long history, fast, for the
// gtos-prune benchmark (bench/prune_bench.sh) and the SIGKILL test
// (tests/node/prune_test.py).
//
//   prune_fill DATADIR BLOCKS TXS_PER_BLOCK
//
// Makes a dev-style chain in DATADIR (chain id "gtos-dev", one ed25519 key
// that is both the validator and a funded account, written unencrypted to
// DATADIR/dev.key so that `gtos-node --dev --datadir DATADIR` runs it on),
// with retain_blocks = BLOCKS + 1000 so that nothing is pruned online, then
// commits BLOCKS blocks of TXS_PER_BLOCK kv-put txs (distinct keys, 64-byte
// values) straight through lib/chain: no consensus, no fsync, and signatures
// are not made (Propose with verify_signatures off; the public key is real,
// so the txs are includable). The commit certificates are empty: the
// directory is for offline tools and a dev node, not for peers.
//
// Prints one line: blocks, txs and the seconds it took.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "chain/chain.h"
#include "crypto/sig.h"
#include "types/keys.h"
#include "types/records.h"
#include "util/file.h"

namespace {

using namespace gtos;

int Die(const std::string& what) {
  std::fprintf(stderr, "prune_fill: error: %s\n", what.c_str());
  return 1;
}

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: prune_fill DATADIR BLOCKS TXS_PER_BLOCK\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t blocks = std::strtoull(argv[2], nullptr, 10);
  const uint64_t per_block = std::strtoull(argv[3], nullptr, 10);
  auto start = std::chrono::steady_clock::now();

  const crypto::SigAlgo* algo = crypto::FindAlgo(crypto::AlgoId::kEd25519);
  crypto::SecretBytes secret(algo->generate());
  auto key = MakePrivateKey(algo->id, secret.view(), std::nullopt);
  if (!key) return Die(key.error().message);
  const Address addr = key->address();

  Genesis g;
  g.chain_id = "gtos-dev";
  uint64_t now_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
  // Blocks 1 s apart, ending a minute ago: a node started on the directory
  // goes on from there.
  g.genesis_time_ms = now_ms - (blocks + 60) * 1000;
  g.params.retain_blocks = blocks + 1000;
  g.params.max_block_txs = std::max<uint64_t>(g.params.max_block_txs, per_block);
  GenesisValidator v;
  v.chain_id = g.chain_id;
  v.algo = key->algo;
  v.public_key = key->public_key;
  v.stake = g.params.min_validator_stake;
  auto sig = algo->sign(secret.view(), v.SigningDigest());
  if (!sig) return Die(sig.error().message);
  v.signature = std::move(*sig);
  g.accounts.push_back(GenesisAccount{addr, 1'000'000'000'000'000'000ull});
  g.validators.push_back(v);
  if (auto st = chain::Chain::Init(dir, g); !st) return Die(st.error().message);
  if (auto st = WriteFileAtomic(dir + "/dev.key", EncodeRecord(*key), 0600); !st) return Die(st.error().message);

  chain::ChainOptions co;
  co.datadir = dir;
  co.sync = false;
  auto c = chain::Chain::Open(co);
  if (!c) return Die(c.error().message);
  chain::Chain& ch = **c;

  TxBody body;
  body.chain_id = g.chain_id;
  body.from = addr;
  body.payload = TxPayload{KvPutTx{B("bench"), {}, Bytes(64, 0x5a), 100'000}};
  auto fee = MinFee(body, g.params);
  if (!fee) return Die(fee.error().message);
  body.fee = *fee * 2;  // keys grow by a few bytes
  uint64_t nonce = 0;
  for (uint64_t h = 1; h <= blocks; ++h) {
    std::vector<SignedTx> txs;
    txs.reserve(per_block);
    for (uint64_t i = 0; i < per_block; ++i, ++nonce) {
      SignedTx stx;
      stx.tx = body;
      stx.tx.nonce = nonce;
      std::get<KvPutTx>(stx.tx.payload.body).key = B("k" + std::to_string(nonce));
      stx.algo = key->algo;
      stx.public_key = key->public_key;
      stx.signature = Bytes(64, 0);
      txs.push_back(std::move(stx));
    }
    auto applied = ch.Propose(std::move(txs), addr, g.genesis_time_ms + h * 1000, false, {});
    if (!applied) return Die("block " + std::to_string(h) + ": " + applied.error().message);
    if (!applied->exec.left_out.empty())
      return Die("block " + std::to_string(h) + ": a tx was left out: " + applied->exec.left_out[0].second.message);
    gtos::Commit commit;
    commit.height = h;
    commit.block_hash = applied->block.header.Hash();
    if (auto st = ch.Commit(std::move(*applied), commit); !st) return Die(st.error().message);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("prune_fill: %llu blocks, %llu txs in %.1f s\n", static_cast<unsigned long long>(blocks),
              static_cast<unsigned long long>(nonce), secs);
  return 0;
}
