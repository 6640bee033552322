// Key encryption at rest: scrypt (memory-hard KDF) + ChaCha20-Poly1305 (AEAD),
// both from Crypto++. docs/formats.md "private_key" gives the exact layout.
#ifndef GTOS_CRYPTO_AEAD_H_
#define GTOS_CRYPTO_AEAD_H_

#include <cstdint>
#include <string_view>

#include "util/bytes.h"
#include "util/secret.h"
#include "util/status.h"

namespace gtos::crypto {

// scrypt cost. Memory is 128 * N * r bytes per lane (p lanes), work grows
// with N * r * p. docs/formats.md section 6.1 states these limits.
inline constexpr uint8_t kMinLog2N = 15;     // floor on decode: what keys used before 2^17
inline constexpr uint8_t kNewKeyLog2N = 17;  // floor (and default) for new keys
inline constexpr uint8_t kMaxLog2N = 20;
inline constexpr uint32_t kMinR = 8, kMaxR = 16;
inline constexpr uint32_t kMaxP = 16;
// N * r * p <= 2^23: at most 1 GiB of memory and about 8 times the work of
// the default (N = 2^17, r = 8, p = 1: 128 MiB, a few tenths of a second).
inline constexpr unsigned kMaxLog2Cost = 23;

struct ScryptParams {
  uint8_t log2_n = kNewKeyLog2N;
  uint32_t r = 8;
  uint32_t p = 1;
};
// The parameters a decoder accepts: 15 <= log2_n <= 20, 8 <= r <= 16,
// 1 <= p <= 16 and N * r * p <= 2^23, so that a weakly protected key is
// refused and a hostile key file cannot make a tool allocate more than
// 1 GiB or spend more than a few seconds. The error names the parameter.
Status CheckScryptParams(const ScryptParams& params);
// The parameters a new encryption may use: as above, and log2_n >= 17.
Status CheckNewScryptParams(const ScryptParams& params);

struct Sealed {
  ScryptParams params;
  Bytes salt;        // 16 bytes
  Bytes nonce;       // 12 bytes
  Bytes ciphertext;  // plaintext size + 16-byte Poly1305 tag
};

// Encrypts `plaintext` under a key derived from `passphrase` with a fresh
// random salt and nonce; `aad` is authenticated but not stored. REQUIRES
// (else an error): CheckNewScryptParams(params). The derived key is wiped.
Result<Sealed> Seal(std::string_view passphrase, ByteView plaintext, ByteView aad,
                    const ScryptParams& params = {});
// Returns the plaintext, or an error with code kCrypto when the passphrase is
// wrong or anything (ciphertext, aad, parameters) was altered.
// The derived key is wiped; the plaintext is returned in wiping memory.
Result<SecretBytes> Open(std::string_view passphrase, const Sealed& sealed, ByteView aad);

}  // namespace gtos::crypto

#endif  // GTOS_CRYPTO_AEAD_H_
