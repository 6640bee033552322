#include "net/secret.h"

#include <algorithm>

#include "crypto/hash.h"

namespace gtos::net {
namespace {

constexpr std::string_view kTranscriptDomain = "GTOS-P2P-V2";
constexpr std::string_view kSessionInfo = "GTOS-P2P-V2 session";
constexpr std::string_view kAuthDomain = "GTOS-P2P-AUTH-V2";

ByteView View(std::string_view s) { return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

}  // namespace

Bytes MakeIntro(const crypto::X25519Key& ephemeral) {
  Bytes out(kIntroBytes);
  std::copy(kIntroMagic.begin(), kIntroMagic.end(), out.begin());
  std::copy(ephemeral.pub.begin(), ephemeral.pub.end(), out.begin() + kIntroMagic.size());
  return out;
}

Result<std::array<uint8_t, crypto::kX25519Bytes>> ParseIntro(ByteView intro) {
  if (intro.size() != kIntroBytes)
    return Invalid("p2p intro of " + std::to_string(intro.size()) + " bytes, expected " + std::to_string(kIntroBytes));
  if (!std::equal(kIntroMagic.begin(), kIntroMagic.end(), intro.begin())) {
    // A v1 node starts with a length-prefixed p2p_hello record.
    if (intro[0] == 0 && intro[1] == 0) return Invalid("peer speaks p2p protocol 1 (unencrypted); this node speaks 2");
    return Invalid("not a GTOS p2p peer (bad intro magic)");
  }
  std::array<uint8_t, crypto::kX25519Bytes> pub;
  std::copy(intro.begin() + kIntroMagic.size(), intro.end(), pub.begin());
  return pub;
}

SessionKeys::~SessionKeys() {
  crypto::Wipe(send_key.data(), send_key.size());
  crypto::Wipe(recv_key.data(), recv_key.size());
  crypto::Wipe(challenge.data(), challenge.size());
}

Result<SessionKeys> DeriveSession(const crypto::X25519Key& mine, ByteView their) {
  if (their.size() != crypto::kX25519Bytes) return Invalid("ephemeral key of " + std::to_string(their.size()) + " bytes");
  ByteView ours(mine.pub.data(), mine.pub.size());
  if (std::equal(ours.begin(), ours.end(), their.begin()))
    return Invalid("the peer echoed our ephemeral key");
  bool we_are_lo = std::lexicographical_compare(ours.begin(), ours.end(), their.begin(), their.end());
  ByteView lo = we_are_lo ? ours : their, hi = we_are_lo ? their : ours;

  std::array<uint8_t, crypto::kX25519Bytes> shared;
  GTOS_TRY(crypto::X25519Shared(mine, their, shared));
  Bytes t(kTranscriptDomain.begin(), kTranscriptDomain.end());
  t.insert(t.end(), lo.begin(), lo.end());
  t.insert(t.end(), hi.begin(), hi.end());
  Hash32 transcript = crypto::Sha256(t);

  std::array<uint8_t, 96> okm;
  Status s = crypto::HkdfSha256(ByteView(shared.data(), shared.size()), transcript.v, View(kSessionInfo), okm);
  crypto::Wipe(shared.data(), shared.size());
  if (!s) return std::unexpected(s.error());
  SessionKeys k;
  const uint8_t* lo_key = okm.data();
  const uint8_t* hi_key = okm.data() + 32;
  std::copy(we_are_lo ? lo_key : hi_key, (we_are_lo ? lo_key : hi_key) + 32, k.send_key.begin());
  std::copy(we_are_lo ? hi_key : lo_key, (we_are_lo ? hi_key : lo_key) + 32, k.recv_key.begin());
  std::copy(okm.begin() + 64, okm.end(), k.challenge.begin());
  crypto::Wipe(okm.data(), okm.size());
  return k;
}

Hash32 AuthDigest(const std::array<uint8_t, 32>& challenge) {
  return crypto::Sha256Tagged(kAuthDomain, ByteView(challenge.data(), challenge.size()));
}

Result<SecretChannel> SecretChannel::Create(const SessionKeys& keys) {
  auto s = crypto::AeadStream::Create(ByteView(keys.send_key.data(), keys.send_key.size()), true);
  if (!s) return std::unexpected(s.error());
  auto r = crypto::AeadStream::Create(ByteView(keys.recv_key.data(), keys.recv_key.size()), false);
  if (!r) return std::unexpected(r.error());
  return SecretChannel(std::move(*s), std::move(*r));
}

Result<Bytes> SecretChannel::Seal(ByteView record) {
  size_t body = record.size() + kSealOverhead;
  if (body > 0xffffffffu) return Invalid("p2p frame of " + std::to_string(body) + " bytes is too large");
  Bytes frame(kFrameHeaderBytes + body);
  uint32_t n = static_cast<uint32_t>(body);
  frame[0] = static_cast<uint8_t>(n >> 24);
  frame[1] = static_cast<uint8_t>(n >> 16);
  frame[2] = static_cast<uint8_t>(n >> 8);
  frame[3] = static_cast<uint8_t>(n);
  GTOS_TRY(send_.Seal(ByteView(frame.data(), kFrameHeaderBytes), record, frame.data() + kFrameHeaderBytes));
  return frame;
}

gtos::Status SecretChannel::Open(const uint8_t header[kFrameHeaderBytes], Bytes& body) {
  return recv_.Open(ByteView(header, kFrameHeaderBytes), body, body.data());
}

}  // namespace gtos::net
