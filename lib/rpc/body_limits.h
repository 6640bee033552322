// Caps on what a request body may make the RPC server build, checked
// before it is built (docs/rpc.md, "Limits"):
// - JSON-RPC bodies are first read by nlohmann's SAX parser with a handler
//   that only counts values and nesting and measures strings, so that a
//   body of a million tiny values or a million nested arrays is refused
//   without one json value being allocated;
// - signed_tx records (POST /tx, tos_sendRawTransaction) are parsed with
//   msgpack-c limits that fit the record's shape: a few short arrays, three
//   levels deep, so a record of 2^20 nils is refused at its array header
//   rather than costing 24 MiB of msgpack objects.
// Pure functions; thread-safe.
#ifndef GTOS_RPC_BODY_LIMITS_H_
#define GTOS_RPC_BODY_LIMITS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "codec/codec.h"

namespace gtos::rpc {

// The largest signed_tx record the RPC accepts: the largest byte string a
// record may hold (codec::kMaxBinBytes, which bounds max_tx_bytes) plus room
// for the rest of the record. Genesis max_tx_bytes is usually far lower.
inline constexpr size_t kMaxSignedTxBytes = codec::kMaxBinBytes + (64 << 10);
// The longest JSON string a request needs: the hex of the largest record.
inline constexpr size_t kMaxJsonStringBytes = 2 + 2 * kMaxSignedTxBytes;

struct JsonLimits {
  size_t max_values = 200'000;  // values of every kind, arrays and objects included; keys not counted
  size_t max_depth = 32;        // nesting of arrays and objects; a scalar body has depth 0
  size_t max_string_bytes = kMaxJsonStringBytes;  // one string or object key, as decoded
};

struct JsonScan {
  enum Status { kOk, kInvalid, kTooManyValues, kTooDeep, kStringTooLong };
  Status status = kOk;
  size_t values = 0;     // counted before the scan stopped
  size_t max_depth = 0;  // deepest nesting seen
  // For kInvalid: the parser's message; for the caps: which was passed
  // ("more than 200000 JSON values"). Lowercase, no full stop.
  std::string message;
};

// Reads `body` once without building anything and stops at the first cap
// passed or at the first syntax error.
JsonScan ScanJson(std::string_view body, const JsonLimits& limits);

// The msgpack limits of one signed_tx record: arrays of at most
// kMaxRpcPlanSignatures elements (a record has at most 6, a tx body 5, a
// payload 5; an upgrade_plan payload's signature list is the long one),
// nesting of at most 6 (an upgrade_plan tx: record > body > payload > plan
// > changes > change), byte strings up to codec::kMaxBinBytes, text
// strings up to 4 KiB (the chain id has at most 64 bytes). msgpack-c
// allocates in proportion to the bytes received (ParseOne), and the record
// decoder then checks every field exactly.
inline constexpr size_t kMaxRpcPlanSignatures = 1024;
codec::ParseLimits SignedTxParseLimits();

}  // namespace gtos::rpc

#endif  // GTOS_RPC_BODY_LIMITS_H_
