// The consensus write-ahead log (docs/consensus.md "Crash recovery",
// byte format in docs/formats.md "Consensus WAL").
//
// A validator must be, after a crash and restart, indistinguishable from one
// that paused: same round, step, lock and valid value, and the same signed
// messages. The machine (consensus/tendermint.h) is deterministic, so the
// log records its inputs for the height being decided — proposals with the
// time they arrived, votes, timeouts that fired — and the node's own signed
// proposals and votes; replaying the inputs in order rebuilds the state,
// and the own messages let the replay re-use the signatures the private
// validator already released (it refuses to sign a lower position again).
//
// The file holds one height: StartHeight(h) empties it and writes a height
// marker, so it stays bounded by one height's messages (one proposal per
// round and one vote per validator, type and round, all bounded by the
// machine). Entries are framed as
//   u32 length (big-endian) | u32 CRC-32C of the payload (big-endian) | payload
// where the payload is one canonical record (wal_height, wal_proposal,
// wal_vote, wal_timeout).
//
// Durability: Append() hands the bytes to the kernel (write(2)); Sync()
// makes everything appended so far durable (fdatasync). The driver syncs
// before its private validator signs and again before a signed message
// leaves, so every input that led to a released signature, and the
// signature itself, survive a crash (consensus/replica.h).
//
// Recovery at Open: entries are read until the end. A torn tail — an entry
// cut short by a crash mid-write (its length runs past the end, or the last
// entry's checksum fails), or a tail of zero bytes — is dropped and the
// file truncated to the last whole entry. Damage anywhere else (a checksum
// failure followed by more entries, an entry that does not decode) is an
// error naming the file and the byte offset: the node refuses to start
// rather than forget what it signed.
//
// Thread safety: none; the consensus thread owns the log.
#ifndef GTOS_CONSENSUS_WAL_H_
#define GTOS_CONSENSUS_WAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "consensus/tendermint.h"

namespace gtos::consensus {

// Entries larger than this are damage, not data (a proposal is at most one
// block, and a block record is capped at 64 MiB).
inline constexpr uint32_t kMaxWalEntryBytes = 80u << 20;

struct WalEntry {
  enum class Kind : uint8_t { kHeight, kProposal, kVote, kTimeout };
  Kind kind = Kind::kHeight;
  uint64_t height = 0;      // kHeight: the height this section is for; kTimeout
  bool own = false;         // kProposal, kVote: signed by this node
  uint64_t receive_ms = 0;  // kProposal (not own): the driver's clock on arrival
  Proposal proposal;        // kProposal
  Vote vote;                // kVote
  TimeoutKind timeout = TimeoutKind::kPropose;  // kTimeout
  uint64_t round = 0;                           // kTimeout

  static WalEntry Height(uint64_t h);
  static WalEntry ProposalIn(Proposal p, uint64_t receive_ms);
  static WalEntry OwnProposal(Proposal p);
  static WalEntry VoteIn(Vote v);
  static WalEntry OwnVote(Vote v);
  static WalEntry Timeout(TimeoutKind kind, uint64_t height, uint64_t round);
};

// The payload record of one entry, and back.
Bytes EncodeWalPayload(const WalEntry& e);
Result<WalEntry> DecodeWalPayload(ByteView payload);
// One framed entry: length, checksum, payload.
Bytes FrameWalEntry(const WalEntry& e);

struct WalOptions {
  bool sync = true;  // false: Sync() does not fsync (tests, --no-sync nodes)
};

class Wal {
 public:
  // Opens (creating when missing, mode 0600) the log at `path` and reads
  // it as described above.
  static Result<std::unique_ptr<Wal>> Open(std::string path, WalOptions options = {});
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // The section found at Open: its height (0: the log was empty) and its
  // entries after the height marker, in order.
  uint64_t recovered_height() const { return recovered_height_; }
  const std::vector<WalEntry>& recovered() const { return recovered_; }
  // Bytes of a torn tail dropped at Open (0: none).
  uint64_t dropped_tail_bytes() const { return dropped_tail_; }

  // Starts the section of height `h`: empties the file and writes the
  // marker (synced). The previous height's entries are gone: it is
  // committed, and the chain's commit is durable before this is called.
  Status StartHeight(uint64_t h);
  Status Append(const WalEntry& e);
  // fdatasync when something was appended since the last Sync.
  Status Sync();
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Bytes known durable: everything up to here survives a crash.
  uint64_t synced_size() const { return synced_size_; }

 private:
  Wal() = default;
  Status Read();
  Status Write(ByteView bytes);

  std::string path_;
  WalOptions options_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t synced_size_ = 0;
  bool dirty_ = false;
  uint64_t recovered_height_ = 0;
  std::vector<WalEntry> recovered_;
  uint64_t dropped_tail_ = 0;
};

}  // namespace gtos::consensus

#endif  // GTOS_CONSENSUS_WAL_H_
