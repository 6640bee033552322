// The chain: a data directory's committed blocks and state.
//
// Chain owns the store, the genesis and the state accumulator of the head.
// Blocks are applied whole: one atomic (fsynced) write holds the block's
// state changes, its header and commit certificate, body, receipts, tx index
// and the new head, so a crash at any point leaves the last committed block
// intact (docs/storage.md).
//
// Data directory layout:
//   D/db/          LevelDB (schema in lib/state/schema.h)
//   D/genesis.bin  the genesis record the chain was initialised from
//
// Thread safety: queries (Get*, head()) may run concurrently with each other
// and with one writer (Propose/Apply/Commit); head() is updated atomically
// after a commit is durable. Writers must be serialised by the caller.
#ifndef GTOS_CHAIN_CHAIN_H_
#define GTOS_CHAIN_CHAIN_H_

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/validator_set.h"
#include "state/executor.h"
#include "state/store.h"
#include "types/chain.h"

namespace gtos::chain {

struct ChainOptions {
  std::string datadir;
  bool sync = true;  // fsync each block (off only in benchmarks)
  size_t cache_bytes = 64 << 20;
  size_t write_buffer_bytes = 64 << 20;  // LevelDB memtable
  // Store bodies, receipts, commits and the tx index. Off for the scratch
  // chain of Replay, which needs only state and headers.
  bool store_history = true;
  bool compress = true;  // LevelDB block compression (snappy)
};

// A block together with everything its execution produced.
struct AppliedBlock {
  Block block;  // header filled in, commit set
  state::ExecResult exec;
};

// What a read of a TTL'd object returns.
struct ObjectView {
  uint64_t created_block = 0;
  uint64_t expire_block = 0;
  Bytes data;
};

struct TxLocation {
  uint64_t height = 0;
  uint64_t index = 0;
};

// Where the chain stands in its epochs (docs/consensus.md, "Validator set
// and epochs"). Epoch k is heights [k * epoch_length + 1, (k + 1) *
// epoch_length]; the "current" epoch is that of the next block (head + 1),
// which the active set signs.
struct EpochInfo {
  uint64_t epoch = 0;
  uint64_t epoch_length = 0;
  uint64_t first_height = 0;  // first height of the current epoch
  uint64_t last_height = 0;   // its last height: the boundary block, whose execution chooses the next set
  ActiveSet active_set;       // the set that signs head + 1 (the S entry)
};

// The oldest database schema version that `gtos-node migrate` upgrades
// (lib/chain/migrate.h); older ones predate a consensus change, which
// kNoMigrationReason names (it goes into the error). A new consensus
// change that bumps the schema raises both (docs/upgrades.md 2.3).
inline constexpr uint64_t kOldestMigratable = 5;
inline constexpr std::string_view kNoMigrationReason =
    "version 5 (staking) changed the chain's consensus rules and state";

// A consensus::ValidatorSet of the members of `set`, priorities fresh
// (all zero, as after ValidatorSet::Make).
Result<consensus::ValidatorSet> MakeValidatorSet(const ActiveSet& set);

class Chain {
 public:
  // Creates D/db and D/genesis.bin from `genesis` (which must pass
  // ValidateFull) and commits height 0. Fails if D already holds a chain.
  static Status Init(const std::string& datadir, const Genesis& genesis);
  // Opens an initialised data directory.
  static Result<std::unique_ptr<Chain>> Open(const ChainOptions& options);
  ~Chain();

  const Genesis& genesis() const { return genesis_; }
  const Hash32& genesis_hash() const { return genesis_hash_; }
  // The params in force after the head: the genesis's until an upgrade
  // plan activates (docs/state.md 9.9), then the P "params" entry. A copy,
  // refreshed at each commit; safe from any thread.
  ChainParams params() const;
  // The head's height and the params in force after it, read together.
  std::pair<uint64_t, ChainParams> HeadParams() const;
  // The accepted upgrade plan waiting for its activation, if any.
  Result<std::optional<PendingPlan>> GetPendingPlan() const;
  // The header of the newest committed block (height 0 = genesis).
  BlockHeader head() const;
  uint64_t height() const { return head().height; }

  // Builds the next block from candidate txs and candidate evidence (those
  // not includable / not valid are left out, see exec.left_out and
  // exec.left_out_evidence), with the given proposer and time; the header is
  // complete (roots, validators_hash, next_validators_hash, evidence_root)
  // but the block is not committed. time_ms is raised to parent time + 1 if
  // needed. The proposer is not checked against the set here; Validate
  // checks it.
  // `head_commit`, when given, is the head's certificate to carry as
  // last_commit instead of the stored one: the caller's superset of it with
  // precommits that arrived after the decision (each signature verified by
  // the caller; ignored unless it is for the head's height and hash).
  Result<AppliedBlock> Propose(std::vector<SignedTx> txs, const Address& proposer, uint64_t time_ms,
                               bool verify_signatures, std::vector<Evidence> evidence,
                               const gtos::Commit* head_commit = nullptr) const;
  // Re-executes a received block on top of the head and checks every header
  // field it derives (roots, parent, height, chain id, validators_hash,
  // next_validators_hash, evidence_root) and that the proposer is a member
  // of the set for its height. Any invalid evidence makes the block invalid.
  Result<AppliedBlock> Validate(Block block, bool verify_signatures) const;
  // Commits an applied block with its commit certificate. REQUIRES: the
  // block was produced by Propose/Validate on the current head.
  Status Commit(AppliedBlock applied, const gtos::Commit& commit);

  // The validator set that signs block `height`, 1 <= height <= head + 1,
  // with proposer priorities advanced IncrementPriority() (height -
  // first height of its epoch) times from fresh: proposer rotation is a
  // pure function of the chain. kNotFound outside that range.
  Result<consensus::ValidatorSet> ValidatorSetFor(uint64_t height) const;
  // Checks that `commit` certifies `header`: same height and block hash,
  // header.validators_hash is the hash of ValidatorSetFor(header.height),
  // and ValidatorSet::VerifyCommit holds for that set.
  Status VerifyCommit(const BlockHeader& header, const gtos::Commit& commit) const;
  // Whether `e` would be accepted in the next block (head + 1; head + 2 for
  // evidence of height head + 1): the executor's own evidence rules against
  // the committed state. kCrypto for a bad signature, kInvalid for any
  // other rule. Call it on the writer's thread.
  Status CheckEvidence(const Evidence& e) const;
  // The active set (the S entry: signs head + 1) and the epoch it belongs to.
  Result<EpochInfo> GetEpochInfo() const;

  // Queries against the committed head. Objects are returned only while
  // they exist (head height < expire_block); otherwise nullopt.
  Result<std::optional<Account>> GetAccount(const Address& a) const;
  Result<std::optional<ObjectView>> GetKv(const Address& owner, ByteView ns, ByteView key) const;
  Result<std::optional<ObjectView>> GetCode(const Hash32& code_hash) const;
  Result<std::optional<ValidatorInfo>> GetValidator(const Address& a) const;
  Result<std::vector<std::pair<Address, ValidatorInfo>>> GetValidators() const;
  Result<std::optional<BlockHeader>> GetHeader(uint64_t height) const;
  Result<std::optional<gtos::Commit>> GetCommit(uint64_t height) const;
  // The whole block (header, txs, evidence, commit); nullopt when the
  // height is above the head or its body was pruned.
  Result<std::optional<Block>> GetBlock(uint64_t height) const;
  Result<std::optional<std::vector<Receipt>>> GetReceipts(uint64_t height) const;
  Result<std::optional<TxLocation>> GetTxLocation(const Hash32& id) const;
  // The txs / receipts of block `height`, decoded once and kept for the
  // last few heights asked (kDecodedCacheHeights): the RPC answers many
  // txs of one block in a row (a tos_getReceipt batch, `send --wait`), and
  // decoding the whole body or receipt list for each was quadratic.
  // nullptr when the height is above the head or its history was pruned.
  Result<std::shared_ptr<const std::vector<SignedTx>>> GetBlockTxs(uint64_t height) const;
  Result<std::shared_ptr<const std::vector<Receipt>>> GetReceiptList(uint64_t height) const;
  // The height of the block whose header hashes to `block_hash`: any block
  // whose body is stored (the N index, schema 6), and block 0. nullopt for
  // an unknown hash and for a block whose body was pruned.
  Result<std::optional<uint64_t>> GetHeightByHash(const Hash32& block_hash) const;
  // The lowest height whose body is still stored (the retention window's
  // start, RetentionStart(head), once the chain is long enough).
  uint64_t oldest_body() const;
  // Where the node's retention window starts at `head` (docs/storage.md
  // "Pruning"): the last retain_blocks blocks, and also every block after
  // the second-newest snapshot height (S - snapshot_interval, S the highest
  // multiple of snapshot_interval below head), so that a node restoring
  // either of the two newest snapshots can block-sync.
  uint64_t RetentionStart(uint64_t head) const;

  // What PruneHistory did (or, dry run, would do).
  struct PruneReport {
    uint64_t oldest_before = 0;  // oldest_body() before
    uint64_t oldest_after = 0;   // and after
    uint64_t heights = 0;        // heights whose history was deleted
    uint64_t records = 0;        // database entries deleted: bodies, receipts, tx-index and block-index entries
    uint64_t bytes = 0;          // approximate bytes on disk of the deleted ranges (before compaction)
  };
  // Offline pruning (gtos-prune): deletes the bodies, receipts, tx-index
  // and block-hash index entries of every height below head - retain_blocks + 1 (retain_blocks
  // 0: below RetentionStart(head), the node's window), oldest first, in
  // batches that each also record the new oldest_body, so an interrupted run
  // leaves a consistent database and a re-run completes it. Headers,
  // commits and the set history stay. The bytes are freed by compaction
  // (CompactAll, which gtos-prune runs next). dry_run: computes the report
  // only. progress(done, total) counts heights.
  Result<PruneReport> PruneHistory(uint64_t retain_blocks, bool dry_run,
                                   const std::function<void(uint64_t, uint64_t)>& progress = {});
  // Compacts the whole database (frees the bytes of deleted entries).
  void CompactAll();

  // Re-executes every stored block from genesis in a scratch copy of the
  // state and compares each state root with the stored header. Calls
  // progress(height) after each block.
  Status Replay(const std::function<void(uint64_t)>& progress) const;

  state::Store& store() { return *store_; }
  const state::Store& store() const { return *store_; }
  // The state accumulator of the head.
  state::LtHash accumulator() const;

 private:
  Chain() = default;
  Result<AppliedBlock> Execute(Block block, bool verify, state::ExecMode mode) const;
  // Adds to `b` the deletion of the bodies, receipts, tx-index and
  // block-hash index entries of heights [from, to); returns the number of
  // entries deleted.
  Result<uint64_t> DeleteHistoryRange(uint64_t from, uint64_t to, state::WriteBatch& b) const;

  ChainOptions options_;
  std::unique_ptr<state::Store> store_;
  Genesis genesis_;
  Hash32 genesis_hash_;
  std::unique_ptr<state::Executor> executor_;
  mutable std::mutex mu_;
  BlockHeader head_;            // GUARDED_BY(mu_)
  state::LtHash accumulator_;   // GUARDED_BY(mu_)
  uint64_t oldest_body_ = 1;    // GUARDED_BY(mu_)
  ChainParams params_;          // GUARDED_BY(mu_): in force after head_
  // GetBlockTxs / GetReceiptList: (height, decoded) of recent asks, newest
  // last; an entry below oldest_body() is never served (pruned since).
  static constexpr size_t kDecodedCacheHeights = 4;
  mutable std::mutex cache_mu_;
  mutable std::deque<std::pair<uint64_t, std::shared_ptr<const std::vector<SignedTx>>>> txs_cache_;       // GUARDED_BY(cache_mu_)
  mutable std::deque<std::pair<uint64_t, std::shared_ptr<const std::vector<Receipt>>>> receipts_cache_;  // GUARDED_BY(cache_mu_)
};

}  // namespace gtos::chain

#endif  // GTOS_CHAIN_CHAIN_H_
