#include "state/executor.h"

#include <algorithm>
#include <set>
#include <thread>

#include "crypto/hash.h"
#include "state/schema.h"
#include "state/staking.h"
#include "types/records.h"

namespace gtos::state {

// ---- overlay -------------------------------------------------------------------

Result<Overlay::Entry*> Overlay::Load(const std::string& key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) return &it->second;
  auto v = base_.Get(key);
  if (!v) return std::unexpected(v.error());
  Entry e{*v, *v};
  return &entries_.emplace(key, std::move(e)).first->second;
}

Result<std::optional<std::string>> Overlay::Get(const std::string& key) {
  auto e = Load(key);
  if (!e) return std::unexpected(e.error());
  return (*e)->after;
}

void Overlay::Put(const std::string& key, std::string value) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    // A blind write still needs the committed value for the accumulator.
    auto e = Load(key);
    if (!e) {
      entries_[key] = Entry{std::nullopt, std::move(value)};  // read error surfaces at commit
      return;
    }
    (*e)->after = std::move(value);
    return;
  }
  it->second.after = std::move(value);
}

void Overlay::Delete(const std::string& key) {
  auto e = Load(key);
  if (e) (*e)->after.reset();
}

Result<std::map<std::string, std::string>> Overlay::Scan(std::string_view prefix) {
  std::map<std::string, std::string> out;
  GTOS_TRY(base_.Scan(prefix, [&out](std::string_view k, std::string_view v) {
    out.emplace(std::string(k), std::string(v));
    return true;
  }));
  for (auto it = entries_.lower_bound(std::string(prefix));
       it != entries_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    if (it->second.after) out[it->first] = *it->second.after;
    else out.erase(it->first);
  }
  return out;
}

// ---- helpers -------------------------------------------------------------------

Bytes StateElement(std::string_view key, std::string_view value) {
  codec::Writer w;
  w.Array(2);
  w.Bin(AsBytes(key));
  w.Bin(AsBytes(value));
  return w.Take();
}

std::string EncodeUint(uint64_t v) {
  codec::Writer w;
  w.Uint(v);
  return std::string(w.bytes().begin(), w.bytes().end());
}

// Exactly one canonical uint, like every other state value: the bytes are
// what the state root hashes, so trailing bytes or a longer encoding of the
// same amount must not be accepted (found by fuzz_state_value).
Result<uint64_t> DecodeUint(std::string_view s) {
  size_t off = 0;
  ByteView b(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  auto p = codec::ParseOne(b, &off);
  if (!p || !*p || off != b.size() || (*p)->handle.get().type != msgpack::type::POSITIVE_INTEGER ||
      EncodeUint((*p)->handle.get().via.u64) != s)
    return Fail(ErrorCode::kInternal, "corrupt integer in database");
  return (*p)->handle.get().via.u64;
}

Result<ChainParams> LoadParams(const Store& store, const ChainParams& genesis_params) {
  auto v = store.Get(schema::ParamsKey());
  if (!v) return std::unexpected(v.error());
  if (!*v) return genesis_params;
  return DecodeValue<ChainParams>(**v, "params in force");
}

Result<ChainParams> LoadParams(Overlay& ov, const ChainParams& genesis_params) {
  auto v = ov.Get(schema::ParamsKey());
  if (!v) return std::unexpected(v.error());
  if (!*v) return genesis_params;
  return DecodeValue<ChainParams>(**v, "params in force");
}

Result<std::optional<PendingPlan>> LoadPendingPlan(const Store& store) {
  auto v = store.Get(schema::PendingPlanKey());
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<PendingPlan>();
  auto p = DecodeValue<PendingPlan>(**v, "pending upgrade plan");
  if (!p) return std::unexpected(p.error());
  return std::optional<PendingPlan>(std::move(*p));
}

namespace {

// floor(x * permille / 1000) without overflow: x = q * 1000 + r. With
// permille <= 1000 (the parameter's range) the result is <= x.
uint64_t SlashOf(uint64_t x, uint64_t permille) {
  permille = std::min<uint64_t>(permille, 1000);
  return x / 1000 * permille + x % 1000 * permille / 1000;
}

// The U entries unbonding from `validator` (its own and its delegators')
// that still back its infraction at
// `infraction_height`, as seen in block `h` (docs/state.md section 9.3):
// created (release - unbonding_blocks) at or after the first height of the
// infraction's epoch, whose voting power still counted that stake, and not
// yet released (release > h). Key -> amount, in key order.
Result<std::vector<std::pair<std::string, uint64_t>>> SlashableUnbonding(Overlay& ov, const Address& validator,
                                                                        uint64_t infraction_height, uint64_t h,
                                                                        const ChainParams& params) {
  uint64_t from = EpochFirstHeight(infraction_height, params.epoch_length);
  auto all = ov.Scan(std::string(1, schema::kUnbonding));
  if (!all) return std::unexpected(all.error());
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [k, v] : *all) {
    if (k.size() != schema::kUnbondingKeySize || schema::UnbondingKeyValidator(k) != validator) continue;
    uint64_t release = schema::UnbondingKeyRelease(k);
    if (release <= h || release < params.unbonding_blocks || release - params.unbonding_blocks < from) continue;
    auto amount = DecodeUint(v);
    if (!amount) return std::unexpected(amount.error());
    out.emplace_back(k, *amount);
  }
  return out;
}

// The value of an E entry: [height, round, type] of the slashed infraction
// (type 3 for a proposal).
std::string EncodeInfraction(const Statement& v) {
  codec::Writer w;
  w.Array(3);
  w.Uint(v.height);
  w.Uint(v.round);
  w.Uint(v.type);
  return std::string(w.bytes().begin(), w.bytes().end());
}

Result<std::optional<StoredObject>> LoadObject(Overlay& ov, const std::string& key) {
  auto v = ov.Get(key);
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<StoredObject>();
  auto o = DecodeValue<StoredObject>(**v, "stored object");
  if (!o) return std::unexpected(o.error());
  return std::optional<StoredObject>(std::move(*o));
}

std::unexpected<Error> NotIncludable(std::string msg) { return Fail(ErrorCode::kInvalid, std::move(msg)); }

// Adds the changed state entries of `ov` to `acc`, using both cores for
// large blocks (the sum does not depend on the order).
void ApplyChanges(const Overlay& ov, LtHash* acc) {
  std::vector<std::pair<const std::string*, const Overlay::Entry*>> changed;
  for (const auto& [key, e] : ov.entries())
    if (e.before != e.after && schema::IsStateKey(key)) changed.emplace_back(&key, &e);
  auto work = [&changed](size_t begin, size_t end, LtHash* out) {
    LtHash::Lanes lanes;
    for (size_t i = begin; i < end; ++i) {
      const auto& [key, e] = changed[i];
      if (e->before) {
        LtHash::Expand(StateElement(*key, *e->before), &lanes);
        out->RemoveLanes(lanes);
      }
      if (e->after) {
        LtHash::Expand(StateElement(*key, *e->after), &lanes);
        out->AddLanes(lanes);
      }
    }
  };
  if (changed.size() < 512) {
    work(0, changed.size(), acc);
    return;
  }
  LtHash other;
  size_t half = changed.size() / 2;
  std::thread t(work, half, changed.size(), &other);
  work(0, half, acc);
  t.join();
  acc->Combine(other);
}

// What execution needs to know of each tx that does not depend on state:
// computed for a whole block up front, on both cores for large blocks.
struct TxDigests {
  Hash32 id;
  Hash32 leaf;
  size_t body_bytes = 0;
  size_t record_bytes = 0;
};

std::vector<TxDigests> Digest(const std::vector<SignedTx>& txs) {
  std::vector<TxDigests> out(txs.size());
  auto work = [&](size_t begin, size_t end) {
    codec::Writer w;
    for (size_t i = begin; i < end; ++i) {
      w.Clear();
      codec::EncodeObject(w, txs[i].tx);
      out[i].body_bytes = w.bytes().size();
      out[i].id = TxBody::IdOf(w.bytes());
      w.Clear();
      EncodeRecordTo(w, txs[i]);
      out[i].record_bytes = w.bytes().size();
      out[i].leaf = crypto::Sha256(w.bytes());
    }
  };
  if (txs.size() < 256) {
    work(0, txs.size());
  } else {
    size_t half = txs.size() / 2;
    std::thread t(work, half, txs.size());
    work(0, half);
    t.join();
  }
  return out;
}

}  // namespace

// ---- genesis -------------------------------------------------------------------

Result<GenesisState> BuildGenesisState(const Genesis& g) {
  GTOS_TRY(g.ValidateFull());
  std::map<std::string, std::string> entries;
  std::map<Address, Account> accounts;
  for (const GenesisAccount& a : g.accounts) accounts[a.address].balance = a.balance;
  std::vector<std::pair<Address, ValidatorInfo>> bonded;
  for (const GenesisValidator& v : g.validators) {
    Address addr = v.address();
    accounts[addr].balance -= v.stake;  // ValidateFull checked it is covered
    // The gentx's commission (0 without one); validator_edit changes it.
    ValidatorInfo info =
        staking::NewValidator(v.algo, v.public_key, v.stake, v.commission_permille.value_or(0), "", v.p2p_addr);
    entries[schema::ValidatorKey(addr)] = EncodeValue(info);
    entries[schema::DelegationKey(addr, addr)] = EncodeValue(staking::NewDelegation(v.stake, info));
    bonded.emplace_back(addr, std::move(info));
  }
  entries[schema::SupplyKey()] = EncodeValue(SupplyPool{});
  for (const auto& [addr, acc] : accounts) entries[schema::AccountKey(addr)] = EncodeValue(acc);
  GenesisState out;
  out.active_set.first_height = 1;
  out.active_set.validators = SelectValidators(bonded, g.params);
  if (out.active_set.validators.empty())
    return Invalid("genesis has no validator that can be in the active set (total power must stay below 2^62)");
  entries[schema::ActiveSetKey()] = EncodeValue(out.active_set);
  for (const auto& [k, v] : entries) {
    out.batch.Put(k, v);
    out.accumulator.Add(StateElement(k, v));
  }
  out.state_root = out.accumulator.Digest();
  return out;
}

// ---- validator sets and epochs ---------------------------------------------------

uint64_t EpochFirstHeight(uint64_t height, uint64_t epoch_length) {
  uint64_t len = std::max<uint64_t>(1, epoch_length);
  return height == 0 ? 1 : (height - 1) / len * len + 1;
}

std::vector<ActiveValidator> SelectValidators(const std::vector<std::pair<Address, ValidatorInfo>>& candidates,
                                              const ChainParams& params) {
  std::vector<const std::pair<Address, ValidatorInfo>*> eligible;
  for (const auto& c : candidates)
    if (c.second.jailed == 0 && c.second.stake >= params.min_validator_stake && c.second.stake > 0)
      eligible.push_back(&c);
  std::sort(eligible.begin(), eligible.end(), [](const auto* x, const auto* y) {
    if (x->second.stake != y->second.stake) return x->second.stake > y->second.stake;
    return x->first < y->first;
  });
  std::vector<ActiveValidator> out;
  uint64_t total = 0;
  for (const auto* c : eligible) {
    if (out.size() >= params.max_validators) break;
    uint64_t next;
    if (__builtin_add_overflow(total, c->second.stake, &next) || next >= kMaxTotalPower) break;
    total = next;
    out.push_back(ActiveValidator{c->first, c->second.consensus_algo, c->second.consensus_key, c->second.stake});
  }
  std::sort(out.begin(), out.end(),
            [](const ActiveValidator& x, const ActiveValidator& y) { return x.address < y.address; });
  return out;
}

Result<ActiveSet> LoadActiveSet(const Store& store) {
  auto v = store.Get(schema::ActiveSetKey());
  if (!v) return std::unexpected(v.error());
  if (!*v) return Fail(ErrorCode::kInternal, "database has no active validator set");
  return DecodeValue<ActiveSet>(**v, "active validator set");
}

Result<std::optional<ActiveSet>> LoadSetFor(const Store& store, uint64_t height, uint64_t epoch_length) {
  auto v = store.Get(schema::SetHistoryKey(EpochFirstHeight(height, epoch_length)));
  if (!v) return std::unexpected(v.error());
  if (!*v) return std::optional<ActiveSet>();
  auto set = DecodeValue<ActiveSet>(**v, "validator set history");
  if (!set) return std::unexpected(set.error());
  return std::optional<ActiveSet>(std::move(*set));
}

Status Executor::CheckEvidence(Overlay& ov, const Evidence& e, uint64_t h) const {
  const Statement& a = e.a;
  const Statement& b = e.b;
  if (a.is_proposal() || b.is_proposal()) {
    // Proposal evidence (rules 1p-4p): two signatures of the proposer over
    // different content for one (height, round). Whether it was that
    // round's proposer does not matter: the key signed two things for one
    // slot, which an honest private validator never does.
    if (!a.is_proposal() || !b.is_proposal()) return Invalid("a proposal is paired with a vote");
    if (!a.valid_round_plus_1 || !b.valid_round_plus_1)
      return Invalid("a proposal statement lacks its valid_round_plus_1");
    if (a.height != b.height || a.round != b.round)
      return Invalid("the proposals are for different heights or rounds");
    if (a.validator != b.validator) return Invalid("the proposals are by different proposers");
    auto content = [](const Statement& s) { return std::make_pair(s.block_hash, *s.valid_round_plus_1); };
    if (content(a) == content(b)) return Invalid("the proposals sign the same content");
    if (content(b) < content(a))
      return Invalid("the proposals are not in canonical order (a's block_hash, valid_round_plus_1 must be below b's)");
  } else {
    if (a.type != b.type || (a.type != static_cast<uint64_t>(VoteType::kPrevote) &&
                             a.type != static_cast<uint64_t>(VoteType::kPrecommit)))
      return Invalid("the votes are not of one type (prevote or precommit)");
    if (a.valid_round_plus_1 || b.valid_round_plus_1) return Invalid("a vote carries a valid_round_plus_1");
    if (a.height != b.height || a.round != b.round)
      return Invalid("the votes are for different heights or rounds");
    if (a.validator != b.validator) return Invalid("the votes are by different validators");
    if (a.block_hash == b.block_hash) return Invalid("the votes are for the same block");
  }
  const char* what = a.is_proposal() ? "proposal" : "vote";
  if (a.height == 0 || a.height >= h)
    return Invalid(std::string(what) + " height " + std::to_string(a.height) + " is not below the block height " +
                   std::to_string(h));
  // unbonding_blocks and epoch_length are frozen (a plan may not change
  // them, docs/upgrades.md section 5): the genesis values are in force.
  if (h - a.height > genesis_.params.unbonding_blocks)
    return Invalid(std::string(what) + " height " + std::to_string(a.height) + " is more than unbonding_blocks (" +
                   std::to_string(genesis_.params.unbonding_blocks) + ") below the block");
  auto set = LoadSetFor(store_, a.height, genesis_.params.epoch_length);
  if (!set) return std::unexpected(set.error());
  if (!*set)
    return Fail(ErrorCode::kInternal, "no validator set recorded for height " + std::to_string(a.height));
  const auto& members = (*set)->validators;
  auto it = std::lower_bound(members.begin(), members.end(), a.validator,
                             [](const ActiveValidator& v, const Address& x) { return v.address < x; });
  if (it == members.end() || it->address != a.validator)
    return Invalid("validator " + ToHex0x(a.validator) + " was not in the set of height " +
                   std::to_string(a.height));
  const crypto::SigAlgo* algo = crypto::FindAlgo(it->consensus_algo);
  if (!algo) return Fail(ErrorCode::kInternal, "unknown consensus key algorithm in the validator set");
  if (!algo->verify(it->consensus_key, a.SigningDigest(genesis_.chain_id), a.signature) ||
      !algo->verify(it->consensus_key, b.SigningDigest(genesis_.chain_id), b.signature))
    return Fail(ErrorCode::kCrypto,
                "a " + std::string(what) + " signature does not verify under the validator's consensus key");
  // 8. One slash covers every earlier infraction: the same one again (also
  // with the votes swapped or with a third conflicting vote), and any other
  // committed before that slash.
  auto slashed = ov.Scan(std::string(1, schema::kSlashed));
  if (!slashed) return std::unexpected(slashed.error());
  for (const auto& [k, v] : *slashed) {
    if (k.size() != 41 || schema::SlashedKeyValidator(k) != a.validator) continue;
    uint64_t at = schema::SlashedKeyHeight(k);
    if (at > a.height)
      return Invalid("validator " + ToHex0x(a.validator) + " was already slashed in block " + std::to_string(at) +
                     ", which covers its infractions below that height");
  }
  // 9. Something to slash: not tombstoned (a Z entry, kept after the V
  // entry is gone; or the V entry's flag, for states written before the Z
  // table), and a validator record, or else stake that backed the
  // infraction and is still unbonding.
  auto tomb = ov.Get(schema::TombstoneKey(a.validator));
  if (!tomb) return std::unexpected(tomb.error());
  if (*tomb)
    return Invalid("validator " + ToHex0x(a.validator) + " is tombstoned (already slashed for double signing)");
  auto raw = ov.Get(schema::ValidatorKey(a.validator));
  if (!raw) return std::unexpected(raw.error());
  if (*raw) {
    auto info = DecodeValue<ValidatorInfo>(**raw, "validator");
    if (!info) return std::unexpected(info.error());
    if (info->tombstoned != 0)
      return Invalid("validator " + ToHex0x(a.validator) + " is tombstoned (already slashed for double signing)");
    return Ok();
  }
  auto unbonding = SlashableUnbonding(ov, a.validator, a.height, h, genesis_.params);
  if (!unbonding) return std::unexpected(unbonding.error());
  if (unbonding->empty())
    return Invalid("validator " + ToHex0x(a.validator) +
                   " has no validator record and no stake unbonding since the epoch of height " +
                   std::to_string(a.height));
  return Ok();
}

namespace {

// The slash of validator `va` for its infraction at `infraction_height`,
// seen from block `h` (docs/state.md sections 9.3 and 9.7), by the power
// `power` it had in the set that signed that height: the total owed is
// slash(power). The stake that left `va` since the infraction's epoch pays
// first, each entry its own fraction rounded down: every unbonding entry
// that still backs the infraction, then every redelegation entry
// (staking::SlashRedelegations). The bonded stake pays the rest of what is
// owed, but never more than slash(its current stake), so stake that joined
// since the set was chosen dilutes the cut instead of adding to it. The
// validator (if it has a V entry) is jailed; `tombstone` marks it for good
// and writes its Z entry. Slashed amounts are burned: nobody is credited.
Status Slash(Overlay& ov, const Address& va, uint64_t infraction_height, uint64_t power, uint64_t h,
             uint64_t permille, bool tombstone, uint64_t jailed_until, const ChainParams& params) {
  const uint64_t owed = SlashOf(power, permille);
  uint64_t paid = 0;  // by the entries; at most the supply, so no overflow
  auto unbonding = SlashableUnbonding(ov, va, infraction_height, h, params);
  if (!unbonding) return std::unexpected(unbonding.error());
  for (auto& [key, amount] : *unbonding) {
    uint64_t cut = SlashOf(amount, permille);
    GTOS_TRY(staking::Burn(ov, cut));
    paid += cut;
    amount -= cut;
    if (amount == 0) {
      ov.Delete(key);
      GTOS_TRY(staking::DropUnbondingEntry(ov, schema::UnbondingKeyOwner(key), va));
    } else {
      ov.Put(key, EncodeUint(amount));
    }
  }
  auto moved = staking::SlashRedelegations(ov, va, infraction_height, h, permille, params);
  if (!moved) return std::unexpected(moved.error());
  paid += *moved;
  std::string vkey = schema::ValidatorKey(va);
  auto raw = ov.Get(vkey);
  if (!raw) return std::unexpected(raw.error());
  if (*raw) {
    auto info = DecodeValue<ValidatorInfo>(**raw, "validator");
    if (!info) return std::unexpected(info.error());
    // The tokens drop, the shares stay: every delegation loses the same
    // fraction cut / stake <= permille / 1000 (docs/state.md 9.4).
    uint64_t cut = std::min(owed > paid ? owed - paid : 0, SlashOf(info->stake, permille));
    info->stake -= cut;
    info->jailed = 1;
    if (tombstone) info->tombstoned = 1;
    else info->jailed_until = jailed_until;
    ov.Put(vkey, EncodeValue(*info));  // kept even at stake 0: the jail stays
    GTOS_TRY(staking::Burn(ov, cut));
  }
  // The tombstone outlives the V entry: the address never registers again.
  if (tombstone) ov.Put(schema::TombstoneKey(va), EncodeUint(h));
  return Ok();
}

// Slashes the validator of valid evidence `e` in block `h` (step 3) by
// `power`, its power in the set of e.a.height, and tombstones it; records
// the slash in E.
Status ApplyEvidence(Overlay& ov, const Evidence& e, uint64_t power, uint64_t h, const ChainParams& params) {
  GTOS_TRY(Slash(ov, e.a.validator, e.a.height, power, h, params.slash_double_sign_permille, true, 0, params));
  ov.Put(schema::SlashedKey(h, e.a.validator), EncodeInfraction(e.a));
  return Ok();
}

// Step 3a (docs/state.md section 9.8): records, for every member of the set
// that signed height h - 1 that still signs height h, whether the commit of
// h - 1 (`signers`) lacks it, in slot (h - 1) % window of its L entry; a
// member whose signed commits in the window fall below min_signed_permille
// is jailed and slashed for downtime, and its record starts afresh. Work:
// one L entry per member, whatever the number of delegators.
Status TrackLiveness(Overlay& ov, uint64_t h, const ActiveSet& signing_set, const ActiveSet& current,
                     const std::vector<Address>& signers, const ChainParams& params) {
  if (h < 2) return Ok();
  const uint64_t window = std::max<uint64_t>(1, params.signed_blocks_window);
  const size_t bytes = static_cast<size_t>((window + 7) / 8);
  const uint64_t slot = (h - 1) % window;
  std::vector<Address> named(signers);
  std::sort(named.begin(), named.end());
  auto in_current = [&current](const Address& a) {
    auto it = std::lower_bound(current.validators.begin(), current.validators.end(), a,
                               [](const ActiveValidator& m, const Address& x) { return m.address < x; });
    return it != current.validators.end() && it->address == a;
  };
  for (const ActiveValidator& m : signing_set.validators) {
    if (!in_current(m.address)) continue;  // left the set at the boundary: not tracked
    bool missed = !std::binary_search(named.begin(), named.end(), m.address);
    std::string lkey = schema::LivenessKey(m.address);
    auto raw = ov.Get(lkey);
    if (!raw) return std::unexpected(raw.error());
    Liveness l;
    if (*raw) {
      auto got = DecodeValue<Liveness>(**raw, "liveness record");
      if (!got) return std::unexpected(got.error());
      l = std::move(*got);
    }
    if (l.bitmap.size() != bytes) {
      // No record, or one kept under another window size (a parameter
      // change): a fresh window.
      if (!missed) {  // nothing missed: no record
        if (*raw) ov.Delete(lkey);
        continue;
      }
      l = Liveness{0, Bytes(bytes, 0)};
    }
    uint8_t& byte = l.bitmap[slot / 8];
    const uint8_t mask = static_cast<uint8_t>(1u << (slot % 8));
    bool was = (byte & mask) != 0;
    if (was != missed) {
      if (missed) {
        byte |= mask;
        l.missed += 1;
      } else {
        if (l.missed == 0) return Fail(ErrorCode::kInternal, "corrupt liveness record in database");
        byte &= static_cast<uint8_t>(~mask);
        l.missed -= 1;
      }
    }
    // Signed fewer than min_signed_permille of the window? Checked also
    // when no bit changed: a validator unjailed while still in the set with
    // a window full of misses is jailed again at its next miss.
    bool down = missed && staking::Uint128((window - std::min(l.missed, window))) * 1000 <
                              staking::Uint128(params.min_signed_permille) * window;
    if (down) {
      auto v = staking::LoadValidator(ov, m.address);
      if (!v) return std::unexpected(v.error());
      if (*v && (*v)->jailed == 0) {
        uint64_t until;
        if (__builtin_add_overflow(h, params.downtime_jail_blocks, &until)) until = UINT64_MAX;
        GTOS_TRY(Slash(ov, m.address, h - 1, m.power, h, params.slash_downtime_permille, false, until, params));
        ov.Delete(lkey);  // a fresh window when it signs again
        continue;
      }
    }
    if (was == missed) continue;  // unchanged
    if (l.missed == 0) ov.Delete(lkey);
    else ov.Put(lkey, EncodeValue(l));
  }
  return Ok();
}

// Step 6: the set for the next epoch, or the old members if none is
// eligible (the chain must not halt).
Result<ActiveSet> NextEpochSet(Overlay& ov, uint64_t h, const ActiveSet& old, const ChainParams& params) {
  auto raw = ov.Scan(std::string(1, schema::kValidator));
  if (!raw) return std::unexpected(raw.error());
  std::vector<std::pair<Address, ValidatorInfo>> all;
  for (const auto& [k, v] : *raw) {
    auto info = DecodeValue<ValidatorInfo>(v, "validator");
    if (!info) return std::unexpected(info.error());
    Address a;
    std::memcpy(a.data(), k.data() + 1, 32);
    // Only a validator whose own stake meets the minimum is a candidate;
    // its power is its whole stake (docs/state.md 9.2).
    auto self = staking::SelfBond(ov, a, *info);
    if (!self) return std::unexpected(self.error());
    if (*self < params.min_validator_stake) continue;
    all.emplace_back(a, std::move(*info));
  }
  ActiveSet next;
  next.first_height = h + 1;
  next.validators = SelectValidators(all, params);
  if (next.validators.empty()) next.validators = old.validators;
  // Members that leave the set leave their liveness record behind: one
  // that comes back starts with a clean window (docs/state.md 9.8).
  for (const ActiveValidator& m : old.validators) {
    bool stays = std::binary_search(next.validators.begin(), next.validators.end(), m,
                                    [](const ActiveValidator& x, const ActiveValidator& y) {
                                      return x.address < y.address;
                                    });
    if (!stays) ov.Delete(schema::LivenessKey(m.address));
  }
  return next;
}

}  // namespace

// ---- execution -----------------------------------------------------------------

Executor::Executor(const Store& store, const Genesis& genesis)
    : store_(store), genesis_(genesis), genesis_supply_(staking::GenesisSupply(genesis)) {}

Status Executor::ApplyBlockEvidence(Overlay& ov, uint64_t h, std::vector<Evidence> evidence, ExecMode mode,
                                    const ChainParams& params, ExecResult* out) const {
  if (evidence.size() > kMaxEvidence) return Invalid("block " + std::to_string(h) + " carries too much evidence");
  std::set<Address> named;
  for (size_t i = 0; i < evidence.size(); ++i) {
    Evidence& e = evidence[i];
    Hash32 id = e.Hash();
    Status st = Ok();
    if (named.count(e.a.validator))
      st = Invalid("another piece of evidence in the block names validator " + ToHex0x(e.a.validator));
    else
      st = CheckEvidence(ov, e, h);
    if (!st) {
      if (st.error().code != ErrorCode::kInvalid && st.error().code != ErrorCode::kCrypto)
        return std::unexpected(st.error());
      if (mode == ExecMode::kValidate)
        return std::unexpected(Wrap(st.error(), "block " + std::to_string(h) + ": evidence " + std::to_string(i) +
                                                    " (" + ToHex0x(id) + ") is not valid"));
      out->left_out_evidence.emplace_back(id, st.error());
      continue;
    }
    named.insert(e.a.validator);
    // CheckEvidence found the validator in the set of e.a.height: its power
    // there is what the slash is based on (docs/state.md 9.3).
    auto set = LoadSetFor(store_, e.a.height, params.epoch_length);
    if (!set) return std::unexpected(set.error());
    uint64_t power = 0;
    if (*set)
      for (const ActiveValidator& m : (*set)->validators)
        if (m.address == e.a.validator) power = m.power;
    GTOS_TRY(ApplyEvidence(ov, e, power, h, params));
    out->evidence_hashes.push_back(id);
    out->evidence.push_back(std::move(e));
  }
  return Ok();
}

Result<Account> Executor::CheckIncludable(Overlay& ov, const SignedTx& stx, const Hash32& id, uint64_t height,
                                          bool verify_signature, size_t body_bytes) const {
  const TxBody& tx = stx.tx;
  if (tx.chain_id != genesis_.chain_id)
    return NotIncludable("wrong chain id '" + tx.chain_id + "' (this chain is '" + genesis_.chain_id + "')");
  GTOS_TRY(stx.Validate());
  // The params in force in this block: those of the overlay, which holds
  // step 0's activation when the block activates a plan.
  auto params = LoadParams(ov, genesis_.params);
  if (!params) return std::unexpected(params.error());
  GTOS_TRY(CheckTxParams(tx, *params, body_bytes));
  uint64_t ttl = 0, expire = 0;
  if (auto* k = std::get_if<KvPutTx>(&tx.payload.body)) ttl = k->ttl;
  if (auto* c = std::get_if<CodePutTx>(&tx.payload.body)) ttl = c->ttl;
  if (__builtin_add_overflow(height, ttl, &expire))
    return NotIncludable("ttl " + std::to_string(ttl) + " written at block " + std::to_string(height) +
                         " overflows expire_block");
  auto acc = LoadAccount(ov, tx.from);
  if (!acc) return std::unexpected(acc.error());
  const crypto::SigAlgo* algo = crypto::FindAlgo(stx.algo);
  if (acc->signer) {
    if (acc->signer->algo != stx.algo || acc->signer->public_key != stx.public_key)
      return NotIncludable("tx is not signed by the account's signer (bound to " +
                           std::string(AlgoName(acc->signer->algo)) + " key " +
                           ToHex0x(acc->signer->public_key) + ")");
  } else if (crypto::DeriveAddress(algo->id, stx.public_key) != tx.from) {
    return NotIncludable("public key does not derive to 'from' " + ToHex0x(tx.from) +
                         " and the account has no signer binding");
  }
  if (verify_signature && !algo->verify(stx.public_key, id, stx.signature))
    return NotIncludable("signature does not verify");
  if (tx.nonce != acc->nonce)
    return NotIncludable(tx.nonce < acc->nonce ? "nonce " + std::to_string(tx.nonce) + " already used (next is " +
                                                     std::to_string(acc->nonce) + ")"
                                               : "nonce " + std::to_string(tx.nonce) + " is ahead of the next nonce " +
                                                     std::to_string(acc->nonce));
  if (acc->balance < tx.fee)
    return NotIncludable("balance " + std::to_string(acc->balance) + " cannot pay the fee " +
                         std::to_string(tx.fee));
  return acc;
}

namespace {

// One function per tx kind; each runs after fee and nonce are charged and
// checks every stateful rule before it writes anything, so a failure
// changes nothing.
struct PayloadContext {
  Overlay& ov;
  const TxBody& tx;
  uint64_t h;
  const ChainParams& params;
  Receipt* receipt;
  const ActiveSet& set;  // the set that signs block h (upgrade_plan's voters)
};

Result<TxStatus> Apply(PayloadContext& c, const TransferTx& t) {
  auto from = LoadAccount(c.ov, c.tx.from);
  if (!from) return std::unexpected(from.error());
  if (from->balance < t.amount) return TxStatus::kInsufficientBalance;
  from->balance -= t.amount;
  StoreAccount(c.ov, c.tx.from, *from);
  auto to = LoadAccount(c.ov, t.to);
  if (!to) return std::unexpected(to.error());
  if (__builtin_add_overflow(to->balance, t.amount, &to->balance)) {
    from->balance += t.amount;  // undo: nothing but fee and nonce changes
    StoreAccount(c.ov, c.tx.from, *from);
    return TxStatus::kBalanceOverflow;
  }
  StoreAccount(c.ov, t.to, *to);
  return TxStatus::kOk;
}

Result<TxStatus> Apply(PayloadContext& c, const SetSignerTx& s) {
  auto acc = LoadAccount(c.ov, c.tx.from);
  if (!acc) return std::unexpected(acc.error());
  acc->signer = SignerBinding{s.algo, s.public_key};
  StoreAccount(c.ov, c.tx.from, *acc);
  return TxStatus::kOk;
}

Result<TxStatus> Apply(PayloadContext& c, const CodePutTx& t) {
  std::string key = schema::CodeKey(crypto::Sha256(t.code));
  auto old = LoadObject(c.ov, key);
  if (!old) return std::unexpected(old.error());
  if (*old && c.h < (*old)->expire_block) return TxStatus::kCodeExists;
  uint64_t expire;
  if (__builtin_add_overflow(c.h, t.ttl, &expire)) return TxStatus::kExpiryOverflow;
  if (*old) c.ov.Delete(schema::ExpiryKey((*old)->expire_block, key));
  c.ov.Put(key, EncodeValue(StoredObject{c.h, expire, t.code}));
  c.ov.Put(schema::ExpiryKey(expire, key), "");
  c.receipt->expire_block = expire;
  return TxStatus::kOk;
}

Result<TxStatus> Apply(PayloadContext& c, const KvPutTx& k) {
  std::string key = schema::KvKey(c.tx.from, k.ns, k.key);
  uint64_t expire;
  if (__builtin_add_overflow(c.h, k.ttl, &expire)) return TxStatus::kExpiryOverflow;
  auto old = LoadObject(c.ov, key);
  if (!old) return std::unexpected(old.error());
  if (*old) c.ov.Delete(schema::ExpiryKey((*old)->expire_block, key));
  c.ov.Put(key, EncodeValue(StoredObject{c.h, expire, k.value}));
  c.ov.Put(schema::ExpiryKey(expire, key), "");
  c.receipt->expire_block = expire;
  return TxStatus::kOk;
}

Result<TxStatus> Apply(PayloadContext& c, const ValidatorRegisterTx& r) {
  return staking::Register(c.ov, c.tx.from, r, c.params);
}
Result<TxStatus> Apply(PayloadContext& c, const ValidatorUnbondTx& u) {
  return staking::Unbond(c.ov, c.tx.from, u, c.h, c.params);
}
Result<TxStatus> Apply(PayloadContext& c, const DelegateTx& d) {
  return staking::Delegate(c.ov, c.tx.from, d, c.params);
}
Result<TxStatus> Apply(PayloadContext& c, const UndelegateTx& u) {
  return staking::Undelegate(c.ov, c.tx.from, u, c.h, c.params);
}
Result<TxStatus> Apply(PayloadContext& c, const RedelegateTx& r) {
  return staking::Redelegate(c.ov, c.tx.from, r, c.h, c.params);
}
Result<TxStatus> Apply(PayloadContext& c, const WithdrawRewardsTx& w) {
  return staking::WithdrawRewards(c.ov, c.tx.from, w);
}
Result<TxStatus> Apply(PayloadContext& c, const ValidatorEditTx& e) {
  return staking::EditValidator(c.ov, c.tx.from, e, c.h, c.params);
}
Result<TxStatus> Apply(PayloadContext& c, const UnjailTx& u) {
  return staking::Unjail(c.ov, c.tx.from, u, c.h, c.params);
}

// docs/state.md 9.9. The plan's shape, its chain id and the signature
// list's order were checked as includability (TxBody::Validate).
Result<TxStatus> Apply(PayloadContext& c, const UpgradePlanTx& u) {
  auto pending = c.ov.Get(schema::PendingPlanKey());
  if (!pending) return std::unexpected(pending.error());
  if (*pending) return TxStatus::kPlanPending;
  const uint64_t latest = c.h > UINT64_MAX - kMaxPlanHorizon ? UINT64_MAX : c.h + kMaxPlanHorizon;
  if (u.plan.activation_height <= c.h + 1 || u.plan.activation_height > latest)
    return TxStatus::kPlanActivationHeight;
  if (!ApplyPlan(c.params, u.plan)) return TxStatus::kPlanParamsInvalid;
  std::vector<PlanVoter> voters;
  voters.reserve(c.set.validators.size());
  uint64_t total = 0;  // below kMaxTotalPower: no overflow
  for (const ActiveValidator& v : c.set.validators) {
    voters.push_back(PlanVoter{v.address, v.power});
    total += v.power;
  }
  auto signed_power = CheckPlanQuorum(u.plan.SigningDigest(), u.signatures, voters);
  if (!signed_power) return TxStatus::kPlanQuorum;
  c.ov.Put(schema::PendingPlanKey(), EncodeValue(PendingPlan{u.plan, c.h, *signed_power, total}));
  return TxStatus::kOk;
}

Result<TxStatus> ApplyPayload(Overlay& ov, const TxBody& tx, uint64_t h, const ChainParams& params,
                              const ActiveSet& set, Receipt* receipt) {
  PayloadContext c{ov, tx, h, params, receipt, set};
  return std::visit([&c](const auto& body) { return Apply(c, body); }, tx.payload.body);
}

}  // namespace

Status Executor::ActivatePlan(Overlay& ov, uint64_t h, ChainParams* params) const {
  auto pending = LoadPendingPlan(store_);
  if (!pending) return std::unexpected(pending.error());
  if (!*pending || (*pending)->plan.activation_height != h) return Ok();
  // Accepted against the params in force then, which no other plan can
  // have changed since (at most one is pending): ApplyPlan cannot fail.
  auto next = ApplyPlan(*params, (*pending)->plan);
  if (!next) return Fail(ErrorCode::kInternal, "pending plan no longer applies: " + next.error().message);
  *params = std::move(*next);
  ov.Put(schema::ParamsKey(), EncodeValue(*params));
  ov.Delete(schema::PendingPlanKey());
  return Ok();
}

Result<ExecResult> Executor::Execute(uint64_t h, const Address& proposer, std::vector<SignedTx> txs,
                                     std::vector<Evidence> evidence, const std::vector<Address>& signers,
                                     const ExecOptions& opts, const LtHash& parent) const {
  (void)proposer;  // the header names it; rewards go to the signers (step 5)
  Overlay ov(store_);
  ExecResult out;
  auto in_force = LoadParams(store_, genesis_.params);
  if (!in_force) return std::unexpected(in_force.error());
  ChainParams params = std::move(*in_force);
  auto set_before = LoadActiveSet(store_);
  if (!set_before) return std::unexpected(set_before.error());
  out.set_before = std::move(*set_before);

  // 0. Upgrade activation: the block runs under the new params.
  GTOS_TRY(ActivatePlan(ov, h, &params));

  // 1. Expiry.
  std::vector<std::string> due;
  GTOS_TRY(store_.Scan(schema::ExpiryPrefix(h), [&due](std::string_view k, std::string_view) {
    due.emplace_back(k);
    return true;
  }));
  for (const std::string& idx : due) {
    std::string object_key = idx.substr(9);
    auto obj = LoadObject(ov, object_key);
    if (!obj) return std::unexpected(obj.error());
    if (*obj && (*obj)->expire_block == h) ov.Delete(object_key);
    ov.Delete(idx);
  }

  // 2. Unbonding releases.
  GTOS_TRY(staking::ReleaseUnbonding(ov, store_, h));

  // 2a. Slash records that cover no admissible evidence any more: a slash
  // in block s covers infractions below s, and from block s +
  // unbonding_blocks on every admissible infraction is at s or above.
  if (h > params.unbonding_blocks) {
    GTOS_TRY(store_.Scan(schema::SlashedPrefix(h - params.unbonding_blocks), [&ov](std::string_view k, std::string_view) {
      ov.Delete(std::string(k));
      return true;
    }));
  }

  // 3. Evidence.
  GTOS_TRY(ApplyBlockEvidence(ov, h, std::move(evidence), opts.mode, params, &out));

  // The set that signed height h - 1: its members' signatures are the
  // block's last_commit (steps 3a and 5).
  ActiveSet signing_set;
  if (h >= 2 && h - 1 >= out.set_before.first_height) {
    signing_set = out.set_before;
  } else if (h >= 2) {
    auto prev = LoadSetFor(store_, h - 1, params.epoch_length);
    if (!prev) return std::unexpected(prev.error());
    if (!*prev) return Fail(ErrorCode::kInternal, "no validator set recorded for height " + std::to_string(h - 1));
    signing_set = std::move(**prev);
  }

  // 3a. Liveness: downtime jailing.
  GTOS_TRY(TrackLiveness(ov, h, signing_set, out.set_before, signers, params));

  // 4. Transactions.
  out.txs.reserve(txs.size());
  std::vector<TxDigests> pre = Digest(txs);
  uint64_t block_bytes = 0;
  for (size_t i = 0; i < txs.size(); ++i) {
    SignedTx& stx = txs[i];
    const Hash32& id = pre[i].id;
    uint64_t tx_bytes = pre[i].record_bytes;
    if (out.txs.size() + 1 > params.max_block_txs || block_bytes + tx_bytes > params.max_block_bytes) {
      std::string why = out.txs.size() + 1 > params.max_block_txs
                            ? "block would exceed max_block_txs " + std::to_string(params.max_block_txs)
                            : "block would exceed max_block_bytes " + std::to_string(params.max_block_bytes);
      if (opts.mode == ExecMode::kValidate) return Invalid("block " + std::to_string(h) + ": " + why);
      out.left_out.emplace_back(id, Error{ErrorCode::kInvalid, why, ""});
      continue;
    }
    auto acc = CheckIncludable(ov, stx, id, h, opts.verify_signatures, pre[i].body_bytes);
    if (!acc) {
      if (acc.error().code != ErrorCode::kInvalid && acc.error().code != ErrorCode::kCrypto)
        return std::unexpected(acc.error());
      if (opts.mode == ExecMode::kValidate)
        return std::unexpected(Wrap(acc.error(), "block " + std::to_string(h) + ": tx " + std::to_string(i) +
                                                     " (" + ToHex0x(id) + ") is not includable"));
      out.left_out.emplace_back(id, acc.error());
      continue;
    }
    acc->balance -= stx.tx.fee;
    acc->nonce += 1;
    StoreAccount(ov, stx.tx.from, *acc);
    out.fees += stx.tx.fee;  // fees come out of balances: the supply bounds the sum
    block_bytes += tx_bytes;
    Receipt r;
    r.tx_id = id;
    r.height = h;
    r.index = out.txs.size();
    r.fee = stx.tx.fee;
    auto status = ApplyPayload(ov, stx.tx, h, params, out.set_before, &r);
    if (!status) return std::unexpected(status.error());
    r.status = static_cast<uint64_t>(*status);
    if (*status != TxStatus::kOk) r.expire_block = 0;
    out.receipts.push_back(r);
    out.tx_ids.push_back(id);
    out.tx_leaves.push_back(pre[i].leaf);
    out.txs.push_back(std::move(stx));
  }

  // 5. Block reward and fees to the signers of the previous block's
  // commit, by the power they signed with: the set of height h - 1.
  GTOS_TRY(staking::DistributeRewards(ov, signing_set, signers, out.fees, genesis_supply_, params));

  // 6. Epoch boundary.
  out.set_after = out.set_before;
  if (h % std::max<uint64_t>(1, params.epoch_length) == 0) {
    auto next = NextEpochSet(ov, h, out.set_before, params);
    if (!next) return std::unexpected(next.error());
    out.set_after = std::move(*next);
    out.new_epoch = true;
    ov.Put(schema::ActiveSetKey(), EncodeValue(out.set_after));
  }

  // 7. Accumulator and write batch.
  out.accumulator = parent;
  ApplyChanges(ov, &out.accumulator);
  out.state_root = out.accumulator.Digest();
  for (const auto& [key, e] : ov.entries()) {
    if (e.before == e.after) continue;
    if (e.after) out.batch.Put(key, *e.after);
    else out.batch.Delete(key);
    if (key[0] == schema::kKv) out.kv_changes.push_back({key, e.after});
  }
  return out;
}

}  // namespace gtos::state
