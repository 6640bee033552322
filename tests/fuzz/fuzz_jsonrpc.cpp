// libFuzzer target for the node's RPC request handling (rpc::Dispatcher,
// lib/rpc/methods.h): the body of POST / (JSON-RPC 2.0: single requests,
// batches, notifications) and of POST /tx (concatenated signed_tx records),
// answered over a small real chain (tests/fuzz/fuzz_chain.h, three blocks)
// so that every method runs its queries.
//
// Input: byte 0 even: the rest is a POST / body; odd: a POST /tx body.
// Properties of POST /:
//   1. the reply is 200, 204 or 413, and a 200 body is valid JSON;
//   2. a body that is not JSON gets the parse error (-32700);
//   3. a single request gets one response object, a batch an array with
//      one response per entry that is not a valid notification, in order,
//      and 204 with no body when there is none;
//   4. every response has "jsonrpc": "2.0", the request's id (null when it
//      had none or an invalid one), and exactly one of "result" and
//      "error"; an error has an integer code and a string message.
// Properties of POST /tx: 200 with a JSON array of at most one entry per
// record plus one, or 413 beyond the batch limit.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "fuzz_chain.h"
#include "fuzz_util.h"
#include "rpc/methods.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_jsonrpc";
}

namespace {

using namespace gtos;
using gtos::fuzz::Fail;

constexpr size_t kMaxBatch = 64;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// A node without a mempool: txs with an even nonce are "admitted", odd
// ones refused, alternately as rejected and as "mempool full".
class FuzzBackend : public rpc::Backend {
 public:
  explicit FuzzBackend(std::unique_ptr<chain::Chain> c) : chain_(std::move(c)) {}
  const chain::Chain& chain() const override { return *chain_; }
  Result<Hash32> SubmitTx(SignedTx tx) override {
    if (tx.tx.nonce % 2 == 0) return tx.tx.Id();
    return Fail(tx.tx.nonce % 4 == 1 ? ErrorCode::kInvalid : ErrorCode::kUsage, "not admitted by the fuzz backend");
  }
  uint64_t NextNonce(const Address&) const override { return 7; }
  size_t MempoolSize() const override { return 0; }
  bool Ready() const override { return true; }
  std::string Metrics() const override { return ""; }

 private:
  std::unique_ptr<chain::Chain> chain_;
};

rpc::Dispatcher& D() {
  static FuzzBackend* backend = new FuzzBackend(fuzz::BuildChain(fuzz::ScratchDir() + "/chain", 3));
  static rpc::Dispatcher* d = new rpc::Dispatcher(*backend, rpc::DispatchLimits{.max_batch = kMaxBatch}, "gtos fuzz");
  return *d;
}

// What HandleOne treats as a notification: a well-formed request without
// "id" (an invalid one is answered, with a null id).
bool IsNotification(const Json& r) {
  if (!r.is_object() || r.contains("id")) return false;
  auto v = r.find("jsonrpc");
  if (v == r.end() || !v->is_string() || *v != "2.0") return false;
  auto m = r.find("method");
  if (m == r.end() || !m->is_string()) return false;
  auto p = r.find("params");
  return p == r.end() || p->is_null() || p->is_array() || p->is_object();
}

// The id a response to `r` must carry.
Json ExpectedId(const Json& r) {
  if (!r.is_object()) return nullptr;
  auto id = r.find("id");
  if (id == r.end() || !(id->is_string() || id->is_number() || id->is_null())) return nullptr;
  return *id;
}

void CheckResponse(const Json& resp, const Json& request, ByteView in) {
  if (!resp.is_object()) Fail("a response is not a JSON object", in, Dump(resp));
  auto v = resp.find("jsonrpc");
  if (v == resp.end() || *v != "2.0") Fail("a response lacks \"jsonrpc\": \"2.0\"", in, Dump(resp));
  auto id = resp.find("id");
  if (id == resp.end()) Fail("a response has no id", in, Dump(resp));
  Json want = ExpectedId(request);
  // Compare as printed: nlohmann's == is false for NaN-free but differently
  // typed equal numbers (1 vs 1.0), which the reply may legitimately keep.
  if (Dump(*id) != Dump(want)) Fail("a response's id is not the request's", in, "want " + Dump(want) + ", got " + Dump(*id));
  bool result = resp.contains("result"), error = resp.contains("error");
  if (result == error) Fail("a response has both or neither of result and error", in, Dump(resp));
  if (error) {
    const Json& e = resp["error"];
    if (!e.is_object() || !e.contains("code") || !e["code"].is_number_integer() || !e.contains("message") ||
        !e["message"].is_string())
      Fail("an error response is malformed", in, Dump(resp));
  }
}

void CheckJsonRpc(std::string_view body, ByteView in) {
  rpc::HttpReply r = D().HandleJsonRpc(std::string(body));
  if (r.status != 200 && r.status != 204 && r.status != 413) Fail("unexpected HTTP status " + std::to_string(r.status), in);
  Json request = Json::parse(body, nullptr, false);
  if (r.status == 204) {
    if (!r.body.empty()) Fail("a 204 reply has a body", in);
    bool all = request.is_array() ? !request.empty() : IsNotification(request);
    if (request.is_array())
      for (const Json& one : request) all = all && IsNotification(one);
    if (request.is_discarded() || !all) Fail("204 for a body that is not all notifications", in);
    return;
  }
  Json reply = Json::parse(r.body, nullptr, false);
  if (reply.is_discarded()) Fail("the reply is not valid JSON", in, r.body);
  if (request.is_discarded()) {
    if (!reply.is_object() || !reply.contains("error") || !reply["error"].is_object() || reply["error"].value("code", 0) != -32700)
      Fail("invalid JSON does not get the parse error", in, r.body);
    return;
  }
  if (r.status == 413) {
    // 413 is for a batch over the limit or a body past the JSON limits
    // (rpc::JsonLimits: values, depth, string bytes), checked before parsing.
    const rpc::JsonLimits limits;
    size_t values = 0, depth = 0;
    std::function<void(const Json&, size_t)> walk = [&](const Json& j, size_t d) {
      ++values;
      depth = std::max(depth, d);
      if (j.is_structured())
        for (const Json& e : j) walk(e, d + 1);
    };
    if (!request.is_discarded()) walk(request, 0);
    bool over_batch = request.is_array() && request.size() > kMaxBatch;
    bool within_json = !request.is_discarded() && values <= limits.max_values && depth <= limits.max_depth &&
                       body.size() < limits.max_string_bytes;
    if (!over_batch && within_json) Fail("413 for a body within the batch and JSON limits", in);
    return;
  }
  if (!request.is_array()) {
    if (IsNotification(request)) Fail("a notification is answered", in, r.body);
    CheckResponse(reply, request, in);
    return;
  }
  if (request.empty()) {
    CheckResponse(reply, nullptr, in);
    return;
  }
  if (!reply.is_array()) Fail("a batch reply is not an array", in, r.body);
  size_t k = 0;
  for (const Json& one : request) {
    if (IsNotification(one)) continue;
    if (k >= reply.size()) Fail("a batch reply has fewer responses than requests", in, r.body);
    CheckResponse(reply[k++], one, in);
  }
  if (k != reply.size()) Fail("a batch reply has more responses than requests", in, r.body);
}

void CheckTxRecords(ByteView body, ByteView in) {
  rpc::HttpReply r = D().HandleTxRecords(body);
  Json reply = Json::parse(r.body, nullptr, false);
  if (reply.is_discarded()) Fail("the /tx reply is not valid JSON", in, r.body);
  if (r.status == 413) return;
  if (r.status != 200 || !reply.is_array()) Fail("the /tx reply is not 200 with an array", in, r.body);
  if (reply.size() > kMaxBatch + 1) Fail("the /tx reply is longer than the batch limit", in);
  for (const Json& e : reply)
    if (!e.is_object() || (e.contains("id") == e.contains("error"))) Fail("a /tx reply entry is malformed", in, Dump(e));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)D();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  ByteView in(data, size);
  ByteView body = in.subspan(1);
  if (data[0] % 2 == 0) CheckJsonRpc(AsChars(body), in);
  else CheckTxRecords(body, in);
  return 0;
}
