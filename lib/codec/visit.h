// Field visitors: one field list per record drives every representation.
//
// A record type T declares its fields once:
//
//   template <class V> void Fields(V& v) {
//     v.Uint("nonce", nonce);
//     v.Fixed("from", from);
//     v.Bin("value", value, kMaxValue);
//   }
//
// and the visitors below encode it (CountVisitor + EncodeVisitor), decode it
// (DecodeVisitor), and convert it to and from JSON (types/json.h). The order
// of the calls is the order of the fields on the wire.
//
// Visitor methods:
//   Uint(name, uint64_t&, max)        msgpack uint / JSON number
//   Bool(name, bool&)                 msgpack bool / JSON bool
//   Bin(name, Bytes&, max)            msgpack bin / JSON "0x.." hex
//   Fixed(name, Hash32&)              msgpack bin of 32 bytes / JSON "0x.."
//   Str(name, std::string&, max)      msgpack str / JSON string
//   Enum(name, uint64_t&, NameFn)     msgpack uint / JSON name via NameFn
//   Object(name, T&)                  nested array of T's fields / JSON object
//   Optional(name, std::optional<T>&) nil or nested / JSON null or object
//   List(name, std::vector<T>&, max)  array of nested arrays / JSON array
//   TrailingUint(name, std::optional<uint64_t>&, max)
//                                     a uint present only when set / JSON
//                                     number or absent key. Only after
//                                     every other field of the record (a
//                                     field added later, so that records
//                                     without it keep their bytes).
// and kDecoding, true for visitors that fill the record in.
#ifndef GTOS_CODEC_VISIT_H_
#define GTOS_CODEC_VISIT_H_

#include <optional>
#include <string_view>
#include <vector>

#include "codec/codec.h"

namespace gtos::codec {

// Maps an enum's wire value to its name; empty when the value is unknown.
using NameFn = std::string_view (*)(uint64_t);

template <class T>
void VisitFields(T& t, auto& v) {
  t.Fields(v);
}

class CountVisitor {
 public:
  static constexpr bool kDecoding = false;
  size_t n = 0;
  void Uint(std::string_view, uint64_t&, uint64_t = 0) { ++n; }
  void Bool(std::string_view, bool&) { ++n; }
  void Bin(std::string_view, Bytes&, size_t) { ++n; }
  void Fixed(std::string_view, Hash32&) { ++n; }
  void Str(std::string_view, std::string&, size_t) { ++n; }
  void Enum(std::string_view, uint64_t&, NameFn) { ++n; }
  template <class T> void Object(std::string_view, T&) { ++n; }
  template <class T> void Optional(std::string_view, std::optional<T>&) { ++n; }
  template <class T> void List(std::string_view, std::vector<T>&, size_t) { ++n; }
  void TrailingUint(std::string_view, std::optional<uint64_t>& v, uint64_t = 0) { n += v ? 1 : 0; }
};

template <class T>
size_t CountFields(const T& t) {
  CountVisitor c;
  const_cast<T&>(t).Fields(c);  // CountVisitor never writes to the fields
  return c.n;
}

class EncodeVisitor {
 public:
  static constexpr bool kDecoding = false;
  explicit EncodeVisitor(Writer& w) : w_(w) {}
  void Uint(std::string_view, uint64_t& v, uint64_t = 0) { w_.Uint(v); }
  void Bool(std::string_view, bool& v) { w_.Bool(v); }
  void Bin(std::string_view, Bytes& v, size_t) { w_.Bin(v); }
  void Fixed(std::string_view, Hash32& v) { w_.Bin(v.view()); }
  void Str(std::string_view, std::string& v, size_t) { w_.Str(v); }
  void Enum(std::string_view, uint64_t& v, NameFn) { w_.Uint(v); }
  template <class T>
  void Object(std::string_view, T& t) {
    w_.Array(static_cast<uint32_t>(CountFields(t)));
    t.Fields(*this);
  }
  template <class T>
  void Optional(std::string_view name, std::optional<T>& t) {
    if (t) Object(name, *t); else w_.Nil();
  }
  template <class T>
  void List(std::string_view name, std::vector<T>& items, size_t) {
    w_.Array(static_cast<uint32_t>(items.size()));
    for (T& item : items) Object(name, item);
  }
  void TrailingUint(std::string_view, std::optional<uint64_t>& v, uint64_t = 0) {
    if (v) w_.Uint(*v);
  }

 private:
  Writer& w_;
};

// Appends the fields of `t` as one msgpack array.
template <class T>
void EncodeObject(Writer& w, const T& t) {
  EncodeVisitor e(w);
  e.Object("", const_cast<T&>(t));  // EncodeVisitor never writes to the fields
}

class DecodeVisitor {
 public:
  static constexpr bool kDecoding = true;
  explicit DecodeVisitor(Reader& r) : r_(r) {}
  void Uint(std::string_view n, uint64_t& v, uint64_t max = UINT64_MAX) { v = r_.Uint(n, max); }
  void Bool(std::string_view n, bool& v) { v = r_.Bool(n); }
  void Bin(std::string_view n, Bytes& v, size_t max) { v = r_.Bin(n, max); }
  void Fixed(std::string_view n, Hash32& v) { r_.Fixed(n, v.data(), v.size()); }
  void Str(std::string_view n, std::string& v, size_t max) { v = r_.Str(n, max); }
  void Enum(std::string_view n, uint64_t& v, NameFn names) {
    v = r_.Uint(n);
    if (r_.ok() && names(v).empty()) r_.SetError(n, "unknown value " + std::to_string(v));
  }
  template <class T>
  void Object(std::string_view n, T& t) {
    Reader sub = r_.Enter(n, 0, kMaxArrayLen);
    DecodeVisitor v(sub);
    t.Fields(v);
    (void)sub.Finish();  // a failure is shared with r_
  }
  template <class T>
  void Optional(std::string_view n, std::optional<T>& t) {
    if (r_.TakeNil(n)) {
      t.reset();
      return;
    }
    t.emplace();
    Object(n, *t);
  }
  template <class T>
  void List(std::string_view n, std::vector<T>& items, size_t max) {
    Reader sub = r_.Enter(n, 0, max);
    items.clear();
    items.resize(sub.remaining());
    DecodeVisitor v(sub);
    for (size_t i = 0; i < items.size() && sub.ok(); ++i) v.Object(std::to_string(i), items[i]);
    (void)sub.Finish();
  }
  void TrailingUint(std::string_view n, std::optional<uint64_t>& v, uint64_t max = UINT64_MAX) {
    if (r_.remaining() == 0) {
      v.reset();
      return;
    }
    v = r_.Uint(n, max);
  }
  Reader& reader() { return r_; }

 private:
  Reader& r_;
};

}  // namespace gtos::codec

#endif  // GTOS_CODEC_VISIT_H_
