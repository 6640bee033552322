#include "util/bytes.h"

#include <charconv>

#include "util/secret.h"

namespace gtos {

bool Hash32::IsZero() const {
  for (uint8_t b : v)
    if (b != 0) return false;
  return true;
}

std::string ToHex(ByteView b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(b.size() * 2, '\0');
  for (size_t i = 0; i < b.size(); ++i) {
    out[2 * i] = kDigits[b[i] >> 4];
    out[2 * i + 1] = kDigits[b[i] & 0xf];
  }
  return out;
}

std::string ToHex0x(ByteView b) { return "0x" + ToHex(b); }

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<Bytes> FromHex(std::string_view hex, std::string_view what) {
  if (hex.starts_with("0x") || hex.starts_with("0X")) hex.remove_prefix(2);
  if (hex.size() % 2 != 0)
    return Invalid(std::string(what) + ": odd number of hex digits");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      SecureWipe(out);  // the hex may be a secret key
      return Invalid(std::string(what) + ": invalid hex digit at position " + std::to_string(2 * i + (hi < 0 ? 0 : 1)));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

Result<Hash32> Hash32FromHex(std::string_view hex, std::string_view what) {
  auto bytes = FromHex(hex, what);
  if (!bytes) return std::unexpected(bytes.error());
  if (bytes->size() != 32)
    return Invalid(std::string(what) + ": expected 32 bytes (64 hex digits), got " + std::to_string(bytes->size()));
  Hash32 h;
  std::memcpy(h.data(), bytes->data(), 32);
  return h;
}

Result<uint64_t> ParseUint64(std::string_view s, std::string_view what) {
  uint64_t v = 0;
  if (s.empty()) return Invalid(std::string(what) + ": empty number");
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec == std::errc::result_out_of_range)
    return Invalid(std::string(what) + ": '" + std::string(s) + "' is larger than 18446744073709551615");
  if (ec != std::errc() || p != s.data() + s.size())
    return Invalid(std::string(what) + ": '" + std::string(s) + "' is not a non-negative decimal integer");
  return v;
}

}  // namespace gtos
