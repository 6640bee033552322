#include "crypto/sig.h"

#include <cryptopp/misc.h>
#include <cryptopp/sha.h>

#include <array>

namespace gtos::crypto {

// Each algorithm file defines its entry; sig.h's contract keeps their
// internals private, so only these declarations cross files.
namespace internal {
extern const SigAlgo kEd25519Algo;
extern const SigAlgo kSecp256k1Algo;
extern const SigAlgo kSecp256r1Algo;
}  // namespace internal

namespace {

// In id order (AllAlgos promises it).
constexpr std::array<const SigAlgo*, 3> kAlgos = {
    &internal::kEd25519Algo,
    &internal::kSecp256k1Algo,
    &internal::kSecp256r1Algo,
};

}  // namespace

const SigAlgo* FindAlgo(AlgoId id) {
  for (const SigAlgo* a : kAlgos)
    if (a->id == id) return a;
  return nullptr;
}

const SigAlgo* FindAlgo(uint64_t wire_id) {
  // Compare as uint64 so that ids above 255 cannot alias a real one after a
  // narrowing cast.
  for (const SigAlgo* a : kAlgos)
    if (static_cast<uint64_t>(a->id) == wire_id) return a;
  return nullptr;
}

const SigAlgo* FindAlgo(std::string_view name) {
  for (const SigAlgo* a : kAlgos)
    if (a->name == name) return a;
  return nullptr;
}

std::span<const SigAlgo* const> AllAlgos() { return kAlgos; }

Address DeriveAddress(AlgoId algo, ByteView pub) {
  const uint8_t id = static_cast<uint8_t>(algo);
  CryptoPP::SHA256 h;
  h.Update(&id, 1);
  h.Update(pub.data(), pub.size());
  Address out;
  h.Final(out.data());
  return out;
}

Result<Bytes> SignDigest(const SigAlgo& algo, ByteView secret, ByteView pub, const Hash32& digest) {
  if (algo.sign_with_public && pub.size() == algo.public_size) return algo.sign_with_public(secret, pub, digest);
  return algo.sign(secret, digest);
}

}  // namespace gtos::crypto
