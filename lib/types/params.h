// Chain parameters. All of them are genesis parameters (docs/genesis.md);
// the defaults below are what an offline tool assumes when it has neither a
// genesis nor a node to ask.
#ifndef GTOS_TYPES_PARAMS_H_
#define GTOS_TYPES_PARAMS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace gtos {

// The largest block time (docs/state.md "Block time"): 2^62 ms, about 146
// million years. A bound well below 2^64 keeps every time sum in consensus
// (time + delay + precision) far from overflow, and no proposer can push
// the chain to the end of the clock, after which no block could follow.
inline constexpr uint64_t kMaxBlockTimeMs = uint64_t{1} << 62;

struct ChainParams {
  uint64_t target_block_interval_ms = 1000;
  uint64_t retain_blocks = 200;
  uint64_t snapshot_interval = 1000;
  uint64_t epoch_length = 100;
  uint64_t max_validators = 21;
  uint64_t unbonding_blocks = 1000;
  uint64_t min_validator_stake = 1'000'000;

  // Storage and size limits.
  uint64_t max_ttl = 31'536'000;  // a year of 1 s blocks
  uint64_t max_namespace_bytes = 64;
  uint64_t max_key_bytes = 256;
  uint64_t max_value_bytes = 64 << 10;
  uint64_t max_code_bytes = 512 << 10;
  uint64_t max_tx_bytes = 640 << 10;
  uint64_t max_block_txs = 50'000;
  uint64_t max_block_bytes = 16 << 20;

  // Fees: min_fee = fee_base + fee_per_byte * payload_bytes
  //                + fee_per_byte_block * stored_bytes * ttl  (docs/fees.md)
  uint64_t fee_base = 1000;
  uint64_t fee_per_byte = 10;
  uint64_t fee_per_byte_block = 1;

  // Slashing (per mille of bonded stake) for committed equivocation evidence.
  uint64_t slash_double_sign_permille = 50;

  // Proposer-based timestamps (docs/genesis.md, docs/consensus.md): how far
  // apart honest clocks may be, and the longest a proposal takes to reach a
  // validator in round 0 (MessageDelayFor adds half of it per round).
  uint64_t clock_precision_ms = 500;
  uint64_t message_delay_ms = 2000;

  // Delegation and rewards (docs/state.md section 9.4, docs/genesis.md).
  // New units issued per block, paid with the block's fees to the
  // validators that signed the previous block's commit.
  uint64_t block_reward = 1'000;
  // Highest commission a validator may charge, and the most its commission
  // may move in one epoch (validator_edit), both per mille.
  uint64_t max_commission_permille = 200;
  uint64_t max_commission_change_permille = 10;
  // Bounds on the delegation entries of one account: distinct validators it
  // delegates to (a delegation that only waits for unbonding counts), and
  // pending unbonding entries per (delegator, validator) pair.
  uint64_t max_delegations = 32;
  uint64_t max_unbonding_entries = 7;
  // Downtime (docs/state.md section 9.8): a member of the active set that
  // signed fewer than min_signed_permille of the last signed_blocks_window
  // commits is jailed for downtime_jail_blocks and slashed
  // slash_downtime_permille of its stake.
  uint64_t signed_blocks_window = 1'000;
  uint64_t min_signed_permille = 500;
  uint64_t downtime_jail_blocks = 600;
  uint64_t slash_downtime_permille = 10;

  template <class V>
  void Fields(V& v) {
    v.Uint("target_block_interval_ms", target_block_interval_ms);
    v.Uint("retain_blocks", retain_blocks);
    v.Uint("snapshot_interval", snapshot_interval);
    v.Uint("epoch_length", epoch_length);
    v.Uint("max_validators", max_validators);
    v.Uint("unbonding_blocks", unbonding_blocks);
    v.Uint("min_validator_stake", min_validator_stake);
    v.Uint("max_ttl", max_ttl);
    v.Uint("max_namespace_bytes", max_namespace_bytes);
    v.Uint("max_key_bytes", max_key_bytes);
    v.Uint("max_value_bytes", max_value_bytes);
    v.Uint("max_code_bytes", max_code_bytes);
    v.Uint("max_tx_bytes", max_tx_bytes);
    v.Uint("max_block_txs", max_block_txs);
    v.Uint("max_block_bytes", max_block_bytes);
    v.Uint("fee_base", fee_base);
    v.Uint("fee_per_byte", fee_per_byte);
    v.Uint("fee_per_byte_block", fee_per_byte_block);
    v.Uint("slash_double_sign_permille", slash_double_sign_permille, 1000);
    v.Uint("clock_precision_ms", clock_precision_ms);
    v.Uint("message_delay_ms", message_delay_ms);
    v.Uint("block_reward", block_reward);
    v.Uint("max_commission_permille", max_commission_permille, 1000);
    v.Uint("max_commission_change_permille", max_commission_change_permille, 1000);
    v.Uint("max_delegations", max_delegations);
    v.Uint("max_unbonding_entries", max_unbonding_entries);
    v.Uint("signed_blocks_window", signed_blocks_window);
    v.Uint("min_signed_permille", min_signed_permille, 1000);
    v.Uint("downtime_jail_blocks", downtime_jail_blocks);
    v.Uint("slash_downtime_permille", slash_downtime_permille, 1000);
  }

  // Range checks that make a chain runnable (e.g. limits within the
  // decoder's hard caps, epoch_length >= 1).
  Status Validate() const;
  // Sets the parameter called `name` from a decimal `value` ("--param").
  Status Set(std::string_view name, std::string_view value);
};

// Bounds of ChainParams::Validate for the timing parameters.
inline constexpr uint64_t kMaxClockPrecisionMs = 60'000;
inline constexpr uint64_t kMaxMessageDelayMs = 600'000;
// Bounds of ChainParams::Validate for the delegation caps: they bound the
// state an account can create and the work of one tx or one release.
inline constexpr uint64_t kMaxDelegationsCap = 1'000;
inline constexpr uint64_t kMaxUnbondingEntriesCap = 100;
// Bound of signed_blocks_window: the missed-blocks bitmap of one validator
// is at most 12,500 bytes.
inline constexpr uint64_t kMaxSignedBlocksWindow = 100'000;

// The message delay allowed in `round`: message_delay_ms + round *
// (message_delay_ms / 2), saturating at UINT64_MAX.
uint64_t MessageDelayFor(const ChainParams& p, uint64_t round);

// Whether a proposal for a block with time `block_time_ms`, received at
// `receive_ms` (the validator's clock) in `round`, is timely:
//   receive_ms + clock_precision_ms >= block_time_ms  and
//   receive_ms <= block_time_ms + MessageDelayFor(round) + clock_precision_ms,
// every sum saturating. Consensus prevotes a proposal with valid_round -1
// only if it is timely (docs/consensus.md).
bool ProposalTimely(const ChainParams& p, uint64_t round, uint64_t block_time_ms, uint64_t receive_ms);

}  // namespace gtos

#endif  // GTOS_TYPES_PARAMS_H_
