// A running node: chain + mempool + consensus + p2p + RPC (docs/node.md,
// docs/consensus.md "The driver").
//
// Every node, from a one-validator dev chain to a network of validators,
// agrees on blocks the same way: one consensus::Tendermint machine per
// height, driven by the node's consensus thread (the one calling Run()).
// The driver feeds the machine proposals and votes from peers and its own
// timeouts, proposes blocks built from the mempool when it is the round's
// proposer, validates proposed blocks by executing them on the head, and
// commits the decided block with its commit certificate. A validator signs
// through a PrivValidator (double-sign protection, fsynced state file
// D/privval_state.bin); a node without a validator key follows as an
// observer.
//
// Besides consensus the driver:
//  - keeps a 1 s rhythm: height h+1 starts target_block_interval_ms after
//    height h started (immediately when behind);
//  - relays valid proposals and votes once, re-sends the current height's
//    messages to new peers and whenever no block was decided for a while;
//  - block-syncs: when a peer reports a higher height it asks for blocks,
//    checks each commit certificate against the validator set, executes and
//    commits them;
//  - collects equivocation evidence (from its machine or from peers),
//    gossips it and puts it into its proposals;
//  - gossips txs admitted to its mempool (a separate thread admits txs
//    received from peers, so signature checks never stall consensus).
//
// Threads (docs/consensus.md "Threads of the node"): Run() is the
// consensus thread, the only one that touches the machine, the evidence pool
// (EvidencePool), block sync and the pending buffer; the p2p host has an I/O
// thread that only enqueues; TxGossip has a thread that admits peers' txs
// and sends batches; RPC threads call the rpc::Backend methods, which read
// atomics (NodeMetrics, readiness) and the host through net_ptr_.
#ifndef GTOS_NODE_NODE_H_
#define GTOS_NODE_NODE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "chain/chain.h"
#include "consensus/privval.h"
#include "consensus/replica.h"
#include "consensus/tendermint.h"
#include "net/net.h"
#include "node/block_sync.h"
#include "node/evidence_pool.h"
#include "node/mempool.h"
#include "node/metrics.h"
#include "node/snapshots.h"
#include "node/tx_gossip.h"
#include "rpc/backend.h"
#include "rpc/server.h"

namespace gtos::node {

struct P2pOptions {
  std::string listen;                // "host:port"; empty: no listener
  std::string external;              // advertised address; empty: listen
  std::vector<std::string> peers;    // dialled and redialled forever
  size_t max_peers = 32;
  size_t max_inbound = 24;
  size_t max_outbound = 10;
  size_t max_per_ip = 8;
  std::vector<Bytes> reserved_keys;  // node keys: slots kept free for them
  bool allow_private = false;        // dial private/loopback addresses learned from peers
  bool discovery = true;
};
// The p2p host options for this chain and node key (everything else from
// `p2p`).
net::NetOptions MakeNetOptions(const P2pOptions& p2p, const Genesis& genesis, const Hash32& genesis_hash,
                               Bytes node_secret, Bytes node_public);

struct NodeOptions {
  std::string datadir;
  rpc::ServerOptions rpc;
  MempoolOptions mempool;
  P2pOptions p2p;
  // The validator key. Empty: D/validator.key if it exists, otherwise the
  // node runs as an observer (a full node that follows and serves).
  std::string validator_key_file;
  std::string passphrase_file;     // for an encrypted validator key (the tool maps
                                   // GTOS_PASSPHRASE_FILE here; the core reads no env)
  bool sync = true;                // fsync every block
  size_t snapshot_keep = 3;        // automatic snapshots kept in D/snapshots
  // The height state sync restored before this start (0: none), shown in
  // the metrics.
  uint64_t statesync_restored_height = 0;
  // Set with --state-sync: when the peers answer that they no longer keep
  // head + 1 (the node fell behind their retention window), Run() stops
  // and fell_behind() is true, so that the caller can state-sync and start
  // again (docs/node.md "Falling behind the window"). Otherwise the node
  // keeps trying and warns once a minute.
  bool state_sync_when_behind = false;
  // Readiness (docs/node.md "Health and metrics"): /readyz fails once no
  // block was committed for this many block intervals (target_block_interval_ms).
  uint64_t ready_max_block_intervals = 10;
  // Stop cleanly once this height is committed (0: never): --halt-height.
  uint64_t halt_height = 0;
  // A validator that finds its key's precommit in a commit its own private
  // validator did not sign (another instance with the same key) signs
  // nothing until this many heights have passed (0: off). Checked over the
  // last N commits at start and on every commit after.
  uint64_t double_sign_check_height = 0;
  // --sign-journal FILE: append one JSON line for every proposal and vote
  // this validator signs, before it leaves the node (docs/node.md "Sign
  // journal"). Written with write(2), not fsynced: it survives a process
  // crash, not a power loss. Empty: none.
  std::string sign_journal;
  // !!! TESTS ONLY: sign a second, conflicting prevote for every prevote,
  // to prove that equivocation is detected, committed and slashed.
  bool equivocate_for_tests = false;
  // !!! TESTS ONLY: misbehave as a hostile peer (gtos-node run
  // --unsafe-byzantine MODE, hidden): "tamper-proposals" sends a
  // body-stripped copy of every proposal before the genuine one;
  // "lie-height" claims height 2^62 and never serves blocks; "silent" signs
  // but sends no proposal or vote; "flood-proposals" sends 8 signed
  // proposals of 4 MiB for head + 2 every second; "forge-blocks" answers
  // block requests with the blocks 1 ms later under a certificate of its
  // own signature only; "equivocate-proposals" signs a second proposal (the
  // block 1 ms later) for every proposal it makes and sends it to half of
  // its peers. Empty: none.
  std::string byzantine_for_tests;
};

// The node key (p2p identity): D/node.key, an unencrypted ed25519
// private_key record (mode 0600). Created when missing.
Status EnsureNodeKey(const std::string& datadir);
// Reads the node key at `path`: its 32-byte secret (and public key).
Result<Bytes> ReadNodeKeySecret(const std::string& path, Bytes* public_key);

class Node : public rpc::Backend, private net::Handler {
 public:
  static Result<std::unique_ptr<Node>> Open(const NodeOptions& options);
  ~Node() override;

  // Serves RPC and p2p and runs consensus until `stop` becomes true; then
  // stops and returns. A failed commit (e.g. disk error) stops the node
  // with that error.
  Status Run(const std::atomic<bool>& stop);
  // Run() returned because the peers no longer keep the blocks this node
  // needs and NodeOptions::state_sync_when_behind is set.
  bool fell_behind() const { return fell_behind_; }
  int rpc_port() const;
  int p2p_port() const;

  // rpc::Backend
  const chain::Chain& chain() const override { return *chain_; }
  Result<Hash32> SubmitTx(SignedTx tx) override;
  uint64_t NextNonce(const Address& a) const override { return mempool_->NextNonce(a); }
  size_t MempoolSize() const override { return mempool_->size(); }
  bool Ready() const override { return ready_.load(); }
  std::string NotReadyReason() const override;
  rpc::SyncStatus Syncing() const override;
  std::vector<rpc::PeerView> Peers() const override;
  rpc::MempoolView MempoolInfo(size_t max_senders) const override;
  std::vector<SignedTx> MempoolTxs(size_t max_txs, const std::optional<Address>& from) const override;
  // Run() returned because the halt height was committed.
  bool halted() const { return halted_; }
  std::string Metrics() const override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Event {
    enum Kind { kMessage, kConnected, kDisconnected } kind = kMessage;
    net::PeerId peer = 0;
    std::optional<net::Message> msg;
    net::PeerInfo info;
  };
  struct Timer {
    consensus::TimeoutKind kind;
    uint64_t height = 0;
    uint64_t round = 0;
  };

  Node() = default;

  // net::Handler (I/O thread): enqueue and return.
  void OnConnected(const net::PeerInfo& peer) override;
  void OnDisconnected(net::PeerId peer) override;
  void OnMessage(net::PeerId peer, net::Message msg) override;

  // Consensus thread.
  Status Step(Clock::time_point now);
  Status StartHeight();
  Status Drain();
  Status HandleEvent(Event ev);
  Status HandleMessage(net::PeerId peer, net::Message& msg);
  // A proposal or vote from a peer (or buffered): to the machine if it is
  // for the running height, buffered if for one not started yet; relayed
  // once if the machine accepts it.
  // Errors: the consensus WAL failed (the node stops).
  Status Deliver(std::optional<net::PeerId> from, net::Message m);
  void AddEvidence(std::optional<net::PeerId> from, const Evidence& e);
  Block MakeProposal();
  bool ValidateProposal(const Block& block);
  Status VerifyUnknownTxs(const Block& block) const;
  Status CommitBlock(chain::AppliedBlock applied, const Commit& commit, bool decided_here, uint64_t round);
  Status ApplySyncedBlocks(net::PeerId peer, std::vector<Block> blocks);
  // An empty answer to a block request: when the peer's claimed height puts
  // head + 1 below its retention window, it pruned that height.
  void NotePrunedAnswer(net::PeerId peer, Clock::time_point now);
  void MaybeRequestBlocks(Clock::time_point now);
  void Regossip(std::optional<net::PeerId> to);
  void Send(net::PeerId peer, const net::Message& m);
  void Broadcast(const net::Message& m, std::optional<net::PeerId> except = std::nullopt);
  void Penalize(net::PeerId peer, int points, const std::string& why);
  // Test-only misbehaviour (NodeOptions::byzantine_for_tests).
  bool Byz(std::string_view mode) const { return options_.byzantine_for_tests == mode; }
  net::Status MyStatus();
  void SendTampered(const consensus::Proposal& p, std::optional<net::PeerId> except);
  void SendConflictingProposal(const consensus::Proposal& p);
  void FloodProposals();
  void ServeForged(net::PeerId peer, const net::GetBlocks& req);
  Clock::time_point last_flood_;
  uint64_t flood_height_ = 0, flood_round_ = 0;


  NodeOptions options_;
  std::unique_ptr<chain::Chain> chain_;
  std::unique_ptr<Mempool> mempool_;
  std::unique_ptr<SnapshotService> snapshots_;
  std::unique_ptr<rpc::Server> rpc_;
  std::unique_ptr<net::Host> net_;
  // net_ for RPC threads (Metrics, Peers, readiness): set once Run() made
  // the host; net_ itself is the consensus thread's.
  std::atomic<net::Host*> net_ptr_{nullptr};
  Bytes node_secret_, node_public_;

  // Validator identity (absent for an observer).
  std::optional<Address> validator_address_;
  std::unique_ptr<consensus::PrivValidator> privval_;
  std::unique_ptr<consensus::Signer> signer_;
  // double_sign_check_height: the signer refuses every height below this
  // (0: none). Set by CheckForeignSignature on the consensus thread.
  std::atomic<uint64_t> refuse_sign_below_{0};
  // A commit with this validator's precommit at a height its private
  // validator never signed: another instance has the key; refuse to sign
  // for double_sign_check_height heights (docs/consensus.md).
  void CheckForeignSignature(const Commit& c);
  // The sign journal (NodeOptions::sign_journal; -1: none). Consensus thread.
  int journal_fd_ = -1;
  bool journal_failed_ = false;
  void JournalProposal(const consensus::Proposal& p);
  void JournalVote(const Vote& v);
  void JournalLine(const std::string& line);

  // ---- consensus thread state ----
  // The consensus of head + 1 (machine, WAL, logging signer); its machine
  // exists once the height started and until it is committed.
  std::unique_ptr<consensus::Replica> replica_;
  consensus::Tendermint* tm() { return replica_->machine(); }
  consensus::Timeouts timeouts_;
  Clock::time_point next_start_;             // when head + 1 may start
  Clock::time_point height_started_;
  Clock::time_point last_progress_;
  Clock::time_point last_status_;
  Clock::time_point last_regossip_;
  // Peers that answered "pruned" for head + 1 since the last commit.
  std::set<net::PeerId> pruned_answers_;
  Clock::time_point last_behind_warn_{};
  bool fell_behind_ = false;
  // The peers' window start when they last said they pruned head + 1 (0: no).
  std::atomic<uint64_t> behind_window_from_{0};
  bool halted_ = false;
  void CheckUpgradeHalt();
  Clock::time_point last_stuck_log_{};
  // What readiness reads from RPC threads, published by the consensus thread.
  std::atomic<int64_t> last_commit_steady_ns_{0};
  std::atomic<uint64_t> peers_best_height_{0};
  std::atomic<uint64_t> peers_with_status_{0};
  std::atomic<uint64_t> heard_power_{0};
  std::atomic<uint64_t> set_power_{0};
  std::atomic<uint64_t> set_size_{0};
  std::atomic<bool> waiting_genesis_{false};
  void PublishHealth(Clock::time_point now);
  void LogIfStuck(Clock::time_point now);
  std::map<Hash32, chain::AppliedBlock> applied_;  // executed candidates of head + 1
  std::map<Hash32, bool> invalid_;                 // candidates that failed validation
  std::multimap<Clock::time_point, Timer> timers_;
  // Valid messages of the current height, in arrival order: re-sent to new
  // peers and when stuck. seen_ dedups by the message's hash.
  std::vector<net::Message> height_msgs_;
  // Regossip's per (peer, round, block hash) backoff for proposals.
  struct ResendBackoff {
    Clock::time_point next{};
    uint64_t count = 0;
  };
  std::map<std::tuple<net::PeerId, uint64_t, Hash32>, ResendBackoff> proposal_resend_;
  std::set<Hash32> seen_;
  // Messages for heights not started yet (head + 1 while waiting, head + 2),
  // with their sender: only from validators of the current set, within a
  // byte cap per peer and in all; delivered (and judged, the sender
  // penalised for invalid ones) when the height starts.
  struct Pending {
    std::optional<net::PeerId> from;
    net::Message msg;
    size_t bytes = 0;
  };
  std::map<uint64_t, std::vector<Pending>> pending_;
  size_t pending_count_ = 0;
  size_t pending_bytes_ = 0;
  std::map<net::PeerId, size_t> pending_peer_bytes_;
  std::optional<consensus::ValidatorSet> current_set_;  // the set of head + 1
  void ClearPending(uint64_t up_to_height);
  // The decided proposal and its precommits of the last height decided
  // here: sent to a peer one height behind, so it decides without block sync.
  std::vector<net::Message> last_height_msgs_;
  // The head's certificate, grown by precommits for it that arrive after
  // the decision, carried as last_commit when this node proposes head + 1:
  // an online validator whose precommit was not among the first 2/3 still
  // counts as signing (downtime, rewards; docs/consensus.md "Late
  // precommits"). head_set_ is the head's validator set, read once needed.
  std::optional<Commit> head_commit_;
  std::optional<consensus::ValidatorSet> head_set_;
  void NoteLatePrecommit(std::optional<net::PeerId> from, const Vote& v);
  std::map<net::PeerId, uint64_t> last_height_sent_;
  // Keyed (validator, h, r, type); type 3 (proposal) for proposal evidence.
  std::unique_ptr<EvidencePool> evidence_;  // consensus thread
  BlockSync sync_;
  std::unique_ptr<BlockServer> block_server_;  // with the p2p host

  // ---- events from the I/O thread ----
  std::mutex ev_mu_;
  std::condition_variable ev_cv_;
  std::deque<Event> events_;  // GUARDED_BY(ev_mu_)

  // ---- tx gossip (its own thread) ----
  std::unique_ptr<TxGossip> gossip_;

  // ---- metrics (docs/node.md "Health and metrics") ----
  std::atomic<bool> ready_{false};
  NodeMetrics metrics_;
};

}  // namespace gtos::node

#endif  // GTOS_NODE_NODE_H_
