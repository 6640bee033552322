#include "chain/snapshot_chunk.h"

#include <algorithm>
#include <string>

#include "types/record_type.h"
#include "types/snapshot.h"

namespace gtos::snapshot {

namespace {

// Reads canonical msgpack (the shortest form of every header) from a buffer.
class Strict {
 public:
  explicit Strict(ByteView b) : p_(b.data()), end_(b.data() + b.size()) {}
  const uint8_t* pos() const { return p_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  bool at_end() const { return p_ == end_; }

  bool Array(uint32_t* n) {
    if (p_ >= end_) return false;
    uint8_t b = *p_++;
    if ((b & 0xf0) == 0x90) return *n = b & 0x0f, true;
    if (b == 0xdc) return Be(2, n) && *n >= 16;
    if (b == 0xdd) return Be(4, n) && *n > 0xffff;
    return false;
  }
  bool Uint(uint64_t* v) {
    if (p_ >= end_) return false;
    uint8_t b = *p_++;
    if (b < 0x80) return *v = b, true;
    if (b == 0xcc) return Be64(1, v) && *v >= 0x80;
    if (b == 0xcd) return Be64(2, v) && *v > 0xff;
    if (b == 0xce) return Be64(4, v) && *v > 0xffff;
    if (b == 0xcf) return Be64(8, v) && *v > 0xffffffffull;
    return false;
  }
  bool Bin(ByteView* out, size_t max) {
    if (p_ >= end_) return false;
    uint8_t b = *p_++;
    uint32_t n = 0;
    bool ok = (b == 0xc4 && Be(1, &n)) || (b == 0xc5 && Be(2, &n) && n > 0xff) ||
              (b == 0xc6 && Be(4, &n) && n > 0xffff);
    if (!ok || n > max || static_cast<size_t>(end_ - p_) < n) return false;
    *out = ByteView(p_, n);
    p_ += n;
    return true;
  }

 private:
  bool Be(size_t len, uint32_t* v) {
    uint64_t w = 0;
    if (!Be64(len, &w)) return false;
    *v = static_cast<uint32_t>(w);
    return true;
  }
  bool Be64(size_t len, uint64_t* v) {
    if (static_cast<size_t>(end_ - p_) < len) return false;
    uint64_t w = 0;
    for (size_t i = 0; i < len; ++i) w = (w << 8) | p_[i];
    p_ += len;
    *v = w;
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

Status ParseChunk(ByteView record, ChunkView* out) {
  Strict s(record);
  uint32_t fields = 0, n = 0;
  uint64_t type = 0, version = 0;
  if (!s.Array(&fields) || fields != 5) return Invalid("not a snapshot chunk record");
  if (!s.Uint(&type) || type != static_cast<uint64_t>(RecordType::kSnapshotChunk))
    return Invalid("not a snapshot chunk record (type)");
  if (!s.Uint(&version) || version != Chunk::kVersion) return Invalid("unknown chunk record version");
  if (!s.Uint(&out->height) || !s.Uint(&out->index)) return Invalid("malformed height or index");
  if (!s.Array(&n) || n > kMaxChunkEntries) return Invalid("malformed entry list");
  out->entries.clear();
  // An entry takes at least 5 bytes ([bin 0, bin 0]): a count the bytes
  // cannot hold must not reserve 48 MiB (found by fuzz_snapshot_chunk).
  out->entries.reserve(std::min<size_t>(n, s.left() / 5));
  for (uint32_t i = 0; i < n; ++i) {
    EntryView e;
    const uint8_t* start = s.pos();
    uint32_t pair = 0;
    if (!s.Array(&pair) || pair != 2 || !s.Bin(&e.key, kMaxEntryKeyBytes) || !s.Bin(&e.value, kMaxEntryValueBytes))
      return Invalid("entry " + std::to_string(i) + ": malformed or non-canonical");
    e.element = ByteView(start, static_cast<size_t>(s.pos() - start));
    out->entries.push_back(e);
  }
  if (!s.at_end()) return Invalid("trailing bytes after the chunk record");
  return Ok();
}

// The expire_block of a stored object value ([created, expire, data]).
bool ExpireBlockOf(ByteView value, uint64_t* expire) {
  Strict s(value);
  uint32_t n = 0;
  uint64_t created = 0;
  ByteView data;
  return s.Array(&n) && n == 3 && s.Uint(&created) && s.Uint(expire) && s.Bin(&data, kMaxEntryValueBytes) &&
         s.at_end();
}

}  // namespace gtos::snapshot
