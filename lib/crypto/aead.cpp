#include "crypto/aead.h"

#include <cryptopp/chachapoly.h>
#include <cryptopp/scrypt.h>
#include <cryptopp/secblock.h>

#include <algorithm>
#include <bit>
#include <exception>
#include <string>

#include "crypto/hash.h"

namespace gtos::crypto {
namespace {

constexpr size_t kKeySize = 32;
constexpr size_t kSaltSize = 16;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;

// Crypto++ may assert on a null pointer even when the length is zero (an
// empty passphrase or aad), so point empty inputs at a harmless byte.
const uint8_t* NonNull(const void* p) {
  static const uint8_t kEmpty = 0;
  return p ? static_cast<const uint8_t*>(p) : &kEmpty;
}

// SecByteBlock zeroes itself on destruction, so the derived key never
// outlives the call.
Result<CryptoPP::SecByteBlock> DeriveKey(std::string_view passphrase, ByteView salt,
                                         const ScryptParams& params) {
  try {
    CryptoPP::SecByteBlock key(kKeySize);
    CryptoPP::Scrypt().DeriveKey(key.data(), key.size(), NonNull(passphrase.data()), passphrase.size(),
                                 NonNull(salt.data()), salt.size(), uint64_t{1} << params.log2_n, params.r,
                                 params.p);
    return key;
  } catch (const std::bad_alloc&) {
    return Fail(ErrorCode::kCrypto, "scrypt: out of memory (log2_n " + std::to_string(params.log2_n) +
                                        ", r " + std::to_string(params.r) + ")");
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kCrypto, std::string("scrypt: ") + e.what());
  }
}

Status CheckRange(const char* name, uint64_t value, uint64_t lo, uint64_t hi) {
  if (value < lo || value > hi)
    return Invalid("scrypt parameter '" + std::string(name) + "': " + std::to_string(value) +
                   " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return Ok();
}

}  // namespace

Status CheckScryptParams(const ScryptParams& params) {
  GTOS_TRY(CheckRange("log2_n", params.log2_n, kMinLog2N, kMaxLog2N));
  GTOS_TRY(CheckRange("r", params.r, kMinR, kMaxR));
  GTOS_TRY(CheckRange("p", params.p, 1, kMaxP));
  // RFC 7914 requires N < 2^(16 r); r >= 8 and log2_n <= 20 keep to it, so
  // other implementations (OpenSSL, hence Python's hashlib) accept every key.
  unsigned log2_cost = params.log2_n + std::bit_width(params.r - 1) + std::bit_width(params.p - 1);
  uint64_t cost = (uint64_t{1} << params.log2_n) * params.r * params.p;
  if (cost > (uint64_t{1} << kMaxLog2Cost))
    return Invalid("scrypt parameters: N * r * p = 2^" + std::to_string(params.log2_n) + " * " +
                   std::to_string(params.r) + " * " + std::to_string(params.p) + " (about 2^" +
                   std::to_string(log2_cost) + ") exceeds the limit of 2^" + std::to_string(kMaxLog2Cost));
  return Ok();
}

Status CheckNewScryptParams(const ScryptParams& params) {
  if (params.log2_n < kNewKeyLog2N)
    return Invalid("scrypt parameter 'log2_n': " + std::to_string(params.log2_n) +
                   " is below the minimum of " + std::to_string(kNewKeyLog2N) + " for new keys");
  return CheckScryptParams(params);
}

Result<Sealed> Seal(std::string_view passphrase, ByteView plaintext, ByteView aad,
                    const ScryptParams& params) {
  GTOS_TRY(CheckNewScryptParams(params));
  Sealed out;
  out.params = params;
  out.salt.resize(kSaltSize);
  out.nonce.resize(kNonceSize);
  RandomBytes(out.salt);
  RandomBytes(out.nonce);
  auto key = DeriveKey(passphrase, out.salt, params);
  if (!key) return std::unexpected(key.error());
  try {
    out.ciphertext.resize(plaintext.size() + kTagSize);
    CryptoPP::ChaCha20Poly1305::Encryption enc;
    enc.SetKeyWithIV(key->data(), key->size(), out.nonce.data(), out.nonce.size());
    enc.EncryptAndAuthenticate(out.ciphertext.data(), out.ciphertext.data() + plaintext.size(), kTagSize,
                               out.nonce.data(), static_cast<int>(out.nonce.size()), NonNull(aad.data()),
                               aad.size(), NonNull(plaintext.data()), plaintext.size());
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kCrypto, std::string("chacha20-poly1305: ") + e.what());
  }
  return out;
}

Result<SecretBytes> Open(std::string_view passphrase, const Sealed& sealed, ByteView aad) {
  GTOS_TRY(CheckScryptParams(sealed.params));
  if (sealed.salt.size() != kSaltSize)
    return Invalid("salt: expected 16 bytes, got " + std::to_string(sealed.salt.size()));
  if (sealed.nonce.size() != kNonceSize)
    return Invalid("nonce: expected 12 bytes, got " + std::to_string(sealed.nonce.size()));
  if (sealed.ciphertext.size() < kTagSize)
    return Fail(ErrorCode::kCrypto, "ciphertext is shorter than its 16-byte authentication tag");
  auto key = DeriveKey(passphrase, sealed.salt, sealed.params);
  if (!key) return std::unexpected(key.error());
  const size_t n = sealed.ciphertext.size() - kTagSize;
  // Decrypt into wiping memory: the plaintext is released only once the tag
  // has verified, and on failure nothing of it survives.
  SecretBytes plain(Bytes(std::max<size_t>(n, 1)));  // never a null buffer
  bool ok = false;
  try {
    CryptoPP::ChaCha20Poly1305::Decryption dec;
    dec.SetKeyWithIV(key->data(), key->size(), sealed.nonce.data(), sealed.nonce.size());
    ok = dec.DecryptAndVerify(plain.data(), sealed.ciphertext.data() + n, kTagSize, sealed.nonce.data(),
                              static_cast<int>(sealed.nonce.size()), NonNull(aad.data()), aad.size(),
                              NonNull(sealed.ciphertext.data()), n);
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kCrypto, std::string("chacha20-poly1305: ") + e.what());
  }
  if (!ok) return Fail(ErrorCode::kCrypto, "wrong passphrase or corrupted key (authentication failed)");
  if (n == 0) return SecretBytes();
  return plain;
}

}  // namespace gtos::crypto
