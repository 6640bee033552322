// Block execution: the state transition of GTOS (docs/state.md).
//
// Execute() applies one block at height h on top of the committed state:
//   0. a pending upgrade plan whose activation_height == h takes effect:
//      its changes become the params in force for this block and after
//      (docs/state.md section 9.9);
//   1. records whose expire_block == h disappear (expiry is part of the
//      transition, so every node agrees whatever it deletes physically);
//   2. unbonded stake whose release height is h returns to its owner;
//      slash records (E) of block h - unbonding_blocks are dropped;
//   3. the block's evidence: each valid piece slashes its validator's
//      bonded stake (and jails it) and the stake it has unbonding since the
//      infraction's epoch, and is recorded in E (invalid evidence is left
//      out when proposing and makes the block invalid when validating);
//   4. each tx: includability checks (chain id, parameters, signer, nonce,
//      fee), then fee and nonce are charged, then the payload runs; a
//      payload that breaks a stateful rule yields a failed receipt and no
//      other change;
//   5. the block reward and the block's fees go to the validators that
//      signed the previous block's commit (lazy F1 accounting, staking.h);
//   6. at an epoch boundary (h % epoch_length == 0) the active validator
//      set is chosen anew from the validator table;
//   7. the state accumulator is updated with exactly the changed entries.
// Everything is deterministic: ordered maps, no clock, no floating point.
//
// Thread safety: an Executor may be used by one thread at a time.
#ifndef GTOS_STATE_EXECUTOR_H_
#define GTOS_STATE_EXECUTOR_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "state/lthash.h"
#include "state/store.h"
#include "types/chain.h"
#include "types/upgrade.h"

namespace gtos::state {

// A block's pending writes over committed state. Reads see the block's own
// earlier writes; changes are visited in key order.
class Overlay {
 public:
  explicit Overlay(const Store& base) : base_(base) {}
  Result<std::optional<std::string>> Get(const std::string& key);
  void Put(const std::string& key, std::string value);
  void Delete(const std::string& key);
  // Every entry whose key starts with `prefix`, committed state merged with
  // this overlay, in key order.
  Result<std::map<std::string, std::string>> Scan(std::string_view prefix);

  struct Entry {
    std::optional<std::string> before;  // committed value
    std::optional<std::string> after;   // value after this block
  };
  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  Result<Entry*> Load(const std::string& key);
  const Store& base_;
  std::map<std::string, Entry> entries_;
};

enum class ExecMode {
  kPropose,   // txs that are not includable are left out of the block
  kValidate,  // a tx that is not includable makes the block invalid
};

struct ExecOptions {
  ExecMode mode = ExecMode::kValidate;
  // False when every signature was checked before (mempool admission,
  // replay of blocks whose signatures were checked when first applied).
  bool verify_signatures = true;
};

struct ExecResult {
  std::vector<SignedTx> txs;  // the txs in the block, in order (Chain moves them into the block)
  std::vector<Hash32> tx_ids;
  std::vector<Hash32> tx_leaves;  // SignedTxLeaf of each tx (for tx_root)
  std::vector<Receipt> receipts;
  std::vector<std::pair<Hash32, Error>> left_out;  // kPropose only
  std::vector<Evidence> evidence;         // the evidence applied, in block order
  std::vector<Hash32> evidence_hashes;    // Evidence::Hash() of each (for evidence_root)
  std::vector<std::pair<Hash32, Error>> left_out_evidence;  // kPropose only
  ActiveSet set_before;  // the set that signs this block (the S entry before it)
  ActiveSet set_after;   // the set that signs the next block (the S entry after it)
  bool new_epoch = false;  // this block is an epoch boundary: S was rewritten
  LtHash accumulator;                              // after the block
  Hash32 state_root;
  WriteBatch batch;  // state changes only; the chain adds history
  // The KV (K table) entries the block changed, in key order: the key and
  // the StoredObject after the block, or nullopt when it expired here (a KV
  // record is only ever removed by expiry). Not part of any commitment:
  // the node publishes them to subscribers (docs/rpc.md "Subscriptions").
  std::vector<std::pair<std::string, std::optional<std::string>>> kv_changes;
  uint64_t fees = 0;
};

// Encodes / decodes a state value (an object's field array).
template <class T>
std::string EncodeValue(const T& t) {
  codec::Writer w;
  codec::EncodeObject(w, t);
  const Bytes& b = w.bytes();
  return std::string(b.begin(), b.end());
}
template <class T>
Result<T> DecodeValue(std::string_view bytes, std::string_view what) {
  size_t off = 0;
  ByteView b(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto p = codec::ParseOne(b, &off);
  if (!p || !*p || off != b.size()) return Fail(ErrorCode::kInternal, "corrupt " + std::string(what) + " in database");
  codec::Reader r((*p)->handle.get(), (*p)->raw, std::string(what));
  T t;
  codec::DecodeVisitor v(r);
  t.Fields(v);
  auto st = r.Finish();
  if (!st) return Fail(ErrorCode::kInternal, "corrupt " + std::string(what) + " in database: " + st.error().message);
  return t;
}

// The value of a U entry (stake unbonding): one canonical msgpack uint;
// DecodeUint refuses anything else (kInternal: a corrupt database).
std::string EncodeUint(uint64_t v);
Result<uint64_t> DecodeUint(std::string_view bytes);

// The accumulator element of a state entry: msgpack [key bin, value bin].
Bytes StateElement(std::string_view key, std::string_view value);

// The state a genesis creates: accounts, bonded validators, the active
// set for height 1.
struct GenesisState {
  WriteBatch batch;
  LtHash accumulator;
  Hash32 state_root;
  ActiveSet active_set;
};
Result<GenesisState> BuildGenesisState(const Genesis& genesis);

// ---- upgrade plans (docs/state.md section 9.9) ------------------------------

// The params in force after the committed state: the P "params" entry, or
// `genesis_params` when there is none (no plan has activated yet).
Result<ChainParams> LoadParams(const Store& store, const ChainParams& genesis_params);
Result<ChainParams> LoadParams(Overlay& overlay, const ChainParams& genesis_params);
// The P "plan" entry: the accepted plan waiting for its activation.
Result<std::optional<PendingPlan>> LoadPendingPlan(const Store& store);

// ---- validator sets and epochs (docs/state.md section 9) ----------------------

// The first height of the epoch that contains `height` (>= 1): epochs are
// [k * epoch_length + 1, (k + 1) * epoch_length].
uint64_t EpochFirstHeight(uint64_t height, uint64_t epoch_length);

// Voting power of a set stays below this bound (consensus::ValidatorSet).
inline constexpr uint64_t kMaxTotalPower = uint64_t{1} << 62;

// The active set chosen from `candidates`: those not jailed with stake >=
// min_validator_stake, ranked by stake (higher first, ties: lower address
// first), the first max_validators of them, stopping early at the first one
// whose power would bring the total to kMaxTotalPower; sorted by address.
// May be empty.
std::vector<ActiveValidator> SelectValidators(const std::vector<std::pair<Address, ValidatorInfo>>& candidates,
                                              const ChainParams& params);

// The S entry of committed state (kInternal if missing).
Result<ActiveSet> LoadActiveSet(const Store& store);
// The set that signs `height` (>= 1), from the W history: the entry of the
// epoch containing `height`. nullopt when the store has none (a height
// above the head + 1).
Result<std::optional<ActiveSet>> LoadSetFor(const Store& store, uint64_t height, uint64_t epoch_length);

class Executor {
 public:
  Executor(const Store& store, const Genesis& genesis);

  // REQUIRES: the store's committed state is that after height - 1, whose
  // accumulator is `parent`.
  // `evidence` is the block's candidate evidence (step 3); ExecResult
  // holds the pieces applied. `signers` are the validators of the block's
  // last_commit (empty at height 1), already verified by the caller
  // (Chain::Validate) or taken from the node's own certificate (propose).
  Result<ExecResult> Execute(uint64_t height, const Address& proposer, std::vector<SignedTx> txs,
                             std::vector<Evidence> evidence, const std::vector<Address>& signers,
                             const ExecOptions& opts, const LtHash& parent) const;

  // The validity rules of one piece of evidence in block `height` against
  // committed state plus `overlay` (docs/state.md section 9.3). kInvalid or
  // kCrypto when it is not valid; other codes are store failures.
  Status CheckEvidence(Overlay& overlay, const Evidence& e, uint64_t height) const;

  // The includability checks of step 3 against committed state plus
  // `overlay` (used by the mempool as well). Returns the sender's account.
  // `height` is the block the tx would be in.
  Result<Account> CheckIncludable(Overlay& overlay, const SignedTx& tx, const Hash32& id, uint64_t height,
                                  bool verify_signature, size_t body_bytes = 0) const;

 private:
  Status ApplyBlockEvidence(Overlay& ov, uint64_t height, std::vector<Evidence> evidence, ExecMode mode,
                            const ChainParams& params, ExecResult* out) const;
  // Step 0: activates the pending plan of height h into `ov` and `params`.
  Status ActivatePlan(Overlay& ov, uint64_t h, ChainParams* params) const;
  const Store& store_;
  const Genesis& genesis_;
  uint64_t genesis_supply_ = 0;  // the sum of the genesis balances
};

}  // namespace gtos::state

#endif  // GTOS_STATE_EXECUTOR_H_
