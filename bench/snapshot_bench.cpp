// Snapshot micro bench (docs/snapshots.md): create, verify and restore
// records/s over a state of N KV entries (default 1,000,000).
//
//   snapshot_bench [N] [WORKDIR]
//
// Builds a one-validator chain whose height-0 state is the genesis plus N
// stored KV objects written straight into the store (with the matching
// accumulator), commits block 1 with a signed commit, then times
// snapshot::Create, snapshot::Verify and snapshot::Restore. Prints one line
// per step: "create 1000012 records 1.23 s 812345 records/s".
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "chain/chain.h"
#include "chain/snapshot.h"
#include "crypto/hash.h"
#include "crypto/sig.h"
#include "state/executor.h"
#include "state/schema.h"
#include "types/records.h"

using namespace gtos;
namespace schema = state::schema;

namespace {

[[noreturn]] void Die(const std::string& what, const Error& e) {
  std::fprintf(stderr, "snapshot_bench: %s: %s\n", what.c_str(), e.message.c_str());
  std::exit(1);
}
template <class T>
T Must(Result<T> r, const std::string& what) {
  if (!r) Die(what, r.error());
  return std::move(*r);
}
void Must(Status s, const std::string& what) {
  if (!s) Die(what, s.error());
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Report(const char* step, uint64_t records, double s) {
  std::printf("%-8s %llu records %.2f s %.0f records/s\n", step, static_cast<unsigned long long>(records), s,
              records / s);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = argc > 1 ? std::stoull(argv[1]) : 1'000'000;
  std::string work = argc > 2 ? argv[2] : (std::filesystem::temp_directory_path() / "gtos-snapshot-bench").string();
  std::filesystem::remove_all(work);
  const crypto::SigAlgo* algo = crypto::FindAlgo("ed25519");
  Hash32 seed = crypto::Sha256(AsBytes(std::string_view("snapshot-bench/validator")));
  Bytes secret(seed.v.begin(), seed.v.end());
  Bytes pub = Must(algo->derive_public(secret), "key");
  Address addr = crypto::DeriveAddress(algo->id, pub);

  Genesis g;
  g.chain_id = "gtos-snapshot-bench";
  g.genesis_time_ms = 1'700'000'000'000;
  g.accounts.push_back(GenesisAccount{addr, 1'000'000'000});
  GenesisValidator v;
  v.chain_id = g.chain_id;
  v.algo = static_cast<uint64_t>(algo->id);
  v.public_key = pub;
  v.stake = g.params.min_validator_stake;
  v.signature = Must(algo->sign(secret, v.SigningDigest()), "sign gentx");
  g.validators.push_back(v);
  std::string dir = work + "/chain";
  Must(chain::Chain::Init(dir, g), "init");

  {  // N KV objects at height 0, with their expiry index and accumulator.
    state::StoreOptions so;
    so.path = dir + "/db";
    so.sync = false;
    auto store = Must(state::Store::Open(so), "open store");
    auto acc_bytes = Must(store->Get(schema::MetaKey(schema::kMetaAccumulator)), "accumulator");
    state::LtHash acc = Must(state::LtHash::Parse(AsBytes(*acc_bytes)), "parse accumulator");
    state::WriteBatch b;
    for (uint64_t i = 0; i < n; ++i) {
      std::string key = "item-" + std::to_string(i);
      StoredObject o{0, 1'000'000 + i % 1000, Bytes(48, static_cast<uint8_t>(i))};
      std::string k = schema::KvKey(addr, AsBytes(std::string_view("bench")), AsBytes(key));
      std::string val = state::EncodeValue(o);
      b.Put(k, val);
      b.Put(schema::ExpiryKey(o.expire_block, k), "");
      acc.Add(state::StateElement(k, val));
      if (b.ApproximateSize() > (8 << 20)) {
        Must(store->WriteUnsynced(b), "write");
        b = state::WriteBatch();
      }
    }
    BlockHeader h0 = Must(DecodeRecord<BlockHeader>(AsBytes(*Must(store->Get(schema::HeightKey(schema::kHeader, 0)), "h0"))), "h0");
    h0.state_root = acc.Digest();
    Bytes hb = EncodeRecord(h0);
    b.Put(schema::HeightKey(schema::kHeader, 0), std::string(hb.begin(), hb.end()));
    Bytes ab = acc.Serialize();
    b.Put(schema::MetaKey(schema::kMetaAccumulator), std::string(ab.begin(), ab.end()));
    Must(store->Write(b), "write");
  }
  chain::ChainOptions co;
  co.datadir = dir;
  co.sync = false;
  auto c = Must(chain::Chain::Open(co), "open chain");
  auto applied = Must(c->Propose({}, addr, c->head().time_ms + 1000, false, {}), "propose");
  BlockHeader h = applied.block.header;
  Commit cm;
  cm.height = h.height;
  cm.block_hash = h.Hash();
  cm.signatures.push_back(CommitSig{addr, {}});
  cm.signatures[0].signature = Must(algo->sign(secret, cm.VoteOf(0).SigningDigest(h.chain_id)), "sign commit");
  Must(c->Commit(std::move(applied), cm), "commit");

  std::string file = work + "/s.gsnap";
  auto t0 = std::chrono::steady_clock::now();
  Must(snapshot::Create(*c->store().NewReadView(), file), "create");
  double create_s = Seconds(t0);
  auto info = Must(snapshot::ReadInfo(file), "info");
  Report("create", info.entries, create_s);
  t0 = std::chrono::steady_clock::now();
  Must(snapshot::Verify(file, &g), "verify");
  Report("verify", info.entries, Seconds(t0));
  t0 = std::chrono::steady_clock::now();
  Must(snapshot::Restore(file, work + "/restored", g), "restore");
  Report("restore", info.entries, Seconds(t0));
  std::printf("file     %llu bytes, %llu chunks\n", static_cast<unsigned long long>(info.file_bytes),
              static_cast<unsigned long long>(info.chunks));
  c.reset();
  std::filesystem::remove_all(work);
  return 0;
}
