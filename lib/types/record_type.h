// Record type tags. Every record is a msgpack array whose first two elements
// are its type tag and its format version (docs/formats.md).
#ifndef GTOS_TYPES_RECORD_TYPE_H_
#define GTOS_TYPES_RECORD_TYPE_H_

#include <cstdint>
#include <string_view>

namespace gtos {

enum class RecordType : uint64_t {
  kPrivateKey = 1,
  kPublicKey = 2,
  kUnsignedTx = 3,
  kSignedTx = 4,
  kReceipt = 5,
  kBlockHeader = 6,
  kBlock = 7,
  kGenesis = 8,
  kGenesisValidator = 9,
  kSnapshotManifest = 10,
  kSnapshotChunk = 11,
};

// "signed_tx"; empty for an unknown tag.
std::string_view RecordTypeName(uint64_t tag);

}  // namespace gtos

#endif  // GTOS_TYPES_RECORD_TYPE_H_
