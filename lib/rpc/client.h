// A small HTTP client for a node's RPC interface (docs/rpc.md), over
// libcurl: JSON-RPC calls on POST /, binary tx submission on POST /tx, and
// plain GETs (/healthz, /metrics). Used by gtos-tx, gtos-inspect and tests.
//
// Failures of the transport (node unreachable, timeout, a reply that is not
// JSON-RPC) are Errors of code kIO whose message starts "unable to reach
// URL: " followed by libcurl's own description. An error the node returns
// is an RpcError (code, message, data), kept apart so callers can tell
// "not found" from "node down".
//
// Thread safety: a Client is used by one thread at a time; separate Clients
// may be used concurrently. The connection is kept open between calls.
#ifndef GTOS_RPC_CLIENT_H_
#define GTOS_RPC_CLIENT_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rpc/errors.h"
#include "util/bytes.h"
#include "util/status.h"

namespace gtos::rpc {

struct ClientOptions {
  int timeout_seconds = 30;  // whole request
  int connect_timeout_seconds = 10;
};

struct HttpResponse {
  long status = 0;
  std::string content_type;
  std::string body;
};

class Client {
 public:
  // `url` is the node's base URL ("http://127.0.0.1:8545"); a trailing "/"
  // is ignored.
  explicit Client(std::string url, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& url() const { return url_; }

  // One JSON-RPC call. The outer Result fails on transport errors; the
  // inner one holds the node's result or its error.
  Result<RpcResult> CallRaw(std::string_view method, Json params);
  // As CallRaw, with the node's error turned into an Error: kNotFound for
  // -38004, kInvalid otherwise; the message is the node's, with data (if
  // any) appended as JSON.
  Result<Json> Call(std::string_view method, Json params);
  // A JSON-RPC batch: one RpcResult per call, in the calls' order.
  Result<std::vector<RpcResult>> CallBatch(const std::vector<std::pair<std::string, Json>>& calls);

  // Raw HTTP.
  Result<HttpResponse> Post(std::string_view path, std::string_view content_type, ByteView body);
  Result<HttpResponse> Get(std::string_view path);

 private:
  Result<HttpResponse> Perform(std::string_view path, const std::string* content_type, ByteView body,
                               bool post);

  std::string url_;
  ClientOptions options_;
  void* curl_ = nullptr;  // CURL*, kept out of this header
  uint64_t next_id_ = 1;
};

// Turns a node's error into an Error (as Client::Call does).
Error ToError(const RpcError& e);

}  // namespace gtos::rpc

#endif  // GTOS_RPC_CLIENT_H_
