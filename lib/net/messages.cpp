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

#include <algorithm>

#include <msgpack/v2/null_visitor.hpp>
#include <msgpack/v2/parse.hpp>

#include "codec/codec.h"
#include "net/secret.h"
#include "types/records.h"

namespace gtos::net {
namespace {

// Counts the msgpack values of one record without building any of them,
// stopping as soon as the count passes the budget or nesting passes the
// codec's depth limit.
struct ElementCounter : msgpack::null_visitor {
  size_t budget, count = 0, depth = 0;
  bool over = false, deep = false;
  explicit ElementCounter(size_t b) : budget(b) {}
  bool Add(size_t n) {
    count += n;
    over = count > budget;
    return !over;
  }
  bool visit_nil() { return Add(1); }
  bool visit_boolean(bool) { return Add(1); }
  bool visit_positive_integer(uint64_t) { return Add(1); }
  bool visit_negative_integer(int64_t) { return Add(1); }
  bool visit_float32(float) { return Add(1); }
  bool visit_float64(double) { return Add(1); }
  bool visit_str(const char*, uint32_t) { return Add(1); }
  bool visit_bin(const char*, uint32_t) { return Add(1); }
  bool visit_ext(const char*, uint32_t) { return Add(1); }
  bool start_array(uint32_t n) {
    if (++depth > codec::kMaxDepth) {
      deep = true;
      return false;
    }
    // Count the announced elements up front: a header promising a million
    // elements is refused before the parser walks them.
    if (!Add(1)) return false;
    if (n > budget - count) {
      over = true;
      return false;
    }
    return true;
  }
  bool end_array() {
    --depth;
    return true;
  }
  bool start_map(uint32_t) { return Add(1); }
};

// Reads [type, ... and stops.
struct TypePeeker : msgpack::null_visitor {
  int state = 0;  // 0: want array, 1: want type, 2: done
  uint64_t type = 0;
  bool start_array(uint32_t n) {
    if (state != 0 || n == 0) return false;
    state = 1;
    return true;
  }
  bool visit_positive_integer(uint64_t v) {
    if (state != 1) return false;
    type = v;
    state = 2;
    return false;  // enough
  }
};

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
    if (h->signature.size() != kAuthSignatureBytes)
      return Invalid("field 'signature': " + std::to_string(h->signature.size()) + " bytes, expected " +
                     std::to_string(kAuthSignatureBytes));
  }
  return Ok();
}

}  // namespace

Bytes EncodeMessage(const Message& m) {
  return std::visit([](const auto& msg) { return EncodeBody(msg); }, m);
}

size_t ElementBudget(size_t bytes) { return std::max<size_t>(4096, bytes / 4); }

Result<RecordType> PeekMessageType(ByteView frame) {
  TypePeeker peek;
  size_t off = 0;
  try {
    (void)msgpack::parse(reinterpret_cast<const char*>(frame.data()), frame.size(), off, peek);
  } catch (const std::exception&) {
  }
  if (peek.state != 2) return Invalid("p2p message: does not start with a record type");
  auto t = static_cast<RecordType>(peek.type);
  switch (t) {
    case RecordType::kP2pHello: case RecordType::kP2pPing: case RecordType::kP2pPong:
    case RecordType::kP2pGetPeers: case RecordType::kP2pPeers: case RecordType::kP2pStatus:
    case RecordType::kP2pTxs: case RecordType::kP2pProposal: case RecordType::kP2pVote:
    case RecordType::kP2pEvidence: case RecordType::kP2pGetBlocks: case RecordType::kP2pBlocks:
    case RecordType::kP2pGetSnapshots: case RecordType::kP2pSnapshots: case RecordType::kP2pGetSnapshotPart:
    case RecordType::kP2pSnapshotPart:
      return t;
    default:
      return Invalid("p2p message: record type " + std::string(RecordTypeName(peek.type)) + " is not a p2p message");
  }
}

size_t MaxMessageBytes(RecordType t, size_t max_frame) {
  constexpr size_t kSmall = 4 << 10;
  switch (t) {
    case RecordType::kP2pHello: return kMaxHandshakeBody;
    case RecordType::kP2pPing: case RecordType::kP2pPong: case RecordType::kP2pGetPeers:
    case RecordType::kP2pStatus: case RecordType::kP2pVote: case RecordType::kP2pGetBlocks:
    case RecordType::kP2pGetSnapshots: case RecordType::kP2pGetSnapshotPart:
      return kSmall;
    case RecordType::kP2pEvidence: return 2 * kSmall;
    case RecordType::kP2pPeers: return kMaxPeerAddresses * (kMaxPeerAddressBytes + 3) + 64;
    case RecordType::kP2pSnapshots: return 64 << 10;
    case RecordType::kP2pSnapshotPart: return std::min(max_frame, kSnapshotPieceBytes + (4 << 10));
    default: return max_frame;
  }
}

Result<Message> DecodeMessage(ByteView frame) {
  {
    ElementCounter counter(ElementBudget(frame.size()));
    size_t coff = 0;
    try {
      (void)msgpack::parse(reinterpret_cast<const char*>(frame.data()), frame.size(), coff, counter);
    } catch (const std::exception&) {
      // Malformed input: ParseOne below names the problem.
    }
    if (counter.deep) return Invalid("p2p message: record nested deeper than " + std::to_string(codec::kMaxDepth) + " levels");
    if (counter.over)
      return Invalid("p2p message: more than " + std::to_string(counter.budget) + " msgpack elements in a record of " +
                     std::to_string(frame.size()) + " bytes");
  }
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
