#include "rpc/body_limits.h"

#include <nlohmann/json.hpp>

namespace gtos::rpc {

namespace {

using SaxJson = nlohmann::json;

// nlohmann's SAX interface. Every callback returns false to stop the parse;
// nothing is kept but counters.
class CountingSax {
 public:
  explicit CountingSax(const JsonLimits& limits, JsonScan* out) : limits_(limits), out_(out) {}

  bool null() { return Value(); }
  bool boolean(bool) { return Value(); }
  bool number_integer(SaxJson::number_integer_t) { return Value(); }
  bool number_unsigned(SaxJson::number_unsigned_t) { return Value(); }
  bool number_float(SaxJson::number_float_t, const SaxJson::string_t&) { return Value(); }
  bool string(SaxJson::string_t& s) { return String(s) && Value(); }
  bool binary(SaxJson::binary_t&) { return Value(); }
  bool key(SaxJson::string_t& s) { return String(s); }
  bool start_object(std::size_t) { return Value() && Open(); }
  bool start_array(std::size_t) { return Value() && Open(); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    out_->status = JsonScan::kInvalid;
    out_->message = e.what();
    return false;
  }

 private:
  bool Value() {
    if (++out_->values <= limits_.max_values) return true;
    return Stop(JsonScan::kTooManyValues, "more than " + std::to_string(limits_.max_values) + " JSON values");
  }
  bool Open() {
    if (++depth_ > out_->max_depth) out_->max_depth = depth_;
    if (depth_ <= limits_.max_depth) return true;
    return Stop(JsonScan::kTooDeep,
                "JSON nested deeper than " + std::to_string(limits_.max_depth) + " levels");
  }
  bool Close() {
    --depth_;
    return true;
  }
  bool String(const SaxJson::string_t& s) {
    if (s.size() <= limits_.max_string_bytes) return true;
    return Stop(JsonScan::kStringTooLong,
                "a JSON string longer than " + std::to_string(limits_.max_string_bytes) + " bytes");
  }
  bool Stop(JsonScan::Status status, std::string message) {
    out_->status = status;
    out_->message = std::move(message);
    return false;
  }

  const JsonLimits& limits_;
  JsonScan* out_;
  size_t depth_ = 0;
};

}  // namespace

JsonScan ScanJson(std::string_view body, const JsonLimits& limits) {
  JsonScan out;
  CountingSax sax(limits, &out);
  bool ok = SaxJson::sax_parse(body.begin(), body.end(), &sax, SaxJson::input_format_t::json, /*strict=*/true,
                               /*ignore_comments=*/false);
  if (!ok && out.status == JsonScan::kOk) {  // stopped without saying why: treat as a syntax error
    out.status = JsonScan::kInvalid;
    out.message = "invalid JSON";
  }
  return out;
}

codec::ParseLimits SignedTxParseLimits() {
  codec::ParseLimits l;
  l.array = kMaxRpcPlanSignatures;
  l.depth = 6;
  l.str = 4 << 10;
  l.bin = codec::kMaxBinBytes;
  return l;
}

}  // namespace gtos::rpc
