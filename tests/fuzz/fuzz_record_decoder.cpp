// libFuzzer target for the record decoder (make fuzz-build, make fuzz).
//
// The input is treated as a record stream, exactly as the tools read one:
// codec::ParseOne in a loop until the data ends or is malformed, and
// DecodeAnyFrom on every parsed value. For every record that decodes, the
// target checks the properties docs/formats.md promises:
//
//   1. canonical: EncodeAny(decoded) is byte-for-byte the input record (one
//      valid byte string per value);
//   2. JSON round trip: FromJson(ToJson(decoded)) decodes and re-encodes to
//      the same bytes (secrets of plain private keys shown, JsonOptions{true});
//   3. the same through JSON text (dump + FromJsonText), which is what
//      `gtos-inspect | gtos-inspect --encode` does;
//   4. DecodeAny of the re-encoded bytes succeeds (what a second reader sees);
//   5. without show_secrets, a plain private key's secret is redacted.
//
// A violated property prints the record in hex and aborts, so libFuzzer
// records the input as a crash. Crashes, leaks and UB are caught by the
// sanitizers the target is built with (tests/fuzz/CMakeLists.txt).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <variant>

#include "codec/codec.h"
#include "types/json.h"
#include "types/records.h"
#include "util/bytes.h"

namespace {

// Records per input: more than any interesting stream, few enough that one
// execution stays fast.
constexpr int kMaxRecordsPerInput = 64;

[[noreturn]] void Fail(const char* what, gtos::ByteView record, const std::string& detail = {}) {
  std::fprintf(stderr, "\nfuzz_record_decoder: %s\n  record (%zu bytes): %s\n", what, record.size(),
               gtos::ToHex(record).c_str());
  if (!detail.empty()) std::fprintf(stderr, "  %s\n", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

bool SameBytes(const gtos::Bytes& a, gtos::ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

void CheckRecord(gtos::ByteView raw, const gtos::AnyRecord& rec) {
  // 1. Canonical encoding.
  gtos::Bytes enc = gtos::EncodeAny(rec);
  if (!SameBytes(enc, raw))
    Fail("decoded record does not re-encode to its input bytes (non-canonical input accepted)", raw,
         "re-encoded (" + std::to_string(enc.size()) + " bytes): " + gtos::ToHex(enc));

  // 4. A second decode of the canonical bytes agrees.
  auto again = gtos::DecodeAny(enc);
  if (!again) Fail("re-encoded record does not decode", raw, again.error().message);
  if (again->index() != rec.index()) Fail("re-decoded record has another type", raw);

  // 2. JSON object round trip.
  const gtos::JsonOptions show{true};
  gtos::Json j = gtos::ToJson(rec, show);
  auto back = gtos::FromJson(j);
  if (!back) Fail("ToJson output is rejected by FromJson", raw, back.error().message);
  gtos::Bytes enc_json = gtos::EncodeAny(*back);
  if (!SameBytes(enc_json, raw))
    Fail("ToJson -> FromJson -> EncodeAny changes the bytes", raw, "got: " + gtos::ToHex(enc_json));

  // 3. JSON text round trip (gtos-inspect | gtos-inspect --encode).
  std::string text;
  try {
    text = j.dump();
  } catch (const std::exception& e) {
    Fail("ToJson output cannot be printed as JSON text", raw, e.what());
  }
  auto back_text = gtos::FromJsonText(text);
  if (!back_text) Fail("printed JSON is rejected by FromJsonText", raw, back_text.error().message + " in " + text);
  gtos::Bytes enc_text = gtos::EncodeAny(*back_text);
  if (!SameBytes(enc_text, raw))
    Fail("JSON text round trip changes the bytes", raw, "got: " + gtos::ToHex(enc_text));

  // 5. Secrets of plain private keys stay out of default JSON.
  if (const auto* key = std::get_if<gtos::PrivateKey>(&rec); key && !key->encrypted()) {
    gtos::Json redacted = gtos::ToJson(rec);
    auto it = redacted.find("secret");
    if (it == redacted.end() || !it->is_string() || it->get<std::string>() != "<redacted>")
      Fail("plain private key's secret is not redacted in default JSON", raw);
    if (gtos::FromJson(redacted)) Fail("redacted private key JSON was accepted by FromJson", raw);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gtos::ByteView in(data, size);
  size_t offset = 0;
  for (int n = 0; n < kMaxRecordsPerInput; ++n) {
    const size_t start = offset;
    auto parsed = gtos::codec::ParseOne(in, &offset);
    if (!parsed) {
      // Malformed: the stream cannot be resynchronised; the offset must stay.
      if (offset != start) Fail("ParseOne moved the offset on error", in.subspan(start));
      break;
    }
    if (!*parsed) {  // end of data, or a truncated last record
      if (offset != start) Fail("ParseOne moved the offset at end of data", in.subspan(start));
      break;
    }
    const gtos::codec::Parsed& p = **parsed;
    if (offset <= start || offset > size || p.raw.data() != data + start || p.raw.size() != offset - start)
      Fail("ParseOne returned an inconsistent span", in.subspan(start));
    auto rec = gtos::DecodeAnyFrom(p);
    if (!rec) {
      if (rec.error().message.empty()) Fail("decode error without a message", p.raw);
      continue;
    }
    CheckRecord(p.raw, *rec);
  }
  return 0;
}
