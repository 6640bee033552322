// P2p message records (docs/p2p.md).
//
// Most messages are plain records over their Fields (types/records.h does
// the work). Two have a hand-written wire form: Peers, a list of strings the
// field visitors cannot express, and ProposalMsg, whose consensus::Proposal
// keeps valid_round as a signed integer and has no field list of its own.
//
// Decoding reads the tag, dispatches on it, and wraps every error with the
// message name: "p2p_hello: field 'chain_id': string of 70 bytes exceeds 64".
#include "net/messages.h"

#include "types/records.h"

namespace gtos::net {
namespace {

// The Proposal as it travels, by reference so that a block is not copied.
struct ProposalWire {
  static constexpr RecordType kType = ProposalMsg::kType;
  static constexpr uint64_t kVersion = ProposalMsg::kVersion;
  consensus::Proposal& p;
  uint64_t valid_round_plus_one = 0;

  template <class V> void Fields(V& v) {
    v.Uint("height", p.height);
    v.Uint("round", p.round);
    v.Uint("valid_round", valid_round_plus_one, consensus::kMaxRound + 1);
    v.Object("block", p.block);
    v.Fixed("proposer", p.proposer);
    v.Bin("signature", p.signature, kMaxSignatureBytes);
  }
};

template <class M>
Bytes EncodeBody(const M& m) {
  return EncodeRecord(m);
}

Bytes EncodeBody(const ProposalMsg& m) {
  auto& p = const_cast<consensus::Proposal&>(m.proposal);  // encoding never writes
  ProposalWire w{p, static_cast<uint64_t>(p.valid_round + 1)};
  return EncodeRecord(w);
}

Bytes EncodeBody(const Peers& m) {
  codec::Writer w;
  w.Array(3);
  w.Uint(static_cast<uint64_t>(Peers::kType));
  w.Uint(Peers::kVersion);
  w.Array(static_cast<uint32_t>(m.addresses.size()));
  for (const std::string& a : m.addresses) w.Str(a);
  return w.Take();
}

// Reads the fields after the tag into a fresh M; r is positioned at the
// version.
template <class M>
Message DecodeBody(codec::Reader& r) {
  internal::ReadVersion(r, static_cast<uint64_t>(M::kType), M::kVersion);
  M m;
  codec::DecodeVisitor v(r);
  if (r.ok()) m.Fields(v);
  return m;
}

template <>
Message DecodeBody<ProposalMsg>(codec::Reader& r) {
  internal::ReadVersion(r, static_cast<uint64_t>(ProposalMsg::kType), ProposalMsg::kVersion);
  ProposalMsg m;
  ProposalWire w{m.proposal};
  codec::DecodeVisitor v(r);
  if (r.ok()) w.Fields(v);
  m.proposal.valid_round = static_cast<int64_t>(w.valid_round_plus_one) - 1;
  return m;
}

template <>
Message DecodeBody<Peers>(codec::Reader& r) {
  internal::ReadVersion(r, static_cast<uint64_t>(Peers::kType), Peers::kVersion);
  Peers m;
  if (!r.ok()) return m;
  codec::Reader list = r.Enter("addresses", 0, kMaxPeerAddresses);
  m.addresses.resize(list.remaining());
  for (size_t i = 0; i < m.addresses.size() && list.ok(); ++i)
    m.addresses[i] = list.Str(std::to_string(i), kMaxPeerAddressBytes);
  (void)list.Finish();  // a failure is shared with r
  return m;
}

// Checks beyond the field caps.
gtos::Status Check(const Message& m) {
  if (const auto* h = std::get_if<Hello>(&m)) {
    if (h->node_key.size() != kNodeKeyBytes)
      return Invalid("field 'node_key': " + std::to_string(h->node_key.size()) + " bytes, expected " +
                     std::to_string(kNodeKeyBytes));
  }
  return Ok();
}

}  // namespace

Bytes EncodeMessage(const Message& m) {
  return std::visit([](const auto& msg) { return EncodeBody(msg); }, m);
}

Result<Message> DecodeMessage(ByteView frame) {
  size_t off = 0;
  auto parsed = codec::ParseOne(frame, &off);
  if (!parsed) return std::unexpected(Wrap(parsed.error(), "p2p message"));
  if (!*parsed) return Invalid("p2p message: truncated record");
  if (off != frame.size()) return Invalid("p2p message: trailing bytes after record");
  const codec::Parsed& p = **parsed;

  codec::Reader r(p.handle.get(), p.raw, "");
  uint64_t tag = internal::ReadType(r, 0);
  if (!r.ok()) return std::unexpected(Wrap(r.Finish().error(), "p2p message"));
  Message m;
  switch (static_cast<RecordType>(tag)) {
    case RecordType::kP2pHello: m = DecodeBody<Hello>(r); break;
    case RecordType::kP2pAuth: m = DecodeBody<Auth>(r); break;
    case RecordType::kP2pPing: m = DecodeBody<Ping>(r); break;
    case RecordType::kP2pPong: m = DecodeBody<Pong>(r); break;
    case RecordType::kP2pGetPeers: m = DecodeBody<GetPeers>(r); break;
    case RecordType::kP2pPeers: m = DecodeBody<Peers>(r); break;
    case RecordType::kP2pStatus: m = DecodeBody<Status>(r); break;
    case RecordType::kP2pTxs: m = DecodeBody<Txs>(r); break;
    case RecordType::kP2pProposal: m = DecodeBody<ProposalMsg>(r); break;
    case RecordType::kP2pVote: m = DecodeBody<VoteMsg>(r); break;
    case RecordType::kP2pEvidence: m = DecodeBody<EvidenceMsg>(r); break;
    case RecordType::kP2pGetBlocks: m = DecodeBody<GetBlocks>(r); break;
    case RecordType::kP2pBlocks: m = DecodeBody<Blocks>(r); break;
    case RecordType::kP2pGetSnapshots: m = DecodeBody<GetSnapshots>(r); break;
    case RecordType::kP2pSnapshots: m = DecodeBody<Snapshots>(r); break;
    case RecordType::kP2pGetSnapshotPart: m = DecodeBody<GetSnapshotPart>(r); break;
    case RecordType::kP2pSnapshotPart: m = DecodeBody<SnapshotPart>(r); break;
    default:
      return Invalid("p2p message: record type " + std::string(RecordTypeName(tag)) + " is not a p2p message");
  }
  std::string name(RecordTypeName(tag));
  if (gtos::Status s = r.Finish(); !s) return std::unexpected(Wrap(s.error(), name));
  if (gtos::Status s = Check(m); !s) return std::unexpected(Wrap(s.error(), name));
  return m;
}

std::string_view MessageName(const Message& m) {
  return std::visit(
      [](const auto& msg) { return RecordTypeName(static_cast<uint64_t>(std::decay_t<decltype(msg)>::kType)); },
      m);
}

bool IsGossip(const Message& m) {
  return std::holds_alternative<Txs>(m) || std::holds_alternative<Peers>(m);
}

}  // namespace gtos::net
