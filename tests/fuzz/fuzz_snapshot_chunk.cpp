// libFuzzer target for snapshot chunk records (lib/chain/snapshot_chunk.h):
// what Verify and Restore read from a snapshot file and a state-syncing
// node receives from peers.
//
// Two decoders read chunks: the strict reader ParseChunk (verification,
// restore) and the generic record decoder (gtos-inspect, DecodeRecord<Chunk>).
// The target checks that they agree and that the strict one is exact:
//   1. ParseChunk accepts exactly what the generic decoder accepts
//      structurally (before Chunk::Validate), with the same height, index
//      and entries;
//   2. an accepted chunk re-encodes (EncodeRecord) to the input bytes, and
//      each entry's element is state::StateElement(key, value), the bytes
//      the accumulator hashes;
//   3. Chunk::Validate accepts exactly the chunks whose keys are non-empty,
//      in the state tables and strictly ascending;
//   4. CheckChunkBytes accepts the chunk against a manifest that lists its
//      hash, size, height and index;
//   5. ExpireBlockOf (restore's reading of stored objects) agrees with
//      state::DecodeValue<StoredObject>, on the whole input and on every
//      entry value.
#include <cstdint>
#include <string>

#include "chain/snapshot.h"
#include "chain/snapshot_chunk.h"
#include "crypto/hash.h"
#include "fuzz_util.h"
#include "state/executor.h"
#include "types/records.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_snapshot_chunk";
}

namespace {

using namespace gtos;
using gtos::fuzz::Fail;

// DecodeRecordFrom<R> without R::Validate: the structure alone.
template <class R>
Result<R> DecodeStructure(ByteView bytes) {
  size_t off = 0;
  auto p = codec::ParseOne(bytes, &off);
  if (!p) return std::unexpected(p.error());
  if (!*p || off != bytes.size()) return Invalid("not exactly one record");
  codec::Reader r((*p)->handle.get(), (*p)->raw, "");
  internal::ReadType(r, static_cast<uint64_t>(R::kType));
  internal::ReadVersion(r, static_cast<uint64_t>(R::kType), R::kVersion);
  R out;
  codec::DecodeVisitor v(r);
  if (r.ok()) out.Fields(v);
  GTOS_TRY(r.Finish());
  return out;
}

void CheckStoredObject(ByteView value, ByteView input) {
  uint64_t expire = 0;
  bool strict = snapshot::ExpireBlockOf(value, &expire);
  auto generic = state::DecodeValue<StoredObject>(AsChars(value), "stored object");
  if (strict != generic.has_value())
    Fail(strict ? "ExpireBlockOf accepts a value DecodeValue<StoredObject> refuses"
                : "ExpireBlockOf refuses a value DecodeValue<StoredObject> accepts",
         input, "value " + ToHex(value) + (generic ? "" : ": " + generic.error().message));
  if (strict && generic->expire_block != expire) Fail("ExpireBlockOf and DecodeValue disagree on expire_block", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  CheckStoredObject(in, in);

  snapshot::ChunkView view;
  auto strict = snapshot::ParseChunk(in, &view);
  auto generic = DecodeStructure<snapshot::Chunk>(in);
  if (strict.has_value() != generic.has_value())
    Fail(strict ? "ParseChunk accepts a chunk the generic decoder refuses"
                : "ParseChunk refuses a chunk the generic decoder accepts",
         in, strict ? generic.error().message : strict.error().message);
  if (!strict) {
    if (strict.error().message.empty()) Fail("ParseChunk error without a message", in);
    return 0;
  }

  // 1. Same content.
  const snapshot::Chunk& g = *generic;
  if (g.height != view.height || g.index != view.index || g.entries.size() != view.entries.size())
    Fail("ParseChunk and the generic decoder disagree on height, index or entry count", in);
  for (size_t i = 0; i < view.entries.size(); ++i) {
    const auto& e = view.entries[i];
    if (!fuzz::SameBytes(e.key, g.entries[i].first) || !fuzz::SameBytes(e.value, g.entries[i].second))
      Fail("ParseChunk and the generic decoder disagree on entry " + std::to_string(i), in);
    // 2. The element is the accumulator's.
    Bytes element = state::StateElement(AsChars(e.key), AsChars(e.value));
    fuzz::ExpectSame("entry element is not StateElement(key, value)", in, element, e.element);
    if (e.element.data() + e.element.size() != (i + 1 < view.entries.size() ? view.entries[i + 1].element.data() : data + size))
      Fail("entry elements are not contiguous up to the end of the record", in);
    if (!e.key.empty() && (e.key[0] == 'C' || e.key[0] == 'K')) CheckStoredObject(e.value, in);
  }
  fuzz::ExpectSame("accepted chunk is not canonical", in, in, EncodeRecord(g));

  // 3. Validate.
  bool ordered = true;
  for (size_t i = 0; i < g.entries.size(); ++i) {
    const Bytes& k = g.entries[i].first;
    if (k.empty() || !snapshot::IsStateTable(k[0]) || (i > 0 && !(g.entries[i - 1].first < k))) ordered = false;
  }
  if (g.Validate().has_value() != ordered) Fail("Chunk::Validate disagrees with the key rules", in);
  if (DecodeRecord<snapshot::Chunk>(in).has_value() != ordered) Fail("DecodeRecord<Chunk> disagrees with the key rules", in);

  // 4. Against a manifest that lists it.
  if (view.index < 64) {
    snapshot::Manifest m;
    m.height = view.height;
    m.chunks.resize(view.index + 1);
    m.chunks[view.index] = snapshot::ChunkInfo{crypto::Sha256(in), view.entries.size(), size};
    auto st = snapshot::CheckChunkBytes(m, view.index, in);
    if (!st) Fail("CheckChunkBytes refuses a chunk its manifest lists", in, st.error().message);
    if (size > 0) {
      auto bad = snapshot::CheckChunkBytes(m, view.index, in.subspan(0, size - 1));
      if (bad) Fail("CheckChunkBytes accepts a truncated chunk", in);
    }
  }
  return 0;
}
