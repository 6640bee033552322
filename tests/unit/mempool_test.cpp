// The mempool (lib/node/mempool.h), tested over a real chain::Chain in a
// temporary directory: admission checks and their reasons, same-nonce
// replacement, NextNonce, block selection (fee order, per-sender nonce
// order, limits), dropping committed and aged-out txs, the count and byte
// limits with eviction, and concurrent admission.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "chain/chain.h"
#include "crypto/hash.h"
#include "crypto/sig.h"
#include "node/mempool.h"
#include "types/records.h"

using namespace gtos;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kChainId = "gtos-mempool-test";
constexpr uint64_t kGenesisTime = 1'700'000'000'000;
constexpr uint64_t kMinStake = 1'000'000;
constexpr uint64_t kRich = 1'000'000'000;
constexpr uint64_t kPoor = 500;  // below every minimum fee

std::string H(const Hash32& h) { return ToHex0x(h); }
Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }
bool Contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

template <class T>
void RequireOk(const Result<T>& r, std::string_view what) {
  if (!r) FAIL(what, ": ", r.error().message);
}

// ---- keys ------------------------------------------------------------------------

struct TestKey {
  const crypto::SigAlgo* algo = nullptr;
  Bytes secret;
  Bytes pub;
  Address addr;
};

// A fixed key: the secret is SHA-256 of `seed`.
TestKey MakeKey(std::string_view algo_name, std::string_view seed) {
  TestKey k;
  k.algo = crypto::FindAlgo(algo_name);
  REQUIRE(k.algo != nullptr);
  Hash32 s = crypto::Sha256(AsBytes(seed));
  REQUIRE(k.algo->secret_size == 32);
  k.secret.assign(s.v.begin(), s.v.end());
  auto pub = k.algo->derive_public(k.secret);
  RequireOk(pub, "derive_public");
  k.pub = *pub;
  k.addr = crypto::DeriveAddress(k.algo->id, k.pub);
  return k;
}

struct Keys {
  TestKey validator = MakeKey("ed25519", "gtos-mempool-test/validator");
  TestKey alice = MakeKey("ed25519", "gtos-mempool-test/alice");
  TestKey bob = MakeKey("secp256k1", "gtos-mempool-test/bob");
  TestKey carol = MakeKey("secp256r1", "gtos-mempool-test/carol");
  TestKey dave = MakeKey("ed25519", "gtos-mempool-test/dave");
  TestKey erin = MakeKey("ed25519", "gtos-mempool-test/erin");
  TestKey poor = MakeKey("ed25519", "gtos-mempool-test/poor");
  TestKey nobody = MakeKey("ed25519", "gtos-mempool-test/nobody");  // not in the genesis
};

const Keys& K() {
  static const Keys keys;
  return keys;
}

// ---- genesis -----------------------------------------------------------------------

Genesis TestGenesis() {
  const Keys& k = K();
  Genesis g;
  g.chain_id = std::string(kChainId);
  g.genesis_time_ms = kGenesisTime;
  g.params.min_validator_stake = kMinStake;
  for (const TestKey* a : {&k.validator, &k.alice, &k.bob, &k.carol, &k.dave, &k.erin})
    g.accounts.push_back(GenesisAccount{a->addr, kRich});
  g.accounts.push_back(GenesisAccount{k.poor.addr, kPoor});
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

// ---- transactions --------------------------------------------------------------------

TxPayload Transfer(const Address& to, uint64_t amount) { return TxPayload{TransferTx{to, amount}}; }
TxPayload KvPut(std::string_view ns, std::string_view key, std::string_view value, uint64_t ttl) {
  return TxPayload{KvPutTx{B(ns), B(key), B(value), ttl}};
}

uint64_t MinFeeOf(const TxPayload& p) {
  TxBody b;
  b.chain_id = std::string(kChainId);
  b.payload = p;
  auto f = MinFee(b, TestGenesis().params);
  RequireOk(f, "min fee");
  return *f;
}

// A tx from `from` signed by `signer`. fee 0 means the minimum fee.
SignedTx MakeTx(const TestKey& signer, const Address& from, uint64_t nonce, const TxPayload& p, uint64_t fee = 0,
                std::string_view chain_id = kChainId) {
  TxBody b;
  b.chain_id = std::string(chain_id);
  b.from = from;
  b.nonce = nonce;
  b.payload = p;
  b.fee = fee ? fee : MinFeeOf(p);
  auto stx = SignTx(b, *signer.algo, signer.secret, signer.pub);
  RequireOk(stx, "sign tx");
  return *stx;
}
// A transfer of 1 to dave (fees below are all in msgpack's uint16 range, so
// transfers of one signing algorithm have one encoded size).
SignedTx Tx(const TestKey& k, uint64_t nonce, uint64_t fee = 5000) {
  return MakeTx(k, k.addr, nonce, Transfer(K().dave.addr, 1), fee);
}
size_t SizeOf(const SignedTx& t) { return EncodeRecord(t).size(); }

// The ids of txs, in order, for comparisons that print.
std::vector<std::string> Ids(const std::vector<SignedTx>& txs) {
  std::vector<std::string> out;
  for (const auto& t : txs) out.push_back(H(t.tx.Id()));
  return out;
}

// ---- a chain in a temporary directory ----------------------------------------------------

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "gtos-mempool-test-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

gtos::Commit EmptyCommit(const BlockHeader& h) {
  gtos::Commit c;
  c.height = h.height;
  c.block_hash = h.Hash();
  return c;
}

class TestChain {
 public:
  TestChain() : path_(dir_.path + "/chain") {
    RequireOk(chain::Chain::Init(path_, TestGenesis()), "init");
    chain::ChainOptions o;
    o.datadir = path_;
    o.sync = false;
    auto c = chain::Chain::Open(o);
    RequireOk(c, "open");
    c_ = std::move(*c);
  }
  chain::Chain& operator*() { return *c_; }
  chain::Chain* operator->() { return c_.get(); }

  // Proposes a block from `txs` and commits it; every tx must be included.
  BlockHeader Next(std::vector<SignedTx> txs = {}) {
    size_t n = txs.size();
    auto a = c_->Propose(std::move(txs), K().validator.addr, c_->head().time_ms + 1000, true, {});
    RequireOk(a, "propose");
    REQUIRE(a->block.txs.size() == n);
    BlockHeader h = a->block.header;
    RequireOk(c_->Commit(std::move(*a), EmptyCommit(h)), "commit");
    REQUIRE(c_->height() == h.height);
    return h;
  }
  uint64_t Nonce(const TestKey& k) {
    auto r = c_->GetAccount(k.addr);
    RequireOk(r, "get account");
    return r->value_or(Account{}).nonce;
  }

 private:
  TempDir dir_;
  std::string path_;
  std::unique_ptr<chain::Chain> c_;
};

// A chain and a mempool over it.
struct Fixture {
  explicit Fixture(node::MempoolOptions o = {}) : pool(*chain, o) {}
  TestChain chain;
  node::Mempool pool;

  Hash32 MustAdd(const SignedTx& t) {
    auto r = pool.Add(t);
    RequireOk(r, "add");
    return *r;
  }
  // The Add error message (empty, and a failed check, if it was admitted).
  std::string Refusal(const SignedTx& t, ErrorCode want = ErrorCode::kInvalid) {
    size_t before = pool.size();
    auto r = pool.Add(t);
    CHECK_MESSAGE(!r, "tx was admitted");
    if (r) return "";
    CHECK(static_cast<int>(r.error().code) == static_cast<int>(want));
    CHECK(pool.size() == before);
    return r.error().message;
  }
  // Commits a block of `txs` and tells the mempool.
  BlockHeader Commit(std::vector<SignedTx> txs = {}) {
    BlockHeader h = chain.Next(std::move(txs));
    pool.Committed(h);
    return h;
  }
};

}  // namespace

// ======================================================================================
// Admission
// ======================================================================================

TEST_CASE("admission: a valid tx is admitted and Add returns its id") {
  Fixture f;
  SignedTx t = Tx(K().alice, 0);
  auto r = f.pool.Add(t);
  RequireOk(r, "add");
  CHECK(H(*r) == H(t.tx.Id()));
  CHECK(f.pool.size() == 1);
  CHECK(f.pool.bytes() == SizeOf(t));
  CHECK(f.pool.NextNonce(K().alice.addr) == 1);
  // Each signing algorithm is accepted.
  CHECK(f.pool.Add(Tx(K().bob, 0)));
  CHECK(f.pool.Add(Tx(K().carol, 0)));
  CHECK(f.pool.size() == 3);
}

TEST_CASE("signature memo: a noted signature skips the check, another signature of the same body does not") {
  Fixture f;
  SignedTx good = Tx(K().alice, 0);
  Hash32 id = good.tx.Id();
  SignedTx forged = good;
  forged.signature[0] ^= 1;  // same body, same id, same key: a bad signature
  CHECK(f.pool.SignatureChecked({good, forged}, {id, id}) == std::vector<bool>{false, false});
  f.pool.NoteVerified({node::Mempool::SignatureKey(good, id)});
  CHECK(f.pool.SignatureChecked({good, forged}, {id, id}) == std::vector<bool>{true, false});
  auto r = f.pool.Add(forged);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kCrypto);
  RequireOk(f.pool.Add(good), "add");
  // A waiting tx counts as checked only with its own signature.
  CHECK(f.pool.SignatureChecked({good, forged}, {id, id}) == std::vector<bool>{true, false});
}

TEST_CASE("admission: refusals carry their reason") {
  const Keys& k = K();
  Fixture f;

  SUBCASE("wrong chain id") {
    SignedTx t = MakeTx(k.alice, k.alice.addr, 0, Transfer(k.dave.addr, 1), 5000, "other-chain");
    std::string m = f.Refusal(t);
    CHECK(Contains(m, "wrong chain id 'other-chain'"));
    CHECK(Contains(m, std::string(kChainId)));
  }
  SUBCASE("fee below the minimum") {
    TxPayload p = Transfer(k.dave.addr, 1);
    uint64_t min = MinFeeOf(p);
    CHECK(f.Refusal(MakeTx(k.alice, k.alice.addr, 0, p, min - 1)).find("below the minimum fee " +
                                                                      std::to_string(min)) != std::string::npos);
    CHECK(f.pool.Add(MakeTx(k.alice, k.alice.addr, 0, p, min)));  // exactly the minimum is enough
  }
  SUBCASE("ttl 0") {
    std::string m = f.Refusal(MakeTx(k.alice, k.alice.addr, 0, KvPut("n", "k", "v", 0), 100'000));
    CHECK(Contains(m, "ttl"));
    CHECK(Contains(m, "must be at least 1"));
  }
  SUBCASE("bad signature (one byte flipped)") {
    SignedTx t = Tx(k.alice, 0);
    t.signature[5] ^= 0x01;
    CHECK(Contains(f.Refusal(t, ErrorCode::kCrypto), "signature does not verify"));
  }
  SUBCASE("signed body changed after signing") {
    SignedTx t = Tx(k.alice, 0);
    t.tx.fee += 1;
    CHECK(Contains(f.Refusal(t, ErrorCode::kCrypto), "signature does not verify"));
  }
  SUBCASE("key that does not derive to from") {
    // Signed correctly, but with alice's key for bob's account.
    SignedTx t = MakeTx(k.alice, k.bob.addr, 0, Transfer(k.dave.addr, 1), 5000);
    std::string m = f.Refusal(t, ErrorCode::kCrypto);
    CHECK(Contains(m, "does not derive to 'from'"));
    CHECK(Contains(m, ToHex0x(k.bob.addr)));
  }
  SUBCASE("nonce already used (after committing a block)") {
    f.Commit({Tx(k.alice, 0), Tx(k.alice, 1)});
    REQUIRE(f.chain.Nonce(k.alice) == 2);
    std::string m = f.Refusal(Tx(k.alice, 1, 6000));
    CHECK(Contains(m, "nonce 1 already used"));
    CHECK(Contains(m, "next is 2"));
    CHECK(Contains(f.Refusal(Tx(k.alice, 0, 7000)), "nonce 0 already used"));
    CHECK(f.pool.Add(Tx(k.alice, 2)));
  }
  SUBCASE("nonce gap") {
    std::string m = f.Refusal(Tx(k.alice, 1));
    CHECK(Contains(m, "nonce 1 leaves a gap"));
    CHECK(Contains(m, "the next nonce is 0"));
    f.MustAdd(Tx(k.alice, 0));
    f.MustAdd(Tx(k.alice, 1));
    m = f.Refusal(Tx(k.alice, 3));
    CHECK(Contains(m, "nonce 3 leaves a gap"));
    CHECK(Contains(m, "the next nonce is 2"));
    CHECK(f.pool.size() == 2);
  }
  SUBCASE("balance below the fee") {
    SignedTx t = MakeTx(k.poor, k.poor.addr, 0, Transfer(k.dave.addr, 1));
    REQUIRE(t.tx.fee > kPoor);
    CHECK(Contains(f.Refusal(t), "balance 500 cannot pay the fee " + std::to_string(t.tx.fee)));
    // An account that does not exist has balance 0.
    CHECK(Contains(f.Refusal(Tx(k.nobody, 0)), "balance 0 cannot pay the fee 5000"));
  }
  SUBCASE("duplicate tx (same id)") {
    SignedTx t = Tx(k.alice, 0);
    f.MustAdd(t);
    std::string m = f.Refusal(t);
    CHECK(Contains(m, "already in the mempool"));
    CHECK(Contains(m, H(t.tx.Id())));
    CHECK(f.pool.size() == 1);
    CHECK(f.pool.bytes() == SizeOf(t));
  }
  // No refusal leaves anything behind.
  if (f.pool.size() == 0) {
    CHECK(f.pool.bytes() == 0);
    CHECK(f.pool.Select(100, 1 << 20).empty());
  }
}

// ======================================================================================
// Replacement
// ======================================================================================

TEST_CASE("admission: the balance must cover fee plus amount after the sender's waiting txs") {
  const Keys& k = K();
  Fixture f;
  // alice has kRich: a transfer of all of it cannot also pay its fee.
  std::string m = f.Refusal(MakeTx(k.alice, k.alice.addr, 0, Transfer(k.dave.addr, kRich), 5000));
  CHECK(Contains(m, "balance " + std::to_string(kRich) + " cannot pay fee 5000 plus amount " + std::to_string(kRich)));
  // Two waiting transfers of a third each, then one more third: the third
  // no longer fits once the first two's fees are counted.
  uint64_t third = kRich / 3;
  RequireOk(f.pool.Add(MakeTx(k.alice, k.alice.addr, 0, Transfer(k.dave.addr, third), 5000)), "first");
  RequireOk(f.pool.Add(MakeTx(k.alice, k.alice.addr, 1, Transfer(k.dave.addr, third), 5000)), "second");
  uint64_t rest = kRich - 2 * (third + 5000);
  m = f.Refusal(MakeTx(k.alice, k.alice.addr, 2, Transfer(k.dave.addr, rest), 5000));
  CHECK(Contains(m, "after the " + std::to_string(2 * (third + 5000)) + " that the sender's waiting txs take"));
  // One unit too many is refused; exactly the rest is admitted.
  CHECK(Contains(f.Refusal(MakeTx(k.alice, k.alice.addr, 2, Transfer(k.dave.addr, rest - 5000 + 1), 5000)),
                 "cannot pay"));
  RequireOk(f.pool.Add(MakeTx(k.alice, k.alice.addr, 2, Transfer(k.dave.addr, rest - 5000), 5000)), "exactly all");
  // The next nonce is checked against the sender's running sum: replacing
  // nonce 1 (a higher fee, a smaller amount) must update it.
  RequireOk(f.pool.Add(MakeTx(k.alice, k.alice.addr, 1, Transfer(k.dave.addr, 1), 6000)), "replacement");
  uint64_t waiting = (third + 5000) + (1 + 6000) + rest;
  m = f.Refusal(MakeTx(k.alice, k.alice.addr, 3, Transfer(k.dave.addr, kRich), 5000));
  CHECK(Contains(m, "after the " + std::to_string(waiting) + " that the sender's waiting txs take"));
  RequireOk(f.pool.Add(MakeTx(k.alice, k.alice.addr, 3, Transfer(k.dave.addr, kRich - waiting - 5000), 5000)),
            "exactly what the replacement freed");
}

TEST_CASE("replacement: the same nonce with a higher fee replaces the waiting tx") {
  const Keys& k = K();
  Fixture f;
  f.MustAdd(Tx(k.alice, 0, 5000));
  SignedTx old1 = Tx(k.alice, 1, 5000);
  f.MustAdd(old1);
  f.MustAdd(Tx(k.alice, 2, 5000));
  SignedTx new1 = Tx(k.alice, 1, 5001);
  Hash32 id = f.MustAdd(new1);
  CHECK(H(id) == H(new1.tx.Id()));
  CHECK(f.pool.size() == 3);
  CHECK(f.pool.bytes() == SizeOf(Tx(k.alice, 0, 5000)) + SizeOf(new1) + SizeOf(Tx(k.alice, 2, 5000)));
  CHECK(f.pool.NextNonce(k.alice.addr) == 3);
  auto sel = f.pool.Select(100, 1 << 20);
  REQUIRE(sel.size() == 3);
  CHECK(H(sel[1].tx.Id()) == H(new1.tx.Id()));
  for (const auto& t : sel) CHECK(H(t.tx.Id()) != H(old1.tx.Id()));
  // The replaced tx is gone for good: adding it again is a (too cheap) replacement.
  CHECK(Contains(f.Refusal(old1), "a replacement must pay a higher fee"));
}

TEST_CASE("replacement: the same nonce with an equal or lower fee is refused") {
  const Keys& k = K();
  Fixture f;
  SignedTx t = Tx(k.alice, 0, 5000);
  f.MustAdd(t);
  // Same fee, different body (so a different id).
  SignedTx same_fee = MakeTx(k.alice, k.alice.addr, 0, Transfer(k.dave.addr, 2), 5000);
  REQUIRE(H(same_fee.tx.Id()) != H(t.tx.Id()));
  std::string m = f.Refusal(same_fee);
  CHECK(Contains(m, "nonce 0 already has a waiting tx"));
  CHECK(Contains(m, "higher fee"));
  CHECK(Contains(f.Refusal(Tx(k.alice, 0, 4999)), "a replacement must pay a higher fee"));
  auto sel = f.pool.Select(100, 1 << 20);
  REQUIRE(sel.size() == 1);
  CHECK(H(sel[0].tx.Id()) == H(t.tx.Id()));
  CHECK(f.pool.bytes() == SizeOf(t));
}

// ======================================================================================
// NextNonce
// ======================================================================================

TEST_CASE("NextNonce: counts consecutive waiting txs and continues after a commit") {
  const Keys& k = K();
  Fixture f;
  CHECK(f.pool.NextNonce(k.alice.addr) == 0);
  CHECK(f.pool.NextNonce(k.nobody.addr) == 0);
  std::vector<SignedTx> a;
  for (uint64_t n = 0; n < 4; ++n) {
    a.push_back(Tx(k.alice, n));
    f.MustAdd(a.back());
    CHECK(f.pool.NextNonce(k.alice.addr) == n + 1);
  }
  CHECK(f.pool.NextNonce(k.bob.addr) == 0);  // per sender
  // A block includes alice's first two.
  f.Commit({a[0], a[1]});
  CHECK(f.chain.Nonce(k.alice) == 2);
  CHECK(f.pool.size() == 2);
  CHECK(f.pool.NextNonce(k.alice.addr) == 4);
  f.MustAdd(Tx(k.alice, 4));
  CHECK(f.pool.NextNonce(k.alice.addr) == 5);
  // All of them included: the committed nonce.
  f.Commit({a[2], a[3], Tx(k.alice, 4)});
  CHECK(f.pool.size() == 0);
  CHECK(f.pool.NextNonce(k.alice.addr) == 5);
}

// ======================================================================================
// Select
// ======================================================================================

TEST_CASE("Select: respects max_txs and max_bytes") {
  const Keys& k = K();
  Fixture f;
  std::vector<SignedTx> txs;
  for (uint64_t n = 0; n < 5; ++n) txs.push_back(Tx(k.alice, n));
  for (const auto& t : txs) f.MustAdd(t);
  size_t s = SizeOf(txs[0]);
  for (const auto& t : txs) REQUIRE(SizeOf(t) == s);
  CHECK(f.pool.bytes() == 5 * s);

  CHECK(f.pool.Select(0, 1 << 20).empty());
  CHECK(Ids(f.pool.Select(2, 1 << 20)) == Ids({txs[0], txs[1]}));
  CHECK(Ids(f.pool.Select(100, 1 << 20)) == Ids(txs));
  CHECK(f.pool.Select(100, s - 1).empty());
  CHECK(Ids(f.pool.Select(100, s)) == Ids({txs[0]}));
  CHECK(Ids(f.pool.Select(100, 3 * s - 1)) == Ids({txs[0], txs[1]}));
  CHECK(Ids(f.pool.Select(100, 3 * s)) == Ids({txs[0], txs[1], txs[2]}));
  // Both limits: the tighter one wins.
  CHECK(f.pool.Select(2, 3 * s).size() == 2);
  CHECK(f.pool.Select(4, 3 * s).size() == 3);
  // Selecting does not remove anything.
  CHECK(f.pool.size() == 5);
  CHECK(f.pool.bytes() == 5 * s);
}

TEST_CASE("Select: each sender's nonces in order; across senders the higher fee first") {
  const Keys& k = K();
  Fixture f;
  SUBCASE("A fee 5000, B fee 9000: B's txs come first") {
    SignedTx a0 = Tx(k.alice, 0, 5000), a1 = Tx(k.alice, 1, 5000);
    SignedTx b0 = Tx(k.dave, 0, 9000), b1 = Tx(k.dave, 1, 9000);
    for (const auto& t : {a0, a1, b0, b1}) f.MustAdd(t);
    CHECK(Ids(f.pool.Select(100, 1 << 20)) == Ids({b0, b1, a0, a1}));
    CHECK(Ids(f.pool.Select(1, 1 << 20)) == Ids({b0}));
    CHECK(Ids(f.pool.Select(3, 1 << 20)) == Ids({b0, b1, a0}));
  }
  SUBCASE("a high-fee later nonce waits for its cheap predecessor") {
    SignedTx a0 = Tx(k.alice, 0, 2000), a1 = Tx(k.alice, 1, 20000);
    SignedTx b0 = Tx(k.dave, 0, 9000), b1 = Tx(k.dave, 1, 3000);
    for (const auto& t : {a0, a1, b0, b1}) f.MustAdd(t);
    // b0 (9000) > b1 (3000) > a0 (2000), then a1 (20000) becomes available.
    CHECK(Ids(f.pool.Select(100, 1 << 20)) == Ids({b0, b1, a0, a1}));
  }
  SUBCASE("interleaving by fee") {
    SignedTx a0 = Tx(k.alice, 0, 8000), a1 = Tx(k.alice, 1, 4000), a2 = Tx(k.alice, 2, 7000);
    SignedTx b0 = Tx(k.dave, 0, 6000), b1 = Tx(k.dave, 1, 5000);
    for (const auto& t : {a0, a1, a2, b0, b1}) f.MustAdd(t);
    // a0 8000; then b0 6000 vs a1 4000; b1 5000 vs a1 4000; a1; a2.
    CHECK(Ids(f.pool.Select(100, 1 << 20)) == Ids({a0, b0, b1, a1, a2}));
  }
}

TEST_CASE("Select: only txs whose nonce chain starts at the committed nonce") {
  const Keys& k = K();
  Fixture f;
  std::vector<SignedTx> a;
  for (uint64_t n = 0; n < 4; ++n) a.push_back(Tx(k.alice, n));
  for (const auto& t : a) f.MustAdd(t);
  SignedTx b0 = Tx(k.dave, 0, 9000);
  f.MustAdd(b0);
  // A block with alice's first two commits without the mempool being told.
  f.chain.Next({a[0], a[1]});
  REQUIRE(f.chain.Nonce(k.alice) == 2);
  CHECK(f.pool.size() == 5);
  auto sel = f.pool.Select(100, 1 << 20);
  CHECK(Ids(sel) == Ids({b0, a[2], a[3]}));
  // The selection is includable as a whole.
  f.Commit(sel);
  CHECK(f.pool.size() == 0);
}

// ======================================================================================
// Committed
// ======================================================================================

TEST_CASE("Committed: included txs are dropped; size and bytes go back down") {
  const Keys& k = K();
  Fixture f;
  std::vector<SignedTx> all;
  for (uint64_t n = 0; n < 3; ++n) all.push_back(Tx(k.alice, n, 5000));
  for (uint64_t n = 0; n < 2; ++n) all.push_back(Tx(k.bob, n, 6000));
  all.push_back(Tx(k.carol, 0, 7000));
  size_t total = 0;
  for (const auto& t : all) {
    f.MustAdd(t);
    total += SizeOf(t);
  }
  CHECK(f.pool.size() == 6);
  CHECK(f.pool.bytes() == total);

  auto first = f.pool.Select(3, 1 << 20);
  REQUIRE(first.size() == 3);
  size_t first_bytes = 0;
  for (const auto& t : first) first_bytes += SizeOf(t);
  f.Commit(first);
  CHECK(f.pool.size() == 3);
  CHECK(f.pool.bytes() == total - first_bytes);
  for (const auto& t : f.pool.Select(100, 1 << 20))
    for (const auto& c : first) CHECK(H(t.tx.Id()) != H(c.tx.Id()));

  auto rest = f.pool.Select(100, 1 << 20);
  REQUIRE(rest.size() == 3);
  f.Commit(rest);
  CHECK(f.pool.size() == 0);
  CHECK(f.pool.bytes() == 0);
  CHECK(f.pool.Select(100, 1 << 20).empty());
  CHECK(f.pool.NextNonce(k.alice.addr) == 3);
  CHECK(f.pool.NextNonce(k.bob.addr) == 2);
  CHECK(f.pool.NextNonce(k.carol.addr) == 1);
}

TEST_CASE("Committed: a waiting tx whose nonce a block used (another tx, same nonce) is dropped") {
  const Keys& k = K();
  Fixture f;
  SignedTx waiting = Tx(k.alice, 0, 5000);
  f.MustAdd(waiting);
  // A different tx with the same nonce, e.g. from another node's mempool.
  SignedTx other = MakeTx(k.alice, k.alice.addr, 0, Transfer(k.bob.addr, 7), 5000);
  f.Commit({other});
  CHECK(f.pool.size() == 0);
  CHECK(f.pool.bytes() == 0);
  CHECK(f.pool.NextNonce(k.alice.addr) == 1);
}

TEST_CASE("Committed: txs older than max_age_blocks are dropped") {
  const Keys& k = K();
  node::MempoolOptions o;
  o.max_age_blocks = 2;
  Fixture f(o);
  SignedTx a0 = Tx(k.alice, 0);
  f.MustAdd(a0);  // at height 0
  f.Commit();     // height 1
  CHECK(f.pool.size() == 1);
  SignedTx b0 = Tx(k.dave, 0);
  f.MustAdd(b0);  // at height 1
  f.Commit();     // height 2: a0 waited 2 blocks
  CHECK(f.pool.size() == 1);
  CHECK(f.pool.bytes() == SizeOf(b0));
  CHECK(Ids(f.pool.Select(100, 1 << 20)) == Ids({b0}));
  CHECK(f.pool.NextNonce(k.alice.addr) == 0);
  f.Commit();  // height 3: b0 waited 2 blocks
  CHECK(f.pool.size() == 0);
  CHECK(f.pool.bytes() == 0);
  // An aged-out tx may be submitted again.
  CHECK(f.pool.Add(a0));
}

// When an old tx ages out, the same sender's later (younger) txs can never
// be included before a new tx fills the hole; the queue must stay
// consecutive from the committed nonce, as eviction keeps it.
TEST_CASE("Committed: aging out a tx does not leave a gap before the sender's younger txs") {
  // Regression (was a bug in Committed): the age rule drops a0 alone and
  // keeps a1, so alice's queue is {1} over committed nonce 0. NextAfter()
  // assumes consecutive queues and NextNonce reports 2 instead of 0, and Add
  // admits nonce 2 although 0 is not waiting.
  const Keys& k = K();
  node::MempoolOptions o;
  o.max_age_blocks = 2;
  Fixture f(o);
  f.MustAdd(Tx(k.alice, 0));  // at height 0
  f.Commit();                  // height 1
  f.MustAdd(Tx(k.alice, 1));  // at height 1
  f.Commit();                  // height 2: a0 aged out
  CHECK(f.pool.NextNonce(k.alice.addr) == 0);
  CHECK(Contains(f.Refusal(Tx(k.alice, 2)), "leaves a gap"));
  // Nothing of alice's is selectable, so nothing should still count.
  CHECK(f.pool.Select(100, 1 << 20).empty());
  CHECK(f.pool.size() == 0);
}

// ======================================================================================
// Limits
// ======================================================================================

TEST_CASE("limits: max_txs; a higher fee evicts the cheapest and that sender's later nonces") {
  const Keys& k = K();
  node::MempoolOptions o;
  o.max_txs = 3;
  Fixture f(o);
  SignedTx a0 = Tx(k.alice, 0, 2000), a1 = Tx(k.alice, 1, 8000), b0 = Tx(k.bob, 0, 5000);
  for (const auto& t : {a0, a1, b0}) f.MustAdd(t);
  REQUIRE(f.pool.size() == 3);

  SignedTx c0 = Tx(k.carol, 0, 6000);
  f.MustAdd(c0);
  // a0 (2000) was the cheapest; a1 cannot be included without it.
  CHECK(f.pool.size() == 2);
  CHECK(f.pool.bytes() == SizeOf(b0) + SizeOf(c0));
  CHECK(f.pool.NextNonce(k.alice.addr) == 0);
  CHECK(Ids(f.pool.Select(100, 1 << 20)) == Ids({c0, b0}));

  SignedTx d0 = Tx(k.erin, 0, 7000);
  f.MustAdd(d0);
  REQUIRE(f.pool.size() == 3);
  // Full, and the fee does not exceed the cheapest (b0, 5000).
  std::string m = f.Refusal(Tx(k.validator, 0, 5000), ErrorCode::kUsage);
  CHECK(Contains(m, "mempool is full"));
  CHECK(Contains(m, "5000"));
  CHECK(Contains(f.Refusal(Tx(k.validator, 0, 1500), ErrorCode::kUsage), "mempool is full"));
  CHECK(Contains(f.Refusal(Tx(k.alice, 0, 4000), ErrorCode::kUsage), "mempool is full"));
  CHECK(f.pool.size() == 3);
  CHECK(Ids(f.pool.Select(100, 1 << 20)) == Ids({d0, c0, b0}));
  // One above the cheapest is enough.
  SignedTx v0 = Tx(k.validator, 0, 5001);
  f.MustAdd(v0);
  CHECK(f.pool.size() == 3);
  CHECK(Ids(f.pool.Select(100, 1 << 20)) == Ids({d0, c0, v0}));
  CHECK(f.pool.NextNonce(k.bob.addr) == 0);
}

TEST_CASE("limits: max_bytes; a higher fee evicts the cheapest, an equal fee is refused") {
  const Keys& k = K();
  // ed25519 senders only: every transfer has one size.
  SignedTx a0 = Tx(k.alice, 0, 2000), a1 = Tx(k.alice, 1, 8000), b0 = Tx(k.dave, 0, 5000);
  size_t s = SizeOf(a0);
  for (const auto& t : {a1, b0}) REQUIRE(SizeOf(t) == s);
  node::MempoolOptions o;
  o.max_bytes = 3 * s + s / 2;  // room for 3
  Fixture f(o);
  for (const auto& t : {a0, a1, b0}) f.MustAdd(t);
  REQUIRE(f.pool.bytes() == 3 * s);

  SignedTx c0 = Tx(k.erin, 0, 6000);
  REQUIRE(SizeOf(c0) == s);
  f.MustAdd(c0);
  CHECK(f.pool.size() == 2);
  CHECK(f.pool.bytes() == 2 * s);
  CHECK(f.pool.NextNonce(k.alice.addr) == 0);
  CHECK(Ids(f.pool.Select(100, 1 << 20)) == Ids({c0, b0}));

  SignedTx v0 = Tx(k.validator, 0, 7000);
  f.MustAdd(v0);
  REQUIRE(f.pool.bytes() == 3 * s);
  std::string m = f.Refusal(Tx(k.alice, 0, 5000), ErrorCode::kUsage);
  CHECK(Contains(m, "mempool is full"));
  CHECK(f.pool.bytes() == 3 * s);
  f.MustAdd(Tx(k.alice, 0, 5001));  // evicts b0
  CHECK(f.pool.bytes() == 3 * s);
  CHECK(f.pool.NextNonce(k.dave.addr) == 0);
  CHECK(f.pool.NextNonce(k.alice.addr) == 1);
}

TEST_CASE("limits: a tx that is refused as too cheap evicts nothing") {
  // Regression (was a bug in Add): the eviction loop removes the cheapest
  // tx before checking that evicting enough to make room is possible. A big
  // tx whose fee beats only the cheapest waiting tx evicts it, then finds the
  // next cheapest too expensive and is refused: the pool lost a tx and
  // admitted nothing.
  const Keys& k = K();
  SignedTx a0 = Tx(k.alice, 0, 2000), b0 = Tx(k.dave, 0, 50000), c0 = Tx(k.erin, 0, 50000);
  size_t s = SizeOf(a0);
  node::MempoolOptions o;
  o.max_bytes = 3 * s;
  Fixture f(o);
  for (const auto& t : {a0, b0, c0}) f.MustAdd(t);
  REQUIRE(f.pool.bytes() == 3 * s);
  // A kv put about twice the size of a transfer, paying more than a0 only.
  TxPayload big = KvPut("n", "k", std::string(s, 'x'), 1);
  uint64_t fee = std::max<uint64_t>(MinFeeOf(big), 3000);
  REQUIRE(fee < 50000);
  SignedTx v0 = MakeTx(k.validator, k.validator.addr, 0, big, fee);
  REQUIRE(SizeOf(v0) > s);
  REQUIRE(SizeOf(v0) <= 2 * s);
  CHECK(Contains(f.Refusal(v0, ErrorCode::kUsage), "mempool is full"));
  CHECK(f.pool.size() == 3);
  CHECK(f.pool.bytes() == 3 * s);
  CHECK(f.pool.NextNonce(k.alice.addr) == 1);
}

TEST_CASE("limits: a replacement refused as too cheap leaves the replaced tx waiting") {
  // Regression (was a bug in Add): a replacement removes the waiting
  // same-nonce tx before the full check. When the (bigger) replacement is
  // then refused with "mempool is full", the original is gone and the
  // sender's queue has a gap ({0, 2}): NextNonce still reports 3, Select
  // stops at nonce 0, and nonce 2 can never be included.
  const Keys& k = K();
  SignedTx a0 = Tx(k.alice, 0, 50000), a1 = Tx(k.alice, 1, 2000), a2 = Tx(k.alice, 2, 50000);
  size_t s = SizeOf(a0);
  for (const auto& t : {a1, a2}) REQUIRE(SizeOf(t) == s);
  node::MempoolOptions o;
  o.max_bytes = 3 * s;
  Fixture f(o);
  for (const auto& t : {a0, a1, a2}) f.MustAdd(t);
  TxPayload big = KvPut("n", "k", std::string(s, 'x'), 1);
  uint64_t fee = std::max<uint64_t>(MinFeeOf(big), 3000);
  REQUIRE(fee < 50000);
  SignedTx r1 = MakeTx(k.alice, k.alice.addr, 1, big, fee);
  REQUIRE(SizeOf(r1) > s);
  CHECK(Contains(f.Refusal(r1, ErrorCode::kUsage), "mempool is full"));
  CHECK(f.pool.size() == 3);
  CHECK(f.pool.bytes() == 3 * s);
  CHECK(Ids(f.pool.Select(100, 1 << 20)) == Ids({a0, a1, a2}));
}

// ======================================================================================
// Concurrency
// ======================================================================================

TEST_CASE("concurrency: 4 threads, 200 txs each from their own sender, all admitted") {
  const Keys& k = K();
  Fixture f;
  constexpr uint64_t kPerThread = 200;
  std::vector<const TestKey*> senders = {&k.alice, &k.bob, &k.carol, &k.erin};
  std::vector<std::vector<SignedTx>> txs(senders.size());
  for (size_t i = 0; i < senders.size(); ++i)
    for (uint64_t n = 0; n < kPerThread; ++n) txs[i].push_back(Tx(*senders[i], n, 2000 + 1000 * i));

  std::vector<std::vector<std::string>> errors(senders.size());
  std::latch start(static_cast<ptrdiff_t>(senders.size()));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < senders.size(); ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      for (const auto& t : txs[i]) {
        auto r = f.pool.Add(t);
        if (!r) errors[i].push_back(r.error().message);
        (void)f.pool.NextNonce(senders[(i + 1) % senders.size()]->addr);  // concurrent reads too
        (void)f.pool.size();
      }
    });
  for (auto& t : threads) t.join();

  for (size_t i = 0; i < senders.size(); ++i) {
    CAPTURE(i);
    CHECK(errors[i].empty());
    if (!errors[i].empty()) MESSAGE("first error: ", errors[i][0]);
    CHECK(f.pool.NextNonce(senders[i]->addr) == kPerThread);
  }
  CHECK(f.pool.size() == senders.size() * kPerThread);
  size_t total = 0;
  for (const auto& v : txs)
    for (const auto& t : v) total += SizeOf(t);
  CHECK(f.pool.bytes() == total);
  // Every sender's chain is selectable, in nonce order.
  auto sel = f.pool.Select(100'000, 1 << 30);
  CHECK(sel.size() == senders.size() * kPerThread);
  std::map<Address, uint64_t> next;
  for (const auto& t : sel) {
    CHECK(t.tx.nonce == next[t.tx.from]);
    next[t.tx.from] = t.tx.nonce + 1;
  }
}

#include "node/statesync.h"

TEST_CASE("state sync trust: the trusted header must be among the headers the manifest proves") {
  snapshot::Manifest m;
  m.height = 300;
  m.header.chain_id = "t";
  m.header.height = 300;
  snapshot::EpochProof proof;
  proof.header.chain_id = "t";
  proof.header.height = 200;
  m.epoch_proofs.push_back(proof);
  CHECK(node::CheckTrustedHeader(m, 300, m.header.Hash()).has_value());
  CHECK(node::CheckTrustedHeader(m, 200, proof.header.Hash()).has_value());
  auto wrong = node::CheckTrustedHeader(m, 200, m.header.Hash());
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().message.find("not the trusted") != std::string::npos);
  auto missing = node::CheckTrustedHeader(m, 250, m.header.Hash());
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("proves no header at the trusted height 250") != std::string::npos);
  auto below = node::CheckTrustedHeader(m, 301, m.header.Hash());
  REQUIRE_FALSE(below.has_value());
  CHECK(below.error().message.find("below the trusted height") != std::string::npos);
}
