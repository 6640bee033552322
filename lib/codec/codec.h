// Canonical msgpack encoding and decoding of GTOS records.
//
// Every record is one msgpack array. The library's own packer (msgpack-c)
// writes the shortest form of every value, which is the canonical form;
// Reader walks a value parsed by msgpack-c and, field by field, checks that
// the bytes it came from are exactly what the packer would have written, so a
// non-canonical input is rejected with the name of the offending field.
// docs/formats.md states the rules in prose.
//
// Thread safety: Writer and Reader are not thread-safe; separate instances
// may be used concurrently.
#ifndef GTOS_CODEC_CODEC_H_
#define GTOS_CODEC_CODEC_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "util/bytes.h"
#include "util/status.h"

namespace gtos::codec {

// Hard caps that bound what any decoder will allocate. Genesis parameters
// may set lower limits for transactions; these are absolute.
inline constexpr size_t kMaxRecordBytes = 64 << 20;  // one whole record (a block)
inline constexpr size_t kMaxBinBytes = 4 << 20;     // one byte string
inline constexpr size_t kMaxStrBytes = 1 << 16;     // one text string
inline constexpr size_t kMaxArrayLen = 1 << 20;     // one array
inline constexpr size_t kMaxDepth = 16;             // nesting

class Writer {
 public:
  Writer() : packer_(sink_) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void Array(uint32_t n) { packer_.pack_array(n); }
  void Uint(uint64_t v) { packer_.pack_uint64(v); }
  void Bool(bool v) { v ? packer_.pack_true() : packer_.pack_false(); }
  void Nil() { packer_.pack_nil(); }
  void Bin(ByteView b);
  void Str(std::string_view s);
  // Headers alone, for comparing an input's header with the canonical one.
  void BinHeader(uint32_t n) { packer_.pack_bin(n); }
  void StrHeader(uint32_t n) { packer_.pack_str(n); }
  // Appends an already-encoded canonical value.
  void Raw(ByteView b) { sink_.out.insert(sink_.out.end(), b.begin(), b.end()); }

  const Bytes& bytes() const { return sink_.out; }
  Bytes Take() { return std::move(sink_.out); }
  void Clear() { sink_.out.clear(); }

 private:
  struct Sink {
    Bytes out;
    void write(const char* p, size_t n) { out.insert(out.end(), p, p + n); }
  };
  Sink sink_;
  msgpack::packer<Sink> packer_;
};

// One parsed msgpack value with the exact bytes it came from.
struct Parsed {
  msgpack::object_handle handle;
  ByteView raw;  // points into the caller's buffer
};

// Caps on one parsed value, checked by msgpack-c as it reads each header,
// before it allocates: elements of one array, bytes of one string or byte
// string, nesting depth. Maps and extension types are never allowed. The
// defaults are the hard caps; a decoder of one record type may pass
// tighter ones (the node's RPC does for signed_tx, lib/rpc/body_limits.h).
struct ParseLimits {
  size_t array = kMaxArrayLen;
  size_t str = kMaxStrBytes;
  size_t bin = kMaxBinBytes;
  size_t depth = kMaxDepth;
};

// Parses one value from data[*offset...]. On success advances *offset.
// Returns std::nullopt (and leaves *offset) when the data ends before the
// value does (an array header claiming more elements than there are bytes
// left is such a value: what is allocated stays proportional to the data);
// returns an error for bytes that are not msgpack or exceed the hard caps
// (or `limits`).
Result<std::optional<Parsed>> ParseOne(ByteView data, size_t* offset);
Result<std::optional<Parsed>> ParseOne(ByteView data, size_t* offset, const ParseLimits& limits);

// Reads the elements of one array in order, checking types, sizes and
// canonical encoding. The first failure sticks: later reads return zero
// values and Finish() returns it. Nested readers (Enter) share the failure
// and the byte cursor with their parent and must not outlive it.
class Reader {
 public:
  // `path` names the array in errors ("signed_tx").
  Reader(const msgpack::object& array, ByteView raw, std::string path);

  uint64_t Uint(std::string_view field, uint64_t max = UINT64_MAX);
  bool Bool(std::string_view field);
  Bytes Bin(std::string_view field, size_t max_size);
  void Fixed(std::string_view field, uint8_t* out, size_t size);
  std::string Str(std::string_view field, size_t max_size);
  // True (and consumes it) when the next element is nil.
  bool TakeNil(std::string_view field);
  // A reader over the nested array `field`, which must have between
  // min_len and max_len elements.
  Reader Enter(std::string_view field, size_t min_len, size_t max_len);
  size_t remaining() const { return ok() ? size_ - pos_ : 0; }
  size_t size() const { return size_; }

  // Records a semantic error against `field` ("field 'algo': unknown ...").
  void SetError(std::string_view field, std::string_view what);
  bool ok() const { return !state_->error; }
  // Checks that every element was consumed; returns the first failure.
  Status Finish();

 private:
  struct State {
    ByteView raw;
    size_t cursor = 0;
    std::optional<Error> error;
  };
  Reader(const msgpack::object& array, std::shared_ptr<State> state, std::string path);
  const msgpack::object* Next(std::string_view field, msgpack::type::object_type type,
                              const char* type_name);
  bool CheckCanonical(std::string_view field, const Writer& expected);
  std::string FieldName(std::string_view field) const;

  std::shared_ptr<State> state_;
  const msgpack::object* items_ = nullptr;
  uint32_t size_ = 0;
  uint32_t pos_ = 0;
  std::string path_;
};

}  // namespace gtos::codec

#endif  // GTOS_CODEC_CODEC_H_
