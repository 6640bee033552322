// libFuzzer target for the JSON-RPC param decoders (lib/rpc/params.h) and
// the text decoders under them (util/bytes.h: FromHex, Hash32FromHex,
// ParseUint64), which also read flags, environment variables and hex
// secret files.
//
// Input: byte 0 picks the decoder and, for BytesParam, the size limit; the
// rest is the param as JSON text, or, when it is not JSON, as a JSON string
// holding those bytes (so that hex strings are fuzzed directly).
// Properties, checked against independent models:
//   - BytesParam accepts exactly "0x" + an even number of hex digits of at
//     most `max` bytes, and returns the bytes whose ToHex0x is the input
//     lowercased;
//   - HashParam accepts exactly "0x" + 64 hex digits, likewise;
//   - HeightParam accepts exactly non-negative JSON integers, with their
//     value; BoolParam exactly true and false;
//   - every refusal is kInvalidParams with a message naming the param;
//   - ParseUint64 accepts exactly 1..20 decimal digits whose value fits,
//     and to_string gives the input back without leading zeros;
//   - FromHex accepts exactly an optional "0x"/"0X" and an even number of
//     hex digits.
#include <cctype>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "rpc/params.h"
#include "types/json.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_rpc_params";
}

namespace {

using namespace gtos;
using gtos::fuzz::Fail;

bool IsHex(std::string_view s) {
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

template <class T>
void CheckRefusal(const std::expected<T, rpc::RpcError>& r, std::string_view name, ByteView in) {
  if (r) return;
  if (r.error().code != rpc::kInvalidParams) Fail("a param decoder fails with another code than -32602", in);
  if (r.error().message.find("param '" + std::string(name) + "'") == std::string::npos)
    Fail("a param decoder's error does not name the param", in, r.error().message);
}

void CheckText(std::string_view s, ByteView in) {
  // ParseUint64.
  auto n = ParseUint64(s, "n");
  bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  std::string_view trimmed = s.substr(std::min(s.find_first_not_of('0'), s.size()));
  bool fits = digits && (trimmed.size() < 20 || (trimmed.size() == 20 && trimmed <= "18446744073709551615"));
  if (n.has_value() != fits) Fail(fits ? "ParseUint64 refuses a valid number" : "ParseUint64 accepts an invalid number", in);
  if (n && std::to_string(*n) != (trimmed.empty() ? "0" : trimmed)) Fail("ParseUint64 returns another value", in);
  // FromHex.
  auto b = FromHex(s, "h");
  std::string_view h = s;
  if (h.starts_with("0x") || h.starts_with("0X")) h.remove_prefix(2);
  bool hex = h.size() % 2 == 0 && IsHex(h);
  if (b.has_value() != hex) Fail(hex ? "FromHex refuses valid hex" : "FromHex accepts invalid hex", in);
  if (b && ToHex(*b) != Lower(h)) Fail("FromHex returns other bytes", in);
  auto h32 = Hash32FromHex(s, "h");
  if (h32.has_value() != (hex && h.size() == 64)) Fail("Hash32FromHex disagrees with FromHex", in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  ByteView in(data, size);
  std::string_view text = AsChars(in.subspan(1));
  CheckText(text, in);

  Json x = Json::parse(text, nullptr, false);
  if (x.is_discarded()) x = std::string(text);
  const bool is_str = x.is_string();
  const std::string s = is_str ? x.get<std::string>() : std::string();
  const bool hex0x = is_str && s.starts_with("0x") && s.size() % 2 == 0 && IsHex(std::string_view(s).substr(2));

  switch (data[0] % 4) {
    case 0: {
      const size_t max = data[0] / 4;  // 0..63 bytes
      auto r = rpc::BytesParam(&x, "p", max);
      CheckRefusal(r, "p", in);
      bool want = hex0x && (s.size() - 2) / 2 <= max;
      if (r.has_value() != want) Fail(want ? "BytesParam refuses a valid param" : "BytesParam accepts an invalid param", in);
      if (r && ToHex0x(*r) != Lower(s)) Fail("BytesParam returns other bytes", in);
      break;
    }
    case 1: {
      auto r = rpc::HashParam(&x, "p");
      CheckRefusal(r, "p", in);
      bool want = hex0x && s.size() == 66;
      if (r.has_value() != want) Fail(want ? "HashParam refuses a valid hash" : "HashParam accepts an invalid hash", in);
      if (r && ToHex0x(*r) != Lower(s)) Fail("HashParam returns another hash", in);
      break;
    }
    case 2: {
      auto r = rpc::HeightParam(&x, "p");
      CheckRefusal(r, "p", in);
      // nlohmann reads every non-negative integer as unsigned ("-0" is a
      // signed zero and refused, which is fine for a height).
      bool want = x.is_number_integer() && (x.is_number_unsigned() || x.get<int64_t>() > 0);
      if (r.has_value() != want) Fail(want ? "HeightParam refuses a height" : "HeightParam accepts a non-height", in, x.dump());
      if (r && Json(*r) != x) Fail("HeightParam returns another value", in);
      break;
    }
    case 3: {
      auto r = rpc::BoolParam(&x, "p", false);
      CheckRefusal(r, "p", in);
      if (r.has_value() != x.is_boolean()) Fail("BoolParam disagrees with is_boolean", in);
      if (r && *r != x.get<bool>()) Fail("BoolParam returns another value", in);
      auto absent = rpc::BoolParam(nullptr, "p", true);
      if (!absent || !*absent) Fail("BoolParam(nullptr) does not return its default", in);
      break;
    }
  }
  return 0;
}
