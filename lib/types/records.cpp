#include "types/records.h"

namespace gtos {

std::string_view RecordTypeName(uint64_t tag) {
  switch (static_cast<RecordType>(tag)) {
    case RecordType::kPrivateKey: return "private_key";
    case RecordType::kPublicKey: return "public_key";
    case RecordType::kUnsignedTx: return "unsigned_tx";
    case RecordType::kSignedTx: return "signed_tx";
    case RecordType::kReceipt: return "receipt";
    case RecordType::kBlockHeader: return "block_header";
    case RecordType::kBlock: return "block";
    case RecordType::kGenesis: return "genesis";
    case RecordType::kGenesisValidator: return "genesis_validator";
    case RecordType::kSnapshotManifest: return "snapshot_manifest";
    case RecordType::kSnapshotChunk: return "snapshot_chunk";
    case RecordType::kUpgradePlan: return "upgrade_plan";
    case RecordType::kP2pHello: return "p2p_hello";
    case RecordType::kP2pAuth: return "p2p_auth";
    case RecordType::kP2pPing: return "p2p_ping";
    case RecordType::kP2pPong: return "p2p_pong";
    case RecordType::kP2pGetPeers: return "p2p_get_peers";
    case RecordType::kP2pPeers: return "p2p_peers";
    case RecordType::kP2pStatus: return "p2p_status";
    case RecordType::kP2pTxs: return "p2p_txs";
    case RecordType::kP2pProposal: return "p2p_proposal";
    case RecordType::kP2pVote: return "p2p_vote";
    case RecordType::kP2pEvidence: return "p2p_evidence";
    case RecordType::kP2pGetBlocks: return "p2p_get_blocks";
    case RecordType::kP2pBlocks: return "p2p_blocks";
    case RecordType::kP2pGetSnapshots: return "p2p_get_snapshots";
    case RecordType::kP2pSnapshots: return "p2p_snapshots";
    case RecordType::kP2pGetSnapshotPart: return "p2p_get_snapshot_part";
    case RecordType::kP2pSnapshotPart: return "p2p_snapshot_part";
    case RecordType::kWalHeight: return "wal_height";
    case RecordType::kWalProposal: return "wal_proposal";
    case RecordType::kWalVote: return "wal_vote";
    case RecordType::kWalTimeout: return "wal_timeout";
  }
  return {};
}

Bytes EncodeAny(const AnyRecord& r) {
  return std::visit([](const auto& rec) { return EncodeRecord(rec); }, r);
}

RecordType TypeOf(const AnyRecord& r) {
  return std::visit([](const auto& rec) { return std::decay_t<decltype(rec)>::kType; }, r);
}

std::string_view TypeNameOf(const AnyRecord& r) {
  return RecordTypeName(static_cast<uint64_t>(TypeOf(r)));
}

namespace internal {

uint64_t ReadType(codec::Reader& r, uint64_t expect_type) {
  uint64_t tag = r.Uint("type");
  if (!r.ok()) return 0;
  if (RecordTypeName(tag).empty()) {
    r.SetError("type", "unknown record type " + std::to_string(tag));
    return 0;
  }
  if (expect_type != 0 && tag != expect_type) {
    r.SetError("type", "expected record type " + std::string(RecordTypeName(expect_type)) + ", got " +
                           std::string(RecordTypeName(tag)));
    return 0;
  }
  return tag;
}

void ReadVersion(codec::Reader& r, uint64_t tag, uint64_t supported) {
  uint64_t version = r.Uint("version");
  if (r.ok() && version != supported)
    r.SetError("version", "unknown version " + std::to_string(version) + " of " +
                              std::string(RecordTypeName(tag)) + " (this build reads version " +
                              std::to_string(supported) + ")");
}

}  // namespace internal

template <class R>
static Result<AnyRecord> DecodeAs(const codec::Parsed& p) {
  auto r = DecodeRecordFrom<R>(p);
  if (!r) return std::unexpected(r.error());
  return AnyRecord(std::move(*r));
}

Result<AnyRecord> DecodeAnyFrom(const codec::Parsed& p) {
  codec::Reader r(p.handle.get(), p.raw, "");
  uint64_t tag = internal::ReadType(r, 0);
  if (!r.ok()) return std::unexpected(r.Finish().error());
  switch (static_cast<RecordType>(tag)) {
    case RecordType::kPrivateKey: return DecodeAs<PrivateKey>(p);
    case RecordType::kPublicKey: return DecodeAs<PublicKey>(p);
    case RecordType::kUnsignedTx: return DecodeAs<UnsignedTx>(p);
    case RecordType::kSignedTx: return DecodeAs<SignedTx>(p);
    case RecordType::kReceipt: return DecodeAs<Receipt>(p);
    case RecordType::kBlockHeader: return DecodeAs<BlockHeader>(p);
    case RecordType::kBlock: return DecodeAs<Block>(p);
    case RecordType::kGenesis: return DecodeAs<Genesis>(p);
    case RecordType::kGenesisValidator: return DecodeAs<GenesisValidator>(p);
    case RecordType::kSnapshotManifest: return DecodeAs<snapshot::Manifest>(p);
    case RecordType::kSnapshotChunk: return DecodeAs<snapshot::Chunk>(p);
    case RecordType::kUpgradePlan: return DecodeAs<UpgradePlanRecord>(p);
    default:
      return Invalid("record type " + std::string(RecordTypeName(tag)) + " is not supported by this build");
  }
}

Result<AnyRecord> DecodeAny(ByteView bytes) {
  size_t off = 0;
  auto p = codec::ParseOne(bytes, &off);
  if (!p) return std::unexpected(p.error());
  if (!*p) return Invalid("truncated record");
  if (off != bytes.size()) return Invalid("trailing bytes after record");
  return DecodeAnyFrom(**p);
}

}  // namespace gtos
