// Records as JSON (nlohmann-json): what gtos-inspect prints and reads back.
//
// Fields keep their wire names and order, after "type" and "version". Byte
// strings are "0x" + lowercase hex, integers are JSON numbers, enums
// (algorithms, tx kinds) are their names. Derived fields ("id" of a tx,
// "address" of a key) are added for the reader and ignored on input.
#ifndef GTOS_TYPES_JSON_H_
#define GTOS_TYPES_JSON_H_

#include <nlohmann/json.hpp>

#include "types/records.h"

namespace gtos {

using Json = nlohmann::ordered_json;

struct JsonOptions {
  // Print the secret of an unencrypted private key instead of "<redacted>".
  bool show_secrets = false;
};

Json ToJson(const AnyRecord& r, const JsonOptions& opts = {});
// Parses a JSON object produced by ToJson (or written by hand) into a record
// and runs the record's Validate(). Errors name the field.
Result<AnyRecord> FromJson(const Json& j);
// Parses one line/document of JSON text.
Result<AnyRecord> FromJsonText(std::string_view text);

}  // namespace gtos

#endif  // GTOS_TYPES_JSON_H_
