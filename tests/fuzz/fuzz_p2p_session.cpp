// libFuzzer target for the p2p session (lib/net/secret.h) and the checks a
// Host runs on a frame before decoding it (lib/net/messages.h).
//
// The first input byte picks what the rest is:
//  0: a peer's 40-byte intro, then its ephemeral key is agreed with a fixed
//     key of ours (bad magic, small-order keys must be refused, never crash);
//  1: raw wire bytes after the intros: frames are cut at their length
//     prefixes and opened with the session's receive key, as the Host does
//     (every forged frame must fail authentication);
//  2: a plaintext record sealed by one side and opened by the other (must
//     round-trip exactly), then the Host's pipeline on it: the type peeked
//     from its first bytes, the type's size limit and the element budget,
//     then DecodeMessage. Whenever DecodeMessage accepts, the peeked type
//     must be the decoded message's.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "net/messages.h"
#include "net/secret.h"
#include "types/records.h"

using namespace gtos;

namespace {

struct Fixed {
  crypto::X25519Key a, b;
  net::SessionKeys ka, kb;
  Fixed() {
    a = *crypto::X25519FromSecret(Bytes(32, 0x11));
    b = *crypto::X25519FromSecret(Bytes(32, 0x22));
    ka = *net::DeriveSession(a, ByteView(b.pub.data(), b.pub.size()));
    kb = *net::DeriveSession(b, ByteView(a.pub.data(), a.pub.size()));
  }
};

const Fixed& Keys() {
  static Fixed f;
  return f;
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "\nfuzz_p2p_session: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ByteView in(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto pub = net::ParseIntro(in);
      if (pub) (void)net::DeriveSession(Keys().a, ByteView(pub->data(), pub->size()));
      return 0;
    }
    case 1: {
      auto ch = net::SecretChannel::Create(Keys().kb);
      if (!ch) Die("channel");
      size_t off = 0;
      while (off + net::kFrameHeaderBytes <= in.size()) {
        const uint8_t* h = in.data() + off;
        uint32_t n = (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | h[3];
        off += net::kFrameHeaderBytes;
        if (n <= net::kSealOverhead || n > net::kMaxHandshakeBody + net::kSealOverhead || n > in.size() - off) break;
        Bytes body(in.begin() + static_cast<ptrdiff_t>(off), in.begin() + static_cast<ptrdiff_t>(off + n));
        off += n;
        if (ch->Open(h, body)) Die("a frame nobody sealed opened");
        break;  // the Host closes the connection at the first failure
      }
      return 0;
    }
    default: {
      auto tx = net::SecretChannel::Create(Keys().ka);
      auto rx = net::SecretChannel::Create(Keys().kb);
      if (!tx || !rx) Die("channel");
      auto frame = tx->Seal(in);
      if (!frame) return 0;
      Bytes body(frame->begin() + 4, frame->end());
      if (!rx->Open(frame->data(), body)) Die("a sealed frame did not open");
      ByteView plain(body.data(), body.size() - net::kSealOverhead);
      if (plain.size() != in.size() || !std::equal(plain.begin(), plain.end(), in.begin())) Die("round trip differs");
      auto type = net::PeekMessageType(plain);
      if (type && plain.size() > net::MaxMessageBytes(*type, 1 << 20)) return 0;
      auto msg = net::DecodeMessage(plain);
      if (msg) {
        if (!type) Die("DecodeMessage accepted a record whose type PeekMessageType refused");
        if (std::string(net::MessageName(*msg)) != RecordTypeName(static_cast<uint64_t>(*type)))
          Die("peeked type differs from the decoded message");
      }
      return 0;
    }
  }
}
