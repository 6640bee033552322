// The LevelDB key schema (docs/storage.md). One byte of prefix per table;
// integers in keys are big-endian so that keys sort by height.
//
//   A addr                      -> Account                 (state)
//   C code_hash                 -> StoredObject (code)     (state)
//   K addr u16(ns) ns key       -> StoredObject (KV value) (state)
//   V addr                      -> ValidatorInfo           (state)
//   U u64(release) owner validator -> uint amount unbonding (state)
//   D delegator validator       -> Delegation              (state)
//   G                           -> SupplyPool: issued, burned,
//                                  community pool          (state)
//   S                           -> ActiveSet: the set that signs the next
//                                  block, with its first height   (state)
//   E u64(slash height) addr    -> [height, round, type] of the infraction
//                                  slashed in that block           (state)
//   L addr                      -> Liveness: missed commits of an active
//                                  validator in the window         (state)
//   Y u64(release) delegator src dst -> uint amount redelegated from src to
//                                  dst, answerable for src's infractions
//                                  until release                   (state)
//   Z addr                      -> uint height of the block that tombstoned
//                                  addr (double sign); kept forever (state)
//   P "params"                  -> ChainParams in force; absent: the
//                                  genesis's                       (state)
//   P "plan"                    -> PendingPlan: the accepted plan
//                                  waiting for its activation      (state)
//   X u64(expire) object_key    -> ""  expiry index        (derived)
//   H u64(height)               -> BlockHeader record      (history, kept)
//   Q u64(height)               -> Commit                  (history, kept)
//   W u64(first_height)         -> ActiveSet of the epoch starting there
//                                                          (history, kept)
//   B u64(height)               -> block body: txs, evidence (history, pruned)
//   R u64(height)               -> receipts                (history, pruned)
//   T tx_id                     -> u64(height) u32(index)  (history, pruned)
//   N block_hash                -> u64(height) of a block with a stored
//                                  body (history, pruned with the body)
//   M name                      -> metadata (head, accumulator, genesis)
//
// "state" tables are exactly what the state commitment covers.
#ifndef GTOS_STATE_SCHEMA_H_
#define GTOS_STATE_SCHEMA_H_

#include <optional>
#include <string>
#include <string_view>

#include "util/bytes.h"

namespace gtos::state::schema {

inline constexpr char kAccount = 'A';
inline constexpr char kCode = 'C';
inline constexpr char kKv = 'K';
inline constexpr char kValidator = 'V';
inline constexpr char kUnbonding = 'U';
inline constexpr char kActiveSet = 'S';
inline constexpr char kSlashed = 'E';
inline constexpr char kDelegation = 'D';
inline constexpr char kSupply = 'G';
inline constexpr char kLiveness = 'L';
inline constexpr char kRedelegation = 'Y';
inline constexpr char kUpgrade = 'P';
inline constexpr char kTombstone = 'Z';
inline constexpr char kSetHistory = 'W';
inline constexpr char kExpiry = 'X';
inline constexpr char kHeader = 'H';
inline constexpr char kCommit = 'Q';
inline constexpr char kBody = 'B';
inline constexpr char kReceipts = 'R';
inline constexpr char kTxIndex = 'T';
inline constexpr char kBlockIndex = 'N';
inline constexpr char kMeta = 'M';

// True for keys whose entries the state commitment covers.
inline bool IsStateKey(std::string_view key) {
  if (key.empty()) return false;
  char p = key[0];
  return p == kAccount || p == kCode || p == kKv || p == kValidator || p == kUnbonding ||
         p == kActiveSet || p == kSlashed || p == kDelegation || p == kSupply || p == kLiveness ||
         p == kRedelegation || p == kUpgrade || p == kTombstone;
}

// The state tables in key order (the order of a snapshot's chunks).
inline constexpr char kStateTables[] = {kAccount,  kCode,    kDelegation, kSlashed,  kSupply,
                                        kKv,       kLiveness, kUpgrade,   kActiveSet, kUnbonding,
                                        kValidator, kRedelegation, kTombstone};

void AppendBE64(std::string* out, uint64_t v);
uint64_t ReadBE64(std::string_view in);

std::string AccountKey(const Address& a);
std::string CodeKey(const Hash32& code_hash);
std::string KvKey(const Address& owner, ByteView ns, ByteView key);
// The parts of a K key; nullopt when `key` is not one (wrong table, too
// short, namespace length past the end).
struct KvKeyParts {
  Address owner;
  Bytes ns, key;
};
std::optional<KvKeyParts> ParseKvKey(std::string_view key);
std::string ValidatorKey(const Address& a);
// U u64be(release) owner validator: stake `owner` unbonds from `validator`
// (owner == validator for a self-bond).
std::string UnbondingKey(uint64_t release_height, const Address& owner, const Address& validator);
std::string UnbondingPrefix(uint64_t release_height);
inline constexpr size_t kUnbondingKeySize = 1 + 8 + 32 + 32;
// The release height, owner and validator of a U key. REQUIRES: a U key.
uint64_t UnbondingKeyRelease(std::string_view key);
Address UnbondingKeyOwner(std::string_view key);
Address UnbondingKeyValidator(std::string_view key);
// D delegator validator, and the prefix of a delegator's entries.
std::string DelegationKey(const Address& delegator, const Address& validator);
std::string DelegationPrefix(const Address& delegator);
inline constexpr size_t kDelegationKeySize = 1 + 32 + 32;
Address DelegationKeyValidator(std::string_view key);
// The single entry of the G table.
std::string SupplyKey();
// L addr: the liveness record of an active validator.
std::string LivenessKey(const Address& a);
// Z addr: the tombstone of a validator slashed for double signing.
std::string TombstoneKey(const Address& a);
// Y u64be(release) delegator src dst: a redelegation entry.
std::string RedelegationKey(uint64_t release_height, const Address& delegator, const Address& src,
                            const Address& dst);
std::string RedelegationPrefix(uint64_t release_height);
inline constexpr size_t kRedelegationKeySize = 1 + 8 + 32 + 32 + 32;
// The parts of a Y key. REQUIRES: a Y key of kRedelegationKeySize bytes.
uint64_t RedelegationKeyRelease(std::string_view key);
Address RedelegationKeyDelegator(std::string_view key);
Address RedelegationKeySource(std::string_view key);
Address RedelegationKeyDestination(std::string_view key);
// E u64be(slash_height) addr: the slash of `a` in block `slash_height`.
std::string SlashedKey(uint64_t slash_height, const Address& a);
std::string SlashedPrefix(uint64_t slash_height);
// The slash height and validator of an E key. REQUIRES: an E key.
uint64_t SlashedKeyHeight(std::string_view key);
Address SlashedKeyValidator(std::string_view key);
std::string ExpiryKey(uint64_t expire_block, std::string_view object_key);
std::string ExpiryPrefix(uint64_t expire_block);
std::string HeightKey(char table, uint64_t height);
// The single entry of the S table.
std::string ActiveSetKey();
// The two entries of the P table (docs/state.md 9.9).
std::string ParamsKey();       // "Pparams"
std::string PendingPlanKey();  // "Pplan"
// W u64be(first_height).
std::string SetHistoryKey(uint64_t first_height);
std::string TxIndexKey(const Hash32& tx_id);
// N block_hash: the block-hash index (schema 6).
std::string BlockIndexKey(const Hash32& block_hash);
std::string MetaKey(std::string_view name);

inline constexpr std::string_view kMetaHead = "head";            // u64 height
inline constexpr std::string_view kMetaAccumulator = "lthash";   // 2048 bytes
inline constexpr std::string_view kMetaGenesis = "genesis";      // genesis record
inline constexpr std::string_view kMetaFormat = "format";        // schema version
inline constexpr std::string_view kMetaOldestBody = "oldest_body";  // u64: lowest height with a body

// 2: the S and W tables; 3: last_commit, oldest_body; 4: the E table and
// genesis parameters 19-20; 5: delegation (D, G tables, U keys with the
// validator, new V fields, genesis parameters 21-25); 6: the N table
// (block-hash index; migration 5 -> 6 builds it, lib/chain/migrate.h).
inline constexpr uint64_t kSchemaVersion = 6;

}  // namespace gtos::state::schema

#endif  // GTOS_STATE_SCHEMA_H_
