// Snapshot records (docs/snapshots.md): the manifest and the chunks of a
// state snapshot file. They live in the types layer so that every tool that
// decodes records (gtos-inspect) can decode and print them; building,
// verifying and restoring snapshots is lib/chain/snapshot.h.
#ifndef GTOS_TYPES_SNAPSHOT_H_
#define GTOS_TYPES_SNAPSHOT_H_

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "codec/visit.h"
#include "types/chain.h"
#include "types/record_type.h"
#include "util/bytes.h"
#include "util/status.h"

namespace gtos::snapshot {

// Chunks are cut once their entries reach this many bytes (key + value).
inline constexpr uint64_t kChunkBudgetBytes = 1 << 20;
// Limits checked by the decoders.
inline constexpr size_t kMaxChunks = 1 << 20;
inline constexpr size_t kMaxChunkEntries = 1 << 20;
inline constexpr size_t kMaxSetHistory = 1 << 22;
inline constexpr size_t kMaxEpochProofs = 1 << 22;
// Sizes of one state entry: a key (the longest is a KV key: prefix,
// owner, namespace length, namespace, key) and a value (a stored object
// holding kMaxValueBytes of data, plus its fields).
inline constexpr size_t kMaxEntryKeyBytes = 1 << 16;
inline constexpr size_t kMaxEntryValueBytes = kMaxValueBytes + 256;

// The header of an epoch boundary block (height k * epoch_length) at which
// the validator set changed, with its commit: it names the next set
// (next_validators_hash) and is signed by the current one.
struct EpochProof {
  BlockHeader header;
  Commit commit;
  template <class V> void Fields(V& v) {
    v.Object("header", header);
    v.Object("commit", commit);
  }
};

struct ChunkInfo {
  Hash32 hash;           // SHA-256 of the chunk's record bytes
  uint64_t entries = 0;  // state entries in the chunk
  uint64_t bytes = 0;    // size of the chunk's record
  template <class V> void Fields(V& v) {
    v.Fixed("hash", hash);
    v.Uint("entries", entries);
    v.Uint("bytes", bytes);
  }
};

struct Manifest {
  static constexpr RecordType kType = RecordType::kSnapshotManifest;
  static constexpr uint64_t kVersion = 1;
  std::string chain_id;
  Hash32 genesis_hash;
  Bytes genesis;            // the genesis record, so that the file verifies on its own
  uint64_t height = 0;      // the snapshot is the state after this block
  BlockHeader header;       // the finalized header at `height`
  Commit commit;            // its commit certificate
  std::vector<ActiveSet> set_history;      // every W entry with first_height <= height + 1, in order
  std::vector<EpochProof> epoch_proofs;    // boundaries where the set changed, in order
  uint64_t chunk_budget = kChunkBudgetBytes;
  std::vector<ChunkInfo> chunks;
  uint64_t total_entries = 0;

  template <class V> void Fields(V& v) {
    v.Str("chain_id", chain_id, kMaxChainIdBytes);
    v.Fixed("genesis_hash", genesis_hash);
    v.Bin("genesis", genesis, codec::kMaxBinBytes);
    v.Uint("height", height);
    v.Object("header", header);
    v.Object("commit", commit);
    v.List("set_history", set_history, kMaxSetHistory);
    v.List("epoch_proofs", epoch_proofs, kMaxEpochProofs);
    v.Uint("chunk_budget", chunk_budget);
    v.List("chunks", chunks, kMaxChunks);
    v.Uint("total_entries", total_entries);
  }
  // Structure: chain ids, heights, the genesis record and its hash, at
  // least one chunk, entry counts, ascending set history and proofs. Not
  // the signatures or the content (chain/snapshot.h Verify).
  Status Validate() const;
  // SHA-256("GTOS-SNAPSHOT-V1" || manifest record): names a snapshot.
  Hash32 Hash() const;
};

// One state entry as it appears on the wire and in JSON: [key, value].
struct ChunkEntry {
  Bytes key;
  Bytes value;
  template <class V> void Fields(V& v) {
    v.Bin("key", key, kMaxEntryKeyBytes);
    v.Bin("value", value, kMaxEntryValueBytes);
  }
};

struct Chunk {
  static constexpr RecordType kType = RecordType::kSnapshotChunk;
  static constexpr uint64_t kVersion = 1;
  uint64_t height = 0;
  uint64_t index = 0;
  std::vector<std::pair<Bytes, Bytes>> entries;  // raw key, raw value; strictly ascending keys

  // entries is a list of [key bin, value bin] arrays. This generic path
  // copies through ChunkEntry (inspect, tests); lib/chain/snapshot.cpp
  // writes and reads chunks directly, byte-identically.
  template <class V> void Fields(V& v) {
    v.Uint("height", height);
    v.Uint("index", index);
    std::vector<ChunkEntry> list;
    if constexpr (!V::kDecoding && !std::is_same_v<V, codec::CountVisitor>) {
      list.reserve(entries.size());
      for (const auto& [k, val] : entries) list.push_back(ChunkEntry{k, val});
    }
    v.List("entries", list, kMaxChunkEntries);
    if constexpr (V::kDecoding) {
      entries.clear();
      entries.reserve(list.size());
      for (ChunkEntry& e : list) entries.emplace_back(std::move(e.key), std::move(e.value));
    }
  }
  // Keys non-empty, strictly ascending, all in the state tables.
  Status Validate() const;
};

// True for the first byte of a key of a table the state root covers
// (A C D E G K L P S U V Y Z; the same set as state::schema::IsStateKey).
bool IsStateTable(uint8_t prefix);

}  // namespace gtos::snapshot

#endif  // GTOS_TYPES_SNAPSHOT_H_
