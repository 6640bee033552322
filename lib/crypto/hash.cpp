#include "crypto/hash.h"

#include <cryptopp/crc.h>
#include <cryptopp/osrng.h>
#include <cryptopp/sha.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdlib>

namespace gtos::crypto {

Hash32 Sha256(ByteView data) {
  Hash32 out;
  CryptoPP::SHA256().CalculateDigest(out.data(), data.data(), data.size());
  return out;
}

Hash32 Sha256Tagged(std::string_view domain, ByteView data) {
  CryptoPP::SHA256 h;
  h.Update(reinterpret_cast<const CryptoPP::byte*>(domain.data()), domain.size());
  h.Update(data.data(), data.size());
  Hash32 out;
  h.Final(out.data());
  return out;
}

void RandomBytes(std::span<uint8_t> out) {
  // getrandom(2) blocks only until the kernel pool is first seeded and never
  // returns short reads for <= 256 bytes; loop anyway for larger requests and
  // signals.
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  if (done == out.size()) return;
  // Kernels without getrandom (ENOSYS): fall back to /dev/urandom through
  // Crypto++. If even that fails there is no safe way to continue: returning
  // predictable bytes would silently produce guessable keys and nonces.
  try {
    CryptoPP::OS_GenerateRandomBlock(false, out.data() + done, out.size() - done);
  } catch (...) {
    std::abort();
  }
}

}  // namespace gtos::crypto

#include <cryptopp/chacha.h>

namespace gtos::crypto {

void ExpandChaCha20(const Hash32& seed, std::span<uint8_t> out) {
  static const uint8_t kZeroNonce[12] = {};
  CryptoPP::ChaChaTLS::Encryption chacha;
  chacha.SetKeyWithIV(seed.data(), 32, kZeroNonce, sizeof kZeroNonce);
  std::memset(out.data(), 0, out.size());
  chacha.ProcessData(out.data(), out.data(), out.size());
}

}  // namespace gtos::crypto

namespace gtos::crypto {

uint32_t Crc32c(ByteView data) {
  CryptoPP::CRC32C crc;
  crc.Update(data.data(), data.size());
  uint8_t out[4];
  crc.Final(out);  // little-endian register bytes
  return static_cast<uint32_t>(out[0]) | static_cast<uint32_t>(out[1]) << 8 | static_cast<uint32_t>(out[2]) << 16 |
         static_cast<uint32_t>(out[3]) << 24;
}

}  // namespace gtos::crypto
