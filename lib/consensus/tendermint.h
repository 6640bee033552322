// The Tendermint consensus state machine of one height (docs/consensus.md):
// Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip on BFT
// consensus" (2018, arXiv:1807.04938), implemented from the paper. Comments
// in tendermint.cpp cite its line numbers.
//
// Pure and deterministic: no clock, no threads, no sockets, no I/O. The
// driver feeds inputs (Start, OnProposal, OnVote, OnTimeout) and drains
// TakeOutputs(): messages to gossip, timeouts to schedule on its own clock,
// the decision with its commit certificate, and equivocation evidence. The
// same inputs in the same order always give the same outputs.
//
// One object decides one height (lines 49-54 reset all state for h+1, so
// the driver simply builds a new Tendermint for the next height, with that
// height's validator set). After Decide, further inputs are ignored.
//
// Choices the paper leaves to the implementation:
//  - Signatures are checked inside: every vote must be signed by the
//    consensus key of its validator, every proposal by the key of
//    Proposer(round). Bad messages are refused with an error and not
//    counted, so the driver may pass on whatever the network delivers.
//  - Block validity valid(v) is asked of the driver through `validate`,
//    once per block hash (cached), and only when a rule needs it.
//  - The machine signs through a Signer the driver supplies, so a
//    double-sign-protected private validator (consensus/privval.h) sits
//    behind every signature. A refused signature means the message is not
//    sent (as if lost); the machine goes on and reports SignFailed.
//  - Block identity id(v) is v.header.Hash(); a zero hash means nil.
//
// Thread safety: none; one thread drives one object.
#ifndef GTOS_CONSENSUS_TENDERMINT_H_
#define GTOS_CONSENSUS_TENDERMINT_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "consensus/validator_set.h"
#include "types/chain.h"

namespace gtos::consensus {

// Rounds above this are refused: with growing timeouts they are never
// reached honestly (round 2^20 is years away even with 1 ms increments),
// and the bound caps what a faulty validator can make us compute and store.
inline constexpr uint64_t kMaxRound = 1ull << 20;

// A signed block proposal ⟨PROPOSAL, h, r, v, vr⟩ (line 17).
struct Proposal {
  uint64_t height = 0;
  uint64_t round = 0;
  int64_t valid_round = -1;  // vr: -1 when the proposer had no validValue
  Block block;
  Address proposer;          // must be ValidatorSet::Proposer(round)
  Bytes signature;           // by the proposer's consensus key over SigningDigest()

  Hash32 BlockHash() const { return block.header.Hash(); }
  // SHA-256("GTOS-PROPOSAL-V1" || msgpack [chain_id, height, round,
  // valid_round + 1, block hash]); valid_round + 1 so that "none" is 0.
  Hash32 SigningDigest(std::string_view chain_id) const;
  // What the signature covers, with the signature, as a statement of
  // proposal evidence (types/chain.h): the block hash, not the block.
  Statement Signed() const;
};

// Per-round timeouts grow linearly: base + round * increment (saturating),
// so that after GST some round is long enough for every correct process
// (the paper's assumption on timeoutPropose/Prevote/Precommit(round)).
struct Timeouts {
  uint64_t propose_ms = 3000;
  uint64_t propose_increment_ms = 500;
  uint64_t prevote_ms = 1000;
  uint64_t prevote_increment_ms = 500;
  uint64_t precommit_ms = 1000;
  uint64_t precommit_increment_ms = 500;
};

enum class TimeoutKind : uint8_t { kPropose = 1, kPrevote = 2, kPrecommit = 3 };
std::string_view TimeoutKindName(TimeoutKind k);
uint64_t TimeoutFor(const Timeouts& t, TimeoutKind kind, uint64_t round);

// Signs on behalf of this validator. Implementations must refuse to sign
// two different messages for the same (height, round, step), across
// restarts: consensus/privval.h's PrivValidator has exactly these methods
// (see PrivValSigner below).
class Signer {
 public:
  virtual ~Signer() = default;
  // The signature of v.SigningDigest(chain_id).
  virtual Result<Bytes> SignVote(const Vote& v) = 0;
  // The signature of `digest`, which is p.SigningDigest(chain_id); `p` is
  // the proposal without its signature (a signer that logs what it signs
  // keeps the whole proposal).
  virtual Result<Bytes> SignProposal(const Proposal& p, const Hash32& digest) = 0;
};

// Adapts any object with PrivValidator's SignVote/SignProposal (a
// template, so this header need not include privval.h).
template <class P>
class PrivValSigner : public Signer {
 public:
  explicit PrivValSigner(P* p) : p_(p) {}
  Result<Bytes> SignVote(const Vote& v) override { return p_->SignVote(v); }
  Result<Bytes> SignProposal(const Proposal& p, const Hash32& d) override {
    return p_->SignProposal(p.height, p.round, d);
  }

 private:
  P* p_;
};

// ---- outputs -----------------------------------------------------------------

struct BroadcastProposal {
  Proposal proposal;
};
struct BroadcastVote {
  Vote vote;
};
// Call OnTimeout(kind, height, round) after `after_ms` of the driver's clock.
struct ScheduleTimeout {
  TimeoutKind kind;
  uint64_t height = 0;
  uint64_t round = 0;
  uint64_t after_ms = 0;
};
// The height is decided: `block` is final, `commit` holds the precommits
// of more than 2/3 of the power for it (sorted by validator address).
struct Decide {
  uint64_t height = 0;
  uint64_t round = 0;
  Block block;
  Commit commit;
};
// A validator signed two different votes of one (height, round, type), or
// the round's proposer two different proposals of one round.
struct EvidenceFound {
  Evidence evidence;
};
// The Signer refused (e.g. double-sign protection after a restart); nothing
// was sent.
struct SignFailed {
  std::string what;  // "prevote h=1 r=0"
  Error error;
};
using Output = std::variant<BroadcastProposal, BroadcastVote, ScheduleTimeout, Decide, EvidenceFound, SignFailed>;

// ---- vote accounting ---------------------------------------------------------

// The votes of one (round, type), by validator. The first vote of each
// validator counts towards TotalPower (the "2f+1 of any kind" rules); a
// validator's votes count towards PowerFor(hash) once per hash. A second,
// conflicting vote of a validator (equivocation) is kept, and counted for
// its hash, only when the caller says so: the machine keeps conflicting
// votes for nil and for proposed blocks, since a polka that locked one
// correct validator may rest on a Byzantine validator's vote that another
// correct validator saw second; dropping it would keep that polka from
// ever being seen there and stall the height (CometBFT solves the same
// with peer-claimed +2/3 majorities). Counting every signed vote for a
// value is safe: a quorum of signatures is a quorum whoever else they
// also signed for.
class VoteSet {
 public:
  enum class AddResult { kAdded, kDuplicate, kConflict, kConflictKept };
  // Conflicting votes kept per validator, at most.
  static constexpr size_t kMaxConflicting = 8;
  explicit VoteSet(size_t validators = 0) : votes_(validators) {}

  // REQUIRES: index < validators, the vote checked. `first` gets the
  // validator's first vote on kConflict and kConflictKept.
  AddResult Add(size_t index, uint64_t power, const Vote& v, bool keep_conflict, Vote* first = nullptr);
  // Whether the validator has a vote for `block_hash` here.
  bool Has(size_t index, const Hash32& block_hash) const;
  // Whether another conflicting vote of the validator may still be kept.
  bool CanKeepConflict(size_t index) const;
  uint64_t PowerFor(const Hash32& block_hash) const;
  uint64_t TotalPower() const { return total_; }
  const std::optional<Vote>& VoteOf(size_t index) const { return votes_[index]; }
  // The validator's vote for `block_hash`, first or kept conflicting one.
  std::optional<Vote> VoteFor(size_t index, const Hash32& block_hash) const;
  size_t size() const { return votes_.size(); }

 private:
  std::vector<std::optional<Vote>> votes_;     // by validator index: the first vote
  std::map<size_t, std::vector<Vote>> extra_;  // kept conflicting votes, by index
  std::map<Hash32, uint64_t> power_;           // ordered: deterministic
  uint64_t total_ = 0;
};

// ---- the machine ---------------------------------------------------------------

struct TendermintConfig {
  std::string chain_id;
  uint64_t height = 0;  // >= 1
  ValidatorSet validators;
  // This node's validator address; nullopt (or an address outside the set)
  // makes an observer that follows and decides but never signs.
  std::optional<Address> self;
  Timeouts timeouts;
};

struct TendermintHooks {
  // getValue() of line 16: a new block for this height, to propose in
  // `round`. Required for a validator. (The round lets a driver that
  // replays its write-ahead log return the block it proposed before a
  // crash, whose signature it holds.)
  std::function<Block(uint64_t round)> get_value;
  // valid(v): the driver's full check of a proposed block (structure,
  // parent, execution). Required.
  std::function<bool(const Block&)> validate;
  // Required for a validator; not owned, must outlive the machine.
  Signer* signer = nullptr;
  // Proposer-based timestamps (docs/consensus.md "Timely proposals"): a
  // fresh proposal (valid_round -1) of `round` received at the driver's
  // clock `receive_ms` is prevoted only if this says its block time is
  // timely. Asked once per proposal with the receive time recorded when the
  // proposal arrived, so a replay gives the same answer. Absent: always
  // timely.
  std::function<bool(const Block& block, uint64_t round, uint64_t receive_ms)> timely;
};

enum class Step : uint8_t { kPropose = 1, kPrevote = 2, kPrecommit = 3 };

class Tendermint {
 public:
  static Result<Tendermint> Make(TendermintConfig config, TendermintHooks hooks);

  // Line 10: StartRound(0). Call once.
  Status Start();
  // Errors: wrong height/chain, round too large, not from the round's
  // proposer, bad signature. A second proposal of the same proposer and
  // round whose signed content (block hash, valid_round) differs is
  // equivocation: the first one stands, and the pair is reported once per
  // round as proposal evidence (EvidenceFound). A copy of the first one
  // with another body is nothing (its signed content is the same).
  // `receive_ms` is the driver's clock when the proposal arrived (for
  // `timely`).
  Status OnProposal(const Proposal& p, uint64_t receive_ms = 0);
  // Errors: wrong height, unknown type, round too large, not a validator,
  // bad signature. Equivocation is not an error: it yields EvidenceFound.
  Status OnVote(const Vote& v);
  // Lines 57, 61, 65. Stale timeouts are ignored.
  void OnTimeout(TimeoutKind kind, uint64_t height, uint64_t round);

  // The inputs above in two steps, for a driver that logs every input
  // before the machine acts on it (consensus/replica.h): Check* runs every
  // check of On* (signatures included) and returns whether the message
  // would change the machine (false: a re-delivery, or already decided);
  // Accept* then records it and fires the rules without checking again.
  // REQUIRES for Accept*: the matching Check* returned true, and nothing
  // was input in between.
  // `conflicting`, when given, is set when the proposal is refused (false)
  // because it is validly signed by the round's proposer over content other
  // than the round's first proposal's, and that equivocation has not been
  // reported yet: then ReportConflictingProposal(p) reports it.
  Result<bool> CheckProposal(const Proposal& p, bool* conflicting = nullptr);
  void AcceptProposal(const Proposal& p, uint64_t receive_ms);
  // Outputs EvidenceFound with the proposal evidence of the round's first
  // proposal and `p`, once per round. Not an input: no consensus state
  // changes (a driver that logs inputs need not log it; a replay simply
  // does not report it again). REQUIRES: CheckProposal(p, &c) set c.
  void ReportConflictingProposal(const Proposal& p);
  // Whether `p` is the proposal the machine holds for its round (same
  // signed content): false for a conflicting proposal, which a driver
  // should not relay (the evidence travels instead).
  bool HoldsProposal(const Proposal& p) const;
  Result<bool> CheckVote(const Vote& v);
  void AcceptVote(const Vote& v);
  // Whether OnTimeout(kind, height, round) would act (not stale).
  bool TimeoutApplies(TimeoutKind kind, uint64_t height, uint64_t round) const;
  // Whether the machine holds (counts) this vote: false for a vote never
  // seen, and for a conflicting vote it could not keep (e.g. for a block
  // not proposed yet), which a driver may deliver again later.
  bool HasVote(const Vote& v) const;

  std::vector<Output> TakeOutputs();

  uint64_t height() const { return height_; }
  uint64_t round() const { return round_; }
  Step step() const { return step_; }
  bool is_validator() const { return self_index_.has_value(); }
  const std::optional<Decide>& decision() const { return decision_; }
  // lockedRound / validRound (-1: none) and the hash of the value.
  int64_t locked_round() const { return locked_round_; }
  int64_t valid_round() const { return valid_round_; }
  std::optional<Hash32> locked_hash() const;
  // The valid_round of the proposal this machine holds for `round` when its
  // block hash is `hash` (nullopt: no such proposal). For the driver's sign
  // journal: what justified a prevote.
  std::optional<int64_t> ProposalValidRound(uint64_t round, const Hash32& hash) const;

  // What a stuck height looks like (the node's "height stuck" log line and
  // readiness): the voting power of the prevotes and precommits seen in
  // `round`, whether its proposal arrived, and the largest power of
  // validators heard from in any round of this height.
  struct RoundPowers {
    uint64_t prevotes = 0;
    uint64_t precommits = 0;
    bool proposal = false;
  };
  RoundPowers PowersOf(uint64_t round) const;
  uint64_t HeardPower() const;
  const ValidatorSet& validators() const { return validators_; }

 private:
  struct RoundState {
    std::optional<Proposal> proposal;  // the round proposer's first proposal
    Hash32 proposal_hash;
    uint64_t proposal_receive_ms = 0;  // the driver's clock when it arrived
    bool proposal_own = false;         // proposed by this node (timely by definition)
    VoteSet prevotes;
    VoteSet precommits;
    std::vector<bool> sent;  // validators heard from in this round (line 55)
    uint64_t sent_power = 0;
    bool prevote_timeout_scheduled = false;    // line 34 "for the first time"
    bool precommit_timeout_scheduled = false;  // line 47 "for the first time"
    bool polka_seen = false;                   // line 36 "for the first time"
    std::vector<bool> evidence_reported[2];    // per type, per validator
    bool proposal_evidence_reported = false;   // a conflicting proposal was reported
  };

  Tendermint() = default;
  RoundState& Round(uint64_t r);
  bool Valid(const Proposal& p);
  bool Timely(const RoundState& rs) const;
  bool KeepConflict(const Vote& v) const;  // nil or a proposed block
  Address ProposerOf(uint64_t round) const;  // proposer(h_p, round), cached
  void NoteSender(RoundState& rs, size_t index);
  void AddVote(size_t index, const Vote& v);

  void Run();  // applies the upon-rules until none fires
  void StartRound(uint64_t round);
  void Broadcast(VoteType type, const Hash32& block_hash);
  void Schedule(TimeoutKind kind, uint64_t round);
  bool Rule22Or28();
  bool Rule34();
  bool Rule36();
  bool Rule44();
  bool Rule47();
  bool Rule49();
  bool Rule55();

  std::string chain_id_;
  ValidatorSet validators_;
  Timeouts timeouts_;
  TendermintHooks hooks_;
  std::optional<size_t> self_index_;
  std::map<Hash32, bool> validity_;  // valid(v) by block hash, asked once
  std::set<Hash32> proposed_;        // hashes of every proposal of this height
  mutable std::map<uint64_t, Address> proposers_;  // ValidatorSet::Proposer is O(round)

  // Algorithm 1, lines 2-9 (h_p is fixed per object; decision_p[h_p] is
  // decision_).
  uint64_t height_ = 0;
  uint64_t round_ = 0;
  Step step_ = Step::kPropose;
  std::optional<Block> locked_value_;
  int64_t locked_round_ = -1;
  std::optional<Block> valid_value_;
  int64_t valid_round_ = -1;
  std::optional<Decide> decision_;

  bool started_ = false;
  std::map<uint64_t, RoundState> rounds_;  // the message log, by round
  std::deque<Output> outputs_;
};

}  // namespace gtos::consensus

#endif  // GTOS_CONSENSUS_TENDERMINT_H_
