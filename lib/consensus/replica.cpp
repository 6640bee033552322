#include "consensus/replica.h"

namespace gtos::consensus {

// The signer the machine sees: the log's memory of this height first, then
// the private validator, with the log synced before and written after.
class Replica::LoggingSigner : public Signer {
 public:
  explicit LoggingSigner(Replica* r) : r_(r) {}
  Result<Bytes> SignVote(const Vote& v) override { return r_->SignVote(v); }
  Result<Bytes> SignProposal(const Proposal& p, const Hash32& digest) override { return r_->SignProposal(p, digest); }

 private:
  Replica* r_;
};

Replica::Replica(std::unique_ptr<Wal> wal, Signer* signer)
    : wal_(std::move(wal)), inner_(signer), signer_(std::make_unique<LoggingSigner>(this)) {}

Replica::~Replica() = default;

Status Replica::Record(const WalEntry& e) {
  if (!wal_) return Ok();
  auto st = wal_->Append(e);
  if (!st && !io_error_) io_error_ = st.error();
  return st;
}

Result<Bytes> Replica::SignVote(const Vote& v) {
  Position pos{v.round, v.type == static_cast<uint64_t>(VoteType::kPrevote) ? 2u : 3u};
  Hash32 digest = v.SigningDigest(chain_id_);
  auto it = signed_.find(pos);
  if (it != signed_.end()) {
    // Signed before (before a crash, or re-asked): the same signature for
    // the same vote, never a second one.
    if (it->second.first == digest) return it->second.second;
    return Fail(ErrorCode::kInvalid, std::string(VoteTypeName(v.type)) + " h=" + std::to_string(v.height) +
                                         " r=" + std::to_string(v.round) +
                                         ": another vote was signed at this position (consensus WAL)");
  }
  if (!inner_) return Fail(ErrorCode::kUsage, "an observer cannot sign");
  if (wal_) GTOS_TRY(wal_->Sync());  // every input behind this signature is durable
  auto sig = inner_->SignVote(v);
  if (!sig) return sig;
  Vote signed_vote = v;
  signed_vote.signature = *sig;
  signed_.emplace(pos, std::make_pair(digest, *sig));
  GTOS_TRY(Record(WalEntry::OwnVote(std::move(signed_vote))));
  return sig;
}

Result<Bytes> Replica::SignProposal(const Proposal& p, const Hash32& digest) {
  Position pos{p.round, 1};
  auto it = signed_.find(pos);
  if (it != signed_.end()) {
    if (it->second.first == digest) return it->second.second;
    return Fail(ErrorCode::kInvalid, "proposal h=" + std::to_string(p.height) + " r=" + std::to_string(p.round) +
                                         ": another proposal was signed at this position (consensus WAL)");
  }
  if (!inner_) return Fail(ErrorCode::kUsage, "an observer cannot sign");
  if (wal_) GTOS_TRY(wal_->Sync());
  auto sig = inner_->SignProposal(p, digest);
  if (!sig) return sig;
  Proposal signed_proposal = p;
  signed_proposal.signature = *sig;
  signed_.emplace(pos, std::make_pair(digest, *sig));
  own_blocks_[p.round] = p.block;
  GTOS_TRY(Record(WalEntry::OwnProposal(std::move(signed_proposal))));
  return sig;
}

Result<Replica::Started> Replica::StartHeight(TendermintConfig config, TendermintHooks hooks) {
  tm_.reset();
  signed_.clear();
  own_blocks_.clear();
  io_error_.reset();
  height_ = config.height;
  chain_id_ = config.chain_id;
  Started started;
  std::vector<WalEntry> replay;
  if (wal_) {
    uint64_t logged = wal_->recovered_height();
    if (logged > height_)
      return Fail(ErrorCode::kInvalid,
                  "consensus WAL '" + wal_->path() + "' is at height " + std::to_string(logged) +
                      " but the chain's next height is " + std::to_string(height_),
                  "the database lost committed blocks (was it restored or run with --no-sync?); this validator "
                  "must not sign at heights it may already have signed");
#ifdef GTOS_MUTANT_FORGET_LOCK
    // MUTANT (tests only): the log is ignored, the restarted machine forgets
    // its lock (the amnesia the log exists to prevent).
    if (logged == height_) logged = 0;
#endif
    if (logged == height_) {
      replay = wal_->recovered();
    } else {
      GTOS_TRY(wal_->StartHeight(height_));
    }
  }
  // What this node signed before the crash, so the replay re-uses it.
  for (const WalEntry& e : replay) {
    if (!e.own) continue;
    if (e.kind == WalEntry::Kind::kVote) {
      Position pos{e.vote.round, e.vote.type == static_cast<uint64_t>(VoteType::kPrevote) ? 2u : 3u};
      signed_.emplace(pos, std::make_pair(e.vote.SigningDigest(chain_id_), e.vote.signature));
      started.own++;
    } else if (e.kind == WalEntry::Kind::kProposal) {
      signed_.emplace(Position{e.proposal.round, 1},
                      std::make_pair(e.proposal.SigningDigest(chain_id_), e.proposal.signature));
      own_blocks_[e.proposal.round] = e.proposal.block;
      started.own++;
    }
  }
  // The block proposed in a round before the crash is the one to propose
  // again: its signature is logged; a new block would be refused.
  auto get_value = std::move(hooks.get_value);
  if (get_value)
    hooks.get_value = [this, get_value](uint64_t round) {
      auto it = own_blocks_.find(round);
      return it != own_blocks_.end() ? it->second : get_value(round);
    };
  hooks.signer = inner_ ? signer_.get() : nullptr;
  auto tm = Tendermint::Make(std::move(config), std::move(hooks));
  if (!tm) return std::unexpected(tm.error());
  tm_.emplace(std::move(*tm));
  GTOS_TRY(tm_->Start());
  for (const WalEntry& e : replay) {
    if (e.own) continue;
    started.replayed++;
    // Inputs are replayed without logging them again; a refused input is
    // refused again (the machine is deterministic).
    switch (e.kind) {
      case WalEntry::Kind::kProposal:
        if (tm_->OnProposal(e.proposal, e.receive_ms)) started.proposals.push_back(e.proposal);
        break;
      case WalEntry::Kind::kVote:
        if (tm_->OnVote(e.vote)) started.votes.push_back(e.vote);
        break;
      case WalEntry::Kind::kTimeout: tm_->OnTimeout(e.timeout, e.height, e.round); break;
      case WalEntry::Kind::kHeight: break;
    }
    if (io_error_) return std::unexpected(*io_error_);
  }
  if (io_error_) return std::unexpected(*io_error_);
  return started;
}

Status Replica::OnProposal(const Proposal& p, uint64_t receive_ms) {
  if (!tm_) return Ok();
  bool conflicting = false;
  auto fresh = tm_->CheckProposal(p, &conflicting);
  if (!fresh) return std::unexpected(fresh.error());
  if (!*fresh) {
    // Proposal equivocation changes no consensus state: reported, not
    // logged (its block may be large; the evidence pool is not durable).
    if (conflicting) tm_->ReportConflictingProposal(p);
    return Ok();
  }
  GTOS_TRY(Record(WalEntry::ProposalIn(p, receive_ms)));
  tm_->AcceptProposal(p, receive_ms);
  if (io_error_) return std::unexpected(*io_error_);
  return Ok();
}

Status Replica::OnVote(const Vote& v) {
  if (!tm_) return Ok();
  auto fresh = tm_->CheckVote(v);
  if (!fresh) return std::unexpected(fresh.error());
  if (!*fresh) return Ok();
  GTOS_TRY(Record(WalEntry::VoteIn(v)));
  tm_->AcceptVote(v);
  if (io_error_) return std::unexpected(*io_error_);
  return Ok();
}

Status Replica::OnTimeout(TimeoutKind kind, uint64_t height, uint64_t round) {
  if (!tm_ || !tm_->TimeoutApplies(kind, height, round)) return Ok();
  GTOS_TRY(Record(WalEntry::Timeout(kind, height, round)));
  tm_->OnTimeout(kind, height, round);
  if (io_error_) return std::unexpected(*io_error_);
  return Ok();
}

Result<std::vector<Output>> Replica::TakeOutputs() {
  if (!tm_) return std::vector<Output>{};
  std::vector<Output> out = tm_->TakeOutputs();
  if (io_error_) return std::unexpected(*io_error_);
  bool sends = false;
  for (const Output& o : out)
    if (std::holds_alternative<BroadcastProposal>(o) || std::holds_alternative<BroadcastVote>(o)) sends = true;
  // A signed message leaves only once it is durable in the log.
  if (sends && wal_) GTOS_TRY(wal_->Sync());
  return out;
}

void Replica::Stop() { tm_.reset(); }

}  // namespace gtos::consensus
