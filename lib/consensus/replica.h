// A validator's consensus for one height at a time, with crash recovery: a
// Tendermint machine whose every input is written to the write-ahead log
// (consensus/wal.h) before the machine acts on it, and whose signatures go
// through the private validator behind a log of what was signed
// (docs/consensus.md "Crash recovery").
//
// StartHeight(h) either starts a new log section or, when the log holds one
// for h (the node crashed while deciding h), replays it: the machine is
// started and fed the logged inputs in their order, so it reaches the same
// round, step, lock and valid value. Where the replayed machine signs again,
// the signature logged before the crash is returned instead of asking the
// private validator (which refuses every position below its last one); a
// request for another value at a logged position is refused. The replay's
// outputs are returned by TakeOutputs like any others: the driver sends the
// node's own signed messages again (so a height where every validator
// restarted after signing still decides) and schedules the timeouts again.
//
// Ordering that makes this safe: an input is appended before the machine
// sees it; before the private validator signs anything the log is synced,
// so every input that led to a signature is durable before the signature
// exists; the signed message is appended right after signing and the log
// is synced again before TakeOutputs hands any message to the driver to
// send. A crash at any point loses only messages nobody has seen.
//
// Observers (no signer) use a Replica without a log.
//
// Thread safety: none; the consensus thread owns it.
#ifndef GTOS_CONSENSUS_REPLICA_H_
#define GTOS_CONSENSUS_REPLICA_H_

#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "consensus/tendermint.h"
#include "consensus/wal.h"

namespace gtos::consensus {

class Replica {
 public:
  // `wal` may be null (no crash recovery). `signer` (the private validator)
  // is not owned and must outlive the replica; null for an observer.
  Replica(std::unique_ptr<Wal> wal, Signer* signer);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  struct Started {
    size_t replayed = 0;  // inputs replayed from the log (0: a fresh height)
    size_t own = 0;       // own signed messages found in the log
    // The replayed proposals and votes the machine accepted, in log order:
    // the driver gossips them again like messages it received (a lock or
    // valid value may rest on a polka only they prove to others).
    std::vector<Proposal> proposals;
    std::vector<Vote> votes;
  };
  // Builds and starts the machine for config.height (hooks.signer is
  // replaced by the logging signer). Errors: the machine's configuration
  // errors, WAL I/O, and a log section for a height above config.height
  // (the chain lost blocks the log saw decided: refuse, never resign).
  Result<Started> StartHeight(TendermintConfig config, TendermintHooks hooks);

  // The machine's inputs. Errors with code kIO are the log's (the node
  // must stop); any other error is the message's (as Tendermint::On*).
  Status OnProposal(const Proposal& p, uint64_t receive_ms);
  Status OnVote(const Vote& v);
  Status OnTimeout(TimeoutKind kind, uint64_t height, uint64_t round);
  // The machine's outputs; the log is synced before any message to send is
  // returned. Errors: WAL I/O.
  Result<std::vector<Output>> TakeOutputs();

  // The running machine; null before StartHeight and after Stop().
  Tendermint* machine() { return tm_ ? &*tm_ : nullptr; }
  const Tendermint* machine() const { return tm_ ? &*tm_ : nullptr; }
  // Drops the machine (the height is decided or abandoned).
  void Stop();
  const Wal* wal() const { return wal_.get(); }

 private:
  class LoggingSigner;
  using Position = std::pair<uint64_t, uint64_t>;  // (round, SignStep-like: 1 proposal, 2 prevote, 3 precommit)

  Status Record(const WalEntry& e);
  Result<Bytes> SignVote(const Vote& v);
  Result<Bytes> SignProposal(const Proposal& p, const Hash32& digest);

  std::unique_ptr<Wal> wal_;
  Signer* inner_ = nullptr;
  std::unique_ptr<LoggingSigner> signer_;
  std::optional<Tendermint> tm_;
  uint64_t height_ = 0;
  std::string chain_id_;
  // What this node signed at this height (from the log and since), by
  // position: the digest and the signed message.
  std::map<Position, std::pair<Hash32, Bytes>> signed_;
  std::map<uint64_t, Block> own_blocks_;  // own proposal's block by round
  std::optional<Error> io_error_;         // the first log failure
};

}  // namespace gtos::consensus

#endif  // GTOS_CONSENSUS_REPLICA_H_
