#include "types/params.h"

#include "types/chain.h"
#include "types/tx.h"
#include "util/bytes.h"

namespace gtos {

namespace {

// Visits fields by name: finds one parameter and sets it.
class SetVisitor {
 public:
  static constexpr bool kDecoding = true;
  SetVisitor(std::string_view name, uint64_t value) : name_(name), value_(value) {}
  void Uint(std::string_view n, uint64_t& v, uint64_t max = UINT64_MAX) {
    if (n != name_) return;
    found_ = true;
    if (value_ > max) {
      error_ = std::string(n) + ": " + std::to_string(value_) + " exceeds the maximum of " + std::to_string(max);
      return;
    }
    v = value_;
  }
  bool found_ = false;
  std::string error_;

 private:
  std::string_view name_;
  uint64_t value_;
};

Status AtLeast(std::string_view name, uint64_t v, uint64_t min) {
  if (v < min) return Invalid("parameter " + std::string(name) + " must be at least " + std::to_string(min));
  return Ok();
}

Status AtMost(std::string_view name, uint64_t v, uint64_t max, std::string_view why = "decoder limit") {
  if (v > max)
    return Invalid("parameter " + std::string(name) + " must be at most " + std::to_string(max) + " (" +
                   std::string(why) + ")");
  return Ok();
}

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

}  // namespace

Status ChainParams::Validate() const {
  GTOS_TRY(AtLeast("target_block_interval_ms", target_block_interval_ms, 1));
  GTOS_TRY(AtLeast("retain_blocks", retain_blocks, 1));
  GTOS_TRY(AtLeast("snapshot_interval", snapshot_interval, 1));
  GTOS_TRY(AtLeast("epoch_length", epoch_length, 1));
  GTOS_TRY(AtLeast("unbonding_blocks", unbonding_blocks, 1));
  GTOS_TRY(AtLeast("max_validators", max_validators, 1));
  GTOS_TRY(AtLeast("max_ttl", max_ttl, 1));
  GTOS_TRY(AtLeast("max_block_txs", max_block_txs, 1));
  GTOS_TRY(AtMost("max_namespace_bytes", max_namespace_bytes, kMaxNamespaceBytes));
  GTOS_TRY(AtMost("max_key_bytes", max_key_bytes, kMaxKeyBytes));
  GTOS_TRY(AtMost("max_value_bytes", max_value_bytes, kMaxValueBytes));
  GTOS_TRY(AtMost("max_code_bytes", max_code_bytes, kMaxCodeBytes));
  GTOS_TRY(AtMost("max_tx_bytes", max_tx_bytes, codec::kMaxBinBytes));
  // A block is one record: it must stay decodable.
  GTOS_TRY(AtMost("max_block_bytes", max_block_bytes, codec::kMaxRecordBytes - (64 << 10)));
  GTOS_TRY(AtMost("max_block_txs", max_block_txs, kMaxBlockTxs));
  GTOS_TRY(AtMost("max_validators", max_validators, kMaxCommitSigs));
  GTOS_TRY(AtMost("slash_double_sign_permille", slash_double_sign_permille, 1000));
  GTOS_TRY(AtMost("clock_precision_ms", clock_precision_ms, kMaxClockPrecisionMs, "one minute"));
  GTOS_TRY(AtLeast("message_delay_ms", message_delay_ms, 1));
  GTOS_TRY(AtMost("message_delay_ms", message_delay_ms, kMaxMessageDelayMs, "ten minutes"));
  GTOS_TRY(AtMost("max_commission_permille", max_commission_permille, 1000, "per mille"));
  GTOS_TRY(AtMost("max_commission_change_permille", max_commission_change_permille, 1000, "per mille"));
  GTOS_TRY(AtLeast("max_delegations", max_delegations, 1));
  GTOS_TRY(AtMost("max_delegations", max_delegations, kMaxDelegationsCap, "bounded work per tx"));
  GTOS_TRY(AtLeast("max_unbonding_entries", max_unbonding_entries, 1));
  GTOS_TRY(AtMost("max_unbonding_entries", max_unbonding_entries, kMaxUnbondingEntriesCap, "bounded work per tx"));
  GTOS_TRY(AtLeast("signed_blocks_window", signed_blocks_window, 1));
  GTOS_TRY(AtMost("signed_blocks_window", signed_blocks_window, kMaxSignedBlocksWindow, "bounded state per validator"));
  GTOS_TRY(AtMost("min_signed_permille", min_signed_permille, 1000, "per mille"));
  GTOS_TRY(AtMost("slash_downtime_permille", slash_downtime_permille, 1000, "per mille"));
  return Ok();
}

uint64_t MessageDelayFor(const ChainParams& p, uint64_t round) {
  uint64_t extra;
  if (__builtin_mul_overflow(round, p.message_delay_ms / 2, &extra)) return UINT64_MAX;
  return SaturatingAdd(p.message_delay_ms, extra);
}

bool ProposalTimely(const ChainParams& p, uint64_t round, uint64_t block_time_ms, uint64_t receive_ms) {
  if (SaturatingAdd(receive_ms, p.clock_precision_ms) < block_time_ms) return false;  // from the future
  uint64_t latest = SaturatingAdd(SaturatingAdd(block_time_ms, MessageDelayFor(p, round)), p.clock_precision_ms);
  return receive_ms <= latest;
}

Status ChainParams::Set(std::string_view name, std::string_view value) {
  auto v = ParseUint64(value, name);
  if (!v) return std::unexpected(v.error());
  SetVisitor setter(name, *v);
  Fields(setter);
  if (!setter.found_) return Invalid("unknown parameter '" + std::string(name) + "'");
  if (!setter.error_.empty()) return Invalid(setter.error_);
  return Ok();
}

}  // namespace gtos
