// JSON-RPC error codes and the error object of a JSON-RPC response, shared by
// the node's server (lib/rpc/server.h) and the tools' client
// (lib/rpc/client.h). docs/rpc.md lists the codes.
#ifndef GTOS_RPC_ERRORS_H_
#define GTOS_RPC_ERRORS_H_

#include <expected>
#include <string>

#include "types/json.h"

namespace gtos::rpc {

// JSON-RPC 2.0's own codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// GTOS codes.
inline constexpr int kTxRejected = -38001;  // not admitted to the mempool
inline constexpr int kMempoolFull = -38002;
inline constexpr int kNotFound = -38004;       // missing or expired
inline constexpr int kHistoryPruned = -38005;  // outside the retention window
inline constexpr int kResponseTooLarge = -38006;  // the reply would pass max_response_bytes

// The "error" member of a response: code, message and optional data
// (null when absent).
struct RpcError {
  int code = kInternalError;
  std::string message;
  Json data = nullptr;
};

// What one method call produces: its "result" or its "error".
using RpcResult = std::expected<Json, RpcError>;

inline std::unexpected<RpcError> RpcFail(int code, std::string message, Json data = nullptr) {
  return std::unexpected<RpcError>(RpcError{code, std::move(message), std::move(data)});
}

}  // namespace gtos::rpc

#endif  // GTOS_RPC_ERRORS_H_
