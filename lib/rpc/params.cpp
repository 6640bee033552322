#include "rpc/params.h"

#include <string>

namespace gtos::rpc {

std::unexpected<RpcError> BadParam(std::string_view name, std::string_view what) {
  return RpcFail(kInvalidParams, "param '" + std::string(name) + "': " + std::string(what));
}

std::expected<Bytes, RpcError> BytesParam(const Json* x, std::string_view name, size_t max) {
  if (!x->is_string() || !x->get_ref<const std::string&>().starts_with("0x"))
    return BadParam(name, "expected a \"0x...\" hex string");
  const std::string& s = x->get_ref<const std::string&>();
  if ((s.size() - 2) / 2 > max)
    return BadParam(
        name, std::to_string((s.size() - 2) / 2) + " bytes exceeds the maximum of " + std::to_string(max));
  auto b = FromHex(s, "param '" + std::string(name) + "'");
  if (!b) return RpcFail(kInvalidParams, b.error().message);
  return std::move(*b);
}

std::expected<Encoding, RpcError> EncodingParam(const Json* x) {
  if (!x) return Encoding::kHex;
  if (x->is_string() && x->get_ref<const std::string&>() == "hex") return Encoding::kHex;
  if (x->is_string() && x->get_ref<const std::string&>() == "text") return Encoding::kText;
  return BadParam("encoding", "expected \"hex\" or \"text\"");
}

std::expected<Bytes, RpcError> BytesParamAs(const Json* x, std::string_view name, size_t max, Encoding e) {
  if (e == Encoding::kHex) return BytesParam(x, name, max);
  if (!x->is_string()) return BadParam(name, "expected a string (encoding \"text\")");
  const std::string& s = x->get_ref<const std::string&>();
  if (s.size() > max)
    return BadParam(name, std::to_string(s.size()) + " bytes exceeds the maximum of " + std::to_string(max));
  return Bytes(s.begin(), s.end());
}

std::expected<Hash32, RpcError> HashParam(const Json* x, std::string_view name) {
  if (!x->is_string() || !x->get_ref<const std::string&>().starts_with("0x"))
    return BadParam(name, "expected \"0x\" + 64 hex digits");
  auto h = Hash32FromHex(x->get_ref<const std::string&>(), "param '" + std::string(name) + "'");
  if (!h) return RpcFail(kInvalidParams, h.error().message);
  return *h;
}

std::expected<uint64_t, RpcError> HeightParam(const Json* x, std::string_view name) {
  if (!x->is_number_unsigned()) return BadParam(name, "expected a block height (a non-negative integer)");
  return x->get<uint64_t>();
}

std::expected<bool, RpcError> BoolParam(const Json* x, std::string_view name, bool absent) {
  if (!x) return absent;
  if (!x->is_boolean()) return BadParam(name, "expected true or false");
  return x->get<bool>();
}

}  // namespace gtos::rpc
