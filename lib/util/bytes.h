// Byte strings, fixed-size hashes and hex conversion.
#ifndef GTOS_UTIL_BYTES_H_
#define GTOS_UTIL_BYTES_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace gtos {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// A 32-byte value: hashes, addresses, tx ids. Ordered bytewise.
struct Hash32 {
  std::array<uint8_t, 32> v{};
  auto operator<=>(const Hash32&) const = default;
  bool IsZero() const;
  ByteView view() const { return {v.data(), v.size()}; }
  uint8_t* data() { return v.data(); }
  const uint8_t* data() const { return v.data(); }
  static constexpr size_t size() { return 32; }
};
using Address = Hash32;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Lowercase hex without prefix.
std::string ToHex(ByteView b);
// "0x" + lowercase hex.
std::string ToHex0x(ByteView b);
inline std::string ToHex0x(const Hash32& h) { return ToHex0x(h.view()); }

// Parses hex with or without "0x"; upper and lower case accepted. `what`
// names the value in the error ("address", "field 'key'").
Result<Bytes> FromHex(std::string_view hex, std::string_view what);
// Parses exactly 32 bytes of hex ("0x" optional).
Result<Hash32> Hash32FromHex(std::string_view hex, std::string_view what);

// Parses a decimal uint64 ("123"); rejects signs, spaces, overflow.
Result<uint64_t> ParseUint64(std::string_view s, std::string_view what);

}  // namespace gtos

#endif  // GTOS_UTIL_BYTES_H_
