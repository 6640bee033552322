// libFuzzer target for records written as JSON (types/json.h): what
// `gtos-inspect --encode` reads line by line, and how operators hand-edit
// keys, transactions and genesis files.
//
// For every input FromJsonText accepts, the target checks that JSON cannot
// produce a record the binary side refuses or reads differently:
//   1. EncodeAny(record) decodes (DecodeAny) and re-encodes to the same
//      bytes (FromJson runs Validate, so its output must pass the binary
//      decoder's checks, which include Validate);
//   2. ToJson(record) (secrets shown) is accepted by FromJson and gives the
//      same bytes, in memory and as printed text;
//   3. a plain private key's secret is redacted in default JSON, and the
//      redacted JSON is refused (a redacted key cannot be re-imported as a
//      different key).
// Errors must carry a message.
#include <cstdint>
#include <string>
#include <variant>

#include "fuzz_util.h"
#include "types/json.h"
#include "types/records.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_json_record";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gtos;
  using gtos::fuzz::Fail;
  ByteView in(data, size);
  auto rec = FromJsonText(AsChars(in));
  if (!rec) {
    if (rec.error().message.empty()) Fail("FromJsonText error without a message", in);
    return 0;
  }
  // 1. Binary round trip.
  Bytes enc = EncodeAny(*rec);
  auto dec = DecodeAny(enc);
  if (!dec) Fail("a record FromJsonText accepts is refused by DecodeAny", in, dec.error().message + "; record " + ToHex(enc));
  if (dec->index() != rec->index()) Fail("DecodeAny returns another record type", in);
  fuzz::ExpectSame("DecodeAny(EncodeAny(record)) re-encodes differently", in, enc, EncodeAny(*dec));

  // 2. JSON round trip.
  Json j = ToJson(*rec, JsonOptions{true});
  auto back = FromJson(j);
  if (!back) Fail("ToJson output is refused by FromJson", in, back.error().message);
  fuzz::ExpectSame("ToJson -> FromJson changes the record", in, enc, EncodeAny(*back));
  std::string text = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  auto back_text = FromJsonText(text);
  if (!back_text) Fail("printed ToJson output is refused by FromJsonText", in, back_text.error().message + " in " + text);
  fuzz::ExpectSame("JSON text round trip changes the record", in, enc, EncodeAny(*back_text));

  // 3. Redaction.
  if (const auto* key = std::get_if<PrivateKey>(&*rec); key && !key->encrypted()) {
    Json redacted = ToJson(*rec);
    auto it = redacted.find("secret");
    if (it == redacted.end() || !it->is_string() || it->get<std::string>() != "<redacted>")
      Fail("plain private key's secret is not redacted in default JSON", in);
    if (FromJson(redacted)) Fail("redacted private key JSON is accepted by FromJson", in);
  }
  return 0;
}
