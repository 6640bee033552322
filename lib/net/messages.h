// The p2p messages (docs/p2p.md). On the wire every message is one frame:
// u32 big-endian length, then one canonical msgpack record [type, version,
// fields...] (the record encoding of docs/formats.md, message types from
// 0x40 up; see types/record_type.h).
//
// Each message struct names its record tag and version (kType, kVersion) and,
// except Peers and ProposalMsg whose wire form messages.cpp writes by hand,
// lists its fields for the codec visitors (codec/visit.h). The caps below
// bound what a decoder allocates for one frame.
#ifndef GTOS_NET_MESSAGES_H_
#define GTOS_NET_MESSAGES_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "consensus/tendermint.h"
#include "types/chain.h"

namespace gtos::net {

inline constexpr uint64_t kProtocolVersion = 2;

inline constexpr size_t kNodeKeyBytes = 32;        // ed25519 public key
inline constexpr size_t kAuthSignatureBytes = 64;  // ed25519 signature
inline constexpr size_t kMaxPeerAddresses = 64;    // per Peers message
inline constexpr size_t kMaxPeerAddressBytes = kMaxP2pAddrBytes;  // 255
inline constexpr size_t kMaxGossipTxs = 50'000;    // per Txs message
inline constexpr size_t kMaxSyncBlocks = 1'000;    // per Blocks message
inline constexpr size_t kMaxSnapshotOffers = 16;   // per Snapshots message
inline constexpr size_t kMaxSnapshotPartBytes = 64ull << 20;  // a manifest or chunk record
inline constexpr size_t kSnapshotPieceBytes = 512ull << 10;    // per SnapshotPart message (fits any frame limit)

// Handshake: the first sealed frame each way (net/secret.h). `signature`
// is node_key's ed25519 signature of AuthDigest(challenge), the challenge
// of this connection's session keys.
struct Hello {
  static constexpr RecordType kType = RecordType::kP2pHello;
  static constexpr uint64_t kVersion = 2;
  uint64_t protocol = kProtocolVersion;
  std::string chain_id;
  Hash32 genesis_hash;
  Bytes node_key;       // ed25519 public key
  Bytes signature;      // proves node_key on this connection
  std::string listen;   // advertised "host:port", may be empty
  uint64_t height = 0;  // sender's committed height

  template <class V> void Fields(V& v) {
    v.Uint("protocol", protocol);
    v.Str("chain_id", chain_id, kMaxChainIdBytes);
    v.Fixed("genesis_hash", genesis_hash);
    v.Bin("node_key", node_key, kNodeKeyBytes);
    v.Bin("signature", signature, kAuthSignatureBytes);
    v.Str("listen", listen, kMaxPeerAddressBytes);
    v.Uint("height", height);
  }
};
struct Ping {
  static constexpr RecordType kType = RecordType::kP2pPing;
  static constexpr uint64_t kVersion = 1;
  uint64_t nonce = 0;
  template <class V> void Fields(V& v) { v.Uint("nonce", nonce); }
};
struct Pong {
  static constexpr RecordType kType = RecordType::kP2pPong;
  static constexpr uint64_t kVersion = 1;
  uint64_t nonce = 0;
  template <class V> void Fields(V& v) { v.Uint("nonce", nonce); }
};
struct GetPeers {
  static constexpr RecordType kType = RecordType::kP2pGetPeers;
  static constexpr uint64_t kVersion = 1;
  template <class V> void Fields(V&) {}
};
// Wire: [type, version, [address...]], each a msgpack str.
struct Peers {  // at most 64
  static constexpr RecordType kType = RecordType::kP2pPeers;
  static constexpr uint64_t kVersion = 1;
  std::vector<std::string> addresses;
};

// Application messages.
struct Status {  // sent on connect and after every commit
  static constexpr RecordType kType = RecordType::kP2pStatus;
  static constexpr uint64_t kVersion = 1;
  uint64_t height = 0;
  Hash32 head_hash;
  template <class V> void Fields(V& v) {
    v.Uint("height", height);
    v.Fixed("head_hash", head_hash);
  }
};
struct Txs {  // gossip batch; each tx as the fields of a signed_tx record
  static constexpr RecordType kType = RecordType::kP2pTxs;
  static constexpr uint64_t kVersion = 1;
  std::vector<SignedTx> txs;
  template <class V> void Fields(V& v) { v.List("txs", txs, kMaxGossipTxs); }
};
// Wire: [type, version, height, round, valid_round + 1, block, proposer,
// signature] (valid_round + 1 so that "none" is 0, as in the signing digest).
struct ProposalMsg {
  static constexpr RecordType kType = RecordType::kP2pProposal;
  static constexpr uint64_t kVersion = 1;
  consensus::Proposal proposal;
};
struct VoteMsg {  // the vote's fields inline
  static constexpr RecordType kType = RecordType::kP2pVote;
  static constexpr uint64_t kVersion = 1;
  Vote vote;
  template <class V> void Fields(V& v) { vote.Fields(v); }
};
struct EvidenceMsg {  // the evidence's fields inline: [statement a, statement b]
  static constexpr RecordType kType = RecordType::kP2pEvidence;
  static constexpr uint64_t kVersion = 1;
  Evidence evidence;
  template <class V> void Fields(V& v) { evidence.Fields(v); }
};
struct GetBlocks {       // block sync request
  static constexpr RecordType kType = RecordType::kP2pGetBlocks;
  static constexpr uint64_t kVersion = 1;
  uint64_t from = 0;     // first height wanted
  uint64_t max = 0;      // at most this many (server may send fewer)
  template <class V> void Fields(V& v) {
    v.Uint("from", from);
    v.Uint("max", max);
  }
};
struct Blocks {  // each with its commit; each block as the fields of a block record
  static constexpr RecordType kType = RecordType::kP2pBlocks;
  static constexpr uint64_t kVersion = 1;
  std::vector<Block> blocks;
  template <class V> void Fields(V& v) { v.List("blocks", blocks, kMaxSyncBlocks); }
};

// ---- state sync (docs/snapshots.md "State sync") ----
struct GetSnapshots {  // which snapshots do you serve?
  static constexpr RecordType kType = RecordType::kP2pGetSnapshots;
  static constexpr uint64_t kVersion = 1;
  template <class V> void Fields(V&) {}
};
struct SnapshotOffer {
  uint64_t height = 0;
  Hash32 hash;          // the manifest's hash (snapshot::Manifest::Hash)
  uint64_t parts = 0;   // 1 (the manifest) + number of chunks
  template <class V> void Fields(V& v) {
    v.Uint("height", height);
    v.Fixed("hash", hash);
    v.Uint("parts", parts);
  }
};
struct Snapshots {
  static constexpr RecordType kType = RecordType::kP2pSnapshots;
  static constexpr uint64_t kVersion = 1;
  std::vector<SnapshotOffer> offers;  // ascending by height
  template <class V> void Fields(V& v) { v.List("offers", offers, kMaxSnapshotOffers); }
};
// Part 0 is the manifest record, part i >= 1 the record of chunk i - 1,
// exactly as in the snapshot file.
struct GetSnapshotPart {
  static constexpr RecordType kType = RecordType::kP2pGetSnapshotPart;
  static constexpr uint64_t kVersion = 1;
  uint64_t height = 0;
  Hash32 hash;
  uint64_t part = 0;
  template <class V> void Fields(V& v) {
    v.Uint("height", height);
    v.Fixed("hash", hash);
    v.Uint("part", part);
  }
};
// A part travels as one or more pieces of at most kSnapshotPieceBytes, in
// order: `data` is bytes [offset, offset + data.size()) of the part's
// `total` bytes. total 0: not served (unknown or deleted snapshot).
struct SnapshotPart {
  static constexpr RecordType kType = RecordType::kP2pSnapshotPart;
  static constexpr uint64_t kVersion = 1;
  uint64_t height = 0;
  Hash32 hash;
  uint64_t part = 0;
  uint64_t offset = 0;
  uint64_t total = 0;
  Bytes data;
  template <class V> void Fields(V& v) {
    v.Uint("height", height);
    v.Fixed("hash", hash);
    v.Uint("part", part);
    v.Uint("offset", offset);
    v.Uint("total", total, kMaxSnapshotPartBytes);
    v.Bin("data", data, kSnapshotPieceBytes);
  }
};

using Message = std::variant<Hello, Ping, Pong, GetPeers, Peers, Status, Txs, ProposalMsg, VoteMsg,
                             EvidenceMsg, GetBlocks, Blocks, GetSnapshots, Snapshots, GetSnapshotPart,
                             SnapshotPart>;

// Frame payload (the record, without the length prefix).
Bytes EncodeMessage(const Message& m);
// Decodes one record; errors name the message type and field. Rejects
// non-canonical encodings, anything above the record caps, and a record
// with more msgpack elements than ElementBudget(frame.size()) before any
// object is built.
Result<Message> DecodeMessage(ByteView frame);
// The message type of a record, read from its first bytes without
// decoding the rest; an error when the bytes do not start a record of a
// p2p message type.
Result<RecordType> PeekMessageType(ByteView frame);
// The largest record of message type `t` a peer may send, given the
// frame limit (small control messages get a few KiB, blocks the frame
// limit).
size_t MaxMessageBytes(RecordType t, size_t max_frame);
// Elements (msgpack values) a record of `bytes` bytes may hold: one per
// 4 bytes, at least 4096. A legitimate record stays far below (a
// transaction averages 7+ bytes per element); an array of nils does not.
size_t ElementBudget(size_t bytes);
std::string_view MessageName(const Message& m);
// True for gossip (Txs, Peers): dropped, not fatal, when a send queue is full.
bool IsGossip(const Message& m);

}  // namespace gtos::net

#endif  // GTOS_NET_MESSAGES_H_
