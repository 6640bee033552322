#include "state/lthash.h"

#include <bit>
#include <cstring>

#include "crypto/hash.h"

namespace gtos::state {

static_assert(std::endian::native == std::endian::little, "lanes are read as little-endian uint16");

void LtHash::Expand(ByteView element, Lanes* out) {
  Hash32 seed = crypto::Sha256Tagged("GTOS-LTHASH-V1", element);
  crypto::ExpandChaCha20(seed, {reinterpret_cast<uint8_t*>(out->data()), kBytes});
}

void LtHash::AddLanes(const Lanes& l) {
  for (size_t i = 0; i < kLanes; ++i) lanes_[i] = static_cast<uint16_t>(lanes_[i] + l[i]);
}

void LtHash::RemoveLanes(const Lanes& l) {
  for (size_t i = 0; i < kLanes; ++i) lanes_[i] = static_cast<uint16_t>(lanes_[i] - l[i]);
}

void LtHash::Add(ByteView element) {
  Lanes l;
  Expand(element, &l);
  AddLanes(l);
}

void LtHash::Remove(ByteView element) {
  Lanes l;
  Expand(element, &l);
  RemoveLanes(l);
}

void LtHash::Combine(const LtHash& other) { AddLanes(other.lanes_); }

Hash32 LtHash::Digest() const {
  return crypto::Sha256Tagged("GTOS-STATE-V1", {reinterpret_cast<const uint8_t*>(lanes_.data()), kBytes});
}

Bytes LtHash::Serialize() const {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(lanes_.data());
  return Bytes(p, p + kBytes);
}

Result<LtHash> LtHash::Parse(ByteView bytes) {
  if (bytes.size() != kBytes)
    return Invalid("state accumulator: expected " + std::to_string(kBytes) + " bytes, got " +
                   std::to_string(bytes.size()));
  LtHash h;
  std::memcpy(h.lanes_.data(), bytes.data(), kBytes);
  return h;
}

}  // namespace gtos::state
