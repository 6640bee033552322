// State snapshots (docs/snapshots.md): a verifiable, deterministic copy of
// the state at one finalized height.
//
// A snapshot file is a stream of msgpack records: one SnapshotManifest
// followed by manifest.chunks.size() SnapshotChunk records, in index order.
// The chunks hold the state entries (tables A C D E G K S U V, raw database keys
// and values) in key order, cut at a fixed byte budget, so every node
// writes byte-identical files for the same height. The manifest names the
// finalized header and its commit certificate, carries the validator set
// history and the boundary headers needed to check that commit from
// genesis, and lists each chunk's hash.
//
// Verification (Verify) needs nothing but the file (and optionally the
// expected genesis): the sum of the entries' state elements must equal the
// header's state_root, the chunk hashes must match, and the commit must
// verify against the validator set reached from genesis.
#ifndef GTOS_CHAIN_SNAPSHOT_H_
#define GTOS_CHAIN_SNAPSHOT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/store.h"
#include "types/chain.h"
#include "types/snapshot.h"
#include "util/bytes.h"
#include "util/status.h"

namespace gtos::snapshot {

// The records (Manifest, Chunk, ChunkInfo, EpochProof) and the limits
// (kChunkBudgetBytes, kMaxChunks, ...) are declared in types/snapshot.h, in
// this namespace, so that the codec layer (gtos-inspect) decodes them.

// Progress callback: (done, total) in entries. May be empty.
using Progress = std::function<void(uint64_t done, uint64_t total)>;

// Summary of a snapshot file (for list/info and state sync offers).
struct Info {
  std::string path;
  uint64_t height = 0;
  Hash32 hash;          // Manifest::Hash()
  Hash32 block_hash;    // header.Hash()
  Hash32 state_root;
  uint64_t chunks = 0;
  uint64_t entries = 0;
  uint64_t file_bytes = 0;
};

// Writes a snapshot of the state in `view` (a committed head; its height,
// header, commit and W history are read from the view) to `path`
// atomically: a temporary file in the same directory, fsynced, then
// renamed, and the directory fsynced; nothing is left at `path` or beside
// it on failure.
// kNotFound if the head has no commit certificate (a dev chain's height 0).
Status Create(const state::ReadView& view, const std::string& path, const Progress& progress = {});
// The same with another chunk budget (tests and experiments: nodes use
// kChunkBudgetBytes, the only budget whose files are byte-identical across
// nodes; Verify accepts any budget the manifest names).
Status Create(const state::ReadView& view, const std::string& path, const Progress& progress,
              uint64_t chunk_budget);

// The same with the head's commit certificate given: a node writes the
// snapshot of H once block H + 1 carried H's canonical certificate (its
// last_commit), which the view taken at H does not hold yet.
Status CreateWithCommit(const state::ReadView& view, const std::string& path, const Commit& commit,
                        const Progress& progress = {});

// Reads and checks the manifest of a snapshot file (not the chunks).
Result<Manifest> ReadManifest(const std::string& path);
Result<Info> ReadInfo(const std::string& path);

// Checks a snapshot file completely: manifest structure, genesis (equal to
// `expected_genesis` when given), the validator set history and epoch
// proofs from genesis, the commit of the header, every chunk (hash,
// ordering, table prefixes, height, index, decodable values) and that the
// entries sum to header.state_root. Errors name the chunk ("chunk 7 of 12:
// hash mismatch", "chunk 12 of 12: missing (file truncated)").
Result<Manifest> Verify(const std::string& path, const Genesis* expected_genesis, const Progress& progress = {});

// Checks a manifest alone (no chunks): structure, genesis (equal to
// `expected_genesis` when given), the validator set history and epoch
// proofs from genesis and the header's commit certificate. A state-sync
// client runs it on the manifest before asking for any chunk.
Status VerifyManifest(const Manifest& m, const Genesis* expected_genesis);

// Checks one chunk's bytes against the manifest (hash and size), as a
// state-sync client does on arrival.
Status CheckChunkBytes(const Manifest& m, uint64_t index, ByteView record_bytes);

// Builds a new chain in `datadir` from a snapshot file: D/db (state
// tables, expiry index rebuilt, set history, header and commit at the
// snapshot height, the epoch proofs' headers and commits, meta: head,
// accumulator, genesis, format) and D/genesis.bin. The file is verified as
// it is read (as Verify does). D/db must not exist, nor D/genesis.bin unless
// it holds exactly `genesis` (as an interrupted Restore leaves it). The
// database is built in D/db.restore-tmp (kRestoreTmpName), which is removed
// first if an interrupted Restore left it; D/genesis.bin is written, and the
// database renamed to D/db last, durably. On failure nothing is left of what
// this call created (D itself included); a crash leaves only what the next
// Restore accepts. `genesis` must be the snapshot's.
inline constexpr std::string_view kRestoreTmpName = "db.restore-tmp";
Status Restore(const std::string& path, const std::string& datadir, const Genesis& genesis,
               const Progress& progress = {});

// ---- snapshots kept in a data directory (D/snapshots) ----------------------

std::string SnapshotDir(const std::string& datadir);
// D/snapshots/snapshot-<height, 12 digits>.gsnap
std::string SnapshotPath(const std::string& datadir, uint64_t height);
// The snapshots in D/snapshots, ascending by height (unreadable files are
// skipped; temporary files ignored).
Result<std::vector<Info>> List(const std::string& datadir);
// Deletes all but the newest `keep` snapshots in D/snapshots.
Status Prune(const std::string& datadir, size_t keep);

}  // namespace gtos::snapshot

#endif  // GTOS_CHAIN_SNAPSHOT_H_
