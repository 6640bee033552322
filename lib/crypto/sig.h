// The signature-algorithm registry.
//
// Every algorithm GTOS accepts is one SigAlgo entry: its wire id, its name,
// fixed sizes, and four functions. All of them sign and verify a 32-byte
// digest (the tx id or another domain-separated SHA-256); docs/formats.md
// gives the exact scheme of each. Adding an algorithm is one new file that
// defines an entry plus one line in sig.cpp's table.
//
// Thread safety: every function may be called concurrently.
#ifndef GTOS_CRYPTO_SIG_H_
#define GTOS_CRYPTO_SIG_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "util/bytes.h"
#include "util/secret.h"
#include "util/status.h"

namespace gtos::crypto {

enum class AlgoId : uint8_t {
  kEd25519 = 1,
  kSecp256k1 = 2,
  kSecp256r1 = 3,
};

struct SigAlgo {
  AlgoId id;
  std::string_view name;  // "ed25519"
  size_t secret_size;     // bytes of a private key
  size_t public_size;     // bytes of an encoded public key
  size_t signature_size;  // bytes of a signature

  // Creates a fresh random secret.
  Bytes (*generate)();
  // Validates a secret and derives its encoded public key.
  Result<Bytes> (*derive_public)(ByteView secret);
  // Checks that an encoded public key is well-formed (on the curve, canonical).
  Status (*check_public)(ByteView pub);
  // Signs a 32-byte digest. REQUIRES: secret passed derive_public.
  Result<Bytes> (*sign)(ByteView secret, const Hash32& digest);
  // True iff `sig` is a valid, canonical signature of `digest` by `pub`.
  bool (*verify)(ByteView pub, const Hash32& digest, ByteView sig);
  // Optional: sign with the public key already known (ed25519 otherwise
  // re-derives it, half the cost of a signature). REQUIRES: pub is
  // derive_public(secret).
  Result<Bytes> (*sign_with_public)(ByteView secret, ByteView pub, const Hash32& digest) = nullptr;
};

// Signs with sign_with_public when the algorithm has it, else sign.
Result<Bytes> SignDigest(const SigAlgo& algo, ByteView secret, ByteView pub, const Hash32& digest);

// nullptr when unknown.
const SigAlgo* FindAlgo(AlgoId id);
const SigAlgo* FindAlgo(uint64_t wire_id);
const SigAlgo* FindAlgo(std::string_view name);
// Every registered algorithm, in id order.
std::span<const SigAlgo* const> AllAlgos();

// Address = SHA-256(algo id byte || encoded public key).
Address DeriveAddress(AlgoId algo, ByteView pub);

// A secret held in memory, wiped on destruction (util/secret.h).
using SecretBytes = gtos::SecretBytes;

}  // namespace gtos::crypto

#endif  // GTOS_CRYPTO_SIG_H_
