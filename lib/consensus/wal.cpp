#include "consensus/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crypto/hash.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::consensus {

namespace {

// The payload records. Proposals and votes are held by reference so that a
// block is neither copied to be written nor after being read.
struct WalHeightRec {
  static constexpr RecordType kType = RecordType::kWalHeight;
  static constexpr uint64_t kVersion = 1;
  uint64_t height = 0;
  template <class V> void Fields(V& v) { v.Uint("height", height); }
};

struct WalProposalRec {
  static constexpr RecordType kType = RecordType::kWalProposal;
  static constexpr uint64_t kVersion = 1;
  uint64_t own = 0;
  uint64_t receive_ms = 0;
  Proposal& p;
  uint64_t valid_round_plus_one = 0;
  template <class V> void Fields(V& v) {
    v.Uint("own", own, 1);
    v.Uint("receive_ms", receive_ms);
    v.Uint("height", p.height);
    v.Uint("round", p.round, kMaxRound);
    v.Uint("valid_round", valid_round_plus_one, kMaxRound + 1);
    v.Object("block", p.block);
    v.Fixed("proposer", p.proposer);
    v.Bin("signature", p.signature, kMaxSignatureBytes);
  }
};

struct WalVoteRec {
  static constexpr RecordType kType = RecordType::kWalVote;
  static constexpr uint64_t kVersion = 1;
  uint64_t own = 0;
  Vote& vote;
  template <class V> void Fields(V& v) {
    v.Uint("own", own, 1);
    v.Object("vote", vote);
  }
};

struct WalTimeoutRec {
  static constexpr RecordType kType = RecordType::kWalTimeout;
  static constexpr uint64_t kVersion = 1;
  uint64_t kind = 0;
  uint64_t height = 0;
  uint64_t round = 0;
  template <class V> void Fields(V& v) {
    v.Uint("kind", kind, 3);
    v.Uint("height", height);
    v.Uint("round", round, kMaxRound);
  }
};

template <class R>
Status DecodeInto(const codec::Parsed& p, R& out) {
  codec::Reader r(p.handle.get(), p.raw, "");
  internal::ReadType(r, static_cast<uint64_t>(R::kType));
  internal::ReadVersion(r, static_cast<uint64_t>(R::kType), R::kVersion);
  codec::DecodeVisitor v(r);
  if (r.ok()) out.Fields(v);
  return r.Finish();
}

void PutU32(Bytes& b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t GetU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         static_cast<uint32_t>(p[3]);
}

Error IoError(const std::string& what, const std::string& path) {
  return Error{ErrorCode::kIO, what + " '" + path + "': " + std::strerror(errno), {}};
}

}  // namespace

WalEntry WalEntry::Height(uint64_t h) {
  WalEntry e;
  e.kind = Kind::kHeight;
  e.height = h;
  return e;
}
WalEntry WalEntry::ProposalIn(Proposal p, uint64_t receive_ms) {
  WalEntry e;
  e.kind = Kind::kProposal;
  e.height = p.height;
  e.receive_ms = receive_ms;
  e.proposal = std::move(p);
  return e;
}
WalEntry WalEntry::OwnProposal(Proposal p) {
  WalEntry e = ProposalIn(std::move(p), 0);
  e.own = true;
  return e;
}
WalEntry WalEntry::VoteIn(Vote v) {
  WalEntry e;
  e.kind = Kind::kVote;
  e.height = v.height;
  e.vote = std::move(v);
  return e;
}
WalEntry WalEntry::OwnVote(Vote v) {
  WalEntry e = VoteIn(std::move(v));
  e.own = true;
  return e;
}
WalEntry WalEntry::Timeout(TimeoutKind kind, uint64_t height, uint64_t round) {
  WalEntry e;
  e.kind = Kind::kTimeout;
  e.timeout = kind;
  e.height = height;
  e.round = round;
  return e;
}

Bytes EncodeWalPayload(const WalEntry& e) {
  auto& m = const_cast<WalEntry&>(e);  // encoding never writes
  switch (e.kind) {
    case WalEntry::Kind::kHeight:
      return EncodeRecord(WalHeightRec{e.height});
    case WalEntry::Kind::kProposal:
      return EncodeRecord(WalProposalRec{e.own ? 1u : 0u, e.receive_ms, m.proposal,
                                         static_cast<uint64_t>(e.proposal.valid_round + 1)});
    case WalEntry::Kind::kVote:
      return EncodeRecord(WalVoteRec{e.own ? 1u : 0u, m.vote});
    case WalEntry::Kind::kTimeout:
      return EncodeRecord(WalTimeoutRec{static_cast<uint64_t>(e.timeout), e.height, e.round});
  }
  return {};
}

Result<WalEntry> DecodeWalPayload(ByteView payload) {
  size_t off = 0;
  auto parsed = codec::ParseOne(payload, &off);
  if (!parsed) return std::unexpected(parsed.error());
  if (!*parsed || off != payload.size()) return Invalid("WAL entry is not exactly one record");
  const msgpack::object& o = (*parsed)->handle.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size < 2 ||
      o.via.array.ptr[0].type != msgpack::type::POSITIVE_INTEGER)
    return Invalid("WAL entry is not a record");
  WalEntry e;
  switch (static_cast<RecordType>(o.via.array.ptr[0].via.u64)) {
    case RecordType::kWalHeight: {
      WalHeightRec r;
      GTOS_TRY(DecodeInto(**parsed, r));
      return WalEntry::Height(r.height);
    }
    case RecordType::kWalProposal: {
      WalProposalRec r{0, 0, e.proposal, 0};
      GTOS_TRY(DecodeInto(**parsed, r));
      e.kind = WalEntry::Kind::kProposal;
      e.own = r.own == 1;
      e.receive_ms = r.receive_ms;
      e.proposal.valid_round = static_cast<int64_t>(r.valid_round_plus_one) - 1;
      e.height = e.proposal.height;
      return e;
    }
    case RecordType::kWalVote: {
      WalVoteRec r{0, e.vote};
      GTOS_TRY(DecodeInto(**parsed, r));
      e.kind = WalEntry::Kind::kVote;
      e.own = r.own == 1;
      e.height = e.vote.height;
      return e;
    }
    case RecordType::kWalTimeout: {
      WalTimeoutRec r;
      GTOS_TRY(DecodeInto(**parsed, r));
      if (r.kind == 0) return Invalid("wal_timeout: field 'kind': 0 is not a timeout kind");
      return WalEntry::Timeout(static_cast<TimeoutKind>(r.kind), r.height, r.round);
    }
    default:
      return Invalid("WAL entry has unknown record type " + std::to_string(o.via.array.ptr[0].via.u64));
  }
}

Bytes FrameWalEntry(const WalEntry& e) {
  Bytes payload = EncodeWalPayload(e);
  Bytes out;
  out.reserve(payload.size() + 8);
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out, crypto::Crc32c(payload));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// ---- the file -------------------------------------------------------------------

Result<std::unique_ptr<Wal>> Wal::Open(std::string path, WalOptions options) {
  std::unique_ptr<Wal> w(new Wal());
  w->path_ = std::move(path);
  w->options_ = options;
  bool existed = std::filesystem::exists(w->path_);
  w->fd_ = ::open(w->path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (w->fd_ < 0) return std::unexpected(IoError("cannot open consensus WAL", w->path_));
  if (!existed) ::fchmod(w->fd_, 0600);  // exactly 0600, whatever the umask
  if (!existed && options.sync) {
    std::string dir = std::filesystem::path(w->path_).parent_path().string();
    GTOS_TRY(SyncDirectory(dir.empty() ? "." : dir));
  }
  GTOS_TRY(w->Read());
  return w;
}

Wal::~Wal() {
  if (fd_ >= 0) ::close(fd_);
}

Status Wal::Read() {
  auto data = ReadFile(path_);
  if (!data) return std::unexpected(data.error());
  const Bytes& d = *data;
  const size_t n = d.size();
  size_t off = 0;
  auto damaged = [&](size_t at, const std::string& what) -> Status {
    return Fail(ErrorCode::kInvalid,
                "consensus WAL '" + path_ + "' is damaged at byte offset " + std::to_string(at) + ": " + what,
                "the node will not start without what it signed; restore the file from a backup, or, if this "
                "validator has certainly not signed anything at height " + std::to_string(recovered_height_ + 1) +
                    " or above, move it aside");
  };
  bool torn = false;
  while (off < n) {
    if (n - off < 8) {
      torn = true;  // a frame header cut short
      break;
    }
    uint32_t len = GetU32(&d[off]);
    uint32_t crc = GetU32(&d[off + 4]);
    if (len == 0) {
      // A crash can leave zeros where an append was going; anything else
      // after them is damage.
      bool zeros = std::all_of(d.begin() + static_cast<ptrdiff_t>(off), d.end(), [](uint8_t b) { return b == 0; });
      if (zeros) {
        torn = true;
        break;
      }
      return damaged(off, "an entry of length 0");
    }
    if (len > n - off - 8) {
      torn = true;  // the entry runs past the end: cut short by a crash
      break;
    }
    if (len > kMaxWalEntryBytes) return damaged(off, "an entry of " + std::to_string(len) + " bytes");
    ByteView payload(&d[off + 8], len);
    if (crypto::Crc32c(payload) != crc) {
      if (off + 8 + len == n) {
        torn = true;  // the last entry, partly written
        break;
      }
      return damaged(off, "checksum mismatch");
    }
    auto e = DecodeWalPayload(payload);
    if (!e) return damaged(off, e.error().message);
    if (e->kind == WalEntry::Kind::kHeight) {
      recovered_height_ = e->height;
      recovered_.clear();
    } else {
      if (recovered_height_ == 0) return damaged(off, "an entry before any height marker");
      if (e->height != recovered_height_)
        return damaged(off, "an entry of height " + std::to_string(e->height) + " in the section of height " +
                                std::to_string(recovered_height_));
      recovered_.push_back(std::move(*e));
    }
    off += 8 + len;
  }
  size_ = off;
  synced_size_ = off;
  if (torn) {
    dropped_tail_ = n - off;
    if (::ftruncate(fd_, static_cast<off_t>(off)) != 0) return std::unexpected(IoError("cannot truncate", path_));
    if (options_.sync && ::fdatasync(fd_) != 0) return std::unexpected(IoError("cannot sync", path_));
  }
  return Ok();
}

Status Wal::Write(ByteView bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t k = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (k < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(IoError("cannot write consensus WAL", path_));
    }
    done += static_cast<size_t>(k);
  }
  size_ += bytes.size();
  dirty_ = true;
  return Ok();
}

Status Wal::StartHeight(uint64_t h) {
  if (::ftruncate(fd_, 0) != 0) return std::unexpected(IoError("cannot truncate consensus WAL", path_));
  size_ = 0;
  synced_size_ = 0;
  recovered_height_ = 0;
  recovered_.clear();
  GTOS_TRY(Write(FrameWalEntry(WalEntry::Height(h))));
  return Sync();
}

Status Wal::Append(const WalEntry& e) { return Write(FrameWalEntry(e)); }

Status Wal::Sync() {
  if (!dirty_) return Ok();
  if (options_.sync && ::fdatasync(fd_) != 0) return std::unexpected(IoError("cannot sync consensus WAL", path_));
  dirty_ = false;
  synced_size_ = size_;
  return Ok();
}

}  // namespace gtos::consensus
