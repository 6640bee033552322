// Algorithm 1 of "The latest gossip on BFT consensus" (arXiv:1807.04938).
// "line N" below is a line of that algorithm. The upon-rules are guards
// over the message log (rounds_) and the local state; every input records
// its message and then Run() fires rules until none applies, so the order
// in which messages arrive cannot make a rule be missed.
#include "consensus/tendermint.h"

#include <utility>

#include "codec/codec.h"
#include "crypto/hash.h"
#include "crypto/sig.h"

namespace gtos::consensus {

namespace {

const Hash32 kNil{};  // id(nil): the zero hash

bool VerifyBy(const Validator& val, const Hash32& digest, ByteView sig) {
  const crypto::SigAlgo* algo = crypto::FindAlgo(val.consensus_algo);
  return algo && algo->verify({val.consensus_key.data(), val.consensus_key.size()}, digest, sig);
}

uint64_t SatLinear(uint64_t base, uint64_t inc, uint64_t round) {
  uint64_t extra = 0, total = 0;
  if (__builtin_mul_overflow(inc, round, &extra) || __builtin_add_overflow(base, extra, &total))
    return UINT64_MAX;
  return total;
}

std::string Where(uint64_t type, uint64_t height, uint64_t round) {
  return std::string(VoteTypeName(type)) + " h=" + std::to_string(height) + " r=" + std::to_string(round);
}

}  // namespace

Hash32 Proposal::SigningDigest(std::string_view chain_id) const {
  return ProposalSigningDigest(chain_id, height, round, static_cast<uint64_t>(valid_round + 1), BlockHash());
}

Statement Proposal::Signed() const {
  Statement s;
  s.type = static_cast<uint64_t>(StatementType::kProposal);
  s.height = height;
  s.round = round;
  s.block_hash = BlockHash();
  s.validator = proposer;
  s.signature = signature;
  s.valid_round_plus_1 = static_cast<uint64_t>(valid_round + 1);
  return s;
}

std::string_view TimeoutKindName(TimeoutKind k) {
  switch (k) {
    case TimeoutKind::kPropose: return "propose";
    case TimeoutKind::kPrevote: return "prevote";
    case TimeoutKind::kPrecommit: return "precommit";
  }
  return {};
}

uint64_t TimeoutFor(const Timeouts& t, TimeoutKind kind, uint64_t round) {
  switch (kind) {
    case TimeoutKind::kPropose: return SatLinear(t.propose_ms, t.propose_increment_ms, round);
    case TimeoutKind::kPrevote: return SatLinear(t.prevote_ms, t.prevote_increment_ms, round);
    case TimeoutKind::kPrecommit: return SatLinear(t.precommit_ms, t.precommit_increment_ms, round);
  }
  return 0;
}

// ---- VoteSet -------------------------------------------------------------------

VoteSet::AddResult VoteSet::Add(size_t index, uint64_t power, const Vote& v, bool keep_conflict, Vote* first) {
  std::optional<Vote>& slot = votes_[index];
  if (!slot) {
    slot = v;
    power_[v.block_hash] += power;
    total_ += power;
    return AddResult::kAdded;
  }
  // Same block: a re-delivery (possibly re-signed), counted once.
  if (Has(index, v.block_hash)) return AddResult::kDuplicate;
  if (first) *first = *slot;
  if (!keep_conflict || !CanKeepConflict(index)) return AddResult::kConflict;
  extra_[index].push_back(v);
  power_[v.block_hash] += power;  // once per validator and hash; never in total_
  return AddResult::kConflictKept;
}

bool VoteSet::Has(size_t index, const Hash32& block_hash) const {
  if (!votes_[index]) return false;
  if (votes_[index]->block_hash == block_hash) return true;
  auto it = extra_.find(index);
  if (it == extra_.end()) return false;
  for (const Vote& x : it->second)
    if (x.block_hash == block_hash) return true;
  return false;
}

bool VoteSet::CanKeepConflict(size_t index) const {
  auto it = extra_.find(index);
  return it == extra_.end() || it->second.size() < kMaxConflicting;
}

std::optional<Vote> VoteSet::VoteFor(size_t index, const Hash32& block_hash) const {
  if (!votes_[index]) return std::nullopt;
  if (votes_[index]->block_hash == block_hash) return votes_[index];
  auto it = extra_.find(index);
  if (it != extra_.end())
    for (const Vote& x : it->second)
      if (x.block_hash == block_hash) return x;
  return std::nullopt;
}

uint64_t VoteSet::PowerFor(const Hash32& block_hash) const {
  auto it = power_.find(block_hash);
  return it == power_.end() ? 0 : it->second;
}

// ---- construction ----------------------------------------------------------------

Result<Tendermint> Tendermint::Make(TendermintConfig config, TendermintHooks hooks) {
  GTOS_TRY(CheckChainId(config.chain_id));
  if (config.height == 0) return Invalid("consensus height must be at least 1");
  if (config.validators.size() == 0) return Invalid("validator set is empty");
  if (!hooks.validate) return Fail(ErrorCode::kUsage, "consensus needs a validate callback");
  Tendermint t;
  if (config.self) t.self_index_ = config.validators.IndexOf(*config.self);
  if (t.self_index_ && (!hooks.get_value || !hooks.signer))
    return Fail(ErrorCode::kUsage, "a validator needs a get_value callback and a signer");
  t.chain_id_ = std::move(config.chain_id);
  t.height_ = config.height;
  t.validators_ = std::move(config.validators);
  t.timeouts_ = config.timeouts;
  t.hooks_ = std::move(hooks);
  return t;
}

std::optional<Hash32> Tendermint::locked_hash() const {
  if (!locked_value_) return std::nullopt;
  return locked_value_->header.Hash();
}

std::optional<int64_t> Tendermint::ProposalValidRound(uint64_t round, const Hash32& hash) const {
  auto it = rounds_.find(round);
  if (it == rounds_.end() || !it->second.proposal || it->second.proposal_hash != hash) return std::nullopt;
  return it->second.proposal->valid_round;
}

std::vector<Output> Tendermint::TakeOutputs() {
  std::vector<Output> out(std::make_move_iterator(outputs_.begin()), std::make_move_iterator(outputs_.end()));
  outputs_.clear();
  return out;
}

Tendermint::RoundState& Tendermint::Round(uint64_t r) {
  auto it = rounds_.find(r);
  if (it != rounds_.end()) return it->second;
  size_t n = validators_.size();
  RoundState rs;
  rs.prevotes = VoteSet(n);
  rs.precommits = VoteSet(n);
  rs.sent.assign(n, false);
  rs.evidence_reported[0].assign(n, false);
  rs.evidence_reported[1].assign(n, false);
  return rounds_.emplace(r, std::move(rs)).first->second;
}

Address Tendermint::ProposerOf(uint64_t round) const {
  auto it = proposers_.find(round);
  if (it == proposers_.end()) it = proposers_.emplace(round, validators_.Proposer(round).address).first;
  return it->second;
}

Tendermint::RoundPowers Tendermint::PowersOf(uint64_t round) const {
  RoundPowers out;
  auto it = rounds_.find(round);
  if (it == rounds_.end()) return out;
  out.prevotes = it->second.prevotes.TotalPower();
  out.precommits = it->second.precommits.TotalPower();
  out.proposal = it->second.proposal.has_value();
  return out;
}

uint64_t Tendermint::HeardPower() const {
  uint64_t best = 0;
  for (const auto& [r, rs] : rounds_) best = std::max(best, rs.sent_power);
  return best;
}

void Tendermint::NoteSender(RoundState& rs, size_t index) {
  if (rs.sent[index]) return;
  rs.sent[index] = true;
  rs.sent_power += validators_.validators()[index].power;
}

// valid(v), asked of the driver once per block. A block for another height
// or chain is never valid, whatever the driver says.
bool Tendermint::Valid(const Proposal& p) {
  Hash32 h = p.BlockHash();
  auto it = validity_.find(h);
  if (it != validity_.end()) return it->second;
  bool ok = p.block.header.height == height_ && p.block.header.chain_id == chain_id_ && hooks_.validate(p.block);
  validity_.emplace(h, ok);
  return ok;
}

// Proposer-based timestamps: judged with the receive time recorded when the
// proposal arrived, never with the time the rule happens to fire.
bool Tendermint::Timely(const RoundState& rs) const {
  if (rs.proposal_own || !hooks_.timely) return true;
  return hooks_.timely(rs.proposal->block, rs.proposal->round, rs.proposal_receive_ms);
}

// ---- inputs -------------------------------------------------------------------------

Status Tendermint::Start() {
  if (started_) return Fail(ErrorCode::kUsage, "consensus already started");
  started_ = true;
  StartRound(0);  // line 10
  Run();
  return Ok();
}

Result<bool> Tendermint::CheckProposal(const Proposal& p, bool* conflicting) {
  if (decision_) return false;
  if (p.height != height_)
    return Invalid("proposal for height " + std::to_string(p.height) + ", deciding " + std::to_string(height_));
  if (p.round > kMaxRound) return Invalid("proposal round " + std::to_string(p.round) + " is too large");
  if (p.valid_round < -1 || p.valid_round >= static_cast<int64_t>(p.round))
    return Invalid("proposal valid_round " + std::to_string(p.valid_round) + " is not below its round");
  // The signature first: only a validator can then make us compute the
  // (per-round cached, but O(round)) proposer rotation.
  std::optional<size_t> index = validators_.IndexOf(p.proposer);
  if (!index) return Invalid("proposal by " + ToHex0x(p.proposer) + ", not a validator");
  const Validator& proposer = validators_.validators()[*index];
  const Hash32 digest = p.SigningDigest(chain_id_);
  if (!VerifyBy(proposer, digest, p.signature))
    return Fail(ErrorCode::kCrypto, "proposal for round " + std::to_string(p.round) + ": bad signature");
  if (p.proposer != ProposerOf(p.round))
    return Invalid("proposal for round " + std::to_string(p.round) + " not from its proposer " +
                   ToHex0x(ProposerOf(p.round)));
  // A second, different proposal by the same proposer is its misbehaviour;
  // keeping the first means every rule sees one v per round. Different
  // means a different signed content: a copy of the first with another
  // body (a tampered relay) is no equivocation of the proposer.
  auto it = rounds_.find(p.round);
  if (it == rounds_.end() || !it->second.proposal) return true;
  const RoundState& rs = it->second;
  if (conflicting && !rs.proposal_evidence_reported && rs.proposal->SigningDigest(chain_id_) != digest)
    *conflicting = true;
  return false;
}

void Tendermint::ReportConflictingProposal(const Proposal& p) {
  auto it = rounds_.find(p.round);
  if (it == rounds_.end() || !it->second.proposal || it->second.proposal_evidence_reported) return;
  it->second.proposal_evidence_reported = true;
  outputs_.push_back(EvidenceFound{MakeProposalEvidence(it->second.proposal->Signed(), p.Signed())});
}

bool Tendermint::HoldsProposal(const Proposal& p) const {
  auto it = rounds_.find(p.round);
  if (p.height != height_ || it == rounds_.end() || !it->second.proposal) return false;
  const Proposal& held = *it->second.proposal;
  return held.valid_round == p.valid_round && held.proposer == p.proposer && it->second.proposal_hash == p.BlockHash();
}

void Tendermint::AcceptProposal(const Proposal& p, uint64_t receive_ms) {
  RoundState& rs = Round(p.round);
  if (rs.proposal) return;
  rs.proposal = p;
  rs.proposal_hash = p.BlockHash();
  rs.proposal_receive_ms = receive_ms;
  proposed_.insert(rs.proposal_hash);
  NoteSender(rs, *validators_.IndexOf(p.proposer));
  Run();
}

Status Tendermint::OnProposal(const Proposal& p, uint64_t receive_ms) {
  bool conflicting = false;
  auto fresh = CheckProposal(p, &conflicting);
  if (!fresh) return std::unexpected(fresh.error());
  if (*fresh) AcceptProposal(p, receive_ms);
  else if (conflicting) ReportConflictingProposal(p);
  return Ok();
}

Result<bool> Tendermint::CheckVote(const Vote& v) {
  if (decision_) return false;
  if (v.type != static_cast<uint64_t>(VoteType::kPrevote) && v.type != static_cast<uint64_t>(VoteType::kPrecommit))
    return Invalid("vote type " + std::to_string(v.type) + " is unknown");
  if (v.height != height_)
    return Invalid("vote for height " + std::to_string(v.height) + ", deciding " + std::to_string(height_));
  if (v.round > kMaxRound) return Invalid("vote round " + std::to_string(v.round) + " is too large");
  std::optional<size_t> index = validators_.IndexOf(v.validator);
  if (!index) return Invalid("vote by " + ToHex0x(v.validator) + ", not a validator");
  if (!VerifyBy(validators_.validators()[*index], v.SigningDigest(chain_id_), v.signature))
    return Fail(ErrorCode::kCrypto, Where(v.type, v.height, v.round) + " by " + ToHex0x(v.validator) + ": bad signature");
  auto it = rounds_.find(v.round);
  if (it == rounds_.end()) return true;
  const RoundState& rs = it->second;
  bool prevote = v.type == static_cast<uint64_t>(VoteType::kPrevote);
  const VoteSet& set = prevote ? rs.prevotes : rs.precommits;
  if (!set.VoteOf(*index)) return true;
  // The same vote again changes nothing. A conflicting one is kept if it is
  // for nil or a proposed block (see VoteSet), and is evidence once per
  // validator and (round, type).
  if (set.Has(*index, v.block_hash)) return false;
  if (KeepConflict(v) && set.CanKeepConflict(*index)) return true;
  return !rs.evidence_reported[prevote ? 0 : 1][*index];
}

bool Tendermint::KeepConflict(const Vote& v) const { return v.block_hash == kNil || proposed_.count(v.block_hash); }

bool Tendermint::HasVote(const Vote& v) const {
  auto it = rounds_.find(v.round);
  std::optional<size_t> index = validators_.IndexOf(v.validator);
  if (it == rounds_.end() || !index || v.height != height_) return false;
  bool prevote = v.type == static_cast<uint64_t>(VoteType::kPrevote);
  return (prevote ? it->second.prevotes : it->second.precommits).Has(*index, v.block_hash);
}

void Tendermint::AcceptVote(const Vote& v) {
  AddVote(*validators_.IndexOf(v.validator), v);
  Run();
}

Status Tendermint::OnVote(const Vote& v) {
  auto fresh = CheckVote(v);
  if (!fresh) return std::unexpected(fresh.error());
  if (*fresh) AcceptVote(v);
  return Ok();
}

bool Tendermint::TimeoutApplies(TimeoutKind kind, uint64_t height, uint64_t round) const {
  if (!started_ || decision_ || height != height_ || round != round_) return false;
  switch (kind) {
    case TimeoutKind::kPropose: return step_ == Step::kPropose;
    case TimeoutKind::kPrevote: return step_ == Step::kPrevote;
    case TimeoutKind::kPrecommit: return true;
  }
  return false;
}

void Tendermint::AddVote(size_t index, const Vote& v) {
  RoundState& rs = Round(v.round);
  bool prevote = v.type == static_cast<uint64_t>(VoteType::kPrevote);
  VoteSet& set = prevote ? rs.prevotes : rs.precommits;
  Vote first;
  switch (set.Add(index, validators_.validators()[index].power, v, KeepConflict(v), &first)) {
    case VoteSet::AddResult::kAdded:
      NoteSender(rs, index);
      break;
    case VoteSet::AddResult::kDuplicate:
      break;
    case VoteSet::AddResult::kConflict:
    case VoteSet::AddResult::kConflictKept: {
      // One piece of evidence per validator and (round, type) is enough to
      // convict; more would only repeat it.
      std::vector<bool>& reported = rs.evidence_reported[prevote ? 0 : 1];
      if (!reported[index]) {
        reported[index] = true;
        outputs_.push_back(EvidenceFound{Evidence{std::move(first), v}});
      }
      break;
    }
  }
}

// Lines 57-67.
void Tendermint::OnTimeout(TimeoutKind kind, uint64_t height, uint64_t round) {
  if (!started_ || decision_ || height != height_ || round != round_) return;
  switch (kind) {
    case TimeoutKind::kPropose:  // line 57
      if (step_ == Step::kPropose) {
        Broadcast(VoteType::kPrevote, kNil);  // line 59
        step_ = Step::kPrevote;               // line 60
      }
      break;
    case TimeoutKind::kPrevote:  // line 61
      if (step_ == Step::kPrevote) {
        Broadcast(VoteType::kPrecommit, kNil);  // line 63
        step_ = Step::kPrecommit;               // line 64
      }
      break;
    case TimeoutKind::kPrecommit:  // line 65
      if (round_ < kMaxRound) StartRound(round_ + 1);  // line 67
      break;
  }
  Run();
}

// ---- actions ----------------------------------------------------------------------------

// Lines 11-21.
void Tendermint::StartRound(uint64_t round) {
  round_ = round;          // line 12
  step_ = Step::kPropose;  // line 13
  const Address proposer = ProposerOf(round_);
  if (!self_index_ || validators_.validators()[*self_index_].address != proposer) {
    Schedule(TimeoutKind::kPropose, round_);  // line 19
    return;
  }
  // Line 14-16: re-propose validValue, the value that may already be
  // decided by others, else a new one.
  Proposal p;
  p.height = height_;
  p.round = round_;
  p.valid_round = valid_round_;
  p.block = valid_value_ ? *valid_value_ : hooks_.get_value(round_);
  p.proposer = proposer;
  auto sig = hooks_.signer->SignProposal(p, p.SigningDigest(chain_id_));
  if (!sig) {
    // Nothing was proposed (e.g. the privval already signed this round
    // before a restart): behave as a non-proposer so the round can still
    // time out instead of hanging in step propose.
    outputs_.push_back(SignFailed{"proposal h=" + std::to_string(height_) + " r=" + std::to_string(round_), sig.error()});
    Schedule(TimeoutKind::kPropose, round_);
    return;
  }
  p.signature = std::move(*sig);
  outputs_.push_back(BroadcastProposal{p});  // line 17
  // Our own broadcast reaches us too (the paper's broadcast includes the
  // sender).
  RoundState& rs = Round(round_);
  if (!rs.proposal) {
    rs.proposal_hash = p.BlockHash();
    rs.proposal = std::move(p);
    rs.proposal_own = true;
    proposed_.insert(rs.proposal_hash);
    NoteSender(rs, *self_index_);
  }
}

void Tendermint::Broadcast(VoteType type, const Hash32& block_hash) {
  if (!self_index_) return;  // an observer never votes
  const Validator& me = validators_.validators()[*self_index_];
  Vote v;
  v.type = static_cast<uint64_t>(type);
  v.height = height_;
  v.round = round_;
  v.block_hash = block_hash;
  v.validator = me.address;
  auto sig = hooks_.signer->SignVote(v);
  if (sig && !VerifyBy(me, v.SigningDigest(chain_id_), *sig))
    sig = Fail(ErrorCode::kCrypto, "signer's signature does not verify with the validator's consensus key");
  if (!sig) {
    outputs_.push_back(SignFailed{Where(v.type, v.height, v.round), sig.error()});
    return;
  }
  v.signature = std::move(*sig);
  outputs_.push_back(BroadcastVote{v});
  AddVote(*self_index_, v);  // our own vote counts like anyone's
}

void Tendermint::Schedule(TimeoutKind kind, uint64_t round) {
  outputs_.push_back(ScheduleTimeout{kind, height_, round, TimeoutFor(timeouts_, kind, round)});
}

// ---- the upon-rules ----------------------------------------------------------------------

// Fires one applicable rule at a time until none applies. Each rule either
// changes the step/round or sets a "for the first time" flag, so this
// terminates. Line 49 is tried first: once decided nothing else matters.
void Tendermint::Run() {
  if (!started_) return;  // messages before Start() wait in the log
  while (!decision_) {
    if (Rule49()) return;
    if (Rule55()) continue;
    if (Rule22Or28()) continue;
    if (Rule36()) continue;
    if (Rule44()) continue;
    if (Rule34()) continue;
    if (Rule47()) continue;
    return;
  }
}

// Lines 22-33: the first prevote of a round, on the proposer's proposal.
bool Tendermint::Rule22Or28() {
  if (step_ != Step::kPropose) return false;
  auto it = rounds_.find(round_);
  if (it == rounds_.end() || !it->second.proposal) return false;
  const Proposal& p = *it->second.proposal;
  const Hash32 id = it->second.proposal_hash;
  std::optional<Hash32> locked = locked_hash();
  bool ok;
  if (p.valid_round == -1) {
    // Line 22-23: a fresh value; prevote it unless locked on another. A
    // fresh value must also be timely (proposer-based timestamps): its
    // time was chosen by one proposer alone, so honest validators vouch
    // for it only when it is close to their own clocks. A re-proposal
    // (line 28) carries a time that a polka already accepted.
    ok = Valid(p) && Timely(it->second) && (locked_round_ == -1 || locked == id);
  } else {
    // Line 28: a re-proposal of a value with a polka (2f+1 prevotes) in
    // round vr < round_p; until that polka is seen, wait (the propose
    // timeout still runs).
    auto vr = rounds_.find(static_cast<uint64_t>(p.valid_round));
    if (vr == rounds_.end() || !validators_.IsQuorum(vr->second.prevotes.PowerFor(id))) return false;
    // Line 29: the polka unlocks us if it is not older than our lock.
    ok = Valid(p) && (locked_round_ <= p.valid_round || locked == id);
  }
  Broadcast(VoteType::kPrevote, ok ? id : kNil);  // lines 24/26, 30/32
  step_ = Step::kPrevote;                         // lines 27, 33
  return true;
}

// Lines 34-35: 2f+1 prevotes of any kind: wait timeoutPrevote for a polka.
bool Tendermint::Rule34() {
  if (step_ != Step::kPrevote) return false;
  RoundState& rs = Round(round_);
  if (rs.prevote_timeout_scheduled || !validators_.IsQuorum(rs.prevotes.TotalPower())) return false;
  rs.prevote_timeout_scheduled = true;
  Schedule(TimeoutKind::kPrevote, round_);
  return true;
}

// Lines 36-43: a polka for the round's proposal: lock and precommit it (if
// still in step prevote), and remember it as validValue either way.
bool Tendermint::Rule36() {
  if (step_ == Step::kPropose) return false;
  auto it = rounds_.find(round_);
  if (it == rounds_.end()) return false;
  RoundState& rs = it->second;
  if (rs.polka_seen || !rs.proposal || !validators_.IsQuorum(rs.prevotes.PowerFor(rs.proposal_hash))) return false;
  if (!Valid(*rs.proposal)) return false;
  rs.polka_seen = true;
  if (step_ == Step::kPrevote) {                        // line 37
    locked_value_ = rs.proposal->block;                 // line 38
    locked_round_ = static_cast<int64_t>(round_);       // line 39
    Broadcast(VoteType::kPrecommit, rs.proposal_hash);  // line 40
    step_ = Step::kPrecommit;                           // line 41
  }
  valid_value_ = rs.proposal->block;             // line 42
  valid_round_ = static_cast<int64_t>(round_);   // line 43
  return true;
}

// Lines 44-46: a polka for nil.
bool Tendermint::Rule44() {
  if (step_ != Step::kPrevote) return false;
  if (!validators_.IsQuorum(Round(round_).prevotes.PowerFor(kNil))) return false;
  Broadcast(VoteType::kPrecommit, kNil);  // line 45
  step_ = Step::kPrecommit;               // line 46
  return true;
}

// Lines 47-48: 2f+1 precommits of any kind in the current round.
bool Tendermint::Rule47() {
  RoundState& rs = Round(round_);
  if (rs.precommit_timeout_scheduled || !validators_.IsQuorum(rs.precommits.TotalPower())) return false;
  rs.precommit_timeout_scheduled = true;
  Schedule(TimeoutKind::kPrecommit, round_);
  return true;
}

// Lines 49-54: 2f+1 precommits for a proposal of any round r decide it.
// Lines 52-54 (next height, reset, StartRound(0)) are the driver's: it
// builds a new Tendermint for h+1.
bool Tendermint::Rule49() {
  for (auto& [r, rs] : rounds_) {
    if (!rs.proposal || !validators_.IsQuorum(rs.precommits.PowerFor(rs.proposal_hash))) continue;
    if (!Valid(*rs.proposal)) continue;  // line 50
    Decide d;
    d.height = height_;
    d.round = r;
    d.block = rs.proposal->block;
    d.commit.height = height_;
    d.commit.round = r;
    d.commit.block_hash = rs.proposal_hash;
    // Validator index order is address order, as Commit requires.
    for (size_t i = 0; i < rs.precommits.size(); ++i) {
      std::optional<Vote> v = rs.precommits.VoteFor(i, rs.proposal_hash);
      if (v) d.commit.signatures.push_back(CommitSig{v->validator, v->signature});
    }
    decision_ = d;  // line 51
    outputs_.push_back(std::move(d));
    return true;
  }
  return false;
}

// Lines 55-56: f+1 power already in a later round: join the highest such
// round, since waiting for our own timeouts would only lag behind.
bool Tendermint::Rule55() {
  std::optional<uint64_t> target;
  for (auto it = rounds_.upper_bound(round_); it != rounds_.end(); ++it)
    if (validators_.IsOneThird(it->second.sent_power)) target = it->first;
  if (!target) return false;
  StartRound(*target);
  return true;
}

}  // namespace gtos::consensus
