// Delegated proof of stake: delegations, unbonding, F1-style lazy rewards,
// commission and the supply counters (docs/state.md sections 9.4-9.6).
//
// Stake representation (Cosmos x/staking): a validator holds `stake` tokens
// and `shares`; each delegation (the operator's self-bond is its delegation
// to itself) owns shares worth floor(shares * stake / shares_total) tokens.
// A slash lowers the validator's tokens only, so every delegation loses the
// same fraction without being touched.
//
// Rewards (Cosmos x/distribution, F1): each validator keeps a cumulative
// reward per share (`reward_ratio`, scaled by 10^18, wrapping modulo 2^128);
// a delegation remembers the ratio when it was last paid. Paying a block's
// reward touches only the signing validators; a delegator's reward is
// computed when it withdraws or changes that delegation. Because the ratio
// is per share, not per token, a slash needs no correction of it.
//
// Everything here runs inside one block's Overlay and follows the executor's
// rule: every stateful check before the first write. Deterministic: integer
// arithmetic only (unsigned __int128), key-ordered iteration.
#ifndef GTOS_STATE_STAKING_H_
#define GTOS_STATE_STAKING_H_

#include <optional>
#include <string>
#include <vector>

#include "state/executor.h"
#include "state/store.h"
#include "types/chain.h"

namespace gtos::state {

// ---- value helpers shared with the executor -------------------------------------

// EncodeUint / DecodeUint (one canonical msgpack uint): state/executor.h.
// An absent account reads as balance 0, nonce 0, no signer.
Result<Account> LoadAccount(Overlay& ov, const Address& a);
void StoreAccount(Overlay& ov, const Address& a, const Account& acc);

namespace staking {

__extension__ typedef unsigned __int128 Uint128;  // GCC and Clang; -Wpedantic-clean

// The fixed-point scale of reward ratios: one token per share is 10^18.
inline constexpr uint64_t kRatioScale = 1'000'000'000'000'000'000;

// Ratios are stored as 16 big-endian bytes; anything else reads as 0.
Uint128 ReadRatio(const Bytes& b);
Bytes RatioBytes(Uint128 r);

// The tokens `shares` of validator `v` are worth:
// floor(shares * v.stake / v.shares), 0 when v.shares is 0.
uint64_t TokensOf(uint64_t shares, const ValidatorInfo& v);

// floor(shares * ((now - start) mod 2^128) / 10^18), exact (192-bit
// product); 2^128 - 1 if the quotient does not fit 128 bits. Callers clamp
// it to the validator's outstanding rewards.
Uint128 PendingReward(uint64_t shares, Uint128 ratio_now, Uint128 ratio_start);

// The G entry (all zero when absent, which only a pre-genesis state is).
Result<SupplyPool> LoadPool(Overlay& ov);
void StorePool(Overlay& ov, const SupplyPool& p);

Result<std::optional<ValidatorInfo>> LoadValidator(Overlay& ov, const Address& v);
Result<std::optional<Delegation>> LoadDelegation(Overlay& ov, const Address& delegator, const Address& validator);

// The self-bond of validator `v`: the tokens of its delegation to itself.
Result<uint64_t> SelfBond(Overlay& ov, const Address& v, const ValidatorInfo& info);

// The state entries a genesis validator starts with: its V record and its
// self-delegation, both for `stake`.
ValidatorInfo NewValidator(uint64_t algo, Bytes key, uint64_t stake, uint64_t commission_permille,
                           std::string moniker, std::string p2p_addr);
Delegation NewDelegation(uint64_t shares, const ValidatorInfo& v);

// ---- transactions (docs/state.md section 5) --------------------------------------

Result<TxStatus> Register(Overlay& ov, const Address& from, const ValidatorRegisterTx& tx, const ChainParams& params);
Result<TxStatus> Unbond(Overlay& ov, const Address& from, const ValidatorUnbondTx& tx, uint64_t h,
                        const ChainParams& params);
Result<TxStatus> Delegate(Overlay& ov, const Address& from, const DelegateTx& tx, const ChainParams& params);
Result<TxStatus> Undelegate(Overlay& ov, const Address& from, const UndelegateTx& tx, uint64_t h,
                            const ChainParams& params);
Result<TxStatus> Redelegate(Overlay& ov, const Address& from, const RedelegateTx& tx, uint64_t h,
                            const ChainParams& params);
Result<TxStatus> WithdrawRewards(Overlay& ov, const Address& from, const WithdrawRewardsTx& tx);
Result<TxStatus> EditValidator(Overlay& ov, const Address& from, const ValidatorEditTx& tx, uint64_t h,
                               const ChainParams& params);

// Lifts the downtime jail of the sender's validator (docs/state.md 9.8).
Result<TxStatus> Unjail(Overlay& ov, const Address& from, const UnjailTx& tx, uint64_t h, const ChainParams& params);

// ---- block steps -------------------------------------------------------------------

// Step 2: every U entry releasing at `h` is paid to its owner and deleted;
// the pair's delegation counts one pending entry less. Every Y entry
// releasing at `h` is deleted likewise (nothing is paid: the stake is
// bonded to the destination).
Status ReleaseUnbonding(Overlay& ov, const Store& store, uint64_t h);

// Counts one U entry of (owner, validator) less: after a release, or a
// slash that took the whole entry. Deletes a delegation left with no
// shares and no entries.
Status DropUnbondingEntry(Overlay& ov, const Address& owner, const Address& validator);

// The redelegation part of a slash of `src` for its infraction at
// `infraction_height` in block `h` (docs/state.md 9.7): every Y entry from
// `src` created since the infraction's epoch loses `permille` of its
// amount, and that much (at most all of it) of the delegator's stake with
// the destination is burned. Returns the sum of the entries' cuts (what
// the moved stake owed, also where the delegator had moved on and less was
// taken).
Result<uint64_t> SlashRedelegations(Overlay& ov, const Address& src, uint64_t infraction_height, uint64_t h,
                          uint64_t permille, const ChainParams& params);

// Adds `amount` to the burned counter (slashing).
Status Burn(Overlay& ov, uint64_t amount);

// Step 5: issues min(block_reward, 2^64 - 1 - supply) and pays it with
// `fees` to the members of `signing_set` (the set that signed height h - 1)
// named in `signers` (the block's last_commit), pro rata by power.
Status DistributeRewards(Overlay& ov, const ActiveSet& signing_set, const std::vector<Address>& signers,
                         uint64_t fees, uint64_t genesis_supply, const ChainParams& params);

// ---- supply (docs/state.md section 9.6) --------------------------------------------

// The supply a genesis creates: the sum of its account balances (validator
// stakes are taken out of them).
uint64_t GenesisSupply(const Genesis& g);

struct Supply {
  uint64_t genesis = 0;
  uint64_t issued = 0;
  uint64_t burned = 0;
  Uint128 balances = 0;       // sum of A balances
  Uint128 bonded = 0;         // sum of V stake
  Uint128 unbonding = 0;      // sum of U amounts
  Uint128 undistributed = 0;  // outstanding rewards + commission + community pool
  uint64_t community_pool = 0;
  // genesis + issued - burned
  Uint128 Expected() const { return Uint128(genesis) + issued - burned; }
  Uint128 Held() const { return balances + bonded + unbonding + undistributed; }
};
// Every term computed from a full scan of the state tables: O(state).
Result<Supply> ComputeSupply(const Store& store, const Genesis& g);

}  // namespace staking
}  // namespace gtos::state

#endif  // GTOS_STATE_STAKING_H_
