// Key records: private keys (plain or encrypted at rest) and public keys.
#ifndef GTOS_TYPES_KEYS_H_
#define GTOS_TYPES_KEYS_H_

#include <optional>
#include <string_view>

#include "codec/visit.h"
#include "crypto/aead.h"
#include "crypto/sig.h"
#include "types/record_type.h"

namespace gtos {

// Wire name of a signature algorithm id; empty when unknown.
std::string_view AlgoName(uint64_t id);

// Checks that `pub` is a well-formed public key of algorithm `algo`; the
// error names `field`.
Status CheckPublicKey(std::string_view field, uint64_t algo, const Bytes& pub);

// How a private key's secret is protected. Absent (nil) means plain.
struct KeyEncryption {
  static constexpr uint64_t kScryptChaCha20Poly1305 = 1;
  uint64_t scheme = kScryptChaCha20Poly1305;
  uint64_t log2_n = crypto::kNewKeyLog2N;
  uint64_t r = 8;
  uint64_t p = 1;
  Bytes salt;   // 16 bytes
  Bytes nonce;  // 12 bytes

  template <class V>
  void Fields(V& v) {
    v.Enum("scheme", scheme, [](uint64_t s) -> std::string_view {
      return s == kScryptChaCha20Poly1305 ? "scrypt-chacha20poly1305" : "";
    });
    v.Uint("log2_n", log2_n, 255);
    v.Uint("r", r, UINT32_MAX);
    v.Uint("p", p, UINT32_MAX);
    v.Bin("salt", salt, 16);
    v.Bin("nonce", nonce, 12);
  }
};

struct PrivateKey {
  static constexpr RecordType kType = RecordType::kPrivateKey;
  static constexpr uint64_t kVersion = 1;

  uint64_t algo = 0;  // crypto::AlgoId
  Bytes public_key;
  std::optional<KeyEncryption> encryption;
  Bytes secret;  // plain secret, or ciphertext + 16-byte tag when encrypted

  template <class V>
  void Fields(V& v) {
    v.Enum("algo", algo, AlgoName);
    v.Bin("public_key", public_key, 65);
    v.Optional("encryption", encryption);
    v.Bin("secret", secret, 64 + 16);
  }
  Status Validate() const;
  bool encrypted() const { return encryption.has_value(); }
  Address address() const;
};

struct PublicKey {
  static constexpr RecordType kType = RecordType::kPublicKey;
  static constexpr uint64_t kVersion = 1;

  uint64_t algo = 0;
  Bytes public_key;

  template <class V>
  void Fields(V& v) {
    v.Enum("algo", algo, AlgoName);
    v.Bin("public_key", public_key, 65);
  }
  Status Validate() const;
  Address address() const;
};

// Builds a key record for `secret`; encrypts it when `passphrase` is set,
// with `params` (crypto::CheckNewScryptParams: N >= 2^17). A plain record
// holds the secret in `secret`: wipe it (SecureWipe) once written.
Result<PrivateKey> MakePrivateKey(crypto::AlgoId algo, ByteView secret,
                                  std::optional<std::string_view> passphrase,
                                  const crypto::ScryptParams& params = {});
// Returns the plain secret, decrypting with `passphrase` when encrypted, and
// checks that it derives to the recorded public key.
Result<crypto::SecretBytes> UnlockPrivateKey(const PrivateKey& key,
                                             std::optional<std::string_view> passphrase);
PublicKey PublicOf(const PrivateKey& key);

}  // namespace gtos

#endif  // GTOS_TYPES_KEYS_H_
