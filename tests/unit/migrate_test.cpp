// Data-directory schema migrations (lib/chain/migrate.h, docs/upgrades.md):
// the block-hash index that schema 6 adds, written at commit and deleted by
// retention and gtos-prune; and every migration step: a directory of the
// previous schema (this one's with its N table removed and the previous
// format, which is exactly what the previous build leaves) migrates to the same index and the same
// state root, a dry run changes nothing, a killed step re-runs, versions
// without a path are refused with the reason, and a held directory is
// refused.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chain/chain.h"
#include "chain/migrate.h"
#include "crypto/hash.h"
#include "crypto/sig.h"
#include "state/schema.h"
#include "types/records.h"

using namespace gtos;
namespace fs = std::filesystem;
namespace schema = gtos::state::schema;

namespace {

// The step under test takes kPrev to kCur (5 -> 6 when written; the
// numbers follow the schema so a renumbering at merge time needs no edit).
constexpr uint64_t kCur = schema::kSchemaVersion;
constexpr uint64_t kPrev = kCur - 1;
const std::string kPrevS = std::to_string(kPrev), kCurS = std::to_string(kCur);

template <class T>
void RequireOk(const Result<T>& r, std::string_view what) {
  if (!r) FAIL(what, ": ", r.error().message);
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "gtos-migrate-test-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A one-validator chain keeping bodies of the last few blocks only
// (retain_blocks 4, snapshot_interval 2: the window is the last 4 heights).
struct TestChain {
  TempDir dir;
  std::string datadir = dir.path + "/d";
  Address proposer;

  TestChain() {
    const crypto::SigAlgo* algo = crypto::FindAlgo("ed25519");
    Hash32 seed = crypto::Sha256(AsBytes(std::string_view("gtos-migrate-test/validator")));
    Bytes secret(seed.v.begin(), seed.v.end());
    auto pub = algo->derive_public(secret);
    RequireOk(pub, "derive_public");
    proposer = crypto::DeriveAddress(algo->id, *pub);
    Genesis g;
    g.chain_id = "gtos-migrate-test";
    g.genesis_time_ms = 1'700'000'000'000;
    g.params.retain_blocks = 4;
    g.params.snapshot_interval = 2;
    g.accounts.push_back(GenesisAccount{proposer, 1'000'000'000});
    GenesisValidator v;
    v.chain_id = g.chain_id;
    v.algo = static_cast<uint64_t>(algo->id);
    v.public_key = *pub;
    v.stake = g.params.min_validator_stake;
    auto sig = algo->sign(secret, v.SigningDigest());
    RequireOk(sig, "sign gentx");
    v.signature = *sig;
    g.validators.push_back(v);
    RequireOk(g.ValidateFull(), "genesis");
    RequireOk(chain::Chain::Init(datadir, g), "init");
  }

  std::unique_ptr<chain::Chain> Open() const {
    chain::ChainOptions o;
    o.datadir = datadir;
    o.sync = false;
    auto c = chain::Chain::Open(o);
    RequireOk(c, "open");
    return std::move(*c);
  }

  // Commits `n` empty blocks; returns the hashes of all blocks so far.
  void Grow(chain::Chain& c, uint64_t n, std::vector<Hash32>* hashes) const {
    for (uint64_t i = 0; i < n; ++i) {
      auto applied = c.Propose({}, proposer, c.head().time_ms + 1000, false, {});
      RequireOk(applied, "propose");
      gtos::Commit commit;
      commit.height = applied->block.header.height;
      commit.block_hash = applied->block.header.Hash();
      hashes->push_back(commit.block_hash);
      RequireOk(c.Commit(std::move(*applied), commit), "commit");
    }
  }
};

std::unique_ptr<state::Store> OpenStore(const std::string& datadir) {
  state::StoreOptions so;
  so.path = datadir + "/db";
  auto s = state::Store::Open(so);
  RequireOk(s, "open store");
  return std::move(*s);
}

// Every entry of one table, key -> value.
std::map<std::string, std::string> Table(const state::Store& s, char prefix) {
  std::map<std::string, std::string> out;
  RequireOk(s.Scan(std::string(1, prefix),
                   [&](std::string_view k, std::string_view v) {
                     out.emplace(std::string(k), std::string(v));
                     return true;
                   }),
            "scan");
  return out;
}

// What the previous build leaves: no N table, the previous format.
// Nothing else changed between the two (lib/state/schema.h).
void DowngradeToPrev(state::Store& s) {
  state::WriteBatch b;
  for (const auto& [k, v] : Table(s, schema::kBlockIndex)) b.Delete(k);
  std::string prev;
  schema::AppendBE64(&prev, kPrev);
  b.Put(schema::MetaKey(schema::kMetaFormat), prev);
  RequireOk(s.Write(b), "downgrade");
}

void SetFormat(state::Store& s, uint64_t v) {
  state::WriteBatch b;
  std::string f;
  schema::AppendBE64(&f, v);
  b.Put(schema::MetaKey(schema::kMetaFormat), f);
  RequireOk(s.Write(b), "set format");
}

// Everything but the N table and the format key.
std::map<std::string, std::string> AllButIndex(const state::Store& s) {
  std::map<std::string, std::string> out;
  RequireOk(s.Scan("",
                   [&](std::string_view k, std::string_view v) {
                     if (k[0] != schema::kBlockIndex && k != schema::MetaKey(schema::kMetaFormat))
                       out.emplace(std::string(k), std::string(v));
                     return true;
                   }),
            "scan");
  return out;
}

}  // namespace

TEST_CASE("block-hash index: written at commit, deleted with the body by retention and by PruneHistory") {
  TestChain t;
  std::vector<Hash32> hashes;  // hashes[i] is block i + 1
  {
    auto c = t.Open();
    t.Grow(*c, 10, &hashes);
    // Retention keeps bodies of [7, 10] (retain 4; snapshot interval 2
    // keeps after the second-newest snapshot height 6).
    CHECK(c->oldest_body() == c->RetentionStart(10));
    uint64_t oldest = c->oldest_body();
    REQUIRE(oldest > 1);
    for (uint64_t h = 1; h <= 10; ++h) {
      CAPTURE(h);
      auto got = c->GetHeightByHash(hashes[h - 1]);
      RequireOk(got, "by hash");
      if (h < oldest) {
        CHECK(!got->has_value());
      } else {
        REQUIRE(got->has_value());
        CHECK(**got == h);
      }
    }
    // Block 0 is found by its header's hash; an unknown hash is not.
    auto h0 = c->GetHeader(0);
    RequireOk(h0, "header 0");
    auto got0 = c->GetHeightByHash((*h0)->Hash());
    RequireOk(got0, "by hash 0");
    CHECK(*got0 == std::optional<uint64_t>(0));
    auto none = c->GetHeightByHash(crypto::Sha256(AsBytes(std::string_view("no block"))));
    RequireOk(none, "unknown");
    CHECK(!none->has_value());
    CHECK(Table(c->store(), schema::kBlockIndex).size() == 10 - oldest + 1);

    // gtos-prune (offline, keep the last 2): the index follows the bodies.
    auto rep = c->PruneHistory(2, false);
    RequireOk(rep, "prune");
    CHECK(c->oldest_body() == 9);
    CHECK(Table(c->store(), schema::kBlockIndex).size() == 2);
    for (uint64_t h = oldest; h <= 10; ++h) {
      auto got = c->GetHeightByHash(hashes[h - 1]);
      RequireOk(got, "by hash");
      CHECK(got->has_value() == (h >= 9));
    }
  }
}

TEST_CASE("migrate to the block-hash index schema: builds the block-hash index; same state root; format written last") {
  TestChain t;
  std::vector<Hash32> hashes;
  BlockHeader head_before;
  std::map<std::string, std::string> index_before, rest_before;
  {
    auto c = t.Open();
    t.Grow(*c, 12, &hashes);
    head_before = c->head();
    index_before = Table(c->store(), schema::kBlockIndex);
    REQUIRE(index_before.size() == 12 - c->oldest_body() + 1);
    rest_before = AllButIndex(c->store());
    DowngradeToPrev(c->store());
  }

  // A node refuses the old directory and says what to do.
  {
    chain::ChainOptions o;
    o.datadir = t.datadir;
    auto c = chain::Chain::Open(o);
    REQUIRE(!c);
    CHECK(c.error().message.find("schema version " + kPrevS + "; this build reads version " + kCurS) !=
          std::string::npos);
    CHECK(c.error().hint.find("gtos-node migrate --datadir " + t.datadir) != std::string::npos);
  }

  // Dry run: says what it would do, changes nothing.
  {
    std::vector<std::string> lines;
    chain::MigrateOptions mo;
    mo.datadir = t.datadir;
    mo.dry_run = true;
    mo.log = [&](std::string_view l) { lines.emplace_back(l); };
    auto rep = chain::Migrate(mo);
    RequireOk(rep, "dry run");
    CHECK(rep->from == kPrev);
    CHECK(rep->to == kPrev);
    REQUIRE(rep->steps.size() == 1);
    CHECK(rep->steps[0].name == "block-hash-index");
    CHECK(rep->steps[0].entries == index_before.size());
    CHECK(rep->steps[0].summary.starts_with("would index " + std::to_string(index_before.size()) + " block hashes"));
    REQUIRE(!lines.empty());
    CHECK(lines[0].starts_with("would run step " + kPrevS + " -> " + kCurS + " (block-hash-index)"));
    auto s = OpenStore(t.datadir);
    auto v = chain::ReadSchemaVersion(*s);
    RequireOk(v, "version");
    CHECK(*v == kPrev);
    CHECK(Table(*s, schema::kBlockIndex).empty());
  }

  // The real run.
  {
    chain::MigrateOptions mo;
    mo.datadir = t.datadir;
    auto rep = chain::Migrate(mo);
    RequireOk(rep, "migrate");
    CHECK(rep->from == kPrev);
    CHECK(rep->to == kCur);
    REQUIRE(rep->steps.size() == 1);
    CHECK(rep->steps[0].summary.starts_with("indexed " + std::to_string(index_before.size()) + " block hashes"));
    // Again: nothing to do.
    auto again = chain::Migrate(mo);
    RequireOk(again, "migrate again");
    CHECK(again->steps.empty());
    CHECK(again->to == kCur);
  }
  auto c = t.Open();
  CHECK(c->head().Hash() == head_before.Hash());
  CHECK(c->head().state_root == head_before.state_root);
  CHECK(Table(c->store(), schema::kBlockIndex) == index_before);
  CHECK(AllButIndex(c->store()) == rest_before);
  auto got = c->GetHeightByHash(hashes.back());
  RequireOk(got, "by hash");
  CHECK(*got == std::optional<uint64_t>(12));
  // The migrated chain goes on: the next block is indexed as usual.
  t.Grow(*c, 1, &hashes);
  auto next = c->GetHeightByHash(hashes.back());
  RequireOk(next, "by hash");
  CHECK(*next == std::optional<uint64_t>(13));
}

TEST_CASE("migrate to the block-hash index schema: a killed step re-runs from any partial state") {
  TestChain t;
  std::vector<Hash32> hashes;
  std::map<std::string, std::string> index_before;
  {
    auto c = t.Open();
    t.Grow(*c, 12, &hashes);
    index_before = Table(c->store(), schema::kBlockIndex);
    DowngradeToPrev(c->store());
    // What a killed run (or a schema-5 node that pruned after a killed run)
    // leaves: part of the index, and an entry of a block now pruned.
    state::WriteBatch b;
    auto it = index_before.begin();
    b.Put(it->first, it->second);
    std::string one;
    schema::AppendBE64(&one, 1);
    b.Put(schema::BlockIndexKey(hashes[0]), one);
    RequireOk(c->store().Write(b), "partial");
  }
  chain::MigrateOptions mo;
  mo.datadir = t.datadir;
  auto rep = chain::Migrate(mo);
  RequireOk(rep, "migrate");
  CHECK(rep->to == kCur);
  REQUIRE(rep->steps.size() == 1);
  CHECK(rep->steps[0].summary.find("removed 2 stale entries") != std::string::npos);
  auto s = OpenStore(t.datadir);
  CHECK(Table(*s, schema::kBlockIndex) == index_before);
}

TEST_CASE("migrate: versions without a path are refused with the reason; a held directory is refused") {
  TestChain t;
  std::vector<Hash32> hashes;
  {
    auto c = t.Open();
    t.Grow(*c, 2, &hashes);
  }
  chain::MigrateOptions mo;
  mo.datadir = t.datadir;
  SUBCASE("below the oldest migratable version (4: staking changed the consensus rules): no migration") {
    SetFormat(*OpenStore(t.datadir), chain::kOldestMigratable - 1);
    auto rep = chain::Migrate(mo);
    REQUIRE(!rep);
    CHECK(rep.error().code == ErrorCode::kInvalid);
    CHECK(rep.error().message.find("schema version " + std::to_string(chain::kOldestMigratable - 1)) !=
          std::string::npos);
    CHECK(rep.error().message.find(chain::kNoMigrationReason) != std::string::npos);
    CHECK(rep.error().hint.find("new genesis") != std::string::npos);
    chain::ChainOptions o;
    o.datadir = t.datadir;
    auto c = chain::Chain::Open(o);
    REQUIRE(!c);
    CHECK(c.error().hint.find("no migration reaches it") != std::string::npos);
  }
  SUBCASE("newer than this build") {
    SetFormat(*OpenStore(t.datadir), kCur + 1);
    auto rep = chain::Migrate(mo);
    REQUIRE(!rep);
    CHECK(rep.error().message.find("newer than this build's " + kCurS) != std::string::npos);
  }
  SUBCASE("no format key") {
    {
      auto s = OpenStore(t.datadir);
      state::WriteBatch b;
      b.Delete(schema::MetaKey(schema::kMetaFormat));
      RequireOk(s->Write(b), "delete format");
    }
    auto rep = chain::Migrate(mo);
    REQUIRE(!rep);
    CHECK(rep.error().message.find("no format key") != std::string::npos);
  }
  SUBCASE("held by a running node") {
    auto c = t.Open();
    auto rep = chain::Migrate(mo);
    REQUIRE(!rep);
    CHECK(rep.error().code == ErrorCode::kIO);
    CHECK(rep.error().message.find("in use by another process") != std::string::npos);
  }
  SUBCASE("not a data directory") {
    mo.datadir = t.dir.path + "/nothing";
    auto rep = chain::Migrate(mo);
    REQUIRE(!rep);
    CHECK(rep.error().code == ErrorCode::kNotFound);
  }
  SUBCASE("the step table runs from the oldest migratable version to this build's") {
    const auto& steps = chain::MigrationSteps();
    REQUIRE(!steps.empty());
    CHECK(steps.front().from == chain::kOldestMigratable);
    for (size_t i = 0; i < steps.size(); ++i) CHECK(steps[i].from == chain::kOldestMigratable + i);
    CHECK(steps.back().from + 1 == schema::kSchemaVersion);
  }
}
