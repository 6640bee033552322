// Ed25519 (RFC 8032, pure) over the 32-byte digest, via Crypto++'s donna
// backend (the code behind <cryptopp/xed25519.h>, called directly to skip the
// key-object layer and its exceptions).
#include <cryptopp/donna.h>
#include <cryptopp/integer.h>
#include <cryptopp/nbtheory.h>

#include <array>
#include <cstring>
#include <exception>
#include <string>

#include "crypto/hash.h"
#include "crypto/sig.h"

namespace gtos::crypto {
namespace {

constexpr size_t kSecretSize = 32;
constexpr size_t kPublicSize = 32;
constexpr size_t kSignatureSize = 64;

// The y coordinates (little-endian, sign bit clear) of the eight points of
// small order: 1, p-1, 0 and the two order-8 values. A key among them lets
// anyone produce signatures that verify for many messages, so such keys are
// not well-formed for us (libsodium rejects the same set).
constexpr std::array<std::array<uint8_t, 32>, 5> kSmallOrderY = {{
    {0x01},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0x00},
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
     0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
     0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
}};

// The group order L, little-endian.
constexpr std::array<uint8_t, 32> kOrderL = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                             0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

// a < b for 32-byte little-endian numbers.
bool LessLE(const uint8_t* a, const uint8_t* b) {
  for (int i = 31; i >= 0; --i)
    if (a[i] != b[i]) return a[i] < b[i];
  return false;
}

// y (the low 255 bits) < p = 2^255 - 19. donna reduces y silently, so two
// encodings of one point would otherwise both be accepted.
bool CanonicalY(const uint8_t* pub) {
  if ((pub[31] & 0x7f) != 0x7f) return true;
  for (int i = 30; i >= 1; --i)
    if (pub[i] != 0xff) return true;
  return pub[0] < 0xed;
}

bool SmallOrder(const uint8_t* pub) {
  for (const auto& y : kSmallOrderY)
    if (std::memcmp(y.data(), pub, 31) == 0 && y[31] == (pub[31] & 0x7f)) return true;
  return false;
}

// The checks that donna's verify does not make itself (it does check that
// the point decodes).
bool CheapPublicChecks(ByteView pub) {
  return pub.size() == kPublicSize && CanonicalY(pub.data()) && !SmallOrder(pub.data());
}

// True iff y encodes a curve point: x^2 = (y^2 - 1) / (d y^2 + 1) must have a
// root mod p. With p prime the Jacobi symbol of u/v equals that of u*v, which
// avoids an inversion. u != 0 here because y = +-1 are small-order points.
bool OnCurve(const uint8_t* pub) {
  using CryptoPP::Integer;
  static const Integer kP = Integer::Power2(255) - 19;
  static const Integer kD = (kP - 121665) * Integer(121666).InverseMod(kP) % kP;
  uint8_t y_le[32];
  std::memcpy(y_le, pub, 32);
  y_le[31] &= 0x7f;
  Integer y(y_le, 32, Integer::UNSIGNED, CryptoPP::LITTLE_ENDIAN_ORDER);
  Integer y2 = y.Squared() % kP;
  Integer u = (y2 + kP - 1) % kP;
  Integer v = (kD * y2 + 1) % kP;
  return CryptoPP::Jacobi(u * v % kP, kP) == 1;
}

Bytes Generate() {
  Bytes secret(kSecretSize);
  RandomBytes(secret);
  return secret;
}

Result<Bytes> DerivePublic(ByteView secret) {
  if (secret.size() != kSecretSize)
    return Invalid("ed25519 secret must be 32 bytes, got " + std::to_string(secret.size()));
  Bytes pub(kPublicSize);
  if (CryptoPP::Donna::ed25519_publickey(pub.data(), secret.data()) != 0)
    return Fail(ErrorCode::kCrypto, "ed25519: public key derivation failed");
  return pub;
}

Status CheckPublic(ByteView pub) {
  if (pub.size() != kPublicSize)
    return Invalid("ed25519 public key must be 32 bytes, got " + std::to_string(pub.size()));
  if (!CanonicalY(pub.data())) return Invalid("ed25519 public key is not canonically encoded");
  if (SmallOrder(pub.data())) return Invalid("ed25519 public key is a point of small order");
  try {
    if (!OnCurve(pub.data())) return Invalid("ed25519 public key is not a point on the curve");
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kInternal, std::string("ed25519: ") + e.what());
  }
  return Ok();
}

Result<Bytes> SignWithPublic(ByteView secret, ByteView pub, const Hash32& digest) {
  if (secret.size() != kSecretSize || pub.size() != kPublicSize)
    return Invalid("ed25519: expected a 32-byte secret and public key");
  Bytes sig(kSignatureSize);
  const int rc = CryptoPP::Donna::ed25519_sign(digest.data(), digest.size(), secret.data(), pub.data(), sig.data());
  if (rc != 0) return Fail(ErrorCode::kCrypto, "ed25519: signing failed");
  return sig;
}

Result<Bytes> Sign(ByteView secret, const Hash32& digest) {
  auto pub = DerivePublic(secret);
  if (!pub) return std::unexpected(pub.error());
  Bytes sig(kSignatureSize);
  const int rc =
      CryptoPP::Donna::ed25519_sign(digest.data(), digest.size(), secret.data(), pub->data(), sig.data());
  if (rc != 0) return Fail(ErrorCode::kCrypto, "ed25519: signing failed");
  return sig;
}

bool Verify(ByteView pub, const Hash32& digest, ByteView sig) {
  if (!CheapPublicChecks(pub) || sig.size() != kSignatureSize) return false;
  // RFC 8032 section 5.1.7: S must be below L. donna only checks the top three
  // bits, which would let S + L pass as a second signature.
  if (!LessLE(sig.data() + 32, kOrderL.data())) return false;
  return CryptoPP::Donna::ed25519_sign_open(digest.data(), digest.size(), pub.data(), sig.data()) == 0;
}

}  // namespace

namespace internal {
extern const SigAlgo kEd25519Algo = {
    .id = AlgoId::kEd25519,
    .name = "ed25519",
    .secret_size = kSecretSize,
    .public_size = kPublicSize,
    .signature_size = kSignatureSize,
    .generate = &Generate,
    .derive_public = &DerivePublic,
    .check_public = &CheckPublic,
    .sign = &Sign,
    .verify = &Verify,
    .sign_with_public = &SignWithPublic,
};
}  // namespace internal

}  // namespace gtos::crypto
