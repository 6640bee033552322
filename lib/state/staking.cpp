#include "state/staking.h"

#include <algorithm>

#include "state/schema.h"

namespace gtos::state {

// EncodeUint / DecodeUint: state/executor.h.

Result<Account> LoadAccount(Overlay& ov, const Address& a) {
  auto v = ov.Get(schema::AccountKey(a));
  if (!v) return std::unexpected(v.error());
  if (!*v) return Account{};
  return DecodeValue<Account>(**v, "account");
}

void StoreAccount(Overlay& ov, const Address& a, const Account& acc) {
  ov.Put(schema::AccountKey(a), EncodeValue(acc));
}

namespace staking {

namespace {

constexpr uint64_t kPermille = 1000;

// Adds `amount` to `a`'s balance. The supply (< 2^64) bounds every balance,
// so the sum cannot wrap.
Status Credit(Overlay& ov, const Address& a, uint64_t amount) {
  if (amount == 0) return Ok();
  auto acc = LoadAccount(ov, a);
  if (!acc) return std::unexpected(acc.error());
  acc->balance += amount;
  StoreAccount(ov, a, *acc);
  return Ok();
}

void StoreValidator(Overlay& ov, const Address& a, const ValidatorInfo& v) {
  ov.Put(schema::ValidatorKey(a), EncodeValue(v));
}

// A delegation with no shares and no pending unbonding entry is deleted.
void StoreDelegation(Overlay& ov, const Address& delegator, const Address& validator, const Delegation& d) {
  std::string key = schema::DelegationKey(delegator, validator);
  if (d.shares == 0 && d.unbonding_entries == 0) ov.Delete(key);
  else ov.Put(key, EncodeValue(d));
}

// The delegator's D entries, key -> value, in key order (at most
// max_delegations of them: Delegate and Redelegate refuse more).
Result<std::map<std::string, std::string>> DelegationsOf(Overlay& ov, const Address& delegator) {
  return ov.Scan(schema::DelegationPrefix(delegator));
}

// Pays the pending reward of delegation `d` (of `delegator` with `v`) to the
// delegator's balance and restarts its period at the current ratio. The
// reward is taken from v.outstanding_rewards; it is never more (the clamp
// only matters past the bound of docs/state.md 9.4).
Status Settle(Overlay& ov, const Address& delegator, Delegation& d, ValidatorInfo& v) {
  if (d.shares > 0) {
    Uint128 r = PendingReward(d.shares, ReadRatio(v.reward_ratio), ReadRatio(d.ratio_start));
    uint64_t paid = static_cast<uint64_t>(std::min<Uint128>(r, v.outstanding_rewards));
    v.outstanding_rewards -= paid;
    GTOS_TRY(Credit(ov, delegator, paid));
  }
  d.ratio_start = v.reward_ratio;
  return Ok();
}

// A validator whose shares reached 0 leaves the V table: the operator gets
// its unpaid commission; the rounding dust of its delegators' rewards and
// any tokens left without shares (only after a slash) go to the community
// pool.
Status RemoveValidator(Overlay& ov, const Address& a, const ValidatorInfo& v) {
  GTOS_TRY(Credit(ov, a, v.commission_rewards));
  auto pool = LoadPool(ov);
  if (!pool) return std::unexpected(pool.error());
  pool->community_pool += v.outstanding_rewards + v.stake;
  StorePool(ov, *pool);
  ov.Delete(schema::ValidatorKey(a));
  return Ok();
}

// What taking `amount` tokens of `delegator`'s stake out of validator `va`
// involves, checked before any write.
struct Removal {
  ValidatorInfo v;
  Delegation d;
  uint64_t shares = 0;  // shares removed
};

// The checks shared by validator_unbond, undelegate and redelegate (source
// side), in this order: not_validator, no delegation (`no_delegation`
// status, or insufficient_stake for validator_unbond), insufficient_stake,
// stake_below_minimum (a self-bond left between 0 and the minimum).
Result<std::variant<TxStatus, Removal>> PlanRemoval(Overlay& ov, const Address& delegator, const Address& va,
                                                    uint64_t amount, TxStatus missing, const ChainParams& params) {
  using Out = std::variant<TxStatus, Removal>;
  auto v = LoadValidator(ov, va);
  if (!v) return std::unexpected(v.error());
  if (!*v) return Out(TxStatus::kNotValidator);
  auto d = LoadDelegation(ov, delegator, va);
  if (!d) return std::unexpected(d.error());
  if (!*d || (*d)->shares == 0) return Out(missing);
  Removal r{**v, **d, 0};
  uint64_t value = TokensOf(r.d.shares, r.v);
  if (amount > value) return Out(TxStatus::kInsufficientStake);
  if (delegator == va && value - amount > 0 && value - amount < params.min_validator_stake)
    return Out(TxStatus::kStakeBelowMinimum);
  // All of a delegation's value takes all its shares; a part takes
  // ceil(amount * shares / stake), rounding against the leaver. value >=
  // amount > 0 implies stake > 0 and the ceiling <= the delegation's shares.
  if (amount == value) {
    r.shares = r.d.shares;
  } else {
    Uint128 num = Uint128(amount) * r.v.shares;
    r.shares = static_cast<uint64_t>(std::min<Uint128>((num + r.v.stake - 1) / r.v.stake, r.d.shares));
  }
  return Out(std::move(r));
}

// Applies a planned removal: pays the delegation's reward, takes the tokens
// and shares out, and removes the validator if no shares are left. Returns
// the delegation as stored.
Status ApplyRemoval(Overlay& ov, const Address& delegator, const Address& va, Removal& r, uint64_t amount) {
  GTOS_TRY(Settle(ov, delegator, r.d, r.v));
  r.d.shares -= r.shares;
  r.v.shares -= r.shares;
  r.v.stake -= amount;
  StoreDelegation(ov, delegator, va, r.d);
  if (r.v.shares == 0) return RemoveValidator(ov, va, r.v);
  StoreValidator(ov, va, r.v);
  return Ok();
}

// What adding `amount` tokens to `delegator`'s stake with `va` involves.
struct Addition {
  ValidatorInfo v;
  std::optional<Delegation> d;
  uint64_t shares = 0;  // shares issued
};

// Checks, in this order: not_validator, validator_jailed (also a validator
// without tokens), too_many_entries (a new pair beyond max_delegations),
// insufficient_stake (the amount buys no share), balance_overflow (the
// validator's counters would pass 2^64 - 1; unreachable).
Result<std::variant<TxStatus, Addition>> PlanAddition(Overlay& ov, const Address& delegator, const Address& va,
                                                      uint64_t amount, const ChainParams& params) {
  using Out = std::variant<TxStatus, Addition>;
  auto v = LoadValidator(ov, va);
  if (!v) return std::unexpected(v.error());
  if (!*v) return Out(TxStatus::kNotValidator);
  if ((*v)->jailed || (*v)->stake == 0) return Out(TxStatus::kValidatorJailed);
  auto d = LoadDelegation(ov, delegator, va);
  if (!d) return std::unexpected(d.error());
  if (!*d) {
    auto all = DelegationsOf(ov, delegator);
    if (!all) return std::unexpected(all.error());
    if (all->size() >= params.max_delegations) return Out(TxStatus::kTooManyEntries);
  }
  Addition a{**v, *d, 0};
  // shares = floor(amount * shares_total / stake): 1:1 until a slash.
  Uint128 shares = Uint128(amount) * a.v.shares / a.v.stake;
  if (shares == 0) return Out(TxStatus::kInsufficientStake);
  uint64_t s, t;
  if (shares > UINT64_MAX || __builtin_add_overflow(a.v.shares, static_cast<uint64_t>(shares), &s) ||
      __builtin_add_overflow(a.v.stake, amount, &t))
    return Out(TxStatus::kBalanceOverflow);
  a.shares = static_cast<uint64_t>(shares);
  return Out(std::move(a));
}

Status ApplyAddition(Overlay& ov, const Address& delegator, const Address& va, Addition& a, uint64_t amount) {
  Delegation d = a.d ? *a.d : Delegation{};
  GTOS_TRY(Settle(ov, delegator, d, a.v));
  d.shares += a.shares;
  a.v.shares += a.shares;
  a.v.stake += amount;
  StoreDelegation(ov, delegator, va, d);
  StoreValidator(ov, va, a.v);
  return Ok();
}

// Pays the operator `a` its unpaid commission.
Status PayCommission(Overlay& ov, const Address& a, ValidatorInfo& v) {
  GTOS_TRY(Credit(ov, a, v.commission_rewards));
  v.commission_rewards = 0;
  return Ok();
}

// Shared by validator_unbond and undelegate: the removal plus a U entry
// releasing at h + unbonding_blocks. After PlanRemoval's checks:
// expiry_overflow, then too_many_entries (a new release height for a pair
// that has max_unbonding_entries pending).
Result<TxStatus> UnbondTo(Overlay& ov, const Address& from, const Address& va, uint64_t amount, uint64_t h,
                          TxStatus missing, const ChainParams& params) {
  auto plan = PlanRemoval(ov, from, va, amount, missing, params);
  if (!plan) return std::unexpected(plan.error());
  if (auto* st = std::get_if<TxStatus>(&*plan)) return *st;
  Removal& r = std::get<Removal>(*plan);
  uint64_t release;
  if (__builtin_add_overflow(h, params.unbonding_blocks, &release)) return TxStatus::kExpiryOverflow;
  std::string ukey = schema::UnbondingKey(release, from, va);
  auto pending = ov.Get(ukey);
  if (!pending) return std::unexpected(pending.error());
  if (!*pending && r.d.unbonding_entries >= params.max_unbonding_entries) return TxStatus::kTooManyEntries;
  uint64_t total = amount;
  if (*pending) {
    auto prev = DecodeUint(**pending);
    if (!prev) return std::unexpected(prev.error());
    total += *prev;  // bounded by the stake it came from
  } else {
    r.d.unbonding_entries += 1;
  }
  GTOS_TRY(ApplyRemoval(ov, from, va, r, amount));
  ov.Put(ukey, EncodeUint(total));
  return TxStatus::kOk;
}

}  // namespace

// ---- values --------------------------------------------------------------------------

Uint128 ReadRatio(const Bytes& b) {
  if (b.size() != 16) return 0;
  Uint128 r = 0;
  for (uint8_t c : b) r = (r << 8) | c;
  return r;
}

Bytes RatioBytes(Uint128 r) {
  Bytes b(16);
  for (int i = 15; i >= 0; --i) {
    b[i] = static_cast<uint8_t>(r & 0xff);
    r >>= 8;
  }
  return b;
}

uint64_t TokensOf(uint64_t shares, const ValidatorInfo& v) {
  if (v.shares == 0) return 0;
  return static_cast<uint64_t>(Uint128(shares) * v.stake / v.shares);
}

Uint128 PendingReward(uint64_t shares, Uint128 ratio_now, Uint128 ratio_start) {
  Uint128 delta = ratio_now - ratio_start;  // modulo 2^128
  // shares * delta is up to 192 bits: limbs (base 2^64) top, mid, low.
  Uint128 lo = Uint128(shares) * static_cast<uint64_t>(delta);
  Uint128 hi = Uint128(shares) * static_cast<uint64_t>(delta >> 64) + (lo >> 64);
  uint64_t limbs[3] = {static_cast<uint64_t>(hi >> 64), static_cast<uint64_t>(hi), static_cast<uint64_t>(lo)};
  // Long division by kRatioScale (< 2^64): each step divides a value below
  // kRatioScale * 2^64 < 2^128.
  Uint128 rem = 0, quotient = 0;
  for (int i = 0; i < 3; ++i) {
    Uint128 cur = (rem << 64) | limbs[i];
    Uint128 q = cur / kRatioScale;
    rem = cur % kRatioScale;
    if (i == 0 && q != 0) return ~Uint128(0);  // >= 2^128: clamped by the caller
    quotient = (quotient << 64) | q;
  }
  return quotient;
}

Result<SupplyPool> LoadPool(Overlay& ov) {
  auto v = ov.Get(schema::SupplyKey());
  if (!v) return std::unexpected(v.error());
  if (!*v) return SupplyPool{};
  return DecodeValue<SupplyPool>(**v, "supply pool");
}

void StorePool(Overlay& ov, const SupplyPool& p) { ov.Put(schema::SupplyKey(), EncodeValue(p)); }

Result<std::optional<ValidatorInfo>> LoadValidator(Overlay& ov, const Address& a) {
  auto raw = ov.Get(schema::ValidatorKey(a));
  if (!raw) return std::unexpected(raw.error());
  if (!*raw) return std::optional<ValidatorInfo>();
  auto info = DecodeValue<ValidatorInfo>(**raw, "validator");
  if (!info) return std::unexpected(info.error());
  return std::optional<ValidatorInfo>(std::move(*info));
}

Result<std::optional<Delegation>> LoadDelegation(Overlay& ov, const Address& delegator, const Address& validator) {
  auto raw = ov.Get(schema::DelegationKey(delegator, validator));
  if (!raw) return std::unexpected(raw.error());
  if (!*raw) return std::optional<Delegation>();
  auto d = DecodeValue<Delegation>(**raw, "delegation");
  if (!d) return std::unexpected(d.error());
  return std::optional<Delegation>(std::move(*d));
}

Result<uint64_t> SelfBond(Overlay& ov, const Address& v, const ValidatorInfo& info) {
  auto d = LoadDelegation(ov, v, v);
  if (!d) return std::unexpected(d.error());
  return *d ? TokensOf((*d)->shares, info) : 0;
}

ValidatorInfo NewValidator(uint64_t algo, Bytes key, uint64_t stake, uint64_t commission_permille,
                           std::string moniker, std::string p2p_addr) {
  ValidatorInfo v;
  v.consensus_algo = algo;
  v.consensus_key = std::move(key);
  v.stake = stake;
  v.p2p_addr = std::move(p2p_addr);
  v.shares = stake;
  v.commission_permille = commission_permille;
  v.moniker = std::move(moniker);
  v.reward_ratio = RatioBytes(0);
  return v;
}

Delegation NewDelegation(uint64_t shares, const ValidatorInfo& v) { return Delegation{shares, v.reward_ratio, 0}; }

// ---- transactions ------------------------------------------------------------------

Result<TxStatus> Register(Overlay& ov, const Address& from, const ValidatorRegisterTx& r, const ChainParams& params) {
  // A tombstone is forever (docs/state.md 9.3): the address never
  // validates again, with or without a V entry left.
  auto tomb = ov.Get(schema::TombstoneKey(from));
  if (!tomb) return std::unexpected(tomb.error());
  if (*tomb) return TxStatus::kAddressTombstoned;
  auto existing = LoadValidator(ov, from);
  if (!existing) return std::unexpected(existing.error());
  if (*existing) return TxStatus::kValidatorExists;
  if (r.stake < params.min_validator_stake) return TxStatus::kStakeBelowMinimum;
  auto acc = LoadAccount(ov, from);
  if (!acc) return std::unexpected(acc.error());
  if (acc->balance < r.stake) return TxStatus::kInsufficientBalance;
  // A self-delegation left from an earlier registration only waits for
  // unbonding entries (shares 0); it is reused and keeps their count.
  auto self = LoadDelegation(ov, from, from);
  if (!self) return std::unexpected(self.error());
  if (!*self) {
    auto all = DelegationsOf(ov, from);
    if (!all) return std::unexpected(all.error());
    if (all->size() >= params.max_delegations) return TxStatus::kTooManyEntries;
  }
  acc->balance -= r.stake;
  StoreAccount(ov, from, *acc);
  ValidatorInfo v = NewValidator(r.consensus_algo, r.consensus_key, r.stake, r.commission_permille, r.moniker,
                                 r.p2p_addr);
  Delegation d = NewDelegation(r.stake, v);
  if (*self) d.unbonding_entries = (*self)->unbonding_entries;
  StoreValidator(ov, from, v);
  StoreDelegation(ov, from, from, d);
  return TxStatus::kOk;
}

Result<TxStatus> Unbond(Overlay& ov, const Address& from, const ValidatorUnbondTx& u, uint64_t h,
                        const ChainParams& params) {
  return UnbondTo(ov, from, from, u.amount, h, TxStatus::kInsufficientStake, params);
}

Result<TxStatus> Undelegate(Overlay& ov, const Address& from, const UndelegateTx& u, uint64_t h,
                            const ChainParams& params) {
  return UnbondTo(ov, from, u.validator, u.amount, h, TxStatus::kNoDelegation, params);
}

Result<TxStatus> Delegate(Overlay& ov, const Address& from, const DelegateTx& t, const ChainParams& params) {
  auto plan = PlanAddition(ov, from, t.validator, t.amount, params);
  if (!plan) return std::unexpected(plan.error());
  if (auto* st = std::get_if<TxStatus>(&*plan)) return *st;
  auto acc = LoadAccount(ov, from);
  if (!acc) return std::unexpected(acc.error());
  if (acc->balance < t.amount) return TxStatus::kInsufficientBalance;
  acc->balance -= t.amount;
  StoreAccount(ov, from, *acc);  // before the reward is credited (Settle reloads)
  GTOS_TRY(ApplyAddition(ov, from, t.validator, std::get<Addition>(*plan), t.amount));
  return TxStatus::kOk;
}

Result<TxStatus> Redelegate(Overlay& ov, const Address& from, const RedelegateTx& t, uint64_t h,
                            const ChainParams& params) {
  // Source checks first, then the destination's.
  auto out = PlanRemoval(ov, from, t.src_validator, t.amount, TxStatus::kNoDelegation, params);
  if (!out) return std::unexpected(out.error());
  if (auto* st = std::get_if<TxStatus>(&*out)) return *st;
  auto in = PlanAddition(ov, from, t.dst_validator, t.amount, params);
  if (!in) return std::unexpected(in.error());
  if (auto* st = std::get_if<TxStatus>(&*in)) return *st;
  // The redelegation entry that keeps the moved stake answerable for the
  // source's infractions until h + unbonding_blocks (docs/state.md 9.7).
  // It counts against the source pair's max_unbonding_entries.
  Removal& r = std::get<Removal>(*out);
  uint64_t release;
  if (__builtin_add_overflow(h, params.unbonding_blocks, &release)) return TxStatus::kExpiryOverflow;
  std::string ykey = schema::RedelegationKey(release, from, t.src_validator, t.dst_validator);
  auto pending = ov.Get(ykey);
  if (!pending) return std::unexpected(pending.error());
  if (!*pending && r.d.unbonding_entries >= params.max_unbonding_entries) return TxStatus::kTooManyEntries;
  uint64_t total = t.amount;
  if (*pending) {
    auto prev = DecodeUint(**pending);
    if (!prev) return std::unexpected(prev.error());
    total += *prev;  // bounded by the stake it came from
  } else {
    r.d.unbonding_entries += 1;
  }
  // The two validators differ (structural check), so the plans touch
  // different V and D entries; each Settle reloads the account.
  GTOS_TRY(ApplyRemoval(ov, from, t.src_validator, r, t.amount));
  GTOS_TRY(ApplyAddition(ov, from, t.dst_validator, std::get<Addition>(*in), t.amount));
  ov.Put(ykey, EncodeUint(total));
  return TxStatus::kOk;
}

Result<TxStatus> Unjail(Overlay& ov, const Address& from, const UnjailTx&, uint64_t h, const ChainParams& params) {
  auto v = LoadValidator(ov, from);
  if (!v) return std::unexpected(v.error());
  if (!*v) return TxStatus::kNotValidator;
  ValidatorInfo& info = **v;
  if (info.tombstoned != 0) return TxStatus::kValidatorTombstoned;
  if (info.jailed == 0) return TxStatus::kNotJailed;
  if (h < info.jailed_until) return TxStatus::kJailNotExpired;
  auto self = SelfBond(ov, from, info);
  if (!self) return std::unexpected(self.error());
  if (*self < params.min_validator_stake || *self == 0) return TxStatus::kStakeBelowMinimum;
  info.jailed = 0;
  StoreValidator(ov, from, info);
  return TxStatus::kOk;
}

Result<TxStatus> WithdrawRewards(Overlay& ov, const Address& from, const WithdrawRewardsTx& t) {
  if (t.validator != Address{}) {
    auto v = LoadValidator(ov, t.validator);
    if (!v) return std::unexpected(v.error());
    if (!*v) return TxStatus::kNotValidator;
    auto d = LoadDelegation(ov, from, t.validator);
    if (!d) return std::unexpected(d.error());
    bool has_stake = *d && (*d)->shares > 0;
    if (!has_stake && t.validator != from) return TxStatus::kNoDelegation;
    ValidatorInfo& info = **v;
    if (has_stake) {
      GTOS_TRY(Settle(ov, from, **d, info));
      StoreDelegation(ov, from, t.validator, **d);
    }
    if (t.validator == from) GTOS_TRY(PayCommission(ov, from, info));
    StoreValidator(ov, t.validator, info);
    return TxStatus::kOk;
  }
  // Every delegation of the sender, in key order, then its own commission.
  auto all = DelegationsOf(ov, from);
  if (!all) return std::unexpected(all.error());
  for (const auto& [key, raw] : *all) {
    auto d = DecodeValue<Delegation>(raw, "delegation");
    if (!d) return std::unexpected(d.error());
    if (d->shares == 0) continue;
    Address va = schema::DelegationKeyValidator(key);
    auto v = LoadValidator(ov, va);
    if (!v) return std::unexpected(v.error());
    if (!*v) return Fail(ErrorCode::kInternal, "delegation to a missing validator " + ToHex0x(va));
    GTOS_TRY(Settle(ov, from, *d, **v));
    StoreDelegation(ov, from, va, *d);
    StoreValidator(ov, va, **v);
  }
  auto own = LoadValidator(ov, from);
  if (!own) return std::unexpected(own.error());
  if (*own && (*own)->commission_rewards > 0) {
    GTOS_TRY(PayCommission(ov, from, **own));
    StoreValidator(ov, from, **own);
  }
  return TxStatus::kOk;
}

Result<TxStatus> EditValidator(Overlay& ov, const Address& from, const ValidatorEditTx& e, uint64_t h,
                               const ChainParams& params) {
  auto v = LoadValidator(ov, from);
  if (!v) return std::unexpected(v.error());
  if (!*v) return TxStatus::kNotValidator;
  ValidatorInfo& info = **v;
  if (e.commission_permille != info.commission_permille) {
    uint64_t step = e.commission_permille > info.commission_permille
                        ? e.commission_permille - info.commission_permille
                        : info.commission_permille - e.commission_permille;
    if (step > params.max_commission_change_permille) return TxStatus::kCommissionChange;
    uint64_t len = std::max<uint64_t>(1, params.epoch_length);
    if (info.commission_changed_at != 0 && (info.commission_changed_at - 1) / len == (h - 1) / len)
      return TxStatus::kCommissionChange;
    info.commission_permille = e.commission_permille;
    info.commission_changed_at = h;
  }
  info.moniker = e.moniker;
  info.p2p_addr = e.p2p_addr;
  StoreValidator(ov, from, info);
  return TxStatus::kOk;
}

// ---- block steps ---------------------------------------------------------------------

Status DropUnbondingEntry(Overlay& ov, const Address& owner, const Address& validator) {
  auto d = LoadDelegation(ov, owner, validator);
  if (!d) return std::unexpected(d.error());
  if (!*d || (*d)->unbonding_entries == 0)
    return Fail(ErrorCode::kInternal, "unbonding entry without its delegation count (" + ToHex0x(owner) + ", " +
                                          ToHex0x(validator) + ")");
  (*d)->unbonding_entries -= 1;
  StoreDelegation(ov, owner, validator, **d);
  return Ok();
}

Status ReleaseUnbonding(Overlay& ov, const Store& store, uint64_t h) {
  std::vector<std::pair<std::string, std::string>> releases;
  GTOS_TRY(store.Scan(schema::UnbondingPrefix(h), [&releases](std::string_view k, std::string_view v) {
    releases.emplace_back(k, v);
    return true;
  }));
  for (const auto& [k, v] : releases) {
    if (k.size() != schema::kUnbondingKeySize) return Fail(ErrorCode::kInternal, "corrupt unbonding key");
    Address owner = schema::UnbondingKeyOwner(k);
    auto amount = DecodeUint(v);
    if (!amount) return std::unexpected(amount.error());
    GTOS_TRY(Credit(ov, owner, *amount));  // it left this balance before: supply bounds it
    ov.Delete(k);
    GTOS_TRY(DropUnbondingEntry(ov, owner, schema::UnbondingKeyValidator(k)));
  }
  // Redelegation entries that age out: the moved stake no longer answers
  // for the source's infractions.
  std::vector<std::string> aged;
  GTOS_TRY(store.Scan(schema::RedelegationPrefix(h), [&aged](std::string_view k, std::string_view) {
    aged.emplace_back(k);
    return true;
  }));
  for (const std::string& k : aged) {
    if (k.size() != schema::kRedelegationKeySize) return Fail(ErrorCode::kInternal, "corrupt redelegation key");
    ov.Delete(k);
    GTOS_TRY(DropUnbondingEntry(ov, schema::RedelegationKeyDelegator(k), schema::RedelegationKeySource(k)));
  }
  return Ok();
}

Result<uint64_t> SlashRedelegations(Overlay& ov, const Address& src, uint64_t infraction_height, uint64_t h,
                                    uint64_t permille, const ChainParams& params) {
  uint64_t from = EpochFirstHeight(infraction_height, params.epoch_length);
  uint64_t owed = 0;  // sum of the cuts: at most the supply
  auto all = ov.Scan(std::string(1, schema::kRedelegation));
  if (!all) return std::unexpected(all.error());
  for (const auto& [k, raw] : *all) {
    if (k.size() != schema::kRedelegationKeySize || schema::RedelegationKeySource(k) != src) continue;
    uint64_t release = schema::RedelegationKeyRelease(k);
    if (release <= h || release < params.unbonding_blocks || release - params.unbonding_blocks < from) continue;
    auto amount = DecodeUint(raw);
    if (!amount) return std::unexpected(amount.error());
    uint64_t p = std::min<uint64_t>(permille, kPermille);
    uint64_t cut = *amount / kPermille * p + *amount % kPermille * p / kPermille;  // floor(amount * p / 1000)
    if (cut == 0) continue;
    owed += cut;
    Address delegator = schema::RedelegationKeyDelegator(k);
    Address dst = schema::RedelegationKeyDestination(k);
    // The entry answers with what it moved, less what earlier slashes took.
    if (*amount - cut == 0) {
      ov.Delete(k);
      GTOS_TRY(DropUnbondingEntry(ov, delegator, src));
    } else {
      ov.Put(k, EncodeUint(*amount - cut));
    }
    // Taken from the delegator's stake with the destination, as far as it
    // is still there (it may have moved on or unbonded since).
    auto v = LoadValidator(ov, dst);
    if (!v) return std::unexpected(v.error());
    if (!*v) continue;
    auto d = LoadDelegation(ov, delegator, dst);
    if (!d) return std::unexpected(d.error());
    if (!*d || (*d)->shares == 0) continue;
    ValidatorInfo& info = **v;
    Delegation& del = **d;
    uint64_t value = TokensOf(del.shares, info);
    uint64_t take = std::min(cut, value);
    if (take == 0) continue;
    uint64_t shares = del.shares;
    if (take < value) {
      Uint128 num = Uint128(take) * info.shares;
      shares = static_cast<uint64_t>(std::min<Uint128>((num + info.stake - 1) / info.stake, del.shares));
    }
    GTOS_TRY(Settle(ov, delegator, del, info));
    del.shares -= shares;
    info.shares -= shares;
    info.stake -= take;
    GTOS_TRY(Burn(ov, take));
    StoreDelegation(ov, delegator, dst, del);
    if (info.shares == 0) GTOS_TRY(RemoveValidator(ov, dst, info));
    else StoreValidator(ov, dst, info);
  }
  return owed;
}

Status Burn(Overlay& ov, uint64_t amount) {
  if (amount == 0) return Ok();
  auto pool = LoadPool(ov);
  if (!pool) return std::unexpected(pool.error());
  pool->burned += amount;
  StorePool(ov, *pool);
  return Ok();
}

Status DistributeRewards(Overlay& ov, const ActiveSet& signing_set, const std::vector<Address>& signers,
                         uint64_t fees, uint64_t genesis_supply, const ChainParams& params) {
  auto pool = LoadPool(ov);
  if (!pool) return std::unexpected(pool.error());
  // Issue no more than keeps the supply below 2^64 (every balance fits).
  uint64_t supply = genesis_supply + pool->issued - pool->burned;
  uint64_t issue = std::min(params.block_reward, UINT64_MAX - supply);
  pool->issued += issue;
  uint64_t total = issue + fees;  // fees came out of the supply: no overflow

  // The signers that are members of the signing set, with their power, in
  // address order (members are sorted by address; duplicates count once).
  std::vector<Address> named(signers);
  std::sort(named.begin(), named.end());
  named.erase(std::unique(named.begin(), named.end()), named.end());
  std::vector<std::pair<Address, uint64_t>> paid;
  Uint128 power = 0;
  for (const Address& a : named) {
    auto it = std::lower_bound(signing_set.validators.begin(), signing_set.validators.end(), a,
                               [](const ActiveValidator& m, const Address& x) { return m.address < x; });
    if (it == signing_set.validators.end() || it->address != a || it->power == 0) continue;
    paid.emplace_back(a, it->power);
    power += it->power;
  }
  uint64_t handed_out = 0;
  for (const auto& [a, p] : paid) {
    // floor(total * power_v / power): the shares sum to at most total.
    uint64_t share = static_cast<uint64_t>(Uint128(total) * p / power);
    auto v = LoadValidator(ov, a);
    if (!v) return std::unexpected(v.error());
    if (!*v) continue;  // left the V table since it signed: its share stays in the remainder
    handed_out += share;
    ValidatorInfo& info = **v;
    uint64_t commission = static_cast<uint64_t>(Uint128(share) * info.commission_permille / kPermille);
    uint64_t rest = share - commission;
    info.commission_rewards += commission;
    if (rest > 0) {
      // shares > 0 while the entry exists. The ratio grows by
      // floor((rest * 10^18 + carry) / shares) and the remainder is
      // carried: over blocks with the same shares the ratio is exactly
      // floor(sum(rest) * 10^18 / shares). rest * 10^18 + carry < 2^125.
      Uint128 num = Uint128(rest) * kRatioScale + info.reward_carry;
      info.reward_ratio = RatioBytes(ReadRatio(info.reward_ratio) + num / info.shares);
      info.reward_carry = static_cast<uint64_t>(num % info.shares);
      info.outstanding_rewards += rest;
    }
    StoreValidator(ov, a, info);
  }
  pool->community_pool += total - handed_out;
  StorePool(ov, *pool);
  return Ok();
}

// ---- supply ------------------------------------------------------------------------

uint64_t GenesisSupply(const Genesis& g) {
  uint64_t sum = 0;
  for (const GenesisAccount& a : g.accounts) sum += a.balance;  // ValidateFull: no overflow
  return sum;
}

Result<Supply> ComputeSupply(const Store& store, const Genesis& g) {
  Supply s;
  s.genesis = GenesisSupply(g);
  Status inner = Ok();
  auto scan = [&](char table, const std::function<Status(std::string_view, std::string_view)>& fn) -> Status {
    GTOS_TRY(store.Scan(std::string(1, table), [&](std::string_view k, std::string_view v) {
      inner = fn(k, v);
      return bool(inner);
    }));
    return inner;
  };
  GTOS_TRY(scan(schema::kAccount, [&](std::string_view, std::string_view v) -> Status {
    auto a = DecodeValue<Account>(v, "account");
    if (!a) return std::unexpected(a.error());
    s.balances += a->balance;
    return Ok();
  }));
  GTOS_TRY(scan(schema::kValidator, [&](std::string_view, std::string_view v) -> Status {
    auto info = DecodeValue<ValidatorInfo>(v, "validator");
    if (!info) return std::unexpected(info.error());
    s.bonded += info->stake;
    s.undistributed += Uint128(info->outstanding_rewards) + info->commission_rewards;
    return Ok();
  }));
  GTOS_TRY(scan(schema::kUnbonding, [&](std::string_view, std::string_view v) -> Status {
    auto amount = DecodeUint(v);
    if (!amount) return std::unexpected(amount.error());
    s.unbonding += *amount;
    return Ok();
  }));
  auto raw = store.Get(schema::SupplyKey());
  if (!raw) return std::unexpected(raw.error());
  if (*raw) {
    auto pool = DecodeValue<SupplyPool>(**raw, "supply pool");
    if (!pool) return std::unexpected(pool.error());
    s.issued = pool->issued;
    s.burned = pool->burned;
    s.community_pool = pool->community_pool;
    s.undistributed += pool->community_pool;
  }
  return s;
}

}  // namespace staking
}  // namespace gtos::state
