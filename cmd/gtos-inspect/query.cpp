#include "query.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "chain/chain.h"
#include "cli/record_io.h"
#include "rpc/client.h"
#include "rpc/event_stream.h"
#include "rpc/queries.h"

#ifndef GTOS_INSPECT_VERSION
#define GTOS_INSPECT_VERSION "0.1.0"  // the version_known of `db plan` (cmd/CMakeLists.txt sets it)
#endif

namespace gtos::inspect {

namespace {

enum class What {
  kHead, kStats, kBlock, kAccount, kKv, kCode, kValidators, kEpoch, kPeers, kSyncing, kMempool,
  kValidator, kDelegations, kRewards, kUnbondings, kSupply, kParams, kPlan
};

// The staking queries that take one address.
bool TakesAddress(What w) {
  return w == What::kAccount || w == What::kKv || w == What::kValidator || w == What::kDelegations ||
         w == What::kRewards || w == What::kUnbondings;
}

// One parsed query: which, and its arguments in binary form.
struct Query {
  What what = What::kHead;
  uint64_t height = 0;
  bool latest = false;  // block latest (rpc)
  bool by_hash = false;  // block 0x<hash>: `hash` is the block hash
  Hash32 hash;  // address or code hash
  Bytes ns, key;
};

// What a source answers: the JSON object to print, or an error.
using Answer = Result<Json>;

// The subcommands `db` and `rpc` share; a subclass adds where the data
// comes from (--datadir or --rpc) and answers the queries.
class QueryCommand : public cli::Command {
 public:
  void Setup(CLI::App& app) override {
    SetupSource(app);
    app.add_flag("--hex", hex_, "Take NS and KEY as hex (\"0x\" optional) instead of text");
    app.require_subcommand(1);
    auto add = [&](What w, const char* name, const char* help) {
      CLI::App* sub = app.add_subcommand(name, help);
      sub->fallthrough();  // the parent's options may follow the query's name
      subs_.emplace_back(sub, w);
      return sub;
    };
    add(What::kHead, "head", "The newest block's header");
    if (HasStats())
      add(What::kStats, "stats", "Head, retention window and table sizes of the data directory");
    add(What::kBlock, "block", "Block N: header, hash, transactions, commit")
        ->add_option("N", height_,
                     HasStats() ? "Block height, or block hash (0x + 64 hex)"
                                : "Block height, latest, or block hash (0x + 64 hex)")
        ->required();
    add(What::kAccount, "account", "Balance, nonce and signer of an account")
        ->add_option("ADDR", addr_, "Account address (0x + 64 hex)")
        ->required();
    CLI::App* kv = add(What::kKv, "kv", "A KV record of ADDR: value, created_block, expire_block");
    kv->add_option("ADDR", addr_, "Owner address (0x + 64 hex)")->required();
    kv->add_option("NS", ns_, "Namespace (text, or hex with --hex)")->required();
    kv->add_option("KEY", key_, "Key (text, or hex with --hex)")->required();
    CLI::App* code = add(What::kCode, "code", "A code object: code, created_block, expire_block");
    code->add_option("HASH", hash_, "Code hash (0x + 64 hex)")->required();
    for (CLI::App* sub : {kv, code}) {
      auto* text = sub->add_flag("--text", text_, "The value as a UTF-8 string instead of hex (exit 1 if it is not UTF-8)");
      sub->add_flag("--raw", raw_, "Write the value's bytes alone, nothing else (to a file or pipe)")->excludes(text);
    }
    add(What::kValidators, "validators", "The registered validators, one per line");
    add(What::kEpoch, "epoch", "The current epoch and the active set's hash and power");
    if (!HasStats()) {  // a running node's own views (rpc only)
      add(What::kPeers, "peers", "The node's connected peers, one per line");
      add(What::kSyncing, "syncing", "Catching up or not, head, peers' best height, readiness");
      add(What::kMempool, "mempool", "Waiting transactions: totals and per sender");
    }
    add(What::kValidator, "validator", "A validator: self-bond, delegated, power, commission, rewards")
        ->add_option("ADDR", addr_, "Validator address (0x + 64 hex)")
        ->required();
    add(What::kDelegations, "delegations", "The delegations of ADDR, with their value and pending rewards")
        ->add_option("ADDR", addr_, "Delegator address (0x + 64 hex)")
        ->required();
    add(What::kRewards, "rewards", "The pending rewards of ADDR per validator, its commission and the total")
        ->add_option("ADDR", addr_, "Delegator address (0x + 64 hex)")
        ->required();
    add(What::kUnbondings, "unbondings", "The stake ADDR has unbonding, by release height")
        ->add_option("ADDR", addr_, "Delegator address (0x + 64 hex)")
        ->required();
    add(What::kSupply, "supply", "The terms of the supply equation: issued, burned, bonded, ...");
    add(What::kParams, "params", "The chain parameters in force after the head (upgrade plans applied)");
    add(What::kPlan, "plan", "The accepted upgrade plan waiting for its activation, or null");
  }

  Status Run() override {
    auto q = Parse();
    if (!q) return std::unexpected(q.error());
    Answer a = Ask(*q);
    if (!a) return std::unexpected(a.error());
    if ((text_ || raw_) && (q->what == What::kKv || q->what == What::kCode)) return WriteValue(*q, *a);
    cli::Output out;
    GTOS_TRY(out.Open("", cli::OutputKind::kText));
    // A list (validators, peers) is one JSON line per element.
    if (a->is_array()) {
      for (const Json& e : *a) GTOS_TRY(out.WriteLine(e.dump(-1, ' ', false, Json::error_handler_t::replace)));
    } else {
      GTOS_TRY(out.WriteLine(a->dump(-1, ' ', false, Json::error_handler_t::replace)));
    }
    return out.Commit();
  }

 protected:
  // NS as given on the command line: text, or hex with --hex.
  Result<Bytes> NamespaceArg(const std::string& value) const { return BinaryArg(value, "NS"); }
  virtual void SetupSource(CLI::App& app) = 0;
  virtual bool HasStats() const = 0;
  virtual Answer Ask(const Query& q) = 0;

  // A node's or the chain's error: kNotFound becomes "... not found" (exit 1).
  static Error FromRpc(const rpc::RpcError& e) { return rpc::ToError(e); }

 private:
  Result<Bytes> BinaryArg(const std::string& value, std::string_view name) const {
    if (!hex_) return Bytes(value.begin(), value.end());
    auto b = FromHex(value, name);
    if (!b) return cli::UsageError(b.error().message);
    return b;
  }

  Result<Query> Parse() const {
    Query q;
    for (auto& [sub, w] : subs_)
      if (sub->parsed()) q.what = w;
    if (q.what == What::kBlock && height_ == "latest" && !HasStats()) {
      q.latest = true;
    } else if (q.what == What::kBlock && height_.starts_with("0x")) {
      auto h = Hash32FromHex(height_, "N");
      if (!h) return cli::UsageError(h.error().message);
      q.by_hash = true;
      q.hash = *h;
    } else if (q.what == What::kBlock) {
      auto h = ParseUint64(height_, "N");
      if (!h) return cli::UsageError(h.error().message);
      q.height = *h;
    }
    if (TakesAddress(q.what) || q.what == What::kCode) {
      const std::string& s = q.what == What::kCode ? hash_ : addr_;
      auto h = Hash32FromHex(s, q.what == What::kCode ? "HASH" : "ADDR");
      if (!h) return cli::UsageError(h.error().message);
      q.hash = *h;
    }
    if (q.what == What::kKv) {
      auto ns = BinaryArg(ns_, "NS");
      if (!ns) return std::unexpected(ns.error());
      auto key = BinaryArg(key_, "KEY");
      if (!key) return std::unexpected(key.error());
      q.ns = std::move(*ns);
      q.key = std::move(*key);
    }
    return q;
  }

  // --text / --raw of kv and code: the answer's value field (hex, from
  // the node or the data directory alike) as text, or its bytes alone.
  Status WriteValue(const Query& q, Json answer) const {
    const char* field = q.what == What::kKv ? "value" : "code";
    if (!answer.is_object() || !answer.contains(field) || !(*answer.find(field)).is_string())
      return Fail(ErrorCode::kIO, std::string("the answer has no \"") + field + "\" field");
    auto bytes = FromHex(answer[field].get<std::string>(), field);
    if (!bytes) return std::unexpected(bytes.error());
    cli::Output out;
    if (raw_) {
      // Bytes that are text may go to a terminal; others only to a file or pipe.
      if (!rpc::Utf8Text(*bytes) && ::isatty(1))
        return cli::UsageError("refusing to write the " + std::string(field) + "'s " + std::to_string(bytes->size()) +
                                   " bytes (not UTF-8 text) to a terminal",
                               "redirect standard output to a file or a pipe");
      GTOS_TRY(out.Open("", cli::OutputKind::kText));
      GTOS_TRY(out.Write(*bytes));
      return out.Commit();
    }
    size_t bad = 0;
    auto text = rpc::Utf8Text(*bytes, &bad);
    if (!text)
      return Fail(ErrorCode::kInvalid,
                  std::string("the ") + field + " (" + std::to_string(bytes->size()) +
                      " bytes) is not UTF-8 text: invalid byte at offset " + std::to_string(bad),
                  "drop --text to see it as hex, or use --raw > FILE for its bytes");
    answer[field] = std::move(*text);
    GTOS_TRY(out.Open("", cli::OutputKind::kText));
    GTOS_TRY(out.WriteLine(answer.dump()));
    return out.Commit();
  }

  bool hex_ = false, text_ = false, raw_ = false;
  std::string height_, addr_, ns_, key_, hash_;
  std::vector<std::pair<CLI::App*, What>> subs_;
};

class Db : public QueryCommand {
 public:
  std::string_view name() const override { return "db"; }
  std::string_view help() const override { return "Query a stopped node's data directory; JSON lines out"; }

 protected:
  void SetupSource(CLI::App& app) override {
    app.add_option("--datadir", datadir_, "The node's data directory")->type_name("D")->required();
  }
  bool HasStats() const override { return true; }

  Answer Ask(const Query& q) override {
    chain::ChainOptions o;
    o.datadir = datadir_;
    o.sync = false;
    o.cache_bytes = 8 << 20;
    auto c = chain::Chain::Open(o);
    if (!c) return std::unexpected(c.error());
    const chain::Chain& ch = **c;
    rpc::RpcResult r = [&]() -> rpc::RpcResult {
      switch (q.what) {
        case What::kHead:
          return rpc::HeadHeader(ch);
        case What::kStats:
          return rpc::DbStats(ch);
        case What::kBlock:
          if (q.by_hash) return rpc::BlockByHash(ch, q.hash, /*full_txs=*/true);
          return rpc::BlockByNumber(ch, q.height, /*full_txs=*/true);
        case What::kAccount:
          return rpc::AccountInfo(ch, q.hash, std::nullopt);
        case What::kKv:
          return rpc::KvInfo(ch, q.hash, q.ns, q.key, /*with_value=*/true);
        case What::kCode:
          return rpc::CodeInfo(ch, q.hash, /*with_value=*/true);
        case What::kValidators: {
          auto v = rpc::Validators(ch);
          if (v && v->is_object() && v->contains("validators")) return Json((*v)["validators"]);
          return v;
        }
        case What::kEpoch:
          return rpc::EpochInfo(ch);
        case What::kPeers:
        case What::kSyncing:
        case What::kMempool:
          break;  // a running node's views: not offered by db
        case What::kValidator:
          return rpc::ValidatorInfoJson(ch, q.hash);
        case What::kDelegations:
          return rpc::Delegations(ch, q.hash);
        case What::kRewards:
          return rpc::Rewards(ch, q.hash);
        case What::kUnbondings:
          return rpc::Unbondings(ch, q.hash);
        case What::kSupply:
          return rpc::Supply(ch);
        case What::kParams:
          return rpc::ParamsInForce(ch);
        case What::kPlan:
          return rpc::UpgradePlanInfo(ch, "gtos " GTOS_INSPECT_VERSION);
      }
      return rpc::RpcFail(rpc::kInternalError, "unknown query");
    }();
    if (!r) return std::unexpected(FromRpc(r.error()));
    return std::move(*r);
  }

 private:
  std::string datadir_;
};

class Rpc : public QueryCommand {
 public:
  std::string_view name() const override { return "rpc"; }
  std::string_view help() const override { return "Query a running node over JSON-RPC; JSON lines out"; }
  Status Run() override { return watch_->parsed() ? Watch() : QueryCommand::Run(); }

 protected:
  void SetupSource(CLI::App& app) override {
    app.add_option("--rpc", url_, "Node RPC URL (http://HOST:PORT)")->type_name("URL")->required();
    watch_ = app.add_subcommand("watch", "Follow a live stream: one JSON line per event (docs/rpc.md \"Subscriptions\")");
    watch_->fallthrough();
    watch_->require_subcommand(1);
    watch_->add_option("--count", count_, "Stop after N events (default: until interrupted)")->type_name("N");
    w_heads_ = watch_->add_subcommand("heads", "Every new block's header, hash and tx ids");
    w_heads_->fallthrough();
    w_tx_ = watch_->add_subcommand("tx", "The receipt of tx ID once it is committed, then exit");
    w_tx_->fallthrough();
    w_tx_->add_option("ID", watch_id_, "Tx id (0x + 64 hex)")->required();
    w_kv_ = watch_->add_subcommand("kv", "Writes and expiries of the KV records of ADDR in namespace NS");
    w_kv_->fallthrough();
    w_kv_->add_option("ADDR", watch_addr_, "Owner address (0x + 64 hex)")->required();
    w_kv_->add_option("NS", watch_ns_, "Namespace (text, or hex with --hex)")->required();
  }
  bool HasStats() const override { return false; }

  // Lines go straight to stdout, flushed one by one, so that a pipe
  // (| head -n 5) sees each event at once; a reader that goes away ends
  // the watch quietly (exit 0).
  Status Watch() {
    std::string path;
    if (w_heads_->parsed()) {
      path = "/subscribe/heads";
    } else if (w_tx_->parsed()) {
      auto id = Hash32FromHex(watch_id_, "ID");
      if (!id) return cli::UsageError(id.error().message);
      path = "/subscribe/receipt/" + ToHex0x(*id);
    } else {
      auto owner = Hash32FromHex(watch_addr_, "ADDR");
      if (!owner) return cli::UsageError(owner.error().message);
      auto ns = NamespaceArg(watch_ns_);
      if (!ns) return std::unexpected(ns.error());
      path = "/subscribe/kv/" + ToHex0x(*owner) + "/" + ToHex0x(*ns);
    }
    std::signal(SIGPIPE, SIG_IGN);
    uint64_t seen = 0;
    bool reader_gone = false;
    auto st = rpc::StreamEvents(url_, path, {}, {}, [&](const rpc::SseEvent& e) -> Result<bool> {
      std::string line = e.data + "\n";
      if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0) {
        reader_gone = true;
        return false;
      }
      ++seen;
      return count_ == 0 || seen < count_;
    });
    if (reader_gone) return Ok();
    if (!st) return st;
    if (w_tx_->parsed() || (count_ != 0 && seen >= count_)) return Ok();
    return Fail(ErrorCode::kIO, "node at " + url_ + " ended the stream after " + std::to_string(seen) + " events",
                "the node stopped, or dropped this watcher for reading too slowly (rpc_subscriber_queue_bytes)");
  }

  Answer Ask(const Query& q) override {
    rpc::Client node(url_);
    switch (q.what) {
      case What::kHead: {
        auto n = node.Call("tos_blockNumber", nullptr);
        if (!n) return n;
        auto b = node.Call("tos_getBlockByNumber", Json::array({*n}));
        if (!b) return b;
        if (!b->is_object())
          return Fail(ErrorCode::kInvalid, "node at " + url_ + " answered a block that is not an object");
        for (const char* k : {"txs", "evidence", "commit"}) b->erase(k);  // the header and its hash
        return b;
      }
      case What::kStats:
        break;
      case What::kBlock:
        if (q.by_hash) return node.Call("tos_getBlockByHash", Json::array({ToHex0x(q.hash), true}));
        return node.Call("tos_getBlockByNumber", Json::array({q.latest ? Json("latest") : Json(q.height), true}));
      case What::kValidators: {
        auto v = node.Call("dpos_getValidators", nullptr);
        if (v && v->is_object() && v->contains("validators")) return Json((*v)["validators"]);
        return v;
      }
      case What::kEpoch:
        return node.Call("dpos_getEpochInfo", nullptr);
      case What::kPeers:
        return node.Call("net_peers", nullptr);
      case What::kSyncing:
        return node.Call("tos_syncing", nullptr);
      case What::kMempool:
        return node.Call("tos_mempool", nullptr);
      case What::kAccount:
        return node.Call("tos_getAccount", Json::array({ToHex0x(q.hash)}));
      case What::kKv:
        return node.Call("tos_getKV", Json::array({ToHex0x(q.hash), ToHex0x(q.ns), ToHex0x(q.key)}));
      case What::kCode:
        return node.Call("tos_getCode", Json::array({ToHex0x(q.hash)}));
      case What::kValidator:
        return node.Call("dpos_getValidator", Json::array({ToHex0x(q.hash)}));
      case What::kDelegations:
        return node.Call("dpos_getDelegations", Json::array({ToHex0x(q.hash)}));
      case What::kRewards:
        return node.Call("dpos_getRewards", Json::array({ToHex0x(q.hash)}));
      case What::kUnbondings:
        return node.Call("dpos_getUnbondings", Json::array({ToHex0x(q.hash)}));
      case What::kSupply:
        return node.Call("tos_getSupply", nullptr);
      case What::kParams:
        return node.Call("tos_getParams", nullptr);
      case What::kPlan:
        return node.Call("tos_getUpgradePlan", nullptr);
    }
    return Fail(ErrorCode::kInternal, "unknown query");
  }

 private:
  std::string url_;
  CLI::App* watch_ = nullptr;
  CLI::App *w_heads_ = nullptr, *w_tx_ = nullptr, *w_kv_ = nullptr;
  uint64_t count_ = 0;
  std::string watch_id_, watch_addr_, watch_ns_;
};

}  // namespace

cli::Command& DbCommand() {
  static Db db;
  return db;
}

cli::Command& RpcCommand() {
  static Rpc r;
  return r;
}

}  // namespace gtos::inspect
