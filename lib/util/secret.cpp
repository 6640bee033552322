#include "util/secret.h"

#include <string.h>  // explicit_bzero

namespace gtos {

void SecureWipe(void* p, size_t n) {
  if (p && n) ::explicit_bzero(p, n);
}

// Growing within capacity never reallocates, so resize(capacity()) makes the
// whole allocation addressable without moving it.
void SecureWipe(Bytes& b) {
  b.resize(b.capacity());
  SecureWipe(b.data(), b.size());
  b.clear();
}

void SecureWipe(std::string& s) {
  s.resize(s.capacity());
  SecureWipe(s.data(), s.size());
  s.clear();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    SecureWipe(b_);
    b_ = std::move(o.b_);
  }
  return *this;
}

SecretString::SecretString(std::string&& s) noexcept : s_(std::move(s)) { SecureWipe(s); }

SecretString::SecretString(SecretString&& o) noexcept : s_(std::move(o.s_)) { SecureWipe(o.s_); }

SecretString& SecretString::operator=(SecretString&& o) noexcept {
  if (this != &o) {
    SecureWipe(s_);
    s_ = std::move(o.s_);
    SecureWipe(o.s_);
  }
  return *this;
}

}  // namespace gtos
