#include "node/node.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>

#include <nlohmann/json.hpp>

#include "crypto/hash.h"
#include "node/log.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::node {

namespace {

namespace fs = std::filesystem;
using consensus::TimeoutKind;

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

template <class D>
uint64_t Ms(D d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// Messages buffered for heights not started yet: at most this many, and
// (bytes) a frame's worth per peer and 48 MiB in all.
constexpr size_t kMaxPending = 20'000;
constexpr size_t kMaxPendingBytes = 48u << 20;
// Snapshot serving: a piece goes out only while the asker's send queue
// holds less than this; a request whose asker has no room for this long is
// dropped and the asker penalised (the serving thread meanwhile serves the
// others: SnapshotService::Serve).
constexpr size_t kSnapshotQueueBytes = 2 << 20;
constexpr uint64_t kSnapshotDrainMs = 10'000;
// Regossip (Node::Regossip): skipped for a peer with more than this queued,
// and a proposal resent to a peer no sooner than the backoff.
constexpr size_t kRegossipQueueBytes = 1 << 20;
constexpr std::chrono::milliseconds kRegossipFirstBackoff{2000};
constexpr std::chrono::milliseconds kRegossipMaxBackoff{32000};

// The node's signer under double_sign_check_height: refuses any height
// below *refuse_below, else asks the private validator.
class GatedSigner : public consensus::Signer {
 public:
  GatedSigner(std::unique_ptr<consensus::Signer> inner, const std::atomic<uint64_t>* refuse_below)
      : inner_(std::move(inner)), refuse_below_(refuse_below) {}
  Result<Bytes> SignVote(const Vote& v) override {
    GTOS_TRY(Check(v.height));
    return inner_->SignVote(v);
  }
  Result<Bytes> SignProposal(const consensus::Proposal& p, const Hash32& digest) override {
    GTOS_TRY(Check(p.height));
    return inner_->SignProposal(p, digest);
  }

 private:
  Status Check(uint64_t height) const {
    uint64_t below = refuse_below_->load();
    if (height < below)
      return Fail(ErrorCode::kInvalid, "double_sign_check_height: this validator's key signed a block this node "
                                       "did not (another instance?); signing nothing below height " +
                                           std::to_string(below));
    return Ok();
  }
  std::unique_ptr<consensus::Signer> inner_;
  const std::atomic<uint64_t>* refuse_below_;
};
// Messages of rounds further ahead of the local round are dropped: this
// bounds the machine's message log (one vote per validator and round).
// Honest validators are never this far apart (growing timeouts).
constexpr uint64_t kMaxRoundsAhead = 1'000;

// Dedup key of a consensus message. A proposal is keyed by its signed
// position and block hash (hashing a 10 MB block each time it is re-sent
// would be costly); a vote by its whole encoding.
Hash32 MessageHash(const net::Message& m) {
  if (auto* p = std::get_if<net::ProposalMsg>(&m)) {
    const consensus::Proposal& pr = p->proposal;
    Bytes b;
    auto put = [&b](uint64_t v) {
      for (int i = 7; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    put(pr.height);
    put(pr.round);
    put(static_cast<uint64_t>(pr.valid_round + 1));
    Hash32 bh = pr.BlockHash();
    b.insert(b.end(), bh.v.begin(), bh.v.end());
    b.insert(b.end(), pr.proposer.v.begin(), pr.proposer.v.end());
    b.insert(b.end(), pr.signature.begin(), pr.signature.end());
    return crypto::Sha256Tagged("GTOS-P2P-SEEN-PROPOSAL", b);
  }
  return crypto::Sha256(net::EncodeMessage(m));
}

// The timeouts of one round, derived from the block interval T: propose
// 3T, prevote and precommit T, each growing by T/2 per round.
consensus::Timeouts TimeoutsFor(uint64_t interval_ms) {
  consensus::Timeouts t;
  uint64_t T = std::max<uint64_t>(interval_ms, 20);
  t.propose_ms = 3 * T;
  t.propose_increment_ms = T / 2;
  t.prevote_ms = T;
  t.prevote_increment_ms = T / 2;
  t.precommit_ms = T;
  t.precommit_increment_ms = T / 2;
  return t;
}

// A cheap upper estimate of a consensus message's size in memory, without
// encoding it (a proposal may carry a 16 MiB block).
size_t ApproxBytes(const net::Message& m) {
  auto* p = std::get_if<net::ProposalMsg>(&m);
  if (!p) return 512;
  size_t n = 1024;
  for (const SignedTx& tx : p->proposal.block.txs) {
    n += 256 + tx.public_key.size() + tx.signature.size();
    if (auto* kv = std::get_if<KvPutTx>(&tx.tx.payload.body)) n += kv->ns.size() + kv->key.size() + kv->value.size();
    if (auto* c = std::get_if<CodePutTx>(&tx.tx.payload.body)) n += c->code.size();
  }
  return n + p->proposal.block.evidence.size() * 512;
}

}  // namespace

Result<Bytes> ReadNodeKeySecret(const std::string& path, Bytes* public_key) {
  auto raw = ReadFile(path);
  if (!raw) return std::unexpected(raw.error());
  auto key = DecodeRecord<PrivateKey>(*raw);
  if (!key) return std::unexpected(Wrap(key.error(), "node key '" + path + "'"));
  if (key->encrypted() || key->algo != static_cast<uint64_t>(crypto::AlgoId::kEd25519))
    return Fail(ErrorCode::kInvalid, "node key '" + path + "' must be an unencrypted ed25519 key");
  auto secret = UnlockPrivateKey(*key, std::nullopt);
  if (!secret) return std::unexpected(Wrap(secret.error(), "node key '" + path + "'"));
  *public_key = key->public_key;
  return Bytes(secret->view().begin(), secret->view().end());
}

Status EnsureNodeKey(const std::string& datadir) {
  std::string path = datadir + "/node.key";
  if (fs::exists(path)) return Ok();
  const crypto::SigAlgo* algo = crypto::FindAlgo(static_cast<uint64_t>(crypto::AlgoId::kEd25519));
  crypto::SecretBytes secret(algo->generate());
  auto key = MakePrivateKey(crypto::AlgoId::kEd25519, secret.view(), std::nullopt);
  if (!key) return std::unexpected(key.error());
  Bytes record = EncodeRecord(*key);
  SecureWipe(key->secret);
  auto st = WriteFileAtomic(path, record, 0600, Replace::kRefuse);
  SecureWipe(record);
  return st;
}

Result<std::unique_ptr<Node>> Node::Open(const NodeOptions& options) {
  std::unique_ptr<Node> n(new Node());
  n->options_ = options;
  chain::ChainOptions co;
  co.datadir = options.datadir;
  co.sync = options.sync;
  auto chain = chain::Chain::Open(co);
  if (!chain) return std::unexpected(chain.error());
  n->chain_ = std::move(*chain);

  // The validator key, unlocked once at start. Without one the node follows.
  std::string key_file = options.validator_key_file.empty() ? options.datadir + "/validator.key"
                                                            : options.validator_key_file;
  bool have_key = fs::exists(key_file);
  if (!have_key && !options.validator_key_file.empty())
    return Fail(ErrorCode::kNotFound, "no validator key at '" + key_file + "'",
                "give one with 'gtos-node init --key FILE' or --validator-key FILE");
  if (have_key) {
    auto raw = ReadFile(key_file);
    if (!raw) return std::unexpected(raw.error());
    auto key = DecodeRecord<PrivateKey>(*raw);
    if (!key) return std::unexpected(Wrap(key.error(), "'" + key_file + "'"));
    SecureWipe(*raw);
    std::optional<SecretString> passphrase;
    if (key->encrypted()) {
      if (options.passphrase_file.empty())
        return Fail(ErrorCode::kUsage, "validator key '" + key_file + "' is encrypted and no passphrase was given",
                    "pass --passphrase-file FILE or set GTOS_PASSPHRASE_FILE");
      auto p = ReadSecretFile(options.passphrase_file, "passphrase");
      if (!p) return std::unexpected(p.error());
      passphrase = std::move(*p);
    }
    auto secret = UnlockPrivateKey(*key, passphrase ? std::optional<std::string_view>(passphrase->view()) : std::nullopt);
    passphrase.reset();
    SecureWipe(key->secret);
    if (!secret) return std::unexpected(Wrap(secret.error(), "validator key '" + key_file + "'"));
    const crypto::SigAlgo* algo = crypto::FindAlgo(key->algo);
    consensus::PrivValidatorOptions po;
    po.allow_double_sign_for_tests = options.equivocate_for_tests || options.byzantine_for_tests == "forge-blocks" ||
                                     options.byzantine_for_tests == "equivocate-proposals";
    auto pv = consensus::PrivValidator::Open(options.datadir + "/privval_state.bin", std::move(*secret), *algo,
                                             key->public_key, n->chain_->genesis().chain_id, po);
    if (!pv) return std::unexpected(Wrap(pv.error(), "private validator"));
    n->privval_ = std::move(*pv);
    n->signer_ = std::make_unique<consensus::PrivValSigner<consensus::PrivValidator>>(n->privval_.get());
    if (options.double_sign_check_height > 0)
      n->signer_ = std::make_unique<GatedSigner>(std::move(n->signer_), &n->refuse_sign_below_);
    n->validator_address_ = key->address();
  }

  GTOS_TRY(EnsureNodeKey(options.datadir));
  auto ns = ReadNodeKeySecret(options.datadir + "/node.key", &n->node_public_);
  if (!ns) return std::unexpected(ns.error());
  n->node_secret_ = std::move(*ns);

  n->timeouts_ = TimeoutsFor(n->chain_->params().target_block_interval_ms);
  // A validator logs its consensus inputs and signatures (crash recovery);
  // an observer signs nothing and needs no log.
  std::unique_ptr<consensus::Wal> wal;
  if (n->privval_) {
    consensus::WalOptions wo;
    wo.sync = options.sync;
    auto w = consensus::Wal::Open(options.datadir + "/cs.wal", wo);
    if (!w) return std::unexpected(w.error());
    if ((*w)->dropped_tail_bytes() > 0)
      Log(LogLevel::kWarn, "consensus WAL: dropped a torn tail",
          {{"bytes", (*w)->dropped_tail_bytes()}, {"path", (*w)->path()}});
    wal = std::move(*w);
  }
  n->replica_ = std::make_unique<consensus::Replica>(std::move(wal), n->signer_.get());
  if (!options.sign_journal.empty()) {
    n->journal_fd_ = ::open(options.sign_journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (n->journal_fd_ < 0)
      return Fail(ErrorCode::kIO, "cannot open the sign journal '" + options.sign_journal + "': " + std::strerror(errno),
                  "--sign-journal names a file this user can append to (its directory must exist)");
  }
  n->mempool_ = std::make_unique<Mempool>(*n->chain_, options.mempool);
  chain::Chain* chain_ptr = n->chain_.get();
  n->evidence_ = std::make_unique<EvidencePool>([chain_ptr](const Evidence& e) { return chain_ptr->CheckEvidence(e); });
  Node* self = n.get();
  TxGossip::Hooks gh;
  // Called from the gossip thread, which runs only while net_ is set (it is
  // started after and stopped before net_ is, in Run()).
  gh.broadcast = [self](const net::Txs& batch, std::optional<net::PeerId> except) {
    self->net_->Broadcast(batch, except);
  };
  gh.penalize = [self](net::PeerId peer, int points, const std::string& why) { self->Penalize(peer, points, why); };
  n->gossip_ = std::make_unique<TxGossip>(*n->mempool_, std::move(gh));
  n->snapshots_ = std::make_unique<SnapshotService>(*n->chain_, options.datadir, options.snapshot_keep);
  n->rpc_ = std::make_unique<rpc::Server>(*n, options.rpc);
  return n;
}

Node::~Node() {
  if (net_) net_->Stop();
  if (snapshots_) snapshots_->Stop();
  if (gossip_) gossip_->Stop();
  if (rpc_) rpc_->Stop();
  if (journal_fd_ >= 0) ::close(journal_fd_);
  std::fill(node_secret_.begin(), node_secret_.end(), 0);
}

int Node::rpc_port() const { return rpc_->port(); }
int Node::p2p_port() const { return net_ ? net_->port() : 0; }

// ---- rpc::Backend and tx gossip ------------------------------------------------

Result<Hash32> Node::SubmitTx(SignedTx tx) {
  // What the mempool admits goes to the peers (TxGossip drops it on a node
  // without p2p).
  SignedTx copy = tx;
  auto id = mempool_->Add(std::move(tx));
  if (id) gossip_->Local(std::move(copy));
  return id;
}

// ---- net::Handler (I/O thread) ---------------------------------------------------

void Node::OnConnected(const net::PeerInfo& peer) {
  std::lock_guard<std::mutex> l(ev_mu_);
  events_.push_back(Event{Event::kConnected, peer.id, std::nullopt, peer});
  ev_cv_.notify_one();
}

void Node::OnDisconnected(net::PeerId peer) {
  std::lock_guard<std::mutex> l(ev_mu_);
  events_.push_back(Event{Event::kDisconnected, peer, std::nullopt, {}});
  ev_cv_.notify_one();
}

void Node::OnMessage(net::PeerId peer, net::Message msg) {
  if (auto* txs = std::get_if<net::Txs>(&msg)) {
    gossip_->FromPeer(peer, std::move(txs->txs));
    return;
  }
  std::lock_guard<std::mutex> l(ev_mu_);
  if (events_.size() >= 100'000) return;  // the consensus thread is far behind; peers re-send
  events_.push_back(Event{Event::kMessage, peer, std::move(msg), {}});
  ev_cv_.notify_one();
}

// ---- consensus thread -------------------------------------------------------------

void Node::Send(net::PeerId peer, const net::Message& m) {
  if (net_) net_->Send(peer, m);
}
void Node::Broadcast(const net::Message& m, std::optional<net::PeerId> except) {
  if (net_) net_->Broadcast(m, except);
}
void Node::Penalize(net::PeerId peer, int points, const std::string& why) {
  metrics_.bad_messages++;
  Log(LogLevel::kWarn, "bad message from peer", {{"peer", peer}, {"why", why}});
  if (net_) net_->Penalize(peer, points, why);
}

// docs/upgrades.md section 5: a build that does not know the version the
// plan activating at head + 1 requires stops before executing that height,
// like a halt height, so that the new binary starts on the same directory.
void Node::CheckUpgradeHalt() {
  if (halted_) return;
  auto pending = chain_->GetPendingPlan();
  if (!pending || !*pending) return;
  const UpgradePlan& p = (*pending)->plan;
  if (p.activation_height != chain_->height() + 1 || VersionKnown(p.required_version, GTOS_VERSION)) return;
  halted_ = true;
  Log(LogLevel::kInfo, "upgrade required",
      {{"height", chain_->height()},
       {"activation_height", p.activation_height},
       {"plan", p.name},
       {"required_version", p.required_version},
       {"version", std::string(GTOS_VERSION)}});
}

Status Node::StartHeight() {
  uint64_t h = chain_->height() + 1;
  auto set = chain_->ValidatorSetFor(h);
  if (!set) return std::unexpected(set.error());
  current_set_ = *set;
  metrics_.own_power = 0;
  if (validator_address_)
    if (auto i = set->IndexOf(*validator_address_)) metrics_.own_power = set->validators()[*i].power;
  metrics_.total_power = set->total_power();
  metrics_.validators_active = set->size();
  consensus::TendermintConfig cfg;
  cfg.chain_id = chain_->genesis().chain_id;
  cfg.height = h;
  cfg.validators = std::move(*set);
  cfg.self = validator_address_;
  // Timing follows the params in force after the head (an upgrade plan
  // may change target_block_interval_ms): every node has the same head.
  timeouts_ = TimeoutsFor(chain_->params().target_block_interval_ms);
  cfg.timeouts = timeouts_;
  consensus::TendermintHooks hooks;
  hooks.get_value = [this](uint64_t) { return MakeProposal(); };
  hooks.validate = [this](const Block& b) { return ValidateProposal(b); };
  const ChainParams params = chain_->params();
  hooks.timely = [params](const Block& b, uint64_t round, uint64_t receive_ms) {
    return ProposalTimely(params, round, b.header.time_ms, receive_ms);
  };
  height_started_ = Clock::now();
  // The privval's last vote before the machine starts (a proposer signs at
  // once inside StartHeight).
  std::optional<consensus::PrivValState> last = privval_ ? privval_->last_signed() : std::nullopt;
  auto started = replica_->StartHeight(std::move(cfg), std::move(hooks));
  if (!started) return std::unexpected(started.error());
  metrics_.cur_round = tm()->round();
  // Replayed messages are gossiped like received ones: a lock may rest on
  // a polka only they prove to others.
  for (consensus::Proposal& p : started->proposals) {
    net::Message m = net::ProposalMsg{std::move(p)};
    seen_.insert(MessageHash(m));
    height_msgs_.push_back(std::move(m));
  }
  for (Vote& v : started->votes) {
    net::Message m = net::VoteMsg{std::move(v)};
    seen_.insert(MessageHash(m));
    height_msgs_.push_back(std::move(m));
  }
  // Without a log for this height (lost, or a node older than the log),
  // the private validator's last vote, if it is of this height, is sent
  // again and counted: when every validator restarts after signing its
  // precommits, that is what lets the height decide.
  if (started->replayed == 0 && started->own == 0 && !Byz("silent")) {
    if (last && last->vote && last->vote->height == h) {
      GTOS_TRY(Deliver(std::nullopt, net::VoteMsg{*last->vote}));
      Broadcast(net::VoteMsg{*last->vote});
      Log(LogLevel::kInfo, "re-sent the last signed vote", {{"height", h}, {"round", last->vote->round}});
    }
  }
  if (started->replayed > 0 || started->own > 0)
    Log(LogLevel::kInfo, "consensus WAL replayed",
        {{"height", h}, {"inputs", static_cast<uint64_t>(started->replayed)},
         {"own_messages", static_cast<uint64_t>(started->own)}, {"round", tm()->round()},
         {"step", static_cast<uint64_t>(tm()->step())}, {"locked_round", tm()->locked_round()}});
  GTOS_TRY(Drain());
  // Messages that arrived before this height started.
  auto it = pending_.find(h);
  if (it != pending_.end()) {
    std::vector<Pending> msgs = std::move(it->second);
    pending_.erase(it);
    for (Pending& m : msgs) {
      pending_count_--;
      pending_bytes_ -= m.bytes;
      if (m.from && (pending_peer_bytes_[*m.from] -= m.bytes) == 0) pending_peer_bytes_.erase(*m.from);
    }
    for (Pending& m : msgs) {
      if (!tm() || tm()->height() != h) break;  // decided meanwhile
      GTOS_TRY(Deliver(m.from, std::move(m.msg)));
    }
  }
  return Drain();
}

Block Node::MakeProposal() {
  const ChainParams p = chain_->params();
  std::vector<SignedTx> txs = mempool_->Select(p.max_block_txs, p.max_block_bytes);
  std::vector<Evidence> ev = evidence_->All();
  // Signatures were verified at mempool admission; signer bindings,
  // nonces and balances are checked again by execution.
  auto applied = chain_->Propose(std::move(txs), *validator_address_, NowMs(), /*verify_signatures=*/false, ev,
                                 head_commit_ ? &*head_commit_ : nullptr);
  if (!applied) {
    // Cannot happen short of a database error; propose an empty block.
    Log(LogLevel::kError, "building a block failed", {{"error", applied.error().message}});
    applied = chain_->Propose({}, *validator_address_, NowMs(), false, {});
    if (!applied) return Block{};
  }
  for (const auto& [id, err] : applied->exec.left_out)
    Log(LogLevel::kDebug, "tx left out", {{"id", ToHex0x(id)}, {"reason", err.message}});
  // The block's time is when it is ready to send, not when building began:
  // the timeliness rule (docs/consensus.md "Timely proposals") measures
  // the delay from this time to each validator, and selecting and
  // executing 50,000 txs can take seconds. Execution does not read the
  // block time, so setting it now changes no root.
  uint64_t started_ms = applied->block.header.time_ms;
  applied->block.header.time_ms = std::max(started_ms, NowMs());
  Block b = applied->block;
  Log(LogLevel::kDebug, "block built",
      {{"height", b.header.height},
       {"txs", static_cast<uint64_t>(b.txs.size())},
       {"build_ms", b.header.time_ms - started_ms}});
  applied_.emplace(b.header.Hash(), std::move(*applied));
  return b;
}

Status Node::VerifyUnknownTxs(const Block& block) const {
  // Txs in our mempool had their signature checked at admission, others
  // maybe in an earlier proposal.
  std::vector<Hash32> ids(block.txs.size());
  for (size_t i = 0; i < block.txs.size(); ++i) ids[i] = block.txs[i].tx.Id();
  std::vector<bool> known = mempool_->SignatureChecked(block.txs, ids);
  std::vector<size_t> todo;
  for (size_t i = 0; i < ids.size(); ++i)
    if (!known[i]) todo.push_back(i);
  if (todo.empty()) return Ok();
  auto check = [&](size_t from, size_t to) -> Status {
    for (size_t k = from; k < to; ++k) {
      size_t i = todo[k];
      // The signer binding is checked by execution; here only the signature.
      GTOS_TRY(VerifySignedTx(block.txs[i], SignerCheck::kAnyKey, ids[i]));
    }
    return Ok();
  };
  Status result = Ok();
  if (todo.size() < 64) {
    result = check(0, todo.size());
  } else {
    size_t mid = todo.size() / 2;
    auto other = std::async(std::launch::async, check, mid, todo.size());
    Status a = check(0, mid);
    Status b = other.get();
    result = a ? b : a;
  }
  if (result) {
    std::vector<Hash32> checked;
    checked.reserve(todo.size());
    for (size_t i : todo) checked.push_back(Mempool::SignatureKey(block.txs[i], ids[i]));
    mempool_->NoteVerified(checked);
  }
  return result;
}

bool Node::ValidateProposal(const Block& block) {
  Hash32 hash = block.header.Hash();
  if (applied_.count(hash)) return true;
  if (invalid_.count(hash)) return false;
  auto t0 = Clock::now();
  Status sigs = VerifyUnknownTxs(block);
  auto t1 = Clock::now();
  Result<chain::AppliedBlock> applied =
      sigs ? chain_->Validate(block, /*verify_signatures=*/false) : Result<chain::AppliedBlock>(std::unexpected(sigs.error()));
  if (!applied) {
    Log(LogLevel::kWarn, "proposed block is invalid",
        {{"height", block.header.height}, {"hash", ToHex0x(hash)}, {"error", applied.error().message}});
    invalid_[hash] = true;
    return false;
  }
  Log(LogLevel::kDebug, "proposed block valid",
      {{"height", block.header.height}, {"txs", static_cast<uint64_t>(block.txs.size())},
       {"verify_ms", Ms(t1 - t0)}, {"execute_ms", Ms(Clock::now() - t1)}});
  applied_.emplace(hash, std::move(*applied));
  return true;
}

void Node::NoteLatePrecommit(std::optional<net::PeerId> from, const Vote& v) {
  if (!head_commit_ || v.height != head_commit_->height || v.round != head_commit_->round ||
      v.block_hash != head_commit_->block_hash)
    return;  // not for the decided block: nothing to add
  auto& sigs = head_commit_->signatures;
  auto pos = std::lower_bound(sigs.begin(), sigs.end(), v.validator,
                              [](const CommitSig& c, const Address& a) { return c.validator < a; });
  if (pos != sigs.end() && pos->validator == v.validator) return;  // already in
  if (!head_set_) {
    auto set = chain_->ValidatorSetFor(head_commit_->height);
    if (!set) return;
    head_set_ = std::move(*set);
  }
  auto idx = head_set_->IndexOf(v.validator);
  if (!idx) return;  // not a validator of that height (a stale set's member): ignored
  const consensus::Validator& val = head_set_->validators()[*idx];
  const crypto::SigAlgo* algo = crypto::FindAlgo(val.consensus_algo);
  if (!algo || !algo->verify(val.consensus_key, v.SigningDigest(chain_->genesis().chain_id), v.signature)) {
    if (from) Penalize(*from, 25, "late precommit: bad signature");
    return;
  }
  sigs.insert(pos, CommitSig{v.validator, v.signature});
}

Status Node::Deliver(std::optional<net::PeerId> from, net::Message m) {
  auto* proposal = std::get_if<net::ProposalMsg>(&m);
  auto* vote = std::get_if<net::VoteMsg>(&m);
  if (!proposal && !vote) return Ok();
  uint64_t height = proposal ? proposal->proposal.height : vote->vote.height;
  uint64_t round = proposal ? proposal->proposal.round : vote->vote.round;
  uint64_t h = chain_->height() + 1;
  if (vote && height + 1 == h && vote->vote.type == static_cast<uint64_t>(VoteType::kPrecommit)) {
    NoteLatePrecommit(from, vote->vote);
    return Ok();
  }
  if (height != h || !tm()) {
    if (height != h && height != h + 1) return Ok();
    // Only a validator's message is worth keeping (of the set deciding
    // head + 1; a new epoch's newcomers are heard again by re-gossip).
    const Address& signer = proposal ? proposal->proposal.proposer : vote->vote.validator;
    if (!current_set_ || !current_set_->IndexOf(signer)) {
      if (from) Penalize(*from, 5, "message for a later height from a non-validator");
      return Ok();
    }
    size_t bytes = ApproxBytes(m);
    size_t peer_cap = chain_->params().max_block_bytes + (1u << 20);
    size_t& peer_bytes = pending_peer_bytes_[from.value_or(0)];
    if (pending_count_ >= kMaxPending || pending_bytes_ + bytes > kMaxPendingBytes || peer_bytes + bytes > peer_cap)
      return Ok();  // over budget: dropped; re-gossip brings what matters again
    peer_bytes += bytes;
    pending_bytes_ += bytes;
    pending_count_++;
    pending_[height].push_back(Pending{from, std::move(m), bytes});
    return Ok();
  }
  if (round > tm()->round() + kMaxRoundsAhead) return Ok();
  if (proposal) {
    // The body must be the one the signed header names before the proposal
    // is recorded as seen, logged, relayed or judged: otherwise a copy with
    // a stripped or altered body, delivered first, would shadow the genuine
    // proposal (its dedup key and validity are by header hash).
    const Block& b = proposal->proposal.block;
    Status body = b.commit ? Invalid("a proposed block carries a commit") : b.CheckBody();
    if (!body) {
      if (from) Penalize(*from, 50, "proposal: " + body.error().message);
      return Ok();
    }
  }
  Hash32 key = MessageHash(m);
  if (!seen_.insert(key).second) return Ok();
  uint64_t receive_ms = NowMs();
  if (proposal) {
    const Block& b = proposal->proposal.block;
    // How long after its time the proposal reached consensus: what the
    // timeliness rule judges (docs/consensus.md "Timely proposals").
    Log(LogLevel::kDebug, "proposal received",
        {{"height", b.header.height},
         {"round", proposal->proposal.round},
         {"valid_round", proposal->proposal.valid_round},
         {"txs", static_cast<uint64_t>(b.txs.size())},
         {"age_ms", static_cast<int64_t>(receive_ms) - static_cast<int64_t>(b.header.time_ms)},
         {"peer", from ? static_cast<int64_t>(*from) : -1}});
  }
  auto st = proposal ? replica_->OnProposal(proposal->proposal, receive_ms) : replica_->OnVote(vote->vote);
  if (!st) {
    if (st.error().code == ErrorCode::kIO) return st;
    if (from) Penalize(*from, 25, std::string(proposal ? "proposal: " : "vote: ") + st.error().message);
    return Ok();
  }
  if (proposal && !tm()->HoldsProposal(proposal->proposal)) {
    // A second, different proposal of the round (equivocation; the machine
    // reported the pair as evidence once) or one the machine ignored: not
    // relayed nor kept, so a proposer's equivocation costs each node one
    // block in flight, and the evidence, not the blocks, spreads it.
    return Ok();
  }
  if (vote && !tm()->HasVote(vote->vote)) {
    // An equivocating validator's second vote the machine could not keep
    // yet (for a block not proposed so far): it may matter once that
    // proposal arrives, so a later copy must not be dropped as seen.
    seen_.erase(key);
    return Ok();
  }
  last_progress_ = Clock::now();
  if (Byz("silent")) return Ok();
  if (proposal && Byz("tamper-proposals")) SendTampered(proposal->proposal, from);
  Broadcast(m, from);
  height_msgs_.push_back(std::move(m));
  return Ok();
}

void Node::AddEvidence(std::optional<net::PeerId> from, const Evidence& e) {
  const Statement& a = e.a;
  auto added = evidence_->Add(e);
  if (!added) {
    // Only a bad signature is the sender's fault: honest peers may race us
    // with evidence against a validator that was jailed meanwhile.
    if (from && added.error().code == ErrorCode::kCrypto) Penalize(*from, 25, "evidence: " + added.error().message);
    return;
  }
  if (!*added) return;
  metrics_.evidence_pending = evidence_->size();
  Log(LogLevel::kWarn, "equivocation evidence",
      {{"validator", ToHex0x(a.validator)}, {"height", a.height}, {"round", a.round}, {"type", a.type},
       {"kind", std::string(StatementTypeName(a.type))}});
  Broadcast(net::EvidenceMsg{e}, from);
}

// ---- sign journal -------------------------------------------------------------

void Node::JournalLine(const std::string& line) {
  if (journal_fd_ < 0 || journal_failed_) return;
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(journal_fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // A diagnostic must not stop consensus: warn once and stop writing.
      journal_failed_ = true;
      Log(LogLevel::kWarn, "sign journal: write failed, journal stopped",
          {{"path", options_.sign_journal}, {"error", std::strerror(errno)}});
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void Node::JournalProposal(const consensus::Proposal& p) {
  if (journal_fd_ < 0) return;
  nlohmann::json j = {{"height", p.height},        {"round", p.round},
                      {"type", "proposal"},        {"block", ToHex0x(p.BlockHash())},
                      {"valid_round", p.valid_round}, {"wall_ms", NowMs()}};
  JournalLine(j.dump() + "\n");
}

void Node::JournalVote(const Vote& v) {
  if (journal_fd_ < 0) return;
  bool nil = v.block_hash == Hash32{};
  nlohmann::json j = {{"height", v.height}, {"round", v.round}, {"type", std::string(VoteTypeName(v.type))}};
  j["block"] = nil ? nlohmann::json(nullptr) : nlohmann::json(ToHex0x(v.block_hash));
  // What justified a prevote for a block: the valid_round of the proposal
  // it backs (-1: a fresh proposal). A lock taken by a precommit in round
  // L allows a prevote for another block only with valid_round >= L.
  if (!nil && v.type == static_cast<uint64_t>(VoteType::kPrevote) && tm())
    if (auto vr = tm()->ProposalValidRound(v.round, v.block_hash)) j["pol_round"] = *vr;
  j["wall_ms"] = NowMs();
  JournalLine(j.dump() + "\n");
}

Status Node::Drain() {
  while (tm()) {
    auto taken = replica_->TakeOutputs();
    if (!taken) return std::unexpected(taken.error());
    std::vector<consensus::Output> outs = std::move(*taken);
    if (outs.empty()) break;
    for (consensus::Output& o : outs) {
      if (auto* p = std::get_if<consensus::BroadcastProposal>(&o)) {
        net::Message m = net::ProposalMsg{p->proposal};
        seen_.insert(MessageHash(m));
        JournalProposal(p->proposal);
        if (Byz("silent")) continue;
        if (Byz("tamper-proposals")) SendTampered(p->proposal, std::nullopt);
        height_msgs_.push_back(m);
        Broadcast(m);
        if (Byz("equivocate-proposals")) SendConflictingProposal(p->proposal);
      } else if (auto* v = std::get_if<consensus::BroadcastVote>(&o)) {
        net::Message m = net::VoteMsg{v->vote};
        seen_.insert(MessageHash(m));
        JournalVote(v->vote);
        if (Byz("silent")) continue;
        height_msgs_.push_back(m);
        Broadcast(m);
        if (options_.equivocate_for_tests && v->vote.type == static_cast<uint64_t>(VoteType::kPrevote)) {
          // TESTS ONLY: a second prevote of the same position for another block.
          Vote twin = v->vote;
          Bytes tag(twin.block_hash.v.begin(), twin.block_hash.v.end());
          tag.push_back(0xEE);
          twin.block_hash = crypto::Sha256(tag);
          auto sig = privval_->SignVote(twin);
          if (sig) {
            twin.signature = std::move(*sig);
            Log(LogLevel::kWarn, "TEST SWITCH: sent a conflicting prevote",
                {{"height", twin.height}, {"round", twin.round}});
            Broadcast(net::VoteMsg{twin});
          }
        }
      } else if (auto* t = std::get_if<consensus::ScheduleTimeout>(&o)) {
        timers_.emplace(Clock::now() + std::chrono::milliseconds(t->after_ms), Timer{t->kind, t->height, t->round});
      } else if (auto* d = std::get_if<consensus::Decide>(&o)) {
        Hash32 hash = d->block.header.Hash();
        auto it = applied_.find(hash);
        std::optional<chain::AppliedBlock> applied;
        if (it != applied_.end()) {
          applied = std::move(it->second);
          applied_.erase(it);
        } else {
          auto a = chain_->Validate(d->block, /*verify_signatures=*/true);
          if (!a) return std::unexpected(Wrap(a.error(), "decided block " + std::to_string(d->height)));
          applied = std::move(*a);
        }
        return CommitBlock(std::move(*applied), d->commit, /*decided_here=*/true, d->round);
      } else if (auto* e = std::get_if<consensus::EvidenceFound>(&o)) {
        AddEvidence(std::nullopt, e->evidence);
      } else if (auto* f = std::get_if<consensus::SignFailed>(&o)) {
        metrics_.sign_failures++;
        // A double_sign_check_height hold was logged once when it began.
        if (!f->error.message.starts_with("double_sign_check_height"))
          Log(LogLevel::kWarn, "refused to sign", {{"what", f->what}, {"error", f->error.message}});
      }
    }
    if (tm()) metrics_.cur_round = tm()->round();
  }
  return Ok();
}

Status Node::CommitBlock(chain::AppliedBlock applied, const Commit& commit, bool decided_here, uint64_t round) {
  auto t0 = Clock::now();
  applied.block.commit = commit;
  BlockHeader hd = applied.block.header;
  size_t ntx = applied.block.txs.size();
  // Subscribers' view of the block (docs/rpc.md "Subscriptions"): copied
  // before the chain consumes the block, handed over once the chain has
  // it, so that queries already answer for it; the JSON is built on the
  // subscription thread.
  auto published = std::make_shared<rpc::CommittedBlock>();
  published->header = hd;
  published->tx_ids = applied.exec.tx_ids;
  published->receipts = applied.exec.receipts;
  published->kv_changes = std::move(applied.exec.kv_changes);
  GTOS_TRY(chain_->Commit(std::move(applied), commit));
  if (rpc_) rpc_->Publish(std::move(published));
  CheckForeignSignature(commit);
  auto t1 = Clock::now();
  mempool_->Committed(hd);
  snapshots_->OnCommitted(hd.height);
  // Evidence the next block would no longer take (included, so its
  // validator is jailed, or too old) leaves the pool.
  evidence_->Prune();
  metrics_.evidence_pending = evidence_->size();
  metrics_.blocks_committed++;
  if (!decided_here) metrics_.blocks_synced++;
  metrics_.txs_committed += ntx;
  metrics_.last_block_txs = ntx;
  metrics_.last_commit_ms = NowMs();
  metrics_.last_decide_round = round;
  last_progress_ = Clock::now();
  {
    int64_t prev_ns = last_commit_steady_ns_;
    int64_t now_ns = last_progress_.time_since_epoch().count();
    if (prev_ns != 0 && now_ns > prev_ns) {
      metrics_.ObserveIntervalMs(static_cast<uint64_t>(now_ns - prev_ns) / 1'000'000);
    }
    last_commit_steady_ns_ = now_ns;
  }
  waiting_genesis_ = false;
  pruned_answers_.clear();
  behind_window_from_ = 0;
  if (options_.halt_height && hd.height >= options_.halt_height && !halted_) {
    halted_ = true;
    Log(LogLevel::kInfo, "halting at the configured height", {{"height", hd.height}, {"halt_height", options_.halt_height}});
  }
  CheckUpgradeHalt();
  Log(LogLevel::kInfo, decided_here ? "block committed" : "block synced",
      {{"height", hd.height},
       {"round", round},
       {"txs", static_cast<uint64_t>(ntx)},
       {"mempool", static_cast<uint64_t>(mempool_->size())},
       {"commit_ms", Ms(t1 - t0)},
       {"height_ms", Ms(t1 - height_started_)},
       {"proposer", ToHex0x(hd.proposer)},
       {"state_root", ToHex0x(hd.state_root)}});
  // Next height: a fresh machine after the rhythm's pause.
  replica_->Stop();
  applied_.clear();
  invalid_.clear();
  timers_.clear();
  // What a peer one height behind needs to decide this height itself: the
  // proposal and the precommits of the decision.
  if (decided_here) {
    last_height_msgs_.clear();
    for (net::Message& m : height_msgs_) {
      if (auto* p = std::get_if<net::ProposalMsg>(&m); p && p->proposal.BlockHash() == commit.block_hash &&
                                                         p->proposal.round == commit.round)
        last_height_msgs_.push_back(std::move(m));
      else if (auto* v = std::get_if<net::VoteMsg>(&m);
               v && v->vote.type == static_cast<uint64_t>(VoteType::kPrecommit) && v->vote.round == commit.round &&
               v->vote.block_hash == commit.block_hash)
        last_height_msgs_.push_back(std::move(m));
    }
  } else {
    last_height_msgs_.clear();
  }
  last_height_sent_.clear();
  head_commit_ = commit;
  head_set_.reset();
  height_msgs_.clear();
  proposal_resend_.clear();
  seen_.clear();
  ClearPending(hd.height);
  // The next height starts target_block_interval_ms after this block's
  // time (the proposer's clock when it proposed), on every node alike, so
  // that validators stay in step; at once when that moment has passed.
  // The wait is capped at one interval against a proposer clock ahead of ours.
  uint64_t interval = chain_->params().target_block_interval_ms;
  uint64_t now_ms = NowMs();
  uint64_t due = hd.time_ms + interval;
  uint64_t wait = due > now_ms ? std::min(due - now_ms, interval) : 0;
  next_start_ = Clock::now() + std::chrono::milliseconds(wait);
  if (net_) net_->SetLocalHeight(Byz("lie-height") ? uint64_t{1} << 62 : hd.height);
  Broadcast(MyStatus());
  return Ok();
}

// ---- test-only misbehaviour (NodeOptions::byzantine_for_tests) ----------------

net::Status Node::MyStatus() {
  BlockHeader head = chain_->head();
  return net::Status{Byz("lie-height") ? uint64_t{1} << 62 : head.height, head.Hash()};
}

void Node::SendTampered(const consensus::Proposal& p, std::optional<net::PeerId> except) {
  consensus::Proposal stripped = p;  // header and signature unchanged
  stripped.block.txs.clear();
  stripped.block.evidence.clear();
  Broadcast(net::ProposalMsg{std::move(stripped)}, except);
}

// TESTS ONLY (--unsafe-byzantine equivocate-proposals): after the genuine
// proposal, a second one for the same height and round, signed too: the
// same block 1 ms later (another header hash), to half of the peers (those
// at even places in id order; at least one). Receivers already hold the genuine one (same connection,
// sent first), keep it, and report the pair as proposal evidence.
void Node::SendConflictingProposal(const consensus::Proposal& p) {
  if (!privval_ || !net_) return;
  consensus::Proposal twin = p;
  twin.block.header.time_ms += 1;
  auto sig = privval_->SignProposal(twin.height, twin.round, twin.SigningDigest(chain_->genesis().chain_id));
  if (!sig) {
    Log(LogLevel::kWarn, "TEST SWITCH: the privval refused the conflicting proposal", {{"error", sig.error().message}});
    return;
  }
  twin.signature = std::move(*sig);
  std::vector<net::PeerInfo> peers = net_->Peers();
  std::sort(peers.begin(), peers.end(), [](const net::PeerInfo& x, const net::PeerInfo& y) { return x.id < y.id; });
  net::Message m = net::ProposalMsg{std::move(twin)};
  uint64_t sent = 0;
  for (size_t i = 0; i < peers.size(); i += 2, ++sent) Send(peers[i].id, m);
  Log(LogLevel::kWarn, "TEST SWITCH: sent a conflicting proposal",
      {{"height", p.height}, {"round", p.round}, {"peers", sent}});
}

// Signed proposals for head + 2 with 4 MiB bodies, from this validator (so
// they pass the sender's membership filter and cost the receiver memory).
void Node::FloodProposals() {
  if (!privval_ || !validator_address_) return;
  uint64_t h = chain_->height() + 2;
  if (h != flood_height_) flood_height_ = h, flood_round_ = 0;
  for (uint64_t i = 0; i < 8; ++i) {
    consensus::Proposal p;
    p.height = h;
    p.round = ++flood_round_;  // the privval signs only ever higher positions
    p.proposer = *validator_address_;
    p.block.header.chain_id = chain_->genesis().chain_id;
    p.block.header.height = h;
    p.block.header.proposer = *validator_address_;
    for (int k = 0; k < 64; ++k) {
      SignedTx tx;
      tx.tx.chain_id = chain_->genesis().chain_id;
      tx.tx.nonce = static_cast<uint64_t>(k);
      KvPutTx kv;
      kv.ns = Bytes{'f'};
      kv.key = Bytes{static_cast<uint8_t>(k)};
      kv.value.assign(64 << 10, static_cast<uint8_t>(i));
      tx.tx.payload.body = kv;
      tx.algo = static_cast<uint64_t>(crypto::AlgoId::kEd25519);
      tx.public_key.assign(32, 1);
      tx.signature.assign(64, 2);
      p.block.txs.push_back(std::move(tx));
    }
    auto sig = privval_->SignProposal(h, p.round, p.SigningDigest(chain_->genesis().chain_id));
    if (!sig) continue;  // the privval refuses below its position: fine, try the next round
    p.signature = std::move(*sig);
    Broadcast(net::ProposalMsg{std::move(p)});
  }
  last_flood_ = Clock::now();
}

// TESTS ONLY (--unsafe-byzantine forge-blocks): answers a block request with
// forgeries: each block as committed but 1 ms later (another hash, the
// same state: execution does not read the time) under a certificate of
// this validator's signature alone. An honest node refuses the certificate
// and penalises; one that skips the check (the skip-commit-check mutant)
// takes a block no quorum signed and forks off.
void Node::ServeForged(net::PeerId peer, const net::GetBlocks& req) {
  if (!privval_ || !validator_address_) return;
  net::Blocks out;
  const uint64_t head = chain_->height();
  for (uint64_t h = std::max<uint64_t>(req.from, 1); h <= head && out.blocks.size() < std::min<uint64_t>(req.max, 16);
       ++h) {
    auto b = chain_->GetBlock(h);
    if (!b || !*b) break;
    Block f = std::move(**b);
    f.header.time_ms += 1;
    Vote v;
    v.type = static_cast<uint64_t>(VoteType::kPrecommit);
    v.height = h;
    v.round = 0;
    v.block_hash = f.header.Hash();
    v.validator = *validator_address_;
    auto sig = privval_->SignVote(v);
    if (!sig) break;
    f.commit = Commit{h, 0, v.block_hash, {CommitSig{*validator_address_, std::move(*sig)}}};
    out.blocks.push_back(std::move(f));
  }
  Send(peer, std::move(out));
}

void Node::ClearPending(uint64_t up_to_height) {
  for (auto it = pending_.begin(); it != pending_.end() && it->first <= up_to_height;) {
    for (Pending& m : it->second) {
      pending_count_--;
      pending_bytes_ -= m.bytes;
      if (m.from && (pending_peer_bytes_[*m.from] -= m.bytes) == 0) pending_peer_bytes_.erase(*m.from);
    }
    it = pending_.erase(it);
  }
}

Status Node::ApplySyncedBlocks(net::PeerId peer, std::vector<Block> blocks) {
  auto now = Clock::now();
  if (!sync_.Expecting(peer, now)) {
    // Nobody asked: a large message we did not request.
    if (!blocks.empty()) Penalize(peer, 20, "unrequested blocks");
    return Ok();
  }
  // The highest height the answer carried that was good (0: nothing).
  uint64_t newest = 0;
  for (Block& b : blocks) {
    if (halted_) break;
    uint64_t head = chain_->height();
    if (b.header.height <= head) {
      newest = std::max(newest, b.header.height);  // a copy of what another peer served first
      continue;
    }
    if (b.header.height != head + 1) break;
    if (!b.commit) {
      Penalize(peer, 50, "synced block without commit");
      return Ok();
    }
    Commit commit = *b.commit;
#ifdef GTOS_MUTANT_SKIP_COMMIT_CHECK
    Status st = Ok();  // MUTANT (tests only): the certificate is not checked
#else
    auto st = chain_->VerifyCommit(b.header, commit);
#endif
    if (!st) {
      Penalize(peer, 100, "synced block " + std::to_string(b.header.height) + ": " + st.error().message);
      return Ok();
    }
    // The certificate makes the block final; execution must agree with it.
    st = VerifyUnknownTxs(b);
    if (!st) {
      Penalize(peer, 100, "synced block " + std::to_string(b.header.height) + ": " + st.error().message);
      return Ok();
    }
    auto applied = chain_->Validate(std::move(b), /*verify_signatures=*/false);
    if (!applied) {
      Penalize(peer, 100, "synced block: " + applied.error().message);
      return Ok();
    }
    GTOS_TRY(CommitBlock(std::move(*applied), commit, /*decided_here=*/false, commit.round));
    newest = chain_->height();
  }
  if (blocks.empty()) NotePrunedAnswer(peer, now);
  // A peer that sends nothing we can use has not got the height it claimed
  // (or pruned it): its claim is cut back and it loses standing.
  sync_.OnAnswer(peer, newest, chain_->height(), now);
  MaybeRequestBlocks(now);
  return Ok();
}

void Node::NotePrunedAnswer(net::PeerId peer, Clock::time_point now) {
  const uint64_t head = chain_->height();
  const uint64_t claim = sync_.Claimed(peer);
  // Every node keeps the same window (genesis retain_blocks and
  // snapshot_interval): a peer at `claim` keeps from RetentionStart(claim)
  // on, or more while its pruning catches up. An empty answer for a height
  // below that start is "pruned", not "not there yet".
  if (claim <= head + 1 || head + 1 >= chain_->RetentionStart(claim)) return;
  pruned_answers_.insert(peer);
  // Two peers agree (or the only one said so): one lying peer alone cannot
  // send a node with several peers into state sync, and state sync itself
  // replaces the chain only with a snapshot verified from the genesis.
  size_t peers = net_ ? net_->Peers().size() : 1;
  if (pruned_answers_.size() < std::min<size_t>(2, std::max<size_t>(1, peers))) return;
  const uint64_t keep_from = chain_->RetentionStart(claim);
  behind_window_from_ = keep_from;
  if (options_.state_sync_when_behind) {
    if (!fell_behind_)
      Log(LogLevel::kWarn, "fell behind the peers' retention window: switching to state sync",
          {{"head", head}, {"peer_height", claim}, {"peers_keep_from", keep_from}});
    fell_behind_ = true;
  } else if (last_behind_warn_ == Clock::time_point{} || now - last_behind_warn_ >= std::chrono::minutes(1)) {
    last_behind_warn_ = now;
    Log(LogLevel::kWarn, "fell behind the peers' retention window: block sync cannot continue",
        {{"head", head}, {"peer_height", claim}, {"peers_keep_from", keep_from},
         {"hint", "restart the node with --state-sync"}});
  }
}

void Node::MaybeRequestBlocks(Clock::time_point now) {
  std::vector<net::PeerId> timed_out;
  for (const BlockSync::Request& r : sync_.Poll(chain_->height(), now, &timed_out))
    Send(r.peer, net::GetBlocks{r.from, r.max});
  // A height claimed and not served costs standing.
  for (net::PeerId p : timed_out) Penalize(p, 2, "block request timed out");
}

// Every message of the height again, for a new peer (`to`) or while the
// height is stuck (a message lost with a connection that closed, or dropped
// by a peer that was behind). Bounded so that it cannot feed on itself:
// nothing goes to a peer whose send queue still holds more than
// kRegossipQueueBytes (it has not read what it got), and while stuck a
// proposal goes to a peer again only after a backoff that doubles (2 s,
// 4 s, ... 32 s). Resending every proposal of the height every 600 ms once
// filled 16 MiB blocks' receivers' 128 MiB send queues: the peers were
// dropped as too slow, reconnected, got it all again, and the height never
// decided (security_test snapshot_parts, 400 kv-puts of 60 KiB).
void Node::Regossip(std::optional<net::PeerId> to) {
  if (!net_) return;
  std::vector<net::PeerId> peers;
  if (to) {
    peers.push_back(*to);
  } else {
    for (const net::PeerInfo& p : net_->Peers()) peers.push_back(p.id);
  }
  const auto now = Clock::now();
  for (net::PeerId peer : peers) {
    std::optional<size_t> queued = net_->QueuedBytes(peer);
    if (!queued || *queued > kRegossipQueueBytes) continue;
    for (const net::Message& m : height_msgs_) {
      if (const auto* p = std::get_if<net::ProposalMsg>(&m)) {
        auto [it, fresh] = proposal_resend_.try_emplace(
            std::make_tuple(peer, p->proposal.round, p->proposal.BlockHash()), ResendBackoff{});
        ResendBackoff& b = it->second;
        // First seen here while stuck: the broadcast already carried it.
        if (fresh && !to) b.next = now + kRegossipFirstBackoff;
        if (now < b.next) continue;
        b.next = now + std::min<std::chrono::milliseconds>(
                           kRegossipFirstBackoff * (int64_t{1} << std::min<uint64_t>(b.count, 4)), kRegossipMaxBackoff);
        b.count++;
      }
      Send(peer, m);
    }
    for (const Evidence& e : evidence_->All()) Send(peer, net::EvidenceMsg{e});
  }
}

Status Node::HandleMessage(net::PeerId peer, net::Message& msg) {
  if (std::holds_alternative<net::ProposalMsg>(msg) || std::holds_alternative<net::VoteMsg>(msg)) {
    GTOS_TRY(Deliver(peer, std::move(msg)));
  } else if (auto* e = std::get_if<net::EvidenceMsg>(&msg)) {
    AddEvidence(peer, e->evidence);
  } else if (auto* s = std::get_if<net::Status>(&msg)) {
    sync_.OnStatus(peer, s->height);
    uint64_t head = chain_->height();
    if (s->height > head) MaybeRequestBlocks(Clock::now());
    // One height behind: the decision's proposal and precommits let it
    // decide that height itself, without a block request.
    if (s->height + 1 == head && !last_height_msgs_.empty() && last_height_sent_[peer] != head) {
      last_height_sent_[peer] = head;
      for (const net::Message& m : last_height_msgs_) Send(peer, m);
    }
  } else if (auto* g = std::get_if<net::GetBlocks>(&msg)) {
    if (Byz("forge-blocks")) {
      ServeForged(peer, *g);
    } else if (block_server_ && !Byz("lie-height")) {
      block_server_->Serve(peer, *g);
    }
  } else if (auto* b = std::get_if<net::Blocks>(&msg)) {
    return ApplySyncedBlocks(peer, std::move(b->blocks));
  } else if (std::holds_alternative<net::GetSnapshots>(msg)) {
    Send(peer, net::Snapshots{snapshots_->Offers()});
  } else if (auto* part = std::get_if<net::GetSnapshotPart>(&msg)) {
    // Read on the snapshot worker; net::Host::Send is thread-safe.
    net::Host* host = net_.get();
    // A piece is handed over only while the peer's send queue is short, so
    // a request costs at most kSnapshotQueueBytes of memory however large
    // the part; a peer that does not read what it asked for is penalised.
    using Delivery = SnapshotService::Delivery;
    snapshots_->Serve(
        peer, *part,
        [host, peer](net::SnapshotPart reply) {
          std::optional<size_t> queued = host->QueuedBytes(peer);
          if (!queued) return Delivery::kGone;
          if (*queued >= kSnapshotQueueBytes) return Delivery::kBusy;
          host->Send(peer, reply);
          return Delivery::kSent;
        },
        [host, peer] { host->Penalize(peer, 50, "does not read the snapshot part it asked for"); },
        kSnapshotDrainMs);
  } else if (std::holds_alternative<net::Snapshots>(msg) || std::holds_alternative<net::SnapshotPart>(msg)) {
    // A running node never asks for snapshots (state sync runs before it).
    Penalize(peer, 20, "unrequested " + std::string(net::MessageName(msg)));
  }
  return Ok();
}

Status Node::HandleEvent(Event ev) {
  switch (ev.kind) {
    case Event::kConnected: {
      sync_.OnStatus(ev.peer, ev.info.height);
      BlockHeader head = chain_->head();
      Send(ev.peer, MyStatus());
      Regossip(ev.peer);
      if (ev.info.height > head.height) MaybeRequestBlocks(Clock::now());
      return Ok();
    }
    case Event::kDisconnected:
      sync_.OnGone(ev.peer);
      last_height_sent_.erase(ev.peer);
      return Ok();
    case Event::kMessage:
      return HandleMessage(ev.peer, *ev.msg);
  }
  return Ok();
}

Status Node::Step(Clock::time_point now) {
  if (!tm() && now >= next_start_) GTOS_TRY(StartHeight());
  // Due timeouts.
  while (!timers_.empty() && timers_.begin()->first <= now && tm()) {
    Timer t = timers_.begin()->second;
    timers_.erase(timers_.begin());
    GTOS_TRY(replica_->OnTimeout(t.kind, t.height, t.round));
    GTOS_TRY(Drain());
  }
  // Status every second; re-send this height's messages when stuck.
  if (now - last_status_ >= std::chrono::seconds(1)) {
    last_status_ = now;
    BlockHeader head = chain_->head();
    Broadcast(MyStatus());
    if (Byz("flood-proposals")) FloodProposals();
  }
  MaybeRequestBlocks(now);  // cheap: acts on timeouts and idle peers
  PublishHealth(now);
  LogIfStuck(now);
  auto stuck = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(2 * chain_->params().target_block_interval_ms),
                                                   std::chrono::milliseconds(500));
  if (tm() && now - last_progress_ >= stuck && now - last_regossip_ >= stuck) {
    last_regossip_ = now;
    Regossip(std::nullopt);
  }
  return Ok();
}

void Node::CheckForeignSignature(const Commit& c) {
  const uint64_t n = options_.double_sign_check_height;
  if (n == 0 || !privval_ || !validator_address_) return;
  auto last = privval_->last_signed();
  // Our own precommits are at heights our private validator reached.
  if (last && c.height <= last->height) return;
  bool ours = std::any_of(c.signatures.begin(), c.signatures.end(),
                          [&](const CommitSig& s) { return s.validator == *validator_address_; });
  if (!ours) return;
  const uint64_t until = c.height + n + 1;  // signs again from this height on
  const uint64_t before = refuse_sign_below_.load();
  if (until <= before) return;
  refuse_sign_below_ = until;
  // Logged when a hold begins; extending it (each later commit of the
  // other instance, e.g. while block-syncing) is logged at debug.
  Log(before > c.height ? LogLevel::kDebug : LogLevel::kError,
      "this validator's key signed a block this node did not: another instance may be running with the same key; "
      "signing nothing until the height below",
      {{"commit_height", c.height},
       {"signed_here_up_to", last ? last->height : uint64_t{0}},
       {"sign_again_at", until},
       {"double_sign_check_height", n}});
}

void Node::PublishHealth(Clock::time_point now) {
  peers_best_height_ = sync_.BestClaimed();
  peers_with_status_ = sync_.known_peers();
  if (replica_ && tm()) {
    heard_power_ = tm()->HeardPower();
    set_power_ = tm()->validators().total_power();
    set_size_ = tm()->validators().size();
  }
  if (waiting_genesis_ && next_start_ <= now) waiting_genesis_ = false;
}

namespace {
const char* StepName(consensus::Step s) {
  switch (s) {
    case consensus::Step::kPropose: return "propose";
    case consensus::Step::kPrevote: return "prevote";
    case consensus::Step::kPrecommit: return "precommit";
  }
  return "?";
}
}  // namespace

// A stuck height says so every 5 s (docs/node.md "Logs"): where the
// machine is and how much voting power it has seen, so that an operator
// can tell a missing proposer from a lost quorum.
void Node::LogIfStuck(Clock::time_point now) {
  if (!replica_ || !tm() || waiting_genesis_) return;
  const uint64_t T = chain_->params().target_block_interval_ms;
  auto since = now - Clock::time_point(Clock::duration(last_commit_steady_ns_.load()));
  auto after = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(3 * T), std::chrono::seconds(3));
  if (since < after || now - last_stuck_log_ < std::chrono::seconds(5)) return;
  last_stuck_log_ = now;
  consensus::Tendermint* m = tm();
  auto powers = m->PowersOf(m->round());
  Log(LogLevel::kWarn, "height stuck",
      {{"height", m->height()},
       {"round", m->round()},
       {"step", std::string(StepName(m->step()))},
       {"since_ms", static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(since).count())},
       {"proposal", std::string(powers.proposal ? "yes" : "no")},
       {"prevote_power", powers.prevotes},
       {"precommit_power", powers.precommits},
       {"heard_power", m->HeardPower()},
       {"total_power", m->validators().total_power()},
       {"peers", static_cast<uint64_t>(net_ ? net_->Peers().size() : 0)}});
}

std::string Node::NotReadyReason() const {
  if (!ready_.load()) return "not started";
  if (waiting_genesis_.load()) return "waiting for genesis time";
  const uint64_t head = chain_->height();
  const uint64_t best = peers_best_height_.load();
  if (uint64_t from = behind_window_from_.load(); from > head + 1)
    return "behind the peers' retention window: head " + std::to_string(head) + ", they keep blocks from " +
           std::to_string(from) + (options_.state_sync_when_behind ? "; switching to state sync" : "; restart with --state-sync");
  if (best > head + 1)
    return "catching up: head " + std::to_string(head) + ", peers at " + std::to_string(best);
  // A validator alone in its set makes blocks by itself; anyone else (an
  // observer always) needs peers, and their heights, before it can say it
  // is current.
  const bool observer = !privval_;
  const bool needs_peers = observer || set_size_.load() > 1;
  net::Host* host = net_ptr_.load(std::memory_order_acquire);
  if (needs_peers && host && host->Peers().empty())
    return !observer ? "no peers (the active set has " + std::to_string(set_size_.load()) + " validators)"
                    : std::string("no peers (an observer follows its peers)");
  // Connected, but no peer said how high it is yet: it may be far ahead.
  if (needs_peers && peers_with_status_.load() == 0) return "waiting for the peers' heights";
  const uint64_t T = std::max<uint64_t>(1, chain_->params().target_block_interval_ms);
  auto since = Clock::now() - Clock::time_point(Clock::duration(last_commit_steady_ns_.load()));
  const uint64_t age = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(since).count());
  const uint64_t total = set_power_.load(), heard = heard_power_.load();
  // Two intervals without a block and less than 2/3 of the power heard
  // from in this height: the quorum is gone, whatever the timeouts say.
  if (age >= 2 * T && total > 0 && !(heard * 3 > total * 2))
    return "no quorum: heard from " + std::to_string(heard) + " of " + std::to_string(total) +
           " voting power in this height; last block " + std::to_string(age) + " ms ago";
  const uint64_t limit = options_.ready_max_block_intervals * T;
  if (age >= limit)
    return "no block committed for " + std::to_string(age) + " ms (ready_max_block_intervals " +
           std::to_string(options_.ready_max_block_intervals) + " x " + std::to_string(T) + " ms)";
  return {};
}

rpc::SyncStatus Node::Syncing() const {
  rpc::SyncStatus s;
  s.head = chain_->height();
  s.peers_best = peers_best_height_.load();
  s.catching_up = s.peers_best > s.head + 1;
  net::Host* host = net_ptr_.load(std::memory_order_acquire);
  s.peers = ready_.load() && host ? host->Peers().size() : 0;
  s.not_ready = NotReadyReason();
  return s;
}

std::vector<rpc::PeerView> Node::Peers() const {
  std::vector<rpc::PeerView> out;
  net::Host* host = net_ptr_.load(std::memory_order_acquire);
  if (!ready_.load() || !host) return out;
  for (const net::PeerInfo& p : host->Peers()) {
    rpc::PeerView v;
    v.id = p.id;
    v.node_key = p.node_key;
    v.address = p.address;
    v.listen = p.listen;
    v.outbound = p.outbound;
    v.height = p.height;
    v.score = p.score;
    v.connected_ms = p.connected_ms;
    v.bytes_in = p.bytes_in;
    v.bytes_out = p.bytes_out;
    out.push_back(std::move(v));
  }
  return out;
}

rpc::MempoolView Node::MempoolInfo(size_t max_senders) const {
  rpc::MempoolView v;
  v.txs = mempool_->size();
  v.bytes = mempool_->bytes();
  for (const auto& s : mempool_->Senders(max_senders))
    v.senders.push_back(rpc::MempoolSender{s.address, s.txs, s.bytes, s.lowest_nonce, s.highest_nonce});
  return v;
}

std::vector<SignedTx> Node::MempoolTxs(size_t max_txs, const std::optional<Address>& from) const {
  return mempool_->Txs(max_txs, from);
}

net::NetOptions MakeNetOptions(const P2pOptions& p2p, const Genesis& genesis, const Hash32& genesis_hash,
                               Bytes node_secret, Bytes node_public) {
  net::NetOptions no;
  no.listen = p2p.listen;
  no.external = p2p.external;
  no.seeds = p2p.peers;
  no.chain_id = genesis.chain_id;
  no.genesis_hash = genesis_hash;
  no.node_secret = std::move(node_secret);
  no.node_public = std::move(node_public);
  no.max_peers = p2p.max_peers;
  no.max_inbound = p2p.max_inbound;
  no.max_outbound = p2p.max_outbound;
  no.max_per_ip = p2p.max_per_ip;
  no.reserved_keys = p2p.reserved_keys;
  no.allow_private_addrs = p2p.allow_private;
  no.max_frame_bytes = genesis.params.max_block_bytes + (1 << 20);
  no.discovery = p2p.discovery;
  no.log = [](const std::string& line) { Log(LogLevel::kDebug, "p2p", {{"event", line}}); };
  return no;
}

Status Node::Run(const std::atomic<bool>& stop) {
  GTOS_TRY(rpc_->Start());
  const P2pOptions& p2p = options_.p2p;
  if (!p2p.listen.empty() || !p2p.peers.empty()) {
    net::NetOptions no = MakeNetOptions(p2p, chain_->genesis(), chain_->genesis_hash(), node_secret_, node_public_);
    auto host = net::Host::Start(std::move(no), this);
    if (!host) {
      rpc_->Stop();
      return std::unexpected(Wrap(host.error(), "p2p"));
    }
    net_ = std::move(*host);
    net_ptr_.store(net_.get(), std::memory_order_release);
    gossip_->Start();
    net::Host* h = net_.get();
    BlockServerOptions bso;
    bso.max_bytes = chain_->params().max_block_bytes / 2 + (1 << 20);
    block_server_ = std::make_unique<BlockServer>(*chain_, bso, [h](net::PeerId peer, net::Blocks b) { h->Send(peer, b); });
  } else if (chain_->genesis().validators.size() > 1) {
    Log(LogLevel::kWarn, "this chain has several validators but no --p2p-addr or --peer was given");
  }
  BlockHeader head = chain_->head();
  Log(LogLevel::kInfo, "node started",
      {{"chain_id", chain_->genesis().chain_id},
       {"height", head.height},
       {"rpc", "http://" + options_.rpc.host + ":" + std::to_string(rpc_->port())},
       {"p2p", net_ ? p2p.listen.empty() ? std::string("outbound only") : p2p.listen + " (port " + std::to_string(net_->port()) + ")"
                    : std::string("off")},
       {"validator", validator_address_ ? ToHex0x(*validator_address_) : std::string("none (observer)")},
       {"node_key", ToHex0x(node_public_)}});
  if (options_.equivocate_for_tests)
    Log(LogLevel::kWarn, "TEST SWITCH --unsafe-equivocate is on: this validator double-signs and will be slashed");
  if (!options_.byzantine_for_tests.empty())
    Log(LogLevel::kWarn, "TEST SWITCH --unsafe-byzantine is on: this node misbehaves on purpose",
        {{"mode", options_.byzantine_for_tests}});
#ifdef GTOS_MUTANT_NAME
  Log(LogLevel::kWarn, "MUTANT BUILD (tests only): this node is deliberately broken", {{"mutant", GTOS_MUTANT_NAME}});
#endif
  auto now = Clock::now();
  next_start_ = now;
  // genesis_time_ms is the launch time: height 1 starts no earlier
  // (docs/node.md). The wait is capped at 100 years so that the steady
  // clock's nanoseconds cannot overflow.
  if (chain_->height() == 0) {
    uint64_t genesis_ms = chain_->genesis().genesis_time_ms;
    uint64_t now_ms = NowMs();
    if (genesis_ms > now_ms) {
      uint64_t wait = std::min<uint64_t>(genesis_ms - now_ms, uint64_t{100} * 366 * 24 * 3600 * 1000);
      Log(LogLevel::kInfo, "waiting for genesis time", {{"wait_ms", wait}, {"genesis_time_ms", genesis_ms}});
      next_start_ = now + std::chrono::milliseconds(wait);
    }
  }
  last_progress_ = now;
  last_status_ = now;
  last_regossip_ = now;
  Status result = Ok();
  // double_sign_check_height: the last N commits, before anything is signed.
  if (const uint64_t n = options_.double_sign_check_height; n > 0 && privval_) {
    const uint64_t top = chain_->height();
    for (uint64_t h = top >= n ? top - n + 1 : 1; h <= top; ++h)
      if (auto c = chain_->GetCommit(h); c && *c) CheckForeignSignature(**c);
  }
  if (options_.halt_height && chain_->height() >= options_.halt_height) {
    halted_ = true;
    Log(LogLevel::kInfo, "halting at the configured height",
        {{"height", chain_->height()}, {"halt_height", options_.halt_height}});
  }
  CheckUpgradeHalt();
  last_commit_steady_ns_ = now.time_since_epoch().count();
  waiting_genesis_ = next_start_ > now;
  // /readyz answers from here on: the health fields (the set's size, the
  // peers' heights) are filled first, so that it never says ready for the
  // moment before they are known.
  PublishHealth(now);
  // The machine for the next height starts on the first tick: until then
  // the set's size comes from the chain, so that "no peers" holds at once.
  if (!tm()) {
    if (auto set = chain_->ValidatorSetFor(chain_->height() + 1)) {
      set_power_ = set->total_power();
      set_size_ = set->size();
    }
  }
  ready_ = true;
  while (!stop.load() && !fell_behind_ && !halted_) {
    now = Clock::now();
    auto st = Step(now);
    if (!st) {
      result = st;
      break;
    }
    // Wait for an event, the next timer or the next height, 20 ms at most.
    auto until = now + std::chrono::milliseconds(20);
    if (!timers_.empty()) until = std::min(until, timers_.begin()->first);
    if (!tm()) until = std::min(until, next_start_);
    std::deque<Event> batch;
    {
      std::unique_lock<std::mutex> l(ev_mu_);
      ev_cv_.wait_until(l, until, [this] { return !events_.empty(); });
      batch.swap(events_);
    }
    for (Event& ev : batch) {
      if (halted_) break;  // nothing past the halt height
      st = HandleEvent(std::move(ev));
      if (st) st = Drain();
      if (!st) break;
    }
    if (!st) {
      result = st;
      break;
    }
  }
  if (!result) Log(LogLevel::kError, "consensus stopped", {{"error", result.error().message}});
  ready_ = false;
  snapshots_->Stop();  // before the host their replies go to
  if (block_server_) block_server_->Stop();
  if (net_) net_->Stop();
  if (gossip_) gossip_->Stop();
  rpc_->Stop();
  Log(LogLevel::kInfo, "node stopped", {{"height", chain_->height()}});
  return result;
}

std::string Node::Metrics() const {
  PromText t;
  const NodeMetrics& x = metrics_;
  t.Value("gtos_blocks_committed_total", "Blocks this process committed (decided or synced).", x.blocks_committed);
  t.Value("gtos_blocks_synced_total", "Blocks this process committed through block sync.", x.blocks_synced);
  t.Value("gtos_txs_committed_total", "Transactions this process committed.", x.txs_committed);
  t.Value("gtos_last_block_txs", "Transactions in the last committed block.", x.last_block_txs);
  // Base units (seconds), as Prometheus names want them.
  t.SecondsGauge("gtos_last_commit_timestamp_seconds",
                 "Wall-clock time of the last commit, seconds since the epoch.", x.last_commit_ms);
  t.Value("gtos_mempool_bytes", "Bytes of transactions in the mempool.", mempool_->bytes());
  t.Value("gtos_mempool_max_txs", "Transactions the mempool holds at most (mempool_max_txs).",
          mempool_->options().max_txs);
  t.Value("gtos_mempool_max_bytes", "Bytes the mempool holds at most (mempool_max_bytes).",
          mempool_->options().max_bytes);
  t.Value("gtos_ready", "1 while /readyz answers 200, else 0 (docs/node.md).", NotReadyReason().empty() ? 1 : 0);
  const ChainParams p = chain_->params();
  t.SecondsGauge("gtos_target_block_interval_seconds", "The chain's target_block_interval_ms, in seconds.",
                 p.target_block_interval_ms);
  t.Value("gtos_snapshot_interval_blocks", "The chain's snapshot_interval (0: no automatic snapshots).",
          p.snapshot_interval);
  x.RenderInterval(t.text());
  t.Value("gtos_consensus_height", "Height being decided (committed head + 1).", chain_->height() + 1);
  t.Value("gtos_consensus_round", "Round of the height being decided.", x.cur_round);
  t.Value("gtos_consensus_last_decide_round", "Round in which the last block was decided.", x.last_decide_round);
  t.Value("gtos_consensus_validator_power", "Voting power of this node's validator in the current set (0: none).",
          x.own_power);
  t.Value("gtos_consensus_total_power", "Total voting power of the current validator set.", x.total_power);
  t.Value("gtos_consensus_validators", "Validators in the current set.", x.validators_active);
  t.Value("gtos_consensus_evidence_pending", "Equivocation evidence waiting for inclusion.", x.evidence_pending);
  t.Value("gtos_consensus_sign_refused_total", "Signatures the private validator refused.", x.sign_failures);
  t.Value("gtos_consensus_sign_hold_until_height",
          "double_sign_check_height: no signature below this height (0: no hold).", refuse_sign_below_.load());
  t.Value("gtos_snapshots_written_total", "Automatic snapshots this process wrote.", snapshots_->written());
  t.Value("gtos_snapshot_failures_total", "Automatic snapshots that failed.", snapshots_->failures());
  t.Value("gtos_snapshot_last_height", "Height of the last snapshot this process wrote (0: none).",
          snapshots_->last_height());
  t.Value("gtos_statesync_restored_height", "Snapshot height state sync restored before this start (0: none).",
          options_.statesync_restored_height);
  t.Value("gtos_history_oldest_height", "Oldest height whose block body is still stored.", chain_->oldest_body());
  t.Value("gtos_p2p_bad_messages_total", "Messages from peers refused by consensus (bad signature, ...).",
          x.bad_messages);
  net::Host* host = net_ptr_.load(std::memory_order_acquire);
  net::NetStats ns = host ? host->Stats() : net::NetStats{};
  t.Value("gtos_p2p_peers", "Connected peers.", ns.peers);
  t.Value("gtos_p2p_frames_in_total", "Frames received.", ns.frames_in);
  t.Value("gtos_p2p_frames_out_total", "Frames sent.", ns.frames_out);
  t.Value("gtos_p2p_bytes_in_total", "Bytes received.", ns.bytes_in);
  t.Value("gtos_p2p_bytes_out_total", "Bytes sent.", ns.bytes_out);
  t.Value("gtos_p2p_dropped_frames_total", "Frames dropped as malformed, oversized or unexpected.",
          ns.dropped_frames);
  t.Value("gtos_p2p_dropped_gossip_total", "Gossip messages dropped because a peer's send queue was full.",
          ns.dropped_gossip);
  t.Value("gtos_p2p_penalty_disconnects_total", "Peers disconnected for misbehaviour.", ns.disconnects_penalty);
  t.Value("gtos_p2p_bad_frames_total",
          "Frames that failed authentication (altered, replayed or reordered in transit).", ns.bad_frames);
  t.Value("gtos_p2p_refused_connections_total", "Connections refused at a connection cap.", ns.refused_connections);
  return std::move(t.text());
}

}  // namespace gtos::node
