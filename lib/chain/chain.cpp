#include "chain/chain.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <future>

#include "chain/stored.h"
#include "state/schema.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::chain {

namespace fs = std::filesystem;
namespace schema = state::schema;

namespace {

std::string DbPath(const std::string& datadir) { return datadir + "/db"; }
std::string GenesisPath(const std::string& datadir) { return datadir + "/genesis.bin"; }

std::string ToString(const Bytes& b) { return std::string(b.begin(), b.end()); }

template <class R>
Result<R> DecodeStoredRecord(std::string_view s, std::string_view what) {
  auto r = DecodeRecord<R>(AsBytes(s));
  if (!r) return Fail(ErrorCode::kInternal, "corrupt " + std::string(what) + " in database: " + r.error().message);
  return r;
}

using stored::Body;
using stored::ReceiptList;
using stored::TxLoc;

// At most this many heights leave the window per committed block (a backlog,
// e.g. after restoring, is worked off gradually).
constexpr uint64_t kMaxPrunePerBlock = 16;

}  // namespace

Result<consensus::ValidatorSet> MakeValidatorSet(const ActiveSet& set) {
  std::vector<consensus::Validator> vs;
  vs.reserve(set.validators.size());
  for (const ActiveValidator& v : set.validators)
    vs.push_back(consensus::Validator{v.address, v.consensus_algo, v.consensus_key, v.power, 0});
  auto made = consensus::ValidatorSet::Make(std::move(vs));
  if (!made) return Fail(ErrorCode::kInternal, "stored validator set: " + made.error().message);
  return made;
}

Status Chain::Init(const std::string& datadir, const Genesis& genesis) {
  auto gs = state::BuildGenesisState(genesis);
  if (!gs) return std::unexpected(gs.error());
  GTOS_TRY(MakeDirs(datadir, 0700));
  if (fs::exists(DbPath(datadir)) || fs::exists(GenesisPath(datadir)))
    return Fail(ErrorCode::kInvalid, "'" + datadir + "' already holds a chain",
                "use another --datadir, or remove the directory to start over");
  state::StoreOptions so;
  so.path = DbPath(datadir);
  so.create_if_missing = true;
  so.error_if_exists = true;
  auto store = state::Store::Open(so);
  if (!store) return std::unexpected(store.error());

  BlockHeader h0;
  h0.chain_id = genesis.chain_id;
  h0.height = 0;
  h0.time_ms = genesis.genesis_time_ms;
  h0.state_root = gs->state_root;
  h0.parent_hash = genesis.Hash();  // binds block 0 to its genesis
  state::WriteBatch& b = gs->batch;
  Bytes genesis_bytes = EncodeRecord(genesis);
  b.Put(schema::MetaKey(schema::kMetaGenesis), ToString(genesis_bytes));
  b.Put(schema::MetaKey(schema::kMetaAccumulator), ToString(gs->accumulator.Serialize()));
  b.Put(schema::HeightKey(schema::kHeader, 0), ToString(EncodeRecord(h0)));
  b.Put(schema::SetHistoryKey(gs->active_set.first_height), state::EncodeValue(gs->active_set));
  std::string head;
  schema::AppendBE64(&head, 0);
  b.Put(schema::MetaKey(schema::kMetaHead), head);
  std::string format;
  schema::AppendBE64(&format, schema::kSchemaVersion);
  b.Put(schema::MetaKey(schema::kMetaFormat), format);
  GTOS_TRY((*store)->Write(b));
  return WriteFileAtomic(GenesisPath(datadir), genesis_bytes, 0644);
}

Result<std::unique_ptr<Chain>> Chain::Open(const ChainOptions& options) {
  if (!fs::exists(DbPath(options.datadir)))
    return Fail(ErrorCode::kNotFound, "'" + options.datadir + "' is not an initialised data directory",
                "run 'gtos-node init --datadir " + options.datadir + " --genesis FILE' first");
  std::unique_ptr<Chain> c(new Chain());
  c->options_ = options;
  state::StoreOptions so;
  so.path = DbPath(options.datadir);
  so.sync = options.sync;
  so.compress = options.compress;
  so.block_cache_bytes = options.cache_bytes;
  so.write_buffer_bytes = options.write_buffer_bytes;
  auto store = state::Store::Open(so);
  if (!store) return std::unexpected(store.error());
  c->store_ = std::move(*store);

  auto format = c->store_->Get(schema::MetaKey(schema::kMetaFormat));
  if (!format) return std::unexpected(format.error());
  uint64_t version = *format && (*format)->size() == 8 ? schema::ReadBE64(**format) : 0;
  if (version != schema::kSchemaVersion) {
    std::string what = "'" + options.datadir + "' has database schema version " + std::to_string(version) +
                       "; this build reads version " + std::to_string(schema::kSchemaVersion);
    if (version > schema::kSchemaVersion)
      return Fail(ErrorCode::kInvalid, what, "run the newer gtos-node that wrote it (schemas are never downgraded)");
    if (version >= kOldestMigratable)
      return Fail(ErrorCode::kInvalid, what,
                  "stop every process using it and run 'gtos-node migrate --datadir " + options.datadir +
                      "' (add --dry-run to see the steps first; docs/upgrades.md)");
    return Fail(ErrorCode::kInvalid, what,
                "no migration reaches it (docs/upgrades.md): initialise a new data directory from the network's "
                "current genesis and sync it");
  }
  auto g = c->store_->Get(schema::MetaKey(schema::kMetaGenesis));
  if (!g) return std::unexpected(g.error());
  if (!*g) return Fail(ErrorCode::kInternal, "database has no genesis record");
  auto genesis = DecodeStoredRecord<Genesis>(**g, "genesis");
  if (!genesis) return std::unexpected(genesis.error());
  c->genesis_ = std::move(*genesis);
  c->genesis_hash_ = c->genesis_.Hash();

  auto head = c->store_->Get(schema::MetaKey(schema::kMetaHead));
  if (!head) return std::unexpected(head.error());
  if (!*head || (*head)->size() != 8) return Fail(ErrorCode::kInternal, "database has no head");
  uint64_t height = schema::ReadBE64(**head);
  auto header = c->GetHeader(height);
  if (!header) return std::unexpected(header.error());
  if (!*header) return Fail(ErrorCode::kInternal, "database head " + std::to_string(height) + " has no header");
  c->head_ = **header;
  auto acc = c->store_->Get(schema::MetaKey(schema::kMetaAccumulator));
  if (!acc) return std::unexpected(acc.error());
  if (!*acc) return Fail(ErrorCode::kInternal, "database has no state accumulator");
  auto lt = state::LtHash::Parse(AsBytes(**acc));
  if (!lt) return std::unexpected(lt.error());
  if (lt->Digest() != c->head_.state_root)
    return Fail(ErrorCode::kInternal, "state accumulator does not match the head's state root");
  c->accumulator_ = *lt;
  // The oldest stored body (bodies below it were pruned): recorded in M by
  // every pruning write; data directories written before that are scanned.
  uint64_t oldest = height + 1;
  auto recorded = c->store_->Get(schema::MetaKey(schema::kMetaOldestBody));
  if (!recorded) return std::unexpected(recorded.error());
  if (*recorded && (*recorded)->size() == 8) {
    oldest = schema::ReadBE64(**recorded);
  } else {
    GTOS_TRY(c->store_->Scan(std::string(1, schema::kBody), [&oldest](std::string_view k, std::string_view) {
      oldest = schema::ReadBE64(k.substr(1));
      return false;
    }));
  }
  c->oldest_body_ = std::max<uint64_t>(1, std::min(oldest, height + 1));
  auto params = state::LoadParams(*c->store_, c->genesis_.params);
  if (!params) return std::unexpected(params.error());
  c->params_ = std::move(*params);
  c->executor_ = std::make_unique<state::Executor>(*c->store_, c->genesis_);
  return c;
}

Chain::~Chain() = default;

BlockHeader Chain::head() const {
  std::lock_guard<std::mutex> l(mu_);
  return head_;
}

state::LtHash Chain::accumulator() const {
  std::lock_guard<std::mutex> l(mu_);
  return accumulator_;
}

uint64_t Chain::oldest_body() const {
  std::lock_guard<std::mutex> l(mu_);
  return oldest_body_;
}

Result<AppliedBlock> Chain::Execute(Block block, bool verify, state::ExecMode mode) const {
  BlockHeader parent;
  state::LtHash acc;
  {
    std::lock_guard<std::mutex> l(mu_);
    parent = head_;
    acc = accumulator_;
  }
  uint64_t h = parent.height + 1;
  state::ExecOptions eo{mode, verify};
  std::vector<Address> signers;
  if (block.last_commit)
    for (const CommitSig& sig : block.last_commit->signatures) signers.push_back(sig.validator);
  auto exec = executor_->Execute(h, block.header.proposer, std::move(block.txs), std::move(block.evidence), signers,
                                 eo, acc);
  if (!exec) return std::unexpected(exec.error());
  auto before = MakeValidatorSet(exec->set_before);
  if (!before) return std::unexpected(before.error());
  auto after = MakeValidatorSet(exec->set_after);
  if (!after) return std::unexpected(after.error());
  BlockHeader& hd = block.header;
  hd.validators_hash = before->Hash();
  hd.next_validators_hash = after->Hash();
  hd.evidence_root = MerkleRoot(exec->evidence_hashes);
  hd.last_commit_hash = block.last_commit ? block.last_commit->Hash() : Hash32{};
  block.evidence = exec->evidence;
  hd.chain_id = genesis_.chain_id;
  hd.height = h;
  hd.parent_hash = parent.Hash();
  hd.tx_root = MerkleRoot(exec->tx_leaves);
  std::vector<Hash32> leaves;
  leaves.reserve(exec->receipts.size());
  for (const Receipt& r : exec->receipts) leaves.push_back(r.Hash());
  hd.receipts_root = MerkleRoot(leaves);
  hd.state_root = exec->state_root;
  block.txs = std::move(exec->txs);  // the block owns them; exec keeps ids, leaves, receipts
  return AppliedBlock{std::move(block), std::move(*exec)};
}

Result<AppliedBlock> Chain::Propose(std::vector<SignedTx> txs, const Address& proposer, uint64_t time_ms,
                                    bool verify_signatures, std::vector<Evidence> evidence,
                                    const gtos::Commit* head_commit) const {
  Block b;
  b.header.proposer = proposer;
  // Strictly after the parent (docs/state.md "Block time"). The parent is at
  // most kMaxBlockTimeMs (genesis validation, Validate), so + 1 cannot wrap;
  // saturate anyway and let the bound below refuse.
  uint64_t parent_time = head().time_ms;
  uint64_t after_parent = parent_time == UINT64_MAX ? UINT64_MAX : parent_time + 1;
  b.header.time_ms = std::max(time_ms, after_parent);
  if (b.header.time_ms > kMaxBlockTimeMs)
    return Invalid("block time " + std::to_string(b.header.time_ms) + " exceeds the largest block time 2^62 (" +
                   std::to_string(kMaxBlockTimeMs) + " ms): is the clock wrong?");
  b.txs = std::move(txs);
  b.evidence = std::move(evidence);
  // The certificate of the head goes into the block (docs/consensus.md).
  uint64_t head_height = height();
  if (head_height >= 1 && head_commit && head_commit->height == head_height &&
      head_commit->block_hash == head().Hash()) {
    b.last_commit = *head_commit;
  } else if (head_height >= 1) {
    auto c = GetCommit(head_height);
    if (!c) return std::unexpected(c.error());
    if (!*c)
      return Fail(ErrorCode::kInternal, "no commit certificate stored for the head " + std::to_string(head_height));
    b.last_commit = std::move(**c);
  }
  return Execute(std::move(b), verify_signatures, state::ExecMode::kPropose);
}

Result<AppliedBlock> Chain::Validate(Block block, bool verify_signatures) const {
  BlockHeader parent = head();
  const BlockHeader want = block.header;
  if (want.chain_id != genesis_.chain_id)
    return Invalid("block for chain '" + want.chain_id + "', not '" + genesis_.chain_id + "'");
  if (want.height != parent.height + 1)
    return Invalid("block height " + std::to_string(want.height) + " does not follow head " +
                   std::to_string(parent.height));
  // Block time: strictly after the parent's, at most 2^62. Only header
  // times are compared: a committed block is judged without the local clock
  // (timeliness against the clock is consensus's prevote rule).
  if (want.time_ms <= parent.time_ms)
    return Invalid("block time " + std::to_string(want.time_ms) + " is not after its parent's " +
                   std::to_string(parent.time_ms));
  if (want.time_ms > kMaxBlockTimeMs)
    return Invalid("block time " + std::to_string(want.time_ms) + " exceeds the largest block time 2^62 (" +
                   std::to_string(kMaxBlockTimeMs) + " ms)");
  // The parent's certificate: absent at height 1, else it must certify the head.
  if (want.height == 1) {
    if (block.last_commit) return Invalid("block 1 carries a last_commit");
  } else {
    if (!block.last_commit) return Invalid("block " + std::to_string(want.height) + " has no last_commit");
    auto st = VerifyCommit(parent, *block.last_commit);
    if (!st) return std::unexpected(Wrap(st.error(), "block last_commit"));
  }
  auto applied = Execute(std::move(block), verify_signatures, state::ExecMode::kValidate);
  if (!applied) return applied;
  const BlockHeader& got = applied->block.header;
  if (got.parent_hash != want.parent_hash) return Invalid("block parent hash does not match the head");
  if (got.tx_root != want.tx_root) return Invalid("block tx_root does not match its txs");
  if (got.receipts_root != want.receipts_root)
    return Invalid("block receipts_root " + ToHex0x(want.receipts_root) + " differs from re-execution " +
                   ToHex0x(got.receipts_root));
  if (got.state_root != want.state_root)
    return Invalid("block state_root " + ToHex0x(want.state_root) + " differs from re-execution " +
                   ToHex0x(got.state_root));
  if (got.validators_hash != want.validators_hash)
    return Invalid("block validators_hash " + ToHex0x(want.validators_hash) +
                   " is not the hash of the set for its height " + ToHex0x(got.validators_hash));
  if (got.next_validators_hash != want.next_validators_hash)
    return Invalid("block next_validators_hash " + ToHex0x(want.next_validators_hash) + " differs from re-execution " +
                   ToHex0x(got.next_validators_hash));
  if (got.evidence_root != want.evidence_root) return Invalid("block evidence_root does not match its evidence");
  if (got.last_commit_hash != want.last_commit_hash)
    return Invalid("block last_commit_hash does not match its last_commit");
  const auto& members = applied->exec.set_before.validators;
  if (!std::any_of(members.begin(), members.end(),
                   [&want](const ActiveValidator& v) { return v.address == want.proposer; }))
    return Invalid("block proposer " + ToHex0x(want.proposer) + " is not in the validator set of height " +
                   std::to_string(want.height));
  applied->block.header = want;
  return applied;
}

Status Chain::Commit(AppliedBlock applied, const gtos::Commit& commit) {
  const BlockHeader& hd = applied.block.header;
  uint64_t h = hd.height;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (h != head_.height + 1 || hd.parent_hash != head_.Hash())
      return Fail(ErrorCode::kInvalid, "block " + std::to_string(h) + " does not extend the head " +
                                           std::to_string(head_.height) + " (it was executed on another head)");
  }
  state::WriteBatch& b = applied.exec.batch;
  b.Put(schema::HeightKey(schema::kHeader, h), ToString(EncodeRecord(hd)));
  if (options_.store_history) {
    b.Put(schema::HeightKey(schema::kCommit, h), state::EncodeValue(commit));
    // The parent's certificate as this block carries it replaces the one
    // this node collected: certificates below the head agree on all nodes.
    if (applied.block.last_commit && h >= 2)
      b.Put(schema::HeightKey(schema::kCommit, h - 1), state::EncodeValue(*applied.block.last_commit));
    Body body{std::move(applied.block.txs), std::move(applied.block.evidence), std::move(applied.block.last_commit)};
    b.Put(schema::HeightKey(schema::kBody, h), state::EncodeValue(body));
    b.Put(schema::HeightKey(schema::kReceipts, h), state::EncodeValue(ReceiptList{applied.exec.receipts}));
    for (size_t i = 0; i < applied.exec.tx_ids.size(); ++i)
      b.Put(schema::TxIndexKey(applied.exec.tx_ids[i]), state::EncodeValue(TxLoc{h, i}));
    // The block-hash index lives and dies with the body (schema 6).
    std::string at;
    schema::AppendBE64(&at, h);
    b.Put(schema::BlockIndexKey(hd.Hash()), at);
  }
  // Retention (docs/storage.md "Pruning"): the history of heights that
  // leave the window is deleted in the same write. Normally that is one
  // height; a backlog is worked off a few heights per block.
  uint64_t new_oldest = 0;
  if (options_.store_history) {
    uint64_t start = RetentionStart(h);
    uint64_t oldest = oldest_body();
    if (start > oldest) {
      uint64_t stop = std::min(start, oldest + kMaxPrunePerBlock);
      auto n = DeleteHistoryRange(oldest, stop, b);
      if (!n) return std::unexpected(n.error());
      new_oldest = stop;
      std::string v;
      schema::AppendBE64(&v, new_oldest);
      b.Put(schema::MetaKey(schema::kMetaOldestBody), v);
    }
  }
  // The set history is kept whatever store_history says: validation needs it.
  if (applied.exec.new_epoch)
    b.Put(schema::SetHistoryKey(applied.exec.set_after.first_height), state::EncodeValue(applied.exec.set_after));
  std::string head;
  schema::AppendBE64(&head, h);
  b.Put(schema::MetaKey(schema::kMetaHead), head);
  b.Put(schema::MetaKey(schema::kMetaAccumulator), ToString(applied.exec.accumulator.Serialize()));
  GTOS_TRY(store_->Write(b));
  // An activation (or nothing) changed P: read the params in force back.
  auto params = state::LoadParams(*store_, genesis_.params);
  if (!params) return std::unexpected(params.error());
  std::lock_guard<std::mutex> l(mu_);
  params_ = std::move(*params);
  head_ = hd;
  accumulator_ = applied.exec.accumulator;
  if (new_oldest) oldest_body_ = new_oldest;
  return Ok();
}

// The tx ids in a stored receipt list ([[receipt fields]...]: tx_id first),
// read straight from the msgpack object without decoding whole receipts.
static Status ReceiptTxIds(std::string_view stored, const std::function<void(ByteView)>& fn) {
  size_t off = 0;
  auto p = codec::ParseOne(AsBytes(stored), &off);
  if (!p || !*p || off != stored.size()) return Fail(ErrorCode::kInternal, "corrupt receipts in database");
  const msgpack::object& o = (*p)->handle.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 1 || o.via.array.ptr[0].type != msgpack::type::ARRAY)
    return Fail(ErrorCode::kInternal, "corrupt receipts in database");
  const msgpack::object_array& list = o.via.array.ptr[0].via.array;
  for (uint32_t i = 0; i < list.size; ++i) {
    const msgpack::object& r = list.ptr[i];
    if (r.type != msgpack::type::ARRAY || r.via.array.size == 0 || r.via.array.ptr[0].type != msgpack::type::BIN ||
        r.via.array.ptr[0].via.bin.size != 32)
      return Fail(ErrorCode::kInternal, "corrupt receipts in database");
    fn(ByteView(reinterpret_cast<const uint8_t*>(r.via.array.ptr[0].via.bin.ptr), 32));
  }
  return Ok();
}

ChainParams Chain::params() const {
  std::lock_guard<std::mutex> l(mu_);
  return params_;
}

std::pair<uint64_t, ChainParams> Chain::HeadParams() const {
  std::lock_guard<std::mutex> l(mu_);
  return {head_.height, params_};
}

Result<std::optional<PendingPlan>> Chain::GetPendingPlan() const { return state::LoadPendingPlan(*store_); }

uint64_t Chain::RetentionStart(uint64_t head) const {
  uint64_t retain = std::max<uint64_t>(1, genesis_.params.retain_blocks);
  uint64_t interval = std::max<uint64_t>(1, genesis_.params.snapshot_interval);
  uint64_t start = head >= retain ? head - retain + 1 : 1;
  // The blocks after the second-newest snapshot height stay too, so that a
  // node that restores either of the two newest snapshots can block-sync
  // from it (snapshot S is offered only once S + 1 committed and it was
  // written). Every node keeps the same window: it depends on the height.
  uint64_t newest_snapshot = head >= 1 ? (head - 1) / interval * interval : 0;
  uint64_t keep_after = newest_snapshot >= interval ? newest_snapshot - interval : 0;
  return std::min(start, keep_after + 1);
}

Result<uint64_t> Chain::DeleteHistoryRange(uint64_t from, uint64_t to, state::WriteBatch& b) const {
  // Every height in [oldest_body, head] has a body and receipts; the
  // receipts name the block's tx ids (the tx index keys).
  uint64_t records = 0;
  Status inner = Ok();
  std::vector<Hash32> ids;
  GTOS_TRY(store_->ScanRange(schema::HeightKey(schema::kReceipts, from), schema::HeightKey(schema::kReceipts, to),
                             [&](std::string_view k, std::string_view v) {
                               inner = ReceiptTxIds(v, [&](ByteView id) {
                                 ids.emplace_back();
                                 std::memcpy(ids.back().v.data(), id.data(), 32);
                               });
                               b.Delete(k);
                               ++records;
                               return inner.has_value();
                             }));
  GTOS_TRY(inner);
  // Tx ids are random: deleted in key order they go into LevelDB's memtable
  // much faster than in block order.
  std::sort(ids.begin(), ids.end());
  std::string tx_key(1, schema::kTxIndex);
  for (const Hash32& id : ids) {
    tx_key.resize(1);
    tx_key.append(reinterpret_cast<const char*>(id.v.data()), 32);
    b.Delete(tx_key);
    ++records;
  }
  for (uint64_t h = from; h < to; ++h) {
    b.Delete(schema::HeightKey(schema::kBody, h));
    ++records;
  }
  // The block-hash index entries of the same heights: headers stay, so
  // their hashes name the N keys (deleting an absent key is harmless).
  std::vector<std::string> index_keys;
  GTOS_TRY(store_->ScanRange(schema::HeightKey(schema::kHeader, from), schema::HeightKey(schema::kHeader, to),
                             [&](std::string_view, std::string_view v) {
                               auto hd = DecodeStoredRecord<BlockHeader>(v, "block header");
                               if (!hd) {
                                 inner = std::unexpected(hd.error());
                                 return false;
                               }
                               index_keys.push_back(schema::BlockIndexKey(hd->Hash()));
                               return true;
                             }));
  GTOS_TRY(inner);
  std::sort(index_keys.begin(), index_keys.end());
  for (const std::string& k : index_keys) {
    b.Delete(k);
    ++records;
  }
  return records;
}

Result<Chain::PruneReport> Chain::PruneHistory(uint64_t retain_blocks,
                                               bool dry_run,
                                               const std::function<void(uint64_t, uint64_t)>& progress) {
  PruneReport rep;
  uint64_t head = height();
  rep.oldest_before = rep.oldest_after = oldest_body();
  // Keep [head - retain_blocks + 1, head]; 0: the node's window.
  uint64_t cut = retain_blocks == 0 ? RetentionStart(head) : head >= retain_blocks ? head - retain_blocks + 1 : 1;
  if (cut <= rep.oldest_before) return rep;
  uint64_t total = cut - rep.oldest_before;
  rep.bytes = store_->ApproximateSize(schema::HeightKey(schema::kBody, rep.oldest_before),
                                      schema::HeightKey(schema::kBody, cut)) +
              store_->ApproximateSize(schema::HeightKey(schema::kReceipts, rep.oldest_before),
                                      schema::HeightKey(schema::kReceipts, cut));
  // Batches of kStep heights; each also records the new oldest_body, so a
  // killed run leaves a consistent database and a re-run goes on from there.
  constexpr uint64_t kStep = 64;
  for (uint64_t p = rep.oldest_before; p < cut;) {
    uint64_t next = std::min(cut, p + kStep);
    state::WriteBatch b;
    auto n = DeleteHistoryRange(p, next, b);
    if (!n) return std::unexpected(n.error());
    rep.records += *n;
    rep.heights += next - p;
    if (!dry_run) {
      std::string v;
      schema::AppendBE64(&v, next);
      b.Put(schema::MetaKey(schema::kMetaOldestBody), v);
      GTOS_TRY(store_->WriteUnsynced(b));
      std::lock_guard<std::mutex> l(mu_);
      oldest_body_ = next;
    }
    p = next;
    if (progress) progress(p - rep.oldest_before, total);
  }
  rep.oldest_after = dry_run ? rep.oldest_before : cut;
  if (!dry_run) {
    state::WriteBatch sync;  // one synced write makes the unsynced ones durable
    std::string v;
    schema::AppendBE64(&v, cut);
    sync.Put(schema::MetaKey(schema::kMetaOldestBody), v);
    GTOS_TRY(store_->Write(sync));
  }
  return rep;
}

void Chain::CompactAll() { store_->CompactRange("", ""); }

// ---- validator sets ----------------------------------------------------------------

Result<consensus::ValidatorSet> Chain::ValidatorSetFor(uint64_t height) const {
  uint64_t head = this->height();
  if (height == 0 || height > head + 1)
    return Fail(ErrorCode::kNotFound, "no validator set for height " + std::to_string(height) + " (head is " +
                                          std::to_string(head) + ")");
  auto set = state::LoadSetFor(*store_, height, genesis_.params.epoch_length);
  if (!set) return std::unexpected(set.error());
  if (!*set)
    return Fail(ErrorCode::kInternal, "database has no validator set history for height " + std::to_string(height));
  auto vs = MakeValidatorSet(**set);
  if (!vs) return vs;
  for (uint64_t i = (*set)->first_height; i < height; ++i) vs->IncrementPriority();
  return vs;
}

Status Chain::VerifyCommit(const BlockHeader& header, const gtos::Commit& commit) const {
  if (commit.height != header.height)
    return Invalid("commit is for height " + std::to_string(commit.height) + ", not " +
                   std::to_string(header.height));
  if (commit.block_hash != header.Hash()) return Invalid("commit is for another block hash");
  auto vs = ValidatorSetFor(header.height);
  if (!vs) return std::unexpected(vs.error());
  if (vs->Hash() != header.validators_hash)
    return Invalid("header validators_hash is not the hash of the set for height " + std::to_string(header.height));
  return vs->VerifyCommit(header.chain_id, commit);
}

Status Chain::CheckEvidence(const Evidence& e) const {
  uint64_t next = height() + 1;
  if (e.a.height > next)
    return Invalid("evidence height " + std::to_string(e.a.height) + " is above the next block " +
                   std::to_string(next));
  // Evidence of the height being decided can go into the block after it.
  state::Overlay ov(*store_);
  return executor_->CheckEvidence(ov, e, std::max(next, e.a.height + 1));
}

Result<EpochInfo> Chain::GetEpochInfo() const {
  auto set = state::LoadActiveSet(*store_);
  if (!set) return std::unexpected(set.error());
  EpochInfo e;
  e.epoch_length = std::max<uint64_t>(1, genesis_.params.epoch_length);
  e.epoch = (set->first_height - 1) / e.epoch_length;
  e.first_height = set->first_height;
  e.last_height = e.first_height - 1 + e.epoch_length;  // may wrap only past 2^64 heights
  e.active_set = std::move(*set);
  return e;
}

// ---- queries -------------------------------------------------------------------

Result<std::optional<Account>> Chain::GetAccount(const Address& a) const {
  auto v = store_->Get(schema::AccountKey(a));
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<Account>();
  auto acc = state::DecodeValue<Account>(**v, "account");
  if (!acc) return std::unexpected(acc.error());
  return std::optional<Account>(std::move(*acc));
}

static Result<std::optional<ObjectView>> LiveObject(const state::Store& store, const std::string& key,
                                                    uint64_t height) {
  auto v = store.Get(key);
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<ObjectView>();
  auto o = state::DecodeValue<StoredObject>(**v, "stored object");
  if (!o) return std::unexpected(o.error());
  if (height >= o->expire_block) return std::optional<ObjectView>();  // expired, not yet deleted
  return std::optional<ObjectView>(ObjectView{o->created_block, o->expire_block, std::move(o->data)});
}

Result<std::optional<ObjectView>> Chain::GetKv(const Address& owner, ByteView ns, ByteView key) const {
  return LiveObject(*store_, schema::KvKey(owner, ns, key), height());
}

Result<std::optional<ObjectView>> Chain::GetCode(const Hash32& code_hash) const {
  return LiveObject(*store_, schema::CodeKey(code_hash), height());
}

Result<std::optional<ValidatorInfo>> Chain::GetValidator(const Address& a) const {
  auto v = store_->Get(schema::ValidatorKey(a));
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<ValidatorInfo>();
  auto info = state::DecodeValue<ValidatorInfo>(**v, "validator");
  if (!info) return std::unexpected(info.error());
  return std::optional<ValidatorInfo>(std::move(*info));
}

Result<std::vector<std::pair<Address, ValidatorInfo>>> Chain::GetValidators() const {
  std::vector<std::pair<Address, ValidatorInfo>> out;
  Status inner = Ok();
  GTOS_TRY(store_->Scan(std::string(1, schema::kValidator), [&](std::string_view k, std::string_view v) {
    auto info = state::DecodeValue<ValidatorInfo>(v, "validator");
    if (!info) {
      inner = std::unexpected(info.error());
      return false;
    }
    Address a;
    std::memcpy(a.data(), k.data() + 1, 32);
    out.emplace_back(a, std::move(*info));
    return true;
  }));
  GTOS_TRY(inner);
  return out;
}

Result<std::optional<BlockHeader>> Chain::GetHeader(uint64_t height) const {
  auto v = store_->Get(schema::HeightKey(schema::kHeader, height));
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<BlockHeader>();
  auto h = DecodeStoredRecord<BlockHeader>(**v, "header");
  if (!h) return std::unexpected(h.error());
  return std::optional<BlockHeader>(std::move(*h));
}

Result<std::optional<gtos::Commit>> Chain::GetCommit(uint64_t height) const {
  auto v = store_->Get(schema::HeightKey(schema::kCommit, height));
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<gtos::Commit>();
  auto c = state::DecodeValue<gtos::Commit>(**v, "commit");
  if (!c) return std::unexpected(c.error());
  return std::optional<gtos::Commit>(std::move(*c));
}

Result<std::optional<Block>> Chain::GetBlock(uint64_t height) const {
  auto header = GetHeader(height);
  if (!header || !*header) return header ? Result<std::optional<Block>>(std::nullopt) : std::unexpected(header.error());
  Block b;
  b.header = std::move(**header);
  if (height > 0) {
    auto v = store_->Get(schema::HeightKey(schema::kBody, height));
    if (!v) return std::unexpected(v.error());
    if (!*v) return std::optional<Block>();  // pruned
    auto body = state::DecodeValue<Body>(**v, "block body");
    if (!body) return std::unexpected(body.error());
    b.txs = std::move(body->txs);
    b.evidence = std::move(body->evidence);
    b.last_commit = std::move(body->last_commit);
    auto c = GetCommit(height);
    if (!c) return std::unexpected(c.error());
    b.commit = std::move(*c);
  }
  return std::optional<Block>(std::move(b));
}

namespace {
// The cached value of `height` in `cache`, or nullptr.
template <typename T>
std::shared_ptr<const T> FindDecoded(const std::deque<std::pair<uint64_t, std::shared_ptr<const T>>>& cache,
                                     uint64_t height) {
  for (const auto& [h, v] : cache)
    if (h == height) return v;
  return nullptr;
}
template <typename T>
void KeepDecoded(std::deque<std::pair<uint64_t, std::shared_ptr<const T>>>& cache, uint64_t height,
                 std::shared_ptr<const T> v, size_t cap) {
  for (const auto& [h, _] : cache)
    if (h == height) return;  // another thread decoded it meanwhile
  cache.emplace_back(height, std::move(v));
  while (cache.size() > cap) cache.pop_front();
}
}  // namespace

Result<std::shared_ptr<const std::vector<SignedTx>>> Chain::GetBlockTxs(uint64_t height) const {
  using Ptr = std::shared_ptr<const std::vector<SignedTx>>;
  if (height == 0 || height > this->height() || height < oldest_body()) return Ptr();
  {
    std::lock_guard<std::mutex> l(cache_mu_);
    if (auto hit = FindDecoded(txs_cache_, height)) return hit;
  }
  auto v = store_->Get(schema::HeightKey(schema::kBody, height));
  if (!v) return std::unexpected(v.error());
  if (!*v) return Ptr();  // pruned
  auto body = state::DecodeValue<Body>(**v, "block body");
  if (!body) return std::unexpected(body.error());
  auto txs = std::make_shared<const std::vector<SignedTx>>(std::move(body->txs));
  std::lock_guard<std::mutex> l(cache_mu_);
  KeepDecoded(txs_cache_, height, Ptr(txs), kDecodedCacheHeights);
  return Ptr(std::move(txs));
}

Result<std::shared_ptr<const std::vector<Receipt>>> Chain::GetReceiptList(uint64_t height) const {
  using Ptr = std::shared_ptr<const std::vector<Receipt>>;
  if (height == 0 || height > this->height() || height < oldest_body()) return Ptr();
  {
    std::lock_guard<std::mutex> l(cache_mu_);
    if (auto hit = FindDecoded(receipts_cache_, height)) return hit;
  }
  auto list = GetReceipts(height);
  if (!list) return std::unexpected(list.error());
  if (!*list) return Ptr();  // pruned
  auto receipts = std::make_shared<const std::vector<Receipt>>(std::move(**list));
  std::lock_guard<std::mutex> l(cache_mu_);
  KeepDecoded(receipts_cache_, height, Ptr(receipts), kDecodedCacheHeights);
  return Ptr(std::move(receipts));
}

Result<std::optional<uint64_t>> Chain::GetHeightByHash(const Hash32& block_hash) const {
  auto v = store_->Get(schema::BlockIndexKey(block_hash));
  if (!v) return std::unexpected(v.error());
  if (*v) {
    if ((*v)->size() != 8) return Fail(ErrorCode::kInternal, "corrupt block-hash index entry in database");
    return std::optional<uint64_t>(schema::ReadBE64(**v));
  }
  // Block 0 has no body and so no index entry; its header is always kept.
  auto h0 = GetHeader(0);
  if (!h0) return std::unexpected(h0.error());
  if (*h0 && (*h0)->Hash() == block_hash) return std::optional<uint64_t>(0);
  return std::optional<uint64_t>();
}

Result<std::optional<std::vector<Receipt>>> Chain::GetReceipts(uint64_t height) const {
  auto v = store_->Get(schema::HeightKey(schema::kReceipts, height));
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<std::vector<Receipt>>();
  auto list = state::DecodeValue<ReceiptList>(**v, "receipts");
  if (!list) return std::unexpected(list.error());
  return std::optional<std::vector<Receipt>>(std::move(list->receipts));
}

Result<std::optional<TxLocation>> Chain::GetTxLocation(const Hash32& id) const {
  auto v = store_->Get(schema::TxIndexKey(id));
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<TxLocation>();
  auto loc = state::DecodeValue<TxLoc>(**v, "tx index");
  if (!loc) return std::unexpected(loc.error());
  return std::optional<TxLocation>(TxLocation{loc->height, loc->index});
}

// ---- replay ----------------------------------------------------------------------

Status Chain::Replay(const std::function<void(uint64_t)>& progress) const {
  // A scratch chain in a temporary directory, fed the stored blocks.
  std::string scratch = options_.datadir + "/replay.tmp";
  std::error_code ec;
  fs::remove_all(scratch, ec);
  GTOS_TRY(Init(scratch, genesis_));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } cleanup{scratch};
  ChainOptions so;
  so.datadir = scratch;
  so.sync = false;
  so.store_history = false;
  so.compress = false;
  auto copy = Open(so);
  if (!copy) return std::unexpected(copy.error());
  uint64_t top = height();
  uint64_t first = oldest_body();
  if (first > 1)
    return Fail(ErrorCode::kInvalid, "blocks below " + std::to_string(first) +
                                         " were pruned; replay needs every body from height 1");
  // Block h+1 is read and decoded on another thread while h executes.
  auto load = [this](uint64_t h) { return GetBlock(h); };
  std::future<Result<std::optional<Block>>> next;
  if (top >= 1) next = std::async(std::launch::async, load, 1);
  for (uint64_t h = 1; h <= top; ++h) {
    auto block = next.get();
    if (h < top) next = std::async(std::launch::async, load, h + 1);
    if (!block) return std::unexpected(block.error());
    if (!*block) return Fail(ErrorCode::kNotFound, "block " + std::to_string(h) + " is missing");
    if (!(*block)->commit) return Fail(ErrorCode::kNotFound, "block " + std::to_string(h) + " has no commit");
    gtos::Commit commit = *(*block)->commit;
    auto applied = (*copy)->Validate(std::move(**block), /*verify_signatures=*/false);
    if (!applied) return std::unexpected(Wrap(applied.error(), "replay of block " + std::to_string(h)));
    GTOS_TRY((*copy)->Commit(std::move(*applied), commit));
    if (progress) progress(h);
  }
  return Ok();
}

}  // namespace gtos::chain
