// The state transition and the state commitment (docs/state.md), tested
// through chain::Chain against the rules of product.md section 4: TTL
// boundaries, execution outcomes, signer resolution, replay protection, fees,
// validator bonding, the LtHash state root, commit atomicity and replay.
//
// Every block committed by TestChain is followed by a full scan of the state
// tables (A, C, E, K, S, U, V) whose LtHash must equal the head's state root and
// the stored accumulator: exactly what snapshot verification recomputes.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "chain/chain.h"
#include "crypto/hash.h"
#include "crypto/sig.h"
#include "state/executor.h"
#include "state/lthash.h"
#include "state/schema.h"
#include "state/staking.h"
#include "state/store.h"
#include "types/records.h"

using namespace gtos;
namespace fs = std::filesystem;
namespace schema = gtos::state::schema;

namespace {

constexpr std::string_view kChainId = "gtos-state-test";
constexpr uint64_t kGenesisTime = 1'700'000'000'000;
constexpr uint64_t kMaxTtl = 50;
constexpr uint64_t kUnbonding = 4;
constexpr uint64_t kMinStake = 1'000'000;
constexpr uint64_t kRich = 1'000'000'000;
constexpr uint64_t kPoor = 500;  // below every minimum fee

std::string H(const Hash32& h) { return ToHex0x(h); }
Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

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
  TestKey validator = MakeKey("ed25519", "gtos-state-test/validator");
  TestKey alice = MakeKey("ed25519", "gtos-state-test/alice");
  TestKey bob = MakeKey("secp256k1", "gtos-state-test/bob");
  TestKey carol = MakeKey("secp256r1", "gtos-state-test/carol");
  TestKey dave = MakeKey("ed25519", "gtos-state-test/dave");
  TestKey poor = MakeKey("ed25519", "gtos-state-test/poor");
  // Not in the genesis.
  TestKey alice2 = MakeKey("ed25519", "gtos-state-test/alice-rotated");
  TestKey alice_k1 = MakeKey("secp256k1", "gtos-state-test/alice-k1");
  TestKey alice_r1 = MakeKey("secp256r1", "gtos-state-test/alice-r1");
  TestKey consensus = MakeKey("ed25519", "gtos-state-test/consensus");
  TestKey nobody = MakeKey("ed25519", "gtos-state-test/nobody");
};

const Keys& K() {
  static const Keys keys;
  return keys;
}

// ---- genesis -----------------------------------------------------------------------

Genesis TestGenesis(const std::function<void(ChainParams&)>& tweak = {}) {
  const Keys& k = K();
  Genesis g;
  g.chain_id = std::string(kChainId);
  g.genesis_time_ms = kGenesisTime;
  g.params.max_ttl = kMaxTtl;
  g.params.unbonding_blocks = kUnbonding;
  g.params.min_validator_stake = kMinStake;
  // No issuance unless a test asks for it: an empty block then changes
  // nothing, which the TTL and state-root tests rely on.
  g.params.block_reward = 0;
  if (tweak) tweak(g.params);
  for (const TestKey* a : {&k.validator, &k.alice, &k.bob, &k.carol, &k.dave})
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
TxPayload SetSigner(const TestKey& k) {
  return TxPayload{SetSignerTx{static_cast<uint64_t>(k.algo->id), k.pub}};
}
TxPayload CodePut(std::string_view code, uint64_t ttl) { return TxPayload{CodePutTx{B(code), ttl}}; }
TxPayload KvPut(std::string_view ns, std::string_view key, std::string_view value, uint64_t ttl) {
  return TxPayload{KvPutTx{B(ns), B(key), B(value), ttl}};
}
TxPayload Register(uint64_t stake, const TestKey& consensus) {
  return TxPayload{ValidatorRegisterTx{stake, static_cast<uint64_t>(consensus.algo->id), consensus.pub}};
}
TxPayload Unbond(uint64_t amount) { return TxPayload{ValidatorUnbondTx{amount}}; }

uint64_t MinFeeOf(const TxPayload& p, const ChainParams& params) {
  TxBody b;
  b.chain_id = std::string(kChainId);
  b.payload = p;
  auto f = MinFee(b, params);
  RequireOk(f, "min fee");
  return *f;
}

// A tx from `from` signed by `signer`. fee 0 means the minimum fee under the
// test genesis parameters.
SignedTx MakeTx(const TestKey& signer, const Address& from, uint64_t nonce, const TxPayload& p, uint64_t fee = 0,
                std::string_view chain_id = kChainId) {
  TxBody b;
  b.chain_id = std::string(chain_id);
  b.from = from;
  b.nonce = nonce;
  b.payload = p;
  b.fee = fee ? fee : MinFeeOf(p, TestGenesis().params);
  auto stx = SignTx(b, *signer.algo, signer.secret, signer.pub);
  RequireOk(stx, "sign tx");
  return *stx;
}
SignedTx Tx(const TestKey& k, uint64_t nonce, const TxPayload& p, uint64_t fee = 0) {
  return MakeTx(k, k.addr, nonce, p, fee);
}

// ---- the state tables ------------------------------------------------------------------

using StateMap = std::map<std::string, std::string>;

using schema::kStateTables;

StateMap ReadState(const chain::Chain& c) {
  StateMap m;
  for (char t : kStateTables)
    RequireOk(c.store().Scan(std::string(1, t),
                             [&m](std::string_view k, std::string_view v) {
                               m.emplace(k, v);
                               return true;
                             }),
              "scan");
  return m;
}

// The keys whose value differs between two states.
std::set<std::string> Changed(const StateMap& a, const StateMap& b) {
  std::set<std::string> out;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end() || it->second != v) out.insert(k);
  }
  for (const auto& [k, v] : b)
    if (!a.contains(k)) out.insert(k);
  return out;
}

// What snapshot verification does: sums every live entry of the state
// tables and compares with the head's state root and the stored accumulator.
// Also checks that expired objects are gone from the tables and that the
// expiry index (X) lists exactly the stored objects at their expire_block.
void CheckStateMatchesRoot(const chain::Chain& c) {
  uint64_t height = c.height();
  state::LtHash sum;
  size_t dead = 0, corrupt = 0;
  std::set<std::string> want_index;
  for (char t : kStateTables) {
    RequireOk(c.store().Scan(std::string(1, t),
                             [&](std::string_view k, std::string_view v) {
                               if (t == schema::kCode || t == schema::kKv) {
                                 auto o = state::DecodeValue<StoredObject>(v, "stored object");
                                 if (!o) {
                                   ++corrupt;
                                   return true;
                                 }
                                 if (height >= o->expire_block) {
                                   ++dead;
                                   return true;
                                 }
                                 want_index.insert(schema::ExpiryKey(o->expire_block, k));
                               }
                               sum.Add(state::StateElement(k, v));
                               return true;
                             }),
              "scan");
  }
  std::set<std::string> index;
  RequireOk(c.store().Scan(std::string(1, schema::kExpiry),
                           [&index](std::string_view k, std::string_view) {
                             index.emplace(k);
                             return true;
                           }),
            "scan expiry index");
  INFO("height ", height);
  CHECK(corrupt == 0);
  CHECK(dead == 0);
  CHECK(index == want_index);
  CHECK(H(sum.Digest()) == H(c.head().state_root));
  CHECK(sum == c.accumulator());
}

// ---- a chain in a temporary directory ----------------------------------------------------

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "gtos-state-test-XXXXXX").string();
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

struct Produced {
  BlockHeader header;
  std::vector<SignedTx> txs;
  std::vector<Receipt> receipts;
  std::vector<std::pair<Hash32, Error>> left_out;
};

// A commit certificate of `h` signed by every member of the set that signs
// h's height on `chain` (whose head is h's parent), with the test keys.
gtos::Commit SignedCommit(const chain::Chain& chain, const BlockHeader& h) {
  const Keys& k = K();
  gtos::Commit c;
  c.height = h.height;
  c.block_hash = h.Hash();
  auto set = chain.ValidatorSetFor(h.height);
  RequireOk(set, "validator set for commit");
  for (const consensus::Validator& v : set->validators()) {
    const TestKey* key = nullptr;
    for (const TestKey* t : {&k.validator, &k.alice, &k.bob, &k.carol, &k.dave, &k.poor, &k.alice2, &k.alice_k1,
                             &k.alice_r1, &k.consensus, &k.nobody})
      if (t->pub == v.consensus_key) key = t;
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

class TestChain {
 public:
  explicit TestChain(const Genesis& g = TestGenesis()) : path_(dir_.path + "/chain") {
    RequireOk(chain::Chain::Init(path_, g), "init");
    Reopen();
  }
  void Reopen(bool sync = false) {
    c_.reset();
    chain::ChainOptions o;
    o.datadir = path_;
    o.sync = sync;
    auto c = chain::Chain::Open(o);
    RequireOk(c, "open");
    c_ = std::move(*c);
  }
  void Close() { c_.reset(); }
  chain::Chain& operator*() { return *c_; }
  chain::Chain* operator->() { return c_.get(); }
  const std::string& path() const { return path_; }

  Result<chain::AppliedBlock> Propose(std::vector<SignedTx> txs, bool verify = true) {
    return c_->Propose(std::move(txs), K().validator.addr, c_->head().time_ms + 1000, verify, {});
  }

  // Proposes a block from `txs` (non-includable ones are left out),
  // commits it, and checks the state tables against the new root.
  Produced Next(std::vector<SignedTx> txs = {}) {
    auto a = Propose(std::move(txs));
    RequireOk(a, "propose");
    Produced p{a->block.header, a->block.txs, a->exec.receipts, a->exec.left_out};
    RequireOk(c_->Commit(std::move(*a), SignedCommit(*c_, p.header)), "commit");
    CHECK(c_->height() == p.header.height);
    CheckStateMatchesRoot(*c_);
    return p;
  }
  // Commits empty blocks until the head is `height`.
  void RunTo(uint64_t height) {
    REQUIRE(c_->height() <= height);
    while (c_->height() < height) Next();
  }

  Account Acc(const Address& a) {
    auto r = c_->GetAccount(a);
    RequireOk(r, "get account");
    return r->value_or(Account{});
  }
  uint64_t Nonce(const TestKey& k) { return Acc(k.addr).nonce; }
  uint64_t Balance(const TestKey& k) { return Acc(k.addr).balance; }
  std::optional<chain::ObjectView> Kv(const TestKey& owner, std::string_view ns, std::string_view key) {
    auto r = c_->GetKv(owner.addr, AsBytes(ns), AsBytes(key));
    RequireOk(r, "get kv");
    return *r;
  }
  std::optional<chain::ObjectView> Code(std::string_view code) {
    auto r = c_->GetCode(crypto::Sha256(AsBytes(code)));
    RequireOk(r, "get code");
    return *r;
  }
  Hash32 Root() { return c_->head().state_root; }
  StateMap State() { return ReadState(*c_); }

 private:
  TempDir dir_;
  std::string path_;
  std::unique_ptr<chain::Chain> c_;
};

// The one left-out tx of a block, with its reason.
std::string LeftOutReason(const Produced& p, const SignedTx& tx) {
  Hash32 id = tx.tx.Id();
  for (const auto& [lid, err] : p.left_out)
    if (lid == id) return err.message;
  return "";
}

bool Contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// A validator's unpaid rewards: its delegators' outstanding rewards plus its
// commission (0 without a record).
uint64_t Rewards(TestChain& c, const TestKey& k) {
  auto v = c->GetValidator(k.addr);
  RequireOk(v, "get validator");
  return v->has_value() ? (*v)->outstanding_rewards + (*v)->commission_rewards : 0;
}

// ---- independent ChaCha20 (RFC 8439 section 2.3) for the LtHash check --------------------

uint32_t Rotl(uint32_t v, int c) { return (v << c) | (v >> (32 - c)); }
void QuarterRound(uint32_t* x, int a, int b, int c, int d) {
  x[a] += x[b]; x[d] ^= x[a]; x[d] = Rotl(x[d], 16);
  x[c] += x[d]; x[b] ^= x[c]; x[b] = Rotl(x[b], 12);
  x[a] += x[b]; x[d] ^= x[a]; x[d] = Rotl(x[d], 8);
  x[c] += x[d]; x[b] ^= x[c]; x[b] = Rotl(x[b], 7);
}
uint32_t Le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24); }
// One 64-byte keystream block.
void ChaChaBlock(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12], uint8_t out[64]) {
  uint32_t s[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (int i = 0; i < 8; ++i) s[4 + i] = Le32(key + 4 * i);
  s[12] = counter;
  for (int i = 0; i < 3; ++i) s[13 + i] = Le32(nonce + 4 * i);
  uint32_t x[16];
  std::copy(s, s + 16, x);
  for (int i = 0; i < 10; ++i) {
    QuarterRound(x, 0, 4, 8, 12); QuarterRound(x, 1, 5, 9, 13);
    QuarterRound(x, 2, 6, 10, 14); QuarterRound(x, 3, 7, 11, 15);
    QuarterRound(x, 0, 5, 10, 15); QuarterRound(x, 1, 6, 11, 12);
    QuarterRound(x, 2, 7, 8, 13); QuarterRound(x, 3, 4, 9, 14);
  }
  for (int i = 0; i < 16; ++i) {
    uint32_t v = x[i] + s[i];
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
}

}  // namespace

// ======================================================================================
// LtHash
// ======================================================================================

TEST_CASE("lthash: the reference ChaCha20 of this test matches RFC 8439 section 2.3.2") {
  uint8_t key[32];
  for (int i = 0; i < 32; ++i) key[i] = static_cast<uint8_t>(i);
  const uint8_t nonce[12] = {0, 0, 0, 0x09, 0, 0, 0, 0x4a, 0, 0, 0, 0};
  uint8_t out[64];
  ChaChaBlock(key, 1, nonce, out);
  CHECK(ToHex({out, 64}) ==
        "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
        "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
}

TEST_CASE("lthash: an element's expansion is the ChaCha20 keystream of SHA-256(tag || element)") {
  for (std::string_view e : {std::string_view(""), std::string_view("a"), std::string_view("GTOS state element")}) {
    state::LtHash::Lanes lanes;
    state::LtHash::Expand(AsBytes(e), &lanes);
    Hash32 seed = crypto::Sha256Tagged("GTOS-LTHASH-V1", AsBytes(e));
    const uint8_t nonce[12] = {};
    Bytes stream(state::LtHash::kBytes);
    for (uint32_t blk = 0; blk < state::LtHash::kBytes / 64; ++blk) ChaChaBlock(seed.data(), blk, nonce, &stream[64 * blk]);
    bool same = true;
    for (size_t i = 0; i < state::LtHash::kLanes; ++i)
      same &= lanes[i] == static_cast<uint16_t>(stream[2 * i] | (stream[2 * i + 1] << 8));
    CHECK_MESSAGE(same, "element '", e, "'");
  }
}

TEST_CASE("lthash: Add and Remove are inverse, and the order of operations does not matter") {
  state::LtHash empty;
  state::LtHash a;
  a.Add(AsBytes("x"));
  CHECK(a != empty);
  a.Remove(AsBytes("x"));
  CHECK(a == empty);

  state::LtHash one, two;
  one.Add(AsBytes("a"));
  one.Add(AsBytes("b"));
  one.Add(AsBytes("c"));
  two.Add(AsBytes("c"));
  two.Add(AsBytes("a"));
  two.Add(AsBytes("b"));
  CHECK(one == two);
  CHECK(H(one.Digest()) == H(two.Digest()));

  // Remove before add (the lanes wrap around) reaches the same sum.
  state::LtHash three;
  three.Remove(AsBytes("z"));
  three.Add(AsBytes("b"));
  three.Add(AsBytes("z"));
  three.Add(AsBytes("a"));
  three.Add(AsBytes("c"));
  CHECK(three == one);

  // Combine adds another sum.
  state::LtHash ab, c;
  ab.Add(AsBytes("a"));
  ab.Add(AsBytes("b"));
  c.Add(AsBytes("c"));
  ab.Combine(c);
  CHECK(ab == one);

  // A multiset: adding an element twice is not adding it once.
  state::LtHash twice;
  twice.Add(AsBytes("a"));
  twice.Add(AsBytes("a"));
  state::LtHash once;
  once.Add(AsBytes("a"));
  CHECK(twice != once);
}

TEST_CASE("lthash: Serialize / Parse round trip; Parse rejects other sizes") {
  state::LtHash h;
  h.Add(AsBytes("a"));
  h.Add(AsBytes("b"));
  Bytes s = h.Serialize();
  CHECK(s.size() == state::LtHash::kBytes);
  auto back = state::LtHash::Parse(s);
  RequireOk(back, "parse");
  CHECK(*back == h);
  CHECK(H(back->Digest()) == H(h.Digest()));
  // The digest is SHA-256("GTOS-STATE-V1" || the serialized lanes).
  CHECK(H(h.Digest()) == H(crypto::Sha256Tagged("GTOS-STATE-V1", s)));
  Bytes short_by_one(s.begin(), s.end() - 1);
  CHECK(!state::LtHash::Parse(short_by_one));
  Bytes longer = s;
  longer.push_back(0);
  CHECK(!state::LtHash::Parse(longer));
  CHECK(!state::LtHash::Parse({}));
}

TEST_CASE("lthash: pinned digests") {
  state::LtHash empty;
  CHECK(H(empty.Digest()) == H(crypto::Sha256Tagged("GTOS-STATE-V1", Bytes(state::LtHash::kBytes, 0))));
  CHECK(H(empty.Digest()) == "0xd3cb022124f17a30ad5f59c232f2c366d087c6c72ac8e7e58ec5801663fc14d3");

  state::LtHash h;
  h.Add(state::StateElement("key-1", "value-1"));
  h.Add(state::StateElement("key-2", "value-2"));
  h.Add(state::StateElement("key-3", ""));
  CHECK(H(h.Digest()) == "0x0d30e516d1f783491efc653c9f5a213255212cad624ff927cd36976d8812c072");
  // The element is msgpack [bin key, bin value].
  CHECK(ToHex(state::StateElement("k", "vv")) == "92c4016bc4027676");
}

// ======================================================================================
// Genesis
// ======================================================================================

// Found by fuzz_state_value: the U value decoder accepted trailing bytes
// and longer encodings of the same amount, so one amount had many byte
// strings (and state roots).
TEST_CASE("state: an unbonding amount (U value) decodes only from its canonical encoding") {
  for (uint64_t v : {uint64_t{0}, uint64_t{5}, uint64_t{200}, uint64_t{70000}, uint64_t{1} << 40, UINT64_MAX}) {
    std::string enc = state::EncodeUint(v);
    auto d = state::DecodeUint(enc);
    REQUIRE(d);
    CHECK(*d == v);
    CHECK(!state::DecodeUint(enc + std::string(1, '\0')));
  }
  CHECK(!state::DecodeUint(std::string("\xcd\x00\x05", 3)));  // 5 as uint16
  CHECK(!state::DecodeUint(std::string("\xcc\x05", 2)));      // 5 as uint8
  CHECK(!state::DecodeUint(""));
  CHECK(!state::DecodeUint("\xa1x"));  // a string
  CHECK(state::DecodeUint(std::string("\x05\x01", 2)).error().code == ErrorCode::kInternal);
}

TEST_CASE("state: the genesis state is the accounts and the bonded validator, and matches its root") {
  TestChain c;
  CHECK(c->height() == 0);
  CheckStateMatchesRoot(*c);
  CHECK(c.Balance(K().alice) == kRich);
  CHECK(c.Balance(K().validator) == kRich - kMinStake);  // the stake left the balance
  auto v = c->GetValidator(K().validator.addr);
  RequireOk(v, "get validator");
  REQUIRE(v->has_value());
  CHECK((*v)->stake == kMinStake);
  StateMap s = c.State();
  CHECK(s.size() == 10);  // 6 accounts + 1 validator, its self-delegation, the active set, the supply pool
  CHECK(s.contains(schema::DelegationKey(K().validator.addr, K().validator.addr)));
  CHECK(s.contains(schema::SupplyKey()));
  auto set = state::DecodeValue<ActiveSet>(s.at(schema::ActiveSetKey()), "active set");
  RequireOk(set, "active set");
  CHECK(set->first_height == 1);
  REQUIRE(set->validators.size() == 1);
  CHECK(set->validators[0].address == K().validator.addr);
  CHECK(set->validators[0].power == kMinStake);
}

// ======================================================================================
// TTL
// ======================================================================================

TEST_CASE("ttl: a kv written in block h with ttl t exists at h .. h+t-1 and is gone from h+t") {
  for (uint64_t ttl : {uint64_t{1}, uint64_t{2}, uint64_t{5}}) {
    CAPTURE(ttl);
    TestChain c;
    c.Next();
    auto p = c.Next({Tx(K().alice, 0, KvPut("app", "k", "v1", ttl))});
    uint64_t h = p.header.height;
    REQUIRE(p.receipts.size() == 1);
    CHECK(p.receipts[0].status == 0);
    CHECK(p.receipts[0].expire_block == h + ttl);
    for (uint64_t n = h; n < h + ttl; ++n) {
      c.RunTo(n);
      auto kv = c.Kv(K().alice, "app", "k");
      REQUIRE_MESSAGE(kv.has_value(), "height ", n);
      CHECK(kv->created_block == h);
      CHECK(kv->expire_block == h + ttl);
      CHECK(kv->data == B("v1"));
    }
    c.RunTo(h + ttl);
    CHECK(!c.Kv(K().alice, "app", "k").has_value());
    // Physically gone from the state table too (expiry is part of the transition).
    CHECK(!c.State().contains(schema::KvKey(K().alice.addr, AsBytes("app"), AsBytes("k"))));
    c.RunTo(h + ttl + 2);
    CHECK(!c.Kv(K().alice, "app", "k").has_value());
  }
}

TEST_CASE("ttl: ttl == max_ttl is accepted and expires exactly max_ttl blocks later") {
  TestChain c;
  auto p = c.Next({Tx(K().alice, 0, KvPut("app", "k", "v", kMaxTtl))});
  REQUIRE(p.receipts.size() == 1);
  uint64_t h = p.header.height;
  c.RunTo(h + kMaxTtl - 1);
  CHECK(c.Kv(K().alice, "app", "k").has_value());
  c.RunTo(h + kMaxTtl);
  CHECK(!c.Kv(K().alice, "app", "k").has_value());
}

TEST_CASE("ttl: kv lives in the sender's own space (from, namespace, key)") {
  TestChain c;
  auto p = c.Next({Tx(K().alice, 0, KvPut("app", "k", "alice's", 10)), Tx(K().bob, 0, KvPut("app", "k", "bob's", 3)),
                   Tx(K().alice, 1, KvPut("ap", "pk", "other ns", 10))});
  REQUIRE(p.receipts.size() == 3);
  CHECK(c.Kv(K().alice, "app", "k")->data == B("alice's"));
  CHECK(c.Kv(K().bob, "app", "k")->data == B("bob's"));
  CHECK(c.Kv(K().alice, "ap", "pk")->data == B("other ns"));
  CHECK(!c.Kv(K().alice, "ap", "k").has_value());
  CHECK(!c.Kv(K().carol, "app", "k").has_value());
  c.RunTo(p.header.height + 3);
  CHECK(!c.Kv(K().bob, "app", "k").has_value());
  CHECK(c.Kv(K().alice, "app", "k").has_value());
}

TEST_CASE("ttl: code exists at h .. h+t-1; a second put while it exists fails with code_exists; after expiry it succeeds") {
  TestChain c;
  const std::string code = "\x01\x02 some code bytes";
  const uint64_t ttl = 3;
  auto p = c.Next({Tx(K().alice, 0, CodePut(code, ttl))});
  uint64_t h = p.header.height;
  REQUIRE(p.receipts.size() == 1);
  CHECK(p.receipts[0].status == 0);
  CHECK(p.receipts[0].expire_block == h + ttl);
  auto obj = c.Code(code);
  REQUIRE(obj.has_value());
  CHECK(obj->created_block == h);
  CHECK(obj->expire_block == h + ttl);
  CHECK(obj->data == B(code));

  // Blocks h+1 .. h+t-1: the same bytes again, from another sender and with a
  // longer ttl: code_exists (2), fee and nonce charged, nothing else.
  for (uint64_t n = h + 1; n < h + ttl; ++n) {
    CAPTURE(n);
    StateMap before = c.State();
    Account bob_before = c.Acc(K().bob.addr);
    uint64_t rewards_before = Rewards(c, K().validator);
    SignedTx again = Tx(K().bob, c.Nonce(K().bob), CodePut(code, ttl + 10));
    auto q = c.Next({again});
    REQUIRE(q.receipts.size() == 1);
    CHECK(q.header.height == n);
    CHECK(q.receipts[0].status == static_cast<uint64_t>(TxStatus::kCodeExists));
    CHECK(TxStatusName(q.receipts[0].status) == "code_exists");
    CHECK(q.receipts[0].expire_block == 0);
    CHECK(q.receipts[0].fee == again.tx.fee);
    Account bob_after = c.Acc(K().bob.addr);
    CHECK(bob_after.balance == bob_before.balance - again.tx.fee);
    CHECK(bob_after.nonce == bob_before.nonce + 1);
    // The fee goes to the signer of the previous block (docs/state.md 9.5).
    CHECK(Rewards(c, K().validator) == rewards_before + again.tx.fee);
    CHECK(Changed(before, c.State()) ==
          std::set<std::string>{schema::AccountKey(K().bob.addr), schema::ValidatorKey(K().validator.addr)});
    obj = c.Code(code);
    REQUIRE(obj.has_value());
    CHECK(obj->created_block == h);  // no update, no TTL extension
    CHECK(obj->expire_block == h + ttl);
  }

  // Block h+t: expired at the start of the block, so the same bytes succeed.
  CHECK(c->height() == h + ttl - 1);
  auto r = c.Next({Tx(K().bob, c.Nonce(K().bob), CodePut(code, 7))});
  CHECK(r.header.height == h + ttl);
  REQUIRE(r.receipts.size() == 1);
  CHECK(r.receipts[0].status == 0);
  CHECK(r.receipts[0].expire_block == h + ttl + 7);
  obj = c.Code(code);
  REQUIRE(obj.has_value());
  CHECK(obj->created_block == h + ttl);
  CHECK(obj->expire_block == h + ttl + 7);
  c.RunTo(h + ttl + 6);
  CHECK(c.Code(code).has_value());
  c.RunTo(h + ttl + 7);
  CHECK(!c.Code(code).has_value());
}

TEST_CASE("ttl: code that expired without being re-put reads as not-found from h+t") {
  TestChain c;
  auto p = c.Next({Tx(K().alice, 0, CodePut("lonely code", 2))});
  uint64_t h = p.header.height;
  c.RunTo(h + 1);
  CHECK(c.Code("lonely code").has_value());
  c.RunTo(h + 2);
  CHECK(!c.Code("lonely code").has_value());
  CHECK(!c.State().contains(schema::CodeKey(crypto::Sha256(AsBytes("lonely code")))));
}

TEST_CASE("ttl: two puts of the same code in one block: the second fails with code_exists") {
  TestChain c;
  auto p = c.Next({Tx(K().alice, 0, CodePut("dup", 5)), Tx(K().bob, 0, CodePut("dup", 9))});
  REQUIRE(p.receipts.size() == 2);
  CHECK(p.receipts[0].status == 0);
  CHECK(p.receipts[1].status == static_cast<uint64_t>(TxStatus::kCodeExists));
  CHECK(c.Code("dup")->expire_block == p.header.height + 5);
}

TEST_CASE("ttl: a kv overwrite sets created_block and expire_block anew; the old expiry no longer removes it") {
  TestChain c;
  c.Next();
  auto p = c.Next({Tx(K().alice, 0, KvPut("app", "k", "first", 5))});
  uint64_t h = p.header.height;
  c.RunTo(h + 1);
  auto q = c.Next({Tx(K().alice, 1, KvPut("app", "k", "second", 10))});
  REQUIRE(q.header.height == h + 2);
  REQUIRE(q.receipts.size() == 1);
  CHECK(q.receipts[0].status == 0);
  CHECK(q.receipts[0].expire_block == h + 12);
  auto kv = c.Kv(K().alice, "app", "k");
  REQUIRE(kv.has_value());
  CHECK(kv->data == B("second"));
  CHECK(kv->created_block == h + 2);
  CHECK(kv->expire_block == h + 12);
  c.RunTo(h + 5);  // the old expire_block
  kv = c.Kv(K().alice, "app", "k");
  REQUIRE(kv.has_value());
  CHECK(kv->data == B("second"));
  CHECK(kv->expire_block == h + 12);
  c.RunTo(h + 11);
  CHECK(c.Kv(K().alice, "app", "k").has_value());
  c.RunTo(h + 12);
  CHECK(!c.Kv(K().alice, "app", "k").has_value());
}

TEST_CASE("ttl: a kv overwrite with a shorter ttl expires at the new, earlier block") {
  TestChain c;
  auto p = c.Next({Tx(K().alice, 0, KvPut("app", "k", "long", 20))});
  uint64_t h = p.header.height;
  c.Next({Tx(K().alice, 1, KvPut("app", "k", "short", 2))});  // at h+1, expires h+3
  c.RunTo(h + 2);
  CHECK(c.Kv(K().alice, "app", "k")->data == B("short"));
  c.RunTo(h + 3);
  CHECK(!c.Kv(K().alice, "app", "k").has_value());
  c.RunTo(h + 20);
  CHECK(!c.Kv(K().alice, "app", "k").has_value());
}

TEST_CASE("ttl: a kv overwritten in its own expiry block is a fresh write") {
  TestChain c;
  auto p = c.Next({Tx(K().alice, 0, KvPut("app", "k", "old", 2))});
  uint64_t h = p.header.height;
  c.RunTo(h + 1);
  auto q = c.Next({Tx(K().alice, 1, KvPut("app", "k", "new", 2))});  // block h+2 = old expire_block
  REQUIRE(q.header.height == h + 2);
  auto kv = c.Kv(K().alice, "app", "k");
  REQUIRE(kv.has_value());
  CHECK(kv->data == B("new"));
  CHECK(kv->created_block == h + 2);
  CHECK(kv->expire_block == h + 4);
  c.RunTo(h + 4);
  CHECK(!c.Kv(K().alice, "app", "k").has_value());
}

TEST_CASE("ttl: 0 and above max_ttl are left out of a proposed block with the reason") {
  TestChain c;
  SignedTx zero_kv = Tx(K().alice, 0, KvPut("app", "k", "v", 0), 100'000);
  SignedTx zero_code = Tx(K().bob, 0, CodePut("c", 0), 100'000);
  SignedTx big_kv = Tx(K().carol, 0, KvPut("app", "k", "v", kMaxTtl + 1), 100'000);
  SignedTx big_code = Tx(K().dave, 0, CodePut("c", kMaxTtl + 1), 100'000);
  SignedTx huge = Tx(K().dave, 0, KvPut("app", "k", "v", UINT64_MAX), 100'000);
  StateMap before = c.State();
  Hash32 root = c.Root();
  auto p = c.Next({zero_kv, zero_code, big_kv, big_code, huge});
  CHECK(p.txs.empty());
  CHECK(p.receipts.empty());
  REQUIRE(p.left_out.size() == 5);
  CHECK(Contains(LeftOutReason(p, zero_kv), "field 'payload.ttl': must be at least 1"));
  CHECK(Contains(LeftOutReason(p, zero_code), "field 'payload.ttl': must be at least 1"));
  CHECK(Contains(LeftOutReason(p, big_kv), "exceeds max_ttl 50"));
  CHECK(Contains(LeftOutReason(p, big_code), "exceeds max_ttl 50"));
  CHECK(Contains(LeftOutReason(p, huge), "exceeds max_ttl"));
  CHECK(H(c.Root()) == H(root));
  CHECK(Changed(before, c.State()).empty());  // no fee, no nonce
}

TEST_CASE("ttl: a block containing a tx with ttl 0 or ttl > max_ttl is invalid in Validate mode") {
  for (uint64_t bad_ttl : {uint64_t{0}, kMaxTtl + 1}) {
    for (bool code : {false, true}) {
      CAPTURE(bad_ttl);
      CAPTURE(code);
      TestChain c;
      auto good = c.Propose({Tx(K().alice, 0, Transfer(K().bob.addr, 5))});
      RequireOk(good, "propose");
      RequireOk(c->Validate(good->block, true), "validate the good block");
      Block bad = good->block;
      bad.txs.push_back(Tx(K().bob, 0, code ? CodePut("c", bad_ttl) : KvPut("n", "k", "v", bad_ttl), 100'000));
      auto v = c->Validate(bad, true);
      REQUIRE(!v);
      CHECK(Contains(v.error().message, "is not includable"));
      CHECK(Contains(v.error().message, "tx 1"));
      CHECK(Contains(v.error().message, "payload.ttl"));
      CHECK(c->height() == 0);
    }
  }
}

TEST_CASE("limits: sizes above the genesis limits are left out, not a crash") {
  TestChain c;
  std::string big_value(TestGenesis().params.max_value_bytes + 1, 'v');
  SignedTx too_big = Tx(K().alice, 0, KvPut("app", "k", big_value, 1), 10'000'000);
  SignedTx empty_code = Tx(K().bob, 0, CodePut("", 1), 100'000);
  SignedTx low_fee = Tx(K().carol, 0, KvPut("app", "k", "v", 10), 1);
  auto p = c.Next({too_big, empty_code, low_fee});
  CHECK(p.txs.empty());
  CHECK(Contains(LeftOutReason(p, too_big), "exceeds max_value_bytes"));
  CHECK(Contains(LeftOutReason(p, empty_code), "must not be empty"));
  CHECK(Contains(LeftOutReason(p, low_fee), "below the minimum fee"));
}

// ======================================================================================
// Signers
// ======================================================================================

TEST_CASE("signer: fallback to the address, then only the bound key, across algorithms") {
  const Keys& k = K();
  TestChain c;
  // Fallback: the key derives to `from`.
  auto p = c.Next({Tx(k.alice, 0, Transfer(k.dave.addr, 1)), Tx(k.bob, 0, Transfer(k.dave.addr, 1)),
                   Tx(k.carol, 0, Transfer(k.dave.addr, 1))});
  CHECK(p.left_out.empty());
  CHECK(p.receipts.size() == 3);

  // Without a binding, a key that does not derive to `from` is left out.
  SignedTx foreign = MakeTx(k.bob, k.alice.addr, 1, Transfer(k.dave.addr, 1));
  p = c.Next({foreign});
  CHECK(p.txs.empty());
  CHECK(Contains(LeftOutReason(p, foreign), "does not derive to 'from'"));

  // Bind alice to another ed25519 key.
  p = c.Next({Tx(k.alice, 1, SetSigner(k.alice2))});
  REQUIRE(p.receipts.size() == 1);
  CHECK(p.receipts[0].status == 0);
  auto acc = c.Acc(k.alice.addr);
  REQUIRE(acc.signer.has_value());
  CHECK(acc.signer->algo == static_cast<uint64_t>(crypto::AlgoId::kEd25519));
  CHECK(acc.signer->public_key == k.alice2.pub);

  // The old (address) key is no longer accepted; the new one is.
  SignedTx by_old = Tx(k.alice, 2, Transfer(k.dave.addr, 1));
  SignedTx by_new = MakeTx(k.alice2, k.alice.addr, 2, Transfer(k.dave.addr, 1));
  p = c.Next({by_old, by_new});
  CHECK(Contains(LeftOutReason(p, by_old), "not signed by the account's signer"));
  REQUIRE(p.txs.size() == 1);
  CHECK(p.txs[0].tx.Id() == by_new.tx.Id());
  CHECK(c.Nonce(k.alice) == 3);

  // Rotation must be authorised by the current signer: the old key cannot.
  SignedTx rotate_by_old = Tx(k.alice, 3, SetSigner(k.alice));
  p = c.Next({rotate_by_old});
  CHECK(Contains(LeftOutReason(p, rotate_by_old), "not signed by the account's signer"));
  CHECK(c.Acc(k.alice.addr).signer->public_key == k.alice2.pub);

  // Rotate to a secp256k1 key (authorised by the current ed25519 signer).
  p = c.Next({MakeTx(k.alice2, k.alice.addr, 3, SetSigner(k.alice_k1))});
  REQUIRE(p.receipts.size() == 1);
  acc = c.Acc(k.alice.addr);
  CHECK(acc.signer->algo == static_cast<uint64_t>(crypto::AlgoId::kSecp256k1));
  SignedTx by_ed = MakeTx(k.alice2, k.alice.addr, 4, Transfer(k.dave.addr, 1));
  SignedTx by_k1 = MakeTx(k.alice_k1, k.alice.addr, 4, Transfer(k.dave.addr, 1));
  p = c.Next({by_ed, by_k1});
  CHECK(Contains(LeftOutReason(p, by_ed), "not signed by the account's signer"));
  REQUIRE(p.txs.size() == 1);
  CHECK(p.txs[0].tx.Id() == by_k1.tx.Id());

  // And to a secp256r1 key, then back to the address key.
  p = c.Next({MakeTx(k.alice_k1, k.alice.addr, 5, SetSigner(k.alice_r1))});
  REQUIRE(p.receipts.size() == 1);
  SignedTx by_k1_again = MakeTx(k.alice_k1, k.alice.addr, 6, Transfer(k.dave.addr, 1));
  SignedTx by_r1 = MakeTx(k.alice_r1, k.alice.addr, 6, KvPut("n", "k", "v", 3));
  p = c.Next({by_k1_again, by_r1});
  CHECK(Contains(LeftOutReason(p, by_k1_again), "not signed by the account's signer"));
  REQUIRE(p.receipts.size() == 1);
  CHECK(p.receipts[0].status == 0);
  CHECK(c.Kv(k.alice, "n", "k").has_value());  // the space is still the account's
  p = c.Next({MakeTx(k.alice_r1, k.alice.addr, 7, SetSigner(k.alice))});
  REQUIRE(p.receipts.size() == 1);
  p = c.Next({Tx(k.alice, 8, Transfer(k.dave.addr, 1))});
  CHECK(p.receipts.size() == 1);
}

TEST_CASE("signer: a bad signature is left out of a proposed block and invalidates a validated one") {
  const Keys& k = K();
  TestChain c;
  SignedTx bad = Tx(k.alice, 0, Transfer(k.dave.addr, 1));
  bad.signature[0] ^= 1;
  auto p = c.Next({bad});
  CHECK(p.txs.empty());
  CHECK(Contains(LeftOutReason(p, bad), "signature does not verify"));

  auto good = c.Propose({Tx(k.alice, 0, Transfer(k.dave.addr, 1))});
  RequireOk(good, "propose");
  Block b = good->block;
  b.txs[0].signature[5] ^= 0x40;
  auto v = c->Validate(b, true);
  REQUIRE(!v);
  CHECK(Contains(v.error().message, "signature does not verify"));
}

// ======================================================================================
// Replay protection
// ======================================================================================

TEST_CASE("replay: the same tx twice, a wrong chain id and a nonce gap are left out") {
  const Keys& k = K();
  TestChain c;
  SignedTx t = Tx(k.alice, 0, Transfer(k.dave.addr, 10));
  auto p = c.Next({t, t});
  REQUIRE(p.txs.size() == 1);
  REQUIRE(p.left_out.size() == 1);
  CHECK(Contains(p.left_out[0].second.message, "nonce 0 already used (next is 1)"));

  // The same tx in a later block.
  p = c.Next({t});
  CHECK(p.txs.empty());
  CHECK(Contains(LeftOutReason(p, t), "already used"));

  // A tx for another chain, otherwise valid.
  SignedTx other = MakeTx(k.alice, k.alice.addr, 1, Transfer(k.dave.addr, 10), 0, "other-chain");
  p = c.Next({other});
  CHECK(p.txs.empty());
  CHECK(Contains(LeftOutReason(p, other), "wrong chain id 'other-chain'"));

  // A nonce gap.
  SignedTx ahead = Tx(k.alice, 3, Transfer(k.dave.addr, 10));
  p = c.Next({ahead});
  CHECK(p.txs.empty());
  CHECK(Contains(LeftOutReason(p, ahead), "nonce 3 is ahead of the next nonce 1"));

  // Consecutive nonces in one block are fine; the gap closes.
  p = c.Next({Tx(k.alice, 1, Transfer(k.dave.addr, 10)), Tx(k.alice, 2, Transfer(k.dave.addr, 10)), ahead});
  CHECK(p.txs.size() == 3);
  CHECK(c.Nonce(k.alice) == 4);
  CHECK(c.Balance(k.dave) == kRich + 40);

  // In Validate mode each of them makes the block invalid.
  for (const SignedTx& bad : {t, other, Tx(k.alice, 9, Transfer(k.dave.addr, 1))}) {
    auto good = c.Propose({Tx(k.bob, 0, Transfer(k.dave.addr, 1))});
    RequireOk(good, "propose");
    Block b = good->block;
    b.txs.push_back(bad);
    CHECK(!c->Validate(b, true));
  }
}

// ======================================================================================
// Fees and execution outcome
// ======================================================================================

TEST_CASE("fees: charged on success and failure, summed to the signers' rewards; unpayable fee is left out") {
  const Keys& k = K();
  TestChain c;
  c.Next();  // block 1 has no last_commit: its fees would go to the community pool
  StateMap before = c.State();
  uint64_t prop0 = c.Balance(k.validator);
  uint64_t rewards0 = Rewards(c, k.validator);
  SignedTx ok = Tx(k.alice, 0, Transfer(k.dave.addr, 100), 5'000);  // above the minimum: all of it is charged
  SignedTx too_much = Tx(k.bob, 0, Transfer(k.dave.addr, kRich));    // balance - fee < amount
  SignedTx poor = Tx(k.poor, 0, Transfer(k.dave.addr, 1));
  SignedTx nobody = Tx(k.nobody, 0, Transfer(k.dave.addr, 0));
  REQUIRE(poor.tx.fee > kPoor);
  auto p = c.Next({ok, too_much, poor, nobody});
  REQUIRE(p.receipts.size() == 2);
  CHECK(p.receipts[0].status == 0);
  CHECK(p.receipts[0].fee == 5'000);
  CHECK(p.receipts[1].status == static_cast<uint64_t>(TxStatus::kInsufficientBalance));
  CHECK(TxStatusName(p.receipts[1].status) == "insufficient_balance");
  CHECK(p.receipts[1].fee == too_much.tx.fee);
  CHECK(Contains(LeftOutReason(p, poor), "balance 500 cannot pay the fee"));
  CHECK(Contains(LeftOutReason(p, nobody), "balance 0 cannot pay the fee"));

  CHECK(c.Balance(k.alice) == kRich - 5'000 - 100);
  CHECK(c.Balance(k.dave) == kRich + 100);
  // The failed transfer: only fee and nonce.
  Account bob = c.Acc(k.bob.addr);
  CHECK(bob.balance == kRich - too_much.tx.fee);
  CHECK(bob.nonce == 1);
  CHECK(c.Balance(k.poor) == kPoor);
  CHECK(c.Nonce(k.poor) == 0);
  CHECK(!c->GetAccount(k.nobody.addr)->has_value());
  CHECK(c.Balance(k.validator) == prop0);  // not the proposer's balance any more
  CHECK(Rewards(c, k.validator) == rewards0 + 5'000 + too_much.tx.fee);
  CHECK(Changed(before, c.State()) ==
        std::set<std::string>{schema::AccountKey(k.alice.addr), schema::AccountKey(k.bob.addr),
                              schema::AccountKey(k.dave.addr), schema::ValidatorKey(k.validator.addr)});
}

TEST_CASE("fees: a failed transfer changes only the sender's fee and nonce (and the signer's rewards)") {
  const Keys& k = K();
  TestChain c;
  c.Next();
  StateMap before = c.State();
  SignedTx t = Tx(k.bob, 0, Transfer(k.carol.addr, kRich + 1));
  auto p = c.Next({t});
  REQUIRE(p.receipts.size() == 1);
  CHECK(p.receipts[0].status == 1);
  CHECK(c.Balance(k.carol) == kRich);
  CHECK(Changed(before, c.State()) ==
        std::set<std::string>{schema::AccountKey(k.bob.addr), schema::ValidatorKey(k.validator.addr)});
}

TEST_CASE("fees: the proposer's own fee goes to the signers' rewards, not back to its balance") {
  const Keys& k = K();
  TestChain c;
  c.Next();
  uint64_t b0 = c.Balance(k.validator);
  SignedTx t = Tx(k.validator, 0, Transfer(k.dave.addr, 7));
  auto p = c.Next({t});
  REQUIRE(p.receipts.size() == 1);
  CHECK(c.Balance(k.validator) == b0 - 7 - t.tx.fee);
  CHECK(Rewards(c, k.validator) == t.tx.fee);
}

TEST_CASE("fees: block 1 has no last_commit: its fees go to the community pool") {
  const Keys& k = K();
  TestChain c;
  SignedTx t = Tx(k.alice, 0, Transfer(k.dave.addr, 7));
  c.Next({t});
  auto supply = state::staking::ComputeSupply(c->store(), c->genesis());
  RequireOk(supply, "supply");
  CHECK(supply->community_pool == t.tx.fee);
  CHECK(Rewards(c, k.validator) == 0);
}

TEST_CASE("fees: a sender can spend in one block what it received earlier in the same block") {
  const Keys& k = K();
  TestChain c;
  uint64_t fee = MinFeeOf(Transfer(k.dave.addr, 1), TestGenesis().params);
  // poor (and nobody) cannot pay the fee before the funding transfer.
  SignedTx fund_poor = Tx(k.alice, 0, Transfer(k.poor.addr, 10 * fee));
  SignedTx spend_poor = Tx(k.poor, 0, Transfer(k.dave.addr, 1));
  SignedTx fund_nobody = Tx(k.alice, 1, Transfer(k.nobody.addr, 10 * fee));
  SignedTx spend_nobody = Tx(k.nobody, 0, Transfer(k.dave.addr, 1));
  auto p = c.Next({fund_poor, spend_poor, spend_nobody, fund_nobody});
  CHECK(p.txs.size() == 3);
  CHECK(c.Nonce(k.poor) == 1);
  CHECK(Contains(LeftOutReason(p, spend_nobody), "balance 0 cannot pay the fee"));
  CHECK(c.Nonce(k.nobody) == 0);
  CHECK(c.Balance(k.nobody) == 10 * fee);
}

// ======================================================================================
// Validators
// ======================================================================================

TEST_CASE("validators: register bonds stake, unbond returns it exactly unbonding_blocks later") {
  const Keys& k = K();
  TestChain c;
  StateMap before = c.State();
  SignedTx reg = Tx(k.alice, 0, Register(3 * kMinStake, k.consensus));
  auto p = c.Next({reg});
  REQUIRE(p.receipts.size() == 1);
  CHECK(p.receipts[0].status == 0);
  CHECK(c.Balance(k.alice) == kRich - reg.tx.fee - 3 * kMinStake);
  auto v = c->GetValidator(k.alice.addr);
  RequireOk(v, "get validator");
  REQUIRE(v->has_value());
  CHECK((*v)->stake == 3 * kMinStake);
  CHECK((*v)->consensus_key == k.consensus.pub);
  CHECK((*v)->consensus_algo == static_cast<uint64_t>(crypto::AlgoId::kEd25519));
  // Block 1: its fee goes to the community pool (G).
  CHECK(Changed(before, c.State()) ==
        std::set<std::string>{schema::AccountKey(k.alice.addr), schema::ValidatorKey(k.alice.addr),
                              schema::DelegationKey(k.alice.addr, k.alice.addr), schema::SupplyKey()});
  auto all = c->GetValidators();
  RequireOk(all, "validators");
  CHECK(all->size() == 2);

  // Two unbonds in one block share one unbonding entry.
  SignedTx u1 = Tx(k.alice, 1, Unbond(kMinStake));
  SignedTx u2 = Tx(k.alice, 2, Unbond(kMinStake / 2));
  p = c.Next({u1, u2});
  uint64_t h = p.header.height;
  REQUIRE(p.receipts.size() == 2);
  CHECK(p.receipts[0].status == 0);
  CHECK(p.receipts[1].status == 0);
  uint64_t bal = c.Balance(k.alice);
  CHECK(c->GetValidator(k.alice.addr)->value().stake == 3 * kMinStake - kMinStake - kMinStake / 2);
  StateMap s = c.State();
  REQUIRE(s.contains(schema::UnbondingKey(h + kUnbonding, k.alice.addr, k.alice.addr)));

  c.RunTo(h + kUnbonding - 1);
  CHECK(c.Balance(k.alice) == bal);
  c.RunTo(h + kUnbonding);
  CHECK(c.Balance(k.alice) == bal + kMinStake + kMinStake / 2);
  CHECK(!c.State().contains(schema::UnbondingKey(h + kUnbonding, k.alice.addr, k.alice.addr)));
  c.RunTo(h + kUnbonding + 2);
  CHECK(c.Balance(k.alice) == bal + kMinStake + kMinStake / 2);

  // Unbonding the rest removes the validator; it may register again later.
  p = c.Next({Tx(k.alice, 3, Unbond(3 * kMinStake / 2))});
  REQUIRE(p.receipts.size() == 1);
  CHECK(p.receipts[0].status == 0);
  CHECK(!c->GetValidator(k.alice.addr)->has_value());
  uint64_t h2 = p.header.height;
  bal = c.Balance(k.alice);
  c.RunTo(h2 + kUnbonding);
  CHECK(c.Balance(k.alice) == bal + 3 * kMinStake / 2);
  p = c.Next({Tx(k.alice, 4, Register(kMinStake, k.consensus))});
  CHECK(p.receipts[0].status == 0);
}

TEST_CASE("validators: the genesis validator can unbond its genesis stake") {
  const Keys& k = K();
  TestChain c;
  SignedTx u = Tx(k.validator, 0, Unbond(kMinStake));
  auto p = c.Next({u});
  REQUIRE(p.receipts.size() == 1);
  CHECK(p.receipts[0].status == 0);
  CHECK(!c->GetValidator(k.validator.addr)->has_value());
  uint64_t bal = c.Balance(k.validator);
  c.RunTo(p.header.height + kUnbonding);
  CHECK(c.Balance(k.validator) == bal + kMinStake);
}

TEST_CASE("validators: errors stake_below_minimum, not_validator, insufficient_stake, validator_exists, insufficient_balance") {
  const Keys& k = K();
  TestChain c;
  c.Next();
  auto check_failed = [&c](const SignedTx& t, TxStatus want, std::string_view name) {
    CAPTURE(name);
    StateMap before = c.State();
    auto p = c.Next({t});
    REQUIRE(p.receipts.size() == 1);
    CHECK(p.receipts[0].status == static_cast<uint64_t>(want));
    CHECK(TxStatusName(p.receipts[0].status) == name);
    CHECK(p.receipts[0].fee == t.tx.fee);
    CHECK(Changed(before, c.State()) ==
          std::set<std::string>{schema::AccountKey(t.tx.from), schema::ValidatorKey(K().validator.addr)});
  };
  check_failed(Tx(k.alice, 0, Register(kMinStake - 1, k.consensus)), TxStatus::kStakeBelowMinimum,
               "stake_below_minimum");
  check_failed(Tx(k.bob, 0, Unbond(1)), TxStatus::kNotValidator, "not_validator");
  check_failed(Tx(k.validator, 0, Unbond(kMinStake + 1)), TxStatus::kInsufficientStake, "insufficient_stake");
  check_failed(Tx(k.validator, 1, Register(kMinStake, k.consensus)), TxStatus::kValidatorExists,
               "validator_exists");
  check_failed(Tx(k.carol, 0, Register(kRich, k.consensus)), TxStatus::kInsufficientBalance,
               "insufficient_balance");
  CHECK(c->GetValidator(k.validator.addr)->value().stake == kMinStake);
}

// ======================================================================================
// State commitment
// ======================================================================================

TEST_CASE("state root: every state change changes it; an empty block keeps it unless something expires") {
  const Keys& k = K();
  TestChain c;
  Hash32 root = c.Root();
  auto changes = [&](std::vector<SignedTx> txs, std::string_view what) {
    CAPTURE(what);
    auto p = c.Next(std::move(txs));
    CHECK(p.left_out.empty());
    CHECK(H(p.header.state_root) != H(root));
    root = p.header.state_root;
  };
  auto keeps = [&](std::string_view what) {
    CAPTURE(what);
    auto p = c.Next();
    CHECK(H(p.header.state_root) == H(root));
  };
  keeps("empty block at genesis state");
  changes({Tx(k.alice, 0, Transfer(k.dave.addr, 1))}, "transfer");
  changes({Tx(k.alice, 1, Transfer(k.alice.addr, 0))}, "self transfer of 0 (fee and nonce)");
  changes({Tx(k.bob, 0, Transfer(k.dave.addr, kRich * 2))}, "failed transfer (fee and nonce)");
  changes({Tx(k.alice, 2, KvPut("n", "k", "v", 3))}, "kv put");
  uint64_t kv_expiry = c->height() + 3;
  changes({Tx(k.alice, 3, KvPut("n", "k", "v", 20))}, "kv overwrite with the same value, new ttl");
  kv_expiry = c->height() + 20;
  changes({Tx(k.alice, 4, CodePut("code", 10))}, "code put");
  uint64_t code_expiry = c->height() + 10;
  changes({Tx(k.bob, 1, CodePut("code", 4))}, "code_exists (fee and nonce)");
  changes({Tx(k.carol, 0, SetSigner(k.carol))}, "set signer (to the address key itself)");
  changes({Tx(k.alice, 5, Register(kMinStake + 1, k.consensus))}, "validator register");
  changes({Tx(k.alice, 6, Unbond(1))}, "validator unbond");
  uint64_t release = c->height() + kUnbonding;
  REQUIRE(code_expiry > c->height());
  while (c->height() + 1 < std::min(code_expiry, release)) keeps("empty block, nothing due");
  REQUIRE(code_expiry != release);
  // The code expires, and the unbonded stake is released: both change the root.
  changes({}, code_expiry < release ? "code expiry" : "unbonding release");
  while (c->height() + 1 < std::max(code_expiry, release)) keeps("empty block, nothing due");
  changes({}, code_expiry < release ? "unbonding release" : "code expiry");
  while (c->height() + 1 < kv_expiry) keeps("empty block, nothing due");
  changes({}, "kv expiry");
  keeps("empty block after everything expired");
}

TEST_CASE("state root: independent of the order in which the same changes are applied") {
  const Keys& k = K();
  std::vector<SignedTx> txs = {Tx(k.alice, 0, Transfer(k.carol.addr, 100)), Tx(k.bob, 0, Transfer(k.dave.addr, 200)),
                               Tx(k.carol, 0, KvPut("n", "k", "carol", 5)), Tx(k.dave, 0, CodePut("d", 5))};
  TestChain a, b;
  auto pa = a.Next(txs);
  std::vector<SignedTx> rev(txs.rbegin(), txs.rend());
  auto pb = b.Next(rev);
  REQUIRE(pa.txs.size() == 4);
  REQUIRE(pb.txs.size() == 4);
  CHECK(H(pa.header.tx_root) != H(pb.header.tx_root));  // different blocks...
  CHECK(H(pa.header.state_root) == H(pb.header.state_root));  // ...same state
  CHECK(a->accumulator() == b->accumulator());
  // And they stay equal through the expiries.
  a.RunTo(6);
  b.RunTo(6);
  CHECK(H(a.Root()) == H(b.Root()));

  // Transfers spread over two blocks instead of one reach the same state.
  // (From block 2 on, so that the fees go to the same place: the reward
  // ratio carries its remainder, so one block or two credit the same.)
  TestChain one, two;
  one.Next();
  two.Next();
  one.Next({txs[0], txs[1]});
  one.Next();
  two.Next({txs[1]});
  two.Next({txs[0]});
  CHECK(H(one.Root()) == H(two.Root()));
}

TEST_CASE("state root: after a record expires it equals the root of a chain where it was never written") {
  const Keys& k = K();
  const uint64_t fee = 100'000;  // the same fee for every tx below, above every minimum
  SUBCASE("kv, ttl 1") {
    TestChain a, b;
    a.Next({Tx(k.alice, 0, KvPut("n", "k", "v", 1), fee)});
    b.Next({Tx(k.alice, 0, Transfer(k.alice.addr, 0), fee)});
    CHECK(H(a.Root()) != H(b.Root()));
    a.Next();
    b.Next();
    CHECK(H(a.Root()) == H(b.Root()));
    CHECK(a.State() == b.State());
  }
  SUBCASE("code, ttl 3") {
    TestChain a, b;
    a.Next({Tx(k.alice, 0, CodePut("code", 3), fee)});
    b.Next({Tx(k.alice, 0, Transfer(k.alice.addr, 0), fee)});
    a.RunTo(3);
    b.RunTo(3);
    CHECK(H(a.Root()) != H(b.Root()));
    a.Next();
    b.Next();
    CHECK(H(a.Root()) == H(b.Root()));
  }
  SUBCASE("kv overwritten, then expired; the old expiry block passes without effect") {
    TestChain a, b;
    a.Next({Tx(k.alice, 0, KvPut("n", "k", "v1", 6), fee)});
    b.Next({Tx(k.alice, 0, Transfer(k.alice.addr, 0), fee)});
    a.Next({Tx(k.alice, 1, KvPut("n", "k", "v2", 2), fee)});  // expires at 4
    b.Next({Tx(k.alice, 1, Transfer(k.alice.addr, 0), fee)});
    a.RunTo(3);
    b.RunTo(3);
    CHECK(H(a.Root()) != H(b.Root()));
    for (uint64_t n = 4; n <= 8; ++n) {
      a.RunTo(n);
      b.RunTo(n);
      CHECK(H(a.Root()) == H(b.Root()));
    }
  }
}

// ======================================================================================
// Commit atomicity, reopen, replay
// ======================================================================================

TEST_CASE("commit: after closing and reopening, head, state root and accumulator are those committed") {
  const Keys& k = K();
  TestChain c;
  c.Reopen(/*sync=*/true);
  c.Next({Tx(k.alice, 0, KvPut("n", "k", "v", 3)), Tx(k.bob, 0, CodePut("c", 2))});
  c.Next({Tx(k.alice, 1, Register(kMinStake, k.consensus))});
  c.Next({Tx(k.alice, 2, Unbond(kMinStake))});
  c.Next();
  BlockHeader head = c->head();
  state::LtHash acc = c->accumulator();
  StateMap state = c.State();

  // A proposed block that is never committed leaves no trace.
  auto pending = c.Propose({Tx(k.dave, 0, Transfer(k.alice.addr, 5))});
  RequireOk(pending, "propose");
  c.Close();
  c.Reopen(true);
  CHECK(H(c->head().Hash()) == H(head.Hash()));
  CHECK(H(c->head().state_root) == H(head.state_root));
  CHECK(c->accumulator() == acc);
  CHECK(c.State() == state);
  CHECK(c.Nonce(k.dave) == 0);
  CheckStateMatchesRoot(*c);

  // Everything the commit wrote is there: header, commit, body, receipts, tx index.
  for (uint64_t h = 1; h <= head.height; ++h) {
    auto blk = c->GetBlock(h);
    RequireOk(blk, "get block");
    REQUIRE(blk->has_value());
    CHECK((*blk)->commit.has_value());
    CHECK(H((*blk)->commit->block_hash) == H((*blk)->header.Hash()));
    auto rs = c->GetReceipts(h);
    RequireOk(rs, "receipts");
    REQUIRE(rs->has_value());
    CHECK((*rs)->size() == (*blk)->txs.size());
    for (size_t i = 0; i < (*blk)->txs.size(); ++i) {
      auto loc = c->GetTxLocation((*blk)->txs[i].tx.Id());
      RequireOk(loc, "tx location");
      REQUIRE(loc->has_value());
      CHECK((*loc)->height == h);
      CHECK((*loc)->index == i);
    }
  }

  // The chain continues from the reopened head.
  auto p = c.Next({Tx(k.dave, 0, Transfer(k.alice.addr, 5))});
  CHECK(p.header.height == head.height + 1);
  CHECK(H(p.header.parent_hash) == H(head.Hash()));

  // Init refuses a directory that already holds a chain.
  c.Close();
  CHECK(!chain::Chain::Init(c.path(), TestGenesis()));
}

TEST_CASE("replay: re-derives every stored state root; a tampered root fails naming the block") {
  const Keys& k = K();
  TestChain c;
  c.Next({Tx(k.alice, 0, KvPut("n", "k", "v", 2)), Tx(k.bob, 0, CodePut("c", 3))});
  c.Next({Tx(k.alice, 1, Register(kMinStake, k.consensus)), Tx(k.carol, 0, SetSigner(k.alice_k1))});
  c.Next({Tx(k.alice, 2, Unbond(kMinStake)), Tx(k.bob, 1, Transfer(k.dave.addr, kRich * 2))});
  c.RunTo(3 + kUnbonding + 1);
  uint64_t top = c->height();

  std::vector<uint64_t> seen;
  auto st = c->Replay([&seen](uint64_t h) { seen.push_back(h); });
  RequireOk(st, "replay");
  REQUIRE(seen.size() == top);
  for (uint64_t i = 0; i < top; ++i) CHECK(seen[i] == i + 1);
  CHECK(!fs::exists(c.path() + "/replay.tmp"));

  // Tamper with the state root of block 3, as stored.
  const uint64_t bad = 3;
  auto hdr = c->GetHeader(bad);
  RequireOk(hdr, "header");
  REQUIRE(hdr->has_value());
  BlockHeader t = **hdr;
  t.state_root.v[0] ^= 0x01;
  state::WriteBatch batch;
  Bytes enc = EncodeRecord(t);
  batch.Put(schema::HeightKey(schema::kHeader, bad), AsChars(enc));
  RequireOk(c->store().Write(batch), "tamper");
  seen.clear();
  st = c->Replay([&seen](uint64_t h) { seen.push_back(h); });
  REQUIRE(!st);
  CHECK(Contains(st.error().message, "replay of block 3"));
  CHECK(Contains(st.error().message, "state_root"));
  CHECK(seen.size() == bad - 1);
}

TEST_CASE("state root: a large block (the accumulator's two-thread path) and its mass expiry match the scan") {
  const Keys& k = K();
  TestChain c;
  std::vector<SignedTx> txs;
  for (uint64_t i = 0; i < 600; ++i)
    txs.push_back(Tx(k.alice, i, KvPut("bulk", "key-" + std::to_string(i), "value-" + std::to_string(i), 1 + i % 2)));
  auto p = c.Next(txs);  // CheckStateMatchesRoot runs after every block
  REQUIRE(p.receipts.size() == 600);
  CHECK(c.State().size() == 10 + 600);
  c.Next();  // 300 expire
  CHECK(c.State().size() == 10 + 300);
  c.Next();  // the other 300
  CHECK(c.State().size() == 10);
}

TEST_CASE("ttl: an expire_block that overflows 64 bits is rejected: the tx never enters a block") {
  // Reachable only when max_ttl is near 2^64 and storage is free (otherwise
  // the minimum fee overflows first and the tx is left out).
  Genesis g = TestGenesis([](ChainParams& p) {
    p.max_ttl = UINT64_MAX;
    p.fee_per_byte_block = 0;
  });
  const Keys& k = K();
  TestChain c(g);
  StateMap before = c.State();
  SignedTx t = Tx(k.alice, 0, KvPut("n", "k", "v", UINT64_MAX), 100'000);
  auto p = c.Next({t});
  CHECK(p.receipts.empty());
  CHECK(Contains(LeftOutReason(p, t), "overflows expire_block"));
  CHECK(Changed(before, c.State()).empty());
  // With the default fee parameters the same tx has no minimum fee: left out.
  TestChain d(TestGenesis([](ChainParams& params) { params.max_ttl = UINT64_MAX; }));
  p = d.Next({t});
  CHECK(Contains(LeftOutReason(p, t), "minimum fee overflows"));
}

// ======================================================================================
// Former deviations (fixed): unbonding_blocks = 0, block limits, stale commits.
// ======================================================================================

TEST_CASE("unbonding_blocks = 0 is refused by parameter validation (stake would be lost)") {
  ChainParams p;
  p.unbonding_blocks = 0;
  auto st = p.Validate();
  REQUIRE(!st);
  CHECK(Contains(st.error().message, "unbonding_blocks must be at least 1"));
}

TEST_CASE("max_block_txs is enforced by Propose and Validate") {
  const Keys& k = K();
  TestChain c(TestGenesis([](ChainParams& p) { p.max_block_txs = 2; }));
  std::vector<SignedTx> txs = {Tx(k.alice, 0, Transfer(k.dave.addr, 1)), Tx(k.bob, 0, Transfer(k.dave.addr, 1)),
                               Tx(k.carol, 0, Transfer(k.dave.addr, 1))};
  auto a = c.Propose(txs);
  RequireOk(a, "propose");
  CHECK(a->block.txs.size() <= 2);
  // A block of 3 txs built by hand must not validate either.
  Block b = a->block;
  b.txs = txs;
  CHECK(!c->Validate(b, true));
}

TEST_CASE("retention: Commit deletes the history that leaves the window, never the state") {
  // retain_blocks 3, snapshot_interval 5: the window is the last 3 blocks
  // and every block after the second-newest multiple of 5 below the head.
  const Keys& k = K();
  TestChain c(TestGenesis([](ChainParams& p) {
    p.retain_blocks = 3;
    p.snapshot_interval = 5;
  }));
  TestChain ref;  // same blocks, default retention (200): nothing pruned
  std::vector<Hash32> ids;
  for (uint64_t h = 1; h <= 23; ++h) {
    SignedTx t = Tx(k.alice, h - 1, KvPut("ns", "k" + std::to_string(h), "v", 2));
    ids.push_back(t.tx.Id());
    Produced p = c.Next({t});
    Produced q = ref.Next({t});
    CHECK(H(p.header.state_root) == H(q.header.state_root));  // retention never touches state
    uint64_t newest = (h - 1) / 5 * 5;
    uint64_t want = std::min(h >= 3 ? h - 2 : 1, (newest >= 5 ? newest - 5 : 0) + 1);
    CHECK(c->RetentionStart(h) == want);
    CHECK(c->oldest_body() == want);
    for (uint64_t x = 1; x <= h; ++x) {
      CAPTURE(h);
      CAPTURE(x);
      auto b = c->GetBlock(x);
      RequireOk(b, "get block");
      CHECK(b->has_value() == (x >= want));
      auto loc = c->GetTxLocation(ids[x - 1]);
      RequireOk(loc, "tx location");
      CHECK(loc->has_value() == (x >= want));
      // The decoded-body cache: asked at every step, so a height cached
      // while kept is asked again after it was pruned.
      auto txs = c->GetBlockTxs(x);
      RequireOk(txs, "block txs");
      CHECK((*txs != nullptr) == (x >= want));
      if (*txs) CHECK(((*txs)->size() == 1 && (**txs)[0].tx.Id() == ids[x - 1]));
      auto rs = c->GetReceiptList(x);
      RequireOk(rs, "receipt list");
      CHECK((*rs != nullptr) == (x >= want));
      if (*rs) CHECK(((*rs)->size() == 1 && (**rs)[0].tx_id == ids[x - 1]));
      auto hd = c->GetHeader(x);  // headers and commits are kept
      RequireOk(hd, "header");
      CHECK(hd->has_value());
      auto cm = c->GetCommit(x);
      RequireOk(cm, "commit");
      CHECK(cm->has_value());
    }
  }
  // Reopening reads the watermark back.
  c.Reopen();
  CHECK(c->oldest_body() == 16);  // min(21, 15 + 1)
  for (uint64_t x = 19; x < 23; ++x) {  // cached before the prune below
    auto txs = c->GetBlockTxs(x);
    RequireOk(txs, "block txs before prune");
    CHECK(*txs != nullptr);
  }
  // Offline pruning to a smaller window, then the node's rule takes over.
  auto rep = c->PruneHistory(1, false);
  RequireOk(rep, "prune");
  CHECK(rep->oldest_after == 23);
  CHECK(rep->heights == 7);
  for (uint64_t x = 16; x < 23; ++x) {
    auto txs = c->GetBlockTxs(x);
    RequireOk(txs, "block txs after prune");
    CHECK(*txs == nullptr);
  }
  c.Next();
  CHECK(c->oldest_body() == 23);
  // Above the head: nothing, cached or not.
  auto above = c->GetReceiptList(c->height() + 1);
  RequireOk(above, "receipts above head");
  CHECK(*above == nullptr);
}

TEST_CASE("block time: strictly after the parent, at most 2^62; Propose raises a slow clock and refuses one past 2^62") {
  const Keys& k = K();
  TestChain c;
  // A clock behind the parent: parent + 1 (block 1 is after the genesis time).
  auto a = c->Propose({}, k.validator.addr, 0, true, {});
  RequireOk(a, "propose");
  CHECK(a->block.header.time_ms == kGenesisTime + 1);
  // A received block must be strictly after its parent and at most 2^62.
  Block same = a->block;
  same.header.time_ms = kGenesisTime;
  auto r = c->Validate(same, true);
  REQUIRE(!r);
  CHECK(Contains(r.error().message, "block time 1700000000000 is not after its parent's 1700000000000"));
  Block late = a->block;
  late.header.time_ms = kMaxBlockTimeMs + 1;
  r = c->Validate(late, true);
  REQUIRE(!r);
  CHECK(Contains(r.error().message, "exceeds the largest block time 2^62"));
  auto far = c->Propose({}, k.validator.addr, kMaxBlockTimeMs + 1, true, {});
  REQUIRE(!far);
  CHECK(far.error().code == ErrorCode::kInvalid);
  CHECK(Contains(far.error().message, "exceeds the largest block time 2^62"));
  // A block at exactly 2^62 is valid, and then no block can follow it.
  auto last = c->Propose({}, k.validator.addr, kMaxBlockTimeMs, true, {});
  RequireOk(last, "propose at 2^62");
  Block b = last->block;
  RequireOk(c->Validate(b, true), "validate at 2^62");
  RequireOk(c->Commit(std::move(*last), SignedCommit(*c, b.header)), "commit");
  auto next = c->Propose({}, k.validator.addr, UINT64_MAX, true, {});
  REQUIRE(!next);
  CHECK(Contains(next.error().message, "exceeds the largest block time"));
}

TEST_CASE("Commit refuses a block proposed on a head that is no longer current") {
  // Committing a stale block would replace the head with a sibling and apply
  // the state changes of both blocks.
  const Keys& k = K();
  TestChain c;
  auto first = c.Propose({Tx(k.alice, 0, Transfer(k.dave.addr, 1))});
  auto second = c.Propose({Tx(k.bob, 0, Transfer(k.dave.addr, 1))});
  RequireOk(first, "propose");
  RequireOk(second, "propose");
  BlockHeader h1 = first->block.header;
  BlockHeader h2 = second->block.header;
  RequireOk(c->Commit(std::move(*first), SignedCommit(*c, h1)), "commit first");
  auto st = c->Commit(std::move(*second), SignedCommit(*c, h2));
  CHECK(!st);
  CHECK(H(c->head().Hash()) == H(h1.Hash()));
  CheckStateMatchesRoot(*c);
}

// ======================================================================================
// Validator set, epochs, evidence (docs/state.md section 9, docs/consensus.md)
// ======================================================================================

namespace {

struct Bond {
  const TestKey* key;
  uint64_t stake;
};

// The test genesis with `bonds` as its validators (each key is operator and
// consensus key) and small epochs.
Genesis EpochGenesis(std::vector<Bond> bonds, const std::function<void(ChainParams&)>& tweak = {}) {
  Genesis g = TestGenesis([&](ChainParams& p) {
    p.epoch_length = 4;
    p.max_validators = 3;
    if (tweak) tweak(p);
  });
  g.validators.clear();
  for (const Bond& b : bonds) {
    GenesisValidator v;
    v.chain_id = g.chain_id;
    v.algo = static_cast<uint64_t>(b.key->algo->id);
    v.public_key = b.key->pub;
    v.stake = b.stake;
    auto sig = b.key->algo->sign(b.key->secret, v.SigningDigest());
    RequireOk(sig, "sign gentx");
    v.signature = *sig;
    g.validators.push_back(v);
  }
  std::sort(g.validators.begin(), g.validators.end(),
            [](const GenesisValidator& x, const GenesisValidator& y) { return x.address() < y.address(); });
  RequireOk(g.ValidateFull(), "genesis");
  return g;
}

// A vote of `validator` signed with consensus key `signer`.
Vote SignedVote(const TestKey& signer, const Address& validator, uint64_t type, uint64_t height, uint64_t round,
                std::string_view block) {
  Vote v;
  v.type = type;
  v.height = height;
  v.round = round;
  v.block_hash = crypto::Sha256(AsBytes(block));
  v.validator = validator;
  auto sig = signer.algo->sign(signer.secret, v.SigningDigest(kChainId));
  RequireOk(sig, "sign vote");
  v.signature = *sig;
  return v;
}

constexpr uint64_t kPrecommit = static_cast<uint64_t>(VoteType::kPrecommit);
constexpr uint64_t kPrevote = static_cast<uint64_t>(VoteType::kPrevote);

// Two conflicting precommits of `k` (a genesis validator) at (height, round).
Evidence DoubleSign(const TestKey& k, uint64_t height, uint64_t round = 0, uint64_t type = kPrecommit) {
  return Evidence{SignedVote(k, k.addr, type, height, round, "block-a"),
                  SignedVote(k, k.addr, type, height, round, "block-b")};
}

// Proposes (validator as proposer), commits and returns the block.
Block Produce(TestChain& c, std::vector<SignedTx> txs = {}, std::vector<Evidence> evidence = {},
              const Address& proposer = K().validator.addr) {
  auto a = c->Propose(std::move(txs), proposer, c->head().time_ms + 1000, true, std::move(evidence));
  RequireOk(a, "propose");
  Block b = a->block;
  for (const Receipt& r : a->exec.receipts) CHECK(r.status == 0);
  RequireOk(c->Commit(std::move(*a), SignedCommit(*c, b.header)), "commit");
  CheckStateMatchesRoot(*c);
  return b;
}

// Feeds a block to another chain through Validate and commits it there.
void Follow(TestChain& follower, const Block& b) {
  auto a = follower->Validate(b, true);
  RequireOk(a, "validate");
  RequireOk(follower->Commit(std::move(*a), SignedCommit(*follower, b.header)), "follower commit");
}

ActiveSet ActiveOf(TestChain& c) {
  auto e = c->GetEpochInfo();
  RequireOk(e, "epoch info");
  return e->active_set;
}

std::vector<Address> Members(const consensus::ValidatorSet& s) {
  std::vector<Address> out;
  for (const auto& v : s.validators()) out.push_back(v.address);
  return out;
}

consensus::ValidatorSet SetFor(TestChain& c, uint64_t height) {
  auto s = c->ValidatorSetFor(height);
  RequireOk(s, "validator set for " + std::to_string(height));
  return *s;
}

uint64_t Stake(TestChain& c, const TestKey& k) {
  auto v = c->GetValidator(k.addr);
  RequireOk(v, "get validator");
  return v->has_value() ? (*v)->stake : 0;
}

// Balances + bonded stake + stake unbonding + undistributed rewards.
uint64_t Supply(TestChain& c) {
  auto s = state::staking::ComputeSupply(c->store(), c->genesis());
  RequireOk(s, "supply");
  CHECK(s->Held() == s->Expected());
  return static_cast<uint64_t>(s->Held());
}

}  // namespace

TEST_CASE("epochs: SelectValidators ranks by stake, ties to the lower address, drops jailed and small stakes") {
  ChainParams p;
  p.min_validator_stake = 10;
  p.max_validators = 3;
  auto addr = [](uint8_t b) {
    Address a;
    a.v.fill(b);
    return a;
  };
  auto info = [](uint64_t stake, uint64_t jailed = 0) { return ValidatorInfo{1, Bytes(32, 1), stake, jailed, ""}; };
  std::vector<std::pair<Address, ValidatorInfo>> cands = {
      {addr(1), info(50)}, {addr(2), info(70)}, {addr(3), info(50)}, {addr(4), info(500, 1)},
      {addr(5), info(9)},  {addr(6), info(50)}, {addr(7), info(40)}};
  auto set = state::SelectValidators(cands, p);
  // 2 (70), then the 50s by address: 1 and 3; 6 loses the tie, 4 is jailed, 5 is below the minimum.
  REQUIRE(set.size() == 3);
  CHECK(set[0].address == addr(1));
  CHECK(set[1].address == addr(2));
  CHECK(set[2].address == addr(3));
  CHECK(set[1].power == 70);
  p.max_validators = 10;
  CHECK(state::SelectValidators(cands, p).size() == 5);
  // Total power stays below 2^62: the selection stops at the first that would reach it.
  std::vector<std::pair<Address, ValidatorInfo>> huge = {{addr(1), info(uint64_t{1} << 61)},
                                                         {addr(2), info(uint64_t{1} << 61)},
                                                         {addr(3), info(20)}};
  auto capped = state::SelectValidators(huge, p);
  REQUIRE(capped.size() == 1);
  CHECK(capped[0].address == addr(1));
  CHECK(state::SelectValidators({{addr(1), info(5)}}, p).empty());
}

TEST_CASE("epochs: genesis takes the top max_validators by stake, ties to the lower address") {
  const Keys& k = K();
  std::vector<const TestKey*> tied = {&k.alice, &k.dave};
  std::sort(tied.begin(), tied.end(), [](const TestKey* x, const TestKey* y) { return x->addr < y->addr; });
  Genesis g = EpochGenesis({{&k.validator, 5 * kMinStake}, {&k.alice, 2 * kMinStake}, {&k.dave, 2 * kMinStake},
                            {&k.bob, kMinStake}},
                           [](ChainParams& p) { p.max_validators = 2; });
  TestChain c(g);
  ActiveSet s = ActiveOf(c);
  CHECK(s.first_height == 1);
  std::vector<Address> want = {k.validator.addr, tied[0]->addr};
  std::sort(want.begin(), want.end());
  CHECK(Members(SetFor(c, 1)) == want);
  CHECK(SetFor(c, 1).total_power() == 5 * kMinStake + 2 * kMinStake);
  auto e = c->GetEpochInfo();
  CHECK(e->epoch == 0);
  CHECK(e->first_height == 1);
  CHECK(e->last_height == 4);
}

TEST_CASE("epochs: a register and an unbond change the active set exactly at the epoch boundary") {
  const Keys& k = K();
  Genesis g = EpochGenesis({{&k.validator, 2 * kMinStake}});
  TestChain c(g), follower(g);
  Hash32 one = SetFor(c, 1).Hash();

  Block b1 = Produce(c);
  Follow(follower, b1);
  // Block 2: alice registers with a consensus key of her own.
  Block b2 = Produce(c, {Tx(k.alice, 0, Register(3 * kMinStake, k.consensus))});
  Follow(follower, b2);
  Block b3 = Produce(c);
  Follow(follower, b3);
  for (const Block* b : {&b1, &b2, &b3}) {
    CHECK(b->header.validators_hash == one);
    CHECK(b->header.next_validators_hash == one);
    CHECK(b->header.evidence_root == Hash32{});
  }
  CHECK(SetFor(c, 4).size() == 1);  // not before the boundary
  CHECK(ActiveOf(c).first_height == 1);

  // Block 4 is the boundary: signed by the old set, names the new one.
  Block b4 = Produce(c);
  Follow(follower, b4);
  consensus::ValidatorSet two = SetFor(c, 5);
  std::vector<Address> both = {k.validator.addr, k.alice.addr};
  std::sort(both.begin(), both.end());
  CHECK(Members(two) == both);
  CHECK(two.total_power() == 5 * kMinStake);
  CHECK(b4.header.validators_hash == one);
  CHECK(b4.header.next_validators_hash == two.Hash());
  CHECK(SetFor(c, 4).Hash() == one);  // history of the old epoch
  CHECK(ActiveOf(c).first_height == 5);
  auto idx = two.IndexOf(k.alice.addr);
  REQUIRE(idx);
  CHECK(two.validators()[*idx].consensus_key == k.consensus.pub);

  // Block 6: alice unbonds everything; she still signs 7 and 8.
  Block b5 = Produce(c);
  Follow(follower, b5);
  CHECK(b5.header.validators_hash == two.Hash());
  Block b6 = Produce(c, {Tx(k.alice, 1, Unbond(3 * kMinStake))});
  Follow(follower, b6);
  CHECK(b6.header.next_validators_hash == two.Hash());
  Block b7 = Produce(c);
  Follow(follower, b7);
  CHECK(SetFor(c, 8).Hash() == two.Hash());
  Block b8 = Produce(c);
  Follow(follower, b8);
  CHECK(b8.header.validators_hash == two.Hash());
  CHECK(b8.header.next_validators_hash == one);
  CHECK(Members(SetFor(c, 9)) == std::vector<Address>{k.validator.addr});
  // An unchanged set at a boundary keeps its hash but starts a new epoch.
  c.RunTo(12);
  CHECK(ActiveOf(c).first_height == 13);
  CHECK(SetFor(c, 13).Hash() == one);
  CHECK(H(follower->head().Hash()) == H(b8.header.Hash()));
  // The history is replayable.
  RequireOk(c->Replay({}), "replay");
}

TEST_CASE("epochs: a partial unbond changes the power at the boundary; an empty selection keeps the old set") {
  const Keys& k = K();
  Genesis g = EpochGenesis({{&k.validator, 3 * kMinStake}});
  TestChain c(g);
  Produce(c, {Tx(k.validator, 0, Unbond(kMinStake))});
  c.RunTo(3);
  CHECK(SetFor(c, 4).total_power() == 3 * kMinStake);
  c.RunTo(4);
  CHECK(SetFor(c, 5).total_power() == 2 * kMinStake);
  // A partial unbond below the minimum is refused (docs/state.md 9.4).
  auto refused = c.Next({Tx(k.validator, 1, Unbond(2 * kMinStake - 1))});
  REQUIRE(refused.receipts.size() == 1);
  CHECK(refused.receipts[0].status == static_cast<uint64_t>(TxStatus::kStakeBelowMinimum));
  // A delegation keeps the record after the operator unbonds all of its own
  // stake; without self-bond it is not eligible: nobody is, the old set
  // stays (the chain must not halt).
  Produce(c, {Tx(k.alice, 0, TxPayload{DelegateTx{k.validator.addr, kMinStake}}),
              Tx(k.validator, 2, Unbond(2 * kMinStake))});
  CHECK(Stake(c, k.validator) == kMinStake);
  c.RunTo(8);
  consensus::ValidatorSet s = SetFor(c, 9);
  CHECK(Members(s) == std::vector<Address>{k.validator.addr});
  CHECK(s.total_power() == 2 * kMinStake);
  CHECK(ActiveOf(c).first_height == 9);
}

TEST_CASE("epochs: ValidatorSetFor rotates priorities from fresh at each epoch; out of range is refused") {
  const Keys& k = K();
  Genesis g = EpochGenesis({{&k.validator, 3 * kMinStake}, {&k.alice, 2 * kMinStake}, {&k.dave, kMinStake}});
  TestChain c(g);
  c.RunTo(6);
  auto fresh = chain::MakeValidatorSet(ActiveOf(c));
  RequireOk(fresh, "make");
  CHECK(ActiveOf(c).first_height == 5);
  for (uint64_t h = 1; h <= 7; ++h) {
    auto want = *fresh;
    uint64_t first = h <= 4 ? 1 : 5;
    for (uint64_t i = first; i < h; ++i) want.IncrementPriority();
    consensus::ValidatorSet got = SetFor(c, h);
    INFO("height ", h);
    REQUIRE(got.size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK(got.validators()[i].priority == want.validators()[i].priority);
    CHECK(got.Proposer(0).address == want.Proposer(0).address);
  }
  // Heights 4 and 5 straddle the boundary: 5 starts from fresh priorities.
  consensus::ValidatorSet at5 = SetFor(c, 5);
  for (const auto& v : at5.validators()) CHECK(v.priority == 0);
  CHECK(c->ValidatorSetFor(0).error().code == ErrorCode::kNotFound);
  CHECK(c->ValidatorSetFor(8).error().code == ErrorCode::kNotFound);
  CHECK(c->ValidatorSetFor(7).has_value());
}

TEST_CASE("epochs: VerifyCommit accepts a commit signed by the set of the header's height") {
  const Keys& k = K();
  Genesis g = EpochGenesis({{&k.validator, kMinStake}, {&k.alice, kMinStake}, {&k.dave, kMinStake}});
  TestChain c(g);
  Block b = Produce(c);
  auto sign = [&](std::vector<const TestKey*> signers, const BlockHeader& h) {
    gtos::Commit cm;
    cm.height = h.height;
    cm.round = 1;
    cm.block_hash = h.Hash();
    std::sort(signers.begin(), signers.end(), [](const TestKey* x, const TestKey* y) { return x->addr < y->addr; });
    for (const TestKey* s : signers) {
      Vote v = SignedVote(*s, s->addr, kPrecommit, h.height, 1, "");
      v.block_hash = cm.block_hash;
      v.signature = *s->algo->sign(s->secret, v.SigningDigest(kChainId));
      cm.signatures.push_back(CommitSig{s->addr, v.signature});
    }
    return cm;
  };
  gtos::Commit all = sign({&k.validator, &k.alice, &k.dave}, b.header);
  RequireOk(c->VerifyCommit(b.header, all), "verify commit");
  CHECK(!c->VerifyCommit(b.header, sign({&k.validator, &k.alice}, b.header)));  // 2/3 is not > 2/3
  CHECK(!c->VerifyCommit(b.header, sign({&k.validator, &k.alice, &k.nobody}, b.header)));
  gtos::Commit wrong = all;
  wrong.height = 2;
  CHECK(!c->VerifyCommit(b.header, wrong));
  wrong = all;
  wrong.block_hash = Hash32{};
  CHECK(!c->VerifyCommit(b.header, wrong));
  BlockHeader other = b.header;
  other.validators_hash = Hash32{};
  CHECK(!c->VerifyCommit(other, sign({&k.validator, &k.alice, &k.dave}, other)));
}

TEST_CASE("headers: Validate rejects a wrong validators_hash, next_validators_hash, evidence_root or proposer") {
  const Keys& k = K();
  Genesis g = EpochGenesis({{&k.validator, kMinStake}, {&k.alice, kMinStake}});
  TestChain c(g);
  auto a = c->Propose({}, k.validator.addr, c->head().time_ms + 1000, true, {});
  RequireOk(a, "propose");
  const Block good = a->block;
  RequireOk(c->Validate(good, true), "validate good");
  auto expect_bad = [&](const std::function<void(Block&)>& tamper, std::string_view why) {
    Block b = good;
    tamper(b);
    auto r = c->Validate(b, true);
    REQUIRE(!r);
    INFO(r.error().message);
    CHECK(Contains(r.error().message, why));
  };
  expect_bad([](Block& b) { b.header.validators_hash.v[0] ^= 1; }, "validators_hash");
  expect_bad([](Block& b) { b.header.next_validators_hash.v[0] ^= 1; }, "next_validators_hash");
  expect_bad([](Block& b) { b.header.evidence_root.v[0] ^= 1; }, "evidence_root");
  expect_bad([&](Block& b) { b.header.proposer = k.nobody.addr; }, "not in the validator set");
  // The other member may propose.
  Block by_alice = good;
  by_alice.header.proposer = k.alice.addr;
  RequireOk(c->Validate(by_alice, true), "validate alice's");
}

TEST_CASE("evidence: a double sign slashes the exact amount, burns it, jails, and drops the validator at the boundary") {
  const Keys& k = K();
  const uint64_t stake = 3 * kMinStake + 999;  // not a multiple of 1000: the slash rounds down
  Genesis g = EpochGenesis({{&k.validator, 10 * kMinStake}, {&k.alice, stake}},
                           [](ChainParams& p) { p.slash_double_sign_permille = 37; });
  TestChain c(g), follower(g);
  Follow(follower, Produce(c));
  uint64_t supply = Supply(c);
  Evidence e = DoubleSign(k.alice, 1, 2);
  Block b = Produce(c, {}, {e});
  Follow(follower, b);
  REQUIRE(b.evidence.size() == 1);
  CHECK(b.header.evidence_root == MerkleRoot({e.Hash()}));
  CHECK(b.header.evidence_root != Hash32{});
  const uint64_t slash = stake * 37 / 1000;  // exact: stake * 37 fits in 64 bits here
  CHECK(slash == 111'036);
  CHECK(Stake(c, k.alice) == stake - slash);
  CHECK(c->GetValidator(k.alice.addr)->value().jailed == 1);
  CHECK(Supply(c) == supply - slash);  // burned
  // Still in the set until the boundary, gone after it.
  CHECK(SetFor(c, 3).IndexOf(k.alice.addr).has_value());
  c.RunTo(4);
  CHECK(Members(SetFor(c, 5)) == std::vector<Address>{k.validator.addr});
  // A jailed validator can still unbond.
  Produce(c, {Tx(k.alice, 0, Unbond(stake - slash))});
  CHECK(!c->GetValidator(k.alice.addr)->has_value());
}

TEST_CASE("evidence: a prevote double sign from an earlier epoch is checked against that epoch's set") {
  const Keys& k = K();
  Genesis g = EpochGenesis({{&k.validator, 10 * kMinStake}, {&k.alice, 2 * kMinStake}});
  TestChain c(g);
  c.RunTo(5);
  Block b = Produce(c, {}, {DoubleSign(k.alice, 3, 0, kPrevote)});
  CHECK(b.evidence.size() == 1);
  CHECK(Stake(c, k.alice) == 2 * kMinStake - 2 * kMinStake * 50 / 1000);
}

TEST_CASE("evidence: invalid pieces are left out when proposing and make a block invalid when validating") {
  const Keys& k = K();
  Genesis g = EpochGenesis({{&k.validator, 10 * kMinStake}, {&k.alice, 2 * kMinStake}, {&k.dave, 2 * kMinStake}},
                           [](ChainParams& p) { p.unbonding_blocks = 4; });
  TestChain c(g);
  c.RunTo(3);
  Evidence good = DoubleSign(k.alice, 2);

  auto check_rejected = [&](std::vector<Evidence> ev, std::string_view why, size_t kept = 0) {
    INFO(why);
    auto a = c->Propose({}, k.validator.addr, c->head().time_ms + 1000, true, ev);
    RequireOk(a, "propose");
    CHECK(a->block.evidence.size() == kept);
    REQUIRE(a->exec.left_out_evidence.size() == ev.size() - kept);
    CHECK(Contains(a->exec.left_out_evidence.back().second.message, why));
    CHECK(a->exec.left_out_evidence.back().first == ev.back().Hash());
    Block b = a->block;
    b.evidence = ev;
    auto r = c->Validate(b, true);
    REQUIRE(!r);
    CHECK(Contains(r.error().message, why));
    CHECK(Contains(r.error().message, "evidence " + std::to_string(ev.size() - 1)));
  };

  Evidence same = good;
  same.b = same.a;
  check_rejected({same}, "same block");
  Evidence heights = good;
  heights.b = SignedVote(k.alice, k.alice.addr, kPrecommit, 1, 0, "block-b");
  check_rejected({heights}, "different heights");
  Evidence rounds = good;
  rounds.b = SignedVote(k.alice, k.alice.addr, kPrecommit, 2, 1, "block-b");
  check_rejected({rounds}, "different heights or rounds");
  Evidence types = good;
  types.b = SignedVote(k.alice, k.alice.addr, kPrevote, 2, 0, "block-b");
  check_rejected({types}, "one type");
  Evidence badsig = good;
  badsig.b.signature[0] ^= 1;
  check_rejected({badsig}, "does not verify");
  Evidence wrong_key = good;  // dave's signature on a vote naming alice
  wrong_key.b = SignedVote(k.dave, k.alice.addr, kPrecommit, 2, 0, "block-b");
  check_rejected({wrong_key}, "does not verify");
  check_rejected({DoubleSign(k.nobody, 2)}, "not in the set");
  check_rejected({DoubleSign(k.alice, 4)}, "not below the block height");
  check_rejected({DoubleSign(k.alice, 0)}, "not below the block height");
  check_rejected({good, DoubleSign(k.alice, 1)}, "names validator", 1);

  // Commit the good one (block 4). An earlier infraction is covered by that
  // slash; a later one of the now tombstoned validator is refused too.
  Block b = Produce(c, {}, {good});
  REQUIRE(b.evidence.size() == 1);
  check_rejected({DoubleSign(k.alice, 3)}, "already slashed in block 4");
  check_rejected({DoubleSign(k.alice, 4)}, "is tombstoned");
  // Too old: more than unbonding_blocks below the block.
  c.RunTo(6);
  check_rejected({DoubleSign(k.dave, 2)}, "more than unbonding_blocks");
  Block ok = Produce(c, {}, {DoubleSign(k.dave, 3)});
  CHECK(ok.evidence.size() == 1);
  // A validator that unbonded fully and whose unbonding was already
  // released has nothing left to slash: block 5 releases the unbond of
  // block 1, and evidence of height 1 is still admissible there.
  TestChain c2(g);
  Produce(c2, {Tx(k.dave, 0, Unbond(2 * kMinStake))});
  c2.RunTo(4);
  auto a = c2->Propose({}, k.validator.addr, c2->head().time_ms + 1000, true, {DoubleSign(k.dave, 1)});
  RequireOk(a, "propose");
  REQUIRE(a->exec.left_out_evidence.size() == 1);
  CHECK(Contains(a->exec.left_out_evidence[0].second.message,
                 "has no validator record and no stake unbonding since the epoch of height 1"));
  CHECK(c2->CheckEvidence(DoubleSign(k.dave, 1)).error().code == ErrorCode::kInvalid);
}

namespace {

// The E entry of a slash of `k` in block `h`, decoded: [height, round, type].
std::optional<std::vector<uint64_t>> SlashRecord(TestChain& c, uint64_t h, const TestKey& k) {
  StateMap s = c.State();
  auto it = s.find(schema::SlashedKey(h, k.addr));
  if (it == s.end()) return std::nullopt;
  size_t off = 0;
  auto p = codec::ParseOne(AsBytes(it->second), &off);
  REQUIRE(p);
  const msgpack::object& o = (*p)->handle.get();
  REQUIRE(o.type == msgpack::type::ARRAY);
  std::vector<uint64_t> out;
  for (uint32_t i = 0; i < o.via.array.size; ++i) out.push_back(o.via.array.ptr[i].via.u64);
  return out;
}

uint64_t Unbonding(TestChain& c, uint64_t release, const TestKey& k) {
  StateMap s = c.State();
  auto it = s.find(schema::UnbondingKey(release, k.addr, k.addr));
  if (it == s.end()) return 0;
  size_t off = 0;
  auto p = codec::ParseOne(AsBytes(it->second), &off);
  return (*p)->handle.get().via.u64;
}

// The reason `e` is left out of the next block (empty if it is valid).
std::string EvidenceRefusal(TestChain& c, const Evidence& e) {
  auto a = c->Propose({}, K().validator.addr, c->head().time_ms + 1000, true, {e});
  RequireOk(a, "propose");
  if (a->exec.left_out_evidence.empty()) return "";
  return a->exec.left_out_evidence[0].second.message;
}

}  // namespace

TEST_CASE("evidence: an infraction is slashed once: again, swapped, with a third vote, after unbonding; the tombstone "
          "stays") {
  const Keys& k = K();
  Genesis g = EpochGenesis({{&k.validator, 10 * kMinStake}, {&k.alice, 2 * kMinStake}},
                           [](ChainParams& p) { p.unbonding_blocks = 10; });
  TestChain c(g), follower(g);
  for (int i = 0; i < 3; ++i) Follow(follower, Produce(c));
  Evidence e = DoubleSign(k.alice, 2, 1);
  Evidence swapped{e.b, e.a};
  CHECK(swapped.Hash() != e.Hash());
  // Both in one block: the second names the same validator.
  auto both = c->Propose({}, k.validator.addr, c->head().time_ms + 1000, true, {e, swapped});
  RequireOk(both, "propose");
  CHECK(both->block.evidence.size() == 1);
  REQUIRE(both->exec.left_out_evidence.size() == 1);
  CHECK(Contains(both->exec.left_out_evidence[0].second.message, "names validator"));

  Block b = Produce(c, {}, {e});  // block 4
  Follow(follower, b);
  const uint64_t after = 2 * kMinStake - 2 * kMinStake * 50 / 1000;
  CHECK(Stake(c, k.alice) == after);
  CHECK(SlashRecord(c, 4, k.alice) == std::vector<uint64_t>{2, 1, kPrecommit});
  CHECK(H(follower->head().state_root) == H(c->head().state_root));

  const std::string covered = "already slashed in block 4";
  Evidence third{e.a, SignedVote(k.alice, k.alice.addr, kPrecommit, 2, 1, "block-c")};
  for (const Evidence& again : {e, swapped, third, DoubleSign(k.alice, 2, 1, kPrevote), DoubleSign(k.alice, 3, 7)}) {
    CHECK(Contains(EvidenceRefusal(c, again), covered));
    CHECK(Contains(c->CheckEvidence(again).error().message, covered));
  }
  // Validate mode agrees: a block carrying the swapped pair is invalid.
  auto a = c->Propose({}, k.validator.addr, c->head().time_ms + 1000, true, {});
  RequireOk(a, "propose");
  Block bad = a->block;
  bad.evidence = {swapped};
  auto r = c->Validate(bad, true);
  REQUIRE(!r);
  CHECK(Contains(r.error().message, covered));

  // Unbonding everything deletes the V entry and with it the jail: the E
  // entry still refuses the swapped pair (rule 8 comes first), and the Z
  // entry (the tombstone) refuses a new infraction of the same epoch, which
  // the unbonding entry would back (rule 9). Registering again is refused
  // (address_tombstoned: tests/unit/staking_test.cpp).
  Produce(c, {Tx(k.alice, 0, Unbond(after))});  // block 5
  CHECK(!c->GetValidator(k.alice.addr)->has_value());
  CHECK(Contains(EvidenceRefusal(c, swapped), covered));
  CHECK(Contains(EvidenceRefusal(c, DoubleSign(k.alice, 3)), covered));
  CHECK(Contains(EvidenceRefusal(c, DoubleSign(k.alice, 4)), "tombstoned"));

  // The E entry of block 4 ages out at block 4 + unbonding_blocks = 14:
  // from there on no admissible infraction is below 4.
  c.RunTo(12);  // block 13 is the last that admits height 3, and 3 < 4 is covered
  CHECK(Contains(EvidenceRefusal(c, DoubleSign(k.alice, 3)), covered));
  c.RunTo(13);
  CHECK(SlashRecord(c, 4, k.alice).has_value());
  c.RunTo(14);
  CHECK(!SlashRecord(c, 4, k.alice).has_value());
  CHECK(Contains(EvidenceRefusal(c, DoubleSign(k.alice, 3)), "more than unbonding_blocks"));
  // The tombstone does not age out.
  auto z = c->store().Get(schema::TombstoneKey(k.alice.addr));
  RequireOk(z, "tombstone");
  CHECK(z->has_value());
}

namespace {

// What proposer `validator` signs for a proposal of (height, round) of block
// `block` (its hash stands for the block), signed with consensus key
// `signer`.
Statement SignedProposal(const TestKey& signer, const Address& validator, uint64_t height, uint64_t round,
                         std::string_view block, uint64_t valid_round_plus_1 = 0) {
  Statement s;
  s.type = static_cast<uint64_t>(StatementType::kProposal);
  s.height = height;
  s.round = round;
  s.block_hash = crypto::Sha256(AsBytes(block));
  s.validator = validator;
  s.valid_round_plus_1 = valid_round_plus_1;
  auto sig = signer.algo->sign(signer.secret, s.SigningDigest(kChainId));
  RequireOk(sig, "sign proposal");
  s.signature = *sig;
  return s;
}

// Two conflicting proposals of `k` at (height, round), in canonical order.
Evidence DoubleProposal(const TestKey& k, uint64_t height, uint64_t round = 0) {
  return MakeProposalEvidence(SignedProposal(k, k.addr, height, round, "block-a"),
                              SignedProposal(k, k.addr, height, round, "block-b"));
}

}  // namespace

TEST_CASE("evidence: proposal equivocation slashes, jails and tombstones like a double sign") {
  const Keys& k = K();
  const uint64_t stake = 3 * kMinStake + 999;
  Genesis g = EpochGenesis({{&k.validator, 10 * kMinStake}, {&k.alice, stake}},
                           [](ChainParams& p) { p.slash_double_sign_permille = 37; });
  TestChain c(g), follower(g);
  Follow(follower, Produce(c));
  uint64_t supply = Supply(c);
  Evidence e = DoubleProposal(k.alice, 1, 2);
  REQUIRE(e.is_proposal());
  // The proposal digest is the consensus one (GTOS-PROPOSAL-V1).
  CHECK(e.a.SigningDigest(kChainId) == ProposalSigningDigest(kChainId, 1, 2, 0, e.a.block_hash));
  // Canonical order: one equivocation, one hash, whichever came first.
  CHECK(H(MakeProposalEvidence(e.b, e.a).Hash()) == H(e.Hash()));
  // Its own hash domain: not the vote evidence domain over the same bytes.
  codec::Writer w;
  codec::EncodeObject(w, e);
  CHECK(H(e.Hash()) == H(crypto::Sha256Tagged("GTOS-PROPOSAL-EVIDENCE-V1", w.bytes())));
  CHECK(H(e.Hash()) != H(crypto::Sha256Tagged("GTOS-EVIDENCE-V1", w.bytes())));
  Block b = Produce(c, {}, {e});
  Follow(follower, b);
  REQUIRE(b.evidence.size() == 1);
  CHECK(b.header.evidence_root == MerkleRoot({e.Hash()}));
  const uint64_t slash = stake * 37 / 1000;
  CHECK(Stake(c, k.alice) == stake - slash);
  auto v = c->GetValidator(k.alice.addr);
  RequireOk(v, "validator");
  REQUIRE(v->has_value());
  CHECK((*v)->jailed == 1);
  CHECK((*v)->tombstoned == 1);
  CHECK(Supply(c) == supply - slash);
  auto z = c->store().Get(schema::TombstoneKey(k.alice.addr));
  RequireOk(z, "tombstone");
  CHECK(z->has_value());
  CHECK(SlashRecord(c, 2, k.alice) == std::vector<uint64_t>{1, 2, static_cast<uint64_t>(StatementType::kProposal)});
  CHECK(H(follower->head().state_root) == H(c->head().state_root));
  // Two proposals that differ only in valid_round are equivocation too.
  Genesis g2 = EpochGenesis({{&k.validator, 10 * kMinStake}, {&k.alice, stake}});
  TestChain c2(g2);
  Produce(c2);
  Evidence vr = MakeProposalEvidence(SignedProposal(k.alice, k.alice.addr, 1, 3, "block-a", 0),
                                     SignedProposal(k.alice, k.alice.addr, 1, 3, "block-a", 2));
  CHECK(EvidenceRefusal(c2, vr).empty());
  CHECK(Produce(c2, {}, {vr}).evidence.size() == 1);
  CHECK(c2->GetValidator(k.alice.addr)->value().tombstoned == 1);
}

TEST_CASE("evidence: invalid proposal evidence is left out when proposing and makes a block invalid") {
  const Keys& k = K();
  Genesis g = EpochGenesis({{&k.validator, 10 * kMinStake}, {&k.alice, 2 * kMinStake}, {&k.dave, 2 * kMinStake}},
                           [](ChainParams& p) { p.unbonding_blocks = 4; });
  TestChain c(g);
  c.RunTo(3);
  const Statement pa = SignedProposal(k.alice, k.alice.addr, 2, 0, "block-a");
  const Statement pb = SignedProposal(k.alice, k.alice.addr, 2, 0, "block-b");
  Evidence good = MakeProposalEvidence(pa, pb);

  auto check_rejected = [&](std::vector<Evidence> ev, std::string_view why, size_t kept = 0) {
    INFO(why);
    auto a = c->Propose({}, k.validator.addr, c->head().time_ms + 1000, true, ev);
    RequireOk(a, "propose");
    CHECK(a->block.evidence.size() == kept);
    REQUIRE(a->exec.left_out_evidence.size() == ev.size() - kept);
    CHECK(Contains(a->exec.left_out_evidence.back().second.message, why));
    CHECK(a->exec.left_out_evidence.back().first == ev.back().Hash());
    Block b = a->block;
    b.evidence = ev;
    auto r = c->Validate(b, true);
    REQUIRE(!r);
    CHECK(Contains(r.error().message, why));
  };

  // The same signed content twice (what a tampered or body-stripped copy of
  // one proposal amounts to: the signature covers the header hash only).
  check_rejected({Evidence{pa, pa}}, "sign the same content");
  check_rejected({MakeProposalEvidence(pa, SignedProposal(k.alice, k.alice.addr, 1, 0, "block-b"))},
                 "different heights or rounds");
  check_rejected({MakeProposalEvidence(pa, SignedProposal(k.alice, k.alice.addr, 2, 1, "block-b"))},
                 "different heights or rounds");
  check_rejected({MakeProposalEvidence(pa, SignedProposal(k.dave, k.dave.addr, 2, 0, "block-b"))},
                 "different proposers");
  check_rejected({Evidence{good.b, good.a}}, "canonical order");
  Evidence badsig = good;
  badsig.b.signature[0] ^= 1;
  check_rejected({badsig}, "proposal signature does not verify");
  // dave's signature on a proposal naming alice
  check_rejected({MakeProposalEvidence(pa, SignedProposal(k.dave, k.alice.addr, 2, 0, "block-b"))},
                 "does not verify");
  check_rejected({DoubleProposal(k.nobody, 2)}, "not in the set");
  check_rejected({DoubleProposal(k.alice, 4)}, "proposal height 4 is not below the block height");
  check_rejected({DoubleProposal(k.alice, 0)}, "not below the block height");
  // Kinds do not mix, and each kind's statements have their shape.
  check_rejected({Evidence{pa, SignedVote(k.alice, k.alice.addr, kPrecommit, 2, 0, "block-b")}},
                 "paired with a vote");
  Evidence no_vr = good;
  no_vr.b.valid_round_plus_1.reset();
  check_rejected({no_vr}, "lacks its valid_round_plus_1");
  Evidence vote_vr = DoubleSign(k.alice, 2);
  vote_vr.b.valid_round_plus_1 = 0;
  check_rejected({vote_vr}, "a vote carries a valid_round_plus_1");
  // Vote and proposal evidence name the same validator: one per block.
  check_rejected({good, DoubleSign(k.alice, 1)}, "names validator", 1);

  // Committed (block 4): the same again, the vote kind of the same
  // incident and an earlier one are covered; a later one is refused for
  // the tombstone.
  Block b = Produce(c, {}, {good});
  REQUIRE(b.evidence.size() == 1);
  check_rejected({good}, "already slashed in block 4");
  check_rejected({DoubleSign(k.alice, 2)}, "already slashed in block 4");
  check_rejected({DoubleProposal(k.alice, 3)}, "already slashed in block 4");
  check_rejected({DoubleProposal(k.alice, 4)}, "is tombstoned");
  CHECK(Contains(c->CheckEvidence(DoubleProposal(k.alice, 4)).error().message, "is tombstoned"));
  // Too old: more than unbonding_blocks below the block.
  c.RunTo(6);
  check_rejected({DoubleProposal(k.dave, 2)}, "proposal height 2 is more than unbonding_blocks");
  CHECK(Produce(c, {}, {DoubleProposal(k.dave, 3)}).evidence.size() == 1);
}

TEST_CASE("evidence: stake unbonded since the infraction's epoch began is slashed, earlier unbonding is not") {
  const Keys& k = K();
  // Epochs of 4: heights 5-8 are signed by the set chosen at the end of block 4.
  Genesis g = EpochGenesis({{&k.validator, 10 * kMinStake}, {&k.alice, 4 * kMinStake}},
                           [](ChainParams& p) { p.unbonding_blocks = 20; });
  TestChain c(g), follower(g);
  for (int i = 0; i < 3; ++i) Follow(follower, Produce(c));
  Follow(follower, Produce(c, {Tx(k.alice, 0, Unbond(kMinStake))}));      // block 4: before the epoch's power was fixed
  REQUIRE(SetFor(c, 5).validators().size() == 2);
  CHECK(SetFor(c, 5).validators()[*SetFor(c, 5).IndexOf(k.alice.addr)].power == 3 * kMinStake);
  Follow(follower, Produce(c, {Tx(k.alice, 1, Unbond(kMinStake))}));      // block 5: counted in the power of 5-8
  Follow(follower, Produce(c, {Tx(k.alice, 2, Unbond(kMinStake / 2))}));  // block 6: the infraction's height
  uint64_t supply = Supply(c);
  // Block 7: the evidence of height 6, and an unbond in the same block
  // (transactions run after evidence: that entry is not slashed).
  Block b = Produce(c, {Tx(k.alice, 3, Unbond(300'000))}, {DoubleSign(k.alice, 6)});
  Follow(follower, b);
  REQUIRE(b.evidence.size() == 1);
  CHECK(H(follower->head().state_root) == H(c->head().state_root));
  const uint64_t bonded = 4 * kMinStake - 2 * kMinStake - kMinStake / 2;  // 1.5M at step 3
  CHECK(Stake(c, k.alice) == bonded - bonded * 50 / 1000 - 300'000);
  CHECK(c->GetValidator(k.alice.addr)->value().jailed == 1);
  CHECK(Unbonding(c, 4 + 20, k.alice) == kMinStake);                       // untouched
  CHECK(Unbonding(c, 5 + 20, k.alice) == kMinStake - kMinStake * 50 / 1000);
  CHECK(Unbonding(c, 6 + 20, k.alice) == kMinStake / 2 - kMinStake / 2 * 50 / 1000);
  CHECK(Unbonding(c, 7 + 20, k.alice) == 300'000);                          // created after the evidence
  CHECK(Supply(c) == supply - (bonded + kMinStake + kMinStake / 2) * 50 / 1000);
  // The slashed entries release their reduced amounts.
  uint64_t bal = c.Balance(k.alice);
  c.RunTo(25);
  CHECK(c.Balance(k.alice) == bal + kMinStake + kMinStake - kMinStake * 50 / 1000);
}

TEST_CASE("evidence: a validator that unbonded its whole stake is slashed through its unbonding entry, not jailed") {
  const Keys& k = K();
  Genesis g = EpochGenesis({{&k.validator, 10 * kMinStake}, {&k.alice, 2 * kMinStake}},
                           [](ChainParams& p) { p.unbonding_blocks = 20; });
  TestChain c(g), follower(g);
  for (int i = 0; i < 4; ++i) Follow(follower, Produce(c));
  Follow(follower, Produce(c, {Tx(k.alice, 0, Unbond(2 * kMinStake))}));  // block 5: V deleted
  CHECK(!c->GetValidator(k.alice.addr)->has_value());
  CHECK(SetFor(c, 6).IndexOf(k.alice.addr).has_value());  // still signing until the boundary
  Follow(follower, Produce(c));                            // block 6
  uint64_t supply = Supply(c);
  RequireOk(c->CheckEvidence(DoubleSign(k.alice, 6)), "check evidence");
  Block b = Produce(c, {}, {DoubleSign(k.alice, 6)});  // block 7
  Follow(follower, b);
  REQUIRE(b.evidence.size() == 1);
  CHECK(!c->GetValidator(k.alice.addr)->has_value());  // nothing to jail
  CHECK(Unbonding(c, 25, k.alice) == 2 * kMinStake - 2 * kMinStake * 50 / 1000);
  CHECK(Supply(c) == supply - 2 * kMinStake * 50 / 1000);
  CHECK(SlashRecord(c, 7, k.alice) == std::vector<uint64_t>{6, 0, kPrecommit});
  CHECK(Contains(EvidenceRefusal(c, DoubleSign(k.alice, 5, 3, kPrevote)), "already slashed in block 7"));
  c.RunTo(8);
  CHECK(Members(SetFor(c, 9)) == std::vector<Address>{k.validator.addr});
}

TEST_CASE("evidence: each amount is rounded down on its own; permille 1000 takes everything") {
  const Keys& k = K();
  auto run = [&](uint64_t permille) {
    Genesis g = EpochGenesis({{&k.validator, 10 * kMinStake}, {&k.alice, 2075}}, [&](ChainParams& p) {
      p.min_validator_stake = 10;
      p.unbonding_blocks = 20;
      p.slash_double_sign_permille = permille;
    });
    auto c = std::make_unique<TestChain>(g);
    Produce(*c, {Tx(k.alice, 0, Unbond(19))});  // block 1
    Produce(*c, {Tx(k.alice, 1, Unbond(19))});  // block 2
    Produce(*c, {Tx(k.alice, 2, Unbond(38))});  // block 3
    CHECK(Stake(*c, k.alice) == 1999);
    uint64_t supply = Supply(*c);
    Block b = Produce(*c, {}, {DoubleSign(k.alice, 3)});  // block 4
    REQUIRE(b.evidence.size() == 1);
    return std::make_pair(std::move(c), supply);
  };
  SUBCASE("50 permille") {
    auto [c, supply] = run(50);
    CHECK(Stake(*c, k.alice) == 1999 - 99);  // floor(99.95)
    CHECK(Unbonding(*c, 21, k.alice) == 19);  // floor(0.95) = 0
    CHECK(Unbonding(*c, 22, k.alice) == 19);
    CHECK(Unbonding(*c, 23, k.alice) == 38 - 1);  // floor(1.9)
    CHECK(Supply(*c) == supply - 100);            // not floor(2075 * 0.05) = 103
  }
  SUBCASE("1000 permille") {
    auto [c, supply] = run(1000);
    CHECK(Stake(*c, k.alice) == 0);
    CHECK((*c)->GetValidator(k.alice.addr)->value().jailed == 1);  // kept at stake 0
    StateMap s = c->State();
    for (uint64_t r : {21, 22, 23}) CHECK(!s.contains(schema::UnbondingKey(r, k.alice.addr, k.alice.addr)));
    CHECK(Supply(*c) == supply - 2075);
  }
}
