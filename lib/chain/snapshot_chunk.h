// The strict reader of snapshot chunk records (docs/snapshots.md).
//
// A chunk is read straight from its bytes, without the generic field
// visitors: each entry's encoded [key, value] pair is exactly the state
// element the accumulator hashes (state::StateElement), so verification
// sums the elements in place. ParseChunk accepts only the canonical
// encoding, the one EncodeRecord(snapshot::Chunk) writes; it checks the
// structure and the size caps, not the content (key order, tables, the
// manifest's height and index: lib/chain/snapshot.cpp).
//
// Thread safety: pure functions.
#ifndef GTOS_CHAIN_SNAPSHOT_CHUNK_H_
#define GTOS_CHAIN_SNAPSHOT_CHUNK_H_

#include <cstdint>
#include <vector>

#include "util/bytes.h"
#include "util/status.h"

namespace gtos::snapshot {

// One entry of a chunk; the views point into the record's bytes.
struct EntryView {
  ByteView key;
  ByteView value;
  ByteView element;  // the encoded [key, value] pair: state::StateElement(key, value)
};

struct ChunkView {
  uint64_t height = 0;
  uint64_t index = 0;
  std::vector<EntryView> entries;
};

// Parses one whole chunk record ([type, version, height, index, entries]);
// `record` must outlive `out`'s views. Errors name the entry.
Status ParseChunk(ByteView record, ChunkView* out);

// The expire_block of a stored object value ([created, expire, data]) in
// canonical form; false for anything else.
bool ExpireBlockOf(ByteView value, uint64_t* expire);

}  // namespace gtos::snapshot

#endif  // GTOS_CHAIN_SNAPSHOT_CHUNK_H_
