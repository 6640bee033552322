#include "codec/codec.h"

#include <algorithm>
#include <cstring>

namespace gtos::codec {

void Writer::Bin(ByteView b) {
  packer_.pack_bin(static_cast<uint32_t>(b.size()));
  packer_.pack_bin_body(reinterpret_cast<const char*>(b.data()), static_cast<uint32_t>(b.size()));
}

void Writer::Str(std::string_view s) {
  packer_.pack_str(static_cast<uint32_t>(s.size()));
  packer_.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}

// Bytes are parsed in place: bin and str objects point into the caller's
// buffer, which outlives every Parsed the caller keeps.
static bool ReferenceAll(msgpack::type::object_type, size_t, void*) { return true; }

Result<std::optional<Parsed>> ParseOne(ByteView data, size_t* offset) {
  return ParseOne(data, offset, ParseLimits{});
}

Result<std::optional<Parsed>> ParseOne(ByteView data, size_t* offset, const ParseLimits& limits) {
  size_t off = *offset;
  if (off >= data.size()) return std::optional<Parsed>();
  // msgpack-c allocates an array's elements when it reads the array's
  // header, before they arrive: a 5-byte header claiming 2^20 elements cost
  // 32 MiB, sixteen nested ones 512 MiB (found by fuzz_snapshot_chunk). An
  // element takes at least one byte, so an array longer than the bytes
  // left cannot be complete yet: the limit is capped at them, and an array
  // over a capped limit is reported as data that ends too early.
  const size_t array_limit = std::min(limits.array, kMaxArrayLen);
  const size_t left = data.size() - off;
  const bool capped = left < array_limit;
  const msgpack::unpack_limit unpack_limits(capped ? left : array_limit, /*map=*/0,
                                            std::min(limits.str, kMaxStrBytes),
                                            std::min(limits.bin, kMaxBinBytes),
                                            /*ext=*/0, std::min(limits.depth, kMaxDepth));
  try {
    Parsed p;
    p.handle = msgpack::unpack(reinterpret_cast<const char*>(data.data()), data.size(), off, ReferenceAll,
                               nullptr, unpack_limits);
    if (off - *offset > kMaxRecordBytes)
      return Invalid("record of " + std::to_string(off - *offset) + " bytes exceeds the limit of " +
                     std::to_string(kMaxRecordBytes));
    p.raw = data.subspan(*offset, off - *offset);
    *offset = off;
    return std::optional<Parsed>(std::move(p));
  } catch (const msgpack::insufficient_bytes&) {
    if (data.size() - *offset > kMaxRecordBytes)
      return Invalid("record exceeds the limit of " + std::to_string(kMaxRecordBytes) + " bytes");
    return std::optional<Parsed>();
  } catch (const msgpack::depth_size_overflow&) {
    return Invalid("record nested deeper than " + std::to_string(unpack_limits.depth()) + " levels");
  } catch (const msgpack::map_size_overflow&) {
    return Invalid("maps are not allowed in records");
  } catch (const msgpack::ext_size_overflow&) {
    return Invalid("extension types are not allowed in records");
  } catch (const msgpack::array_size_overflow& e) {
    if (capped) return std::optional<Parsed>();  // more elements than bytes left: not complete yet
    return Invalid(std::string("oversize value in record (") + e.what() + ")");
  } catch (const msgpack::size_overflow& e) {
    return Invalid(std::string("oversize value in record (") + e.what() + ")");
  } catch (const std::bad_alloc&) {
    return Invalid("record too large to decode");
  } catch (const std::exception& e) {
    return Invalid(std::string("malformed msgpack (") + e.what() + ")");
  }
}

Reader::Reader(const msgpack::object& array, ByteView raw, std::string path)
    : state_(std::make_shared<State>()), path_(std::move(path)) {
  state_->raw = raw;
  if (array.type != msgpack::type::ARRAY) {
    state_->error = Error{ErrorCode::kInvalid, (path_.empty() ? std::string("record") : "field '" + path_ + "'") + ": expected a msgpack array"};
    return;
  }
  items_ = array.via.array.ptr;
  size_ = array.via.array.size;
  Writer header;
  header.Array(size_);
  CheckCanonical("", header);
}

Reader::Reader(const msgpack::object& array, std::shared_ptr<State> state, std::string path)
    : state_(std::move(state)), path_(std::move(path)) {
  items_ = array.via.array.ptr;
  size_ = array.via.array.size;
}

std::string Reader::FieldName(std::string_view field) const {
  if (field.empty()) return path_;
  return path_.empty() ? std::string(field) : path_ + "." + std::string(field);
}

void Reader::SetError(std::string_view field, std::string_view what) {
  if (state_->error) return;
  std::string name = FieldName(field);
  std::string where = name.empty() ? "record" : "field '" + name + "'";
  state_->error = Error{ErrorCode::kInvalid, where + ": " + std::string(what)};
}

static const char* TypeName(msgpack::type::object_type t) {
  switch (t) {
    case msgpack::type::NIL: return "nil";
    case msgpack::type::BOOLEAN: return "boolean";
    case msgpack::type::POSITIVE_INTEGER: return "unsigned integer";
    case msgpack::type::NEGATIVE_INTEGER: return "negative integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return "float";
    case msgpack::type::STR: return "string";
    case msgpack::type::BIN: return "byte string";
    case msgpack::type::ARRAY: return "array";
    case msgpack::type::MAP: return "map";
    case msgpack::type::EXT: return "extension";
  }
  return "unknown";
}

const msgpack::object* Reader::Next(std::string_view field, msgpack::type::object_type type,
                                    const char* type_name) {
  if (!ok()) return nullptr;
  if (pos_ >= size_) {
    SetError(field, "missing (array has only " + std::to_string(size_) + " elements)");
    return nullptr;
  }
  const msgpack::object* o = &items_[pos_++];
  if (o->type != type) {
    SetError(field, std::string("expected ") + type_name + ", got " + TypeName(o->type));
    return nullptr;
  }
  return o;
}

// Compares the canonical encoding of the next value's header (or whole
// scalar) with the input bytes at the cursor and advances past it.
bool Reader::CheckCanonical(std::string_view field, const Writer& expected) {
  const Bytes& want = expected.bytes();
  ByteView raw = state_->raw;
  size_t at = state_->cursor;
  if (at + want.size() > raw.size() || std::memcmp(raw.data() + at, want.data(), want.size()) != 0) {
    SetError(field, "non-canonical encoding (at byte " + std::to_string(at) + ")");
    return false;
  }
  state_->cursor += want.size();
  return true;
}

uint64_t Reader::Uint(std::string_view field, uint64_t max) {
  const msgpack::object* o = Next(field, msgpack::type::POSITIVE_INTEGER, "unsigned integer");
  if (!o) return 0;
  Writer w;
  w.Uint(o->via.u64);
  if (!CheckCanonical(field, w)) return 0;
  if (o->via.u64 > max) {
    SetError(field, std::to_string(o->via.u64) + " exceeds the maximum of " + std::to_string(max));
    return 0;
  }
  return o->via.u64;
}

bool Reader::Bool(std::string_view field) {
  const msgpack::object* o = Next(field, msgpack::type::BOOLEAN, "boolean");
  if (!o) return false;
  Writer w;
  w.Bool(o->via.boolean);
  return CheckCanonical(field, w) && o->via.boolean;
}

Bytes Reader::Bin(std::string_view field, size_t max_size) {
  const msgpack::object* o = Next(field, msgpack::type::BIN, "byte string");
  if (!o) return {};
  uint32_t n = o->via.bin.size;
  Writer w;
  w.BinHeader(n);
  if (!CheckCanonical(field, w)) return {};
  state_->cursor += n;
  if (n > max_size) {
    SetError(field, std::to_string(n) + " bytes exceeds the maximum of " + std::to_string(max_size));
    return {};
  }
  const uint8_t* p = reinterpret_cast<const uint8_t*>(o->via.bin.ptr);
  return Bytes(p, p + n);
}

void Reader::Fixed(std::string_view field, uint8_t* out, size_t size) {
  Bytes b = Bin(field, size);
  if (!ok()) return;
  if (b.size() != size) {
    SetError(field, "expected " + std::to_string(size) + " bytes, got " + std::to_string(b.size()));
    return;
  }
  std::memcpy(out, b.data(), size);
}

std::string Reader::Str(std::string_view field, size_t max_size) {
  const msgpack::object* o = Next(field, msgpack::type::STR, "string");
  if (!o) return {};
  uint32_t n = o->via.str.size;
  Writer w;
  w.StrHeader(n);
  if (!CheckCanonical(field, w)) return {};
  state_->cursor += n;
  if (n > max_size) {
    SetError(field, std::to_string(n) + " bytes exceeds the maximum of " + std::to_string(max_size));
    return {};
  }
  return std::string(o->via.str.ptr, n);
}

bool Reader::TakeNil(std::string_view field) {
  if (!ok() || pos_ >= size_ || items_[pos_].type != msgpack::type::NIL) return false;
  Writer w;
  w.Nil();
  ++pos_;
  return CheckCanonical(field, w);
}

Reader Reader::Enter(std::string_view field, size_t min_len, size_t max_len) {
  static const msgpack::object kEmpty = [] {
    msgpack::object o;
    o.type = msgpack::type::ARRAY;
    o.via.array.size = 0;
    o.via.array.ptr = nullptr;
    return o;
  }();
  const msgpack::object* o = Next(field, msgpack::type::ARRAY, "array");
  if (o) {
    Writer w;
    w.Array(o->via.array.size);
    if (CheckCanonical(field, w)) {
      size_t n = o->via.array.size;
      if (n < min_len || n > max_len) {
        if (min_len == max_len)
          SetError(field, "expected " + std::to_string(min_len) + " elements, got " + std::to_string(n));
        else
          SetError(field, "expected " + std::to_string(min_len) + " to " + std::to_string(max_len) +
                              " elements, got " + std::to_string(n));
      }
    }
  }
  return Reader(ok() ? *o : kEmpty, state_, FieldName(field));
}

Status Reader::Finish() {
  if (ok() && pos_ != size_)
    SetError("", "unexpected extra element " + std::to_string(pos_) + " (array has " +
                     std::to_string(size_) + " elements)");
  if (state_->error) return std::unexpected(*state_->error);
  return Ok();
}

}  // namespace gtos::codec
