#include "types/chain.h"

#include <algorithm>
#include <cstring>

#include "crypto/hash.h"
#include "types/records.h"

namespace gtos {

namespace {

template <class T>
Hash32 TaggedHashOf(std::string_view domain, const T& t) {
  codec::Writer w;
  codec::EncodeObject(w, t);
  return crypto::Sha256Tagged(domain, w.bytes());
}


}  // namespace

// ---- genesis ---------------------------------------------------------------

Status GenesisValidator::Validate() const {
  GTOS_TRY(CheckChainId(chain_id));
  GTOS_TRY(CheckPublicKey("public_key", algo, public_key));
  if (stake == 0) return Invalid("field 'stake': must be greater than 0");
  const crypto::SigAlgo* a = crypto::FindAlgo(algo);
  if (signature.size() != a->signature_size)
    return Invalid("field 'signature': expected " + std::to_string(a->signature_size) + " bytes for " +
                   std::string(a->name) + ", got " + std::to_string(signature.size()));
  return Ok();
}

Hash32 GenesisValidator::SigningDigest() const {
  codec::Writer w;
  w.Array(commission_permille ? 6 : 5);
  w.Str(chain_id);
  w.Uint(algo);
  w.Bin(public_key);
  w.Uint(stake);
  w.Str(p2p_addr);
  if (commission_permille) w.Uint(*commission_permille);
  return crypto::Sha256Tagged("GTOS-GENTX-V1", w.bytes());
}

Status GenesisValidator::VerifySignature() const {
  GTOS_TRY(Validate());
  const crypto::SigAlgo* a = crypto::FindAlgo(algo);
  if (!a->verify(public_key, SigningDigest(), signature))
    return Fail(ErrorCode::kCrypto, "genesis validator " + ToHex0x(address()) + ": signature does not verify");
  return Ok();
}

Address GenesisValidator::address() const {
  return crypto::DeriveAddress(static_cast<crypto::AlgoId>(algo), public_key);
}

Status Genesis::Validate() const {
  GTOS_TRY(CheckChainId(chain_id));
  // Block 1's time must be above it and at most kMaxBlockTimeMs.
  if (genesis_time_ms >= kMaxBlockTimeMs)
    return Invalid("field 'genesis_time_ms': " + std::to_string(genesis_time_ms) + " is not below 2^62 (" +
                   std::to_string(kMaxBlockTimeMs) + "), the largest block time");
  GTOS_TRY(params.Validate());
  for (size_t i = 1; i < accounts.size(); ++i)
    if (!(accounts[i - 1].address < accounts[i].address))
      return Invalid("field 'accounts." + std::to_string(i) + "': accounts must be sorted by address and unique (" +
                     ToHex0x(accounts[i].address) + ")");
  for (size_t i = 0; i < validators.size(); ++i) {
    auto st = validators[i].Validate();
    if (!st) return std::unexpected(Wrap(st.error(), "validator " + std::to_string(i)));
    if (validators[i].commission_permille.value_or(0) > params.max_commission_permille)
      return Invalid("field 'validators." + std::to_string(i) + ".commission_permille': " +
                     std::to_string(*validators[i].commission_permille) + " is above max_commission_permille " +
                     std::to_string(params.max_commission_permille));
    if (i > 0 && !(validators[i - 1].address() < validators[i].address()))
      return Invalid("field 'validators." + std::to_string(i) +
                     "': validators must be sorted by address and unique (" + ToHex0x(validators[i].address()) +
                     ")");
  }
  return Ok();
}

Status Genesis::ValidateFull() const {
  GTOS_TRY(Validate());
  if (validators.empty()) return Invalid("genesis has no validators");
  uint64_t supply = 0;
  for (const GenesisAccount& a : accounts)
    if (__builtin_add_overflow(supply, a.balance, &supply))
      return Invalid("total supply overflows 64 bits");
  for (const GenesisValidator& v : validators) {
    if (v.chain_id != chain_id)
      return Invalid("validator " + ToHex0x(v.address()) + " signed for chain '" + v.chain_id + "', not '" +
                     chain_id + "'");
    GTOS_TRY(v.VerifySignature());
    if (v.stake < params.min_validator_stake)
      return Invalid("validator " + ToHex0x(v.address()) + ": stake " + std::to_string(v.stake) +
                     " is below min_validator_stake " + std::to_string(params.min_validator_stake));
    Address addr = v.address();
    auto it = std::lower_bound(accounts.begin(), accounts.end(), addr,
                               [](const GenesisAccount& a, const Address& x) { return a.address < x; });
    uint64_t balance = (it != accounts.end() && it->address == addr) ? it->balance : 0;
    if (balance < v.stake)
      return Fail(ErrorCode::kInvalid, "validator " + ToHex0x(addr) + ": stake " + std::to_string(v.stake) +
                     " exceeds its genesis balance " + std::to_string(balance),
                     "add the account first: gtos-genesis add-account " + ToHex0x(addr) + " AMOUNT");
  }
  return Ok();
}

Hash32 Genesis::Hash() const { return crypto::Sha256Tagged("GTOS-GENESIS-V1", EncodeRecord(*this)); }

// ---- consensus objects -------------------------------------------------------

Hash32 BlockHeader::Hash() const { return TaggedHashOf("GTOS-HEADER-V1", *this); }

std::string_view VoteTypeName(uint64_t t) {
  switch (t) {
    case 1: return "prevote";
    case 2: return "precommit";
  }
  return {};
}

Hash32 Vote::SigningDigest(std::string_view chain_id) const {
  codec::Writer w;
  w.Array(5);
  w.Str(chain_id);
  w.Uint(type);
  w.Uint(height);
  w.Uint(round);
  w.Bin(block_hash.view());
  return crypto::Sha256Tagged("GTOS-VOTE-V1", w.bytes());
}

Vote Commit::VoteOf(size_t i) const {
  Vote v;
  v.type = static_cast<uint64_t>(VoteType::kPrecommit);
  v.height = height;
  v.round = round;
  v.block_hash = block_hash;
  v.validator = signatures[i].validator;
  v.signature = signatures[i].signature;
  return v;
}

Hash32 Commit::Hash() const { return TaggedHashOf("GTOS-COMMIT-V1", *this); }

std::string_view StatementTypeName(uint64_t t) {
  switch (t) {
    case 1: return "prevote";
    case 2: return "precommit";
    case 3: return "proposal";
  }
  return {};
}

Hash32 ProposalSigningDigest(std::string_view chain_id, uint64_t height, uint64_t round,
                             uint64_t valid_round_plus_1, const Hash32& block_hash) {
  codec::Writer w;
  w.Array(5);
  w.Str(chain_id);
  w.Uint(height);
  w.Uint(round);
  w.Uint(valid_round_plus_1);
  w.Bin(block_hash.view());
  return crypto::Sha256Tagged("GTOS-PROPOSAL-V1", w.bytes());
}

Hash32 Statement::SigningDigest(std::string_view chain_id) const {
  if (is_proposal()) return ProposalSigningDigest(chain_id, height, round, valid_round_plus_1.value_or(0), block_hash);
  Vote v;
  v.type = type;
  v.height = height;
  v.round = round;
  v.block_hash = block_hash;
  return v.SigningDigest(chain_id);
}

Hash32 Evidence::Hash() const {
  return TaggedHashOf(is_proposal() ? "GTOS-PROPOSAL-EVIDENCE-V1" : "GTOS-EVIDENCE-V1", *this);
}

Evidence MakeProposalEvidence(Statement x, Statement y) {
  auto key = [](const Statement& s) { return std::make_pair(s.block_hash, s.valid_round_plus_1.value_or(0)); };
  if (key(y) < key(x)) std::swap(x, y);
  return Evidence{std::move(x), std::move(y)};
}

Status Block::Validate() const {
  GTOS_TRY(header.Validate());
  for (size_t i = 0; i < txs.size(); ++i) {
    auto st = txs[i].Validate();
    if (!st) return std::unexpected(Wrap(st.error(), "tx " + std::to_string(i)));
  }
  return Ok();
}

Status Block::CheckBody() const {
  std::vector<Hash32> leaves(txs.size());
  codec::Writer w;
  for (size_t i = 0; i < txs.size(); ++i) {
    w.Clear();
    EncodeRecordTo(w, txs[i]);
    leaves[i] = crypto::Sha256(w.bytes());
  }
  if (MerkleRoot(leaves) != header.tx_root) return Invalid("block txs do not match the header's tx_root");
  leaves.resize(evidence.size());
  for (size_t i = 0; i < evidence.size(); ++i) leaves[i] = evidence[i].Hash();
  if (MerkleRoot(leaves) != header.evidence_root)
    return Invalid("block evidence does not match the header's evidence_root");
  Hash32 lc = last_commit ? last_commit->Hash() : Hash32{};
  if (lc != header.last_commit_hash) return Invalid("block last_commit does not match the header's last_commit_hash");
  return Ok();
}

std::string_view TxStatusName(uint64_t status) {
  static constexpr std::string_view kNames[] = {
      "ok",          "insufficient_balance", "code_exists",        "expiry_overflow",   "validator_exists",
      "stake_below_minimum", "not_validator", "insufficient_stake", "balance_overflow",
      "no_delegation", "too_many_entries", "validator_jailed", "commission_change",
      "not_jailed", "jail_not_expired", "validator_tombstoned", "address_tombstoned", "plan_pending",
      "plan_activation_height", "plan_params_invalid", "plan_quorum"};
  return status < std::size(kNames) ? kNames[status] : std::string_view();
}

Hash32 Receipt::Hash() const { return TaggedHashOf("GTOS-RECEIPT-V1", *this); }

Hash32 MerkleRoot(const std::vector<Hash32>& leaves) {
  if (leaves.empty()) return Hash32{};
  std::vector<Hash32> level;
  level.reserve(leaves.size());
  uint8_t buf[65];
  for (const Hash32& l : leaves) {
    buf[0] = 0x00;
    std::memcpy(buf + 1, l.data(), 32);
    level.push_back(crypto::Sha256({buf, 33}));
  }
  while (level.size() > 1) {
    std::vector<Hash32> next;
    next.reserve((level.size() + 1) / 2);
    for (size_t i = 0; i + 1 < level.size(); i += 2) {
      buf[0] = 0x01;
      std::memcpy(buf + 1, level[i].data(), 32);
      std::memcpy(buf + 33, level[i + 1].data(), 32);
      next.push_back(crypto::Sha256({buf, 65}));
    }
    if (level.size() % 2 == 1) next.push_back(level.back());
    level.swap(next);
  }
  return level[0];
}

Hash32 SignedTxLeaf(const SignedTx& stx) { return crypto::Sha256(EncodeRecord(stx)); }

}  // namespace gtos
