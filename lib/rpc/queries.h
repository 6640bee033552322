// Read-only queries over a chain, answered as the JSON that the tos_* and
// dpos_* methods return (docs/rpc.md). The RPC server answers with them, and
// `gtos-inspect db` prints them for a stopped node's data directory, so both
// show one shape.
//
// Every query fails with an RpcError: kNotFound (-38004) for what does not
// exist or has expired, kHistoryPruned (-38005, message "history_pruned",
// data {retain_blocks, oldest_available, requested, head}) for a block, tx or
// receipt whose body lies below chain.oldest_body(), kInternalError for a
// store failure.
//
// Thread safety: as chain::Chain's queries (any number of threads).
#ifndef GTOS_RPC_QUERIES_H_
#define GTOS_RPC_QUERIES_H_

#include <optional>
#include <string_view>

#include "chain/chain.h"
#include "rpc/errors.h"

namespace gtos::rpc {

// {chain_id, genesis_hash, genesis_time_ms, params{...all genesis params},
//  head, head_hash, node_version}
RpcResult ChainProfile(const chain::Chain& c, std::string_view node_version);
// A header's fields in wire order and "hash" (as every header-shaped
// answer shows it; also the subscriptions' head events).
Json HeaderJson(const BlockHeader& h);
// The head's header fields and "hash".
RpcResult HeadHeader(const chain::Chain& c);
// Header fields, "hash", "txs" (ids, or whole signed_tx objects when
// full_txs), "evidence" and "commit" (null when absent).
RpcResult BlockByNumber(const chain::Chain& c, uint64_t height, bool full_txs);
// The block whose header hashes to `hash` (the N index): as BlockByNumber;
// kNotFound for a hash of no block whose body this node keeps.
RpcResult BlockByHash(const chain::Chain& c, const Hash32& hash, bool full_txs);
// The header and commit certificate of a height: kept forever (below a
// state-synced node's first height they are not stored: -38004).
RpcResult HeaderByNumber(const chain::Chain& c, uint64_t height);
// The signed_tx object (with "id") plus "height" and "index".
RpcResult TransactionById(const chain::Chain& c, const Hash32& id);
// The receipt record's JSON.
RpcResult ReceiptById(const chain::Chain& c, const Hash32& id);
// {address, balance, nonce, next_nonce, signer: {algo, public_key} | null};
// next_nonce is the account's nonce when `next_nonce` is not given.
RpcResult AccountInfo(const chain::Chain& c, const Address& a, std::optional<uint64_t> next_nonce);
// {algo, public_key, fallback: false}, or {fallback: true, address} when
// no signer is bound (also for accounts that do not exist).
RpcResult SignerInfo(const chain::Chain& c, const Address& a);
// {value, created_block, expire_block}; without the value but with "size"
// when !with_value. as_text: the value as a UTF-8 string (an error naming
// the first invalid byte when it is not UTF-8), else "0x" hex.
RpcResult KvInfo(const chain::Chain& c, const Address& owner, ByteView ns, ByteView key, bool with_value,
                 bool as_text = false);
// {code, created_block, expire_block}; without the code but with "size"
// when !with_value. as_text as for KvInfo.
RpcResult CodeInfo(const chain::Chain& c, const Hash32& code_hash, bool with_value, bool as_text = false);
// `b` as a JSON string when it is valid UTF-8, else nullopt; *bad_offset
// (if given) is where the first invalid sequence starts.
std::optional<std::string> Utf8Text(ByteView b, size_t* bad_offset = nullptr);
// {retain_blocks, snapshot_interval}
RpcResult RetentionPolicy(const chain::Chain& c);
// tos_getParams: {height, params}: the params in force after the head.
RpcResult ParamsInForce(const chain::Chain& c);
// tos_getUpgradePlan: the pending plan (docs/rpc.md), or null.
// `node_version` decides "version_known".
RpcResult UpgradePlanInfo(const chain::Chain& c, std::string_view node_version);
// {oldest_available, head}
RpcResult PruneWatermark(const chain::Chain& c);
// [{address, stake, consensus_algo, consensus_key, jailed, p2p_addr, moniker,
//   commission_permille, active, power}, ...]
RpcResult Validators(const chain::Chain& c);
// One validator (docs/rpc.md): {address, self_bond, delegated, stake,
// shares, active, power, commission_permille, commission_changed_at,
// commission_rewards, outstanding_rewards, jailed, moniker, p2p_addr,
// consensus_algo, consensus_key, jailed_until, tombstoned, missed_blocks,
// signed_blocks_window}.
RpcResult ValidatorInfoJson(const chain::Chain& c, const Address& a);
// [{delegator, validator, shares, amount, pending_rewards,
// unbonding_entries}, ...] by validator address.
RpcResult Delegations(const chain::Chain& c, const Address& delegator);
// One of them; kNotFound without a D entry.
RpcResult DelegationInfo(const chain::Chain& c, const Address& delegator, const Address& validator);
// {delegator, rewards: [{validator, amount}], commission, total}
RpcResult Rewards(const chain::Chain& c, const Address& delegator);
// [{validator, amount, release_height}, ...] by release height.
RpcResult Unbondings(const chain::Chain& c, const Address& delegator);
// {height, genesis, issued, burned, total, balances, bonded, unbonding,
//  undistributed_rewards, community_pool, balanced} (docs/state.md 9.6).
RpcResult Supply(const chain::Chain& c);
// {epoch_length, epoch, epoch_start, epoch_end, next_epoch_height, head,
//  active_set_hash, total_power, active_count}
RpcResult EpochInfo(const chain::Chain& c);
// A data directory's summary for `gtos-inspect db stats`.
RpcResult DbStats(const chain::Chain& c);

}  // namespace gtos::rpc

#endif  // GTOS_RPC_QUERIES_H_
