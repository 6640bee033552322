// libFuzzer target for the p2p message decoder (lib/net/messages.h): the
// bytes a peer controls after the length prefix of a frame.
//
// For every input that decodes, the target checks that the encoding is
// canonical: EncodeMessage(decoded) is byte-for-byte the input, so two nodes
// can never disagree on what a message says. Crashes, leaks and UB are
// caught by the sanitizers (tests/fuzz/CMakeLists.txt).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "net/messages.h"
#include "util/bytes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gtos::ByteView in(data, size);
  auto msg = gtos::net::DecodeMessage(in);
  if (!msg) return 0;
  gtos::Bytes out = gtos::net::EncodeMessage(*msg);
  if (out.size() != size || !std::equal(out.begin(), out.end(), data)) {
    std::fprintf(stderr, "\nfuzz_p2p_message: %s decodes but re-encodes differently\n  input: %s\n  output: %s\n",
                 std::string(gtos::net::MessageName(*msg)).c_str(), gtos::ToHex(in).c_str(),
                 gtos::ToHex(out).c_str());
    std::abort();
  }
  return 0;
}
