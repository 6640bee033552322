// Chain records: genesis, genesis validator records (gentx), block headers,
// commit certificates, votes and evidence, blocks and receipts; and the
// values stored in state (accounts, code, KV, validators). docs/formats.md
// gives the byte layouts; docs/state.md the rules.
//
// Every hash below is SHA-256(domain || canonical encoding) with a domain
// string per kind ("GTOS-HEADER-V1", ...), so no two kinds of object can
// share a hash.
#ifndef GTOS_TYPES_CHAIN_H_
#define GTOS_TYPES_CHAIN_H_

#include <optional>
#include <string>
#include <vector>

#include "codec/visit.h"
#include "types/keys.h"
#include "types/params.h"
#include "types/record_type.h"
#include "types/tx.h"

namespace gtos {

inline constexpr size_t kMaxGenesisEntries = 1 << 20;
inline constexpr size_t kMaxBlockTxs = 1 << 20;
inline constexpr size_t kMaxCommitSigs = 10'000;
inline constexpr size_t kMaxEvidence = 1'000;

// ---- genesis ---------------------------------------------------------------

struct GenesisAccount {
  Address address;
  uint64_t balance = 0;
  template <class V> void Fields(V& v) {
    v.Fixed("address", address);
    v.Uint("balance", balance);
  }
};

// A validator's signed request to be in the genesis set ("gentx"). The key
// is both the validator's operator (account) key and its consensus key.
struct GenesisValidator {
  static constexpr RecordType kType = RecordType::kGenesisValidator;
  static constexpr uint64_t kVersion = 1;
  std::string chain_id;
  uint64_t algo = 0;
  Bytes public_key;
  uint64_t stake = 0;
  std::string p2p_addr;  // "host:port", may be empty
  Bytes signature;       // over SigningDigest() by public_key
  // Commission per mille from genesis on (<= max_commission_permille).
  // Absent: 0, and the record has the six fields it had before the field
  // existed, so older gentx files and genesis files keep their bytes,
  // signatures and hashes.
  std::optional<uint64_t> commission_permille;

  template <class V> void Fields(V& v) {
    v.Str("chain_id", chain_id, kMaxChainIdBytes);
    v.Enum("algo", algo, AlgoName);
    v.Bin("public_key", public_key, kMaxPublicKeyBytes);
    v.Uint("stake", stake);
    v.Str("p2p_addr", p2p_addr, kMaxP2pAddrBytes);
    v.Bin("signature", signature, kMaxSignatureBytes);
    v.TrailingUint("commission_permille", commission_permille, 1000);
  }
  Status Validate() const;         // sizes and key; not the signature
  Status VerifySignature() const;  // Validate() + the signature
  // SHA-256("GTOS-GENTX-V1" || [chain_id, algo, public_key, stake, p2p_addr])
  // without a commission; with one, the array has it as a sixth element.
  Hash32 SigningDigest() const;
  Address address() const;
};

struct Genesis {
  static constexpr RecordType kType = RecordType::kGenesis;
  static constexpr uint64_t kVersion = 1;
  std::string chain_id;
  uint64_t genesis_time_ms = 0;
  ChainParams params;
  std::vector<GenesisAccount> accounts;      // sorted by address, unique
  std::vector<GenesisValidator> validators;  // sorted by address, unique

  template <class V> void Fields(V& v) {
    v.Str("chain_id", chain_id, kMaxChainIdBytes);
    v.Uint("genesis_time_ms", genesis_time_ms);
    v.Object("params", params);
    v.List("accounts", accounts, kMaxGenesisEntries);
    v.List("validators", validators, kMaxGenesisEntries);
  }
  // Structure only: chain id, parameter ranges, order and uniqueness.
  Status Validate() const;
  // Everything a node checks before starting from it: Validate(), every
  // validator signature and chain id, stakes covered by balances, at least
  // one validator, supply does not overflow.
  Status ValidateFull() const;
  // SHA-256("GTOS-GENESIS-V1" || canonical genesis record).
  Hash32 Hash() const;
};

// ---- consensus objects -------------------------------------------------------

struct BlockHeader {
  static constexpr RecordType kType = RecordType::kBlockHeader;
  static constexpr uint64_t kVersion = 2;  // 2: last_commit_hash
  std::string chain_id;
  uint64_t height = 0;
  uint64_t time_ms = 0;  // proposer's clock; strictly above the parent's
  Hash32 parent_hash;
  Address proposer;
  Hash32 tx_root;        // MerkleRoot of the signed tx records' hashes
  Hash32 receipts_root;  // MerkleRoot of the receipts' hashes
  Hash32 state_root;     // state commitment after executing this block
  Hash32 validators_hash;       // the set that signs this block
  Hash32 next_validators_hash;  // the set that signs the next block
  Hash32 evidence_root;
  // Commit::Hash() of the block's last_commit (the certificate of the
  // parent); zero at height 1.
  Hash32 last_commit_hash;

  template <class V> void Fields(V& v) {
    v.Str("chain_id", chain_id, kMaxChainIdBytes);
    v.Uint("height", height);
    v.Uint("time_ms", time_ms);
    v.Fixed("parent_hash", parent_hash);
    v.Fixed("proposer", proposer);
    v.Fixed("tx_root", tx_root);
    v.Fixed("receipts_root", receipts_root);
    v.Fixed("state_root", state_root);
    v.Fixed("validators_hash", validators_hash);
    v.Fixed("next_validators_hash", next_validators_hash);
    v.Fixed("evidence_root", evidence_root);
    v.Fixed("last_commit_hash", last_commit_hash);
  }
  Status Validate() const { return CheckChainId(chain_id); }
  Hash32 Hash() const;  // SHA-256("GTOS-HEADER-V1" || header array)
};

enum class VoteType : uint64_t { kPrevote = 1, kPrecommit = 2 };
std::string_view VoteTypeName(uint64_t t);

// A signed prevote or precommit. block_hash zero means nil.
struct Vote {
  uint64_t type = 0;
  uint64_t height = 0;
  uint64_t round = 0;
  Hash32 block_hash;
  Address validator;  // the validator's operator address
  Bytes signature;    // by the validator's consensus key over SigningDigest()

  template <class V> void Fields(V& v) {
    v.Enum("type", type, VoteTypeName);
    v.Uint("height", height);
    v.Uint("round", round);
    v.Fixed("block_hash", block_hash);
    v.Fixed("validator", validator);
    v.Bin("signature", signature, kMaxSignatureBytes);
  }
  // SHA-256("GTOS-VOTE-V1" || [chain_id, type, height, round, block_hash]).
  Hash32 SigningDigest(std::string_view chain_id) const;
};

// Precommit signatures of more than 2/3 of the voting power for one block.
struct CommitSig {
  Address validator;
  Bytes signature;
  template <class V> void Fields(V& v) {
    v.Fixed("validator", validator);
    v.Bin("signature", signature, kMaxSignatureBytes);
  }
};

struct Commit {
  uint64_t height = 0;
  uint64_t round = 0;
  Hash32 block_hash;
  std::vector<CommitSig> signatures;  // sorted by validator, unique

  template <class V> void Fields(V& v) {
    v.Uint("height", height);
    v.Uint("round", round);
    v.Fixed("block_hash", block_hash);
    v.List("signatures", signatures, kMaxCommitSigs);
  }
  // The precommit vote that signature i stands for.
  Vote VoteOf(size_t i) const;
  // SHA-256("GTOS-COMMIT-V1" || commit array): the header's last_commit_hash.
  Hash32 Hash() const;
};

// What a statement of a piece of evidence is (Statement::type): a vote of
// either type, or the signed part of a proposal.
enum class StatementType : uint64_t { kPrevote = 1, kPrecommit = 2, kProposal = 3 };
std::string_view StatementTypeName(uint64_t t);

// SHA-256("GTOS-PROPOSAL-V1" || [chain_id, height, round, valid_round + 1,
// block_hash]): what a proposer signs (consensus::Proposal::SigningDigest,
// which passes its valid_round + 1, 0 for none). Here because the executor
// verifies proposal evidence without the consensus library.
Hash32 ProposalSigningDigest(std::string_view chain_id, uint64_t height, uint64_t round,
                             uint64_t valid_round_plus_1, const Hash32& block_hash);

// One signed statement of an equivocation (docs/formats.md 14.4): a vote
// (type prevote or precommit; the fields of a Vote, encoded exactly like
// one), or what a proposer's signature covers (type proposal: the block
// hash, never the block, and valid_round + 1 as the trailing field, absent
// for a vote, so that vote evidence keeps its bytes and hash).
struct Statement {
  uint64_t type = 0;
  uint64_t height = 0;
  uint64_t round = 0;
  Hash32 block_hash;
  Address validator;  // the signer's operator address (the proposer's for a proposal)
  Bytes signature;    // by the validator's consensus key over SigningDigest()
  std::optional<uint64_t> valid_round_plus_1;  // proposal only: its valid_round + 1 (0: none)

  Statement() = default;
  // A vote as a statement (implicit: vote evidence is built from votes).
  Statement(const Vote& v)  // NOLINT(google-explicit-constructor)
      : type(v.type), height(v.height), round(v.round), block_hash(v.block_hash), validator(v.validator),
        signature(v.signature) {}

  template <class V> void Fields(V& v) {
    v.Enum("type", type, StatementTypeName);
    v.Uint("height", height);
    v.Uint("round", round);
    v.Fixed("block_hash", block_hash);
    v.Fixed("validator", validator);
    v.Bin("signature", signature, kMaxSignatureBytes);
    v.TrailingUint("valid_round_plus_1", valid_round_plus_1);
  }
  bool is_proposal() const { return type == static_cast<uint64_t>(StatementType::kProposal); }
  // The vote digest (Vote::SigningDigest) of a vote, the proposal digest
  // (ProposalSigningDigest, valid_round + 1 absent counting as 0) of a
  // proposal.
  Hash32 SigningDigest(std::string_view chain_id) const;
};

// Equivocation: two conflicting signed statements of one validator for one
// position (docs/state.md 9.3).
//  - Vote evidence: two votes of the same height, round and type for
//    different block hashes.
//  - Proposal evidence: two proposals of the same height and round by the
//    same proposer whose signed content (block hash, valid_round) differs;
//    canonical order: a's (block_hash, valid_round_plus_1) is below b's, so
//    one equivocation has one hash (MakeProposalEvidence).
struct Evidence {
  Statement a;
  Statement b;
  template <class V> void Fields(V& v) {
    v.Object("a", a);
    v.Object("b", b);
  }
  bool is_proposal() const { return a.is_proposal(); }
  // SHA-256(domain || [a, b]) with domain "GTOS-EVIDENCE-V1" for vote
  // evidence and "GTOS-PROPOSAL-EVIDENCE-V1" for proposal evidence (a of
  // type proposal): the leaf of the header's evidence_root.
  Hash32 Hash() const;
};

// Proposal evidence of two signed proposals' statements (type proposal),
// in canonical order.
Evidence MakeProposalEvidence(Statement x, Statement y);

struct Block {
  static constexpr RecordType kType = RecordType::kBlock;
  static constexpr uint64_t kVersion = 2;  // 2: last_commit
  BlockHeader header;
  std::vector<SignedTx> txs;
  std::vector<Evidence> evidence;
  // The parent's commit certificate as the proposer saw it (absent at
  // height 1). Hashed into the header, so every node stores the same
  // certificate for every height but its head (docs/consensus.md).
  std::optional<Commit> last_commit;
  std::optional<Commit> commit;  // this block's certificate, when known

  template <class V> void Fields(V& v) {
    v.Object("header", header);
    v.List("txs", txs, kMaxBlockTxs);
    v.List("evidence", evidence, kMaxEvidence);
    v.Optional("last_commit", last_commit);
    v.Optional("commit", commit);
  }
  Status Validate() const;  // header, each tx's structure
  // The body is the one the header commits to: tx_root, evidence_root and
  // last_commit_hash recomputed from txs, evidence and last_commit. After
  // this check every byte of the block but `commit` is fixed by the header
  // hash, so a block's validity may be cached by that hash. Pure: no
  // state, no signature checks.
  Status CheckBody() const;
};

// Stable result codes of a tx in a block (docs/state.md). 0 is success.
enum class TxStatus : uint64_t {
  kOk = 0,
  kInsufficientBalance = 1,
  kCodeExists = 2,
  kExpiryOverflow = 3,
  kValidatorExists = 4,
  kStakeBelowMinimum = 5,
  kNotValidator = 6,
  kInsufficientStake = 7,
  kBalanceOverflow = 8,
  kNoDelegation = 9,
  kTooManyEntries = 10,
  kValidatorJailed = 11,
  kCommissionChange = 12,
  kNotJailed = 13,
  kJailNotExpired = 14,
  kValidatorTombstoned = 15,
  kAddressTombstoned = 16,
  // upgrade_plan (docs/state.md 9.9)
  kPlanPending = 17,            // another plan is pending
  kPlanActivationHeight = 18,   // activation not in (h + 1, h + 1,000,000]
  kPlanParamsInvalid = 19,      // the resulting params fail ChainParams::Validate
  kPlanQuorum = 20,             // a signature fails, a signer is not in the set, or power <= 2/3
};
std::string_view TxStatusName(uint64_t status);

struct Receipt {
  static constexpr RecordType kType = RecordType::kReceipt;
  static constexpr uint64_t kVersion = 1;
  Hash32 tx_id;
  uint64_t height = 0;
  uint64_t index = 0;    // position in the block
  uint64_t status = 0;   // TxStatus
  uint64_t fee = 0;      // charged, also on failure
  uint64_t expire_block = 0;  // of the stored object for code/kv puts, else 0

  template <class V> void Fields(V& v) {
    v.Fixed("tx_id", tx_id);
    v.Uint("height", height);
    v.Uint("index", index);
    v.Enum("status", status, TxStatusName);
    v.Uint("fee", fee);
    v.Uint("expire_block", expire_block);
  }
  Status Validate() const { return Ok(); }
  Hash32 Hash() const;  // SHA-256("GTOS-RECEIPT-V1" || receipt array)
};

// ---- state values ------------------------------------------------------------

struct SignerBinding {
  uint64_t algo = 0;
  Bytes public_key;
  template <class V> void Fields(V& v) {
    v.Enum("algo", algo, AlgoName);
    v.Bin("public_key", public_key, kMaxPublicKeyBytes);
  }
};

struct Account {
  uint64_t balance = 0;
  uint64_t nonce = 0;
  std::optional<SignerBinding> signer;
  template <class V> void Fields(V& v) {
    v.Uint("balance", balance);
    v.Uint("nonce", nonce);
    v.Optional("signer", signer);
  }
};

// A code object or KV record: exists at height n iff n < expire_block.
struct StoredObject {
  uint64_t created_block = 0;
  uint64_t expire_block = 0;
  Bytes data;  // code bytes or KV value
  template <class V> void Fields(V& v) {
    v.Uint("created_block", created_block);
    v.Uint("expire_block", expire_block);
    v.Bin("data", data, kMaxValueBytes > kMaxCodeBytes ? kMaxValueBytes : kMaxCodeBytes);
  }
};

// A registered validator (docs/state.md sections 1 and 9.4). Its bonded
// stake is held as tokens and shares, Cosmos-style: every delegation
// (the operator's self-bond included) owns shares, worth
// floor(shares * stake / shares_total) tokens. A slash lowers `stake` and
// leaves the shares alone, so it reaches every delegation in proportion.
struct ValidatorInfo {
  uint64_t consensus_algo = 0;
  Bytes consensus_key;
  uint64_t stake = 0;   // bonded tokens of all its delegations: its power
  uint64_t jailed = 0;  // 1 when jailed (no longer eligible)
  std::string p2p_addr;
  uint64_t shares = 0;  // sum of its delegations' shares; > 0 while the entry exists
  uint64_t commission_permille = 0;
  std::string moniker;
  // Height of the block whose validator_edit last changed the commission
  // (0: never); one change per epoch.
  uint64_t commission_changed_at = 0;
  // F1 accounting: cumulative delegator reward per share, scaled by 10^18,
  // as 16 big-endian bytes, wrapping modulo 2^128 (docs/state.md 9.4).
  Bytes reward_ratio;
  // (rest * 10^18 + carry) mod shares of the last reward: the fraction of
  // a ratio unit carried into the next one, so rounding loses nothing while
  // the shares do not change. Always < shares.
  uint64_t reward_carry = 0;
  uint64_t outstanding_rewards = 0;  // credited to delegators, not yet paid
  uint64_t commission_rewards = 0;   // the operator's commission, not yet paid
  // Downtime jail (docs/state.md 9.8): the first height at which `unjail`
  // is accepted (0: never jailed for downtime).
  uint64_t jailed_until = 0;
  // 1 once slashed for double signing: jailed for good, unjail refused.
  uint64_t tombstoned = 0;
  template <class V> void Fields(V& v) {
    v.Enum("consensus_algo", consensus_algo, AlgoName);
    v.Bin("consensus_key", consensus_key, kMaxPublicKeyBytes);
    v.Uint("stake", stake);
    v.Uint("jailed", jailed, 1);
    v.Str("p2p_addr", p2p_addr, kMaxP2pAddrBytes);
    v.Uint("shares", shares);
    v.Uint("commission_permille", commission_permille, 1000);
    v.Str("moniker", moniker, kMaxMonikerBytes);
    v.Uint("commission_changed_at", commission_changed_at);
    v.Bin("reward_ratio", reward_ratio, 16);
    v.Uint("reward_carry", reward_carry);
    v.Uint("outstanding_rewards", outstanding_rewards);
    v.Uint("commission_rewards", commission_rewards);
    v.Uint("jailed_until", jailed_until);
    v.Uint("tombstoned", tombstoned, 1);
  }
};

// A delegator's stake with one validator (the D table). Kept while it has
// shares or unbonding entries of this pair are pending.
struct Delegation {
  uint64_t shares = 0;
  Bytes ratio_start;  // the validator's reward_ratio when rewards were last paid
  uint64_t unbonding_entries = 0;  // pending U entries of this pair
  template <class V> void Fields(V& v) {
    v.Uint("shares", shares);
    v.Bin("ratio_start", ratio_start, 16);
    v.Uint("unbonding_entries", unbonding_entries);
  }
};

// The single G entry: chain-wide supply counters and the community pool
// (docs/state.md section 9.6).
struct SupplyPool {
  uint64_t issued = 0;          // block rewards issued since genesis
  uint64_t burned = 0;          // slashed since genesis
  uint64_t community_pool = 0;  // reward remainders owned by nobody
  template <class V> void Fields(V& v) {
    v.Uint("issued", issued);
    v.Uint("burned", burned);
    v.Uint("community_pool", community_pool);
  }
};

// The L entry of a member of the active set (docs/state.md section 9.8):
// which of the last signed_blocks_window commits it is missing from. Bit
// (h - 1) % window (bit i is bit i % 8 of byte i / 8) is set when the
// commit of height h - 1 lacks its signature. Absent: nothing missed.
struct Liveness {
  uint64_t missed = 0;  // bits set in `bitmap`
  Bytes bitmap;         // ceil(signed_blocks_window / 8) bytes
  template <class V> void Fields(V& v) {
    v.Uint("missed", missed);
    v.Bin("bitmap", bitmap, 12'500);
  }
};

// One member of an active validator set (docs/state.md section 9.1).
struct ActiveValidator {
  Address address;  // operator address (the V table key)
  uint64_t consensus_algo = 0;
  Bytes consensus_key;
  uint64_t power = 0;  // the bonded stake when the set was chosen
  template <class V> void Fields(V& v) {
    v.Fixed("address", address);
    v.Enum("consensus_algo", consensus_algo, AlgoName);
    v.Bin("consensus_key", consensus_key, kMaxPublicKeyBytes);
    v.Uint("power", power);
  }
};

// The validator set of one epoch: the `S` state entry (the set that signs
// the next block) and the `W` history entries (docs/storage.md).
struct ActiveSet {
  uint64_t first_height = 0;                // first height this set signs
  std::vector<ActiveValidator> validators;  // sorted by address, unique
  template <class V> void Fields(V& v) {
    v.Uint("first_height", first_height);
    v.List("validators", validators, kMaxCommitSigs);
  }
};

// Binary Merkle root of 32-byte leaves: leaves are hashed as
// SHA-256(0x00 || leaf), inner nodes as SHA-256(0x01 || left || right), an
// odd node is promoted unchanged; the root of no leaves is all zeros.
Hash32 MerkleRoot(const std::vector<Hash32>& leaves);

// Hash of a signed tx record (for tx_root): SHA-256 of its record bytes.
Hash32 SignedTxLeaf(const SignedTx& stx);

}  // namespace gtos

#endif  // GTOS_TYPES_CHAIN_H_
