#include "node/evidence_pool.h"

#include <iterator>

namespace gtos::node {

EvidencePool::Key EvidencePool::KeyOf(const Evidence& e) {
  const Statement& a = e.a;
  return std::make_tuple(a.validator, a.height, a.round, a.type);
}

Result<bool> EvidencePool::Add(const Evidence& e) {
  Key key = KeyOf(e);
  if (pieces_.count(key) || pieces_.size() >= kMax) return false;
  GTOS_TRY(check_(e));
  pieces_.emplace(std::move(key), e);
  return true;
}

void EvidencePool::Prune() {
  for (auto it = pieces_.begin(); it != pieces_.end();) it = check_(it->second) ? std::next(it) : pieces_.erase(it);
}

std::vector<Evidence> EvidencePool::All() const {
  std::vector<Evidence> out;
  out.reserve(pieces_.size());
  for (const auto& [k, e] : pieces_) out.push_back(e);
  return out;
}

}  // namespace gtos::node
