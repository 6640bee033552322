// Chain parameters. All of them are genesis parameters (docs/genesis.md);
// the defaults below are what an offline tool assumes when it has neither a
// genesis nor a node to ask.
#ifndef GTOS_TYPES_PARAMS_H_
#define GTOS_TYPES_PARAMS_H_

#include <cstdint>

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

  // Fees: min_fee = fee_base + fee_per_byte * payload_bytes
  //                + fee_per_byte_block * stored_bytes * ttl  (docs/fees.md)
  uint64_t fee_base = 1000;
  uint64_t fee_per_byte = 10;
  uint64_t fee_per_byte_block = 1;
};

}  // namespace gtos

#endif  // GTOS_TYPES_PARAMS_H_
