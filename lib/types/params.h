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
  }

  // Range checks that make a chain runnable (e.g. limits within the
  // decoder's hard caps, epoch_length >= 1).
  Status Validate() const;
  // Sets the parameter called `name` from a decimal `value` ("--param").
  Status Set(std::string_view name, std::string_view value);
};

}  // namespace gtos

#endif  // GTOS_TYPES_PARAMS_H_
