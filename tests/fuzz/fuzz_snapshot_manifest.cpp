// libFuzzer target for snapshot manifests and whole snapshot files
// (lib/chain/snapshot.h, docs/snapshots.md): the input is a snapshot file,
// a manifest record followed by chunk records, as gtos-snapshot reads it
// from disk and a state-syncing node assembles it from peers.
//
// Properties:
//   1. ReadManifest (the file reader, which grows its buffer until the
//      record is complete) returns exactly what DecodeRecord<Manifest> of
//      the file's first record returns;
//   2. a decoded manifest is canonical (re-encodes to its bytes), survives
//      the JSON round trip, and its Hash() is the tagged hash of its bytes;
//   3. VerifyManifest never crashes, and a manifest it accepts is accepted
//      with its own genesis given as the expected one;
//   4. Verify (manifest, every chunk, the state root) accepts only files
//      whose manifest VerifyManifest accepts and whose every chunk
//      CheckChunkBytes accepts; ReadInfo then agrees with the manifest;
//   5. a file Verify accepts restores (Restore) into a chain whose head,
//      state root and genesis are the manifest's.
#include <cstdint>
#include <filesystem>
#include <string>

#include "chain/chain.h"
#include "chain/snapshot.h"
#include "crypto/hash.h"
#include "fuzz_util.h"
#include "types/json.h"
#include "types/records.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_snapshot_manifest";
}

namespace {

using namespace gtos;
using gtos::fuzz::Fail;

void CheckManifest(const snapshot::Manifest& m, ByteView raw, ByteView in) {
  fuzz::ExpectSame("decoded manifest is not canonical", in, raw, EncodeRecord(m));
  if (m.Hash() != crypto::Sha256Tagged("GTOS-SNAPSHOT-V1", raw)) Fail("Manifest::Hash is not the tagged hash of its record", in);
  auto back = FromJson(ToJson(AnyRecord(m)));
  if (!back) Fail("ToJson(manifest) is refused by FromJson", in, back.error().message);
  fuzz::ExpectSame("manifest JSON round trip changes the bytes", in, raw, EncodeAny(*back));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  std::string path = fuzz::WriteScratch("snapshot.gsnap", in);

  // 1. The file reader against the in-memory decoder.
  size_t off = 0;
  auto parsed = codec::ParseOne(in, &off);
  Result<snapshot::Manifest> mem = Invalid("no record");
  if (parsed && *parsed) mem = DecodeRecordFrom<snapshot::Manifest>(**parsed);
  auto file = snapshot::ReadManifest(path);
  if (file.has_value() != mem.has_value())
    Fail(file ? "ReadManifest accepts a manifest DecodeRecord refuses" : "ReadManifest refuses a manifest DecodeRecord accepts",
         in, file ? mem.error().message : file.error().message);
  if (!file) return 0;
  ByteView raw = in.subspan(0, off);
  fuzz::ExpectSame("ReadManifest and DecodeRecord decode different manifests", in, EncodeRecord(*mem), EncodeRecord(*file));

  // 2. Canonical, JSON, hash.
  const snapshot::Manifest& m = *file;
  CheckManifest(m, raw, in);

  // 3. The trust walk from genesis.
  auto trusted = snapshot::VerifyManifest(m, nullptr);
  if (trusted) {
    auto g = DecodeRecord<Genesis>(m.genesis);
    if (!g) Fail("VerifyManifest accepts a manifest whose genesis does not decode", in);
    auto again = snapshot::VerifyManifest(m, &*g);
    if (!again) Fail("VerifyManifest refuses a manifest given its own genesis", in, again.error().message);
  }

  // 4. The whole file.
  auto verified = snapshot::Verify(path, nullptr);
  if (!verified) return 0;
  if (!trusted) Fail("Verify accepts a file whose manifest VerifyManifest refuses", in, trusted.error().message);
  size_t at = off;
  for (size_t i = 0; i < m.chunks.size(); ++i) {
    if (m.chunks[i].bytes > size - at) Fail("Verify accepts a file shorter than its chunks", in);
    auto st = snapshot::CheckChunkBytes(m, i, in.subspan(at, m.chunks[i].bytes));
    if (!st) Fail("Verify accepts a chunk CheckChunkBytes refuses", in, st.error().message);
    at += m.chunks[i].bytes;
  }
  if (at != size) Fail("Verify accepts trailing bytes after the last chunk", in);
  auto info = snapshot::ReadInfo(path);
  if (!info || info->height != m.height || info->chunks != m.chunks.size() || info->entries != m.total_entries ||
      info->file_bytes != size || info->hash != m.Hash() || info->state_root != m.header.state_root)
    Fail("ReadInfo disagrees with the verified manifest", in);

  // 5. Restore.
  std::string dir = fuzz::ScratchDir() + "/restored";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  auto genesis = DecodeRecord<Genesis>(m.genesis);
  if (!genesis) Fail("verified snapshot's genesis does not decode", in);
  auto st = snapshot::Restore(path, dir, *genesis);
  if (!st) Fail("Restore refuses a file Verify accepts", in, st.error().message);
  chain::ChainOptions o;
  o.datadir = dir;
  o.sync = false;
  auto c = chain::Chain::Open(o);
  if (!c) Fail("the restored chain does not open", in, c.error().message);
  if ((*c)->height() != m.height || (*c)->head().Hash() != m.header.Hash() ||
      (*c)->head().state_root != m.header.state_root || (*c)->genesis_hash() != m.genesis_hash)
    Fail("the restored chain's head is not the snapshot's", in);
  c->reset();
  std::filesystem::remove_all(dir, ec);
  return 0;
}
