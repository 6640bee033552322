// The RPC server's request handling without the HTTP transport: JSON-RPC 2.0
// bodies (single, batch, notifications) dispatched to the tos_* / dpos_*
// methods, binary tx submission, and the metrics text. lib/rpc/server.cpp
// feeds it from cpp-httplib; tests may call it directly.
//
// Thread safety: every method may be called from any number of threads; the
// Backend's thread-safe methods are the only node state used.
#ifndef GTOS_RPC_METHODS_H_
#define GTOS_RPC_METHODS_H_

#include <array>
#include <atomic>
#include <span>
#include <string>
#include <string_view>

#include "rpc/backend.h"
#include "rpc/body_limits.h"

namespace gtos::rpc {

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// The method names, in the order docs/rpc.md lists them.
std::span<const std::string_view> MethodNames();

// The request-level limits (docs/rpc.md, "Limits"); the transport's are
// in ServerOptions.
struct DispatchLimits {
  size_t max_batch = 10'000;  // JSON-RPC batch entries, and records per POST /tx
  JsonLimits json;            // checked before a JSON-RPC body is parsed
  size_t max_response_bytes = 64 << 20;
};

class Dispatcher {
 public:
  Dispatcher(Backend& backend, DispatchLimits limits, std::string node_version);

  // POST /: one JSON-RPC request or a batch. A body of notifications only
  // gets 204 and no body. A body past the JSON limits, or a batch of more
  // than max_batch entries, gets 413 and -32600 before anything runs. A
  // reply past max_response_bytes is -38006: for a batch, the entry that
  // crosses it and every later one (which are then not run).
  HttpReply HandleJsonRpc(std::string body);
  // POST /tx: concatenated signed_tx records, submitted in order; a JSON
  // array with one {"id"} or {"error"} entry per record. A malformed record
  // (or one past the signed_tx msgpack limits) stops the processing there
  // (earlier records stay submitted).
  HttpReply HandleTxRecords(ByteView body);
  // GET /metrics (Prometheus text format 0.0.4).
  HttpReply Metrics() const;
  // GET /healthz: the process serves HTTP.
  static HttpReply Healthz();
  // GET /readyz: 200 "ready" or 503 "not ready", from Backend::Ready().
  HttpReply Readyz() const;
  // The answer to a request refused by the transport (over the size limit,
  // server busy, timed out, malformed): for POST / a JSON-RPC error
  // (-32600), for POST /tx a JSON object with "error", otherwise text.
  HttpReply Refused(int status, std::string_view message, bool jsonrpc, bool tx);
  HttpReply TooLarge(size_t limit, bool jsonrpc);

  // One method call, with "params" as received (nullptr when absent).
  RpcResult Call(std::string_view method, const Json* params);

 private:
  static constexpr size_t kMaxMethods = 32;
  Json HandleOne(const Json& request, bool* notification);
  // One response serialised; -38006 instead (and *capped) when it is
  // larger than `room`.
  std::string DumpCapped(Json response, size_t room, bool* capped);
  Json ErrorResponse(const RpcError& e, const Json& id);
  void CountError() { errors_.fetch_add(1, std::memory_order_relaxed); }

  Backend& backend_;
  DispatchLimits limits_;
  std::string node_version_;
  // Requests per method (index in MethodNames()); the slot after the last
  // method counts unknown names, the one after that POST /tx records.
  std::array<std::atomic<uint64_t>, kMaxMethods + 2> requests_{};
  std::atomic<uint64_t> errors_{0};
};

}  // namespace gtos::rpc

#endif  // GTOS_RPC_METHODS_H_
