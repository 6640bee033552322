// ECDSA over secp256k1 via libsecp256k1: 33-byte compressed keys, 64-byte
// compact low-S signatures, RFC 6979 nonces, the digest signed as is.
#include <cryptopp/misc.h>
#include <secp256k1.h>

#include <array>
#include <string>

#include "crypto/hash.h"
#include "crypto/sig.h"

namespace gtos::crypto {
namespace {

constexpr size_t kSecretSize = 32;
constexpr size_t kPublicSize = 33;
constexpr size_t kSignatureSize = 64;

// One context for the process. libsecp256k1 contexts are read-only after
// creation and randomization, so concurrent use is safe; randomizing blinds
// the signing computations against side channels.
const secp256k1_context* Context() {
  static const secp256k1_context* const ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    std::array<uint8_t, 32> seed;
    RandomBytes(seed);
    // Failure leaves the context unblinded but correct; nothing to report.
    // (A (void) cast does not silence warn_unused_result under GCC.)
    int randomized = secp256k1_context_randomize(c, seed.data());
    static_cast<void>(randomized);
    CryptoPP::SecureWipeBuffer(seed.data(), seed.size());
    return c;
  }();
  return ctx;
}

Bytes Generate() {
  Bytes secret(kSecretSize);
  // A random 256-bit string is >= n with probability ~2^-128; retry then.
  do {
    RandomBytes(secret);
  } while (!secp256k1_ec_seckey_verify(Context(), secret.data()));
  return secret;
}

Result<Bytes> DerivePublic(ByteView secret) {
  if (secret.size() != kSecretSize)
    return Invalid("secp256k1 secret must be 32 bytes, got " + std::to_string(secret.size()));
  if (!secp256k1_ec_seckey_verify(Context(), secret.data()))
    return Invalid("secp256k1 secret is not a valid scalar (zero or not below the group order)");
  secp256k1_pubkey pk;
  if (!secp256k1_ec_pubkey_create(Context(), &pk, secret.data()))
    return Fail(ErrorCode::kCrypto, "secp256k1: public key derivation failed");
  Bytes pub(kPublicSize);
  size_t len = pub.size();
  secp256k1_ec_pubkey_serialize(Context(), pub.data(), &len, &pk, SECP256K1_EC_COMPRESSED);
  return pub;
}

// Only the compressed form is canonical: pubkey_parse alone would also take
// 65-byte uncompressed and hybrid encodings.
bool ParsePublic(ByteView pub, secp256k1_pubkey* pk) {
  if (pub.size() != kPublicSize || (pub[0] != 0x02 && pub[0] != 0x03)) return false;
  return secp256k1_ec_pubkey_parse(Context(), pk, pub.data(), pub.size()) == 1;
}

Status CheckPublic(ByteView pub) {
  if (pub.size() != kPublicSize)
    return Invalid("secp256k1 public key must be 33 bytes, got " + std::to_string(pub.size()));
  if (pub[0] != 0x02 && pub[0] != 0x03)
    return Invalid("secp256k1 public key must be compressed (prefix 02 or 03)");
  secp256k1_pubkey pk;
  if (!ParsePublic(pub, &pk)) return Invalid("secp256k1 public key is not a point on the curve");
  return Ok();
}

Result<Bytes> Sign(ByteView secret, const Hash32& digest) {
  if (secret.size() != kSecretSize)
    return Invalid("secp256k1 secret must be 32 bytes, got " + std::to_string(secret.size()));
  secp256k1_ecdsa_signature s;
  // nullptr nonce function = RFC 6979 (deterministic); the result is low-S.
  if (!secp256k1_ecdsa_sign(Context(), &s, digest.data(), secret.data(), nullptr, nullptr))
    return Invalid("secp256k1 secret is not a valid scalar");
  Bytes sig(kSignatureSize);
  secp256k1_ecdsa_signature_serialize_compact(Context(), sig.data(), &s);
  return sig;
}

bool Verify(ByteView pub, const Hash32& digest, ByteView sig) {
  if (sig.size() != kSignatureSize) return false;
  secp256k1_pubkey pk;
  if (!ParsePublic(pub, &pk)) return false;
  secp256k1_ecdsa_signature s;
  // parse_compact rejects r or s >= n; verify rejects r or s = 0 and, per its
  // documentation, any s in the upper half, so no malleated twin passes.
  if (!secp256k1_ecdsa_signature_parse_compact(Context(), &s, sig.data())) return false;
  return secp256k1_ecdsa_verify(Context(), &s, digest.data(), &pk) == 1;
}

}  // namespace

namespace internal {
extern const SigAlgo kSecp256k1Algo = {
    .id = AlgoId::kSecp256k1,
    .name = "secp256k1",
    .secret_size = kSecretSize,
    .public_size = kPublicSize,
    .signature_size = kSignatureSize,
    .generate = &Generate,
    .derive_public = &DerivePublic,
    .check_public = &CheckPublic,
    .sign = &Sign,
    .verify = &Verify,
};
}  // namespace internal

}  // namespace gtos::crypto
