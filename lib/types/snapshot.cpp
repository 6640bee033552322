#include "types/snapshot.h"

#include "crypto/hash.h"
#include "types/records.h"

namespace gtos::snapshot {

bool IsStateTable(uint8_t p) {
  return p == 'A' || p == 'C' || p == 'D' || p == 'E' || p == 'G' || p == 'K' || p == 'L' || p == 'P' || p == 'S' || p == 'U' || p == 'V' || p == 'Y' || p == 'Z';
}

Status Manifest::Validate() const {
  GTOS_TRY(CheckChainId(chain_id));
  auto g = DecodeRecord<Genesis>(genesis);
  if (!g) return Invalid("field 'genesis': " + g.error().message);
  if (g->Hash() != genesis_hash) return Invalid("field 'genesis_hash': not the hash of the genesis record");
  if (g->chain_id != chain_id) return Invalid("field 'chain_id': differs from the genesis chain id");
  if (header.chain_id != chain_id) return Invalid("field 'header': chain id differs from the manifest's");
  if (header.height != height) return Invalid("field 'header': height differs from the manifest's");
  if (height == 0) return Invalid("field 'height': a snapshot is of a committed block (>= 1)");
  if (commit.height != height) return Invalid("field 'commit': height differs from the manifest's");
  if (set_history.empty()) return Invalid("field 'set_history': empty");
  for (size_t i = 1; i < set_history.size(); ++i)
    if (set_history[i].first_height <= set_history[i - 1].first_height)
      return Invalid("field 'set_history': entry " + std::to_string(i) + " is not in ascending order");
  for (size_t i = 0; i < epoch_proofs.size(); ++i) {
    const EpochProof& p = epoch_proofs[i];
    if (i > 0 && p.header.height <= epoch_proofs[i - 1].header.height)
      return Invalid("field 'epoch_proofs': entry " + std::to_string(i) + " is not in ascending order");
    if (p.header.chain_id != chain_id)
      return Invalid("field 'epoch_proofs': entry " + std::to_string(i) + " is for another chain");
    if (p.header.height > height)
      return Invalid("field 'epoch_proofs': entry " + std::to_string(i) + " is above the snapshot height");
  }
  if (chunk_budget == 0) return Invalid("field 'chunk_budget': zero");
  if (chunks.empty()) return Invalid("field 'chunks': a snapshot has at least one chunk");
  uint64_t sum = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].entries == 0 && chunks.size() > 1)
      return Invalid("field 'chunks': chunk " + std::to_string(i) + " is empty");
    if (chunks[i].bytes == 0 || chunks[i].bytes > codec::kMaxRecordBytes)
      return Invalid("field 'chunks': chunk " + std::to_string(i) + " has an impossible size");
    if (__builtin_add_overflow(sum, chunks[i].entries, &sum))
      return Invalid("field 'chunks': entry counts overflow");
  }
  if (sum != total_entries) return Invalid("field 'total_entries': not the sum of the chunks' entries");
  return Ok();
}

Hash32 Manifest::Hash() const { return crypto::Sha256Tagged("GTOS-SNAPSHOT-V1", EncodeRecord(*this)); }

Status Chunk::Validate() const {
  for (size_t i = 0; i < entries.size(); ++i) {
    const Bytes& k = entries[i].first;
    if (k.empty() || !IsStateTable(k[0]))
      return Invalid("field 'entries': entry " + std::to_string(i) + " is not a state table key");
    if (i > 0 && !(entries[i - 1].first < k))
      return Invalid("field 'entries': entry " + std::to_string(i) + " is not in ascending key order");
  }
  return Ok();
}

}  // namespace gtos::snapshot
