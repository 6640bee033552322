#include "rpc/queries.h"

#include <cstdlib>

#include <algorithm>

#include "crypto/hash.h"
#include "state/schema.h"
#include "state/staking.h"
#include "types/records.h"

namespace gtos::rpc {

namespace {

// Chain parameters as a JSON object, in wire order. ChainParams has only
// integer fields; a field of another kind would not compile here.
class ParamsJson {
 public:
  static constexpr bool kDecoding = false;
  explicit ParamsJson(Json& j) : j_(j) {}
  void Uint(std::string_view n, uint64_t& v, uint64_t = 0) { j_[std::string(n)] = v; }

 private:
  Json& j_;
};

std::unexpected<RpcError> StoreFailure(const Error& e) { return RpcFail(kInternalError, e.message); }

std::unexpected<RpcError> Pruned(const chain::Chain& c, uint64_t requested) {
  Json data = {{"retain_blocks", c.params().retain_blocks},
               {"oldest_available", c.oldest_body()},
               {"requested", requested},
               {"head", c.height()}};
  return RpcFail(kHistoryPruned, "history_pruned", std::move(data));
}

// True when `height` is a block whose body has been pruned. Block 0 (the
// genesis block) never has a body and is not pruned.
bool IsPruned(const chain::Chain& c, uint64_t height) { return height > 0 && height < c.oldest_body(); }

Json HeaderFields(const BlockHeader& h) { return HeaderJson(h); }

// Where a tx is, or why it cannot be shown.
std::expected<chain::TxLocation, RpcError> Locate(const chain::Chain& c, const Hash32& id) {
  auto loc = c.GetTxLocation(id);
  if (!loc) return StoreFailure(loc.error());
  if (!*loc) return RpcFail(kNotFound, "transaction " + ToHex0x(id) + " not found");
  if (IsPruned(c, (*loc)->height)) return Pruned(c, (*loc)->height);
  return **loc;
}

}  // namespace

Json HeaderJson(const BlockHeader& h) {
  Json j = ToJson(h);
  j.erase("type");
  j.erase("version");
  return j;  // fields in wire order, then "hash"
}

RpcResult ChainProfile(const chain::Chain& c, std::string_view node_version) {
  Json params = Json::object();
  ParamsJson v(params);
  ChainParams p = c.params();
  p.Fields(v);
  BlockHeader head = c.head();
  return Json{{"chain_id", c.genesis().chain_id},
              {"genesis_hash", ToHex0x(c.genesis_hash())},
              {"genesis_time_ms", c.genesis().genesis_time_ms},
              {"params", std::move(params)},
              {"head", head.height},
              {"head_hash", ToHex0x(head.Hash())},
              {"node_version", std::string(node_version)}};
}

RpcResult HeadHeader(const chain::Chain& c) { return HeaderFields(c.head()); }

RpcResult BlockByNumber(const chain::Chain& c, uint64_t height, bool full_txs) {
  uint64_t head = c.height();
  if (height > head)
    return RpcFail(kNotFound,
                   "block " + std::to_string(height) + " not found (head is " + std::to_string(head) + ")");
  if (IsPruned(c, height)) return Pruned(c, height);
  auto block = c.GetBlock(height);
  if (!block) return StoreFailure(block.error());
  if (!*block) return Pruned(c, height);  // pruned since the check above
  const Block& b = **block;
  Json j = HeaderFields(b.header);
  Json txs = Json::array();
  for (const SignedTx& t : b.txs) txs.push_back(full_txs ? ToJson(t) : Json(ToHex0x(t.tx.Id())));
  j["txs"] = std::move(txs);
  Json whole = ToJson(b);  // evidence and commit as the block record shows them
  j["evidence"] = std::move(whole["evidence"]);
  j["commit"] = std::move(whole["commit"]);
  return j;
}

RpcResult BlockByHash(const chain::Chain& c, const Hash32& hash, bool full_txs) {
  auto h = c.GetHeightByHash(hash);
  if (!h) return StoreFailure(h.error());
  if (!*h)
    return RpcFail(kNotFound, "block " + ToHex0x(hash) + " not found (no such block, or its body was pruned: oldest "
                              "available is " + std::to_string(c.oldest_body()) + ")");
  return BlockByNumber(c, **h, full_txs);
}

RpcResult HeaderByNumber(const chain::Chain& c, uint64_t height) {
  uint64_t head = c.height();
  if (height > head)
    return RpcFail(kNotFound,
                   "header " + std::to_string(height) + " not found (head is " + std::to_string(head) + ")");
  auto header = c.GetHeader(height);
  if (!header) return StoreFailure(header.error());
  if (!*header)
    return RpcFail(kNotFound, "header " + std::to_string(height) +
                                  " is not stored (this node started from a snapshot above it)");
  Json j = HeaderFields(**header);
  auto commit = c.GetCommit(height);
  if (!commit) return StoreFailure(commit.error());
  Block b;  // the commit as the block record shows it
  b.header = **header;
  b.commit = std::move(*commit);
  j["commit"] = std::move(ToJson(b)["commit"]);
  return j;
}

RpcResult TransactionById(const chain::Chain& c, const Hash32& id) {
  auto loc = Locate(c, id);
  if (!loc) return std::unexpected(loc.error());
  auto txs = c.GetBlockTxs(loc->height);
  if (!txs) return StoreFailure(txs.error());
  if (!*txs) return Pruned(c, loc->height);
  if (loc->index >= (*txs)->size())
    return RpcFail(kInternalError,
                   "tx index of " + ToHex0x(id) + " points past block " + std::to_string(loc->height));
  Json j = ToJson((**txs)[loc->index]);
  j["height"] = loc->height;
  j["index"] = loc->index;
  return j;
}

RpcResult ReceiptById(const chain::Chain& c, const Hash32& id) {
  auto loc = Locate(c, id);
  if (!loc) return std::unexpected(loc.error());
  auto receipts = c.GetReceiptList(loc->height);
  if (!receipts) return StoreFailure(receipts.error());
  if (!*receipts) return Pruned(c, loc->height);
  if (loc->index >= (*receipts)->size())
    return RpcFail(kInternalError, "tx index of " + ToHex0x(id) + " points past the receipts of block " +
                                       std::to_string(loc->height));
  Json j = ToJson((**receipts)[loc->index]);
  // A code-put's receipt names the code it stored, the key of
  // tos_getCode (not part of the receipt record, so not of its hash).
  auto txs = c.GetBlockTxs(loc->height);
  if (!txs) return StoreFailure(txs.error());
  if (*txs && loc->index < (*txs)->size())
    if (const auto* put = std::get_if<CodePutTx>(&(**txs)[loc->index].tx.payload.body))
      j["code_hash"] = ToHex0x(crypto::Sha256(put->code));
  return j;
}

RpcResult AccountInfo(const chain::Chain& c, const Address& a, std::optional<uint64_t> next_nonce) {
  auto acc = c.GetAccount(a);
  if (!acc) return StoreFailure(acc.error());
  if (!*acc) return RpcFail(kNotFound, "account " + ToHex0x(a) + " not found");
  const Account& x = **acc;
  Json signer = nullptr;
  if (x.signer)
    signer = {{"algo", std::string(AlgoName(x.signer->algo))}, {"public_key", ToHex0x(x.signer->public_key)}};
  return Json{{"address", ToHex0x(a)},
              {"balance", x.balance},
              {"nonce", x.nonce},
              {"next_nonce", next_nonce.value_or(x.nonce)},
              {"signer", std::move(signer)}};
}

RpcResult SignerInfo(const chain::Chain& c, const Address& a) {
  auto acc = c.GetAccount(a);
  if (!acc) return StoreFailure(acc.error());
  if (*acc && (*acc)->signer) {
    const SignerBinding& s = *(*acc)->signer;
    return Json{
        {"algo", std::string(AlgoName(s.algo))}, {"public_key", ToHex0x(s.public_key)}, {"fallback", false}};
  }
  return Json{{"fallback", true}, {"address", ToHex0x(a)}};
}

std::optional<std::string> Utf8Text(ByteView b, size_t* bad_offset) {
  std::string s(reinterpret_cast<const char*>(b.data()), b.size());
  // nlohmann's serializer validates UTF-8 (it throws type_error 316 at the
  // first invalid byte), so the check is the JSON library's, not ours.
  try {
    (void)Json(s).dump();
  } catch (const Json::type_error& e) {
    if (bad_offset) {
      // "invalid UTF-8 byte at index N: 0x.."
      std::string what = e.what();
      size_t at = what.find("at index ");
      *bad_offset = at == std::string::npos ? 0 : std::strtoull(what.c_str() + at + 9, nullptr, 10);
    }
    return std::nullopt;
  }
  return s;
}

static RpcResult ObjectJson(const chain::ObjectView& o, std::string_view value_name, bool with_value,
                            bool as_text) {
  Json j = Json::object();
  if (with_value && as_text) {
    size_t bad = 0;
    auto text = Utf8Text(o.data, &bad);
    if (!text)
      return RpcFail(kInvalidParams, "the " + std::string(value_name) + " (" + std::to_string(o.data.size()) +
                                         " bytes) is not UTF-8 text: invalid byte at offset " +
                                         std::to_string(bad) + "; ask with encoding \"hex\"");
    j[std::string(value_name)] = std::move(*text);
  } else if (with_value) {
    j[std::string(value_name)] = ToHex0x(o.data);
  }
  j["created_block"] = o.created_block;
  j["expire_block"] = o.expire_block;
  if (!with_value) j["size"] = o.data.size();
  return j;
}

RpcResult KvInfo(const chain::Chain& c, const Address& owner, ByteView ns, ByteView key, bool with_value,
                 bool as_text) {
  auto o = c.GetKv(owner, ns, key);
  if (!o) return StoreFailure(o.error());
  if (!*o)
    return RpcFail(kNotFound, "kv " + ToHex0x(owner) + " namespace " + ToHex0x(ns) + " key " + ToHex0x(key) +
                                  " not found (missing or expired)");
  return ObjectJson(**o, "value", with_value, as_text);
}

RpcResult CodeInfo(const chain::Chain& c, const Hash32& code_hash, bool with_value, bool as_text) {
  auto o = c.GetCode(code_hash);
  if (!o) return StoreFailure(o.error());
  if (!*o) return RpcFail(kNotFound, "code " + ToHex0x(code_hash) + " not found (missing or expired)");
  return ObjectJson(**o, "code", with_value, as_text);
}

RpcResult ParamsInForce(const chain::Chain& c) {
  auto [height, p] = c.HeadParams();
  Json params = Json::object();
  ParamsJson v(params);
  p.Fields(v);
  return Json{{"height", height}, {"params", std::move(params)}};
}

RpcResult UpgradePlanInfo(const chain::Chain& c, std::string_view node_version) {
  auto pending = c.GetPendingPlan();
  if (!pending) return StoreFailure(pending.error());
  if (!*pending) return Json(nullptr);
  const PendingPlan& pp = **pending;
  // The dispatcher's version reads "gtos 0.1.0": the number is the last word.
  std::string_view build = node_version.substr(node_version.rfind(' ') + 1);
  Json changes = Json::array();
  for (const ParamChange& ch : pp.plan.changes) changes.push_back(Json{{"name", ch.name}, {"value", ch.value}});
  return Json{{"chain_id", pp.plan.chain_id},
              {"name", pp.plan.name},
              {"activation_height", pp.plan.activation_height},
              {"changes", std::move(changes)},
              {"required_version", pp.plan.required_version},
              {"digest", ToHex0x(pp.plan.SigningDigest())},
              {"accepted_height", pp.accepted_height},
              {"signed_power", pp.signed_power},
              {"total_power", pp.total_power},
              {"version_known", VersionKnown(pp.plan.required_version, build)}};
}

RpcResult RetentionPolicy(const chain::Chain& c) {
  return Json{{"retain_blocks", c.params().retain_blocks},
              {"snapshot_interval", c.params().snapshot_interval}};
}

RpcResult PruneWatermark(const chain::Chain& c) {
  return Json{{"oldest_available", c.oldest_body()}, {"head", c.height()}};
}

RpcResult Validators(const chain::Chain& c) {
  auto vs = c.GetValidators();
  if (!vs) return StoreFailure(vs.error());
  auto epoch = c.GetEpochInfo();
  if (!epoch) return StoreFailure(epoch.error());
  const std::vector<ActiveValidator>& active = epoch->active_set.validators;  // sorted by address
  Json out = Json::array();
  for (const auto& [addr, v] : *vs) {
    auto it = std::lower_bound(active.begin(), active.end(), addr,
                               [](const ActiveValidator& a, const Address& x) { return a.address < x; });
    bool in_set = it != active.end() && it->address == addr;
    out.push_back({{"address", ToHex0x(addr)},
                   {"stake", v.stake},
                   {"consensus_algo", std::string(AlgoName(v.consensus_algo))},
                   {"consensus_key", ToHex0x(v.consensus_key)},
                   {"jailed", v.jailed != 0},
                   {"p2p_addr", v.p2p_addr},
                   {"moniker", v.moniker},
                   {"commission_permille", v.commission_permille},
                   {"active", in_set},
                   {"power", in_set ? it->power : 0}});
  }
  return out;
}

namespace {

namespace staking = state::staking;

std::string Decimal(staking::Uint128 v) {
  if (v == 0) return "0";
  std::string out;
  while (v > 0) {
    out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return out;
}

// A delegation's JSON, with its value and pending reward as of the head.
Json DelegationJson(const Address& delegator, const Address& validator, const Delegation& d,
                    const std::optional<ValidatorInfo>& v) {
  uint64_t amount = v ? staking::TokensOf(d.shares, *v) : 0;
  uint64_t pending = 0;
  if (v && d.shares > 0)
    pending = static_cast<uint64_t>(std::min<staking::Uint128>(
        staking::PendingReward(d.shares, staking::ReadRatio(v->reward_ratio), staking::ReadRatio(d.ratio_start)),
        v->outstanding_rewards));
  return Json{{"delegator", ToHex0x(delegator)},   {"validator", ToHex0x(validator)},
              {"shares", d.shares},                {"amount", amount},
              {"pending_rewards", pending},        {"unbonding_entries", d.unbonding_entries}};
}

// Every D entry of `delegator` with its validator record (absent only for
// entries that wait for unbonding after the validator left).
Result<std::vector<Json>> DelegationsOf(const chain::Chain& c, const Address& delegator) {
  state::Overlay ov(c.store());
  auto all = ov.Scan(state::schema::DelegationPrefix(delegator));
  if (!all) return std::unexpected(all.error());
  std::vector<Json> out;
  for (const auto& [k, raw] : *all) {
    auto d = state::DecodeValue<Delegation>(raw, "delegation");
    if (!d) return std::unexpected(d.error());
    Address va = state::schema::DelegationKeyValidator(k);
    auto v = staking::LoadValidator(ov, va);
    if (!v) return std::unexpected(v.error());
    out.push_back(DelegationJson(delegator, va, *d, *v));
  }
  return out;
}

}  // namespace

RpcResult ValidatorInfoJson(const chain::Chain& c, const Address& a) {
  state::Overlay ov(c.store());
  auto v = staking::LoadValidator(ov, a);
  if (!v) return StoreFailure(v.error());
  if (!*v) return RpcFail(kNotFound, "validator " + ToHex0x(a) + " not found");
  auto self = staking::SelfBond(ov, a, **v);
  if (!self) return StoreFailure(self.error());
  auto epoch = c.GetEpochInfo();
  if (!epoch) return StoreFailure(epoch.error());
  const std::vector<ActiveValidator>& active = epoch->active_set.validators;
  auto it = std::lower_bound(active.begin(), active.end(), a,
                             [](const ActiveValidator& m, const Address& x) { return m.address < x; });
  bool in_set = it != active.end() && it->address == a;
  const ValidatorInfo& info = **v;
  // Missed commits in the liveness window (docs/state.md 9.8); no L entry
  // is nothing missed.
  auto lraw = ov.Get(state::schema::LivenessKey(a));
  if (!lraw) return StoreFailure(lraw.error());
  uint64_t missed = 0;
  if (*lraw) {
    auto l = state::DecodeValue<Liveness>(**lraw, "liveness record");
    if (!l) return StoreFailure(l.error());
    missed = l->missed;
  }
  return Json{{"address", ToHex0x(a)},
              {"self_bond", *self},
              {"delegated", info.stake - std::min(info.stake, *self)},
              {"stake", info.stake},
              {"shares", info.shares},
              {"active", in_set},
              {"power", in_set ? it->power : 0},
              {"commission_permille", info.commission_permille},
              {"commission_changed_at", info.commission_changed_at},
              {"commission_rewards", info.commission_rewards},
              {"outstanding_rewards", info.outstanding_rewards},
              {"jailed", info.jailed != 0},
              {"moniker", info.moniker},
              {"p2p_addr", info.p2p_addr},
              {"consensus_algo", std::string(AlgoName(info.consensus_algo))},
              {"consensus_key", ToHex0x(info.consensus_key)},
              {"jailed_until", info.jailed_until},
              {"tombstoned", info.tombstoned != 0},
              {"missed_blocks", missed},
              {"signed_blocks_window", c.params().signed_blocks_window}};
}

RpcResult Delegations(const chain::Chain& c, const Address& delegator) {
  auto all = DelegationsOf(c, delegator);
  if (!all) return StoreFailure(all.error());
  Json out = Json::array();
  for (Json& j : *all) out.push_back(std::move(j));
  return out;
}

RpcResult DelegationInfo(const chain::Chain& c, const Address& delegator, const Address& validator) {
  state::Overlay ov(c.store());
  auto d = staking::LoadDelegation(ov, delegator, validator);
  if (!d) return StoreFailure(d.error());
  if (!*d)
    return RpcFail(kNotFound, "no delegation of " + ToHex0x(delegator) + " with validator " + ToHex0x(validator));
  auto v = staking::LoadValidator(ov, validator);
  if (!v) return StoreFailure(v.error());
  return DelegationJson(delegator, validator, **d, *v);
}

RpcResult Rewards(const chain::Chain& c, const Address& delegator) {
  auto all = DelegationsOf(c, delegator);
  if (!all) return StoreFailure(all.error());
  Json per = Json::array();
  uint64_t total = 0;
  for (const Json& d : *all) {
    uint64_t r = d["pending_rewards"].get<uint64_t>();
    total += r;  // each is bounded by a validator's outstanding rewards: the sum by the supply
    per.push_back(Json{{"validator", d["validator"]}, {"amount", r}});
  }
  state::Overlay ov(c.store());
  auto own = staking::LoadValidator(ov, delegator);
  if (!own) return StoreFailure(own.error());
  uint64_t commission = *own ? (*own)->commission_rewards : 0;
  return Json{{"delegator", ToHex0x(delegator)},
              {"rewards", per},
              {"commission", commission},
              {"total", total + commission}};
}

RpcResult Unbondings(const chain::Chain& c, const Address& delegator) {
  namespace schema = state::schema;
  Json out = Json::array();
  Status inner = Ok();
  // The U table is keyed by release height: this scans it whole (a query,
  // not consensus work).
  auto st = c.store().Scan(std::string(1, schema::kUnbonding), [&](std::string_view k, std::string_view v) {
    if (k.size() != schema::kUnbondingKeySize || schema::UnbondingKeyOwner(k) != delegator) return true;
    auto amount = state::DecodeUint(v);
    if (!amount) {
      inner = std::unexpected(amount.error());
      return false;
    }
    out.push_back(Json{{"validator", ToHex0x(schema::UnbondingKeyValidator(k))},
                       {"amount", *amount},
                       {"release_height", schema::UnbondingKeyRelease(k)}});
    return true;
  });
  if (!st) return StoreFailure(st.error());
  if (!inner) return StoreFailure(inner.error());
  return out;
}

RpcResult Supply(const chain::Chain& c) {
  auto s = staking::ComputeSupply(c.store(), c.genesis());
  if (!s) return StoreFailure(s.error());
  // Sums over tables are reported as decimal strings when they pass 2^64
  // (they cannot while the equation holds; a mismatch shows in "balanced").
  auto num = [](staking::Uint128 v) -> Json {
    if (v <= UINT64_MAX) return Json(static_cast<uint64_t>(v));
    return Json(Decimal(v));
  };
  return Json{{"height", c.height()},
              {"genesis", s->genesis},
              {"issued", s->issued},
              {"burned", s->burned},
              {"total", num(s->Expected())},
              {"balances", num(s->balances)},
              {"bonded", num(s->bonded)},
              {"unbonding", num(s->unbonding)},
              {"undistributed_rewards", num(s->undistributed)},
              {"community_pool", s->community_pool},
              {"balanced", s->Held() == s->Expected()}};
}

RpcResult EpochInfo(const chain::Chain& c) {
  uint64_t head = c.height();
  auto e = c.GetEpochInfo();
  if (!e) return StoreFailure(e.error());
  auto set = chain::MakeValidatorSet(e->active_set);
  if (!set) return StoreFailure(set.error());
  return Json{{"epoch_length", e->epoch_length},
              {"epoch", e->epoch},
              {"epoch_start", e->first_height},
              {"epoch_end", e->last_height},
              {"next_epoch_height", e->last_height},
              {"head", head},
              {"active_set_hash", ToHex0x(set->Hash())},
              {"total_power", set->total_power()},
              {"active_count", set->size()}};
}

RpcResult DbStats(const chain::Chain& c) {
  namespace schema = state::schema;
  auto vs = c.GetValidators();
  if (!vs) return StoreFailure(vs.error());
  // Approximate bytes on disk of each table (LevelDB's estimate; cheap).
  Json tables = Json::object();
  struct Table {
    char prefix;
    const char* name;
  };
  static constexpr Table kTables[] = {
      {schema::kAccount, "accounts"},
      {schema::kCode, "code"},
      {schema::kKv, "kv"},
      {schema::kValidator, "validators"},
      {schema::kUnbonding, "unbonding"},
      {schema::kActiveSet, "active_set"},
      {schema::kSlashed, "slashed"},
      {schema::kDelegation, "delegations"},
      {schema::kSupply, "supply"},
      {schema::kLiveness, "liveness"},
      {schema::kRedelegation, "redelegations"},
      {schema::kTombstone, "tombstones"},
      {schema::kExpiry, "expiry_index"},
      {schema::kSetHistory, "validator_set_history"},
      {schema::kHeader, "headers"},
      {schema::kCommit, "commits"},
      {schema::kBody, "bodies"},
      {schema::kReceipts, "receipts"},
      {schema::kTxIndex, "tx_index"},
      {schema::kBlockIndex, "block_index"},
      {schema::kMeta, "meta"},
  };
  for (const Table& t : kTables) {
    std::string begin(1, t.prefix), end(1, static_cast<char>(t.prefix + 1));
    tables[t.name] = c.store().ApproximateSize(begin, end);
  }
  BlockHeader head = c.head();
  return Json{{"chain_id", c.genesis().chain_id},
              {"genesis_hash", ToHex0x(c.genesis_hash())},
              {"head", head.height},
              {"head_hash", ToHex0x(head.Hash())},
              {"head_time_ms", head.time_ms},
              {"oldest_available", c.oldest_body()},
              {"retain_blocks", c.params().retain_blocks},
              {"validators", vs->size()},
              {"approximate_bytes", std::move(tables)}};
}

}  // namespace gtos::rpc
