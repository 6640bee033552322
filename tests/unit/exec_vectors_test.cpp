// Golden execution vectors (tests/vectors/exec_vectors.json, docs/state.md).
//
// A fixed genesis and a fixed sequence of blocks with txs of every kind,
// signed with ed25519 and secp256k1 (both deterministic), including failed
// receipts, a signer rotation, a KV overwrite, expiries, an unbonding
// release, an epoch boundary that changes the validator set (block 10),
// double-sign evidence (block 14), and delegation, rewards, commission and
// a boundary that replaces the jailed validator (blocks 15-24), unjail, a redelegation
// entry and a downtime jail and unjail (blocks 25-40). The file pins, at every height, the
// tx_root, receipts_root, state_root, validators_hash, next_validators_hash,
// evidence_root, the header hash and the whole block record.
//
// The test checks that
//   - the keys, the genesis record and every signed tx in the file are what
//     the definitions below produce (signing is deterministic);
//   - proposing the file's txs on a chain initialised from the file's
//     genesis reproduces every receipt, root, header hash and block record;
//   - a second chain accepts the file's block records through Validate.
//
// To regenerate after an intended change of the state transition:
//   GTOS_WRITE_VECTORS=1 ./exec_vectors_test
// then review the diff of the JSON file and commit it.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chain/chain.h"
#include "crypto/hash.h"
#include "crypto/sig.h"
#include "types/json.h"
#include "types/records.h"

using namespace gtos;
namespace fs = std::filesystem;

namespace {

const std::string kVectorPath = std::string(GTOS_SOURCE_DIR) + "/tests/vectors/exec_vectors.json";
constexpr std::string_view kChainId = "gtos-exec-vectors";
constexpr uint64_t kGenesisTime = 1'700'000'000'000;
constexpr uint64_t kBlockInterval = 1'000;

template <class T>
void RequireOk(const Result<T>& r, std::string_view what) {
  if (!r) FAIL(what, ": ", r.error().message);
}

Bytes Hex(std::string_view h) {
  auto b = FromHex(h, "vector");
  RequireOk(b, "hex");
  return *b;
}
Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

// ---- the definitions --------------------------------------------------------------------

struct KeyDef {
  std::string name;
  std::string algo;
  std::string secret_hex;
};

// Fixed secrets. The ed25519 ones are RFC 8032 section 7.1 test secrets
// (TEST 2, 1, 3 and SHA(abc)); bob's is the secp256k1 key of
// tests/vectors/key_vectors.json; carol's is the RFC 6979 A.2.5 scalar used
// as a secp256k1 secret; alice_signer's is an arbitrary fixed scalar.
const std::vector<KeyDef>& KeyDefs() {
  static const std::vector<KeyDef> defs = {
      {"validator", "ed25519", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"},
      {"alice", "ed25519", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"},
      {"bob", "secp256k1", "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"},
      {"carol", "secp256k1", "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"},
      {"dave", "ed25519", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7"},
      {"alice_signer", "secp256k1", "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"},
      {"bob_consensus", "ed25519", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42"},
  };
  return defs;
}

struct Key {
  const crypto::SigAlgo* algo = nullptr;
  Bytes secret;
  Bytes pub;
  Address addr;
};

std::map<std::string, Key> Keys() {
  std::map<std::string, Key> out;
  for (const KeyDef& d : KeyDefs()) {
    Key k;
    k.algo = crypto::FindAlgo(d.algo);
    REQUIRE(k.algo != nullptr);
    k.secret = Hex(d.secret_hex);
    auto pub = k.algo->derive_public(k.secret);
    RequireOk(pub, "derive " + d.name);
    k.pub = *pub;
    k.addr = crypto::DeriveAddress(k.algo->id, k.pub);
    out[d.name] = k;
  }
  return out;
}

Genesis MakeGenesis(const std::map<std::string, Key>& keys) {
  Genesis g;
  g.chain_id = std::string(kChainId);
  g.genesis_time_ms = kGenesisTime;
  // Every parameter is set here, so that a change of the library's defaults
  // does not change the vectors.
  ChainParams& p = g.params;
  p.target_block_interval_ms = 1000;
  p.retain_blocks = 200;
  p.snapshot_interval = 1000;
  p.epoch_length = 10;
  p.max_validators = 4;
  p.unbonding_blocks = 3;
  p.min_validator_stake = 1'000'000;
  p.max_ttl = 100;
  p.max_namespace_bytes = 64;
  p.max_key_bytes = 256;
  p.max_value_bytes = 64 << 10;
  p.max_code_bytes = 512 << 10;
  p.max_tx_bytes = 640 << 10;
  p.max_block_txs = 10'000;
  p.max_block_bytes = 4 << 20;
  p.fee_base = 1000;
  p.fee_per_byte = 10;
  p.fee_per_byte_block = 1;
  p.slash_double_sign_permille = 50;
  p.clock_precision_ms = 500;
  p.message_delay_ms = 2000;
  p.block_reward = 1000;
  p.max_commission_permille = 200;
  p.max_commission_change_permille = 10;
  p.max_delegations = 4;
  p.max_unbonding_entries = 2;
  p.signed_blocks_window = 4;
  p.min_signed_permille = 500;
  p.downtime_jail_blocks = 3;
  p.slash_downtime_permille = 100;
  for (const char* name : {"validator", "alice", "bob", "carol"})
    g.accounts.push_back(GenesisAccount{keys.at(name).addr, 1'000'000'000});
  std::sort(g.accounts.begin(), g.accounts.end(),
            [](const GenesisAccount& x, const GenesisAccount& y) { return x.address < y.address; });
  const Key& v = keys.at("validator");
  GenesisValidator gv;
  gv.chain_id = g.chain_id;
  gv.algo = static_cast<uint64_t>(v.algo->id);
  gv.public_key = v.pub;
  gv.stake = 2'000'000;
  gv.p2p_addr = "127.0.0.1:26656";
  auto sig = v.algo->sign(v.secret, gv.SigningDigest());
  RequireOk(sig, "sign gentx");
  gv.signature = *sig;
  g.validators.push_back(gv);
  RequireOk(g.ValidateFull(), "genesis");
  return g;
}

struct TxDef {
  std::string from;
  std::string signer;  // key that signs; the account's signer
  TxPayload payload;
};
struct BlockDef {
  std::vector<TxDef> txs;
  std::string note;
};

const std::string kCode = std::string("\x60\x80\x60\x40\x52\x00", 6) + "gtos vector code";

std::vector<BlockDef> BlockDefs(const std::map<std::string, Key>& keys) {
  auto addr = [&keys](const char* n) { return keys.at(n).addr; };
  auto transfer = [&](const char* to, uint64_t amount) { return TxPayload{TransferTx{addr(to), amount}}; };
  auto kv = [](std::string_view ns, std::string_view key, std::string_view value, uint64_t ttl) {
    return TxPayload{KvPutTx{B(ns), B(key), B(value), ttl}};
  };
  auto code = [](uint64_t ttl) { return TxPayload{CodePutTx{B(kCode), ttl}}; };
  const Key& signer = keys.at("alice_signer");
  const Key& cons = keys.at("bob_consensus");
  TxPayload set_signer{SetSignerTx{static_cast<uint64_t>(signer.algo->id), signer.pub}};
  auto reg = [&cons](uint64_t stake) {
    return TxPayload{ValidatorRegisterTx{stake, static_cast<uint64_t>(cons.algo->id), cons.pub}};
  };
  auto unbond = [](uint64_t amount) { return TxPayload{ValidatorUnbondTx{amount}}; };
  auto reg_with = [&cons](uint64_t stake, uint64_t commission, std::string moniker) {
    ValidatorRegisterTx r{stake, static_cast<uint64_t>(cons.algo->id), cons.pub};
    r.commission_permille = commission;
    r.moniker = std::move(moniker);
    r.p2p_addr = "127.0.0.1:26666";
    return TxPayload{r};
  };
  auto delegate = [&](const char* v, uint64_t amount) { return TxPayload{DelegateTx{addr(v), amount}}; };
  auto undelegate = [&](const char* v, uint64_t amount) { return TxPayload{UndelegateTx{addr(v), amount}}; };
  auto redelegate = [&](const char* src, const char* dst, uint64_t amount) {
    return TxPayload{RedelegateTx{addr(src), addr(dst), amount}};
  };
  auto withdraw = [&](const char* v) { return TxPayload{WithdrawRewardsTx{v ? addr(v) : Address{}}}; };
  auto edit = [](uint64_t commission, std::string moniker) {
    return TxPayload{ValidatorEditTx{commission, std::move(moniker), "127.0.0.1:26667"}};
  };
  TxPayload unjail{UnjailTx{}};
  return {
      // 1
      {{{"alice", "alice", transfer("dave", 5'000'000)},
        {"bob", "bob", kv("app", "greeting", "hello, storage", 3)},
        {"carol", "carol", code(4)}},
       "transfer (ed25519), kv_put ttl 3 (secp256k1), code_put ttl 4"},
      // 2
      {{{"alice", "alice", kv("app", "k", "v1", 5)},
        {"bob", "bob", transfer("carol", 2'000'000'000)},
        {"carol", "carol", code(50)}},
       "kv_put ttl 5 (expires at 7); failed transfer insufficient_balance; code_put of existing code: code_exists"},
      // 3
      {{{"alice", "alice", set_signer}, {"bob", "bob", reg(3'000'000)}},
       "alice binds a secp256k1 signer; bob registers as validator with 3000000"},
      // 4
      {{{"alice", "alice_signer", kv("app", "k", "v2", 6)}, {"bob", "bob", unbond(1'000'000)},
        {"dave", "dave", kv("dave", "", "", 1)}},
       "bob's kv expires; alice overwrites her kv (expires at 10), signed by the new signer; bob unbonds 1000000 "
       "(released at 7); dave writes an empty kv with ttl 1"},
      // 5
      {{}, "empty block: carol's code and dave's kv expire"},
      // 6
      {{{"carol", "carol", code(2)},
        {"bob", "bob", unbond(5'000'000)},
        {"dave", "dave", unbond(1)},
        {"dave", "dave", reg(999'999)}},
       "code_put of the expired code succeeds again; insufficient_stake; not_validator; stake_below_minimum"},
      // 7
      {{}, "empty block: bob's unbonding is released; alice's old kv expiry (7) has no effect"},
      // 8
      {{{"bob", "bob", reg(1'000'000)}, {"alice", "alice_signer", transfer("bob", 12'345)}},
       "validator_exists; transfer signed by alice's secp256k1 signer; carol's code expires"},
      // 9
      {{}, "empty block: nothing due"},
      // 10
      {{}, "empty block: alice's overwritten kv expires"},
      // 11
      {{{"bob", "bob", unbond(2'000'000)}, {"validator", "validator", transfer("alice", 1)}},
       "bob unbonds the rest and stops being a validator (released at 14); the proposer sends a tx itself"},
      // 12
      {{}, "empty block"},
      // 13
      {{}, "empty block"},
      // 14
      {{}, "empty block: bob's second unbonding is released; evidence: the genesis validator's two prevotes at "
           "height 12 round 1 slash 5% of its stake (burned) and jail it"},
      // 15
      {{{"carol", "carol", reg_with(2'000'000, 100, "carol")},
        {"alice", "alice_signer", delegate("carol", 3'000'000)},
        {"bob", "bob", delegate("validator", 1'000'000)},
        {"dave", "dave", delegate("bob", 1)}},
       "carol registers with commission 100 per mille; alice delegates 3000000 to her; delegating to the jailed "
       "validator: validator_jailed; to a non-validator: not_validator"},
      // 16
      {{{"alice", "alice_signer", undelegate("carol", 1'000'000)},
        {"bob", "bob", undelegate("carol", 1)},
        {"carol", "carol", edit(105, "carol 2")}},
       "alice undelegates 1000000 (released at 19); bob has no delegation: no_delegation; carol raises her "
       "commission by 5"},
      // 17
      {{{"alice", "alice_signer", redelegate("carol", "validator", 1)},
        {"carol", "carol", edit(110, "carol 3")},
        {"carol", "carol", unbond(1'500'000)}},
       "redelegating to the jailed validator: validator_jailed; a second commission change in the epoch: "
       "commission_change; carol's partial unbond below the minimum: stake_below_minimum"},
      // 18
      {{{"alice", "alice_signer", withdraw(nullptr)}, {"carol", "carol", withdraw("carol")}},
       "alice withdraws all her rewards, carol her commission and self-bond rewards (nothing earned yet: the "
       "signers are the genesis validator and bob)"},
      // 19
      {{}, "empty block: alice's undelegation is released"},
      // 20
      {{}, "epoch boundary: the jailed genesis validator leaves the set, carol (power 4000000) is the new set"},
      // 21
      {{{"alice", "alice_signer", delegate("carol", 500'000)}},
       "alice adds to her delegation; the rewards of block 21 go to the signers of block 20 (the genesis "
       "validator, jailed, and bob, who has no record: his share goes to the community pool)"},
      // 22
      {{{"alice", "alice_signer", undelegate("carol", 1)}},
       "carol signed block 21: she receives the whole reward, 10% commission; alice starts an unbonding entry"},
      // 23
      {{{"alice", "alice_signer", undelegate("carol", 1)}, {"alice", "alice_signer", withdraw("carol")}},
       "a second unbonding entry; alice withdraws her reward with carol"},
      // 24
      {{{"alice", "alice_signer", undelegate("carol", 1)}, {"carol", "carol", withdraw(nullptr)}},
       "a third pending entry of the pair: too_many_entries (max_unbonding_entries 2); carol withdraws her "
       "commission and rewards"},
      // 25
      {{{"bob", "bob", reg_with(1'500'000, 0, "bob")},
        {"validator", "validator", unjail},
        {"dave", "dave", unjail},
        {"carol", "carol", unjail}},
       "bob registers again with 1500000; unjail of the tombstoned genesis validator: validator_tombstoned; of a "
       "non-validator: not_validator; of a validator that is not jailed: not_jailed"},
      // 26
      {{{"alice", "alice_signer", redelegate("carol", "bob", 100'000)}, {"validator", "validator", reg(3'000'000)}},
       "alice redelegates 100000 from carol to bob: a redelegation entry (Y) until block 29; the tombstoned "
       "genesis validator registers again: address_tombstoned"},
      // 27
      {{}, "empty block: alice's two unbonding entries are released"},
      // 28
      {{}, "empty block"},
      // 29
      {{}, "empty block: alice's redelegation entry ages out"},
      // 30
      {{}, "epoch boundary: bob joins carol in the set"},
      // 31
      {{}, "empty block; its commit lacks bob's signature (so do those of 32 and 33)"},
      // 32
      {{}, "bob missed the commit of 31: his liveness record (L) counts 1 of the window of 4"},
      // 33
      {{}, "bob missed 2 of 4"},
      // 34
      {{}, "bob missed 3 of 4, signed fewer than 500 per mille: jailed for downtime until 37, slashed 10%"},
      // 35
      {{{"bob", "bob", unjail}}, "bob's unjail before jailed_until: jail_not_expired"},
      // 36
      {{}, "empty block"},
      // 37
      {{{"bob", "bob", unjail}}, "bob's unjail at jailed_until: ok"},
      // 38
      {{}, "empty block"},
      // 39
      {{}, "empty block"},
      // 40
      {{}, "epoch boundary: bob, unjailed, is in the next set again"},
  };
}

// The signed txs of every block, with nonces counted per sender and the
// minimum fee under the genesis parameters.
std::vector<std::vector<SignedTx>> SignBlocks(const std::map<std::string, Key>& keys, const Genesis& g) {
  std::map<std::string, uint64_t> nonces;
  std::vector<std::vector<SignedTx>> out;
  for (const BlockDef& b : BlockDefs(keys)) {
    std::vector<SignedTx> txs;
    for (const TxDef& t : b.txs) {
      TxBody body;
      body.chain_id = g.chain_id;
      body.from = keys.at(t.from).addr;
      body.nonce = nonces[t.from]++;
      body.payload = t.payload;
      auto fee = MinFee(body, g.params);
      RequireOk(fee, "min fee");
      body.fee = *fee;
      const Key& s = keys.at(t.signer);
      auto stx = SignTx(body, *s.algo, s.secret, s.pub);
      RequireOk(stx, "sign");
      txs.push_back(*stx);
    }
    out.push_back(std::move(txs));
  }
  return out;
}

// ---- chains -------------------------------------------------------------------------------

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "gtos-exec-vectors-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::unique_ptr<chain::Chain> NewChain(const TempDir& dir, const std::string& name, const Genesis& g) {
  std::string path = dir.path + "/" + name;
  RequireOk(chain::Chain::Init(path, g), "init");
  chain::ChainOptions o;
  o.datadir = path;
  o.sync = false;
  auto c = chain::Chain::Open(o);
  RequireOk(c, "open");
  return std::move(*c);
}

// The commit certificate of `h`: round 0 precommits of every member of the
// set that signs h's height on `chain` (whose head is h's parent), signed
// with the vector keys (ed25519: deterministic).
gtos::Commit SignedCommit(const chain::Chain& chain, const BlockHeader& h) {
  static const std::map<std::string, Key> keys = Keys();
  gtos::Commit c;
  c.height = h.height;
  c.block_hash = h.Hash();
  auto set = chain.ValidatorSetFor(h.height);
  RequireOk(set, "validator set for commit");
  for (const consensus::Validator& v : set->validators()) {
    // Bob is away for the commits of 31-33 (downtime, docs/state.md 9.8).
    if (h.height >= 31 && h.height <= 33 && v.address == keys.at("bob").addr) continue;
    const Key* key = nullptr;
    for (const auto& [name, k] : keys)
      if (k.pub == v.consensus_key) key = &k;
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

// Proposes and commits `txs` as block h; returns the JSON of the block.
// The lowest address of the set that signs the next block on `c`.
Address ProposerFor(const chain::Chain& c) {
  auto set = c.ValidatorSetFor(c.height() + 1);
  RequireOk(set, "validator set");
  return set->validators().front().address;
}

Json RunBlock(chain::Chain& c, const Address& proposer, uint64_t time_ms, const std::vector<SignedTx>& txs,
              const std::vector<Evidence>& evidence, const std::string& note) {
  auto a = c.Propose(txs, proposer, time_ms, /*verify_signatures=*/true, evidence);
  RequireOk(a, "propose");
  for (const auto& [id, err] : a->exec.left_out) FAIL_CHECK("tx ", ToHex0x(id), " left out: ", err.message);
  for (const auto& [id, err] : a->exec.left_out_evidence)
    FAIL_CHECK("evidence ", ToHex0x(id), " left out: ", err.message);
  REQUIRE(a->block.evidence.size() == evidence.size());
  REQUIRE(a->block.txs.size() == txs.size());
  Block block = a->block;
  block.commit = SignedCommit(c, block.header);
  const BlockHeader& h = block.header;
  Json j;
  j["height"] = h.height;
  j["note"] = note;
  j["time_ms"] = h.time_ms;
  j["proposer"] = ToHex0x(h.proposer);
  Json jt = Json::array();
  for (const SignedTx& t : block.txs) {
    Json x;
    x["kind"] = std::string(TxKindName(static_cast<uint64_t>(t.tx.payload.kind())));
    x["from"] = ToHex0x(t.tx.from);
    x["nonce"] = t.tx.nonce;
    x["algo"] = std::string(AlgoName(t.algo));
    x["id"] = ToHex0x(t.tx.Id());
    x["signed_tx"] = ToHex(EncodeRecord(t));
    jt.push_back(x);
  }
  j["txs"] = jt;
  Json jr = Json::array();
  for (const Receipt& r : a->exec.receipts) {
    Json x;
    x["status"] = std::string(TxStatusName(r.status));
    x["fee"] = r.fee;
    x["expire_block"] = r.expire_block;
    x["hash"] = ToHex0x(r.Hash());
    jr.push_back(x);
  }
  j["receipts"] = jr;
  j["tx_root"] = ToHex0x(h.tx_root);
  j["receipts_root"] = ToHex0x(h.receipts_root);
  j["state_root"] = ToHex0x(h.state_root);
  j["validators_hash"] = ToHex0x(h.validators_hash);
  j["next_validators_hash"] = ToHex0x(h.next_validators_hash);
  j["evidence_root"] = ToHex0x(h.evidence_root);
  j["header_hash"] = ToHex0x(h.Hash());
  j["block"] = ToHex(EncodeRecord(block));
  RequireOk(c.Commit(std::move(*a), *block.commit), "commit");
  return j;
}

// The evidence of block `height`: in block 14, two conflicting prevotes of
// the genesis validator at height 12, round 1 (ed25519: deterministic).
std::vector<Evidence> BlockEvidence(const std::map<std::string, Key>& keys, const Genesis& g, uint64_t height) {
  if (height != 14) return {};
  const Key& v = keys.at("validator");
  Evidence e;
  for (Statement* vote : {&e.a, &e.b}) {
    vote->type = static_cast<uint64_t>(VoteType::kPrevote);
    vote->height = 12;
    vote->round = 1;
    vote->validator = v.addr;
  }
  e.a.block_hash = crypto::Sha256(B("block-a"));
  e.b.block_hash = crypto::Sha256(B("block-b"));
  for (Statement* vote : {&e.a, &e.b}) {
    auto sig = v.algo->sign(v.secret, vote->SigningDigest(g.chain_id));
    RequireOk(sig, "sign vote");
    vote->signature = *sig;
  }
  return {e};
}

Json Generate() {
  auto keys = Keys();
  Genesis g = MakeGenesis(keys);
  TempDir dir;
  auto c = NewChain(dir, "gen", g);
  Json out;
  out["format"] = "GTOS execution golden vectors; docs/state.md";
  out["notes"] = Json::array(
      {"records, keys, signatures and hashes are lowercase hex without 0x; addresses, ids and roots are 0x + 64 hex",
       "every fee is the minimum fee under the genesis parameters (docs/fees.md)",
       "blocks are proposed by the lowest address of their signing set at genesis_time_ms + 1000 * height; each "
       "block's commit "
       "certificate holds round-0 precommits of every member of its set (ed25519, deterministic), and block "
       "h + 1 carries that certificate as its last_commit",
       "ed25519 and secp256k1 signatures are deterministic: re-signing reproduces every signed_tx",
       "an implementation must reproduce every receipt, tx_root, receipts_root, state_root, validators_hash, "
       "next_validators_hash, evidence_root and header_hash; a validator must accept every block record",
       "epoch_length is 10: block 10 is an epoch boundary, where bob (registered in block 3) joins the active set; "
       "block 14 carries double-sign evidence; blocks 15-24 cover delegation, rewards and commission, and block "
       "20 is the boundary where carol replaces the jailed genesis validator; blocks 25-40 cover unjail "
       "(tombstoned, not a validator, not jailed), a redelegation entry, and downtime: bob, in the set from "
       "block 31, is missing from the commits of 31-33, jailed in block 34, refused at 35, unjailed at 37 and "
       "back in the set after the boundary of block 40",
       "rewards: block_reward 1000 plus the block's fees go to the signers of its last_commit (docs/state.md 9.5)",
       "regenerate with GTOS_WRITE_VECTORS=1 tests/exec_vectors_test and review the diff"});
  Json jk = Json::array();
  for (const KeyDef& d : KeyDefs()) {
    const Key& k = keys.at(d.name);
    jk.push_back(Json{{"name", d.name},
                      {"algo", d.algo},
                      {"secret_key", d.secret_hex},
                      {"public_key", ToHex(k.pub)},
                      {"address", ToHex0x(k.addr)}});
  }
  out["keys"] = jk;
  BlockHeader h0 = c->head();
  out["genesis"] = Json{{"record", ToHex(EncodeRecord(g))},
                        {"hash", ToHex0x(g.Hash())},
                        {"state_root", ToHex0x(h0.state_root)},
                        {"header_hash", ToHex0x(h0.Hash())}};
  Json blocks = Json::array();
  auto defs = BlockDefs(keys);
  auto signed_blocks = SignBlocks(keys, g);
  for (size_t i = 0; i < signed_blocks.size(); ++i)
    blocks.push_back(RunBlock(*c, ProposerFor(*c), kGenesisTime + kBlockInterval * (i + 1),
                              signed_blocks[i], BlockEvidence(keys, g, i + 1), defs[i].note));
  out["blocks"] = blocks;
  return out;
}

Json Load() {
  std::ifstream in(kVectorPath);
  INFO("vector file: ", kVectorPath);
  REQUIRE(in.good());
  Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  REQUIRE(!j.is_discarded());
  return j;
}

std::string Str(const Json& j) {
  REQUIRE(j.is_string());
  return j.get<std::string>();
}

}  // namespace

TEST_CASE("exec vectors: regenerate when GTOS_WRITE_VECTORS=1") {
  const char* w = std::getenv("GTOS_WRITE_VECTORS");
  if (!w || std::string_view(w) != "1") return;
  Json j = Generate();
  std::ofstream out(kVectorPath, std::ios::trunc);
  REQUIRE(out.good());
  out << j.dump(2) << "\n";
  REQUIRE(out.good());
  MESSAGE("wrote ", kVectorPath);
}

TEST_CASE("exec vectors: keys, genesis and signed txs are what the definitions produce") {
  Json file = Load();
  auto keys = Keys();
  REQUIRE(file["keys"].size() == KeyDefs().size());
  for (const Json& k : file["keys"]) {
    std::string name = Str(k["name"]);
    CAPTURE(name);
    REQUIRE(keys.contains(name));
    CHECK(Str(k["secret_key"]) == ToHex(keys.at(name).secret));
    CHECK(Str(k["public_key"]) == ToHex(keys.at(name).pub));
    CHECK(Str(k["address"]) == ToHex0x(keys.at(name).addr));
  }
  Genesis g = MakeGenesis(keys);
  CHECK(Str(file["genesis"]["record"]) == ToHex(EncodeRecord(g)));
  CHECK(Str(file["genesis"]["hash"]) == ToHex0x(g.Hash()));
  auto signed_blocks = SignBlocks(keys, g);
  REQUIRE(file["blocks"].size() == signed_blocks.size());
  for (size_t i = 0; i < signed_blocks.size(); ++i) {
    const Json& jb = file["blocks"][i];
    CAPTURE(i + 1);
    REQUIRE(jb["txs"].size() == signed_blocks[i].size());
    for (size_t t = 0; t < signed_blocks[i].size(); ++t)
      CHECK(Str(jb["txs"][t]["signed_tx"]) == ToHex(EncodeRecord(signed_blocks[i][t])));
  }
}

TEST_CASE("exec vectors: the file's blocks reproduce every receipt, root and header hash") {
  Json file = Load();
  auto g = DecodeRecord<Genesis>(Hex(Str(file["genesis"]["record"])));
  RequireOk(g, "genesis record");
  CHECK(Str(file["genesis"]["hash"]) == ToHex0x(g->Hash()));
  TempDir dir;
  auto proposer_chain = NewChain(dir, "propose", *g);
  auto validator_chain = NewChain(dir, "validate", *g);
  CHECK(Str(file["genesis"]["state_root"]) == ToHex0x(proposer_chain->head().state_root));
  CHECK(Str(file["genesis"]["header_hash"]) == ToHex0x(proposer_chain->head().Hash()));

  std::map<std::string, size_t> kinds, statuses, algos;
  size_t expiry_blocks = 0;
  for (const Json& jb : file["blocks"]) {
    uint64_t height = jb["height"].get<uint64_t>();
    CAPTURE(height);
    REQUIRE(height == proposer_chain->height() + 1);
    std::vector<SignedTx> txs;
    for (const Json& jt : jb["txs"]) {
      auto t = DecodeRecord<SignedTx>(Hex(Str(jt["signed_tx"])));
      RequireOk(t, "signed_tx");
      CHECK(Str(jt["id"]) == ToHex0x(t->tx.Id()));
      ++kinds[std::string(TxKindName(static_cast<uint64_t>(t->tx.payload.kind())))];
      ++algos[std::string(AlgoName(t->algo))];
      txs.push_back(*t);
    }
    auto proposer = Hash32FromHex(Str(jb["proposer"]), "proposer");
    RequireOk(proposer, "proposer");
    Hash32 root_before = proposer_chain->head().state_root;
    auto record = DecodeRecord<Block>(Hex(Str(jb["block"])));
    RequireOk(record, "block record");
    Json got = RunBlock(*proposer_chain, *proposer, jb["time_ms"].get<uint64_t>(), txs, record->evidence,
                        Str(jb["note"]));
    CHECK(got["receipts"].dump() == jb["receipts"].dump());
    CHECK(Str(got["tx_root"]) == Str(jb["tx_root"]));
    CHECK(Str(got["receipts_root"]) == Str(jb["receipts_root"]));
    CHECK(Str(got["state_root"]) == Str(jb["state_root"]));
    CHECK(Str(got["validators_hash"]) == Str(jb["validators_hash"]));
    CHECK(Str(got["next_validators_hash"]) == Str(jb["next_validators_hash"]));
    CHECK(Str(got["evidence_root"]) == Str(jb["evidence_root"]));
    if (height == 10) CHECK(Str(jb["validators_hash"]) != Str(jb["next_validators_hash"]));  // bob joins
    if (height == 14) CHECK(!record->evidence.empty());
    if (height == 20) CHECK(Str(jb["validators_hash"]) != Str(jb["next_validators_hash"]));  // carol replaces it
    if (height == 30) CHECK(Str(jb["validators_hash"]) != Str(jb["next_validators_hash"]));  // bob joins
    if (height == 40) {  // bob is back
      CHECK(Str(jb["validators_hash"]) != Str(jb["next_validators_hash"]));
      auto next = proposer_chain->ValidatorSetFor(41);
      RequireOk(next, "set of 41");
      bool bob = false;
      for (const consensus::Validator& v : next->validators()) bob = bob || v.address == Keys().at("bob").addr;
      CHECK(bob);
    }
    CHECK(Str(got["header_hash"]) == Str(jb["header_hash"]));
    CHECK(Str(got["block"]) == Str(jb["block"]));
    for (const Json& r : jb["receipts"]) ++statuses[Str(r["status"])];
    if (txs.empty() && proposer_chain->head().state_root != root_before) ++expiry_blocks;

    // An independent validator accepts the block record as is.
    auto block = DecodeRecord<Block>(Hex(Str(jb["block"])));
    RequireOk(block, "block record");
    REQUIRE(block->commit.has_value());
    auto v = validator_chain->Validate(*block, /*verify_signatures=*/true);
    RequireOk(v, "validate");
    RequireOk(validator_chain->Commit(std::move(*v), *block->commit), "commit");
    CHECK(ToHex0x(validator_chain->head().Hash()) == Str(jb["header_hash"]));
  }
  CHECK(ToHex0x(validator_chain->head().state_root) == ToHex0x(proposer_chain->head().state_root));
  RequireOk(proposer_chain->Replay({}), "replay");

  // The vectors cover every tx kind, both deterministic algorithms, every
  // failure status that a funded chain can reach, and expiries.
  for (const char* kind : {"transfer", "set_signer", "code_put", "kv_put", "validator_register", "validator_unbond",
                           "delegate", "undelegate", "redelegate", "withdraw_rewards", "validator_edit", "unjail"})
    CHECK_MESSAGE(kinds[kind] > 0, kind);
  CHECK(algos["ed25519"] > 0);
  CHECK(algos["secp256k1"] > 0);
  for (const char* s : {"ok", "insufficient_balance", "code_exists", "validator_exists", "stake_below_minimum",
                        "not_validator", "insufficient_stake", "no_delegation", "too_many_entries",
                        "validator_jailed", "commission_change", "not_jailed", "jail_not_expired",
                        "validator_tombstoned", "address_tombstoned"})
    CHECK_MESSAGE(statuses[s] > 0, s);
  CHECK(expiry_blocks >= 3);
}
