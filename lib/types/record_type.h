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
  kUpgradePlan = 12,  // a plan and the signatures gathered so far (gtos-tx)
  // p2p messages (net/messages.h, docs/p2p.md)
  kP2pHello = 0x40,
  kP2pAuth = 0x41,
  kP2pPing = 0x42,
  kP2pPong = 0x43,
  kP2pGetPeers = 0x44,
  kP2pPeers = 0x45,
  kP2pStatus = 0x46,
  kP2pTxs = 0x47,
  kP2pProposal = 0x48,
  kP2pVote = 0x49,
  kP2pEvidence = 0x4a,
  kP2pGetBlocks = 0x4b,
  kP2pBlocks = 0x4c,
  kP2pGetSnapshots = 0x4d,
  kP2pSnapshots = 0x4e,
  kP2pGetSnapshotPart = 0x4f,
  kP2pSnapshotPart = 0x50,
  // consensus write-ahead log entries (consensus/wal.h, docs/formats.md)
  kWalHeight = 0x60,
  kWalProposal = 0x61,
  kWalVote = 0x62,
  kWalTimeout = 0x63,
};

// "signed_tx"; empty for an unknown tag.
std::string_view RecordTypeName(uint64_t tag);

}  // namespace gtos

#endif  // GTOS_TYPES_RECORD_TYPE_H_
