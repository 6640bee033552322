// State snapshots (docs/snapshots.md): deterministic files, verification
// from genesis through a validator set change, tamper and truncation
// errors naming the chunk, and restore into a chain that continues exactly
// like the original.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "chain/chain.h"
#include "chain/snapshot.h"
#include "chain/snapshot_chunk.h"
#include "crypto/hash.h"
#include "crypto/sig.h"
#include "state/executor.h"
#include "state/schema.h"
#include "types/json.h"
#include "types/records.h"
#include "util/file.h"

using namespace gtos;
namespace fs = std::filesystem;
namespace schema = gtos::state::schema;

namespace {

constexpr std::string_view kChainId = "gtos-snapshot-test";
constexpr uint64_t kMinStake = 1'000'000;
constexpr uint64_t kRich = 1'000'000'000;

template <class T>
void RequireOk(const Result<T>& r, std::string_view what) {
  if (!r) FAIL(what, ": ", r.error().message);
}

struct TestKey {
  const crypto::SigAlgo* algo = nullptr;
  Bytes secret;
  Bytes pub;
  Address addr;
};

TestKey MakeKey(std::string_view seed) {
  TestKey k;
  k.algo = crypto::FindAlgo("ed25519");
  REQUIRE(k.algo != nullptr);
  Hash32 s = crypto::Sha256(AsBytes(seed));
  k.secret.assign(s.v.begin(), s.v.end());
  auto pub = k.algo->derive_public(k.secret);
  RequireOk(pub, "derive_public");
  k.pub = *pub;
  k.addr = crypto::DeriveAddress(k.algo->id, k.pub);
  return k;
}

struct Keys {
  TestKey validator = MakeKey("gtos-snapshot-test/validator");
  TestKey alice = MakeKey("gtos-snapshot-test/alice");
  TestKey bob = MakeKey("gtos-snapshot-test/bob");
  TestKey consensus = MakeKey("gtos-snapshot-test/consensus");  // alice's consensus key
};

const Keys& K() {
  static const Keys keys;
  return keys;
}

Genesis TestGenesis(uint64_t epoch_length = 4, std::string_view chain_id = kChainId) {
  const Keys& k = K();
  Genesis g;
  g.chain_id = std::string(chain_id);
  g.genesis_time_ms = 1'700'000'000'000;
  g.params.max_ttl = 50;
  g.params.unbonding_blocks = 4;
  g.params.min_validator_stake = kMinStake;
  g.params.epoch_length = epoch_length;
  for (const TestKey* a : {&k.validator, &k.alice, &k.bob}) g.accounts.push_back(GenesisAccount{a->addr, kRich});
  std::sort(g.accounts.begin(), g.accounts.end(),
            [](const GenesisAccount& x, const GenesisAccount& y) { return x.address < y.address; });
  GenesisValidator v;
  v.chain_id = g.chain_id;
  v.algo = static_cast<uint64_t>(k.validator.algo->id);
  v.public_key = k.validator.pub;
  v.stake = kMinStake;
  auto sig = k.validator.algo->sign(k.validator.secret, v.SigningDigest());
  RequireOk(sig, "sign gentx");
  v.signature = *sig;
  g.validators.push_back(v);
  RequireOk(g.ValidateFull(), "genesis");
  return g;
}

SignedTx Tx(const TestKey& k, uint64_t nonce, const TxPayload& p) {
  TxBody b;
  b.chain_id = std::string(kChainId);
  b.from = k.addr;
  b.nonce = nonce;
  b.payload = p;
  auto fee = MinFee(b, TestGenesis().params);
  RequireOk(fee, "min fee");
  b.fee = *fee;
  auto stx = SignTx(b, *k.algo, k.secret, k.pub);
  RequireOk(stx, "sign tx");
  return *stx;
}

TxPayload KvPut(std::string_view key, std::string_view value, uint64_t ttl) {
  return TxPayload{KvPutTx{Bytes{'n', 's'}, Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end()), ttl}};
}
TxPayload CodePut(std::string_view code, uint64_t ttl) {
  return TxPayload{CodePutTx{Bytes(code.begin(), code.end()), ttl}};
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "gtos-snapshot-test-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A commit of `h` signed by every member of the set for its height.
Commit SignCommit(const chain::Chain& c, const BlockHeader& h) {
  auto set = c.ValidatorSetFor(h.height);
  RequireOk(set, "set for height");
  Commit cm;
  cm.height = h.height;
  cm.block_hash = h.Hash();
  for (const auto& v : set->validators()) {
    const TestKey* signer = nullptr;
    for (const TestKey* k : {&K().validator, &K().consensus})
      if (k->pub == v.consensus_key) signer = k;
    REQUIRE(signer != nullptr);
    cm.signatures.push_back(CommitSig{v.address, {}});
    Vote vote = cm.VoteOf(cm.signatures.size() - 1);
    auto sig = signer->algo->sign(signer->secret, vote.SigningDigest(h.chain_id));
    RequireOk(sig, "sign precommit");
    cm.signatures.back().signature = *sig;
  }
  return cm;
}

std::unique_ptr<chain::Chain> OpenChain(const std::string& dir) {
  chain::ChainOptions o;
  o.datadir = dir;
  o.sync = false;
  auto c = chain::Chain::Open(o);
  RequireOk(c, "open " + dir);
  return std::move(*c);
}

void Produce(chain::Chain& c, std::vector<SignedTx> txs, std::vector<Evidence> evidence = {}) {
  size_t pieces = evidence.size();
  auto a = c.Propose(std::move(txs), K().validator.addr, c.head().time_ms + 1000, true, std::move(evidence));
  RequireOk(a, "propose");
  REQUIRE(a->block.evidence.size() == pieces);
  for (const Receipt& r : a->exec.receipts) CHECK(r.status == 0);
  BlockHeader h = a->block.header;
  RequireOk(c.Commit(std::move(*a), SignCommit(c, h)), "commit");
}

// Block `h` of the test chain: KV puts with short TTLs (some expire inside
// the chain, some after it), overwrites, code, and at height 2 alice
// registers as a validator, so the set changes at the boundary of height 4.
std::vector<SignedTx> BlockTxs(uint64_t h) {
  const Keys& k = K();
  std::vector<SignedTx> txs;
  uint64_t bob_nonce = (h - 1) * 3;
  for (uint64_t i = 0; i < 3; ++i) {
    std::string key = "key-" + std::to_string((h * 7 + i) % 11);
    std::string value(40 + (h * 13 + i * 5) % 200, static_cast<char>('a' + (h + i) % 26));
    txs.push_back(Tx(k.bob, bob_nonce + i, KvPut(key, value, 2 + (h + i) % 9)));
  }
  if (h == 2)
    txs.push_back(Tx(k.alice, 0, TxPayload{ValidatorRegisterTx{3 * kMinStake, static_cast<uint64_t>(k.consensus.algo->id),
                                                               k.consensus.pub}}));
  if (h % 5 == 1) txs.push_back(Tx(k.validator, h / 5, CodePut("code-" + std::to_string(h), 3)));
  return txs;
}

// Block `h`'s evidence: at 13, alice (in the set from 5 on, consensus key
// `consensus`) double-signs height 12, so the state at 13..16 holds a slash
// record (E) and alice leaves the set at the boundary 16.
std::vector<Evidence> BlockEvidence(uint64_t h) {
  if (h != 13) return {};
  Evidence e;
  for (Statement* v : {&e.a, &e.b}) {
    v->type = static_cast<uint64_t>(VoteType::kPrecommit);
    v->height = 12;
    v->validator = K().alice.addr;
    v->block_hash = crypto::Sha256(AsBytes(v == &e.a ? "a" : "b"));
    auto sig = K().consensus.algo->sign(K().consensus.secret, v->SigningDigest(kChainId));
    RequireOk(sig, "sign vote");
    v->signature = *sig;
  }
  return {e};
}

// A chain in dir/chain, run to `height` with BlockTxs and BlockEvidence.
std::unique_ptr<chain::Chain> BuildChain(const std::string& dir, uint64_t height) {
  RequireOk(chain::Chain::Init(dir, TestGenesis()), "init");
  auto c = OpenChain(dir);
  for (uint64_t h = 1; h <= height; ++h) Produce(*c, BlockTxs(h), BlockEvidence(h));
  return c;
}

Bytes ReadAll(const std::string& path) {
  auto b = ReadFile(path);
  RequireOk(b, "read " + path);
  return *b;
}

void WriteAll(const std::string& path, const Bytes& b) { RequireOk(WriteFileAtomic(path, b), "write " + path); }

std::string ErrorOf(const Result<snapshot::Manifest>& r) { return r ? std::string("ok") : r.error().message; }

// Offsets of each chunk record in a snapshot file.
std::vector<size_t> ChunkOffsets(const std::string& path) {
  auto m = snapshot::ReadManifest(path);
  RequireOk(m, "read manifest");
  std::vector<size_t> out;
  size_t off = EncodeRecord(*m).size();
  for (const auto& c : m->chunks) {
    out.push_back(off);
    off += c.bytes;
  }
  return out;
}

std::map<std::string, std::string> Table(const chain::Chain& c, char table) {
  std::map<std::string, std::string> m;
  RequireOk(c.store().Scan(std::string(1, table),
                           [&m](std::string_view k, std::string_view v) {
                             m.emplace(k, v);
                             return true;
                           }),
            "scan");
  return m;
}

constexpr uint64_t kHeight = 14;        // epochs of 4: boundaries 4, 8, 12; the set changes at 4
constexpr uint64_t kSmallBudget = 512;  // several chunks from a small state

}  // namespace

TEST_CASE("snapshot: two identical chains give byte-identical files that verify") {
  TempDir d1, d2;
  auto c1 = BuildChain(d1.path + "/chain", kHeight);
  auto c2 = BuildChain(d2.path + "/chain", kHeight);
  CHECK(c1->head().Hash() == c2->head().Hash());
  std::string f1 = d1.path + "/s.gsnap", f2 = d2.path + "/s.gsnap";
  auto v1 = c1->store().NewReadView();
  RequireOk(snapshot::Create(*v1, f1), "create 1");
  RequireOk(snapshot::Create(*c2->store().NewReadView(), f2), "create 2");
  CHECK(ReadAll(f1) == ReadAll(f2));
  // Only the snapshot is left beside it.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(d1.path)) files += e.path().filename() != "chain";
  CHECK(files == 1);

  Genesis g = TestGenesis();
  auto m = snapshot::Verify(f1, &g);
  RequireOk(m, "verify");
  CHECK(m->height == kHeight);
  CHECK(m->header.state_root == c1->head().state_root);
  CHECK(m->set_history.size() == kHeight / 4 + 1);
  // The change at height 5 (header 4), and every boundary from height
  // 14 + 1 - unbonding_blocks (4) - epoch_length (4) = 7 on: 8 and 12.
  REQUIRE(m->epoch_proofs.size() == 3);
  CHECK(m->epoch_proofs[0].header.height == 4);
  CHECK(m->epoch_proofs[1].header.height == 8);
  CHECK(m->epoch_proofs[2].header.height == 12);
  RequireOk(snapshot::Verify(f1, nullptr), "verify without a genesis");

  // A view taken before more blocks commit still snapshots its own height.
  Produce(*c1, BlockTxs(kHeight + 1));
  std::string f3 = d1.path + "/s3.gsnap";
  RequireOk(snapshot::Create(*v1, f3), "create from an old view");
  CHECK(ReadAll(f3) == ReadAll(f1));

  auto info = snapshot::ReadInfo(f1);
  RequireOk(info, "info");
  CHECK(info->height == kHeight);
  CHECK(info->hash == m->Hash());
  CHECK(info->file_bytes == ReadAll(f1).size());
}

TEST_CASE("snapshot: the generic record codec reads and writes the same bytes (gtos-inspect)") {
  TempDir d;
  auto c = BuildChain(d.path + "/chain", 6);
  std::string f = d.path + "/s.gsnap";
  RequireOk(snapshot::Create(*c->store().NewReadView(), f, {}, kSmallBudget), "create");
  Bytes file = ReadAll(f);
  auto m = snapshot::ReadManifest(f);
  RequireOk(m, "manifest");
  CHECK(m->chunks.size() > 2);
  Bytes mbytes = EncodeRecord(*m);
  CHECK(Bytes(file.begin(), file.begin() + mbytes.size()) == mbytes);
  auto any = DecodeAny(mbytes);
  RequireOk(any, "decode any manifest");
  CHECK(std::holds_alternative<snapshot::Manifest>(*any));

  size_t off = mbytes.size();
  uint64_t entries = 0;
  for (size_t i = 0; i < m->chunks.size(); ++i) {
    Bytes cb(file.begin() + off, file.begin() + off + m->chunks[i].bytes);
    off += cb.size();
    RequireOk(snapshot::CheckChunkBytes(*m, i, cb), "check chunk bytes");
    auto chunk = DecodeRecord<snapshot::Chunk>(cb);
    RequireOk(chunk, "decode chunk");
    CHECK(chunk->index == i);
    CHECK(EncodeRecord(*chunk) == cb);
    entries += chunk->entries.size();
    // Every encoded entry is the state element of the accumulator.
    for (const auto& [k, v] : chunk->entries) {
      std::string_view ks(reinterpret_cast<const char*>(k.data()), k.size());
      CHECK(schema::IsStateKey(ks));
    }
  }
  CHECK(off == file.size());
  CHECK(entries == m->total_entries);
  Bytes wrong = Bytes(file.begin() + mbytes.size(), file.begin() + mbytes.size() + m->chunks[0].bytes);
  wrong[wrong.size() / 2] ^= 1;
  auto st = snapshot::CheckChunkBytes(*m, 0, wrong);
  REQUIRE(!st);
  CHECK(st.error().message == "chunk 1 of " + std::to_string(m->chunks.size()) + ": hash mismatch");
  RequireOk(snapshot::Verify(f, nullptr), "verify small chunks");
}

TEST_CASE("snapshot: tampering, truncation, a wrong genesis and a wrong root fail naming what") {
  TempDir d;
  auto c = BuildChain(d.path + "/chain", kHeight);
  std::string f = d.path + "/s.gsnap";
  RequireOk(snapshot::Create(*c->store().NewReadView(), f, {}, kSmallBudget), "create");
  Bytes good = ReadAll(f);
  auto offsets = ChunkOffsets(f);
  const size_t n = offsets.size();
  REQUIRE(n >= 3);
  std::string of_n = " of " + std::to_string(n);
  std::string t = d.path + "/t.gsnap";

  SUBCASE("a flipped byte in a chunk") {
    Bytes b = good;
    b[offsets[1] + 40] ^= 0x01;
    WriteAll(t, b);
    CHECK(ErrorOf(snapshot::Verify(t, nullptr)) == "chunk 2" + of_n + ": hash mismatch");
  }
  SUBCASE("truncated at a chunk boundary and inside a chunk") {
    WriteAll(t, Bytes(good.begin(), good.begin() + offsets[n - 1]));
    CHECK(ErrorOf(snapshot::Verify(t, nullptr)) == "chunk " + std::to_string(n) + of_n + ": missing (file truncated)");
    WriteAll(t, Bytes(good.begin(), good.begin() + offsets[n - 1] + 5));
    CHECK(ErrorOf(snapshot::Verify(t, nullptr)) == "chunk " + std::to_string(n) + of_n + ": truncated");
    WriteAll(t, Bytes(good.begin(), good.begin() + 10));
    CHECK(ErrorOf(snapshot::Verify(t, nullptr)).find("manifest") != std::string::npos);
  }
  SUBCASE("trailing bytes") {
    Bytes b = good;
    b.push_back(0);
    WriteAll(t, b);
    CHECK(ErrorOf(snapshot::Verify(t, nullptr)) == "trailing bytes after chunk " + std::to_string(n) + of_n);
  }
  SUBCASE("a different genesis") {
    Genesis other = TestGenesis(4, "gtos-other-chain");
    CHECK(ErrorOf(snapshot::Verify(f, &other)).find("another genesis") != std::string::npos);
  }
  SUBCASE("manifest edits: a rehashed chunk, a state root, a commit, an epoch proof") {
    auto m = snapshot::ReadManifest(f);
    RequireOk(m, "manifest");
    auto rewrite = [&](const snapshot::Manifest& mm, Bytes chunks) {
      Bytes b = EncodeRecord(mm);
      b.insert(b.end(), chunks.begin(), chunks.end());
      WriteAll(t, b);
    };
    Bytes chunks(good.begin() + offsets[0], good.end());
    {
      // A changed value with the chunk hash fixed up: the sum betrays it.
      snapshot::Manifest mm = *m;
      Bytes ch = chunks;
      size_t at = offsets[1] - offsets[0] + 60;
      ch[at] ^= 0x01;
      Bytes c1(ch.begin() + (offsets[1] - offsets[0]), ch.begin() + (offsets[2] - offsets[0]));
      mm.chunks[1].hash = crypto::Sha256(c1);
      rewrite(mm, ch);
      std::string e = ErrorOf(snapshot::Verify(t, nullptr));
      CHECK((e.find("state root mismatch") == 0 || e.find("chunk 2") == 0));
    }
    {
      snapshot::Manifest mm = *m;
      mm.header.state_root.v[0] ^= 1;
      rewrite(mm, chunks);
      CHECK(ErrorOf(snapshot::Verify(t, nullptr)).find("field 'header': the commit is for another block") == 0);
    }
    {
      snapshot::Manifest mm = *m;
      mm.commit.signatures.at(0).signature.at(3) ^= 1;
      rewrite(mm, chunks);
      CHECK(ErrorOf(snapshot::Verify(t, nullptr)).find("field 'header': commit") == 0);
    }
    {
      snapshot::Manifest mm = *m;
      mm.epoch_proofs.clear();
      rewrite(mm, chunks);
      CHECK(ErrorOf(snapshot::Verify(t, nullptr)).find("field 'set_history': entry 1") == 0);
    }
    {
      // An unchanged set inside the evidence window must be proven too
      // (else A -> B -> A could be claimed as A, A, A).
      snapshot::Manifest mm = *m;
      mm.epoch_proofs.erase(mm.epoch_proofs.begin() + 1);
      rewrite(mm, chunks);
      CHECK(ErrorOf(snapshot::Verify(t, nullptr)).find("field 'set_history': entry 2: no epoch proof has the header of height 8") == 0);
    }
    {
      snapshot::Manifest mm = *m;
      mm.epoch_proofs.at(0).commit.signatures.clear();
      rewrite(mm, chunks);
      CHECK(ErrorOf(snapshot::Verify(t, nullptr)).find("field 'epoch_proofs': entry 0") == 0);
    }
  }
}

TEST_CASE("snapshot: restore builds a chain that opens at the same head and continues identically") {
  TempDir d;
  auto c = BuildChain(d.path + "/chain", kHeight);
  std::string f = d.path + "/s.gsnap";
  RequireOk(snapshot::Create(*c->store().NewReadView(), f, {}, kSmallBudget), "create");
  std::string r = d.path + "/restored";
  uint64_t last_done = 0, last_total = 0;
  RequireOk(snapshot::Restore(f, r, TestGenesis(),
                              [&](uint64_t done, uint64_t total) {
                                last_done = done;
                                last_total = total;
                              }),
            "restore");
  CHECK(last_done == last_total);
  CHECK(last_total > 0);
  CHECK(!fs::exists(r + "/db.restore-tmp"));
  CHECK(ReadAll(r + "/genesis.bin") == ReadAll(d.path + "/chain/genesis.bin"));
  auto rc = OpenChain(r);
  CHECK(rc->head().Hash() == c->head().Hash());
  CHECK(rc->accumulator() == c->accumulator());
  CHECK(rc->oldest_body() == kHeight + 1);
  CHECK(Table(*c, 'E').size() == 1);  // the slash of block 13 is state, so it is in the snapshot
  for (char t : {'A', 'C', 'E', 'K', 'S', 'U', 'V', 'X', 'W'}) CHECK(Table(*rc, t) == Table(*c, t));
  for (uint64_t i = 0; i < 11; ++i) {
    std::string key = "key-" + std::to_string(i);
    auto a = c->GetKv(K().bob.addr, AsBytes("ns"), AsBytes(key));
    auto b = rc->GetKv(K().bob.addr, AsBytes("ns"), AsBytes(key));
    RequireOk(a, "get kv");
    RequireOk(b, "get kv");
    CHECK(a->has_value() == b->has_value());
    if (*a && *b) CHECK((*a)->data == (*b)->data);
  }
  auto h0 = rc->GetHeader(0);
  auto h0c = c->GetHeader(0);
  RequireOk(h0, "header 0");
  CHECK(h0->value().Hash() == h0c->value().Hash());
  for (uint64_t h : {uint64_t{4}, kHeight}) {
    auto cm = rc->GetCommit(h);
    RequireOk(cm, "commit");
    CHECK(cm->has_value());
  }
  // The restored chain verifies commits and continues: expiries (X index),
  // epoch boundaries and set history give the same roots.
  for (uint64_t h = kHeight + 1; h <= kHeight + 12; ++h) {
    Produce(*c, BlockTxs(h));
    Produce(*rc, BlockTxs(h));
    REQUIRE(rc->head().Hash() == c->head().Hash());
  }
  CHECK(Table(*rc, 'X') == Table(*c, 'X'));
  CHECK(Table(*rc, 'E').empty());  // aged out at 13 + unbonding_blocks
  // And a snapshot of the restored chain equals one of the original.
  std::string f1 = d.path + "/a.gsnap", f2 = d.path + "/b.gsnap";
  RequireOk(snapshot::Create(*c->store().NewReadView(), f1), "create original");
  RequireOk(snapshot::Create(*rc->store().NewReadView(), f2), "create restored");
  CHECK(ReadAll(f1) == ReadAll(f2));
}

TEST_CASE("snapshot: restore refuses a non-empty directory, a wrong genesis and a bad file, leaving nothing") {
  TempDir d;
  auto c = BuildChain(d.path + "/chain", 9);
  std::string f = d.path + "/s.gsnap";
  RequireOk(snapshot::Create(*c->store().NewReadView(), f, {}, kSmallBudget), "create");

  // A directory that already holds a chain is left as it was.
  std::string busy = d.path + "/busy";
  RequireOk(chain::Chain::Init(busy, TestGenesis()), "init busy");
  Bytes busy_genesis = ReadAll(busy + "/genesis.bin");
  auto st = snapshot::Restore(f, busy, TestGenesis());
  REQUIRE(!st);
  CHECK(st.error().message.find("already holds a chain") != std::string::npos);
  CHECK(ReadAll(busy + "/genesis.bin") == busy_genesis);
  CHECK(!fs::exists(busy + "/db.restore-tmp"));
  OpenChain(busy);  // still the chain it was

  // Another genesis.
  std::string r = d.path + "/r1";
  st = snapshot::Restore(f, r, TestGenesis(4, "gtos-other-chain"));
  REQUIRE(!st);
  CHECK(st.error().message.find("another genesis") != std::string::npos);
  CHECK(!fs::exists(r));

  // A tampered last chunk is found after the others were written.
  Bytes b = ReadAll(f);
  auto offsets = ChunkOffsets(f);
  b[offsets.back() + 10] ^= 0x80;
  std::string t = d.path + "/t.gsnap";
  WriteAll(t, b);
  fs::create_directories(d.path + "/r2");
  st = snapshot::Restore(t, d.path + "/r2", TestGenesis());
  REQUIRE(!st);
  CHECK(st.error().message == "chunk " + std::to_string(offsets.size()) + " of " + std::to_string(offsets.size()) +
                                  ": hash mismatch");
  CHECK(fs::is_empty(d.path + "/r2"));
  // Truncated.
  WriteAll(t, Bytes(b.begin(), b.begin() + offsets.back()));
  st = snapshot::Restore(t, d.path + "/r3", TestGenesis());
  REQUIRE(!st);
  CHECK(st.error().message.find("missing (file truncated)") != std::string::npos);
  CHECK(!fs::exists(d.path + "/r3"));
}

TEST_CASE("snapshot: List and Prune of D/snapshots ignore other and temporary files") {
  TempDir d;
  auto c = BuildChain(d.path + "/chain", 3);
  std::string data = d.path + "/chain";
  fs::create_directories(snapshot::SnapshotDir(data));
  CHECK(snapshot::SnapshotPath(data, 3) == data + "/snapshots/snapshot-000000000003.gsnap");
  RequireOk(snapshot::Create(*c->store().NewReadView(), snapshot::SnapshotPath(data, 3)), "create 3");
  Produce(*c, BlockTxs(4));
  RequireOk(snapshot::Create(*c->store().NewReadView(), snapshot::SnapshotPath(data, 4)), "create 4");
  Produce(*c, BlockTxs(5));
  RequireOk(snapshot::Create(*c->store().NewReadView(), snapshot::SnapshotPath(data, 5)), "create 5");
  WriteAll(snapshot::SnapshotDir(data) + "/snapshot-000000000006.gsnap.tmp.123", Bytes{1, 2, 3});
  WriteAll(snapshot::SnapshotDir(data) + "/notes.txt", Bytes{1});
  auto list = snapshot::List(data);
  RequireOk(list, "list");
  REQUIRE(list->size() == 3);
  CHECK((*list)[0].height == 3);
  CHECK((*list)[2].height == 5);
  RequireOk(snapshot::Prune(data, 1), "prune");
  list = snapshot::List(data);
  RequireOk(list, "list");
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].height == 5);
  CHECK(fs::exists(snapshot::SnapshotDir(data) + "/notes.txt"));

  // Height 0 has no commit: nothing to snapshot.
  TempDir e;
  RequireOk(chain::Chain::Init(e.path + "/c", TestGenesis()), "init");
  auto fresh = OpenChain(e.path + "/c");
  auto st = snapshot::Create(*fresh->store().NewReadView(), e.path + "/x.gsnap");
  REQUIRE(!st);
  CHECK(st.error().code == ErrorCode::kNotFound);
  CHECK(!fs::exists(e.path + "/x.gsnap"));
}

// Found by fuzz_snapshot_chunk: a chunk header claiming 2^20 entries in a
// few bytes made the strict reader reserve 48 MiB before finding it short.
TEST_CASE("snapshot: a chunk whose entry count its bytes cannot hold is refused") {
  Bytes rec = *FromHex("950b010000dd000fffff", "chunk");  // [11, 1, 0, 0, array of 1,048,575]
  snapshot::ChunkView v;
  auto st = snapshot::ParseChunk(rec, &v);
  REQUIRE(!st);
  CHECK(st.error().message == "entry 0: malformed or non-canonical");
  CHECK(v.entries.capacity() == 0);
  Bytes one = *FromHex("950b01000091" "92c40141c400", "chunk");  // one entry: key "A", empty value
  REQUIRE(snapshot::ParseChunk(one, &v));
  REQUIRE(v.entries.size() == 1);
  CHECK(v.entries[0].key.size() == 1);
}
