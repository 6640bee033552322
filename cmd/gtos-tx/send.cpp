// gtos-tx send: signed tx records to a node's POST /tx, ids or receipts out
// (man/gtos-tx.1).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>

#include "cli/record_io.h"
#include "commands.h"
#include "rpc/client.h"
#include "rpc/event_stream.h"
#include "types/json.h"
#include "types/records.h"

namespace gtos::txtool {

namespace {

// Records per POST /tx, and a byte bound that keeps a request well under
// the node's default body limit (32 MiB) whatever the tx sizes.
constexpr size_t kBatchRecords = 1000;
constexpr size_t kBatchBytes = 8 << 20;
// Receipts asked for per JSON-RPC batch while waiting, and the pause
// between rounds that found nothing new.
constexpr size_t kReceiptWindow = 500;
constexpr auto kPollInterval = std::chrono::milliseconds(200);

// j[key] when it is a string / an integer; never throws.
std::string StringAt(const Json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t IntAt(const Json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}
const Json& ErrorAt(const Json& j) {
  static const Json kNone = Json::object();
  if (!j.is_object()) return kNone;
  auto it = j.find("error");
  return it != j.end() && it->is_object() ? *it : kNone;
}

struct Pending {
  Hash32 id;
  std::string where;  // "record 3 of 'tx.signed'"
};

class Send : public cli::Command {
 public:
  std::string_view name() const override { return "send"; }
  std::string_view help() const override {
    return "Send signed tx records to a node; ids out, or receipts with --wait";
  }
  void Setup(CLI::App& app) override {
    app.add_option("--rpc", rpc_, "Node RPC URL (http://HOST:PORT)")->type_name("URL")->required();
    app.add_flag("--wait", wait_, "Wait until every tx is committed and write its receipt");
    app.add_option("--timeout", timeout_,
                   "With --wait: give up after SECONDS (exit 1 naming the pending txs)")
        ->type_name("SECONDS");
    app.add_flag("--json", json_, "Print JSON lines instead of text ids or receipt records");
    app.add_option("-o,--output", output_, "Write to FILE instead of stdout")->type_name("FILE");
    app.add_option("files", files_, "Signed tx record files (default: stdin)")->type_name("FILE");
  }
  Status Run() override {
    // Refuse a terminal for receipt records before anything is sent.
    GTOS_TRY(out_.Open(output_, wait_ && !json_ ? cli::OutputKind::kBinary : cli::OutputKind::kText));
    rpc::Client client(rpc_);
    client_ = &client;
    if (wait_ && !std::getenv("GTOS_TX_WAIT_POLL")) {
      GTOS_TRY(SendAndFollow());
      return Finish();
    }
    GTOS_TRY(SendAll());
    if (wait_) GTOS_TRY(WaitForReceipts());
    return Finish();
  }

 private:
  // --wait over the node's head stream (docs/rpc.md "Subscriptions"): the
  // stream is open before the first tx is sent, so no commit is missed;
  // each head lists its txs, and the receipts of ours are fetched at once.
  // A node without subscriptions (404) is polled instead.
  Status SendAndFollow() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_);
    got_.clear();
    bool opened = false;
    rpc::StreamOptions so;
    so.deadline = deadline;
    auto st = rpc::StreamEvents(
        rpc_, "/subscribe/heads", so,
        [&]() -> Status {
          opened = true;
          GTOS_TRY(SendAll());
          got_.resize(accepted_.size());
          for (size_t i = 0; i < accepted_.size(); ++i) waiting_.emplace(accepted_[i].id, i);
          return Ok();
        },
        [&](const rpc::SseEvent& e) -> Result<bool> { return OnHead(e); });
    if (!opened && !st && st.error().code == ErrorCode::kNotFound) {  // an older node
      GTOS_TRY(SendAll());
      return WaitForReceipts();
    }
    if (!st) {
      if (opened && std::chrono::steady_clock::now() >= deadline) return TimedOut(got_, next_);
      return st;
    }
    if (next_ < accepted_.size())
      return Fail(ErrorCode::kIO, "node at " + rpc_ + " ended the head stream with " +
                                      std::to_string(accepted_.size() - next_) + " txs still pending",
                  "look them up with tos_getReceipt, or send again with --wait after the node is back");
    return Ok();
  }

  // One head event: receipts of our txs in it; false once all are written.
  Result<bool> OnHead(const rpc::SseEvent& e) {
    Json head = Json::parse(e.data, nullptr, /*allow_exceptions=*/false);
    if (!head.is_object() || !head.contains("txs") || !head["txs"].is_array())
      return Fail(ErrorCode::kIO, "node at " + rpc_ + " sent a head event without a txs list");
    std::vector<size_t> mine;
    for (const Json& t : head["txs"]) {
      if (!t.is_string()) continue;
      auto id = Hash32FromHex(t.get<std::string>(), "tx id");
      if (!id) continue;
      auto it = waiting_.find(*id);
      if (it == waiting_.end()) continue;
      mine.push_back(it->second);
      waiting_.erase(it);
    }
    for (size_t from = 0; from < mine.size(); from += kReceiptWindow) {
      std::vector<size_t> part(mine.begin() + static_cast<std::ptrdiff_t>(from),
                               mine.begin() + static_cast<std::ptrdiff_t>(std::min(mine.size(), from + kReceiptWindow)));
      GTOS_TRY(FetchReceipts(part, got_));
    }
    while (next_ < accepted_.size() && got_[next_]) {
      GTOS_TRY(Emit(*got_[next_]));
      got_[next_].reset();
      ++next_;
    }
    return next_ < accepted_.size();
  }

  // Receipts of accepted_[i] for each i in `asked` into got; one not found
  // (not committed yet) stays empty.
  Status FetchReceipts(const std::vector<size_t>& asked, std::vector<std::optional<Receipt>>& got) {
    std::vector<std::pair<std::string, Json>> calls;
    for (size_t i : asked) calls.emplace_back("tos_getReceipt", Json::array({ToHex0x(accepted_[i].id)}));
    auto results = client_->CallBatch(calls);
    if (!results) return std::unexpected(results.error());
    for (size_t k = 0; k < asked.size(); ++k) {
      const rpc::RpcResult& r = (*results)[k];
      const Pending& tx = accepted_[asked[k]];
      if (!r) {
        if (r.error().code == rpc::kNotFound) continue;  // not committed yet
        return Fail(ErrorCode::kInvalid,
                    "receipt of tx " + ToHex0x(tx.id) + ": " + rpc::ToError(r.error()).message);
      }
      Json rj = *r;
      if (rj.is_object()) rj.erase("code_hash");  // the RPC's addition to a code-put's receipt record
      auto rec = FromJson(rj);
      if (!rec || !std::holds_alternative<Receipt>(*rec))
        return Fail(ErrorCode::kInvalid, "receipt of tx " + ToHex0x(tx.id) + " from the node is not a receipt" +
                                             (rec ? std::string() : ": " + rec.error().message));
      if (std::get<Receipt>(*rec).tx_id != tx.id)
        return Fail(ErrorCode::kInvalid, "node answered the receipt of tx " +
                                             ToHex0x(std::get<Receipt>(*rec).tx_id) + " when asked for " +
                                             ToHex0x(tx.id));
      got[asked[k]] = std::get<Receipt>(std::move(*rec));
    }
    return Ok();
  }

  Status SendAll() {
    cli::RecordReader reader(files_);
    Bytes batch;
    std::vector<Pending> batch_txs;
    for (;;) {
      auto p = reader.Next();
      if (!p) {
        GTOS_TRY(Flush(batch, batch_txs));  // what came before is sent
        return std::unexpected(p.error());
      }
      if (!*p) break;
      auto stx = DecodeRecordFrom<SignedTx>(**p);
      if (!stx) {
        GTOS_TRY(Flush(batch, batch_txs));
        return std::unexpected(Wrap(stx.error(), reader.Where()));
      }
      batch.insert(batch.end(), (*p)->raw.begin(), (*p)->raw.end());
      batch_txs.push_back({stx->tx.Id(), reader.Where()});
      if (batch_txs.size() >= kBatchRecords || batch.size() >= kBatchBytes) GTOS_TRY(Flush(batch, batch_txs));
    }
    GTOS_TRY(Flush(batch, batch_txs));
    if (reader.count() == 0) return Invalid("no signed_tx record in input");
    return Ok();
  }

  // POSTs one batch; every tx must be accepted.
  Status Flush(Bytes& batch, std::vector<Pending>& txs) {
    if (txs.empty()) return Ok();
    auto r = client_->Post("/tx", "application/msgpack", batch);
    if (!r) return std::unexpected(r.error());
    Json answer = Json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    if (r->status != 200 || !answer.is_array()) {
      std::string why = "HTTP status " + std::to_string(r->status);
      if (std::string m = StringAt(ErrorAt(answer), "message"); !m.empty()) why += ": " + m;
      return Fail(ErrorCode::kInvalid, "node at " + rpc_ + " refused a batch of " +
                                           std::to_string(txs.size()) + " txs (" + txs.front().where +
                                           " to " + txs.back().where + "): " + why);
    }
    std::optional<Error> first_error;
    size_t rejected = 0;
    for (size_t i = 0; i < txs.size(); ++i) {
      const Json* entry = i < answer.size() ? &answer[i] : nullptr;
      std::string tx = "tx " + ToHex0x(txs[i].id) + " (" + txs[i].where + ")";
      if (entry && StringAt(*entry, "id") == ToHex0x(txs[i].id)) {
        accepted_.push_back(txs[i]);
        if (!wait_)
          GTOS_TRY(out_.WriteLine(json_ ? Json{{"id", ToHex0x(txs[i].id)}}.dump() : ToHex0x(txs[i].id)));
        continue;
      }
      ++rejected;
      if (first_error) continue;
      std::string reason = "no answer from the node";
      if (entry) {
        const Json& e = ErrorAt(*entry);
        reason = StringAt(e, "message");
        if (reason.empty())
          reason = "unexpected answer " + entry->dump(-1, ' ', false, Json::error_handler_t::replace);
        if (IntAt(e, "code") == rpc::kMempoolFull) reason += " (mempool full)";
      }
      first_error = Error{ErrorCode::kInvalid, tx + " rejected by the node: " + reason, ""};
    }
    batch.clear();
    txs.clear();
    if (first_error) {
      if (rejected > 1)
        first_error->hint = std::to_string(rejected - 1) + " more txs of the same batch were rejected";
      // Ids of the accepted ones are out already; stdout keeps them.
      (void)out_.Commit();
      return std::unexpected(*first_error);
    }
    return Ok();
  }

  // --wait by polling tos_getReceipt (a node without subscriptions, or
  // GTOS_TX_WAIT_POLL set).
  Status WaitForReceipts() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_);
    std::vector<std::optional<Receipt>> got(accepted_.size());
    size_t next = 0;  // receipts before `next` are written, in input order
    while (next < accepted_.size()) {
      std::vector<size_t> asked;
      for (size_t i = next; i < accepted_.size() && asked.size() < kReceiptWindow; ++i)
        if (!got[i]) asked.push_back(i);
      GTOS_TRY(FetchReceipts(asked, got));
      bool progressed = false;
      while (next < accepted_.size() && got[next]) {
        GTOS_TRY(Emit(*got[next]));
        got[next].reset();
        ++next;
        progressed = true;
      }
      if (next == accepted_.size()) break;
      if (std::chrono::steady_clock::now() >= deadline) return TimedOut(got, next);
      if (!progressed) std::this_thread::sleep_for(kPollInterval);
    }
    return Ok();
  }

  Status Emit(const Receipt& r) {
    if (r.status != 0 && !failed_) failed_ = r;
    if (json_) return out_.WriteLine(ToJson(r).dump());
    return out_.Write(EncodeRecord(r));
  }

  Status TimedOut(const std::vector<std::optional<Receipt>>& got, size_t next) {
    std::vector<std::string> pending;
    for (size_t i = next; i < accepted_.size(); ++i)
      if (!got[i]) pending.push_back(ToHex0x(accepted_[i].id));
    std::string list;
    for (size_t i = 0; i < pending.size() && i < 10; ++i) list += (i ? ", " : "") + pending[i];
    if (pending.size() > 10) list += " and " + std::to_string(pending.size() - 10) + " more";
    (void)out_.Commit();  // the receipts written so far
    return Fail(ErrorCode::kInvalid,
                "timed out after " + std::to_string(timeout_) + " s waiting for " +
                    std::to_string(pending.size()) + " of " + std::to_string(accepted_.size()) +
                    " txs to be committed: " + list,
                "wait longer with --timeout SECONDS, or look the txs up later with tos_getReceipt");
  }

  Status Finish() {
    GTOS_TRY(out_.Commit());
    if (failed_)
      return Fail(ErrorCode::kInvalid,
                  "tx " + ToHex0x(failed_->tx_id) + " failed in block " + std::to_string(failed_->height) +
                      ": " + std::string(TxStatusName(failed_->status)),
                  "its fee and nonce were charged; the receipt says why");
    return Ok();
  }

  std::string rpc_, output_;
  std::vector<std::string> files_;
  bool wait_ = false, json_ = false;
  uint64_t timeout_ = 60;
  cli::Output out_;
  rpc::Client* client_ = nullptr;
  std::vector<Pending> accepted_;
  std::optional<Receipt> failed_;
  // --wait over the head stream: receipts not yet written, and the txs not
  // yet seen in a block.
  std::vector<std::optional<Receipt>> got_;
  size_t next_ = 0;
  std::map<Hash32, size_t> waiting_;
};

}  // namespace

cli::Command& SendCommand() {
  static Send send;
  return send;
}

}  // namespace gtos::txtool
