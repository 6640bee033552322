// Secrets in memory (passphrases, secret keys, derived keys): wiped when they
// are no longer needed.
//
// The wipe uses explicit_bzero, which the compiler may not elide. A wipe
// covers a buffer's whole allocation, not only its current size, because a
// secret that was shrunk may still sit beyond the end. Copies are the
// caller's business: a secret copied into a plain std::string or Bytes is not
// wiped, so these types are move-only and a move wipes the source.
// Thread safety: none; each object belongs to one thread.
#ifndef GTOS_UTIL_SECRET_H_
#define GTOS_UTIL_SECRET_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "util/bytes.h"

namespace gtos {

// Overwrites n bytes at p with zeros.
void SecureWipe(void* p, size_t n);
// Wipes the whole allocation of `b` / `s` and leaves them empty.
void SecureWipe(Bytes& b);
void SecureWipe(std::string& s);

// Secret bytes (a private key), wiped on destruction.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(Bytes b) : b_(std::move(b)) {}
  SecretBytes(SecretBytes&& o) noexcept : b_(std::move(o.b_)) {}
  SecretBytes& operator=(SecretBytes&& o) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { SecureWipe(b_); }
  ByteView view() const { return {b_.data(), b_.size()}; }
  uint8_t* data() { return b_.data(); }  // for writing a secret in place
  size_t size() const { return b_.size(); }

 private:
  Bytes b_;
};

// Secret text (a passphrase, a secret key in hex), wiped on destruction.
// Taking a std::string&& wipes what the move leaves in it (a short string's
// inline buffer keeps its bytes after a move).
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string&& s) noexcept;
  SecretString(SecretString&& o) noexcept;
  SecretString& operator=(SecretString&& o) noexcept;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  ~SecretString() { SecureWipe(s_); }

  std::string_view view() const { return s_; }
  size_t size() const { return s_.size(); }
  bool empty() const { return s_.empty(); }
  bool operator==(const SecretString& o) const { return s_ == o.s_; }

 private:
  std::string s_;
};

}  // namespace gtos

#endif  // GTOS_UTIL_SECRET_H_
