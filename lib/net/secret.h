// The p2p session (docs/p2p.md "Handshake" and "Frames"): how two nodes
// agree on keys and prove their node keys, and how every later frame is
// sealed. Pure functions and a small channel type; the Host drives them.
//
//  1. Each side sends a 40-byte intro in the clear: the magic "GTOSP2P2"
//     and a fresh X25519 public key (its ephemeral key for this
//     connection). Nothing else is read before both intros are in.
//  2. Both compute the X25519 shared secret and, with lo/hi the two
//     ephemeral keys in byte order,
//        transcript = SHA-256("GTOS-P2P-V2" || lo || hi)
//        okm        = HKDF-SHA256(ikm = shared, salt = transcript,
//                                 info = "GTOS-P2P-V2 session", 96 bytes)
//     okm[0..32) seals frames sent by the side whose ephemeral key is lo,
//     okm[32..64) frames sent by hi, okm[64..96) is the challenge.
//  3. The first sealed frame each way is p2p_hello, carrying the sender's
//     node key and its ed25519 signature of
//        SHA-256-tagged("GTOS-P2P-AUTH-V2", challenge)
//     The challenge depends on both ephemeral keys and the shared secret,
//     so a signature proves the node key holds this very connection: a
//     relay that runs its own handshake with each side sees two different
//     challenges and cannot pass a signature on.
//  4. Frames: u32 big-endian length of the sealed body, then the body =
//     ChaCha20-Poly1305(key of the direction, nonce = frame counter,
//     aad = the 4 length bytes, plaintext = one message record). A frame
//     replayed, reordered, dropped or altered fails to open, and the
//     connection is closed.
#ifndef GTOS_NET_SECRET_H_
#define GTOS_NET_SECRET_H_

#include <array>
#include <cstdint>
#include <string_view>

#include "crypto/session.h"
#include "util/bytes.h"
#include "util/status.h"

namespace gtos::net {

inline constexpr std::string_view kIntroMagic = "GTOSP2P2";
inline constexpr size_t kIntroBytes = 8 + crypto::kX25519Bytes;  // 40
inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr size_t kSealOverhead = crypto::kAeadTagBytes;  // 16
// The largest sealed frame body a peer may send before its p2p_hello has
// been verified (a p2p_hello is about 400 bytes).
inline constexpr size_t kMaxHandshakeBody = 4096;

// The intro this side sends: magic || ephemeral public key.
Bytes MakeIntro(const crypto::X25519Key& ephemeral);
// The peer's ephemeral public key from its intro; an error names what is
// wrong (not a GTOS v2 peer, a v1 peer).
Result<std::array<uint8_t, crypto::kX25519Bytes>> ParseIntro(ByteView intro);

struct SessionKeys {
  std::array<uint8_t, crypto::kAeadKeyBytes> send_key{}, recv_key{};
  std::array<uint8_t, 32> challenge{};
  ~SessionKeys();
};

// Step 2 above, from this side's point of view.
Result<SessionKeys> DeriveSession(const crypto::X25519Key& mine, ByteView their_ephemeral);

// What a node key signs to prove itself on a connection (step 3).
Hash32 AuthDigest(const std::array<uint8_t, 32>& challenge);

// Both directions of an established session.
class SecretChannel {
 public:
  static Result<SecretChannel> Create(const SessionKeys& keys);

  // A whole frame: length || sealed record.
  Result<Bytes> Seal(ByteView record);
  // Opens the body of a frame whose 4-byte header was `header`, in place;
  // on success the plaintext is body[0 .. body.size() - 16).
  gtos::Status Open(const uint8_t header[kFrameHeaderBytes], Bytes& body);

  uint64_t sent() const { return send_.counter(); }
  uint64_t received() const { return recv_.counter(); }

 private:
  SecretChannel(crypto::AeadStream s, crypto::AeadStream r) : send_(std::move(s)), recv_(std::move(r)) {}
  crypto::AeadStream send_, recv_;
};

}  // namespace gtos::net

#endif  // GTOS_NET_SECRET_H_
