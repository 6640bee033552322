// Decoders of JSON-RPC method params (docs/rpc.md), shared by every method
// of the dispatcher (lib/rpc/methods.cpp). Each takes the param as
// received (never nullptr) and its name, and fails with kInvalidParams and a
// message naming the param: "param 'address': expected \"0x\" + 64 hex
// digits".
//
// Thread safety: pure functions.
#ifndef GTOS_RPC_PARAMS_H_
#define GTOS_RPC_PARAMS_H_

#include <cstdint>
#include <expected>
#include <string_view>

#include "rpc/errors.h"
#include "util/bytes.h"

namespace gtos::rpc {

std::unexpected<RpcError> BadParam(std::string_view name, std::string_view what);

// "0x" + an even number of hex digits (either case) of at most `max` bytes.
std::expected<Bytes, RpcError> BytesParam(const Json* x, std::string_view name, size_t max);
// "0x" + exactly 64 hex digits: an address, tx id or hash.
// How tos_getKV / tos_getCode take and give bytes: "hex" (the default,
// "0x...") or "text" (UTF-8 strings). kHex when omitted.
enum class Encoding { kHex, kText };
std::expected<Encoding, RpcError> EncodingParam(const Json* x);
// A byte string given as hex ("0x...") or, with Encoding::kText, as a
// UTF-8 string taken as is; at most `max` bytes.
std::expected<Bytes, RpcError> BytesParamAs(const Json* x, std::string_view name, size_t max, Encoding e);
std::expected<Hash32, RpcError> HashParam(const Json* x, std::string_view name);
// A block height: a JSON integer >= 0 (not a float, not a string).
std::expected<uint64_t, RpcError> HeightParam(const Json* x, std::string_view name);
// true or false; `absent` when x is nullptr (an omitted optional param).
std::expected<bool, RpcError> BoolParam(const Json* x, std::string_view name, bool absent);

}  // namespace gtos::rpc

#endif  // GTOS_RPC_PARAMS_H_
