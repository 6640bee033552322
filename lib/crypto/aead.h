// Key encryption at rest: scrypt (memory-hard KDF) + ChaCha20-Poly1305 (AEAD),
// both from Crypto++. docs/formats.md "private_key" gives the exact layout.
#ifndef GTOS_CRYPTO_AEAD_H_
#define GTOS_CRYPTO_AEAD_H_

#include <cstdint>
#include <string_view>

#include "util/bytes.h"
#include "util/status.h"

namespace gtos::crypto {

struct ScryptParams {
  uint8_t log2_n = 15;  // N = 2^15: about 32 MiB and 0.1 s per derivation
  uint32_t r = 8;
  uint32_t p = 1;
};
// Largest parameters a decoder accepts, so that a hostile key file cannot
// make a tool allocate gigabytes: log2_n <= 20, r <= 16, p <= 16.
Status CheckScryptParams(const ScryptParams& params);

struct Sealed {
  ScryptParams params;
  Bytes salt;        // 16 bytes
  Bytes nonce;       // 12 bytes
  Bytes ciphertext;  // plaintext size + 16-byte Poly1305 tag
};

// Encrypts `plaintext` under a key derived from `passphrase` with a fresh
// random salt and nonce; `aad` is authenticated but not stored.
Result<Sealed> Seal(std::string_view passphrase, ByteView plaintext, ByteView aad,
                    const ScryptParams& params = {});
// Returns the plaintext, or an error with code kCrypto when the passphrase is
// wrong or anything (ciphertext, aad, parameters) was altered.
Result<Bytes> Open(std::string_view passphrase, const Sealed& sealed, ByteView aad);

}  // namespace gtos::crypto

#endif  // GTOS_CRYPTO_AEAD_H_
