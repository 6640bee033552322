// SHA-256 (Crypto++).
#ifndef GTOS_CRYPTO_HASH_H_
#define GTOS_CRYPTO_HASH_H_

#include <string_view>

#include "util/bytes.h"

namespace gtos::crypto {

Hash32 Sha256(ByteView data);
// SHA-256(domain || data): domain-separated hash used for signing digests.
Hash32 Sha256Tagged(std::string_view domain, ByteView data);
// CRC-32C (Castagnoli) of `data`: a checksum against torn writes and media
// errors in local files (the consensus WAL), never a security check.
uint32_t Crc32c(ByteView data);

// Fills `out` with bytes from the operating system's CSPRNG.
void RandomBytes(std::span<uint8_t> out);

}  // namespace gtos::crypto

#endif  // GTOS_CRYPTO_HASH_H_

namespace gtos::crypto {

// Expands a 32-byte seed into out.size() pseudorandom bytes: the RFC 8439
// ChaCha20 keystream with key = seed, nonce = 0, counter starting at 0.
// Used as an extendable-output function over a SHA-256 digest.
void ExpandChaCha20(const Hash32& seed, std::span<uint8_t> out);

}  // namespace gtos::crypto
