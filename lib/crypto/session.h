// Primitives of the p2p session (docs/p2p.md "Handshake"): X25519 key
// agreement, HKDF-SHA256 and a ChaCha20-Poly1305 stream whose nonce is a
// 64-bit frame counter. All three come from OpenSSL; this file only adapts
// them to the project's types and wipes secrets when they go.
#ifndef GTOS_CRYPTO_SESSION_H_
#define GTOS_CRYPTO_SESSION_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "util/bytes.h"
#include "util/status.h"

namespace gtos::crypto {

inline constexpr size_t kX25519Bytes = 32;
inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadTagBytes = 16;

// An X25519 key pair; the secret half is wiped on destruction.
struct X25519Key {
  std::array<uint8_t, kX25519Bytes> secret{};
  std::array<uint8_t, kX25519Bytes> pub{};
  X25519Key() = default;
  X25519Key(const X25519Key&) = delete;
  X25519Key& operator=(const X25519Key&) = delete;
  X25519Key(X25519Key&& o) noexcept;
  X25519Key& operator=(X25519Key&& o) noexcept;
  ~X25519Key();
};

// A fresh key pair from the system's random source.
Result<X25519Key> X25519Generate();
// The key pair of a given 32-byte secret (test vectors).
Result<X25519Key> X25519FromSecret(ByteView secret);
// The shared secret with `their_pub`. Fails (kCrypto) for a public key of
// the wrong size or one of small order (an all-zero result), so a peer
// cannot force a known session key.
Status X25519Shared(const X25519Key& mine, ByteView their_pub, std::span<uint8_t, kX25519Bytes> out);

// HKDF-SHA256 (RFC 5869), extract and expand, filling `out`.
Status HkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::span<uint8_t> out);

// One direction of an authenticated stream: ChaCha20-Poly1305 (RFC 8439)
// under one key, the i-th message sealed with nonce = 4 zero bytes || i as
// u64 little-endian (the nonce of the Noise protocol's ChaChaPoly). A
// message opened out of order, replayed, or altered fails. The counter is
// never reused: after 2^64 - 1 messages the stream refuses.
class AeadStream {
 public:
  static Result<AeadStream> Create(ByteView key, bool encrypt);
  AeadStream(AeadStream&&) noexcept;
  AeadStream& operator=(AeadStream&&) noexcept;
  ~AeadStream();

  // Writes ciphertext || tag (plaintext.size() + 16 bytes) to `out`.
  Status Seal(ByteView aad, ByteView plaintext, uint8_t* out);
  // `in` is ciphertext || tag; writes in.size() - 16 bytes of plaintext to
  // `out` (which may equal in.data()). kCrypto when authentication fails.
  Status Open(ByteView aad, ByteView in, uint8_t* out);
  uint64_t counter() const { return counter_; }

 private:
  struct Ctx;
  AeadStream(std::unique_ptr<Ctx> ctx, bool encrypt);
  std::unique_ptr<Ctx> ctx_;
  bool encrypt_ = true;
  uint64_t counter_ = 0;
};

// Overwrites memory that held a secret (OPENSSL_cleanse: not optimised away).
void Wipe(void* p, size_t n);

}  // namespace gtos::crypto

#endif  // GTOS_CRYPTO_SESSION_H_
