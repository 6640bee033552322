#include "state/schema.h"

#include <cstring>

namespace gtos::state::schema {

void AppendBE64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t ReadBE64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < in.size(); ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

static std::string WithPrefix(char p, ByteView b) {
  std::string k(1, p);
  k.append(reinterpret_cast<const char*>(b.data()), b.size());
  return k;
}

std::string AccountKey(const Address& a) { return WithPrefix(kAccount, a.view()); }
std::string CodeKey(const Hash32& h) { return WithPrefix(kCode, h.view()); }
std::string ValidatorKey(const Address& a) { return WithPrefix(kValidator, a.view()); }

std::string KvKey(const Address& owner, ByteView ns, ByteView key) {
  std::string k = WithPrefix(kKv, owner.view());
  k.push_back(static_cast<char>(ns.size() >> 8));
  k.push_back(static_cast<char>(ns.size() & 0xff));
  k.append(reinterpret_cast<const char*>(ns.data()), ns.size());
  k.append(reinterpret_cast<const char*>(key.data()), key.size());
  return k;
}

std::optional<KvKeyParts> ParseKvKey(std::string_view key) {
  // K owner(32) u16be(ns length) ns key
  if (key.size() < 1 + 32 + 2 || key[0] != kKv) return std::nullopt;
  size_t ns_len = (static_cast<size_t>(static_cast<uint8_t>(key[33])) << 8) | static_cast<uint8_t>(key[34]);
  if (key.size() < 35 + ns_len) return std::nullopt;
  KvKeyParts p;
  std::memcpy(p.owner.data(), key.data() + 1, 32);
  auto bytes = [](std::string_view s) { return Bytes(s.begin(), s.end()); };
  p.ns = bytes(key.substr(35, ns_len));
  p.key = bytes(key.substr(35 + ns_len));
  return p;
}

std::string UnbondingPrefix(uint64_t release_height) {
  std::string k(1, kUnbonding);
  AppendBE64(&k, release_height);
  return k;
}

std::string UnbondingKey(uint64_t release_height, const Address& owner, const Address& validator) {
  std::string k = UnbondingPrefix(release_height);
  k.append(reinterpret_cast<const char*>(owner.data()), 32);
  k.append(reinterpret_cast<const char*>(validator.data()), 32);
  return k;
}

Address UnbondingKeyValidator(std::string_view key) {
  Address a;
  std::memcpy(a.data(), key.data() + 41, 32);
  return a;
}

std::string DelegationPrefix(const Address& delegator) { return WithPrefix(kDelegation, delegator.view()); }

std::string DelegationKey(const Address& delegator, const Address& validator) {
  std::string k = DelegationPrefix(delegator);
  k.append(reinterpret_cast<const char*>(validator.data()), 32);
  return k;
}

Address DelegationKeyValidator(std::string_view key) {
  Address a;
  std::memcpy(a.data(), key.data() + 33, 32);
  return a;
}

std::string SupplyKey() { return std::string(1, kSupply); }

namespace {
Address AddressAt(std::string_view key, size_t off) {
  Address a;
  std::memcpy(a.data(), key.data() + off, 32);
  return a;
}
}  // namespace

std::string RedelegationPrefix(uint64_t release_height) { return HeightKey(kRedelegation, release_height); }

std::string RedelegationKey(uint64_t release_height, const Address& delegator, const Address& src,
                            const Address& dst) {
  std::string k = RedelegationPrefix(release_height);
  for (const Address* a : {&delegator, &src, &dst}) k.append(reinterpret_cast<const char*>(a->data()), 32);
  return k;
}

uint64_t RedelegationKeyRelease(std::string_view key) { return ReadBE64(key.substr(1)); }
Address RedelegationKeyDelegator(std::string_view key) { return AddressAt(key, 9); }
Address RedelegationKeySource(std::string_view key) { return AddressAt(key, 41); }
Address RedelegationKeyDestination(std::string_view key) { return AddressAt(key, 73); }

std::string TombstoneKey(const Address& a) {
  std::string k(1, kTombstone);
  k.append(reinterpret_cast<const char*>(a.data()), 32);
  return k;
}

std::string LivenessKey(const Address& a) {
  std::string k(1, kLiveness);
  k.append(reinterpret_cast<const char*>(a.data()), 32);
  return k;
}

uint64_t UnbondingKeyRelease(std::string_view key) { return ReadBE64(key.substr(1)); }

Address UnbondingKeyOwner(std::string_view key) {
  Address a;
  std::memcpy(a.data(), key.data() + 9, 32);
  return a;
}

std::string SlashedPrefix(uint64_t slash_height) { return HeightKey(kSlashed, slash_height); }

std::string SlashedKey(uint64_t slash_height, const Address& a) {
  std::string k = SlashedPrefix(slash_height);
  k.append(reinterpret_cast<const char*>(a.data()), 32);
  return k;
}

uint64_t SlashedKeyHeight(std::string_view key) { return ReadBE64(key.substr(1)); }

Address SlashedKeyValidator(std::string_view key) {
  Address a;
  std::memcpy(a.data(), key.data() + 9, 32);
  return a;
}

std::string ExpiryPrefix(uint64_t expire_block) {
  std::string k(1, kExpiry);
  AppendBE64(&k, expire_block);
  return k;
}

std::string ExpiryKey(uint64_t expire_block, std::string_view object_key) {
  std::string k = ExpiryPrefix(expire_block);
  k.append(object_key);
  return k;
}

std::string HeightKey(char table, uint64_t height) {
  std::string k(1, table);
  AppendBE64(&k, height);
  return k;
}

std::string ActiveSetKey() { return std::string(1, kActiveSet); }

std::string ParamsKey() { return std::string(1, kUpgrade) + "params"; }
std::string PendingPlanKey() { return std::string(1, kUpgrade) + "plan"; }

std::string SetHistoryKey(uint64_t first_height) { return HeightKey(kSetHistory, first_height); }

std::string TxIndexKey(const Hash32& id) { return WithPrefix(kTxIndex, id.view()); }
std::string BlockIndexKey(const Hash32& block_hash) { return WithPrefix(kBlockIndex, block_hash.view()); }

std::string MetaKey(std::string_view name) {
  std::string k(1, kMeta);
  k.append(name);
  return k;
}

}  // namespace gtos::state::schema
