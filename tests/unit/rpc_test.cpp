// The RPC server over real HTTP: a chain in a temporary directory, a backend
// that commits every submitted tx in a block of its own, and the libcurl
// client the tools use.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "crypto/hash.h"
#include "rpc/client.h"
#include "rpc/methods.h"
#include "rpc/queries.h"
#include "rpc/server.h"
#include "state/schema.h"
#include "types/records.h"

using namespace gtos;

namespace {

constexpr std::string_view kChainId = "gtos-rpc-test";

struct TestKey {
  Bytes secret;
  Bytes pub;
  Address address;
};

TestKey MakeKey(uint8_t fill) {
  const crypto::SigAlgo* a = crypto::FindAlgo(crypto::AlgoId::kEd25519);
  TestKey k;
  k.secret.assign(32, fill);
  k.pub = *a->derive_public(k.secret);
  k.address = crypto::DeriveAddress(a->id, k.pub);
  return k;
}

Genesis MakeGenesis(const TestKey& validator, const TestKey& funded) {
  Genesis g;
  g.chain_id = std::string(kChainId);
  g.genesis_time_ms = 1'700'000'000'000;
  g.params.epoch_length = 10;
  g.accounts = {{validator.address, 10'000'000}, {funded.address, 1'000'000'000}};
  std::sort(g.accounts.begin(), g.accounts.end(),
            [](const GenesisAccount& x, const GenesisAccount& y) { return x.address < y.address; });
  GenesisValidator v;
  v.chain_id = g.chain_id;
  v.algo = static_cast<uint64_t>(crypto::AlgoId::kEd25519);
  v.public_key = validator.pub;
  v.stake = g.params.min_validator_stake;
  v.signature = *crypto::FindAlgo(v.algo)->sign(validator.secret, v.SigningDigest());
  g.validators = {v};
  return g;
}

// Commits each accepted tx at once, in a block of its own.
class TestBackend : public rpc::Backend {
 public:
  TestBackend(chain::Chain& c, Address proposer) : chain_(c), proposer_(proposer) {}
  const chain::Chain& chain() const override { return chain_; }
  Result<Hash32> SubmitTx(SignedTx tx) override {
    std::lock_guard<std::mutex> l(mu_);
    if (mempool_full) return Fail(ErrorCode::kUsage, "mempool full");
    Hash32 id = tx.tx.Id();
    auto applied = chain_.Propose({std::move(tx)}, proposer_, 0, true, {});
    if (!applied) return std::unexpected(applied.error());
    if (!applied->exec.left_out.empty()) return std::unexpected(applied->exec.left_out[0].second);
    GTOS_TRY(CommitLocked(std::move(*applied)));
    return id;
  }
  uint64_t NextNonce(const Address& a) const override {
    auto acc = chain_.GetAccount(a);
    return acc && *acc ? (*acc)->nonce : 0;
  }
  size_t MempoolSize() const override { return 0; }
  bool Ready() const override { return ready; }
  std::string Metrics() const override { return "gtos_test_backend_metric 7"; }

  // An empty block.
  Status Advance() {
    std::lock_guard<std::mutex> l(mu_);
    auto applied = chain_.Propose({}, proposer_, 0, true, {});
    if (!applied) return std::unexpected(applied.error());
    return CommitLocked(std::move(*applied));
  }

  std::atomic<bool> ready{true};
  std::atomic<bool> mempool_full{false};

 private:
  Status CommitLocked(chain::AppliedBlock applied) {
    gtos::Commit c;
    c.height = applied.block.header.height;
    c.block_hash = applied.block.header.Hash();
    return chain_.Commit(std::move(applied), c);
  }
  chain::Chain& chain_;
  Address proposer_;
  std::mutex mu_;
};

// A chain in a temporary directory with a server on a free port.
struct Node {
  TestKey validator = MakeKey(0x11);
  TestKey alice = MakeKey(0x22);
  std::string dir;
  std::unique_ptr<chain::Chain> chain;
  std::unique_ptr<TestBackend> backend;
  std::unique_ptr<rpc::Server> server;
  rpc::ServerOptions options;
  uint64_t alice_nonce = 0;

  explicit Node(rpc::ServerOptions o = {}) : options(o) {
    char tmpl[] = "/tmp/gtos-rpc-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    REQUIRE(chain::Chain::Init(dir + "/data", MakeGenesis(validator, alice)));
    Start();
  }
  ~Node() {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  void Start() {
    chain::ChainOptions co;
    co.datadir = dir + "/data";
    co.sync = false;
    auto c = chain::Chain::Open(co);
    REQUIRE(c);
    chain = std::move(*c);
    backend = std::make_unique<TestBackend>(*chain, validator.address);
    options.port = 0;
    server = std::make_unique<rpc::Server>(*backend, options);
    auto st = server->Start();
    REQUIRE(st);
  }
  void Stop() {
    server.reset();
    backend.reset();
    chain.reset();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }

  SignedTx Sign(TxPayload payload, std::optional<uint64_t> nonce = {}) {
    TxBody tx;
    tx.chain_id = std::string(kChainId);
    tx.from = alice.address;
    tx.nonce = nonce ? *nonce : alice_nonce++;
    tx.payload = std::move(payload);
    tx.fee = *MinFee(tx, chain->params());
    return *SignTx(tx, *crypto::FindAlgo(crypto::AlgoId::kEd25519), alice.secret, alice.pub);
  }
};

template <class T>
TxPayload Payload(T t) {
  TxPayload p;
  p.body = std::move(t);
  return p;
}

TransferTx Transfer(uint64_t amount) {
  TransferTx t;
  t.to.v.fill(0x77);
  t.amount = amount;
  return t;
}

KvPutTx KvPut(std::string ns, std::string key, std::string value, uint64_t ttl) {
  KvPutTx k;
  k.ns.assign(ns.begin(), ns.end());
  k.key.assign(key.begin(), key.end());
  k.value.assign(value.begin(), value.end());
  k.ttl = ttl;
  return k;
}

std::string Hex(std::string_view text) { return ToHex0x(AsBytes(text)); }

// The node's error for a call that must fail.
rpc::RpcError CallError(rpc::Client& c, std::string_view method, Json params) {
  auto r = c.CallRaw(method, std::move(params));
  REQUIRE(r);
  REQUIRE_MESSAGE(!*r, "expected an error from " << method << ", got " << (*r)->dump());
  return r->error();
}

Json CallOk(rpc::Client& c, std::string_view method, Json params = nullptr) {
  auto r = c.CallRaw(method, std::move(params));
  REQUIRE(r);
  REQUIRE_MESSAGE(*r, method << " failed: " << r->error().code << " " << r->error().message);
  return **r;
}

rpc::HttpResponse PostJson(rpc::Client& c, std::string_view body) {
  auto r = c.Post("/", "application/json", AsBytes(body));
  REQUIRE(r);
  return *r;
}

}  // namespace

TEST_CASE("rpc: chain profile, blocks, transactions, receipts") {
  Node node;
  rpc::Client c(node.url());

  Json profile = CallOk(c, "tos_chainProfile");
  CHECK(profile["chain_id"] == kChainId);
  CHECK(profile["genesis_hash"] == ToHex0x(node.chain->genesis_hash()));
  CHECK(profile["params"]["epoch_length"] == 10);
  CHECK(profile["params"]["retain_blocks"] == 200);
  CHECK(profile["params"].size() == 30);
  CHECK(profile["head"] == 0);
  CHECK(profile["node_version"].get<std::string>().starts_with("gtos "));
  // The client-side view of the parameters rebuilds ChainParams exactly.
  ChainParams p;
  for (auto& [name, value] : profile["params"].items())
    REQUIRE(p.Set(name, std::to_string(value.get<uint64_t>())));
  CHECK(state::EncodeValue(p) == state::EncodeValue(node.chain->params()));
  // No plan has activated: the params in force are the genesis's, and no plan is pending.
  Json in_force = CallOk(c, "tos_getParams");
  CHECK(in_force["height"] == 0);
  CHECK(in_force["params"] == profile["params"]);
  CHECK(CallOk(c, "tos_getParams", {"latest"}) == in_force);
  CHECK(CallError(c, "tos_getParams", {0}).code == rpc::kInvalidParams);
  CHECK(CallOk(c, "tos_getUpgradePlan").is_null());

  CHECK(CallOk(c, "tos_blockNumber") == 0);
  Json b0 = CallOk(c, "tos_getBlockByNumber", {0});
  CHECK(b0["height"] == 0);
  CHECK(b0["txs"].empty());
  CHECK(b0["commit"].is_null());
  CHECK(b0["hash"] == ToHex0x(node.chain->head().Hash()));

  SignedTx stx = node.Sign(Payload(Transfer(5)));
  std::string id = ToHex0x(stx.tx.Id());
  CHECK(CallOk(c, "tos_sendRawTransaction", {ToHex0x(EncodeRecord(stx))}) == id);
  CHECK(CallOk(c, "tos_blockNumber") == 1);

  Json b1 = CallOk(c, "tos_getBlockByNumber", {1});
  CHECK(b1["height"] == 1);
  CHECK(CallOk(c, "tos_getBlockByNumber", {"latest"}) == b1);  // "latest" is the head
  CHECK(CallOk(c, "tos_getHeaderByNumber", {"latest"})["hash"] == b1["hash"]);
  // The operator views of a backend without p2p or mempool.
  Json sync = CallOk(c, "tos_syncing");
  CHECK(sync["head"] == 1);
  CHECK(sync["catching_up"] == false);
  CHECK(sync["ready"] == true);
  CHECK(CallOk(c, "net_peers") == Json::array());
  CHECK(CallOk(c, "tos_mempool")["senders"] == Json::array());
  CHECK(b1["txs"] == Json::array({id}));
  CHECK(b1["commit"]["height"] == 1);
  CHECK(b1["hash"] == b1["commit"]["block_hash"]);
  Json b1full = CallOk(c, "tos_getBlockByNumber", {1, true});
  CHECK(b1full["txs"][0]["id"] == id);
  CHECK(b1full["txs"][0]["tx"]["payload"]["amount"] == 5);
  // Named params work too.
  CHECK(CallOk(c, "tos_getBlockByNumber", {{"height", 1}, {"full_txs", false}})["txs"] == Json::array({id}));
  // By hash (the N index, schema 6): the same block, block 0 included.
  CHECK(CallOk(c, "tos_getBlockByHash", {b1["hash"]}) == b1);
  CHECK(CallOk(c, "tos_getBlockByHash", {b1["hash"], true}) == b1full);
  CHECK(CallOk(c, "tos_getBlockByHash", {{"hash", b0["hash"]}}) == b0);
  CHECK(CallError(c, "tos_getBlockByHash", {b1["state_root"]}).code == rpc::kNotFound);
  CHECK(CallError(c, "tos_getBlockByHash", {"0x12"}).code == rpc::kInvalidParams);

  Json tx = CallOk(c, "tos_getTransaction", {id});
  CHECK(tx["type"] == "signed_tx");
  CHECK(tx["id"] == id);
  CHECK(tx["height"] == 1);
  CHECK(tx["index"] == 0);
  Json receipt = CallOk(c, "tos_getReceipt", {id});
  CHECK(receipt["type"] == "receipt");
  CHECK(receipt["tx_id"] == id);
  CHECK(receipt["status"] == "ok");
  CHECK(receipt["height"] == 1);
  // The receipt JSON is the record's: it decodes back.
  CHECK(FromJson(receipt));

  auto e = CallError(c, "tos_getBlockByNumber", {2});
  CHECK(e.code == rpc::kNotFound);
  CHECK(e.message.find("block 2") != std::string::npos);
  std::string missing = ToHex0x(crypto::Sha256(AsBytes(std::string_view("nothing"))));
  CHECK(CallError(c, "tos_getTransaction", {missing}).code == rpc::kNotFound);
  CHECK(CallError(c, "tos_getReceipt", {missing}).code == rpc::kNotFound);
}

TEST_CASE("rpc: accounts, signer, code, validators, epoch, retention") {
  Node node;
  rpc::Client c(node.url());
  std::string alice = ToHex0x(node.alice.address);

  Json acc = CallOk(c, "tos_getAccount", {alice});
  CHECK(acc["address"] == alice);
  CHECK(acc["balance"] == 1'000'000'000);
  CHECK(acc["nonce"] == 0);
  CHECK(acc["next_nonce"] == 0);
  CHECK(acc["signer"].is_null());
  Json signer = CallOk(c, "tos_getSigner", {alice});
  CHECK(signer["fallback"] == true);
  CHECK(signer["address"] == alice);
  std::string nobody = "0x" + std::string(64, '9');
  auto e = CallError(c, "tos_getAccount", {nobody});
  CHECK(e.code == rpc::kNotFound);
  CHECK(e.message.find(nobody) != std::string::npos);

  // Bind a signer, then read it back.
  TestKey other = MakeKey(0x33);
  SetSignerTx ss;
  ss.algo = static_cast<uint64_t>(crypto::AlgoId::kEd25519);
  ss.public_key = other.pub;
  CallOk(c, "tos_sendRawTransaction", {ToHex0x(EncodeRecord(node.Sign(Payload(ss))))});
  signer = CallOk(c, "tos_getSigner", {alice});
  CHECK(signer["algo"] == "ed25519");
  CHECK(signer["public_key"] == ToHex0x(other.pub));
  acc = CallOk(c, "tos_getAccount", {alice});
  CHECK(acc["nonce"] == 1);
  CHECK(acc["next_nonce"] == 1);
  CHECK(acc["signer"]["public_key"] == ToHex0x(other.pub));
  CHECK(acc["balance"].get<uint64_t>() < 1'000'000'000);

  // Code, addressed by SHA-256 of its bytes.
  CodePutTx cp;
  std::string code_text = "\x01\x02\x03 code";
  cp.code.assign(code_text.begin(), code_text.end());
  cp.ttl = 50;
  // The account's signer is now `other`: sign with it.
  TxBody body;
  body.chain_id = std::string(kChainId);
  body.from = node.alice.address;
  body.nonce = 1;
  body.payload = Payload(cp);
  body.fee = *MinFee(body, node.chain->params());
  SignedTx stx = *SignTx(body, *crypto::FindAlgo(crypto::AlgoId::kEd25519), other.secret, other.pub);
  CallOk(c, "tos_sendRawTransaction", {ToHex0x(EncodeRecord(stx))});
  std::string code_hash = ToHex0x(crypto::Sha256(cp.code));
  Json code = CallOk(c, "tos_getCode", {code_hash});
  CHECK(code["code"] == ToHex0x(cp.code));
  CHECK(code["created_block"] == 2);
  CHECK(code["expire_block"] == 52);
  Json meta = CallOk(c, "tos_getCodeMeta", {code_hash});
  CHECK(meta.find("code") == meta.end());
  CHECK(meta["size"] == cp.code.size());
  CHECK(meta["expire_block"] == 52);
  CHECK(CallError(c, "tos_getCode", {nobody}).code == rpc::kNotFound);
  CHECK(CallError(c, "tos_getCodeMeta", {nobody}).code == rpc::kNotFound);

  Json vs = CallOk(c, "dpos_getValidators");
  REQUIRE(vs.size() == 1);
  CHECK(vs[0]["address"] == ToHex0x(node.validator.address));
  CHECK(vs[0]["stake"] == node.chain->params().min_validator_stake);
  CHECK(vs[0]["consensus_algo"] == "ed25519");
  CHECK(vs[0]["consensus_key"] == ToHex0x(node.validator.pub));
  CHECK(vs[0]["jailed"] == false);
  CHECK(vs[0]["active"] == true);
  CHECK(vs[0]["power"] == node.chain->params().min_validator_stake);

  // Staking queries (docs/rpc.md).
  std::string val = ToHex0x(node.validator.address);
  Json v = CallOk(c, "dpos_getValidator", {val});
  CHECK(v["self_bond"] == node.chain->params().min_validator_stake);
  CHECK(v["delegated"] == 0);
  CHECK(v["stake"] == node.chain->params().min_validator_stake);
  CHECK(v["commission_permille"] == 0);
  CHECK(v["active"] == true);
  CHECK(v["jailed"] == false);
  CHECK(v["jailed_until"] == 0);
  CHECK(v["tombstoned"] == false);
  // This node commits with empty certificates: the validator missed the
  // commit of every height below the head (docs/state.md 9.8).
  uint64_t head = CallOk(c, "tos_blockNumber").get<uint64_t>();
  REQUIRE(head >= 2);
  CHECK(v["missed_blocks"] == head - 1);
  CHECK(v["signed_blocks_window"] == node.chain->params().signed_blocks_window);
  CHECK(CallError(c, "dpos_getValidator", {nobody}).code == rpc::kNotFound);
  Json dels = CallOk(c, "dpos_getDelegations", {val});
  REQUIRE(dels.size() == 1);
  CHECK(dels[0]["validator"] == val);
  CHECK(dels[0]["amount"] == node.chain->params().min_validator_stake);
  CHECK(CallOk(c, "dpos_getDelegation", {val, val}) == dels[0]);
  CHECK(CallError(c, "dpos_getDelegation", {alice, val}).code == rpc::kNotFound);
  CHECK(CallOk(c, "dpos_getDelegations", {alice}) == Json::array());
  Json rewards = CallOk(c, "dpos_getRewards", {val});
  CHECK(rewards["total"] == rewards["rewards"][0]["amount"].get<uint64_t>() + rewards["commission"].get<uint64_t>());
  CHECK(CallOk(c, "dpos_getUnbondings", {alice}) == Json::array());
  Json supply = CallOk(c, "tos_getSupply");
  CHECK(supply["balanced"] == true);
  CHECK(supply["issued"] == node.chain->height() * node.chain->params().block_reward);

  for (int i = 0; i < 9; ++i) REQUIRE(node.backend->Advance());
  Json epoch = CallOk(c, "dpos_getEpochInfo");  // head 11
  CHECK(epoch["epoch_length"] == 10);
  CHECK(epoch["epoch"] == 1);
  CHECK(epoch["next_epoch_height"] == 20);
  CHECK(epoch["head"] == 11);
  CHECK(epoch["epoch_start"] == 11);
  CHECK(epoch["epoch_end"] == 20);
  CHECK(epoch["active_count"] == 1);
  CHECK(epoch["total_power"] == node.chain->params().min_validator_stake);
  CHECK(epoch["active_set_hash"] == ToHex0x(node.chain->ValidatorSetFor(12)->Hash()));

  Json policy = CallOk(c, "tos_getRetentionPolicy");
  CHECK(policy == Json{{"retain_blocks", 200}, {"snapshot_interval", 1000}});
  Json wm = CallOk(c, "tos_getPruneWatermark");
  CHECK(wm == Json{{"oldest_available", 1}, {"head", 11}});
}

TEST_CASE("rpc: kv with ttl 2 is readable at h and h+1, gone from h+2") {
  Node node;
  rpc::Client c(node.url());
  std::string alice = ToHex0x(node.alice.address);
  SignedTx stx = node.Sign(Payload(KvPut("app", "greeting", "hello", 2)));
  CallOk(c, "tos_sendRawTransaction", {ToHex0x(EncodeRecord(stx))});
  uint64_t h = CallOk(c, "tos_blockNumber").get<uint64_t>();
  Json params = {alice, Hex("app"), Hex("greeting")};

  Json kv = CallOk(c, "tos_getKV", params);
  CHECK(kv["value"] == Hex("hello"));
  CHECK(kv["created_block"] == h);
  CHECK(kv["expire_block"] == h + 2);
  Json meta = CallOk(c, "tos_getKVMeta", params);
  CHECK(meta == Json{{"created_block", h}, {"expire_block", h + 2}, {"size", 5}});
  // encoding "text": namespace, key and value as UTF-8 strings.
  CHECK(CallOk(c, "tos_getKV", {alice, "app", "greeting", "text"})["value"] == "hello");
  CHECK(CallOk(c, "tos_getKV", Json{{"address", alice}, {"namespace", "app"}, {"key", "greeting"},
                                     {"encoding", "text"}})["value"] == "hello");
  CHECK(CallOk(c, "tos_getKV", {alice, Hex("app"), Hex("greeting"), "hex"})["value"] == Hex("hello"));
  CHECK(CallOk(c, "tos_getKV", {alice, Hex("app"), Hex("greeting"), nullptr})["value"] == Hex("hello"));
  CHECK(CallError(c, "tos_getKV", {alice, "app", "greeting", "utf16"}).code == rpc::kInvalidParams);
  CHECK(CallError(c, "tos_getKV", {alice, "app", "greeting", 1}).code == rpc::kInvalidParams);
  // Hex params with encoding text are taken as text: no such key.
  CHECK(CallError(c, "tos_getKV", {alice, Hex("app"), Hex("greeting"), "text"}).code == rpc::kNotFound);
  CHECK(CallError(c, "tos_getKV", {alice, "app", std::string(kMaxKeyBytes + 1, 'k'), "text"}).code ==
        rpc::kInvalidParams);

  REQUIRE(node.backend->Advance());  // h + 1
  CHECK(CallOk(c, "tos_getKV", params)["value"] == Hex("hello"));
  REQUIRE(node.backend->Advance());  // h + 2
  auto e = CallError(c, "tos_getKV", params);
  CHECK(e.code == rpc::kNotFound);
  CHECK(CallError(c, "tos_getKVMeta", params).code == rpc::kNotFound);
  REQUIRE(node.backend->Advance());  // h + 3
  CHECK(CallError(c, "tos_getKV", params).code == rpc::kNotFound);
  CHECK(CallError(c, "tos_getKV", {alice, Hex("app"), Hex("other")}).code == rpc::kNotFound);
  // Empty namespace and key are valid byte strings ("0x").
  CHECK(CallError(c, "tos_getKV", {alice, "0x", "0x"}).code == rpc::kNotFound);
}

TEST_CASE("rpc: malformed params are -32602 naming the param") {
  Node node;
  rpc::Client c(node.url());
  std::string alice = ToHex0x(node.alice.address);
  struct Case {
    const char* method;
    Json params;
    const char* names;  // in the message
  };
  std::vector<Case> cases = {
      {"tos_getBlockByNumber", {"1"}, "'height'"},
      {"tos_getBlockByNumber", {-1}, "'height'"},
      {"tos_getBlockByNumber", {1.5}, "'height'"},
      {"tos_getBlockByNumber", Json::array(), "'height'"},
      {"tos_getBlockByNumber", {0, "yes"}, "'full_txs'"},
      {"tos_getBlockByNumber", {0, false, 1}, "too many params"},
      {"tos_getBlockByNumber", {{"height", 0}, {"bogus", 1}}, "'bogus'"},
      {"tos_getAccount", {"0x12"}, "'address'"},
      {"tos_getAccount", {std::string(64, 'a')}, "'address'"},  // no 0x
      {"tos_getAccount", {"0x" + std::string(63, 'a') + "g"}, "'address'"},
      {"tos_getAccount", {12}, "'address'"},
      {"tos_getAccount", Json::array(), "'address'"},
      {"tos_getAccount", Json::object(), "'address'"},
      {"tos_getAccount", {alice, alice}, "too many params"},
      {"tos_getSigner", {nullptr}, "'address'"},
      {"tos_getKV", {alice, "0xzz", "0x00"}, "'namespace'"},
      {"tos_getKV", {alice, "0x00", "text"}, "'key'"},
      {"tos_getKV", {alice, "0x00"}, "'key'"},
      {"tos_getKVMeta", {alice, "0x" + std::string(2 * 2000, 'a'), "0x00"}, "'namespace'"},
      {"tos_getCode", {true}, "'hash'"},
      {"tos_getCodeMeta", {"0x"}, "'hash'"},
      {"tos_getTransaction", {"0x1"}, "'id'"},
      {"tos_getReceipt", {{"id", 5}}, "'id'"},
      {"tos_sendRawTransaction", {"0x00"}, "'tx'"},
      {"tos_sendRawTransaction", {"0xc1"}, "'tx'"},
      {"tos_sendRawTransaction", {"nothex"}, "'tx'"},
      {"tos_blockNumber", {1}, "too many params"},
      {"tos_chainProfile", {{"x", 1}}, "'x'"},
      {"tos_getBlockByNumber", {"newest"}, "\"latest\""},
      {"tos_mempool", {0}, "'max_senders'"},
      {"tos_mempool", {1001}, "'max_senders'"},
      {"tos_getMempoolTxs", {"0x12"}, "'address'"},
      {"tos_getMempoolTxs", {nullptr, 0}, "'limit'"},
      {"tos_syncing", {1}, "too many params"},
      {"net_peers", {1}, "too many params"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.method);
    CAPTURE(k.params.dump());
    auto e = CallError(c, k.method, k.params);
    CHECK(e.code == rpc::kInvalidParams);
    CHECK_MESSAGE(e.message.find(k.names) != std::string::npos, e.message);
  }
  // Every method refuses an unexpected param of the wrong type.
  for (std::string_view m : rpc::MethodNames()) {
    CAPTURE(m);
    CHECK(CallError(c, m, {Json::object(), Json::object(), Json::object(), Json::object()}).code ==
          rpc::kInvalidParams);
    CHECK(CallError(c, m, {Json::object()}).code == rpc::kInvalidParams);
  }
  CHECK(rpc::MethodNames().size() == 30);
}

TEST_CASE("rpc: JSON-RPC envelope: errors, ids, batches, notifications") {
  Node node;
  rpc::Client c(node.url());
  auto e = CallError(c, "tos_noSuchMethod", nullptr);
  CHECK(e.code == rpc::kMethodNotFound);
  CHECK(e.message.find("tos_noSuchMethod") != std::string::npos);

  auto r = PostJson(c, "{\"jsonrpc\":\"2.0\",\"id\":1,");
  CHECK(r.status == 200);
  Json j = Json::parse(r.body);
  CHECK(j["error"]["code"] == rpc::kParseError);
  CHECK(j["id"].is_null());
  CHECK(Json::parse(PostJson(c, "").body)["error"]["code"] == rpc::kParseError);
  CHECK(Json::parse(PostJson(c, "\xff\xfe").body)["error"]["code"] == rpc::kParseError);

  // Invalid requests, with the id echoed when it could be read.
  j = Json::parse(PostJson(c, R"({"jsonrpc":"1.0","id":"a","method":"tos_blockNumber"})").body);
  CHECK(j["error"]["code"] == rpc::kInvalidRequest);
  CHECK(j["id"] == "a");
  j = Json::parse(PostJson(c, R"({"jsonrpc":"2.0","id":7,"method":5})").body);
  CHECK(j["error"]["code"] == rpc::kInvalidRequest);
  CHECK(j["id"] == 7);
  j = Json::parse(PostJson(c, R"({"jsonrpc":"2.0","id":7,"method":"tos_blockNumber","params":"x"})").body);
  CHECK(j["error"]["code"] == rpc::kInvalidRequest);
  j = Json::parse(PostJson(c, R"({"jsonrpc":"2.0","id":{"a":1},"method":"tos_blockNumber"})").body);
  CHECK(j["error"]["code"] == rpc::kInvalidRequest);
  CHECK(j["id"].is_null());
  j = Json::parse(PostJson(c, R"(5)").body);
  CHECK(j["error"]["code"] == rpc::kInvalidRequest);

  // Ids come back as sent.
  j = Json::parse(PostJson(c, R"({"jsonrpc":"2.0","id":"req-1","method":"tos_blockNumber"})").body);
  CHECK(j == Json{{"jsonrpc", "2.0"}, {"id", "req-1"}, {"result", 0}});
  j = Json::parse(PostJson(c, R"({"jsonrpc":"2.0","id":null,"method":"tos_blockNumber"})").body);
  CHECK(j["id"].is_null());
  CHECK(j["result"] == 0);

  // Batch: responses for requests only, invalid entries answered.
  r = PostJson(c, R"([{"jsonrpc":"2.0","id":1,"method":"tos_blockNumber"},
                      {"jsonrpc":"2.0","method":"tos_blockNumber"},
                      {"jsonrpc":"2.0","id":2,"method":"nope"},
                      1,
                      {"jsonrpc":"2.0","id":3,"method":"tos_getAccount","params":["0x"]}])");
  CHECK(r.status == 200);
  j = Json::parse(r.body);
  REQUIRE(j.size() == 4);
  CHECK(j[0]["id"] == 1);
  CHECK(j[0]["result"] == 0);
  CHECK(j[1]["id"] == 2);
  CHECK(j[1]["error"]["code"] == rpc::kMethodNotFound);
  CHECK(j[2]["error"]["code"] == rpc::kInvalidRequest);
  CHECK(j[3]["id"] == 3);
  CHECK(j[3]["error"]["code"] == rpc::kInvalidParams);
  j = Json::parse(PostJson(c, "[]").body);
  CHECK(j["error"]["code"] == rpc::kInvalidRequest);

  // Notifications only: no content.
  r = PostJson(c, R"({"jsonrpc":"2.0","method":"tos_blockNumber"})");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  r = PostJson(c, R"([{"jsonrpc":"2.0","method":"tos_blockNumber"},{"jsonrpc":"2.0","method":"nope"}])");
  CHECK(r.status == 204);

  // The client's batch call.
  auto batch = c.CallBatch({{"tos_blockNumber", nullptr}, {"tos_getAccount", Json{"0x00"}}});
  REQUIRE(batch);
  REQUIRE(batch->size() == 2);
  CHECK((*batch)[0]);
  CHECK(!(*batch)[1]);
}

TEST_CASE("rpc: limits: body size and batch length") {
  rpc::ServerOptions o;
  o.max_body_bytes = 64 << 10;
  o.max_batch = 20;
  Node node(o);
  rpc::Client c(node.url());
  std::string big = R"({"jsonrpc":"2.0","id":1,"method":"tos_blockNumber","params":[")" +
                    std::string(100 << 10, 'a') + "\"]}";
  auto r = PostJson(c, big);
  CHECK(r.status == 413);
  Json j = Json::parse(r.body);
  CHECK(j["error"]["code"] == rpc::kInvalidRequest);
  CHECK(j["error"]["message"].get<std::string>().find("65536") != std::string::npos);
  auto tx = c.Post("/tx", "application/msgpack", AsBytes(big));
  REQUIRE(tx);
  CHECK(tx->status == 413);
  CHECK(Json::parse(tx->body)["error"]["code"] == rpc::kInvalidRequest);

  Json batch = Json::array();
  for (int i = 0; i < 21; ++i)
    batch.push_back({{"jsonrpc", "2.0"}, {"id", i}, {"method", "tos_blockNumber"}});
  r = PostJson(c, batch.dump());
  CHECK(r.status == 413);
  CHECK(Json::parse(r.body)["error"]["code"] == rpc::kInvalidRequest);
  batch.erase(batch.begin());
  r = PostJson(c, batch.dump());
  CHECK(r.status == 200);
  CHECK(Json::parse(r.body).size() == 20);

  // 21 records on POST /tx: refused before any is submitted.
  Bytes records;
  for (int i = 0; i < 21; ++i) {
    Bytes one = EncodeRecord(node.Sign(Payload(Transfer(1)), static_cast<uint64_t>(i)));
    records.insert(records.end(), one.begin(), one.end());
  }
  tx = c.Post("/tx", "application/msgpack", records);
  REQUIRE(tx);
  CHECK(tx->status == 413);
  CHECK(CallOk(c, "tos_blockNumber") == 0);
  // The server still answers.
  CHECK(CallOk(c, "tos_blockNumber") == 0);
}

TEST_CASE("rpc: POST /tx submits records in order; errors per record") {
  Node node;
  rpc::Client c(node.url());
  SignedTx a = node.Sign(Payload(Transfer(1)));
  SignedTx b = node.Sign(Payload(Transfer(2)));
  SignedTx stale = node.Sign(Payload(Transfer(3)), 0);  // nonce 0 again: refused
  SignedTx d = node.Sign(Payload(Transfer(4)));
  Bytes body;
  for (const SignedTx* t : {&a, &b, &stale, &d}) {
    Bytes one = EncodeRecord(*t);
    body.insert(body.end(), one.begin(), one.end());
  }
  body.push_back(0xc1);  // never valid msgpack
  Bytes tail = EncodeRecord(node.Sign(Payload(Transfer(5))));
  body.insert(body.end(), tail.begin(), tail.end());
  auto r = c.Post("/tx", "application/msgpack", body);
  REQUIRE(r);
  CHECK(r->status == 200);
  Json j = Json::parse(r->body);
  REQUIRE(j.size() == 5);
  CHECK(j[0] == Json{{"id", ToHex0x(a.tx.Id())}});
  CHECK(j[1] == Json{{"id", ToHex0x(b.tx.Id())}});
  CHECK(j[2]["error"]["code"] == rpc::kTxRejected);
  CHECK(j[2]["error"]["data"]["id"] == ToHex0x(stale.tx.Id()));
  CHECK(j[3] == Json{{"id", ToHex0x(d.tx.Id())}});
  CHECK(j[4]["error"]["code"] == rpc::kInvalidParams);
  CHECK(j[4]["error"]["message"].get<std::string>().starts_with("record 5: "));
  CHECK(CallOk(c, "tos_blockNumber") == 3);  // a, b and d committed

  // A record of another type stops the processing there.
  PublicKey pk{static_cast<uint64_t>(crypto::AlgoId::kEd25519), node.alice.pub};
  body = EncodeRecord(pk);
  r = c.Post("/tx", "application/msgpack", body);
  REQUIRE(r);
  j = Json::parse(r->body);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["error"]["message"].get<std::string>().starts_with("record 1: "));
  r = c.Post("/tx", "application/msgpack", {});
  REQUIRE(r);
  CHECK(Json::parse(r->body) == Json::array());

  // A full mempool is -38002, on both paths.
  node.backend->mempool_full = true;
  SignedTx e = node.Sign(Payload(Transfer(6)));
  auto err = CallError(c, "tos_sendRawTransaction", {ToHex0x(EncodeRecord(e))});
  CHECK(err.code == rpc::kMempoolFull);
  r = c.Post("/tx", "application/msgpack", EncodeRecord(e));
  REQUIRE(r);
  CHECK(Json::parse(r->body)[0]["error"]["code"] == rpc::kMempoolFull);
  node.backend->mempool_full = false;
  // Rejection on the JSON-RPC path: -38001 with the backend's reason.
  err = CallError(c, "tos_sendRawTransaction", {ToHex0x(EncodeRecord(stale))});
  CHECK(err.code == rpc::kTxRejected);
  CHECK(!err.message.empty());
}

TEST_CASE("rpc: health, readiness and metrics") {
  Node node;
  rpc::Client c(node.url());
  auto r = c.Get("/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "ok");
  r = c.Get("/readyz");
  REQUIRE(r);
  CHECK(r->status == 200);
  node.backend->ready = false;
  r = c.Get("/readyz");
  REQUIRE(r);
  CHECK(r->status == 503);
  r = c.Get("/nowhere");
  REQUIRE(r);
  CHECK(r->status == 404);

  CallOk(c, "tos_getRetentionPolicy");
  CallOk(c, "tos_getRetentionPolicy");
  CallError(c, "tos_getAccount", {"0x"});
  r = c.Get("/metrics");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->content_type.starts_with("text/plain"));
  const std::string& m = r->body;
  CHECK(m.find("\ngtos_head_height 0\n") != std::string::npos);
  CHECK(m.find("\ngtos_mempool_txs 0\n") != std::string::npos);
  CHECK(m.find("gtos_rpc_requests_total{method=\"tos_getRetentionPolicy\"} 2\n") != std::string::npos);
  CHECK(m.find("gtos_rpc_requests_total{method=\"tos_getAccount\"} 1\n") != std::string::npos);
  CHECK(m.find("\ngtos_rpc_errors_total 1\n") != std::string::npos);
  CHECK(m.find("\nprocess_resident_memory_bytes ") != std::string::npos);
  CHECK(m.find("\ngtos_test_backend_metric 7\n") != std::string::npos);
}

TEST_CASE("rpc: pruned history is -38005 history_pruned with the window") {
  Node node;
  SignedTx stx = node.Sign(Payload(Transfer(1)));
  std::string id = ToHex0x(stx.tx.Id());
  {
    rpc::Client c(node.url());                                          // closed before the server stops
    CallOk(c, "tos_sendRawTransaction", {ToHex0x(EncodeRecord(stx))});  // block 1
  }
  for (int i = 0; i < 4; ++i) REQUIRE(node.backend->Advance());  // head 5
  // Prune bodies, receipts and the tx index of blocks 1-2 as gtos-prune
  // does, offline (keep the last 3 blocks).
  node.Stop();
  {
    chain::ChainOptions co;
    co.datadir = node.dir + "/data";
    auto chain = chain::Chain::Open(co);
    REQUIRE(chain);
    auto dry = (*chain)->PruneHistory(3, /*dry_run=*/true);
    REQUIRE(dry);
    CHECK(dry->heights == 2);
    CHECK(dry->records == 7);  // 2 bodies, 2 receipt lists, 1 tx-index entry, 2 block-index entries
    CHECK((*chain)->oldest_body() == 1);
    auto rep = (*chain)->PruneHistory(3, /*dry_run=*/false);
    REQUIRE(rep);
    CHECK(rep->oldest_after == 3);
    CHECK((*chain)->oldest_body() == 3);
    auto again = (*chain)->PruneHistory(3, false);
    REQUIRE(again);
    CHECK(again->heights == 0);
  }
  node.Start();
  rpc::Client c2(node.url());
  // The block-hash index entries went with the bodies; kept blocks are found.
  Json h2 = CallOk(c2, "tos_getHeaderByNumber", {2});
  CHECK(CallError(c2, "tos_getBlockByHash", {h2["hash"]}).code == rpc::kNotFound);
  Json b3 = CallOk(c2, "tos_getBlockByNumber", {3});
  CHECK(CallOk(c2, "tos_getBlockByHash", {b3["hash"]}) == b3);
  Json want = {{"retain_blocks", 200}, {"oldest_available", 3}, {"requested", 1}, {"head", 5}};
  auto e = CallError(c2, "tos_getBlockByNumber", {1});
  CHECK(e.code == rpc::kHistoryPruned);
  CHECK(e.message == "history_pruned");
  CHECK(e.data == want);
  // The tx-index entry went with the block's history: the id is unknown now.
  CHECK(CallError(c2, "tos_getTransaction", {id}).code == rpc::kNotFound);
  CHECK(CallError(c2, "tos_getReceipt", {id}).code == rpc::kNotFound);
  // Headers and commit certificates are kept.
  Json h1 = CallOk(c2, "tos_getHeaderByNumber", {1});
  CHECK(h1["height"] == 1);
  CHECK(h1["commit"]["block_hash"] == h1["hash"]);
  CHECK(CallError(c2, "tos_getHeaderByNumber", {6}).code == rpc::kNotFound);
  CHECK(CallError(c2, "tos_getBlockByNumber", {2}).data["requested"] == 2);
  CHECK(CallOk(c2, "tos_getBlockByNumber", {3})["height"] == 3);
  CHECK(CallOk(c2, "tos_getBlockByNumber", {0})["height"] == 0);  // headers stay
  CHECK(CallOk(c2, "tos_getPruneWatermark") == Json{{"oldest_available", 3}, {"head", 5}});
  // The client's Call turns the node's error into an Error carrying the data.
  auto r = c2.Call("tos_getBlockByNumber", {1});
  REQUIRE(!r);
  CHECK(r.error().message.starts_with("history_pruned {"));
}

TEST_CASE("rpc: unreachable node and a taken port") {
  rpc::Client c("http://127.0.0.1:1");
  auto r = c.Call("tos_blockNumber", nullptr);
  REQUIRE(!r);
  CHECK(r.error().code == ErrorCode::kIO);
  CHECK(r.error().message.starts_with("unable to reach http://127.0.0.1:1: "));

  Node node;
  rpc::ServerOptions o;
  o.port = node.server->port();
  rpc::Server second(*node.backend, o);
  auto st = second.Start();
  REQUIRE(!st);
  CHECK(st.error().message.find(std::to_string(o.port)) != std::string::npos);
}

// ---- the connection gate, over raw sockets -------------------------------------

namespace {

// A client connection speaking raw bytes.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  }
  ~Raw() { close(fd_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  void Send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the server closed: what it answered can still be read
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // One response: status and body (Content-Length framed); status 0 when
  // the connection closed (or nothing came within 5 s) without one.
  std::pair<int, std::string> Reply() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!Fill()) return {0, ""};
    std::string head = buf_.substr(0, end);
    int status = std::atoi(head.c_str() + 9);
    size_t len = 0;
    if (size_t cl = head.find("Content-Length: "); cl != std::string::npos)
      len = std::stoul(head.substr(cl + 16));
    while (buf_.size() < end + 4 + len)
      if (!Fill()) return {0, ""};
    std::string body = buf_.substr(end + 4, len);
    buf_.erase(0, end + 4 + len);
    return {status, body};
  }
  // True when the server closes the connection within `seconds` (what it
  // sends before is dropped).
  bool ClosedWithin(double seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char b[4096];
      ssize_t n = recv(fd_, b, sizeof(b), 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  bool Fill() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return false;
    char b[65536];
    ssize_t n = recv(fd_, b, sizeof(b), 0);
    if (n <= 0) return false;
    buf_.append(b, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

std::string Post(std::string_view path, std::string_view body, std::string_view extra = "") {
  return "POST " + std::string(path) + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         std::string(extra) + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

constexpr std::string_view kHealthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
constexpr std::string_view kBlockNumber = R"({"jsonrpc":"2.0","id":7,"method":"tos_blockNumber"})";

}  // namespace

TEST_CASE("rpc gate: slow heads and bodies are cut off; health answers meanwhile") {
  rpc::ServerOptions o;
  o.threads = 1;
  o.header_timeout_ms = 300;
  o.body_timeout_ms = 300;
  Node node(o);
  int port = node.server->port();
  std::vector<std::unique_ptr<Raw>> slow;
  for (int i = 0; i < 8; ++i) {
    slow.push_back(std::make_unique<Raw>(port));
    slow.back()->Send("POST / HTTP/1.1\r\nHost: x\r\n");  // never the blank line
  }
  Raw body(port);
  body.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[1,2");
  Raw chunked(port);
  chunked.Send("POST /tx HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n\xc0\r\n");
  // The one worker is free, and health has its own.
  Raw health(port);
  health.Send(kHealthz);
  auto [status, text] = health.Reply();
  CHECK(status == 200);
  CHECK(text == "ok");
  Raw call(port);
  call.Send(Post("/", kBlockNumber));
  CHECK(call.Reply().second == R"({"jsonrpc":"2.0","id":7,"result":0})");
  for (auto& s : slow) CHECK(s->ClosedWithin(2));
  auto [body_status, body_text] = body.Reply();
  CHECK(body_status == 408);
  CHECK(body.ClosedWithin(2));
  auto [chunked_status, chunked_text] = chunked.Reply();
  CHECK(chunked_status == 408);
  CHECK(chunked_text.find("-32600") != std::string::npos);
  CHECK(chunked.ClosedWithin(2));
  rpc::Client c(node.url());
  auto m = c.Get("/metrics");
  REQUIRE(m);
  CHECK(m->body.find("gtos_rpc_refused_total{reason=\"header_timeout\"} 8\n") != std::string::npos);
  CHECK(m->body.find("gtos_rpc_refused_total{reason=\"body_timeout\"} 2\n") != std::string::npos);
}

TEST_CASE("rpc gate: the connection cap closes the oldest waiting connection") {
  rpc::ServerOptions o;
  o.max_connections = 4;
  Node node(o);
  int port = node.server->port();
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<Raw>(port));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // admitted in this order
  }
  Raw fifth(port);
  CHECK(idle[0]->ClosedWithin(1));
  CHECK(!idle[1]->ClosedWithin(0.1));
  fifth.Send(kHealthz);
  CHECK(fifth.Reply().first == 200);
  // A keep-alive connection serves its next request.
  fifth.Send(kHealthz);
  CHECK(fifth.Reply().first == 200);
  rpc::Client c(node.url());
  auto m = c.Get("/metrics");
  REQUIRE(m);
  CHECK(m->body.find("gtos_rpc_refused_total{reason=\"connection_limit\"} ") != std::string::npos);
  CHECK(m->body.find("gtos_rpc_refused_total{reason=\"connection_limit\"} 0\n") == std::string::npos);
}

TEST_CASE("rpc gate: framing and refusals from the head") {
  rpc::ServerOptions o;
  o.max_body_bytes = 64 << 10;
  o.max_inflight_body_bytes = 64 << 10;
  o.max_header_bytes = 2048;
  Node node(o);
  int port = node.server->port();
  SUBCASE("pipelined requests on one connection") {
    Raw r(port);
    r.Send(std::string(kHealthz) + Post("/", kBlockNumber) + std::string(kHealthz));
    CHECK(r.Reply() == std::pair<int, std::string>{200, "ok"});
    CHECK(r.Reply().second == R"({"jsonrpc":"2.0","id":7,"result":0})");
    CHECK(r.Reply() == std::pair<int, std::string>{200, "ok"});
  }
  SUBCASE("Expect: 100-continue is answered before the body is sent") {
    Raw r(port);
    std::string req = Post("/", kBlockNumber, "Expect: 100-continue\r\n");
    r.Send(req.substr(0, req.size() - kBlockNumber.size()));
    CHECK(r.Reply().first == 100);
    r.Send(kBlockNumber);
    CHECK(r.Reply().second == R"({"jsonrpc":"2.0","id":7,"result":0})");
  }
  SUBCASE("chunked bodies: read, and cut off past the size limit") {
    Raw r(port);
    std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    std::string a(kBlockNumber.substr(0, 10)), b(kBlockNumber.substr(10));
    auto hex = [](size_t n) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%zx", n);
      return std::string(buf);
    };
    r.Send(head + hex(a.size()) + "\r\n" + a + "\r\n" + hex(b.size()) + "\r\n" + b + "\r\n0\r\n\r\n");
    CHECK(r.Reply().second == R"({"jsonrpc":"2.0","id":7,"result":0})");
    CHECK(r.ClosedWithin(1));  // a chunked request ends its connection
    Raw big(port);
    std::string chunk(16 << 10, ' ');
    std::string body = head;
    for (int i = 0; i < 6; ++i) body += hex(chunk.size()) + "\r\n" + chunk + "\r\n";
    big.Send(body + "0\r\n\r\n");
    auto [status, text] = big.Reply();
    CHECK(status == 413);
    CHECK(text.find("65536") != std::string::npos);
  }
  SUBCASE("refusals that need no body") {
    auto refused = [port](std::string req) {
      Raw r(port);
      r.Send(req);
      auto reply = r.Reply();
      CHECK(r.ClosedWithin(1));
      return reply.first;
    };
    CHECK(refused("POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n") == 413);
    CHECK(refused("PUT / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx") == 405);
    CHECK(refused(Post("/nowhere", "{}")) == 404);
    CHECK(refused("GET /healthz HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi") == 400);
    CHECK(refused(Post("/", "{}", "Content-Encoding: gzip\r\n")) == 415);
    CHECK(refused("POST / HTTP/1.1\r\nHost: x\r\n\r\n") == 411);
    CHECK(refused("GET / HTTP/1.1\r\nX: " + std::string(4000, 'a') + "\r\n\r\n") == 431);
    Raw r(port);
    r.Send("POST /tx HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
    auto [status, text] = r.Reply();
    CHECK(status == 413);
    CHECK(Json::parse(text)["error"]["code"] == rpc::kInvalidRequest);
  }
  SUBCASE("bodies held at once stay within max_inflight_body_bytes") {
    Raw first(port);
    first.Send("POST / HTTP/1.1\r\nContent-Length: 60000\r\n\r\n[");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // its 60000 bytes are reserved
    Raw second(port);
    second.Send(Post("/", std::string(kBlockNumber) + std::string(10000, ' ')));
    CHECK(second.Reply().first == 503);
    first.Send(std::string(59998, ' ') + "]");
    auto [status, text] = first.Reply();
    CHECK(status == 200);
    CHECK(text.find("-32600") != std::string::npos);  // an empty batch
    std::this_thread::sleep_for(
        std::chrono::milliseconds(50));  // the worker releases the body after replying
    Raw third(port);
    third.Send(Post("/", std::string(kBlockNumber) + std::string(10000, ' ')));
    CHECK(third.Reply().first == 200);
  }
}

TEST_CASE("rpc limits: JSON counts, response cap, /tx record shapes") {
  rpc::ServerOptions o;
  o.max_json_values = 100;
  o.max_json_depth = 4;
  o.max_response_bytes = 4096;
  Node node(o);
  rpc::Client c(node.url());
  Json batch = Json::array();
  for (int i = 0; i < 30; ++i)
    batch.push_back({{"jsonrpc", "2.0"}, {"id", i}, {"method", "tos_blockNumber"}});
  auto r = PostJson(c, batch.dump());  // 30 x 4 values
  CHECK(r.status == 413);
  Json j = Json::parse(r.body);
  CHECK(j["error"]["code"] == rpc::kInvalidRequest);
  CHECK(j["error"]["message"] == "request too large: more than 100 JSON values");
  r = PostJson(c, R"({"jsonrpc":"2.0","id":1,"method":"tos_blockNumber","params":[[[[1]]]]})");
  CHECK(r.status == 413);
  CHECK(Json::parse(r.body)["error"]["message"] == "request too large: JSON nested deeper than 4 levels");
  // Too deep and not JSON further on: the parse error (found by fuzz_jsonrpc).
  r = PostJson(c, R"({"jsonrpc":"2.0","id":[[[[[[1]]]]]],"method":)");
  CHECK(r.status == 200);
  CHECK(Json::parse(r.body)["error"]["code"] == rpc::kParseError);
  // Too many values and not JSON: the parse error as well.
  r = PostJson(c, batch.dump() + "]");
  CHECK(r.status == 200);
  CHECK(Json::parse(r.body)["error"]["code"] == rpc::kParseError);

  // ~1 KiB per tos_chainProfile reply against a 4096-byte cap.
  batch = Json::array();
  for (int i = 0; i < 10; ++i)
    batch.push_back({{"jsonrpc", "2.0"}, {"id", i}, {"method", "tos_chainProfile"}});
  batch.push_back({{"jsonrpc", "2.0"}, {"method", "tos_chainProfile"}});  // a notification: no entry
  r = PostJson(c, batch.dump());
  CHECK(r.status == 200);
  j = Json::parse(r.body);
  REQUIRE(j.size() == 10);
  size_t answered = 0;
  for (size_t i = 0; i < 10; ++i) {
    CHECK(j[i]["id"] == i);
    if (j[i].contains("result")) {
      CHECK(i == answered++);
    } else {
      CHECK(j[i]["error"]["code"] == rpc::kResponseTooLarge);
      CHECK(j[i]["error"]["data"]["limit"] == 4096);
    }
  }
  CHECK(answered >= 1);
  CHECK(answered < 10);
  CHECK(r.body.size() < 4096 + 10 * 200);
  auto m = c.Get("/metrics");
  REQUIRE(m);
  // The calls after the one that passed the cap did not run.
  CHECK(m->body.find("gtos_rpc_requests_total{method=\"tos_chainProfile\"} " + std::to_string(answered + 1) +
                     "\n") != std::string::npos);

  // A single reply past the cap.
  rpc::ServerOptions small;
  small.max_response_bytes = 100;
  Node tiny(small);
  rpc::Client ct(tiny.url());
  auto e = CallError(ct, "tos_chainProfile", nullptr);
  CHECK(e.code == rpc::kResponseTooLarge);

  // A record of 2000 nils (above kMaxRpcPlanSignatures) is refused at its
  // array header, on both paths.
  Bytes nils = {0xdc, 0x07, 0xd0};
  nils.resize(nils.size() + 2000, 0xc0);
  auto tx = c.Post("/tx", "application/msgpack", nils);
  REQUIRE(tx);
  j = Json::parse(tx->body);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["error"]["code"] == rpc::kInvalidParams);
  CHECK(j[0]["error"]["message"] == "record 1: oversize value in record (array size overflow)");
  e = CallError(c, "tos_sendRawTransaction", {ToHex0x(nils)});
  CHECK(e.code == rpc::kInvalidParams);
  CHECK(e.message.find("array size overflow") != std::string::npos);
  // Bare nils: not a record.
  tx = c.Post("/tx", "application/msgpack", Bytes(1000, 0xc0));
  REQUIRE(tx);
  CHECK(Json::parse(tx->body)[0]["error"]["message"] ==
        "record 1: expected a msgpack array (a signed_tx record), got nil (first byte 0xc0)");
  // Not an array at all: the error says what it got (it said "maps are not
  // allowed in records" for 0xdeadbeef).
  e = CallError(c, "tos_sendRawTransaction", {"0xdeadbeef"});
  CHECK(e.code == rpc::kInvalidParams);
  CHECK(e.message == "param 'tx': expected a msgpack array (a signed_tx record), got a map (first byte 0xde)");
  e = CallError(c, "tos_sendRawTransaction", {"0xa3616263"});
  CHECK(e.message == "param 'tx': expected a msgpack array (a signed_tx record), got a string (first byte 0xa3)");
}

TEST_CASE("rpc: Utf8Text accepts UTF-8 and names the offset of the first invalid byte") {
  auto text = [](std::string_view s, size_t* bad = nullptr) {
    return rpc::Utf8Text(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()), bad);
  };
  CHECK(text("") == std::string());
  CHECK(text("hello") == std::string("hello"));
  CHECK(text("h\xc3\xa9llo \xe2\x9c\x93") == std::string("h\xc3\xa9llo \xe2\x9c\x93"));
  CHECK(text(std::string_view("a\0b", 3)) == std::string("a\0b", 3));  // NUL is valid UTF-8
  size_t bad = 99;
  CHECK(!text("ab\xff", &bad));
  CHECK(bad == 2);
  CHECK(!text("\xc3", &bad));  // truncated sequence
  CHECK(!text("x\xed\xa0\x80", &bad));  // a UTF-16 surrogate
  CHECK(!text("\xc0\xaf", &bad));  // overlong
}
